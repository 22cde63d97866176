-- SCIM 2.0 provisioning (ARCHITECTURE.md, "SCIM"): an identity provider creates, updates and
-- deactivates accounts and keeps team membership in step with its groups.
--  * `users.deactivated_at`: set while the provider has the account inactive; such an account
--    cannot sign in, and its sessions and tokens were ended when it was set. Contributions stay.
--  * `scim_tokens`: the organisation's one bearer token, stored as its SHA-256 only (like
--    `api_tokens`); rotating replaces the row.
--  * `scim_users`: what SCIM knows of an account beyond `users` (the provider's userName and
--    externalId, whether SCIM deleted it, its last change). No row refers to any contribution.
--    An account without a row has its email as userName.
--  * `scim_groups`: which teams are SCIM groups. Deleting a group deletes this row only: the
--    team, its members and its loops stay.
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY CHECK (id = 'organisation'),
    token_hash TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE scim_users (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    user_name TEXT,
    external_id TEXT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users (LOWER(user_name));
CREATE INDEX scim_users_external_id ON scim_users (external_id);
CREATE TABLE scim_groups (
    team_id TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    external_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
