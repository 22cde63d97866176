-- The audit log (ARCHITECTURE.md, "Audit log"): security and administrative changes, each
-- written in the transaction of its change. No action of it concerns anything anonymous.
--  * `actor_id` is NULL for the server itself and the operator's commands; it is kept (SET NULL)
--    rather than cascading, so deleting an account cannot erase what it did;
--  * `address_hash` is set on sign-ins only, as the same SHA-256 the sign-in throttle keeps;
--  * rows older than `audit_retention_days` are deleted by the hourly sweep (`occurred_at` index).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    actor_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    address_hash TEXT
);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, occurred_at);

-- "Your sessions": the browser and system in a few words ("Firefox on Linux"), never the full
-- user-agent string. NULL for sessions opened before this migration or without the header.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
