"""History against the live tables: every row and field that history describes, replayed from
history alone, must equal the row as stored; the first difference is named (table, row, field,
the live value, the value from history).

What is compared:
- the rows of every entity table (ENTITIES): each row's columns (all but `id`, `version` and
  NOT_RECORDED) and its link sets (LINKS, as sorted id lists); a live row history never
  created, and a row history created that is gone (deleted), are differences too;
- the office's extra ledger columns kept with issues and the ledger mapping profiles: each
  value as history last recorded it;
- settings: a key with history holds its last recorded value, a key without holds its default
  (the value the migrations wrote, audit.store.migrations.default_settings);
- the working-day calendar: each year's 'published' flag, and each day an administrator set
  (a holiday or a make-up working day as recorded, or no row when set back to the weekday
  rule); the days loaded from the `holidays` package are not recorded one by one;
- pairs rejected as duplicates;
- each review meeting's warning colours (meeting_warnings), recorded on the meeting as one
  `warnings` field ({issue id: colour}).
And history against itself: a record's old value must be the value the row held before it (the
as-of figures read a field's past value from the old value of its first record after the date).

How: one pass per entity over its records in (row, field, seq) order (the covering index
history_entity), merged with the table read in id order, so memory holds one row at a time
(bench/bench_verify.py measures it against a plain scan of the same tables)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator

import sqlite_utils

from audit.store.db import quote
from audit.store.history import ROW, as_history_text
from audit.store.migrations import default_settings

# entity → table, in the order they are checked.
ENTITIES: dict[str, str] = {
    "unit": "units", "person": "people", "user": "users", "category": "categories",
    "aspect": "aspects", "audit": "audits", "cause": "causes", "issue": "issues",
    "measure": "measures", "evidence": "evidence", "accountability": "accountability",
    "extension": "extensions", "escalation": "escalations", "merge": "merges",
    "milestone": "milestones", "meeting": "meetings", "acceptance": "rule_acceptances",
    "extension_request": "extension_requests",
}
# Link sets recorded on their owning row: field → (link table, owner column, target column).
LINKS: dict[str, dict[str, tuple[str, str, str]]] = {
    "issue": {"sources": ("issue_sources", "issue_id", "audit_id"),
              "streams": ("issue_streams", "issue_id", "stream_id"),
              "focus": ("issue_focus", "issue_id", "focus_id"),
              "causes": ("issue_causes", "issue_id", "cause_id")},
    "measure": {"depends_on": ("measure_deps", "measure_id", "depends_on_id")},
}
# Columns history does not hold on purpose: the password hash (history never holds secrets; a
# password change is recorded as the time it changed) and the sign-in throttle's counters.
NOT_RECORDED: dict[str, frozenset[str]] = {
    "users": frozenset({"password_hash", "failed_logins", "locked_until"}),
}
EXAMPLES = 20


@dataclass(frozen=True)
class Mismatch:
    """One difference. `kind`: 'value' (a field differs), 'not_in_history' (a live row history
    never created), 'deleted' (a row history created that is not in the table), 'old' (a
    record whose old value is not the value before it; `seq` names it)."""

    kind: str
    table: str
    row: Any
    field: str
    live: str | None
    history: str | None
    seq: int | None = None

    def describe(self) -> str:
        """The difference in one line."""
        where = f"{self.table} row {self.row}"
        if self.kind == "not_in_history":
            return f"{where}: the row is in the table but history never created it"
        if self.kind == "deleted":
            return f"{where}: history holds the row but it is not in the table (deleted)"
        if self.kind == "old":
            return (f"{where}, field {self.field}: history record {self.seq} says the old value "
                    f"was {_show(self.live)}, but history had {_show(self.history)} before it")
        return (f"{where}, field {self.field}: live value {_show(self.live)}, value from "
                f"history {_show(self.history)}")


def _show(value: str | None) -> str:
    if value is None:
        return "NULL"
    return repr(value if len(value) <= 80 else value[:77] + "…")


@dataclass
class LiveCheck:
    """The outcome: rows and values compared, differences found (the first EXAMPLES kept)."""

    rows: int = 0
    values: int = 0
    mismatches: int = 0
    examples: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    @property
    def first(self) -> Mismatch | None:
        return self.examples[0] if self.examples else None

    def add(self, mismatch: Mismatch) -> None:
        self.mismatches += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(mismatch)


def _text(value: Any) -> str | None:
    """A live value as history text (as_history_text, with the common types first)."""
    t = type(value)
    if value is None or t is str:
        return value
    if t is int:
        return str(value)
    return as_history_text(value)


def _replayed(db: sqlite_utils.Database, entity: str, table: str, links: dict,
              out: LiveCheck) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(row id, its fields from history) for every row of `entity`, in id order, each field's
    last value; reports records whose old value is not the value before them."""
    cur = db.conn.execute(
        "SELECT entity_id, field, old, new, seq FROM history WHERE entity = ? "
        "AND entity_id IS NOT NULL ORDER BY entity_id, field, seq", (entity,))
    row_id, state = None, {}
    last_field, value = None, None
    for eid, fld, old, new, seq in cur:
        if eid != row_id:
            if row_id is not None:
                yield row_id, state
            row_id, state, last_field = eid, {}, None
        if fld == ROW:
            # A bulk creation: its columns as of then, before any per-field record of the row.
            state.update((k, as_history_text(v)) for k, v in json.loads(new).items())
            last_field = None
            continue
        if fld != last_field:
            value = state.get(fld, "[]" if fld in links else None)
            last_field = fld
        if old != value:
            out.add(Mismatch("old", table, eid, fld, old, value, seq))
        state[fld] = value = new
    if row_id is not None:
        yield row_id, state


