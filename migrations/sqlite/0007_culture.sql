-- Culture instruments: the psychological-safety pulse and recognition.
--
-- Anonymity of pulse answers (see ARCHITECTURE.md): who has answered (`pulse_participants`) and
-- what was answered (`pulse_answers`) live apart, with no shared id, no time finer than the
-- round and no insert order: answers are keyed by a random UUID in a WITHOUT ROWID table, so they
-- sit in random order in the file; on PostgreSQL the transaction that records an answer rewrites
-- the round's answers in random order (PostgresStore::hide_pulse_order).

ALTER TABLE teams ADD COLUMN pulse_min_responses INTEGER NOT NULL DEFAULT 5 CHECK (pulse_min_responses >= 3);

CREATE TABLE pulse_rounds (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    opened_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    opened_at INTEGER NOT NULL,
    -- Answers are accepted until the end of this day (UTC), or until a lead closes it.
    closes_on INTEGER NOT NULL,
    closed_at INTEGER,
    -- Members when the round opened: the base of the response rate.
    members_at_open INTEGER NOT NULL,
    -- The thresholds in force for this round, copied from the team when it opened.
    min_responses INTEGER NOT NULL CHECK (min_responses >= 3)
) WITHOUT ROWID;
CREATE INDEX pulse_rounds_team ON pulse_rounds (team_id, opened_at);

CREATE TABLE pulse_participants (
    round_id TEXT NOT NULL REFERENCES pulse_rounds (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (round_id, user_id)
) WITHOUT ROWID;

CREATE TABLE pulse_answers (
    id TEXT PRIMARY KEY,
    round_id TEXT NOT NULL REFERENCES pulse_rounds (id) ON DELETE CASCADE,
    item1 INTEGER NOT NULL CHECK (item1 BETWEEN 1 AND 7),
    item2 INTEGER NOT NULL CHECK (item2 BETWEEN 1 AND 7),
    item3 INTEGER NOT NULL CHECK (item3 BETWEEN 1 AND 7),
    item4 INTEGER NOT NULL CHECK (item4 BETWEEN 1 AND 7),
    item5 INTEGER NOT NULL CHECK (item5 BETWEEN 1 AND 7),
    item6 INTEGER NOT NULL CHECK (item6 BETWEEN 1 AND 7),
    item7 INTEGER NOT NULL CHECK (item7 BETWEEN 1 AND 7),
    comment TEXT
) WITHOUT ROWID;
CREATE INDEX pulse_answers_round ON pulse_answers (round_id);

CREATE TABLE recognitions (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    giver_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    receiver_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    behaviour TEXT NOT NULL,
    impact TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX recognitions_team ON recognitions (team_id, created_at);
