-- The loop-health dashboards read small running totals instead of every loop (issue 8: the
-- organisation's dashboard over a million loops within 200 ms).
--
-- Each loop contributes to a few counters, kept by triggers, so every write path (capture, stage
-- changes, classification, import, deletion) keeps them true: remove what the old row
-- contributed, add what the new row contributes.
--
--   health_loops      per team and day of capture: loops by stage and type, recurrences flagged,
--                     follow-ups that found a recurrence;
--   health_durations  per team and day of capture: time to detect (noticed - happened), to
--                     analyse (capture to first entering Apply) and to apply (first Apply to first
--                     Continue), counted in the buckets of `duration_buckets` so that medians
--                     need no raw durations;
--   health_waiting    per team, day of capture and day the loop entered its current stage, for
--                     loops not yet in Continue (stuck = entered before the team's threshold);
--   health_actions    per team, day an action was created and its due day (-1: none): open
--                     actions.
--
-- `team_id = ''` rows in health_loops and health_durations sum every team (an admin's view of the
-- whole organisation). Counters hold counts per day only: the day is all an anonymous loop keeps
-- of its time, and a count says nothing about who or in which order.
--
-- Buckets: every minute below an hour, every 15 minutes below a day, every 2 hours below 14 days,
-- every day below 90 days, every week below 3 years, then one bucket. A median is the lower bound
-- of its bucket.

CREATE TABLE duration_buckets (lower_seconds INTEGER PRIMARY KEY);
INSERT INTO duration_buckets (lower_seconds) VALUES
(-4611686018427387904), (0), (60), (120), (180), (240), (300), (360),
(420), (480), (540), (600), (660), (720), (780), (840),
(900), (960), (1020), (1080), (1140), (1200), (1260), (1320),
(1380), (1440), (1500), (1560), (1620), (1680), (1740), (1800),
(1860), (1920), (1980), (2040), (2100), (2160), (2220), (2280),
(2340), (2400), (2460), (2520), (2580), (2640), (2700), (2760),
(2820), (2880), (2940), (3000), (3060), (3120), (3180), (3240),
(3300), (3360), (3420), (3480), (3540), (3600), (4500), (5400),
(6300), (7200), (8100), (9000), (9900), (10800), (11700), (12600),
(13500), (14400), (15300), (16200), (17100), (18000), (18900), (19800),
(20700), (21600), (22500), (23400), (24300), (25200), (26100), (27000),
(27900), (28800), (29700), (30600), (31500), (32400), (33300), (34200),
(35100), (36000), (36900), (37800), (38700), (39600), (40500), (41400),
(42300), (43200), (44100), (45000), (45900), (46800), (47700), (48600),
(49500), (50400), (51300), (52200), (53100), (54000), (54900), (55800),
(56700), (57600), (58500), (59400), (60300), (61200), (62100), (63000),
(63900), (64800), (65700), (66600), (67500), (68400), (69300), (70200),
(71100), (72000), (72900), (73800), (74700), (75600), (76500), (77400),
(78300), (79200), (80100), (81000), (81900), (82800), (83700), (84600),
(85500), (86400), (93600), (100800), (108000), (115200), (122400), (129600),
(136800), (144000), (151200), (158400), (165600), (172800), (180000), (187200),
(194400), (201600), (208800), (216000), (223200), (230400), (237600), (244800),
(252000), (259200), (266400), (273600), (280800), (288000), (295200), (302400),
(309600), (316800), (324000), (331200), (338400), (345600), (352800), (360000),
(367200), (374400), (381600), (388800), (396000), (403200), (410400), (417600),
(424800), (432000), (439200), (446400), (453600), (460800), (468000), (475200),
(482400), (489600), (496800), (504000), (511200), (518400), (525600), (532800),
(540000), (547200), (554400), (561600), (568800), (576000), (583200), (590400),
(597600), (604800), (612000), (619200), (626400), (633600), (640800), (648000),
(655200), (662400), (669600), (676800), (684000), (691200), (698400), (705600),
(712800), (720000), (727200), (734400), (741600), (748800), (756000), (763200),
(770400), (777600), (784800), (792000), (799200), (806400), (813600), (820800),
(828000), (835200), (842400), (849600), (856800), (864000), (871200), (878400),
(885600), (892800), (900000), (907200), (914400), (921600), (928800), (936000),
(943200), (950400), (957600), (964800), (972000), (979200), (986400), (993600),
(1000800), (1008000), (1015200), (1022400), (1029600), (1036800), (1044000), (1051200),
(1058400), (1065600), (1072800), (1080000), (1087200), (1094400), (1101600), (1108800),
(1116000), (1123200), (1130400), (1137600), (1144800), (1152000), (1159200), (1166400),
(1173600), (1180800), (1188000), (1195200), (1202400), (1209600), (1296000), (1382400),
(1468800), (1555200), (1641600), (1728000), (1814400), (1900800), (1987200), (2073600),
(2160000), (2246400), (2332800), (2419200), (2505600), (2592000), (2678400), (2764800),
(2851200), (2937600), (3024000), (3110400), (3196800), (3283200), (3369600), (3456000),
(3542400), (3628800), (3715200), (3801600), (3888000), (3974400), (4060800), (4147200),
(4233600), (4320000), (4406400), (4492800), (4579200), (4665600), (4752000), (4838400),
(4924800), (5011200), (5097600), (5184000), (5270400), (5356800), (5443200), (5529600),
(5616000), (5702400), (5788800), (5875200), (5961600), (6048000), (6134400), (6220800),
(6307200), (6393600), (6480000), (6566400), (6652800), (6739200), (6825600), (6912000),
(6998400), (7084800), (7171200), (7257600), (7344000), (7430400), (7516800), (7603200),
(7689600), (7776000), (8380800), (8985600), (9590400), (10195200), (10800000), (11404800),
(12009600), (12614400), (13219200), (13824000), (14428800), (15033600), (15638400), (16243200),
(16848000), (17452800), (18057600), (18662400), (19267200), (19872000), (20476800), (21081600),
(21686400), (22291200), (22896000), (23500800), (24105600), (24710400), (25315200), (25920000),
(26524800), (27129600), (27734400), (28339200), (28944000), (29548800), (30153600), (30758400),
(31363200), (31968000), (32572800), (33177600), (33782400), (34387200), (34992000), (35596800),
(36201600), (36806400), (37411200), (38016000), (38620800), (39225600), (39830400), (40435200),
(41040000), (41644800), (42249600), (42854400), (43459200), (44064000), (44668800), (45273600),
(45878400), (46483200), (47088000), (47692800), (48297600), (48902400), (49507200), (50112000),
(50716800), (51321600), (51926400), (52531200), (53136000), (53740800), (54345600), (54950400),
(55555200), (56160000), (56764800), (57369600), (57974400), (58579200), (59184000), (59788800),
(60393600), (60998400), (61603200), (62208000), (62812800), (63417600), (64022400), (64627200),
(65232000), (65836800), (66441600), (67046400), (67651200), (68256000), (68860800), (69465600),
(70070400), (70675200), (71280000), (71884800), (72489600), (73094400), (73699200), (74304000),
(74908800), (75513600), (76118400), (76723200), (77328000), (77932800), (78537600), (79142400),
(79747200), (80352000), (80956800), (81561600), (82166400), (82771200), (83376000), (83980800),
(84585600), (85190400), (85795200), (86400000), (87004800), (87609600), (88214400), (88819200),
(89424000), (90028800), (90633600), (91238400), (91843200), (92448000), (93052800), (93657600),
(94262400), (94608000);

CREATE TABLE health_loops (
    team_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    stage TEXT NOT NULL,
    failure_type TEXT NOT NULL,
    loops BIGINT NOT NULL,
    recurrences BIGINT NOT NULL,
    follow_ups_recurred BIGINT NOT NULL,
    PRIMARY KEY (team_id, day, stage, failure_type)
) WITHOUT ROWID;

CREATE TABLE health_durations (
    team_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    measure TEXT NOT NULL,
    lower_seconds BIGINT NOT NULL,
    loops BIGINT NOT NULL,
    PRIMARY KEY (team_id, day, measure, lower_seconds)
) WITHOUT ROWID;

CREATE TABLE health_waiting (
    team_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    entered_day BIGINT NOT NULL,
    loops BIGINT NOT NULL,
    PRIMARY KEY (team_id, day, entered_day)
) WITHOUT ROWID;

CREATE TABLE health_actions (
    team_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    due_day BIGINT NOT NULL,
    open BIGINT NOT NULL,
    PRIMARY KEY (team_id, day, due_day)
) WITHOUT ROWID;

-- When a loop first entered Apply and Continue, kept on the loop (from its history) so that the
-- loop's own triggers can count its durations.
ALTER TABLE loops ADD COLUMN first_applied_at BIGINT;
ALTER TABLE loops ADD COLUMN first_continued_at BIGINT;

-- Loops and actions written before this migration.
UPDATE loops SET
    first_applied_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                        WHERE c.loop_id = loops.id AND c.to_stage = 'apply'),
    first_continued_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                          WHERE c.loop_id = loops.id AND c.to_stage = 'continue')
