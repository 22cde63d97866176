-- `loop_stage_changes_to (loop_id, to_stage, changed_at)` leads with `loop_id`, so it serves every
-- look-up by loop (and the cascade when a loop is deleted); the single-column index only cost
-- every capture and stage change one more write in a random place of the file.
DROP INDEX loop_stage_changes_loop;
