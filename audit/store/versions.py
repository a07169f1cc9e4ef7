"""Data versions per (area, scope): what page caches key on, so that a write empties only the
caches of what it touched.

The table `data_versions` holds, per unit ('unit', unit id), the history seq of the last write
that changed something shown for that unit, and ('all', 0) the seq of the last write that may
change anything (the org tree, people, categories, causes, the calendar, settings, a bulk
import, a merge…). The history writer (audit.store.history.append / append_many) calls `bump`
inside the write's own transaction, so a version never runs ahead of, or behind, the data.

A read over units S depends on the writes that touched a unit of S or everything: its version
is the largest of those rows (`version_of`). Versions come from one increasing counter (the
history seq), so the largest of a set moves exactly when one of its members does. A read over
the whole programme (S = None) takes the largest row of all: every write moves it.

What a write touches (`touched_units`): an issue (or its measure, evidence, accountability,
extension or escalation) touches its unit (old and new unit when it moves), the unit an
escalation targets, the units of issues whose measures depend on its measures or that its
measures depend on (blocked chains and earliest finishes cross units), and the units of issues
merged into it or that it was merged into. A sign-in touches nothing (it changes nothing shown);
every other entity, and a batch touching more than BULK issues, touches everything.

The duplicate proposals compare issues across units, so they have a version of their own
('duplicates', 0), moved only by a change to a field they read (DUPLICATE_FIELDS), a pair
rejected or a merge (which touch everything): a progress note leaves them current."""
from __future__ import annotations

import json
from typing import Iterable

import sqlite_utils

ALL, UNIT, DUPLICATES = "all", "unit", "duplicates"
# Issue fields the duplicate proposals read (issues.duplicates_views: texts, unit, category,
# code, open or not, registration, sources' years, streams); ROW is a bulk creation.
DUPLICATE_FIELDS = frozenset({"*", "title", "description", "unit_id", "aspect_id",
                              "merged_into_id", "code", "status", "created_at", "sources",
                              "streams"})
# Entities whose rows hang off one issue: entity → table holding its issue_id.
ISSUE_CHILDREN = {"measure": "measures", "evidence": "evidence",
                  "accountability": "accountability", "extension": "extensions",
                  "escalation": "escalations"}
UNTOUCHED = frozenset({"login"})
BULK = 2000   # issues touched at once beyond which a write counts as touching everything


def _json(ids: Iterable[int]) -> str:
    return json.dumps(sorted(set(ids)))


def _ids(db: sqlite_utils.Database, sql: str, ids: Iterable[int]) -> set[int]:
    """Run `sql` (one `?` standing for a JSON list of ids) and return the first column's
    non-null values."""
    return {r[0] for r in db.conn.execute(sql, (_json(ids),)) if r[0] is not None}


