-- Nothing to do on SQLite. PostgreSQL's migration 0051 makes the outbox's NOTIFY trigger skip
-- events written already dispatched (nobody subscribed); on SQLite the notice comes from a
-- temporary trigger that each writer connection creates when it opens (`store::sqlite::
-- watch_outbox`), which carries the same condition in its own definition.
SELECT 1;
