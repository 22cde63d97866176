-- The organisation's memory: full-text search (tsvector + GIN) and the recurrence link.
--
-- Numbered 0010 because 0006 and 0007 were already released (experiments, culture) and 0009 is
-- left to work in flight elsewhere; migrations apply by version, so a gap is harmless.
--
-- Each searchable table carries a generated `search_vector` (English configuration: the same
-- stemming idea as SQLite's Porter tokenizer), so the index can never drift from the row and
-- needs no trigger: title words weigh A, the rest B. Being columns of the row itself, they are
-- rewritten with it when anonymous loops are mixed (see ARCHITECTURE.md, "Anonymous loops").

ALTER TABLE loops ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(to_tsvector('english'::regconfig,
        what_happened || ' ' || what_was_expected || ' ' || aar_intended || ' ' || aar_actual
        || ' ' || aar_difference || ' ' || aar_lessons || ' ' || went_well || ' ' || went_wrong
        || ' ' || got_lucky), 'B')
) STORED;
CREATE INDEX loops_search ON loops USING GIN (search_vector);

ALTER TABLE learnings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('english'::regconfig, statement)
) STORED;
CREATE INDEX learnings_search ON learnings USING GIN (search_vector);

ALTER TABLE contributing_factors ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('english'::regconfig, description)
) STORED;
CREATE INDEX contributing_factors_search ON contributing_factors USING GIN (search_vector);

ALTER TABLE action_items ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(to_tsvector('english'::regconfig, dropped_reason), 'B')
) STORED;
CREATE INDEX action_items_search ON action_items USING GIN (search_vector);

ALTER TABLE experiments ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(to_tsvector('english'::regconfig,
        believe || ' ' || verify_by || ' ' || measure || ' ' || right_if || ' ' || kill_criteria
        || ' ' || coalesce(observed, '') || ' ' || coalesce(learned, '') || ' '
        || coalesce(therefore, '')), 'B')
) STORED;
CREATE INDEX experiments_search ON experiments USING GIN (search_vector);

-- A loop flagged on capture as a possible recurrence of an earlier loop whose actions were all
-- done (the learning may not have held).
ALTER TABLE loops ADD COLUMN recurrence_of TEXT;
CREATE INDEX loops_recurrence_of ON loops (recurrence_of) WHERE recurrence_of IS NOT NULL;
CREATE INDEX loops_created ON loops (created_at);
CREATE INDEX learnings_created ON learnings (created_at);

-- The loop-health dashboards aggregate over many loops: these covering indexes let them read
-- narrow index entries instead of the wide loop rows (whose texts dominate the table).
CREATE INDEX loops_health ON loops (team_id, created_at, stage, stage_entered_at, noticed_at,
    happened_at, suggested_type, override_type, recurrence_of, follow_up_recurred, id);
CREATE INDEX loops_scope ON loops (id, team_id, created_at);
CREATE INDEX loop_stage_changes_to ON loop_stage_changes (loop_id, to_stage, changed_at);
