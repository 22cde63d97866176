-- Single sign-on set from the admin page (ARCHITECTURE.md, "Single sign-on").
--  * `sso_settings`: one row (id = 1) with what an admin saved. A value the settings file or the
--    environment gives wins over its column and is shown locked; the columns hold the rest.
--    Every instance reads this row at sign-in (kept a few seconds at most), so a change needs
--    no restart. The client secret is sealed with the server's key (`service::sealing`), never
--    stored in clear. `scopes` are space-separated; `group_teams` one `group=team:role` a line.
--  * `sso_pending.invitation_hash`: a sign-in started from an invitation's page (under "SSO
--    only") carries the invitation's token hash, so the provider's answer can accept it.
CREATE TABLE sso_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enabled BOOLEAN NOT NULL,
    issuer_url TEXT,
    client_id TEXT,
    client_secret_sealed TEXT,
    scopes TEXT NOT NULL DEFAULT '',
    groups_claim TEXT,
    group_teams TEXT NOT NULL DEFAULT '',
    sso_only BOOLEAN NOT NULL,
    break_glass_email TEXT,
    updated_at INTEGER NOT NULL
);
ALTER TABLE sso_pending ADD COLUMN invitation_hash TEXT;
