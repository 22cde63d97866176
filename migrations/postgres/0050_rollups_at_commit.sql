-- The dashboards' running totals are applied at commit, not when the row changes.
--
-- Every loop written adds one to the whole organisation's row of its day (`team_id = ''`), so
-- concurrent captures queue on that one row's lock. Taken by an ordinary AFTER trigger, the lock
-- was held from the INSERT through the rest of the capture's statements (its history entry, its
-- events, each a round trip to the app) to the commit: at a million loops, 20 writers spent
-- three quarters of their time waiting on it (`Lock:transactionid` in `pg_stat_activity`).
-- As deferred constraint triggers they run at COMMIT, so the lock is held for the counters'
-- own statements and the commit's WAL flush. Each deferred event still sees the row versions of
-- its own change (OLD and NEW as they were), so the totals are the same; nothing reads them in
-- the transaction that changes them.

DROP TRIGGER health_loops ON loops;
CREATE CONSTRAINT TRIGGER health_loops
    AFTER INSERT OR DELETE OR UPDATE OF stage, stage_entered_at, suggested_type, override_type,
        recurrence_of, follow_up_recurred, happened_at, noticed_at, created_at, team_id,
        first_applied_at, first_continued_at
    ON loops DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION health_loops_changed();

DROP TRIGGER health_actions ON action_items;
CREATE CONSTRAINT TRIGGER health_actions
    AFTER INSERT OR DELETE OR UPDATE OF status, due_on, team_id, created_at
    ON action_items DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION health_actions_changed();
