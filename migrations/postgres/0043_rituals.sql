-- (PostgreSQL) Rituals (issue 24): a recurring failure-share round a lead schedules. A round exists from the
-- moment a lead shares in it (before that it is "waiting for the lead" and refuses members'
-- shares); it closes into the team's library.

CREATE TABLE ritual_schedules (
    team_id TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    cadence TEXT NOT NULL CHECK (cadence IN ('weekly', 'fortnightly')),
    -- 0 = Monday … 6 = Sunday.
    weekday BIGINT NOT NULL CHECK (weekday BETWEEN 0 AND 6)
);

CREATE TABLE ritual_rounds (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    -- The round's first day (midnight UTC, unix seconds), derived from the schedule.
    opens_on BIGINT NOT NULL,
    -- When a lead first shared: the round opened to the team.
    opened_at BIGINT NOT NULL,
    closed_at BIGINT,
    UNIQUE (team_id, opens_on)
);

-- Unnamed shares carry no author, no time and no insert order: they are held in memory until
-- their round closes, then written together under random keys in key order (service::held), so
-- rows carry nothing finer than their round.
CREATE TABLE ritual_shares (
    id TEXT PRIMARY KEY,
    round_id TEXT NOT NULL REFERENCES ritual_rounds (id) ON DELETE CASCADE,
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    failed TEXT NOT NULL,
    learnt TEXT NOT NULL
);
CREATE INDEX ritual_shares_round ON ritual_shares (round_id);
