-- The blameless-language linter (PostgreSQL): terms, switched-off rules, dismissals.
-- off, and findings dismissed for a given text.

CREATE TABLE lint_terms (
    id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    phrase TEXT NOT NULL,
    message TEXT,
    suggestion TEXT,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE lint_disabled_rules (
    rule_id TEXT PRIMARY KEY,
    disabled_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    disabled_at BIGINT NOT NULL
);

-- A dismissal holds the SHA-256 of the text it applies to, never the text.
CREATE TABLE lint_dismissals (
    text_hash TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    start_char BIGINT NOT NULL,
    reason TEXT NOT NULL,
    dismissed_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    dismissed_at BIGINT NOT NULL,
    PRIMARY KEY (text_hash, rule_id, start_char)
);
