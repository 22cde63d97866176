-- Alert intake (PostgreSQL; ARCHITECTURE.md, "Alert intake"): one intake per team, and the alert groups it
-- has turned into loops, by fingerprint, for deduplication.

CREATE TABLE alert_intakes (
    team_id TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    -- SHA-256 of the bearer token Alertmanager, Opsgenie and the generic shape send.
    token_hash TEXT NOT NULL UNIQUE,
    -- PagerDuty's signing secret (PagerDuty makes it; we must read it to check its HMAC, so it
    -- is sealed with the server key, not hashed). NULL: PagerDuty is not set up.
    pagerduty_sealed TEXT,
    -- The loops an intake opens are this lead's, as an API token's are its owner's.
    created_by TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE TABLE alert_fingerprints (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    -- The last firing seen: a re-fire within the deduplication window adds to this loop.
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, fingerprint)
);
