"""Reads for the catalogue, issues and measures. Parameters only; plain dicts out."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

import sqlite_utils

from audit.model import Status
from audit.store import org
from audit.store.db import insert_many, one, quote, rows, scalar
from issues.ledger_format import Vocabulary
from issues.model import IssueFacts, MeasureFacts


def issue_facts(db: sqlite_utils.Database, issue_id: int) -> IssueFacts:
    """What the workflow guards need to know of an issue."""
    issue = one(db, "SELECT * FROM issues WHERE id = ?", (issue_id,))
    measures = rows(db, "SELECT m.id, m.owner_person_id, m.deadline, m.status, "
                        "(SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) AS ev "
                        "FROM measures m WHERE m.issue_id = ? ORDER BY m.id", (issue_id,))
    causes = scalar(db, "SELECT COUNT(*) FROM issue_causes WHERE issue_id = ?", (issue_id,))
    acc = scalar(db, "SELECT COUNT(*) FROM accountability WHERE issue_id = ?", (issue_id,))
    return IssueFacts(
        code=issue["code"], status=Status(issue["status"]),
        responsible_person_id=issue["responsible_person_id"], deadline=issue["deadline"],
        measures=tuple(MeasureFacts(m["id"], m["owner_person_id"], m["deadline"], m["status"],
                                    m["ev"]) for m in measures),
        cause_count=causes or 0, accountability_recorded=bool(acc),
        submitted_by=issue["submitted_by"], checked_by=issue["checked_by"])


def two_level_verification(db: sqlite_utils.Database) -> bool:
    """Is two-level verification (初审, then 复核销号) on for this programme?"""
    return org.setting(db, "verification.two_level", "0") == "1"


def recheck_months(db: sqlite_utils.Database) -> dict[str, int]:
    """Months from 销号 to the check after closure (回头看), per rectification type."""
    out = {}
    for kind in ("immediate", "staged", "continuous"):
        value = org.setting(db, f"recheck.months.{kind}", "6") or "6"
        out[kind] = int(value) if value.isdigit() else 6
    return out


def closed_without_recheck(db: sqlite_utils.Database, unit_ids: frozenset[int] | None
                           ) -> list[dict]:
    """Struck-off items (in these units; all when None) that never had a check after closure
    scheduled: closed before the check existed (a database migrated since), so their history
    holds no recheck_due at all; an item whose check was done holds one (set, then cleared).
    {id, code, rectification_type, closed_at, version}, by code."""
    where = ""
    if unit_ids is not None:
        where = f" AND i.unit_id IN ({','.join(str(int(u)) for u in sorted(unit_ids)) or 'NULL'})"
    return rows(db, f"""
        SELECT i.id, i.code, i.rectification_type, i.closed_at, i.version FROM issues i
        WHERE i.status = 'closed' AND i.recheck_due IS NULL AND i.merged_into_id IS NULL
              AND i.closed_at IS NOT NULL {where}
              AND NOT EXISTS (SELECT 1 FROM history h WHERE h.entity = 'issue'
                              AND h.entity_id = i.id AND h.field = 'recheck_due')
        ORDER BY i.code""")


def category_by_code(db: sqlite_utils.Database, code: str) -> dict | None:
    return one(db, "SELECT * FROM categories WHERE code = ?", (code,))


def aspect_by_code(db: sqlite_utils.Database, code: str) -> dict | None:
    return one(db, "SELECT * FROM aspects WHERE code = ?", (code,))


def issue_by_code(db: sqlite_utils.Database, code: str) -> dict | None:
    return one(db, "SELECT * FROM issues WHERE code = ?", (code,))


def codes_under(db: sqlite_utils.Database, table: str, parent_code: str) -> set[str]:
    """The codes in `table` (aspects or issues) below a parent code (C3 → C3.*)."""
    return {r[0] for r in db.conn.execute(
        f"SELECT code FROM {quote(table)} WHERE code LIKE ?", (parent_code + ".%",))}


def category_count(db: sqlite_utils.Database) -> int:
    return db.conn.execute("SELECT COUNT(*) FROM categories").fetchone()[0]


def audit_id(db: sqlite_utils.Database, name: str, year: int) -> int | None:
    """The source audit with this name and year, or None."""
    return scalar(db, "SELECT id FROM audits WHERE name = ? AND year = ?", (name, year))


def existing_people(db: sqlite_utils.Database, ids: Iterable[int | None]) -> set[int]:
    """Those of `ids` that are people."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return set()
    marks = ",".join("?" for _ in wanted)
    return {r[0] for r in db.conn.execute(f"SELECT id FROM people WHERE id IN ({marks})",
                                          wanted)}


