-- Smart risks (PostgreSQL; see the SQLite file for the comments on each column).
-- sealed pre-mortems (sealed_boxes, 0004) and outcomes that open loops.
-- Money is in minor units (cents) and effort in tenths of a person-day: integers only.

CREATE TABLE risk_budgets (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    quarter TEXT NOT NULL,                 -- "2026-Q1"
    currency TEXT NOT NULL,
    money_minor BIGINT NOT NULL CHECK (money_minor >= 0),
    days_tenths BIGINT NOT NULL CHECK (days_tenths >= 0),
    set_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    set_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, quarter)
);

CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'running', 'concluded', 'cancelled')),
    -- The test card.
    believe TEXT NOT NULL,
    verify_by TEXT NOT NULL,
    measure TEXT NOT NULL,
    right_if TEXT NOT NULL,
    -- The criteria of an intelligent failure, answered up front: yes, no or unsure.
    new_territory TEXT NOT NULL,
    real_goal TEXT NOT NULL,
    informed TEXT NOT NULL,
    as_small_as_possible TEXT NOT NULL,
    -- The affordable loss.
    currency TEXT NOT NULL,
    loss_money_minor BIGINT NOT NULL CHECK (loss_money_minor >= 0),
    loss_days_tenths BIGINT NOT NULL CHECK (loss_days_tenths >= 0),
    reversibility TEXT NOT NULL,
    reputation_scope TEXT NOT NULL,
    kill_criteria TEXT NOT NULL,
    starts_on BIGINT NOT NULL,
    decide_by BIGINT NOT NULL,
    -- The pilot checklist (JSON of key → yes/no), answered before the start.
    pilot_answers TEXT,
    premortem_box_id TEXT NOT NULL REFERENCES sealed_boxes (id),
    -- A lead's approval to go past the remaining budget.
    approved_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    approved_at BIGINT,
    approval_note TEXT,
    started_at BIGINT,
    source_loop_id TEXT REFERENCES loops (id) ON DELETE SET NULL,
    -- The outcome and its learning card.
    outcome TEXT,
    believed TEXT,
    observed TEXT,
    learned TEXT,
    therefore TEXT,
    decision TEXT,
    concluded_at BIGINT,
    concluded_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- The loop a refuted or inconclusive outcome opened: at most one, ever.
    outcome_loop_id TEXT REFERENCES loops (id) ON DELETE SET NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT experiments_outcome_loop_key UNIQUE (outcome_loop_id)
);
CREATE INDEX experiments_team_status ON experiments (team_id, status);

-- What each revealed pre-mortem reason became.
CREATE TABLE premortem_dispositions (
    item_id TEXT PRIMARY KEY REFERENCES sealed_items (id) ON DELETE CASCADE,
    experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('mitigation', 'accepted_risk')),
    note TEXT NOT NULL,
    decided_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    decided_at BIGINT NOT NULL
);
CREATE INDEX premortem_dispositions_experiment ON premortem_dispositions (experiment_id);
