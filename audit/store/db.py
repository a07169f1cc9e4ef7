"""Opening the database, and the one way to write: a short BEGIN IMMEDIATE transaction."""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils
from sqlite_utils.db import quote_identifier

from audit.store.restore_files import clean_interrupted

BUSY_TIMEOUT_MS = 15_000
BUSY_TIMEOUT_ENV = "AUDIT_BUSY_TIMEOUT_MS"   # overrides BUSY_TIMEOUT_MS (milliseconds)


def busy_timeout_ms() -> int:
    """How long a connection waits for another writer's lock: $AUDIT_BUSY_TIMEOUT_MS, else
    BUSY_TIMEOUT_MS."""
    try:
        return max(0, int(os.environ.get(BUSY_TIMEOUT_ENV, BUSY_TIMEOUT_MS)))
    except ValueError:
        return BUSY_TIMEOUT_MS


def open_database(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the SQLite file with WAL, foreign keys and a busy timeout,
    and bring its schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_interrupted(path.parent)   # what a restore cut short left in this folder
    timeout = busy_timeout_ms()
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves (a deferred BEGIN fails with
    # BUSY_SNAPSHOT under concurrent writers, whatever the busy timeout).
    conn = sqlite3.connect(str(path), timeout=timeout / 1000,
                           check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {timeout}")
    db = sqlite_utils.Database(conn)
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    if migrate:
        from audit.store.migrations import migrate as run_migrations
        run_migrations(db)
    return db


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any exception.
    Nested use joins the outer transaction."""
    conn = db.conn
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def quote(identifier: str) -> str:
    """A table or column name quoted for SQL ("name", inner quotes doubled): names that come
    from code, never from users, but quoted all the same."""
    return quote_identifier(identifier)


def rows(db: sqlite_utils.Database, sql: str, params: dict | tuple = ()) -> list[dict]:
    """Run a read query and return plain dicts."""
    cur = db.conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def one(db: sqlite_utils.Database, sql: str, params: dict | tuple = ()) -> dict | None:
    """Run a read query and return the first row as a dict, or None."""
    cur = db.conn.execute(sql, params)
    r = cur.fetchone()
    if r is None:
        return None
    return dict(zip([c[0] for c in cur.description], r))


def scalar(db: sqlite_utils.Database, sql: str, params: dict | tuple = ()):
    """Run a read query and return the first column of the first row (or None)."""
    r = db.conn.execute(sql, params).fetchone()
    return None if r is None else r[0]


def database_file(db: sqlite_utils.Database) -> str:
    """The path of the main database file (evidence and page caches are keyed on it)."""
    for _, name, path in db.conn.execute("PRAGMA database_list"):
        if name == "main":
            return path or ""
    return ""


def insert_many(db: sqlite_utils.Database, head: str, values: list[tuple]) -> None:
    """Run `head` ("INSERT INTO t (a, b) VALUES") over tuples of values, up to 500 rows (and
    32,000 parameters) per statement: much cheaper than a statement per row, and a table with
    a full-text trigger (issues) indexes about four times faster (FTS5 flushes its pending
    terms at every statement's savepoint)."""
    if not values:
        return
    width = len(values[0])
    group = "(" + ", ".join("?" for _ in range(width)) + ")"
    step = max(1, min(500, 32_000 // width))
    for start in range(0, len(values), step):
        part = values[start:start + step]
        db.conn.execute(f"{head} {', '.join([group] * len(part))}",
                        [v for row in part for v in row])


def copy_to_file(db: sqlite_utils.Database, path: Path) -> None:
    """A consistent copy of the database in a new file, in ONE backup step (pages=-1: a
    step-wise copy restarts at every commit and never finishes under writers), left in
    rollback-journal mode: a standalone file, with no -wal or -shm beside it."""
    dest = sqlite3.connect(str(path))
    try:
        db.conn.backup(dest, pages=-1)
        dest.execute("PRAGMA journal_mode = DELETE")
    finally:
        dest.close()


def leave_wal(db: sqlite_utils.Database) -> None:
    """Fold the write-ahead log in and switch the file to rollback-journal mode, so that it
    stands alone once closed (a restored copy; the next open_database turns WAL on again)."""
    db.conn.execute("PRAGMA journal_mode = DELETE")


def open_readonly(path: str | Path) -> sqlite_utils.Database:
    """Open an existing SQLite file read-only, as it is (no migration, no WAL switch): what
    verifying a copy needs, so that checking a file never changes it."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    timeout = busy_timeout_ms()
    conn = sqlite3.connect(uri, uri=True, timeout=timeout / 1000, check_same_thread=False,
                           isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {timeout}")
    return sqlite_utils.Database(conn)