WHERE EXISTS (SELECT 1 FROM loop_stage_changes c
              WHERE c.loop_id = loops.id AND c.to_stage IN ('apply', 'continue'));

INSERT INTO health_loops (team_id, day, stage, failure_type, loops, recurrences,
    follow_ups_recurred)
SELECT team_id, created_at / 86400, stage, coalesce(override_type, suggested_type, ''),
    COUNT(*), SUM(CASE WHEN recurrence_of IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN follow_up_recurred THEN 1 ELSE 0 END)
FROM loops GROUP BY 1, 2, 3, 4;
INSERT INTO health_loops (team_id, day, stage, failure_type, loops, recurrences,
    follow_ups_recurred)
SELECT '', day, stage, failure_type, SUM(loops), SUM(recurrences), SUM(follow_ups_recurred)
FROM health_loops GROUP BY day, stage, failure_type;

INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
SELECT team_id, day, measure,
    (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= seconds), COUNT(*)
FROM (
    SELECT team_id, created_at / 86400 AS day, 'detect' AS measure,
        noticed_at - happened_at AS seconds
    FROM loops WHERE happened_at IS NOT NULL
    UNION ALL
    SELECT team_id, created_at / 86400, 'analyse', first_applied_at - created_at
    FROM loops WHERE first_applied_at IS NOT NULL
    UNION ALL
    SELECT team_id, created_at / 86400, 'apply', first_continued_at - first_applied_at
    FROM loops WHERE first_applied_at IS NOT NULL AND first_continued_at IS NOT NULL
) AS durations
GROUP BY 1, 2, 3, 4;
INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
SELECT '', day, measure, lower_seconds, SUM(loops)
FROM health_durations GROUP BY day, measure, lower_seconds;

