#!/usr/bin/env python3
"""How many pages a group commit's events write to SQLite's write-ahead log, for three layouts
of `event_outbox` (BENCHMARKS.md, "Run 11"): the table as migrated today, with `once_key`'s
uniqueness as a partial index, and clustered by time.

    python3 benches/outbox_pages.py

Counts bytes, not time, so the disk's mood does not enter: the log is emptied after 35,000
older events, then 100 transactions of 20 named events each (a batch of captures) are written,
and the log's growth per transaction is divided by the frame size. The events are shaped like a
capture's `loop.logged`: random ids, no `once_key`, written dispatched (nobody subscribed).
"""

import json
import os
import sqlite3
import tempfile
import time
import uuid

COLUMNS = (
    "kind TEXT NOT NULL, team_id TEXT NOT NULL, subject_id TEXT NOT NULL, actor_id TEXT, "
    "occurred_at INTEGER NOT NULL, payload TEXT NOT NULL, "
    "dispatched BOOLEAN NOT NULL DEFAULT FALSE, once_key TEXT"
)
WAITING = "CREATE INDEX waiting ON event_outbox (occurred_at) WHERE NOT dispatched"
ONCE_PARTIAL = (
    "CREATE UNIQUE INDEX once ON event_outbox (once_key) WHERE once_key IS NOT NULL"
)

LAYOUTS = {
    "as migrated (key: id; once_key UNIQUE; index on occurred_at)": [
        f"CREATE TABLE event_outbox (id TEXT PRIMARY KEY, {COLUMNS} UNIQUE) WITHOUT ROWID",
        WAITING,
        "CREATE INDEX occurred ON event_outbox (occurred_at)",
    ],
    "once_key unique only where set": [
        f"CREATE TABLE event_outbox (id TEXT PRIMARY KEY, {COLUMNS}) WITHOUT ROWID",
        ONCE_PARTIAL,
        WAITING,
        "CREATE INDEX occurred ON event_outbox (occurred_at)",
    ],
    "key (occurred_at, id), id UNIQUE, once_key unique only where set": [
        f"CREATE TABLE event_outbox (id TEXT NOT NULL UNIQUE, {COLUMNS}, "
        "PRIMARY KEY (occurred_at, id)) WITHOUT ROWID",
        ONCE_PARTIAL,
        WAITING,
    ],
}

INSERT = (
    "INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, payload, "
    "dispatched, once_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def event(at):
    loop = str(uuid.uuid4())
    payload = {"loop_id": loop, "stage": "detect", "anonymous": False, "title": "word word word"}
    return (
        str(uuid.uuid4()),
        "loop.logged",
        str(uuid.uuid4()),
        loop,
        str(uuid.uuid4()),
        at,
        json.dumps(payload),
        1,
        None,
    )


def pages_per_batch(statements, directory):
    path = os.path.join(directory, "outbox.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA wal_autocheckpoint=0")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    for statement in statements:
        db.execute(statement)
    now = int(time.time())
    db.execute("BEGIN")
    db.executemany(INSERT, (event(now - 3 * 86_400 + n) for n in range(35_000)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(path + "-wal")
    batches = 100
    for second in range(batches):
        db.execute("BEGIN")
        db.executemany(INSERT, sorted(event(now + second) for _ in range(20)))
        db.execute("COMMIT")
    grown = os.path.getsize(path + "-wal") - before
    db.close()
    # Each frame is a page and a 24-byte header.
    return grown / batches / (page_size + 24)


def main():
    for name, statements in LAYOUTS.items():
        with tempfile.TemporaryDirectory() as directory:
            print(f"{pages_per_batch(statements, directory):5.1f} pages per batch of 20 events: {name}")


if __name__ == "__main__":
    main()
