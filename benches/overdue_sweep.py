#!/usr/bin/env python3
"""The overdue sweep's query with many actions left overdue (BENCHMARKS.md, "The overdue sweep
with many actions left overdue"): the query before migration 0049 and after it, on 100,000 open
actions whose overdue events are all stored already, so neither query has anything to raise.

    python3 benches/overdue_sweep.py [BINARY] [POSTGRES_URL]

SQLite: a file migrated by BINARY (default target/debug/failforward), with the triggers of the
two tables dropped so that rows can be written without their loops and teams. PostgreSQL (when
a URL is given): tables shaped like the real ones in a scratch schema, dropped afterwards.
"""

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ACTIONS = 100_000
TODAY = 86_400 * 20_000
BEFORE = """SELECT a.team_id, a.id, a.due_on FROM action_items a
 WHERE a.status = 'open' AND a.due_on < {today} AND NOT EXISTS (
   SELECT 1 FROM event_outbox o WHERE o.once_key = 'action.overdue:' || a.id || ':' || CAST(a.due_on AS TEXT))
 ORDER BY a.due_on, a.id LIMIT 200"""
AFTER = """SELECT a.team_id, a.id, a.due_on FROM action_items a
 WHERE a.status = 'open' AND (a.overdue_raised_on IS NULL OR a.overdue_raised_on <> a.due_on)
 AND a.due_on < {today} AND NOT EXISTS (
   SELECT 1 FROM event_outbox o WHERE o.once_key = 'action.overdue:' || a.id || ':' || CAST(a.due_on AS TEXT))
 ORDER BY a.due_on, a.id LIMIT 200"""


def sqlite(binary):
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if k != "FAILFORWARD_DATABASE_URL"}
        subprocess.run([binary, "migrate"], env={**env, "FAILFORWARD_DATA_DIR": data}, check=True,
                       capture_output=True)
        db = sqlite3.connect(os.path.join(data, "failforward.db"))
        for (name,) in list(db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                       "AND tbl_name IN ('action_items', 'event_outbox')")):
            db.execute(f"DROP TRIGGER {name}")
        actions = [(str(uuid.uuid4()), 86_400 * (18_000 + i % 300)) for i in range(ACTIONS)]
        db.executemany("INSERT INTO action_items (id, loop_id, team_id, title, due_on, status, dropped_reason, "
                       "created_at, overdue_raised_on) VALUES (?, 'l', 't', 'x', ?, 'open', '', 0, ?)",
                       [(a, due, due) for a, due in actions])
        db.executemany("INSERT INTO event_outbox (id, kind, team_id, subject_id, occurred_at, payload, dispatched, "
                       "once_key) VALUES (?, 'action.overdue', 't', ?, 0, '{}', 1, ?)",
                       [(str(uuid.uuid4()), a, f"action.overdue:{a}:{due}") for a, due in actions])
        db.commit()
        db.execute("ANALYZE")
        for name, query in [("before", BEFORE), ("after", AFTER)] * 2:
            sql = query.format(today=TODAY)
            times = []
            for _ in range(10):
                started = time.perf_counter()
                db.execute(sql).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            plan = " / ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql))
            print(f"SQLite {name}: median {statistics.median(times):.3f} ms ({plan})")


def postgres(url):
    script = f"""
DROP SCHEMA IF EXISTS overdue_sweep_bench CASCADE; CREATE SCHEMA overdue_sweep_bench;
SET search_path = overdue_sweep_bench;
CREATE TABLE action_items (id TEXT PRIMARY KEY, team_id TEXT, due_on BIGINT, status TEXT, overdue_raised_on BIGINT);
CREATE INDEX action_items_team_status ON action_items (team_id, status);
CREATE TABLE event_outbox (id TEXT PRIMARY KEY, once_key TEXT UNIQUE);
INSERT INTO action_items SELECT g::text, 't', 86400 * (18000 + g % 300), 'open', 86400 * (18000 + g % 300)
  FROM generate_series(1, {ACTIONS}) g;
INSERT INTO event_outbox SELECT 'e' || g, 'action.overdue:' || g || ':' || (86400 * (18000 + g % 300))::text
  FROM generate_series(1, {ACTIONS}) g;
CREATE INDEX action_items_overdue_unraised ON action_items (due_on, id)
  WHERE status = 'open' AND (overdue_raised_on IS NULL OR overdue_raised_on <> due_on);
ANALYZE;
EXPLAIN ANALYZE {BEFORE.format(today=TODAY)};
EXPLAIN ANALYZE {AFTER.format(today=TODAY)};
DROP SCHEMA overdue_sweep_bench CASCADE;
"""
    out = subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input=script, capture_output=True,
                         text=True, check=True).stdout
    times = [line.strip() for line in out.splitlines() if "Execution Time" in line]
    for name, line in zip(["before", "after"], times):
        print(f"PostgreSQL {name}: {line}")


if __name__ == "__main__":
    sqlite(sys.argv[1] if len(sys.argv) > 1 else "target/debug/failforward")
    if len(sys.argv) > 2:
        postgres(sys.argv[2])