def _link_sets(db: sqlite_utils.Database, links: dict) -> dict[str, Iterator]:
    """field → an iterator of (owner id, sorted targets as history text), in owner order."""
    def grouped(link_table: str, owner: str, target: str):
        cur = db.conn.execute(f"SELECT {quote(owner)}, {quote(target)} FROM {quote(link_table)} "
                              f"ORDER BY {quote(owner)}, {quote(target)}")
        oid, ids = None, []
        for a, b in cur:
            if a != oid:
                if oid is not None:
                    yield oid, json.dumps(ids)
                oid, ids = a, []
            ids.append(b)
        if oid is not None:
            yield oid, json.dumps(ids)
    return {f: grouped(*spec) for f, spec in links.items()}


def _check_entity(db: sqlite_utils.Database, entity: str, table: str, out: LiveCheck) -> None:
    links = LINKS.get(entity, {})
    skip = {"id", "version"} | NOT_RECORDED.get(table, frozenset())
    cur = db.conn.execute(f"SELECT * FROM {quote(table)} ORDER BY id")
    cols = [c[0] for c in cur.description]
    compared = [(n, c) for n, c in enumerate(cols) if c not in skip]
    id_at = cols.index("id")
    link_iters = _link_sets(db, links)
    link_next = {f: next(it, None) for f, it in link_iters.items()}
    history_rows = _replayed(db, entity, table, links, out)
    pending = next(history_rows, None)
    for live in cur:
        rid = live[id_at]
        out.rows += 1
        while pending is not None and pending[0] < rid:
            out.add(Mismatch("deleted", table, pending[0], "", None, None))
            pending = next(history_rows, None)
        if pending is None or pending[0] != rid:
            out.add(Mismatch("not_in_history", table, rid, "", None, None))
            state = None
        else:
            state = pending[1]
            pending = next(history_rows, None)
        for n, c in compared:
            out.values += 1
            if state is not None:
                v = _text(live[n])
                if v != state.get(c):
                    out.add(Mismatch("value", table, rid, c, v, state.get(c)))
        for f in links:
            nxt = link_next[f]
            while nxt is not None and nxt[0] < rid:   # links of a row that does not exist
                out.add(Mismatch("value", LINKS[entity][f][0], nxt[0], f, nxt[1], None))
                nxt = next(link_iters[f], None)
            live_ids = "[]"
            if nxt is not None and nxt[0] == rid:
                live_ids = nxt[1]
                nxt = next(link_iters[f], None)
            link_next[f] = nxt
            out.values += 1
            if state is not None and live_ids != state.get(f, "[]"):
                out.add(Mismatch("value", table, rid, f, live_ids, state.get(f, "[]")))
    while pending is not None:
        out.add(Mismatch("deleted", table, pending[0], "", None, None))
        pending = next(history_rows, None)
    for f, nxt in link_next.items():
        while nxt is not None:
            out.add(Mismatch("value", LINKS[entity][f][0], nxt[0], f, nxt[1], None))
            nxt = next(link_iters[f], None)


