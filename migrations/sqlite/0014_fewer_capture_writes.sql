-- Fewer places in the file that every capture writes to (issue 8's capture goal). Each new loop
-- dirtied about seven pages at random places of a large file. Two of them go here; the
-- application now also numbers new loops' `seq` by day (`store::loops::new_seq`), which puts the
-- loop row and the indexes ending in `seq` beside the day's other captures.
--
-- 1. The stage history is keyed by (loop_id, position): the loop's random id spreads rows as
--    the random row id did, and the history then needs no second index (the old
--    `loop_stage_changes_to` served look-ups by loop). `id` stays, for export and import.
-- 2. A loop's full-text document id is computed from the loop itself
--    ((created_at / 86400) * 2^47 + seq % 2^47, as written since 0010) instead of being looked up
--    in `search_docs`, which keeps the other records' document ids.

CREATE TABLE loop_stage_changes_keyed (
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (loop_id, position)
) WITHOUT ROWID;

INSERT INTO loop_stage_changes_keyed (loop_id, position, id, from_stage, to_stage, changed_at,
    changed_by, note)
    SELECT loop_id, position, id, from_stage, to_stage, changed_at, changed_by, note
    FROM loop_stage_changes;

DROP TABLE loop_stage_changes;
ALTER TABLE loop_stage_changes_keyed RENAME TO loop_stage_changes;

-- The milestones' triggers went with the old table.
CREATE TRIGGER loop_milestones_insert AFTER INSERT ON loop_stage_changes
WHEN NEW.to_stage IN ('apply', 'continue') BEGIN
    UPDATE loops SET
        first_applied_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                            WHERE c.loop_id = NEW.loop_id AND c.to_stage = 'apply'),
        first_continued_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                              WHERE c.loop_id = NEW.loop_id AND c.to_stage = 'continue')
    WHERE id = NEW.loop_id;
END;

CREATE TRIGGER loop_milestones_delete AFTER DELETE ON loop_stage_changes
WHEN OLD.to_stage IN ('apply', 'continue') BEGIN
    UPDATE loops SET
        first_applied_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                            WHERE c.loop_id = OLD.loop_id AND c.to_stage = 'apply'),
        first_continued_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                              WHERE c.loop_id = OLD.loop_id AND c.to_stage = 'continue')
    WHERE id = OLD.loop_id;
END;

-- --- loops' documents ----------------------------------------------------------------------

DROP TRIGGER search_loops_insert;
DROP TRIGGER search_loops_update;
DROP TRIGGER search_loops_delete;
DROP TRIGGER search_loop_tags_insert;

DELETE FROM search_docs WHERE ref_id IN (SELECT id FROM loops);

CREATE TRIGGER search_loops_insert AFTER INSERT ON loops BEGIN
    INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    VALUES (
        (NEW.created_at / 86400) * 140737488355328 + (NEW.seq % 140737488355328),
        NEW.title,
        concat_ws(char(10), NEW.what_happened, NEW.what_was_expected),
        't' || replace(NEW.team_id, '-', '') || 'x kloopx s' || NEW.stage || 'x',
        'loop', NEW.id, NEW.id, NEW.team_id, NEW.created_at
    );
END;

-- The document stays where it was written (OLD's day and seq), as it did with `search_docs`.
CREATE TRIGGER search_loops_update AFTER UPDATE OF stage, aar_intended, aar_actual,
    aar_difference, aar_lessons, went_well, went_wrong, got_lucky ON loops BEGIN
    UPDATE search_index SET
        body = concat_ws(char(10), NEW.what_happened, NEW.what_was_expected, NEW.aar_intended,
            NEW.aar_actual, NEW.aar_difference, NEW.aar_lessons, NEW.went_well, NEW.went_wrong,
            NEW.got_lucky),
        facets = 't' || replace(NEW.team_id, '-', '') || 'x kloopx s' || NEW.stage || 'x'
            || coalesce((SELECT ' ' || group_concat('g' || hex(tag) || 'x', ' ')
                         FROM loop_tags WHERE loop_id = NEW.id), '')
    WHERE rowid = (OLD.created_at / 86400) * 140737488355328 + (OLD.seq % 140737488355328);
END;

CREATE TRIGGER search_loops_delete AFTER DELETE ON loops BEGIN
    DELETE FROM search_index
    WHERE rowid = (OLD.created_at / 86400) * 140737488355328 + (OLD.seq % 140737488355328);
END;

CREATE TRIGGER search_loop_tags_insert AFTER INSERT ON loop_tags BEGIN
    UPDATE search_index SET facets = facets || ' g' || hex(NEW.tag) || 'x'
    WHERE rowid = (SELECT (created_at / 86400) * 140737488355328 + (seq % 140737488355328)
                   FROM loops WHERE id = NEW.loop_id);
END;
