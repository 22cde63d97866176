-- Sealed contributions: written alone, revealed together (pre-mortems, review sessions).
--
-- Before its tier is revealed an item exists only as `ciphertext`, sealed with a key derived from
-- the server's secret, which is not in the database. At the reveal the text is opened into
-- `plaintext`. `author_id` is kept only for items whose author chose to show their name; who has
-- submitted lives apart in `sealed_participants`, which shares no key, time or order with the
-- items (the tables are WITHOUT ROWID with random keys, and times are kept to the day).

-- Facts about this installation; `sealing_key_check` lets instances with different keys refuse
-- to start.
CREATE TABLE installation (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sealed_boxes (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- When the everyone tier and the late tier (e.g. leads' cards) were revealed.
    revealed_open_at INTEGER,
    revealed_late_at INTEGER
) WITHOUT ROWID;

CREATE TABLE sealed_items (
    id TEXT PRIMARY KEY,
    box_id TEXT NOT NULL REFERENCES sealed_boxes (id) ON DELETE CASCADE,
    tier TEXT NOT NULL CHECK (tier IN ('open', 'late')),
    category TEXT NOT NULL,
    author_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    ciphertext TEXT,
    plaintext TEXT,
    created_on INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sealed_items_box ON sealed_items (box_id);

CREATE TABLE sealed_participants (
    box_id TEXT NOT NULL REFERENCES sealed_boxes (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tier TEXT NOT NULL CHECK (tier IN ('open', 'late')),
    PRIMARY KEY (box_id, user_id)
) WITHOUT ROWID;
