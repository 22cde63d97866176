-- The overdue sweep (EventStore::actions_newly_overdue) read every open action past its due
-- day and looked each one's event up in the outbox, so each sweep cost more the more actions
-- were left overdue. An action now records the due day whose action.overdue event is stored
-- (overdue_raised_on, Unix seconds, written with the event); a new due day makes it stale.
-- The partial index holds only the open actions still to raise, so the sweep reads those.
ALTER TABLE action_items ADD COLUMN overdue_raised_on BIGINT;

UPDATE action_items SET overdue_raised_on = due_on
WHERE due_on IS NOT NULL AND EXISTS (
    SELECT 1 FROM event_outbox o
    WHERE o.once_key = 'action.overdue:' || action_items.id || ':' || CAST(action_items.due_on AS TEXT));

CREATE INDEX action_items_overdue_unraised ON action_items (due_on, id)
WHERE status = 'open' AND (overdue_raised_on IS NULL OR overdue_raised_on <> due_on);
