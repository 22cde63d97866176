-- The organisation's memory: full-text search (FTS5) and the recurrence link.
--
-- Numbered 0010 because 0006 and 0007 were already released (experiments, culture) and 0009 is
-- left to work in flight elsewhere; migrations apply by version, so a gap is harmless.
--
-- One FTS5 table holds every searchable record: loops, learnings, contributing factors, action
-- items and experiments. Its rowid (`doc`) is chosen so that search can read the newest matches
-- first and stop early, without revealing the order in which records were written:
--
--     doc = day * 2^47 + (random 47 bits)        (day = Unix days of the record's creation)
--
-- The day is already stored for every record (an anonymous loop keeps only its day), and within
-- a day the order is random: for a loop the low bits come from its random `seq`, for the others
-- from `random()`. A date filter becomes a rowid range.
--
-- `facets` holds tokens that the search query combines with the user's words inside FTS5, so
-- that access, kind, team, stage and tag filters are applied before the newest matches are
-- taken: `t<team id hex>x` (the owning team), `ovisx` (a learning visible to the organisation),
-- `k<kind>x`, `s<stage>x` (loops) and `g<tag as hex>x` (loops). The trailing `x` keeps the
-- Porter stemmer from shortening them. Users' words are searched in `title` and `body` only.

CREATE VIRTUAL TABLE search_index USING fts5(
    title,
    body,
    facets,
    kind UNINDEXED,
    ref_id UNINDEXED,
    loop_id UNINDEXED,
    team_id UNINDEXED,
    at UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Which document holds which record (for updates and deletes by record id).
CREATE TABLE search_docs (
    ref_id TEXT PRIMARY KEY,
    doc INTEGER NOT NULL
) WITHOUT ROWID;

-- A loop flagged on capture as a possible recurrence of an earlier loop whose actions were all
-- done (the learning may not have held). A column of the loop itself, so that PostgreSQL's
-- rewrite of anonymous loops covers it (see ARCHITECTURE.md, "Anonymous loops").
ALTER TABLE loops ADD COLUMN recurrence_of TEXT;

-- --- loops ---------------------------------------------------------------------------------

CREATE TRIGGER search_loops_insert AFTER INSERT ON loops BEGIN
    INSERT INTO search_docs (ref_id, doc)
    VALUES (NEW.id, (NEW.created_at / 86400) * 140737488355328 + (NEW.seq % 140737488355328));
    INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    VALUES (
        (NEW.created_at / 86400) * 140737488355328 + (NEW.seq % 140737488355328),
        NEW.title,
        concat_ws(char(10), NEW.what_happened, NEW.what_was_expected),
        't' || replace(NEW.team_id, '-', '') || 'x kloopx s' || NEW.stage || 'x',
        'loop', NEW.id, NEW.id, NEW.team_id, NEW.created_at
    );
END;

CREATE TRIGGER search_loops_update AFTER UPDATE OF stage, aar_intended, aar_actual,
    aar_difference, aar_lessons, went_well, went_wrong, got_lucky ON loops BEGIN
    UPDATE search_index SET
        body = concat_ws(char(10), NEW.what_happened, NEW.what_was_expected, NEW.aar_intended,
            NEW.aar_actual, NEW.aar_difference, NEW.aar_lessons, NEW.went_well, NEW.went_wrong,
            NEW.got_lucky),
        facets = 't' || replace(NEW.team_id, '-', '') || 'x kloopx s' || NEW.stage || 'x'
            || coalesce((SELECT ' ' || group_concat('g' || hex(tag) || 'x', ' ')
                         FROM loop_tags WHERE loop_id = NEW.id), '')
    WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = NEW.id);
END;

CREATE TRIGGER search_loops_delete AFTER DELETE ON loops BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = OLD.id);
    DELETE FROM search_docs WHERE ref_id = OLD.id;
END;

CREATE TRIGGER search_loop_tags_insert AFTER INSERT ON loop_tags BEGIN
    UPDATE search_index SET facets = facets || ' g' || hex(NEW.tag) || 'x'
    WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = NEW.loop_id);
END;

-- --- learnings -----------------------------------------------------------------------------

CREATE TRIGGER search_learnings_insert AFTER INSERT ON learnings BEGIN
    INSERT INTO search_docs (ref_id, doc)
    VALUES (NEW.id, (NEW.created_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328));
    INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    VALUES (
        (SELECT doc FROM search_docs WHERE ref_id = NEW.id),
        '',
        NEW.statement,
        't' || replace(NEW.team_id, '-', '') || 'x klearningx'
            || CASE WHEN NEW.visibility = 'organisation' THEN ' ovisx' ELSE '' END,
        'learning', NEW.id, NEW.loop_id, NEW.team_id, NEW.created_at
    );
END;

CREATE TRIGGER search_learnings_delete AFTER DELETE ON learnings BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = OLD.id);
    DELETE FROM search_docs WHERE ref_id = OLD.id;
END;

-- --- contributing factors ------------------------------------------------------------------

CREATE TRIGGER search_factors_insert AFTER INSERT ON contributing_factors BEGIN
    INSERT INTO search_docs (ref_id, doc)
    VALUES (NEW.id, (NEW.added_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328));
    INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    SELECT
        (SELECT doc FROM search_docs WHERE ref_id = NEW.id),
        '',
        NEW.description,
        't' || replace(loops.team_id, '-', '') || 'x kfactorx',
        'factor', NEW.id, NEW.loop_id, loops.team_id, NEW.added_at
    FROM loops WHERE loops.id = NEW.loop_id;
END;

CREATE TRIGGER search_factors_delete AFTER DELETE ON contributing_factors BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = OLD.id);
    DELETE FROM search_docs WHERE ref_id = OLD.id;
END;

-- --- action items --------------------------------------------------------------------------

