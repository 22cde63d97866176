-- Signed webhooks (ARCHITECTURE.md, "Webhooks"): subscriptions, one delivery per (subscription,
-- event) read from the outbox, and each attempt's log line.

CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    -- NULL: the whole organisation (an admin's); otherwise one team's (a lead's).
    team_id TEXT REFERENCES teams (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- The event kinds, separated by spaces (`loop.logged action.done`).
    event_kinds TEXT NOT NULL,
    -- The signing secret sealed with the server key (it must be read to sign, so it cannot be
    -- hashed; a database reader without the key cannot sign as us).
    secret_sealed TEXT NOT NULL,
    -- After a rotation: the previous secret, still signed with until `previous_until`.
    previous_sealed TEXT,
    previous_until INTEGER,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    enabled BOOLEAN NOT NULL,
    -- Why it was switched off (sustained failure), shown to the subscriber.
    disabled_reason TEXT NOT NULL DEFAULT '',
    -- Since when every attempt has failed; NULL after a success.
    failing_since INTEGER
);
CREATE INDEX webhook_subscriptions_team ON webhook_subscriptions (team_id);

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