INSERT INTO health_waiting (team_id, day, entered_day, loops)
SELECT team_id, created_at / 86400, stage_entered_at / 86400, COUNT(*)
FROM loops WHERE stage <> 'continue' GROUP BY 1, 2, 3;

INSERT INTO health_actions (team_id, day, due_day, open)
SELECT team_id, created_at / 86400, coalesce(due_on / 86400, -1), COUNT(*)
FROM action_items WHERE status = 'open' GROUP BY 1, 2, 3;

-- --- the triggers --------------------------------------------------------------------------

CREATE TRIGGER health_loops_insert AFTER INSERT ON loops BEGIN
    INSERT INTO health_loops (team_id, day, stage, failure_type, loops, recurrences,
        follow_ups_recurred)
    SELECT t.team_id, NEW.created_at / 86400, NEW.stage,
        coalesce(NEW.override_type, NEW.suggested_type, ''), 1,
        CASE WHEN NEW.recurrence_of IS NOT NULL THEN 1 ELSE 0 END,
        CASE WHEN NEW.follow_up_recurred THEN 1 ELSE 0 END
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE true
    ON CONFLICT (team_id, day, stage, failure_type) DO UPDATE SET
        loops = loops + excluded.loops, recurrences = recurrences + excluded.recurrences,
        follow_ups_recurred = follow_ups_recurred + excluded.follow_ups_recurred;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, NEW.created_at / 86400, 'detect', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= NEW.noticed_at - NEW.happened_at), 1
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE NEW.happened_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, NEW.created_at / 86400, 'analyse', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= NEW.first_applied_at - NEW.created_at), 1
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE NEW.first_applied_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, NEW.created_at / 86400, 'apply', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= NEW.first_continued_at - NEW.first_applied_at), 1
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE NEW.first_applied_at IS NOT NULL AND NEW.first_continued_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_waiting (team_id, day, entered_day, loops)
    SELECT NEW.team_id, NEW.created_at / 86400, NEW.stage_entered_at / 86400, 1
    WHERE NEW.stage <> 'continue'
    ON CONFLICT (team_id, day, entered_day) DO UPDATE SET loops = loops + excluded.loops;