def issue_row(db: sqlite_utils.Database, issue_id: int) -> dict | None:
    """The issues row, or None."""
    return one(db, "SELECT * FROM issues WHERE id = ?", (issue_id,))


def replace_links(db: sqlite_utils.Database, table: str, column: str, issue_id: int,
                  ids: list[int]) -> None:
    """An issue's links in one link table (sources, streams, focus, causes) become `ids`."""
    db.conn.execute(f"DELETE FROM {quote(table)} WHERE issue_id = ?", (issue_id,))
    db.conn.executemany(f"INSERT INTO {quote(table)} (issue_id, {quote(column)}) VALUES (?, ?)",
                        [(issue_id, i) for i in ids])


def depends_on(db: sqlite_utils.Database, measure_id: int) -> list[int]:
    """The measures a measure waits for, sorted."""
    return sorted(r[0] for r in db.conn.execute(
        "SELECT depends_on_id FROM measure_deps WHERE measure_id = ?", (measure_id,)))


def add_dependency_edge(db: sqlite_utils.Database, measure_id: int, depends_on_id: int) -> None:
    db.conn.execute("INSERT INTO measure_deps (measure_id, depends_on_id) VALUES (?, ?)",
                    (measure_id, depends_on_id))


def remove_dependency_edge(db: sqlite_utils.Database, measure_id: int, depends_on_id: int
                           ) -> None:
    db.conn.execute("DELETE FROM measure_deps WHERE measure_id = ? AND depends_on_id = ?",
                    (measure_id, depends_on_id))


def cause_count(db: sqlite_utils.Database) -> int:
    return db.conn.execute("SELECT COUNT(*) FROM causes").fetchone()[0]


def cause_id_by_code(db: sqlite_utils.Database, code: str) -> int | None:
    return scalar(db, "SELECT id FROM causes WHERE code = ?", (code,))


def stream_ids(db: sqlite_utils.Database) -> dict[str, int]:
    return {r[0]: r[1] for r in db.conn.execute("SELECT code, id FROM streams")}


def focus_ids(db: sqlite_utils.Database) -> dict[str, int]:
    return {r[0]: r[1] for r in db.conn.execute("SELECT code, id FROM focus_points")}


def link_ids(db: sqlite_utils.Database, table: str, column: str, issue_id: int) -> list[int]:
    """Sorted ids linked to an issue through a link table."""
    return sorted(r[0] for r in db.conn.execute(
        f"SELECT {quote(column)} FROM {quote(table)} WHERE issue_id = ?", (issue_id,)))


