-- Review sessions (PostgreSQL; see the SQLite file for the comments).
-- (sealed_boxes, 0004): one box for the cards (leads' cards in its late tier) and one for the
-- ballots, so that neither content nor vote totals can be read — even in the database — before
-- their reveal.

CREATE TABLE review_sessions (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    -- The loop under review; NULL for a free retrospective.
    loop_id TEXT REFERENCES loops (id) ON DELETE SET NULL,
    prompt TEXT NOT NULL,
    facilitator_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    phase TEXT NOT NULL,
    phase_started_at BIGINT NOT NULL,
    -- The facilitator's timer for the current phase, if set.
    phase_ends_at BIGINT,
    cards_box_id TEXT NOT NULL REFERENCES sealed_boxes (id),
    votes_box_id TEXT NOT NULL REFERENCES sealed_boxes (id),
    dots BIGINT NOT NULL CHECK (dots BETWEEN 1 AND 20),
    -- Bumped on every change; live clients compare it.
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX review_sessions_team ON review_sessions (team_id, created_at);

CREATE TABLE review_participants (
    session_id TEXT NOT NULL REFERENCES review_sessions (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('participant', 'observer')),
    is_lead BOOLEAN NOT NULL,
    -- Finished writing (counts only are ever shown).
    done BOOLEAN NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

-- The open-actions phase: what became of each of the team's open action items.
CREATE TABLE review_action_checks (
    session_id TEXT NOT NULL REFERENCES review_sessions (id) ON DELETE CASCADE,
    action_id TEXT NOT NULL REFERENCES action_items (id) ON DELETE CASCADE,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'relevant', 'dropped')),
    checked_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (session_id, action_id)
);

CREATE TABLE review_groups (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES review_sessions (id) ON DELETE CASCADE,
    title TEXT NOT NULL
);

CREATE TABLE review_card_groups (
    card_id TEXT PRIMARY KEY REFERENCES sealed_items (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES review_sessions (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES review_groups (id) ON DELETE CASCADE
);

CREATE TABLE review_hidden_cards (
    card_id TEXT PRIMARY KEY REFERENCES sealed_items (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES review_sessions (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    hidden_by TEXT REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE review_decisions (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES review_sessions (id) ON DELETE CASCADE,
    card_id TEXT REFERENCES sealed_items (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('factor', 'learning', 'action')),
    text TEXT NOT NULL,
    decided_at BIGINT NOT NULL
);

-- "I disagree": kept and shown in the summary; anonymous unless the person shows their name.
CREATE TABLE review_dissents (
    id TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL REFERENCES review_decisions (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    added_on BIGINT NOT NULL
);
