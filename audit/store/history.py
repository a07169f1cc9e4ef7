"""The change history: append-only (triggers refuse UPDATE and DELETE) and hash-chained.

Each record holds the hash of the record before it and the hash of its own content, so that an
edited, deleted or reordered row breaks the chain at that row. Rows cut off the end are caught
by comparing against an anchor (the last seq and hash) kept outside the table: printed by every
export and backup, and accepted by `verify`.

Conventions every writer follows (the as-of figures and replay depend on them):
- `at` is Asia/Shanghai local time as 'YYYY-MM-DDTHH:MM:SS+08:00', so string order is time
  order and "as of day D" means `at < 'D+1T00:00:00'`.
- Creating a row writes one record per column (old None, new value), `action` '<entity>.create';
  the issue's first records include field 'status' = 'not_started' (for an issue created in
  bulk, below: the status it was registered in).
- Changing a row writes one record per changed column with old and new values; a status move
  writes field 'status' (plus 'closed_at', 'submitted_by', 'status_reason'… as they change).
- Link sets (sources, streams, focus, causes, deps) are recorded on the owning entity as one
  record with field 'sources' / 'streams' / 'focus' / 'causes' / 'depends_on' and old/new as
  sorted JSON lists of ids.
- A row created in bulk (a ledger import's new issues and their measures, written directly in
  their final state) is recorded in fewer records: its as-of fields (AS_OF_FIELDS: the ones
  whose past value is looked up by date) one per record as above, and every other column that
  holds a value, with the issue's link sets, in ONE record with field '*' (ROW) whose new value
  is those columns as a canonical JSON object. `replay` expands it; it is always the row's
  first record, so later per-field records override it. A reader that looks up any other field
  of a past state must expand it too (or the field joins AS_OF_FIELDS).
- Entities: 'issue', 'measure', 'category', 'aspect', 'audit', 'cause', 'unit', 'person',
  'user', 'evidence', 'accountability', 'extension', 'escalation', 'merge', 'calendar',
  'setting', 'login', 'import', 'backup'.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlite_utils

from audit.model import Actor
from audit.store.db import insert_many

GENESIS = "0" * 64


def _text(value: Any) -> str | None:
    """History stores values as text: None stays None, containers become canonical JSON."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


