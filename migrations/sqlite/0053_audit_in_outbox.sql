-- The audit log read from the outbox (issue 21: "the audit log and every integration read from
-- it"; ARCHITECTURE.md, "Audit log").
--
-- An audit entry becomes an outbox event of kind `audit.<action>` (`audit.member.added`), written
-- in the transaction of its change as every event is. It belongs to no team (entries are the
-- organisation's: `team_id` is NULL, so no team's cascade can ever reach one), it
-- is written dispatched (no webhook is ever offered one), and the retention sweeps tell the two
-- apart: deliveries' events go after `webhook_retention_days`, audit events after
-- `audit_retention_days`. The target is the event's subject; the detail and the address hash are
-- in its payload, which carries the same envelope as every event (`type`, `version`,
-- `timestamp`, `data`).
--
-- `team_id` loses NOT NULL, which SQLite can only do by rebuilding the table, and with it (as in
-- migration 0052, whose comments say why) the deliveries and attempts that refer to it.
-- `actor_id` has no foreign key in the outbox: accounts are deactivated, never deleted, and an
-- entry should keep naming whoever acted in any case.
CREATE TEMP TABLE outbox_kept AS SELECT * FROM event_outbox;
CREATE TEMP TABLE deliveries_kept AS SELECT * FROM webhook_deliveries;
CREATE TEMP TABLE attempts_kept AS SELECT * FROM webhook_attempts;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE event_outbox;

CREATE TABLE event_outbox (
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    -- NULL only for audit events (`audit.%`), which belong to the organisation.
    team_id TEXT REFERENCES teams (id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    -- NULL for an anonymous or unnamed change, and for changes the system makes (overdue).
    actor_id TEXT,
    -- Unix seconds; midnight UTC for an unnamed change.
    occurred_at INTEGER NOT NULL,
    -- The versioned JSON payload a subscriber receives (`domain::events::Event::payload`), or an
    -- audit entry's (`domain::audit::AuditEntry::payload`).
    payload TEXT NOT NULL,
    -- Set once the delivery worker has queued the event for every matching subscription; audit
    -- events are written set.
    dispatched BOOLEAN NOT NULL DEFAULT FALSE,
    -- Events the system raises by sweeping (an action overdue) carry a key, so that two sweeps,
    -- or two instances, raise them once.
    once_key TEXT,
    PRIMARY KEY (occurred_at, id),
    CHECK ((team_id IS NULL) = (kind LIKE 'audit.%'))
) WITHOUT ROWID;
CREATE UNIQUE INDEX event_outbox_once ON event_outbox (once_key) WHERE once_key IS NOT NULL;
CREATE INDEX event_outbox_waiting ON event_outbox (occurred_at) WHERE NOT dispatched;
-- The audit listing and its retention read only audit events, newest first.
CREATE INDEX event_outbox_audit ON event_outbox (occurred_at) WHERE kind LIKE 'audit.%';
INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, payload,
                          dispatched, once_key)
SELECT id, kind, team_id, subject_id, actor_id, occurred_at, payload, dispatched, once_key
FROM outbox_kept ORDER BY occurred_at, id;
INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, payload,
                          dispatched, once_key)
SELECT id, 'audit.' || action, NULL, target, actor_id, occurred_at,
       json_object('type', 'audit.' || action, 'version', 1,
                   'timestamp', strftime('%Y-%m-%dT%H:%M:%SZ', occurred_at, 'unixepoch'),
                   'data', json_object('actor_id', actor_id, 'target', target,
                                       'detail', detail, 'address_hash', address_hash)),
       TRUE, NULL
FROM audit_log ORDER BY occurred_at, id;
DROP TABLE audit_log;

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES event_outbox (id) ON DELETE CASCADE,
    -- 'pending' (waiting for its next attempt), 'delivered', 'failed' (retries exhausted).
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt may start. A worker that claims a delivery pushes it a lease ahead,
    -- so that a worker dying mid-attempt leaves it to another (at least once).
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
INSERT INTO webhook_deliveries (id, subscription_id, event_id, status, attempts,
                                next_attempt_at, created_at)
SELECT id, subscription_id, event_id, status, attempts, next_attempt_at, created_at
FROM deliveries_kept ORDER BY id;

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    -- The receiver's HTTP status; NULL when no answer came (refused address, timeout, TLS).
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    -- The start of the answer's body, or what went wrong.
    excerpt TEXT NOT NULL
);
CREATE INDEX webhook_attempts_subscription ON webhook_attempts (subscription_id, attempted_at);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_age ON webhook_attempts (attempted_at);
INSERT INTO webhook_attempts (id, delivery_id, subscription_id, attempted_at, status_code,
                              latency_ms, excerpt)
SELECT id, delivery_id, subscription_id, attempted_at, status_code, latency_ms, excerpt
FROM attempts_kept ORDER BY id;

DROP TABLE temp.attempts_kept;
DROP TABLE temp.deliveries_kept;
DROP TABLE temp.outbox_kept;

-- What the audit log table held, as a database reader (or an operator's query) still finds it.
CREATE VIEW audit_log AS
SELECT id, occurred_at, actor_id, kind, substr(kind, 7) AS action, subject_id AS target,
       json_extract(payload, '$.data.detail') AS detail,
       json_extract(payload, '$.data.address_hash') AS address_hash
FROM event_outbox WHERE kind LIKE 'audit.%';
