-- Wakes the webhook delivery worker of every instance when events are committed (issue 21:
-- delivery latency from commit to receiver). Every instance LISTENs on `failforward_outbox`
-- (`store::postgres`); PostgreSQL delivers a NOTIFY only when the transaction that sent it
-- commits, and folds identical notices of one transaction into one, so a capture batch costs one
-- notice and a rolled-back change none. The notice carries nothing: the worker reads the outbox.
-- Polling stays as the fallback for a notice missed while the listening connection reconnects.
CREATE FUNCTION failforward_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('failforward_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER event_outbox_notify
    AFTER INSERT ON event_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION failforward_outbox_notify();
