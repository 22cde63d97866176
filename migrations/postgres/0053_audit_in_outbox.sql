-- The audit log read from the outbox (see the SQLite file of this migration for the comments).
-- PostgreSQL drops NOT NULL in place; the outbox's rows and their deliveries stay where they are.
ALTER TABLE event_outbox ALTER COLUMN team_id DROP NOT NULL;
ALTER TABLE event_outbox ADD CONSTRAINT event_outbox_team_unless_audit
    CHECK ((team_id IS NULL) = (kind LIKE 'audit.%'));
CREATE INDEX event_outbox_audit ON event_outbox (occurred_at) WHERE kind LIKE 'audit.%';
INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, payload,
                          dispatched, once_key)
SELECT id, 'audit.' || action, NULL, target, actor_id, occurred_at,
       json_build_object('type', 'audit.' || action, 'version', 1,
                         'timestamp', to_char(to_timestamp(occurred_at) AT TIME ZONE 'UTC',
                                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                         'data', json_build_object('actor_id', actor_id, 'target', target,
                                                   'detail', detail,
                                                   'address_hash', address_hash))::text,
       TRUE, NULL
FROM audit_log ORDER BY occurred_at, id;
DROP TABLE audit_log;

-- What the audit log table held, as a database reader (or an operator's query) still finds it.
CREATE VIEW audit_log AS
SELECT id, occurred_at, actor_id, kind, substr(kind, 7) AS action, subject_id AS target,
       CAST(payload AS jsonb) -> 'data' ->> 'detail' AS detail,
       CAST(payload AS jsonb) -> 'data' ->> 'address_hash' AS address_hash
FROM event_outbox WHERE kind LIKE 'audit.%';
