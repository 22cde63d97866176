#!/usr/bin/env python3
"""How many pages a group commit's events write to SQLite's write-ahead log, for four layouts
of `event_outbox` (BENCHMARKS.md, runs 11 and 12): the table as migration 0030 made it, with
`once_key`'s uniqueness as a partial index, clustered by time (migration 0052), and clustered by
time with ids that begin with the event's time (`EventId::at`, what the code writes now).

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
    "as migration 0030 made it (key: id; once_key UNIQUE; index on occurred_at)": [
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
BY_TIME = "key (occurred_at, id), id UNIQUE, once_key unique only where set"
LAYOUTS[BY_TIME + ", ids in time order"] = LAYOUTS[BY_TIME]

INSERT = (
    "INSERT INTO event_outbox (id, kind, team_id, subject_id, actor_id, occurred_at, payload, "
    "dispatched, once_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def time_ordered_id(at):
    """A version 7 UUID: the whole second `at` in milliseconds, then random bits."""
    raw = bytearray((at * 1000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def event(at, ordered_ids=False):
    loop = str(uuid.uuid4())
    payload = {"loop_id": loop, "stage": "detect", "anonymous": False, "title": "word word word"}
    return (
        time_ordered_id(at) if ordered_ids else str(uuid.uuid4()),
        "loop.logged",
        str(uuid.uuid4()),
        loop,
        str(uuid.uuid4()),
        at,
        json.dumps(payload),
        1,
        None,
    )


def pages_per_batch(statements, directory, ordered_ids=False):
    path = os.path.join(directory, "outbox.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA wal_autocheckpoint=0")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    for statement in statements:
        db.execute(statement)
    now = int(time.time())
    db.execute("BEGIN")
    db.executemany(
        INSERT, (event(now - 3 * 86_400 + n, ordered_ids) for n in range(35_000))
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(path + "-wal")
    batches = 100
    for second in range(batches):
        db.execute("BEGIN")
        db.executemany(INSERT, sorted(event(now + second, ordered_ids) for _ in range(20)))
        db.execute("COMMIT")
    grown = os.path.getsize(path + "-wal") - before
    db.close()
    # Each frame is a page and a 24-byte header.
    return grown / batches / (page_size + 24)


def main():
    for name, statements in LAYOUTS.items():
        with tempfile.TemporaryDirectory() as directory:
            pages = pages_per_batch(statements, directory, name.endswith("in time order"))
            print(f"{pages:5.1f} pages per batch of 20 events: {name}")


if __name__ == "__main__":
    main()
