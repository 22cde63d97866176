-- Foundation: the organisation, people, sessions, tokens, teams and invitations.
-- Conventions shared with migrations/postgres (same numbering, same columns):
--  * instants are Unix seconds in INTEGER columns, so one set of queries serves both databases;
--  * public ids are random UUIDs as TEXT: they reveal neither how many rows exist nor their order;
--  * secrets (session cookies, API tokens, invitation and set-up links) are stored only as
--    SHA-256 hashes; they carry 256 random bits, so a fast hash is enough.
-- Never edit a migration that has been released; add a new one.

CREATE TABLE organisation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- At most one live set-up link: printing a new one replaces the old.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Failed sign-ins, keyed by a hash of the email or client address, counted over a window.
CREATE TABLE login_failures (
    key_hash TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key_hash, failed_at);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- The day of last use (midnight UTC), never a finer time.
    last_used_on INTEGER,
    revoked_at INTEGER,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    stuck_after_days INTEGER NOT NULL DEFAULT 14 CHECK (stuck_after_days BETWEEN 1 AND 365),
    created_at INTEGER NOT NULL,
    CONSTRAINT teams_slug_key UNIQUE (slug)
);

CREATE TABLE memberships (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('lead', 'member')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    -- NULL: an invitation to the organisation only.
    team_id TEXT REFERENCES teams (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('lead', 'member')),
    email TEXT,
    invited_by TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    revoked_at INTEGER,
    CONSTRAINT invitations_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX invitations_team_id ON invitations (team_id);