def dependency_edges(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """Every measure dependency (measure, depends_on)."""
    return [(r[0], r[1]) for r in db.conn.execute(
        "SELECT measure_id, depends_on_id FROM measure_deps")]


def measure_labels(db: sqlite_utils.Database, ids: list[int]) -> dict[int, str]:
    """Human labels for measures: '<issue or cause code>/M<id>'."""
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    return {r[0]: f"{r[1]}/M{r[0]}" for r in db.conn.execute(
        f"SELECT m.id, COALESCE(i.code, c.code) FROM measures m "
        f"LEFT JOIN issues i ON i.id = m.issue_id LEFT JOIN causes c ON c.id = m.cause_id "
        f"WHERE m.id IN ({marks})", ids)}


def issue_detail(db: sqlite_utils.Database, issue_id: int) -> dict | None:
    """Everything the issue page shows, as plain data."""
    issue = one(db, """
        SELECT i.*, a.code AS aspect_code, a.name AS aspect_name, c.code AS category_code,
               c.name AS category_name, u.name AS unit_name, u.code AS unit_code,
               rp.name AS responsible_name, sp.name AS supervisor_name,
               sb.username AS submitted_by_name, cb.username AS closed_by_name,
               kb.username AS checked_by_name
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id JOIN units u ON u.id = i.unit_id
        LEFT JOIN people rp ON rp.id = i.responsible_person_id
        LEFT JOIN people sp ON sp.id = i.supervisor_person_id
        LEFT JOIN users sb ON sb.id = i.submitted_by
        LEFT JOIN users cb ON cb.id = i.closed_by
        LEFT JOIN users kb ON kb.id = i.checked_by
        WHERE i.id = ?""", (issue_id,))
    if issue is None:
        return None
    issue["sources"] = rows(db, "SELECT au.* FROM issue_sources s JOIN audits au "
                                "ON au.id = s.audit_id WHERE s.issue_id = ? "
                                "ORDER BY au.year, au.name", (issue_id,))
    issue["streams"] = rows(db, "SELECT st.* FROM issue_streams s JOIN streams st "
                                "ON st.id = s.stream_id WHERE s.issue_id = ? ORDER BY st.id",
                            (issue_id,))
    issue["focus"] = rows(db, "SELECT f.* FROM issue_focus s JOIN focus_points f "
                              "ON f.id = s.focus_id WHERE s.issue_id = ? ORDER BY f.code",
                          (issue_id,))
    issue["causes"] = rows(db, "SELECT c.* FROM issue_causes s JOIN causes c "
                               "ON c.id = s.cause_id WHERE s.issue_id = ? ORDER BY c.code",
                           (issue_id,))
    issue["measures"] = rows(db, """
        SELECT m.*, p.name AS owner_name,
               (SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) AS evidence_count
        FROM measures m LEFT JOIN people p ON p.id = m.owner_person_id
        WHERE m.issue_id = ? ORDER BY m.id""", (issue_id,))
    mids = [m["id"] for m in issue["measures"]]
    if mids:
        marks = ",".join("?" for _ in mids)
        deps = rows(db, f"SELECT measure_id, depends_on_id FROM measure_deps "
                        f"WHERE measure_id IN ({marks}) OR depends_on_id IN ({marks})",
                    mids + mids)
        labels = measure_labels(db, sorted({d["measure_id"] for d in deps}
                                           | {d["depends_on_id"] for d in deps}))
        for m in issue["measures"]:
            m["waits_for_ids"] = [d["depends_on_id"] for d in deps
                                  if d["measure_id"] == m["id"]]
            m["waits_for"] = [labels[i] for i in m["waits_for_ids"]]
            m["waited_by"] = [labels[d["measure_id"]] for d in deps
                              if d["depends_on_id"] == m["id"]]
    issue["evidence"] = rows(db, "SELECT e.*, us.username AS uploaded_by_name FROM evidence e "
                                 "JOIN users us ON us.id = e.uploaded_by WHERE e.issue_id = ? "
                                 "ORDER BY e.id", (issue_id,))
    issue["accountability"] = rows(db, "SELECT a.*, us.username AS recorded_by_name "
                                       "FROM accountability a JOIN users us "
                                       "ON us.id = a.recorded_by WHERE a.issue_id = ? "
                                       "ORDER BY a.id", (issue_id,))
    issue["extensions"] = rows(db, "SELECT x.*, us.username AS approved_by_name "
                                   "FROM extensions x JOIN users us ON us.id = x.approved_by "
                                   "WHERE x.issue_id = ? ORDER BY x.id", (issue_id,))
    issue["merged_from"] = rows(db, "SELECT id, code, title, merged_at FROM issues "
                                    "WHERE merged_into_id = ? ORDER BY id", (issue_id,))
    # The office's own columns an import kept with the issue (nothing of its file is lost).
    issue["ledger_extras"] = rows(db, "SELECT header, value FROM issue_extras "
                                      "WHERE issue_id = ? ORDER BY header", (issue_id,))
    return issue


def issue_timeline(db: sqlite_utils.Database, issue_id: int) -> list[dict]:
    """History of an issue, of its measures, evidence, accountability and extensions, and of
    every issue merged into it: newest first."""
    ids = [issue_id] + [r[0] for r in db.conn.execute(
        "SELECT id FROM issues WHERE merged_into_id = ?", (issue_id,))]
    marks = ",".join("?" for _ in ids)
    return rows(db, f"""
        SELECT seq, at, actor, action, entity, entity_id, field, old, new FROM history
        WHERE (entity = 'issue' AND entity_id IN ({marks}))
           OR (entity = 'measure' AND entity_id IN (SELECT id FROM measures
                                                   WHERE issue_id IN ({marks})))
           OR (entity = 'evidence' AND entity_id IN (SELECT id FROM evidence
                                                    WHERE issue_id IN ({marks})))
           OR (entity = 'accountability' AND entity_id IN (SELECT id FROM accountability
                                                          WHERE issue_id IN ({marks})))
           OR (entity = 'extension' AND entity_id IN (SELECT id FROM extensions
                                                     WHERE issue_id IN ({marks})))
        ORDER BY seq DESC""", ids * 5)


def next_id(db: sqlite_utils.Database, table: str) -> int:
    """The id SQLite gives the next row of a table (max id + 1): rows inserted in bulk with
    ids from here on get the same ids one-by-one inserts would."""
    return (db.conn.execute(f"SELECT MAX(id) FROM {quote(table)}").fetchone()[0] or 0) + 1


def column_defaults(db: sqlite_utils.Database, table: str) -> dict:
    """Each column of `table` → the value a row gets when an insert leaves it out (None when
    it has no default): what a bulk insert writes, and records, for columns it does not set."""
    out: dict = {}
    for _cid, name, _type, _notnull, default, _pk in db.conn.execute(
            f"PRAGMA table_info({quote(table)})"):
        out[name] = (db.conn.execute(f"SELECT {default}").fetchone()[0]
                     if default is not None else None)
    return out


def insert_rows(db: sqlite_utils.Database, table: str, rows: list[dict]) -> None:
    """Insert rows that all have the same columns (ids included), many rows per statement."""
    if not rows:
        return
    cols = list(rows[0])
    insert_many(db, f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in cols)}) VALUES",
                [tuple(r[c] for c in cols) for r in rows])


