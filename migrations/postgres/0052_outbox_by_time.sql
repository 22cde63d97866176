-- `once_key` unique only where it is set (see the SQLite file of this migration for the outbox's
-- new key there). A unique constraint indexes every row, NULLs included, so each captured loop's
-- event took an entry in an index that only the overdue sweep's events use. PostgreSQL keeps rows
-- in a heap whatever the key, so the rest of SQLite's change does not apply here.
ALTER TABLE event_outbox DROP CONSTRAINT event_outbox_once_key_key;
CREATE UNIQUE INDEX event_outbox_once ON event_outbox (once_key) WHERE once_key IS NOT NULL;