def touched_units(db: sqlite_utils.Database, records: Iterable[tuple]) -> set[int] | None:
    """The units a batch of history records (entity, entity_id, field, old, new) touches;
    None for everything. Reads the rows as written (inside the write's transaction)."""
    issue_ids: set[int] = set()
    children: dict[str, set[int]] = {}
    units: set[int] = set()
    for entity, entity_id, fld, old, new in records:
        if entity in UNTOUCHED:
            continue
        if entity_id is None:
            return None
        if entity == "issue":
            issue_ids.add(entity_id)
            if fld == "unit_id":
                units |= {int(v) for v in (old, new) if v is not None}
        elif entity in ISSUE_CHILDREN:
            children.setdefault(entity, set()).add(entity_id)
            if entity == "escalation" and fld == "target_unit_id":
                units |= {int(v) for v in (old, new) if v is not None}
        else:
            return None
        if len(issue_ids) + sum(map(len, children.values())) > BULK:
            return None
    for entity, ids in children.items():
        table = ISSUE_CHILDREN[entity]
        found = db.conn.execute(
            f"SELECT COUNT(*), COUNT(issue_id) FROM {table} "
            "WHERE id IN (SELECT value FROM json_each(?))", (_json(ids),)).fetchone()
        if found[0] != found[1] or found[0] != len(ids):
            return None     # a measure of a root cause (shown everywhere), or a row now gone
        issue_ids |= _ids(db, f"SELECT issue_id FROM {table} "
                              "WHERE id IN (SELECT value FROM json_each(?))", ids)
        if entity == "escalation":
            units |= _ids(db, "SELECT target_unit_id FROM escalations "
                              "WHERE id IN (SELECT value FROM json_each(?))", ids)
    if not issue_ids:
        return units
    # Issues linked to these through measure dependencies, either way, and through merges.
    linked = _ids(db, """
        SELECT m2.issue_id FROM measures m1
          JOIN measure_deps d ON d.measure_id = m1.id
          JOIN measures m2 ON m2.id = d.depends_on_id
         WHERE m1.issue_id IN (SELECT value FROM json_each(?1))
        UNION
        SELECT m1.issue_id FROM measures m2
          JOIN measure_deps d ON d.depends_on_id = m2.id
          JOIN measures m1 ON m1.id = d.measure_id
         WHERE m2.issue_id IN (SELECT value FROM json_each(?1))
        UNION
        SELECT id FROM issues WHERE merged_into_id IN (SELECT value FROM json_each(?1))
        UNION
        SELECT merged_into_id FROM issues WHERE id IN (SELECT value FROM json_each(?1))""",
                  issue_ids)
    # A dependency on a root cause's measure links to everything that cause's measures show.
    if _ids(db, """SELECT 1 FROM measures m1 JOIN measure_deps d ON d.measure_id = m1.id
                     JOIN measures m2 ON m2.id = d.depends_on_id
                    WHERE m1.issue_id IN (SELECT value FROM json_each(?)) AND m2.issue_id IS NULL
                    LIMIT 1""", issue_ids):
        return None
    return units | _ids(db, "SELECT DISTINCT unit_id FROM issues "
                            "WHERE id IN (SELECT value FROM json_each(?))", issue_ids | linked)


def bump(db: sqlite_utils.Database, seq: int, records: Iterable[tuple]) -> None:
    """Move the versions of what `records` (entity, entity_id, field, old, new) touch to `seq`
    (the last seq written). Runs inside the write's transaction."""
    records = list(records)
    if not records or all(r[0] in UNTOUCHED for r in records):
        return
    units = touched_units(db, records)
    if units is None:
        rows = [(ALL, 0, seq)]
    else:
        rows = [(UNIT, u, seq) for u in sorted(units)]
        if any(r[0] == "issue" and r[2] in DUPLICATE_FIELDS for r in records):
            rows.append((DUPLICATES, 0, seq))
    db.conn.executemany(
        "INSERT INTO data_versions (area, scope, version) VALUES (?, ?, ?) "
        "ON CONFLICT (area, scope) DO UPDATE SET version = excluded.version", rows)


def version_of(db: sqlite_utils.Database, unit_ids: Iterable[int] | None) -> int:
    """The version of a read over `unit_ids` (None: the whole programme): the largest version
    of those units and of everything."""
    if unit_ids is None:
        row = db.conn.execute("SELECT MAX(version) FROM data_versions").fetchone()
    else:
        row = db.conn.execute(
            "SELECT MAX(version) FROM data_versions WHERE (area = 'all' AND scope = 0) "
            "OR (area = 'unit' AND scope IN (SELECT value FROM json_each(?)))",
            (_json(unit_ids),)).fetchone()
    return row[0] or 0


def duplicates_version(db: sqlite_utils.Database) -> int:
    """The version of the duplicate proposals: the largest of everything's and their own."""
    row = db.conn.execute("SELECT MAX(version) FROM data_versions WHERE scope = 0 "
                          "AND area IN ('all', 'duplicates')").fetchone()
    return row[0] or 0


def unit_versions(db: sqlite_utils.Database) -> tuple[int, dict[int, int]]:
    """(everything's version, unit id → that unit's own version) in one read: what a read kept
    per unit (audit.dashboard_views' partials) keys on; a unit's data version is the larger of
    its own and everything's (absent: everything's)."""
    everything, units = 0, {}
    for area, scope, version in db.conn.execute(
            "SELECT area, scope, version FROM data_versions WHERE area IN ('all', 'unit')"):
        if area == ALL:
            everything = max(everything, version)
        else:
            units[scope] = version
    return everything, units
