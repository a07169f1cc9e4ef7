"""Results computed ahead of time: a read's result stored with the data version it was computed
at (audit.store.versions), so that a page view finding a current one does not compute it again
(issues.stored_views fills and reads them; `python -m audit refresh` and the app's background
thread refresh them).

The table `stored_results` is a cache, not a record: never history-tracked, safe to empty. A
payload is the pickled result, compressed, behind an HMAC-SHA256 under the history key
(audit.store.keys): unpickling runs code, so only a payload signed with the key is unpickled,
and someone who can write the file but does not hold the key cannot plant one. A database
without a key stores nothing (every read is computed, as before)."""
from __future__ import annotations

import hashlib
import hmac
import pickle
import zlib
from typing import Any

import sqlite_utils

from audit.store import keys

MISSING = object()
_MAC = 32


def _key(db: sqlite_utils.Database) -> bytes | None:
    try:
        return keys.key_for(db)
    except Exception:          # an unreadable key file: store nothing, read nothing
        return None


def load(db: sqlite_utils.Database, name: str, key: str, version: int) -> Any:
    """The result stored for (name, key) at `version`; MISSING when there is none at that
    version (or its signature does not hold)."""
    row = db.conn.execute("SELECT payload FROM stored_results WHERE name = ? AND key = ? "
                          "AND version = ?", (name, key, version)).fetchone()
    secret = _key(db)
    if row is None or secret is None:
        return MISSING
    payload = bytes(row[0])
    mac, body = payload[:_MAC], payload[_MAC:]
    if not hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()):
        return MISSING
    return pickle.loads(zlib.decompress(body))


def save(db: sqlite_utils.Database, name: str, key: str, version: int, value: Any, *,
         computed_at: str, seconds: float) -> bool:
    """Store `value` as the result for (name, key) at `version` (one statement, so atomic on
    its own; a result older than the one stored is not written over it). False when the
    database has no key."""
    secret = _key(db)
    if secret is None:
        return False
    body = zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 3)
    payload = hmac.new(secret, body, hashlib.sha256).digest() + body
    db.conn.execute(
        "INSERT INTO stored_results (name, key, version, computed_at, seconds, payload) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET "
        "version = excluded.version, computed_at = excluded.computed_at, "
        "seconds = excluded.seconds, payload = excluded.payload "
        "WHERE excluded.version >= stored_results.version",
        (name, key, version, computed_at, seconds, payload))
    return True


def stored_version(db: sqlite_utils.Database, name: str, key: str) -> int | None:
    """The version the result for (name, key) was computed at; None when none is stored."""
    row = db.conn.execute("SELECT version FROM stored_results WHERE name = ? AND key = ?",
                          (name, key)).fetchone()
    return None if row is None else row[0]


def listing(db: sqlite_utils.Database) -> list[dict]:
    """Every stored result: name, key, version, computed_at, seconds, bytes."""
    cur = db.conn.execute("SELECT name, key, version, computed_at, seconds, length(payload) "
                          "FROM stored_results ORDER BY name, key")
    return [dict(zip(("name", "key", "version", "computed_at", "seconds", "bytes"), r))
            for r in cur]