CREATE TRIGGER search_actions_insert AFTER INSERT ON action_items BEGIN
    INSERT INTO search_docs (ref_id, doc)
    VALUES (NEW.id, (NEW.created_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328));
    INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    VALUES (
        (SELECT doc FROM search_docs WHERE ref_id = NEW.id),
        NEW.title,
        NEW.dropped_reason,
        't' || replace(NEW.team_id, '-', '') || 'x kactionx',
        'action', NEW.id, NEW.loop_id, NEW.team_id, NEW.created_at
    );
END;

CREATE TRIGGER search_actions_update AFTER UPDATE OF title, dropped_reason ON action_items BEGIN
    UPDATE search_index SET title = NEW.title, body = NEW.dropped_reason
    WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = NEW.id);
END;

CREATE TRIGGER search_actions_delete AFTER DELETE ON action_items BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = OLD.id);
    DELETE FROM search_docs WHERE ref_id = OLD.id;
END;

-- --- experiments ---------------------------------------------------------------------------

CREATE TRIGGER search_experiments_insert AFTER INSERT ON experiments BEGIN
    INSERT INTO search_docs (ref_id, doc)
    VALUES (NEW.id, (NEW.created_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328));
    INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    VALUES (
        (SELECT doc FROM search_docs WHERE ref_id = NEW.id),
        NEW.title,
        concat_ws(char(10), NEW.believe, NEW.verify_by, NEW.measure, NEW.right_if,
            NEW.kill_criteria),
        't' || replace(NEW.team_id, '-', '') || 'x kexperimentx',
        'experiment', NEW.id, NULL, NEW.team_id, NEW.created_at
    );
END;

CREATE TRIGGER search_experiments_update AFTER UPDATE OF title, believe, verify_by, measure,
    right_if, kill_criteria, observed, learned, therefore ON experiments BEGIN
    UPDATE search_index SET
        title = NEW.title,
        body = concat_ws(char(10), NEW.believe, NEW.verify_by, NEW.measure, NEW.right_if,
            NEW.kill_criteria, NEW.observed, NEW.learned, NEW.therefore)
    WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = NEW.id);
END;

CREATE TRIGGER search_experiments_delete AFTER DELETE ON experiments BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT doc FROM search_docs WHERE ref_id = OLD.id);
    DELETE FROM search_docs WHERE ref_id = OLD.id;
END;

-- Records written before this migration.
INSERT INTO search_docs (ref_id, doc)
    SELECT id, (created_at / 86400) * 140737488355328 + (seq % 140737488355328) FROM loops;
INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    SELECT (created_at / 86400) * 140737488355328 + (seq % 140737488355328), title,
        concat_ws(char(10), what_happened, what_was_expected, aar_intended, aar_actual,
            aar_difference, aar_lessons, went_well, went_wrong, got_lucky),
        't' || replace(team_id, '-', '') || 'x kloopx s' || stage || 'x'
            || coalesce((SELECT ' ' || group_concat('g' || hex(tag) || 'x', ' ')
                         FROM loop_tags WHERE loop_id = loops.id), ''),
        'loop', id, id, team_id, created_at
    FROM loops;
INSERT INTO search_docs (ref_id, doc)
    SELECT id, (created_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328) FROM learnings;
INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    SELECT d.doc, '', statement,
        't' || replace(team_id, '-', '') || 'x klearningx'
            || CASE WHEN visibility = 'organisation' THEN ' ovisx' ELSE '' END,
        'learning', id, loop_id, team_id, created_at
    FROM learnings JOIN search_docs d ON d.ref_id = learnings.id;
INSERT INTO search_docs (ref_id, doc)
    SELECT id, (added_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328)
    FROM contributing_factors;
INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    SELECT d.doc, '', f.description, 't' || replace(l.team_id, '-', '') || 'x kfactorx',
        'factor', f.id, f.loop_id, l.team_id, f.added_at
    FROM contributing_factors f JOIN loops l ON l.id = f.loop_id
    JOIN search_docs d ON d.ref_id = f.id;
INSERT INTO search_docs (ref_id, doc)
    SELECT id, (created_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328)
    FROM action_items;
INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    SELECT d.doc, a.title, a.dropped_reason, 't' || replace(a.team_id, '-', '') || 'x kactionx',
        'action', a.id, a.loop_id, a.team_id, a.created_at
    FROM action_items a JOIN search_docs d ON d.ref_id = a.id;
INSERT INTO search_docs (ref_id, doc)
    SELECT id, (created_at / 86400) * 140737488355328 + (abs(random()) % 140737488355328)
    FROM experiments;
INSERT INTO search_index (rowid, title, body, facets, kind, ref_id, loop_id, team_id, at)
    SELECT d.doc, e.title,
        concat_ws(char(10), e.believe, e.verify_by, e.measure, e.right_if, e.kill_criteria,
            e.observed, e.learned, e.therefore),
        't' || replace(e.team_id, '-', '') || 'x kexperimentx',
        'experiment', e.id, NULL, e.team_id, e.created_at
    FROM experiments e JOIN search_docs d ON d.ref_id = e.id;

CREATE INDEX loops_recurrence_of ON loops (recurrence_of) WHERE recurrence_of IS NOT NULL;

-- The loop-health dashboards aggregate over many loops: these covering indexes let them read
-- narrow index entries instead of the wide loop rows (whose texts dominate the table).
CREATE INDEX loops_health ON loops (team_id, created_at, stage, stage_entered_at, noticed_at,
    happened_at, suggested_type, override_type, recurrence_of, follow_up_recurred, id);
CREATE INDEX loops_scope ON loops (id, team_id, created_at);
CREATE INDEX loop_stage_changes_to ON loop_stage_changes (loop_id, to_stage, changed_at);
