-- The outbox of domain events (ARCHITECTURE.md, "Events"). The store writes a change's events in
-- the change's own transaction, so an event exists exactly when its change does; the delivery
-- worker reads them from here.
--
-- WITHOUT ROWID with a random UUID key, like the loop tables: a rowid would number events in the
-- order they were written, and an anonymous loop's event (written in the day's release batch)
-- must not be placed among its author's named events by a row number. Rows sit in key order.
CREATE TABLE event_outbox (
    id TEXT PRIMARY KEY,
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
    once_key TEXT UNIQUE
) WITHOUT ROWID;
CREATE INDEX event_outbox_waiting ON event_outbox (occurred_at) WHERE NOT dispatched;
