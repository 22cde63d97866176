-- The outbox of domain events (PostgreSQL; see the SQLite file for the comments). Anonymous
-- loops' events are written in the day's release transaction, in key order, like the loops.
CREATE TABLE event_outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    actor_id TEXT,
    occurred_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    dispatched BOOLEAN NOT NULL DEFAULT FALSE,
    once_key TEXT UNIQUE
);
CREATE INDEX event_outbox_waiting ON event_outbox (occurred_at) WHERE NOT dispatched;
