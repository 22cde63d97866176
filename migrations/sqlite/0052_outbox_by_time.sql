-- The outbox keyed by time (BENCHMARKS.md, run 11 and run 12; `benches/outbox_pages.py`).
--
-- Keyed by its random id, each batch of new events landed on pages scattered over the whole
-- table, and `once_key UNIQUE` and the index on `occurred_at` each took another entry per event
-- (the first on a random page too, its NULLs being indexed): a batch of 20 captures wrote about
-- 74 pages of write-ahead log for its events alone. Keyed by (occurred_at, id), new events are
-- appended to the table's last pages, the retention sweep reads them by age from the key itself,
-- and `once_key` is unique only where it is set (the overdue sweep's events): about 34 pages.
--
-- Anonymity holds as before: an unnamed change's event carries midnight of its day and is
-- written in the day's release batch, so it sits among that day's unnamed events, ordered by its
-- random id; a row's place tells nothing its stored time does not.
--
-- `webhook_deliveries` refers to the outbox `ON DELETE CASCADE`, and sqlx runs a migration in a
-- transaction, where foreign keys cannot be switched off: dropping the outbox would delete every
-- delivery. So the deliveries and their attempts are kept aside and the three tables rebuilt,
-- children last, with the definitions of migrations 0030, 0031 and 0035 but for the outbox's key.
CREATE TEMP TABLE outbox_kept AS SELECT * FROM event_outbox;
CREATE TEMP TABLE deliveries_kept AS SELECT * FROM webhook_deliveries;
CREATE TEMP TABLE attempts_kept AS SELECT * FROM webhook_attempts;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE event_outbox;

CREATE TABLE event_outbox (
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    -- NULL for an anonymous or unnamed change, and for changes the system makes (overdue).
    actor_id TEXT,
    -- Unix seconds; midnight UTC for an unnamed change.
    occurred_at INTEGER NOT NULL,
    -- The versioned JSON payload a subscriber receives (`domain::events::Event::payload`).
    payload TEXT NOT NULL,
    -- Set once the delivery worker has queued the event for every matching subscription.
    dispatched BOOLEAN NOT NULL DEFAULT FALSE,
    -- Events the system raises by sweeping (an action overdue) carry a key, so that two sweeps,
    -- or two instances, raise them once.
    once_key TEXT,
    PRIMARY KEY (occurred_at, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX event_outbox_once ON event_outbox (once_key) WHERE once_key IS NOT NULL;
CREATE INDEX event_outbox_waiting ON event_outbox (occurred_at) WHERE NOT dispatched;
INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, payload,
                          dispatched, once_key)
SELECT id, kind, team_id, subject_id, actor_id, occurred_at, payload, dispatched, once_key
FROM outbox_kept ORDER BY occurred_at, id;

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