END;

CREATE TRIGGER health_loops_update AFTER UPDATE OF stage, stage_entered_at, suggested_type, override_type, recurrence_of, follow_up_recurred, happened_at, noticed_at, created_at, team_id, first_applied_at, first_continued_at ON loops BEGIN
    INSERT INTO health_loops (team_id, day, stage, failure_type, loops, recurrences,
        follow_ups_recurred)
    SELECT t.team_id, OLD.created_at / 86400, OLD.stage,
        coalesce(OLD.override_type, OLD.suggested_type, ''), -1,
        CASE WHEN OLD.recurrence_of IS NOT NULL THEN -1 ELSE 0 END,
        CASE WHEN OLD.follow_up_recurred THEN -1 ELSE 0 END
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE true
    ON CONFLICT (team_id, day, stage, failure_type) DO UPDATE SET
        loops = loops + excluded.loops, recurrences = recurrences + excluded.recurrences,
        follow_ups_recurred = follow_ups_recurred + excluded.follow_ups_recurred;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, OLD.created_at / 86400, 'detect', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= OLD.noticed_at - OLD.happened_at), -1
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE OLD.happened_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, OLD.created_at / 86400, 'analyse', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= OLD.first_applied_at - OLD.created_at), -1
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE OLD.first_applied_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, OLD.created_at / 86400, 'apply', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= OLD.first_continued_at - OLD.first_applied_at), -1
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE OLD.first_applied_at IS NOT NULL AND OLD.first_continued_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_waiting (team_id, day, entered_day, loops)
    SELECT OLD.team_id, OLD.created_at / 86400, OLD.stage_entered_at / 86400, -1
    WHERE OLD.stage <> 'continue'
    ON CONFLICT (team_id, day, entered_day) DO UPDATE SET loops = loops + excluded.loops;
    INSERT INTO health_loops (team_id, day, stage, failure_type, loops, recurrences,
        follow_ups_recurred)
    SELECT t.team_id, NEW.created_at / 86400, NEW.stage,
        coalesce(NEW.override_type, NEW.suggested_type, ''), 1,
        CASE WHEN NEW.recurrence_of IS NOT NULL THEN 1 ELSE 0 END,
        CASE WHEN NEW.follow_up_recurred THEN 1 ELSE 0 END
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE true
    ON CONFLICT (team_id, day, stage, failure_type) DO UPDATE SET
        loops = loops + excluded.loops, recurrences = recurrences + excluded.recurrences,
        follow_ups_recurred = follow_ups_recurred + excluded.follow_ups_recurred;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, NEW.created_at / 86400, 'detect', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= NEW.noticed_at - NEW.happened_at), 1
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE NEW.happened_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, NEW.created_at / 86400, 'analyse', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= NEW.first_applied_at - NEW.created_at), 1
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE NEW.first_applied_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, NEW.created_at / 86400, 'apply', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= NEW.first_continued_at - NEW.first_applied_at), 1
    FROM (SELECT NEW.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE NEW.first_applied_at IS NOT NULL AND NEW.first_continued_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_waiting (team_id, day, entered_day, loops)
    SELECT NEW.team_id, NEW.created_at / 86400, NEW.stage_entered_at / 86400, 1
    WHERE NEW.stage <> 'continue'
    ON CONFLICT (team_id, day, entered_day) DO UPDATE SET loops = loops + excluded.loops;
END;

CREATE TRIGGER health_loops_delete AFTER DELETE ON loops BEGIN
    INSERT INTO health_loops (team_id, day, stage, failure_type, loops, recurrences,
        follow_ups_recurred)
    SELECT t.team_id, OLD.created_at / 86400, OLD.stage,
        coalesce(OLD.override_type, OLD.suggested_type, ''), -1,
        CASE WHEN OLD.recurrence_of IS NOT NULL THEN -1 ELSE 0 END,
        CASE WHEN OLD.follow_up_recurred THEN -1 ELSE 0 END
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE true
    ON CONFLICT (team_id, day, stage, failure_type) DO UPDATE SET
        loops = loops + excluded.loops, recurrences = recurrences + excluded.recurrences,
        follow_ups_recurred = follow_ups_recurred + excluded.follow_ups_recurred;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, OLD.created_at / 86400, 'detect', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= OLD.noticed_at - OLD.happened_at), -1
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE OLD.happened_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, OLD.created_at / 86400, 'analyse', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= OLD.first_applied_at - OLD.created_at), -1
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE OLD.first_applied_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_durations (team_id, day, measure, lower_seconds, loops)
    SELECT t.team_id, OLD.created_at / 86400, 'apply', (SELECT MAX(lower_seconds) FROM duration_buckets WHERE lower_seconds <= OLD.first_continued_at - OLD.first_applied_at), -1
    FROM (SELECT OLD.team_id AS team_id UNION ALL SELECT '' AS team_id) AS t WHERE OLD.first_applied_at IS NOT NULL AND OLD.first_continued_at IS NOT NULL
    ON CONFLICT (team_id, day, measure, lower_seconds) DO UPDATE SET
        loops = loops + excluded.loops;
    INSERT INTO health_waiting (team_id, day, entered_day, loops)
    SELECT OLD.team_id, OLD.created_at / 86400, OLD.stage_entered_at / 86400, -1
    WHERE OLD.stage <> 'continue'
    ON CONFLICT (team_id, day, entered_day) DO UPDATE SET loops = loops + excluded.loops;
