-- How many unnamed items of a sealed box are held in some instance's memory (PostgreSQL; see
-- the SQLite file). One number per box, changed in the transactions that write a participation
-- mark (+1) and that write or drop held items (-n); no time, no order, no per-item row.
ALTER TABLE sealed_boxes ADD COLUMN held_items BIGINT NOT NULL DEFAULT 0;
