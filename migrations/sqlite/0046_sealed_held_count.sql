-- How many unnamed items of a sealed box are held in some instance's memory (`service::held`),
-- so that every instance counts them, not only the one that took them (issue 19).
--
-- One number per box, never per person or per item: it rises by one in the transaction that
-- writes the writer's participation mark (`mark_sealed_participant`) and falls by the number
-- of items written (the reveal, a graceful stop) or dropped (a graceful stop with fewer than
-- three) in that same transaction. It carries no time and no order, so it pairs no item with
-- a mark. Items held by an instance that dies stay counted (ARCHITECTURE.md, "Sealed
-- contributions").
ALTER TABLE sealed_boxes ADD COLUMN held_items INTEGER NOT NULL DEFAULT 0;