def _check_settings(db: sqlite_utils.Database, out: LiveCheck) -> None:
    recorded: dict[str, str | None] = {}
    for key, old, new, seq in db.conn.execute(
            "SELECT field, old, new, seq FROM history WHERE entity = 'setting' ORDER BY seq"):
        before = recorded.get(key, default_settings().get(key))
        if old != before:
            out.add(Mismatch("old", "settings", key, "value", old, before, seq))
        recorded[key] = new
    live = dict(db.conn.execute("SELECT key, value FROM settings"))
    expected = {**default_settings(), **recorded}
    for key in sorted(set(live) | set(expected)):
        out.rows += 1
        out.values += 1
        if key not in live:
            out.add(Mismatch("deleted", "settings", key, "", None, None))
        elif key not in expected:
            out.add(Mismatch("not_in_history", "settings", key, "", None, None))
        elif live[key] != expected[key]:
            out.add(Mismatch("value", "settings", key, "value", live[key], expected[key]))


def _check_keyed(db: sqlite_utils.Database, out: LiveCheck, entity: str, table: str,
                 live_rows: Any) -> None:
    """A table of (row id, key) → value whose every value history records under `entity` (row
    id, field = key): the office's extra ledger columns kept with issues, mapping profiles."""
    recorded: dict[tuple[Any, str], str | None] = {}
    for eid, fld, new in db.conn.execute(
            "SELECT entity_id, field, new FROM history WHERE entity = ? ORDER BY seq",
            (entity,)):
        recorded[(eid, fld)] = new
    live = {(r[0], r[1]): r[2] for r in live_rows}
    for key in sorted(set(live) | set(recorded), key=lambda k: (str(k[0]), k[1])):
        out.rows += 1
        out.values += 1
        row = f"{key[0]}/{key[1]}" if key[0] is not None else key[1]
        if key not in live:
            out.add(Mismatch("deleted", table, row, "", None, None))
        elif key not in recorded:
            out.add(Mismatch("not_in_history", table, row, "", None, None))
        elif as_history_text(live[key]) != recorded[key]:
            out.add(Mismatch("value", table, row, "value", live[key], recorded[key]))