def active_people(db: sqlite_utils.Database) -> dict[int, bool]:
    """Every person's id → is the person active."""
    return {r[0]: bool(r[1]) for r in db.conn.execute("SELECT id, active FROM people")}


def ids_of(db: sqlite_utils.Database, table: str) -> set[int]:
    """Every id of a table."""
    return {r[0] for r in db.conn.execute(f"SELECT id FROM {quote(table)}")}


def aspect_codes(db: sqlite_utils.Database) -> dict[int, str]:
    """Every aspect's id → code."""
    return {r[0]: r[1] for r in db.conn.execute("SELECT id, code FROM aspects")}


def issue_codes(db: sqlite_utils.Database) -> set[str]:
    """Every issue's code."""
    return {r[0] for r in db.conn.execute("SELECT code FROM issues")}


def insert_links(db: sqlite_utils.Database, table: str, column: str,
                 pairs: list[tuple[int, int]]) -> None:
    """(issue_id, other id) rows of a link table, many per statement."""
    insert_many(db, f"INSERT INTO {quote(table)} (issue_id, {quote(column)}) VALUES", pairs)


def child_row_ids(db: sqlite_utils.Database, table: str, issue_id: int) -> list[int]:
    """The ids of an issue's rows in a child table (measures, evidence, accountability…)."""
    return [r[0] for r in db.conn.execute(
        f"SELECT id FROM {quote(table)} WHERE issue_id = ? ORDER BY id", (issue_id,))]


def reattach(db: sqlite_utils.Database, table: str, row_id: int, issue_id: int) -> None:
    """A child row now belongs to another issue."""
    db.conn.execute(f"UPDATE {quote(table)} SET issue_id = ? WHERE id = ?", (issue_id, row_id))


