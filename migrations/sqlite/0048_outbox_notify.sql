-- Nothing to do on SQLite. PostgreSQL's migration 0048 adds a trigger that NOTIFYs every
-- instance when events are committed; an SQLite file has one instance, whose single writer
-- connection notices outbox writes itself (a temporary trigger and commit hook installed on
-- that connection, `store::sqlite::watch_outbox`), so the file's schema does not change.
SELECT 1;
