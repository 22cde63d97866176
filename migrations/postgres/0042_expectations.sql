-- (PostgreSQL) A team's expectations about intelligent failure and cooperation (issue 24): written,
-- edited, revisited and retired by its leads; acknowledged (named, once per member and quarter)
-- and commented on by its members. An unnamed comment keeps no author and only its day, and is
-- written with the day's anonymous loops under a random key (see service::held), so neither the
-- rows nor their order say who wrote it or when within the day.

CREATE TABLE expectations (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    -- One of domain::expectations::Measure's words, with its target; both NULL for words only.
    measure TEXT,
    target BIGINT,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    -- The quarter ("2026-Q4") it was written or last revisited in.
    revisited_quarter TEXT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX expectations_team ON expectations (team_id);

CREATE TABLE expectation_acknowledgements (
    expectation_id TEXT NOT NULL REFERENCES expectations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    quarter TEXT NOT NULL,
    -- Midnight UTC of the day.
    acknowledged_on BIGINT NOT NULL,
    PRIMARY KEY (expectation_id, quarter, user_id)
);

CREATE TABLE expectation_comments (
    id TEXT PRIMARY KEY,
    expectation_id TEXT NOT NULL REFERENCES expectations (id) ON DELETE CASCADE,
    -- NULL for an unnamed comment (and for a named one whose writer's account is gone).
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    -- Midnight UTC of the day it was written.
    written_on BIGINT NOT NULL
);
CREATE INDEX expectation_comments_expectation ON expectation_comments (expectation_id);

-- Recognition can name the expectation it honours (an expectation of the same team; the use
-- case checks). Retiring an expectation keeps the link; deleting it clears it.
ALTER TABLE recognitions ADD COLUMN expectation_id TEXT REFERENCES expectations (id) ON DELETE SET NULL;