END;

CREATE TRIGGER loop_milestones_insert AFTER INSERT ON loop_stage_changes
WHEN NEW.to_stage IN ('apply', 'continue') BEGIN
    UPDATE loops SET
        first_applied_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                            WHERE c.loop_id = NEW.loop_id AND c.to_stage = 'apply'),
        first_continued_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                              WHERE c.loop_id = NEW.loop_id AND c.to_stage = 'continue')
    WHERE id = NEW.loop_id;
END;

CREATE TRIGGER loop_milestones_delete AFTER DELETE ON loop_stage_changes
WHEN OLD.to_stage IN ('apply', 'continue') BEGIN
    UPDATE loops SET
        first_applied_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                            WHERE c.loop_id = OLD.loop_id AND c.to_stage = 'apply'),
        first_continued_at = (SELECT MIN(c.changed_at) FROM loop_stage_changes c
                              WHERE c.loop_id = OLD.loop_id AND c.to_stage = 'continue')
    WHERE id = OLD.loop_id;
END;

CREATE TRIGGER health_actions_insert AFTER INSERT ON action_items BEGIN
    INSERT INTO health_actions (team_id, day, due_day, open)
    SELECT NEW.team_id, NEW.created_at / 86400, coalesce(NEW.due_on / 86400, -1), 1
    WHERE NEW.status = 'open'
    ON CONFLICT (team_id, day, due_day) DO UPDATE SET open = open + excluded.open;
END;

CREATE TRIGGER health_actions_update AFTER UPDATE OF status, due_on, team_id, created_at
ON action_items BEGIN
    INSERT INTO health_actions (team_id, day, due_day, open)
    SELECT OLD.team_id, OLD.created_at / 86400, coalesce(OLD.due_on / 86400, -1), -1
    WHERE OLD.status = 'open'
    ON CONFLICT (team_id, day, due_day) DO UPDATE SET open = open + excluded.open;
    INSERT INTO health_actions (team_id, day, due_day, open)
    SELECT NEW.team_id, NEW.created_at / 86400, coalesce(NEW.due_on / 86400, -1), 1
    WHERE NEW.status = 'open'
    ON CONFLICT (team_id, day, due_day) DO UPDATE SET open = open + excluded.open;
END;

CREATE TRIGGER health_actions_delete AFTER DELETE ON action_items BEGIN
    INSERT INTO health_actions (team_id, day, due_day, open)
    SELECT OLD.team_id, OLD.created_at / 86400, coalesce(OLD.due_on / 86400, -1), -1
    WHERE OLD.status = 'open'
    ON CONFLICT (team_id, day, due_day) DO UPDATE SET open = open + excluded.open;
END;
