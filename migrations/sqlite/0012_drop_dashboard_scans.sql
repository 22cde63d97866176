-- The loop-health dashboards read running totals now (0011_health_rollups.sql), not the loops
-- themselves: the covering indexes added for their scans (0010) only cost every capture and
-- every stage change two more index writes. Lists keep `loops_team_created` and
-- `loops_team_stage`; the stage history keeps `loop_stage_changes_to` (the milestones' trigger
-- reads it).
DROP INDEX loops_health;
DROP INDEX loops_scope;