def _check_calendar(db: sqlite_utils.Database, out: LiveCheck) -> None:
    years: dict[int, str] = {}
    days: dict[str, str] = {}
    for eid, fld, new in db.conn.execute(
            "SELECT entity_id, field, new FROM history WHERE entity = 'calendar' ORDER BY seq"):
        if fld == "published":
            years[eid] = new
        elif fld == "is_working":
            days[f"{eid // 10000:04d}-{eid // 100 % 100:02d}-{eid % 100:02d}"] = new
    live_years = {y: str(p) for y, p in db.conn.execute(
        "SELECT year, published FROM calendar_years")}
    for year in sorted(set(years) | set(live_years)):
        out.rows += 1
        out.values += 1
        if year not in live_years:
            out.add(Mismatch("deleted", "calendar_years", year, "", None, None))
        elif year not in years:
            out.add(Mismatch("not_in_history", "calendar_years", year, "", None, None))
        elif live_years[year] != years[year]:
            out.add(Mismatch("value", "calendar_years", year, "published", live_years[year],
                             years[year]))
    admin = {d: str(w) for d, w in db.conn.execute(
        "SELECT day, is_working FROM calendar_days WHERE source = 'admin'")}
    live_all = {d: str(w) for d, w in db.conn.execute(
        "SELECT day, is_working FROM calendar_days WHERE day IN (SELECT value FROM "
        "json_each(?))", (json.dumps(sorted(days)),))}
    for day in sorted(set(days) | set(admin)):
        out.rows += 1
        out.values += 1
        if day not in days:
            out.add(Mismatch("not_in_history", "calendar_days", day, "", None, None))
            continue
        weekday_rule = "1" if date.fromisoformat(day).weekday() < 5 else "0"
        want = None if days[day] == weekday_rule else days[day]
        if live_all.get(day) != want:
            out.add(Mismatch("value", "calendar_days", day, "is_working", live_all.get(day),
                             want if want is not None else f"{days[day]} (no row: weekday rule)"))


def _check_rejections(db: sqlite_utils.Database, out: LiveCheck) -> None:
    recorded: set[tuple[int, int]] = set()
    for (new,) in db.conn.execute("SELECT new FROM history WHERE entity = 'duplicate' AND "
                                  "field = 'rejected'"):
        ids = sorted(json.loads(new))
        recorded |= {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}
    live = set(db.conn.execute("SELECT issue_a, issue_b FROM duplicate_rejections"))
    for pair in sorted(live - recorded):
        out.add(Mismatch("not_in_history", "duplicate_rejections", f"{pair[0]}/{pair[1]}", "",
                         None, None))
    for pair in sorted(recorded - live):
        out.add(Mismatch("deleted", "duplicate_rejections", f"{pair[0]}/{pair[1]}", "", None,
                         None))
    out.rows += len(live)


def _check_meeting_warnings(db: sqlite_utils.Database, out: LiveCheck) -> None:
    recorded = {mid: new for mid, new in db.conn.execute(
        "SELECT entity_id, new FROM history WHERE entity = 'meeting' AND field = 'warnings' "
        "ORDER BY seq")}
    live: dict[int, dict[str, str]] = {}
    for mid, iid, colour in db.conn.execute(
            "SELECT meeting_id, issue_id, warning FROM meeting_warnings"):
        live.setdefault(mid, {})[str(iid)] = colour
        out.rows += 1
    for mid in sorted(set(recorded) | set(live)):
        lv = as_history_text(live.get(mid, {}))
        if lv != recorded.get(mid, "{}"):
            out.add(Mismatch("value", "meeting_warnings", mid, "warnings", lv,
                             recorded.get(mid)))


def check_live_tables(db: sqlite_utils.Database) -> LiveCheck:
    """Replay history and compare it with every live table it describes (module docstring)."""
    out = LiveCheck()
    for entity, table in ENTITIES.items():
        _check_entity(db, entity, table, out)
    _check_settings(db, out)
    _check_keyed(db, out, "issue_extra", "issue_extras", db.conn.execute(
        "SELECT issue_id, header, value FROM issue_extras"))
    _check_keyed(db, out, "ledger_profile", "ledger_profiles", (
        (None, name, json.dumps({"signature": sig, "mapping": json.loads(mapping),
                                 "value_answers": json.loads(values)},
                                ensure_ascii=False, sort_keys=True))
        for name, sig, mapping, values in db.conn.execute(
            "SELECT name, signature, mapping, value_answers FROM ledger_profiles")))
    _check_calendar(db, out)
    _check_rejections(db, out)
    _check_meeting_warnings(db, out)
    return out
