-- OpenID Connect sign-in (ARCHITECTURE.md, "Single sign-on").
--  * `sso_identities`: which account a person at the provider is. A sign-in matches by
--    (issuer, subject), never by email again once linked, so a changed email at the provider
--    cannot take over another account.
--  * `sso_pending`: sign-ins started and not yet finished, by the SHA-256 of their `state`.
--    The row holds the nonce and PKCE verifier and is deleted when the provider answers, so a
--    state, and with it a nonce, is accepted once. Rows older than ten minutes are refused.
CREATE TABLE sso_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);
CREATE TABLE sso_pending (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
