-- The outbox's NOTIFY only for events that wait for dispatch.
--
-- An event written while no webhook subscription is enabled is written already dispatched
-- (nothing to queue for it), and wakes no delivery worker. The statement trigger of migration
-- 0048 notified for every insert; a NOTIFY takes a lock that serialises the commits of every
-- transaction that sent one, so each capture's commit queued on it for nothing. It now looks at
-- the statement's rows and notifies only when one of them waits.

CREATE OR REPLACE FUNCTION failforward_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE NOT dispatched) THEN
        PERFORM pg_notify('failforward_outbox', '');
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER event_outbox_notify ON event_outbox;
CREATE TRIGGER event_outbox_notify
    AFTER INSERT ON event_outbox
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION failforward_outbox_notify();
