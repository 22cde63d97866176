-- The learning loop: Detect → Analyse → Apply → Continue (PostgreSQL).
--
-- Anonymity (see ARCHITECTURE.md, "Anonymous loops"): an anonymous loop has no author, its
-- creation time is kept to the day, and nothing records the order in which loops were written.
-- Ids are random UUIDs; `seq` is a random 63-bit number (the SQLite side uses it as its rowid).
-- PostgreSQL's physical order and transaction ids are handled when writing: see
-- PostgresStore::hide_anonymous_order.

CREATE TABLE loops (
    seq BIGINT NOT NULL,               -- random, assigned by the application; never increasing
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('failure', 'experiment')),
    -- Detect, as first written: never updated ("what we knew then").
    title TEXT NOT NULL,
    what_happened TEXT NOT NULL,
    what_was_expected TEXT NOT NULL,
    happened_at BIGINT,
    noticed_at BIGINT NOT NULL,
    impact_scale TEXT NOT NULL,
    impact_affected TEXT NOT NULL,
    -- NULL for anonymous loops; then created_at is midnight UTC of the day.
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    anonymous BOOLEAN NOT NULL,
    -- Hash of the reporter's one-time link (anonymous loops only).
    reporter_secret_hash TEXT,
    created_at BIGINT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('detect', 'analyse', 'apply', 'continue')),
    stage_entered_at BIGINT NOT NULL,
    -- Analyse: the after-action review (US Army TC 25-20) and the SRE lessons.
    aar_intended TEXT NOT NULL DEFAULT '',
    aar_actual TEXT NOT NULL DEFAULT '',
    aar_difference TEXT NOT NULL DEFAULT '',
    aar_lessons TEXT NOT NULL DEFAULT '',
    went_well TEXT NOT NULL DEFAULT '',
    went_wrong TEXT NOT NULL DEFAULT '',
    got_lucky TEXT NOT NULL DEFAULT '',
    -- Classification: the questionnaire's answers and suggestion, and a person's override; both kept.
    classification_answers TEXT,
    suggested_type TEXT,
    suggestion_reasons TEXT,
    override_type TEXT,
    override_reason TEXT,
    override_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    override_at BIGINT,
    -- Continue: the follow-up check.
    follow_up_on BIGINT,
    follow_up_recurred BOOLEAN,
    follow_up_held BOOLEAN,
    follow_up_note TEXT,
    follow_up_answered_at BIGINT,
    follow_up_answered_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    -- Links to experiments (the experiment that opened this loop; the next one it started).
    source_experiment_id TEXT,
    next_experiment_id TEXT,
    CONSTRAINT loops_seq_key UNIQUE (seq),
    CONSTRAINT loops_reporter_secret_key UNIQUE (reporter_secret_hash)
);
CREATE INDEX loops_team_stage ON loops (team_id, stage);
CREATE INDEX loops_team_created ON loops (team_id, created_at);

CREATE TABLE loop_tags (
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (loop_id, tag)
);
CREATE INDEX loop_tags_tag ON loop_tags (tag);

-- Later understanding, added beside the Detect record with the day it was added.
CREATE TABLE loop_additions (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    added_on BIGINT NOT NULL,
    -- NULL when written by the anonymous reporter through their link.
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    by_reporter BOOLEAN NOT NULL
);
CREATE INDEX loop_additions_loop ON loop_additions (loop_id);

-- Every stage change; the first row (from_stage NULL) is the loop's creation.
CREATE TABLE loop_stage_changes (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    -- 0 for the creation, then 1, 2, …: the order of changes within one loop.
    position BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX loop_stage_changes_loop ON loop_stage_changes (loop_id);

CREATE TABLE timeline_events (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    description TEXT NOT NULL,
    added_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    added_at BIGINT NOT NULL
);
CREATE INDEX timeline_events_loop ON timeline_events (loop_id);

CREATE TABLE contributing_factors (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    description TEXT NOT NULL,
    added_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    added_at BIGINT NOT NULL
);
CREATE INDEX contributing_factors_loop ON contributing_factors (loop_id);

-- Participants' accounts (Allspaw 2012); anonymous ones have no author and a day-only date.
CREATE TABLE participant_accounts (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    anonymous BOOLEAN NOT NULL,
    actions TEXT NOT NULL,
    observations TEXT NOT NULL,
    expectations TEXT NOT NULL,
    assumptions TEXT NOT NULL,
    timeline_understanding TEXT NOT NULL,
    added_on BIGINT NOT NULL
);
CREATE INDEX participant_accounts_loop ON participant_accounts (loop_id);

CREATE TABLE learnings (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    statement TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('team', 'organisation')),
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX learnings_loop ON learnings (loop_id);
CREATE INDEX learnings_visibility ON learnings (visibility, created_at);

CREATE TABLE action_items (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    due_on BIGINT,
    status TEXT NOT NULL CHECK (status IN ('open', 'done', 'dropped')),
    dropped_reason TEXT NOT NULL DEFAULT '',
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX action_items_loop ON action_items (loop_id);
CREATE INDEX action_items_team_status ON action_items (team_id, status);
