-- Culture instruments (PostgreSQL; see the SQLite file for the anonymity design).
--
-- Anonymity of pulse answers (see ARCHITECTURE.md): who has answered (`pulse_participants`) and
-- what was answered (`pulse_answers`) live apart, with no shared id, no time finer than the
-- round and no insert order: answers are keyed by a random UUID in a WITHOUT ROWID table, so they
-- sit in random order in the file; on PostgreSQL the transaction that records an answer rewrites
-- the round's answers in random order (PostgresStore::hide_pulse_order).

ALTER TABLE teams ADD COLUMN pulse_min_responses BIGINT NOT NULL DEFAULT 5 CHECK (pulse_min_responses >= 3);

CREATE TABLE pulse_rounds (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    opened_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    opened_at BIGINT NOT NULL,
    -- Answers are accepted until the end of this day (UTC), or until a lead closes it.
    closes_on BIGINT NOT NULL,
    closed_at BIGINT,
    -- Members when the round opened: the base of the response rate.
    members_at_open BIGINT NOT NULL,
    -- The thresholds in force for this round, copied from the team when it opened.
    min_responses BIGINT NOT NULL CHECK (min_responses >= 3)
);
CREATE INDEX pulse_rounds_team ON pulse_rounds (team_id, opened_at);

CREATE TABLE pulse_participants (
    round_id TEXT NOT NULL REFERENCES pulse_rounds (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (round_id, user_id)
);

CREATE TABLE pulse_answers (
    id TEXT PRIMARY KEY,
    round_id TEXT NOT NULL REFERENCES pulse_rounds (id) ON DELETE CASCADE,
    item1 BIGINT NOT NULL CHECK (item1 BETWEEN 1 AND 7),
    item2 BIGINT NOT NULL CHECK (item2 BETWEEN 1 AND 7),
    item3 BIGINT NOT NULL CHECK (item3 BETWEEN 1 AND 7),
    item4 BIGINT NOT NULL CHECK (item4 BETWEEN 1 AND 7),
    item5 BIGINT NOT NULL CHECK (item5 BETWEEN 1 AND 7),
    item6 BIGINT NOT NULL CHECK (item6 BETWEEN 1 AND 7),
    item7 BIGINT NOT NULL CHECK (item7 BETWEEN 1 AND 7),
    comment TEXT
);
CREATE INDEX pulse_answers_round ON pulse_answers (round_id);

CREATE TABLE recognitions (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    giver_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    receiver_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    behaviour TEXT NOT NULL,
    impact TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX recognitions_team ON recognitions (team_id, created_at);
