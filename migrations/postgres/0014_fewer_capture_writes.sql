-- Placeholder: the partner of migrations/sqlite/0014_fewer_capture_writes.sql, so that both
-- folders keep one numbering. That migration spares SQLite's captures page writes: it re-keys the
-- stage history by (loop_id, position) as a WITHOUT ROWID table, drops an index the composite
-- one covers, and computes a loop's FTS5 document id from the loop instead of a look-up.
-- PostgreSQL needs none of it: its history had one index since 0013, a heap table has no rowid
-- order to avoid, and its full-text search is a generated tsvector column (0010) with no
-- document ids. A statement, because a migration is run as SQL; it changes nothing.
SELECT 1;
