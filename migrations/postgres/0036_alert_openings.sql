-- Alert groups being opened (PostgreSQL; ARCHITECTURE.md, "Alert intake"). Two deliveries of a new alert group
-- at the same instant both find no fingerprint; the one that claims the group's row here opens
-- the loop, the other waits for it and adds to it. The primary key makes the claim atomic on
-- both databases (a conditional upsert); the row is removed once the loop is remembered in
-- `alert_fingerprints`, and a claim older than a minute (its opener died) may be taken over.
CREATE TABLE alert_openings (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    -- Unix seconds: when the opening began.
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, fingerprint)
);
