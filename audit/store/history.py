"""The change history: append-only (triggers refuse UPDATE and DELETE) and hash-chained.

Each record holds the hash of the record before it and the hash of its own content, so that an
edited, deleted or reordered row breaks the chain at that row. Rows cut off the end are caught
by comparing against an anchor (the last seq and hash) kept outside the table: every backup
manifest, Word pack and Excel ledger carries one (`anchor_text`), and `verify` checks any it is
given.

The chain is keyed. A plain SHA-256 chain can be recomputed by anyone holding the file (edit a
record, rehash everything after it); so from the chain's key record on (entity 'history', field
'key', action 'history.key', new = the key's id: audit.store.keys) every record's hash is an
HMAC-SHA256 of the same content under the history key, which lives outside the database file.
The first record a database writes is its key record (its key file is created then); a database
made before keys existed keeps its plain SHA-256 records, and its next write (or
`python -m audit key`) appends the key record: the HMAC of that record covers the hash before
it, so the old records are protected from then on too. A database whose chain is keyed refuses
to write without its key.

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
- Every record's old value is the value the field held just before it (the creation's: None,
  or [] for a link set); `verify` checks it (audit.store.live_check). So a field's value as of
  day D is the old value of its first record after D, or the live column when it has none: how
  audit.views reads every field of a past state, and why only the rows changed after D are
  looked up.
- A row created in bulk (a ledger import's new issues and their measures, written directly in
  their final state) is recorded in fewer records: its as-of fields (AS_OF_FIELDS: the ones
  some readers look up by the last new value before a date: the burn-up, the measures of
  issues.graph_views) one per record as above, and every other column that holds a value, with
  the issue's link sets, in ONE record with field '*' (ROW) whose new value is those columns as
  a canonical JSON object. `replay` expands it; it is always the row's first record, so later
  per-field records override it. A reader of the last new value before a date of any other
  field must expand it too (or the field joins AS_OF_FIELDS); readers of the first old value
  after the date need not.
- Entities: 'issue', 'measure', 'category', 'aspect', 'audit', 'cause', 'unit', 'person',
  'user', 'evidence', 'accountability', 'extension', 'escalation', 'merge', 'duplicate',
  'calendar', 'setting', 'login', 'import', 'backup', and 'history' (the key record).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlite_utils

from audit.model import Actor, IntegrityBroken
from audit.store import keys, versions
from audit.store.db import database_file, insert_many
from audit.store.paths import history_key_path

GENESIS = "0" * 64
# The key record: the first record hashed with the history key (see the module docstring).
KEY_ENTITY, KEY_FIELD, KEY_ACTION = "history", "key", "history.key"
ANCHOR_PREFIX = "anchor:"


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
                old: str | None, new: str | None, *, key: bytes | None = None) -> str:
    """The hash of a record's content chained to the previous record's hash: SHA-256, or with
    `key` the HMAC-SHA256 under the history key."""
    payload = _HASH_JSON.encode([prev_hash, seq, at, actor_id, actor, op, action, entity,
                                 entity_id, field, old, new]).encode("utf-8")
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


class _Hasher:
    """record_hash for many records: the HMAC's inner and outer key blocks hashed once, each
    record then costing two copies of a started SHA-256 (what hmac does, without its Python
    layer)."""

    def __init__(self, key: bytes | None):
        self.key = key
        if key is None:
            self._inner = self._outer = None
        else:
            block = key.ljust(64, b"\0")  # keys here are 32 bytes: shorter than SHA-256's block
            self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
            self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def payload(self, payload: str) -> str:
        """The hash of a record's payload text (_HASH_JSON of its content)."""
        data = payload.encode("utf-8")
        if self._inner is None:
            return hashlib.sha256(data).hexdigest()
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def __call__(self, row: tuple) -> str:
        """The hash of (prev_hash, seq, at, actor_id, actor, op, action, entity, entity_id,
        field, old, new)."""
        return self.payload(_HASH_JSON.encode(row))


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
    seq, prev = anchor(db)
    key, batch = _signing(db, at, seq, prev)
    if batch:
        seq, prev = batch[-1][0], batch[-1][-1]
    sign = _Hasher(key)
    for ch in changes:
        seq += 1
        old, new = _text(ch.old), _text(ch.new)
        h = sign((prev, seq, at, actor_id, actor, op, action, ch.entity, ch.entity_id,
                  ch.field, old, new))
        batch.append((seq, at, actor_id, actor, op, action, ch.entity, ch.entity_id, ch.field,
                      old, new, prev, h))
        prev = h
    db.conn.executemany(
        "INSERT INTO history (seq, at, actor_id, actor, op, action, entity, entity_id, field,"
        " old, new, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
    if batch:
        versions.bump(db, batch[-1][0], (r[6:11] for r in batch))
    return len(batch)


def chain_key_id(db: sqlite_utils.Database) -> tuple[int, str] | None:
    """(seq, key id) of the chain's key record, or None for a chain that is not keyed."""
    # Not cached: a key record written in a transaction that is then rolled back is gone.
    row = db.conn.execute("SELECT seq, new FROM history WHERE entity = ? AND entity_id IS NULL "
                          "AND field = ? ORDER BY seq LIMIT 1", (KEY_ENTITY, KEY_FIELD)
                          ).fetchone()
    return None if row is None else (row[0], row[1])


def key_missing(db: sqlite_utils.Database, kid: str) -> IntegrityBroken:
    """The refusal for a keyed chain whose key is not at hand, naming where it is looked for."""
    return IntegrityBroken(
        f"history is signed with key {kid}: set {keys.ENV} or put the key file at "
        f"{history_key_path(database_file(db) or 'DB')}", key="error.history_key")


def _signing(db: sqlite_utils.Database, at: str, seq: int, prev: str
             ) -> tuple[bytes | None, list[tuple]]:
    """The key to sign new records with, and the key record to write first when the chain is
    not keyed yet (creating the key file if none is configured). Raises IntegrityBroken when
    the chain is keyed and its key is missing or another key is configured."""
    keyed = chain_key_id(db)
    if keyed is not None:
        key = keys.key_for(db)
        if key is None:
            raise key_missing(db, keyed[1])
        if keys.key_id(key) != keyed[1]:
            raise IntegrityBroken(f"history is signed with key {keyed[1]}, but the key configured "
                                  f"is {keys.key_id(key)}", key="error.history_key")
        return key, []
    key = keys.ensure_key(db)
    if key is None:
        return None, []
    seq, op, kid = seq + 1, new_op(), keys.key_id(key)
    h = record_hash(prev, seq, at, None, "system", op, KEY_ACTION, KEY_ENTITY, None, KEY_FIELD,
                    None, kid, key=key)
    return key, [(seq, at, None, "system", op, KEY_ACTION, KEY_ENTITY, None, KEY_FIELD, None,
                  kid, prev, h)]


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
    key, batch = _signing(db, at, seq, prev)
    if batch:
        seq, prev = batch[-1][0], batch[-1][-1]
    sign = _Hasher(key)
    for op, action, (entity, entity_id, field, old, new) in entries:
        seq += 1
        h = sign((prev, seq, at, actor_id, actor, op, action, entity, entity_id, field, old,
                  new))
        batch.append((seq, at, actor_id, actor, op, action, entity, entity_id, field, old, new,
                      prev, h))
        prev = h
    insert_many(db, "INSERT INTO history (seq, at, actor_id, actor, op, action, entity, "
                    "entity_id, field, old, new, prev_hash, hash) VALUES", batch)
    if batch:
        versions.bump(db, batch[-1][0], (r[6:11] for r in batch))
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
    """What `verify` found: ok, the records checked, SQLite's integrity_check, the first bad
    record and the problem in words, the chain's anchor, where the keyed part starts and the
    key's id, and warnings (a chain not keyed yet) that do not fail the check."""

    ok: bool
    records: int
    integrity: str
    first_bad_seq: int | None = None
    problem: str = ""
    anchor: tuple[int, str] | None = None
    keyed_from: int | None = None
    key_id: str | None = None
    warnings: list[str] = field(default_factory=list)


CONFIGURED = object()   # verify(key=…): the key configured for the database (audit.store.keys)


def verify(db: sqlite_utils.Database, expected_anchor: tuple[int, str] | None = None, *,
           key: bytes | None | object = CONFIGURED, anchors: Iterable[tuple[int, str]] = (),
           integrity: bool = True) -> VerifyResult:
    """Check SQLite's integrity and the whole chain (SHA-256 before the key record, HMAC under
    `key` from it on); name the first bad record. With anchors (seq, hash) — `expected_anchor`
    and any in `anchors` —, also detect records cut off the end and a chain rewritten since
    the anchor was published. `integrity` False leaves SQLite's integrity_check out (the
    benchmark times it apart). Raises KeyUnusable when the configured key is malformed."""
    conn = db.conn
    integrity = ("; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())
                 if integrity else "not checked")
    if integrity not in ("ok", "not checked"):
        return VerifyResult(False, 0, integrity, None, f"integrity_check: {integrity}")
    if key is CONFIGURED:
        key = keys.key_for(db)
    prev, expected_seq, count = GENESIS, 1, 0
    keyed_from = kid = None
    sign = _Hasher(None)

    def failed(seq: int | None, problem: str, last: tuple[int, str] | None = None
               ) -> VerifyResult:
        return VerifyResult(False, count, integrity, seq, problem, last, keyed_from, kid)

    keyed = chain_key_id(db)
    keyed_seq = keyed[0] if keyed else None
    # SQLite writes the payload (json_array escapes exactly as _HASH_JSON does: minified, the
    # same escapes), so the loop only hashes; a record whose hash does not match is encoded
    # again in Python before it is called edited.
    cur = conn.execute("SELECT seq, prev_hash, hash, json_array(prev_hash, seq, at, actor_id, "
                       "actor, op, action, entity, entity_id, field, old, new) "
                       "FROM history ORDER BY seq")
    for seq, prev_hash, h, payload in cur:
        if seq != expected_seq:
            return failed(expected_seq, f"record {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return failed(seq, f"record {seq} does not follow record {seq - 1} "
                               "(deleted, reordered or edited record before it)")
        if seq == keyed_seq:
            keyed_from, kid = keyed
            if key is None:
                return failed(seq, f"records from {seq} on are signed with history key {kid}; "
                                   f"no key was given ({keys.ENV} or the key file "
                                   f"{history_key_path(database_file(db) or 'DB')})")
            if keys.key_id(key) != kid:
                return failed(seq, f"records from {seq} on are signed with history key {kid}, "
                                   f"not with the key given ({keys.key_id(key)})")
            sign = _Hasher(key)
        if sign.payload(payload) != h and sign(_record(conn, seq)) != h:
            what = "signature" if keyed_from is not None else "hash"
            return failed(seq, f"record {seq} content does not match its {what} (edited"
                               + (", or signed without the key)" if keyed_from else ")"))
        prev = h
        expected_seq += 1
        count += 1
    last = (expected_seq - 1, prev)
    wanted = ([expected_anchor] if expected_anchor is not None else []) + list(anchors)
    for a_seq, a_hash in wanted:
        problem = _anchor_problem(db, last, a_seq, a_hash)
        if problem:
            return failed(problem[0], problem[1], last)
    warnings = []
    if keyed_from is None and count:
        warnings.append("the history chain is not keyed yet: whoever holds the file can rewrite "
                        "it unseen (key it with `python -m audit key`)")
    return VerifyResult(True, count, integrity, None, "", last, keyed_from, kid, warnings)


def _record(conn, seq: int) -> tuple:
    """A record's hashed content (prev_hash, seq, at, … new)."""
    return conn.execute("SELECT prev_hash, seq, at, actor_id, actor, op, action, entity, "
                        "entity_id, field, old, new FROM history WHERE seq = ?", (seq,)
                        ).fetchone()


def _anchor_problem(db: sqlite_utils.Database, last: tuple[int, str], a_seq: int, a_hash: str
                    ) -> tuple[int, str] | None:
    """(first bad seq, problem) when the chain ending at `last` does not hold the anchor."""
    if a_seq > last[0]:
        return last[0] + 1, (f"records after {last[0]} are missing (the anchor "
                             f"{a_seq}:{a_hash[:12]}… names record {a_seq})")
    got = db.conn.execute("SELECT hash FROM history WHERE seq = ?", (a_seq,)).fetchone()
    if a_seq > 0 and (got is None or got[0] != a_hash):
        return a_seq, (f"record {a_seq} does not match the anchor {a_seq}:{a_hash[:12]}… "
                       "(the chain was rewritten since the anchor was published)")
    if a_seq == 0 and a_hash != GENESIS:
        return 0, "the anchor 0:… names no record"
    return None


def anchor_text(db: sqlite_utils.Database) -> str:
    """The anchor as documents carry it (a Word pack's or Excel ledger's core property
    `identifier`, a reminder digest): 'anchor:SEQ:HASH'."""
    seq, digest = anchor(db)
    return f"{ANCHOR_PREFIX}{seq}:{digest}"


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