# json.dumps(…, ensure_ascii=False, separators=(",", ":")) made once, not per record.
_HASH_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def record_hash(prev_hash: str, seq: int, at: str, actor_id: int | None, actor: str, op: str,
                action: str, entity: str, entity_id: int | None, field: str,
                old: str | None, new: str | None) -> str:
    """The SHA-256 of a record's content chained to the previous record's hash."""
    payload = _HASH_JSON.encode([prev_hash, seq, at, actor_id, actor, op, action, entity,
                                 entity_id, field, old, new])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def new_op() -> str:
    """An id shared by the records of one service call (one user intent)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Change:
    """One field change to record."""

    entity: str
    entity_id: int | None
    field: str
    old: Any
    new: Any


def append(db: sqlite_utils.Database, *, at: str, actor_id: int | None, actor: str, op: str,
           action: str, changes: Iterable[Change]) -> int:
    """Append records for `changes`, chained to the last record. Must run inside the write
    transaction of the change it records. Returns the number of records written."""
    conn = db.conn
    last = conn.execute("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    batch = []
    for ch in changes:
        seq += 1
        old, new = _text(ch.old), _text(ch.new)
        h = record_hash(prev, seq, at, actor_id, actor, op, action, ch.entity, ch.entity_id,
                        ch.field, old, new)
        batch.append((seq, at, actor_id, actor, op, action, ch.entity, ch.entity_id, ch.field,
                      old, new, prev, h))
        prev = h
    conn.executemany(
        "INSERT INTO history (seq, at, actor_id, actor, op, action, entity, entity_id, field,"
        " old, new, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
    return len(batch)


ROW = "*"
# The fields whose value as of a past date is read from history (audit.figures, the dashboard's
# rewind and burn-up, issues.graph_views, exports.pack_views): a bulk creation records each on
# its own.
AS_OF_FIELDS: dict[str, frozenset[str]] = {
    "issue": frozenset({"status", "deadline", "original_deadline", "closed_at",
                        "responsible_person_id"}),
    "measure": frozenset({"owner_person_id", "deadline", "status", "completed_on",
                          "created_at"}),
}


Record = tuple  # (entity, entity_id, field, old, new), old and new as history text


def row_records(entity: str, entity_id: int, values: dict) -> list[Record]:
    """The records of a row created in bulk, as (entity, entity_id, field, old, new) in
    history's text form: one ROW record with every column that holds a value (and link sets, as
    sorted id lists) except the as-of fields, then each as-of field that holds a value.
    `values` is the row as stored; 'id' and 'version' are left out."""
    as_of = AS_OF_FIELDS.get(entity, frozenset())
    rest, own = {}, []
    for k, v in values.items():
        if v is None or k == "id" or k == "version":
            continue
        if k in as_of:
            own.append((entity, entity_id, k, None, _text(v)))
        else:
            rest[k] = v
    return ([(entity, entity_id, ROW, None, _text(rest))] if rest else []) + own


def append_many(db: sqlite_utils.Database, *, at: str, actor_id: int | None, actor: str,
                entries: Iterable[tuple[str, str, Record]]) -> int:
    """Append (op, action, record) entries in one batch, records in text form (`row_records`),
    chained to the last record exactly as `append` chains them (same content, same hashes).
    Must run inside the write transaction of the changes it records. Returns the number of
    records written."""
    seq, prev = anchor(db)
    batch = []
    for op, action, (entity, entity_id, field, old, new) in entries:
        seq += 1
        h = record_hash(prev, seq, at, actor_id, actor, op, action, entity, entity_id, field,
                        old, new)
        batch.append((seq, at, actor_id, actor, op, action, entity, entity_id, field, old, new,
                      prev, h))
        prev = h
    insert_many(db, "INSERT INTO history (seq, at, actor_id, actor, op, action, entity, "
                    "entity_id, field, old, new, prev_hash, hash) VALUES", batch)
    return len(batch)


def anchor(db: sqlite_utils.Database) -> tuple[int, str]:
    """The chain's anchor: (last seq, last hash); (0, GENESIS) when empty."""
    last = db.conn.execute("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1").fetchone()
    return (last[0], last[1]) if last else (0, GENESIS)


def data_version(db: sqlite_utils.Database) -> int:
    """A number that changes with every write that changes what the product shows: the seq of
    the last record that is not a sign-in. Page caches are keyed on it, so they are never stale;
    a sign-in records the attempt but changes nothing shown, and if it moved the version every
    new session would find the caches stale and compute (and hold) a copy of its own."""
    row = db.conn.execute("SELECT seq FROM history WHERE entity <> 'login' "
                          "ORDER BY seq DESC LIMIT 1").fetchone()
    return row[0] if row else 0


@dataclass
class VerifyResult:
    ok: bool
    records: int
    integrity: str
    first_bad_seq: int | None = None
    problem: str = ""
    anchor: tuple[int, str] | None = None


