-- (PostgreSQL) A person's failure CV (issue 24) is private until they publish it to the
-- organisation: one row per person whose CV is published, deleted when they unpublish. Only the
-- person's own requests write it. The CV itself is not stored: it is read from the loops and
-- experiments they were named in, so an anonymous loop can never appear on it.

CREATE TABLE cv_publications (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Midnight UTC of the day it was published.
    published_on BIGINT NOT NULL
);