def issue_version(db: sqlite_utils.Database, issue_id: int) -> int:
    return scalar(db, "SELECT version FROM issues WHERE id = ?", (issue_id,))


def changes_since_merge(db: sqlite_utils.Database, merge_id: int, survivor_id: int) -> int:
    """History records about the survivor, its measures or its evidence written after the
    merge's last record."""
    merge_seq = scalar(db, "SELECT MAX(seq) FROM history WHERE entity = 'merge' "
                           "AND entity_id = ?", (merge_id,))
    return scalar(db,
        "SELECT COUNT(*) FROM history WHERE seq > ? AND ((entity = 'issue' AND entity_id = ?) "
        "OR (entity = 'measure' AND entity_id IN (SELECT id FROM measures WHERE issue_id = ?)) "
        "OR (entity = 'evidence' AND entity_id IN (SELECT id FROM evidence WHERE issue_id = ?)))",
        (merge_seq, survivor_id, survivor_id, survivor_id))


def mark_merge_undone(db: sqlite_utils.Database, merge_id: int, at: str) -> None:
    db.conn.execute("UPDATE merges SET undone_at = ? WHERE id = ?", (at, merge_id))


def add_rejected_pairs(db: sqlite_utils.Database, pairs: list[tuple[int, int]], *,
                       rejected_by: int, at: str) -> None:
    db.conn.executemany("INSERT INTO duplicate_rejections (issue_a, issue_b, rejected_by, at) "
                        "VALUES (?, ?, ?, ?)", [(a, b, rejected_by, at) for a, b in pairs])


def still_overdue(db: sqlite_utils.Database, issue_ids: list[int], as_of: date, *,
                  open_only: bool = False) -> set[int]:
    """Those of the issues that are still open with a deadline before `as_of` (`open_only`:
    still open, whatever their deadline)."""
    return {i for (i,) in db.conn.execute(
        "SELECT id FROM issues WHERE id IN (SELECT value FROM json_each(?)) AND status IN "
        "('not_started', 'in_progress', 'submitted') AND (? OR deadline < ?)",
        (json.dumps(issue_ids), int(open_only), as_of.isoformat()))}


def insert_escalation(db: sqlite_utils.Database, values: dict) -> int | None:
    """An escalation step's row, unless that step of that issue is recorded already (then
    None)."""
    cur = db.conn.execute(
        f"INSERT OR IGNORE INTO escalations ({', '.join(quote(k) for k in values)}) "
        f"VALUES ({', '.join('?' for _ in values)})", tuple(values.values()))
    return cur.lastrowid if cur.rowcount == 1 else None


def vocabulary_rows(db: sqlite_utils.Database, table: str) -> list[tuple[str, str, str]]:
    """(code, name, name_en) of every row of `table` ('streams' or 'focus_points')."""
    if table not in ("streams", "focus_points"):
        raise ValueError(table)
    return [tuple(r) for r in db.conn.execute(f"SELECT code, name, name_en FROM {table}")]


def ledger_vocabulary(db: sqlite_utils.Database) -> Vocabulary:
    """The work streams and focus points as the Excel ledger names them (code, Chinese name,
    English name), in the programme's order: the migration's rows are their one definition."""
    return Vocabulary(
        streams=tuple(tuple(r) for r in db.conn.execute(
            "SELECT code, name, name_en FROM streams ORDER BY id")),
        focus=tuple(tuple(r) for r in db.conn.execute(
            "SELECT code, name, name_en FROM focus_points ORDER BY code")))


def codes_by_issue_id(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, str]:
    """Issue id → code, for the given ids."""
    wanted = list(ids)
    marks = ",".join("?" for _ in wanted)
    return dict(db.conn.execute(f"SELECT id, code FROM issues WHERE id IN ({marks})", wanted))


def insert_meeting_warnings(db: sqlite_utils.Database, meeting_id: int,
                            colours: list[tuple[int, str]]) -> None:
    """A review meeting's warning colours, (issue id, colour) each."""
    if colours:
        insert_many(db, "INSERT INTO meeting_warnings (meeting_id, issue_id, warning) VALUES",
                    [(meeting_id, iid, c) for iid, c in colours])