def verify(db: sqlite_utils.Database, expected_anchor: tuple[int, str] | None = None
           ) -> VerifyResult:
    """Check SQLite's integrity and the whole chain; name the first bad record.
    With `expected_anchor` (seq, hash), also detect records cut off the end."""
    conn = db.conn
    integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())
    if integrity != "ok":
        return VerifyResult(False, 0, integrity, None, f"integrity_check: {integrity}")
    prev, expected_seq, count = GENESIS, 1, 0
    cur = conn.execute("SELECT seq, at, actor_id, actor, op, action, entity, entity_id, field, "
                       "old, new, prev_hash, hash FROM history ORDER BY seq")
    for row in cur:
        (seq, at, actor_id, actor, op, action, entity, entity_id, field, old, new, prev_hash,
         h) = row
        if seq != expected_seq:
            return VerifyResult(False, count, integrity, expected_seq,
                                f"record {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return VerifyResult(False, count, integrity, seq,
                                f"record {seq} does not follow record {seq - 1} "
                                "(deleted, reordered or edited record before it)")
        if record_hash(prev, seq, at, actor_id, actor, op, action, entity, entity_id, field,
                       old, new) != h:
            return VerifyResult(False, count, integrity, seq,
                                f"record {seq} content does not match its hash (edited)")
        prev = h
        expected_seq += 1
        count += 1
    last = (expected_seq - 1, prev)
    if expected_anchor is not None:
        a_seq, a_hash = expected_anchor
        if a_seq > last[0]:
            return VerifyResult(False, count, integrity, last[0] + 1,
                                f"records after {last[0]} are missing (anchor says {a_seq})",
                                last)
        got = conn.execute("SELECT hash FROM history WHERE seq = ?", (a_seq,)).fetchone()
        if a_seq > 0 and (got is None or got[0] != a_hash):
            return VerifyResult(False, count, integrity, a_seq,
                                f"record {a_seq} does not match the anchor", last)
    return VerifyResult(True, count, integrity, None, "", last)


def entity_history(db: sqlite_utils.Database, entity: str, entity_id: int) -> list[dict]:
    """All records for one entity, oldest first."""
    cur = db.conn.execute(
        "SELECT seq, at, actor, op, action, field, old, new FROM history "
        "WHERE entity = ? AND entity_id = ? ORDER BY seq", (entity, entity_id))
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def last_change(db: sqlite_utils.Database, entity: str, entity_id: int) -> dict | None:
    """The newest record for an entity (who changed it last, and when)."""
    cur = db.conn.execute(
        "SELECT seq, at, actor, op, action FROM history WHERE entity = ? AND entity_id = ? "
        "ORDER BY seq DESC LIMIT 1", (entity, entity_id))
    r = cur.fetchone()
    return None if r is None else dict(zip([c[0] for c in cur.description], r))


def replay(db: sqlite_utils.Database, entity: str, *, until: str | None = None
           ) -> dict[int, dict[str, str | None]]:
    """Rebuild each row of an entity from history alone (every field's last recorded value,
    before `until` when given), as the text history stores. A ROW record (bulk creation) gives
    each of its columns. Comparing this with the live rows proves that history holds every
    change."""
    sql = ("SELECT entity_id, field, new FROM history WHERE entity = ? AND entity_id IS NOT NULL"
           + (" AND at < ?" if until else "") + " ORDER BY seq")
    state: dict[int, dict[str, str | None]] = {}
    for entity_id, field, new in db.conn.execute(sql, (entity, until) if until else (entity,)):
        row = state.setdefault(entity_id, {})
        if field == ROW:
            row.update((k, _text(v)) for k, v in json.loads(new).items())
        else:
            row[field] = new
    return state


def as_history_text(value: Any) -> str | None:
    """A live column value in the form history stores it (for comparing with `replay`)."""
    return _text(value)


@dataclass
class Recorder:
    """Collects the changes of one service call and writes them to history at the end."""

    db: sqlite_utils.Database
    actor: Actor | None
    at: str
    action: str
    op: str = field(default_factory=new_op)
    changes: list[Change] = field(default_factory=list)

    def add(self, entity: str, entity_id: int | None, fld: str, old: Any, new: Any) -> None:
        """Note one field change."""
        self.changes.append(Change(entity, entity_id, fld, old, new))

    def created(self, entity: str, entity_id: int, values: dict) -> None:
        """Note a new row: one record per column that holds a value (empty text included, so
        that replaying history gives back the row exactly)."""
        for k, v in values.items():
            if k in ("id", "version") or v is None:
                continue
            self.add(entity, entity_id, k, None, v)

    def flush(self) -> int:
        """Append the collected changes to history (inside the caller's transaction)."""
        n = append(self.db, at=self.at, actor_id=self.actor.user_id if self.actor else None,
                   actor=self.actor.username if self.actor else "system", op=self.op,
                   action=self.action, changes=self.changes)
        self.changes = []
        return n
