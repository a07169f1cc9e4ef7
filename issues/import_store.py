"""What a ledger import reads: only the rows a ledger can match (the people, audits, causes and
issues it names), besides the small tables of units, categories, aspects, work streams and
focus points. Parameters only; plain tuples out, for issues.import_model.Known."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

from audit.store.db import quote
from issues.import_model import Known, ledger_names, norm
from issues.ledger_format import ParsedLedger

_NORM_FUNCTION = "ledger_norm"


def _with_norm(db: sqlite_utils.Database) -> None:
    """Register the matching normalisation (issues.import_model.norm) as an SQL function, so that
    titles are compared in SQLite and only the matching rows come out."""
    db.conn.create_function(_NORM_FUNCTION, 1, norm, deterministic=True)


def known(db: sqlite_utils.Database, parsed: ParsedLedger) -> Known:
    """What the programme holds that `parsed` can match (see Known)."""
    _with_norm(db)
    c = db.conn
    names = ledger_names(parsed)
    as_json = {k: json.dumps(sorted(v), ensure_ascii=False) for k, v in names.items()}
    issues = c.execute(
        """SELECT id, code, title, unit_id, merged_into_id FROM issues
           WHERE code IN (SELECT value FROM json_each(?))
              OR ledger_norm(title) IN (SELECT value FROM json_each(?))""",
        (as_json["codes"], as_json["titles"])).fetchall()
    # Codes of merged issues lead to the issues they were merged into: follow the chains.
    seen = {r[0] for r in issues}
    todo = {r[4] for r in issues if r[4] is not None} - seen
    while todo:
        more = c.execute("SELECT id, code, title, unit_id, merged_into_id FROM issues "
                         "WHERE id IN (SELECT value FROM json_each(?))",
                         (json.dumps(sorted(todo)),)).fetchall()
        issues += more
        seen |= {r[0] for r in more}
        todo = {r[4] for r in more if r[4] is not None} - seen
    return Known(
        units=c.execute("SELECT id, code, name, parent_id, level FROM units").fetchall(),
        people=c.execute("SELECT id, name, unit_id, active FROM people "
                         "WHERE name IN (SELECT value FROM json_each(?))",
                         (as_json["people"],)).fetchall(),
        categories=c.execute("SELECT id, code, name FROM categories").fetchall(),
        aspects=c.execute("SELECT id, code, category_id, name FROM aspects").fetchall(),
        audits=c.execute("SELECT id, name, year FROM audits "
                         "WHERE name IN (SELECT value FROM json_each(?))",
                         (as_json["audits"],)).fetchall(),
        causes=c.execute("SELECT id, title FROM causes "
                         "WHERE ledger_norm(title) IN (SELECT value FROM json_each(?))",
                         (as_json["causes"],)).fetchall(),
        issues=issues,
        streams=c.execute("SELECT code, id FROM streams ORDER BY id").fetchall(),
        focus=c.execute("SELECT code, id FROM focus_points").fetchall(),
        issue_codes_under=lambda parent: issue_codes_under(db, parent))


def known_names(db: sqlite_utils.Database) -> dict[str, frozenset[str]]:
    """The programme's unit names (normalised, and without 分公司/市…) and people's names
    (normalised): what a column's values are recognised by (issues.ledger_infer_model)."""
    from issues.import_model import unit_core
    units = [r[0] for r in db.conn.execute("SELECT name FROM units")]
    return {"unit": frozenset({norm(u) for u in units} | {unit_core(u) for u in units} - {""}),
            "person": frozenset(norm(r[0]) for r in db.conn.execute(
                "SELECT DISTINCT name FROM people"))}


def issue_codes_under(db: sqlite_utils.Database, parent: str) -> set[str]:
    """The issue codes below a parent code (C3.2 → C3.2.*)."""
    return {r[0] for r in db.conn.execute("SELECT code FROM issues WHERE code LIKE ?",
                                          (parent + ".%",))}


def people_by_ids(db: sqlite_utils.Database, ids: set[int]) -> list[tuple]:
    """People rows (id, name, unit id, active) by id."""
    return db.conn.execute("SELECT id, name, unit_id, active FROM people "
                           "WHERE id IN (SELECT value FROM json_each(?))",
                           (json.dumps(sorted(ids)),)).fetchall()


def issue_details(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict]:
    """Everything the comparison needs of the matched issues, in chunked set queries: the issue
    row, its link ids (sources, streams, focus, causes), measures (with their evidence count)
    and the number of accountability records."""
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        cur = db.conn.execute(f"SELECT * FROM issues WHERE id IN ({marks})", chunk)
        cols = [c[0] for c in cur.description]
        for r in cur:
            d = dict(zip(cols, r))
            d.update(sources=[], streams=[], focus=[], causes=[], measures=[],
                     accountability=0)
            out[d["id"]] = d
        for table, column, key in (("issue_sources", "audit_id", "sources"),
                                   ("issue_streams", "stream_id", "streams"),
                                   ("issue_focus", "focus_id", "focus"),
                                   ("issue_causes", "cause_id", "causes")):
            for iid, other in db.conn.execute(
                    f"SELECT issue_id, {quote(column)} FROM {quote(table)} "
                    f"WHERE issue_id IN ({marks})", chunk):
                out[iid][key].append(other)
        for row in db.conn.execute(
                f"SELECT m.issue_id, m.id, m.title, m.owner_person_id, m.deadline, m.status, "
                f"(SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) "
                f"FROM measures m WHERE m.issue_id IN ({marks}) ORDER BY m.id", chunk):
            out[row[0]]["measures"].append(
                {"id": row[1], "title": row[2], "owner_person_id": row[3], "deadline": row[4],
                 "status": row[5], "evidence": row[6]})
        for iid, n in db.conn.execute(
                f"SELECT issue_id, COUNT(*) FROM accountability WHERE issue_id IN ({marks}) "
                f"GROUP BY issue_id", chunk):
            out[iid]["accountability"] = n
    for d in out.values():
        for key in ("sources", "streams", "focus", "causes"):
            d[key].sort()
    return out


@contextmanager
def page_cache_of_at_least(db: sqlite_utils.Database, kib: int) -> Iterator[None]:
    """The connection's page cache raised to at least `kib` KiB for the block, then restored."""
    cache = int(db.conn.execute("PRAGMA cache_size").fetchone()[0])
    db.conn.execute(f"PRAGMA cache_size = {min(cache, -int(kib))}")
    try:
        yield
    finally:
        db.conn.execute(f"PRAGMA cache_size = {cache}")


# --- mapping profiles and extra columns ---------------------------------------------------------

def profile(db: sqlite_utils.Database, name: str) -> dict | None:
    """The mapping profile saved under `name` (name, signature, mapping, value_answers), or
    None."""
    row = db.conn.execute("SELECT name, signature, mapping, value_answers FROM ledger_profiles "
                          "WHERE name = ?", (name,)).fetchone()
    return _profile(row)


def profile_for_signature(db: sqlite_utils.Database, signature: str) -> dict | None:
    """The latest profile saved for a header signature, or None."""
    row = db.conn.execute("SELECT name, signature, mapping, value_answers FROM ledger_profiles "
                          "WHERE signature = ? ORDER BY saved_at DESC, name LIMIT 1",
                          (signature,)).fetchone()
    return _profile(row)


def _profile(row) -> dict | None:
    if row is None:
        return None
    return {"name": row[0], "signature": row[1], "mapping": json.loads(row[2]),
            "value_answers": json.loads(row[3])}


def save_profile(db: sqlite_utils.Database, name: str, signature: str, mapping: dict,
                 value_answers: dict, user_id: int | None, at: str) -> None:
    """Insert or replace the profile `name` (inside the caller's transaction)."""
    db.conn.execute(
        "INSERT OR REPLACE INTO ledger_profiles (name, signature, mapping, value_answers, "
        "saved_by, saved_at) VALUES (?, ?, ?, ?, ?, ?)",
        (name, signature, json.dumps(mapping, ensure_ascii=False, sort_keys=True),
         json.dumps(value_answers, ensure_ascii=False, sort_keys=True), user_id, at))


def extras_of(db: sqlite_utils.Database, issue_ids: list[int]) -> dict[int, dict[str, str]]:
    """The extra columns kept with each issue: issue id → {header: value}."""
    out: dict[int, dict[str, str]] = {}
    for iid, header, value in db.conn.execute(
            "SELECT issue_id, header, value FROM issue_extras WHERE issue_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY issue_id, header",
            (json.dumps(issue_ids),)):
        out.setdefault(iid, {})[header] = value
    return out


def put_extras(db: sqlite_utils.Database, issue_id: int, extras: dict[str, str]) -> None:
    """Insert or replace extra column values of one issue (inside the caller's transaction)."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO issue_extras (issue_id, header, value) VALUES (?, ?, ?)",
        [(issue_id, h, v) for h, v in extras.items()])


def anchor_is_ours(db: sqlite_utils.Database, anchor: tuple[int, str]) -> bool:
    """Does this database's history hold the record `anchor` names (seq and hash)? A ledger
    exported from another database carries an anchor that means nothing here."""
    seq, digest = anchor
    if seq == 0:
        return True
    row = db.conn.execute("SELECT hash FROM history WHERE seq = ?", (seq,)).fetchone()
    return row is not None and row[0] == digest


def newer_records(db: sqlite_utils.Database, after_seq: int, issue_ids: list[int]
                  ) -> dict[tuple[str, int, str], tuple[str, str, str | None]]:
    """The last history record after `after_seq` of each (entity, id, field) of the given issues
    and of their measures: {(entity, entity_id, field): (at, actor, new)}. What changed since
    a ledger was exported."""
    out: dict[tuple[str, int, str], tuple[str, str, str | None]] = {}
    for start in range(0, len(issue_ids), 500):
        chunk = issue_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for entity, eid, fld, at, actor, new in db.conn.execute(
                f"SELECT entity, entity_id, field, at, actor, new FROM history "
                f"WHERE seq > ? AND ((entity = 'issue' AND entity_id IN ({marks})) "
                f"OR (entity = 'measure' AND entity_id IN "
                f"(SELECT id FROM measures WHERE issue_id IN ({marks})))) ORDER BY seq",
                (after_seq, *chunk, *chunk)):
            out[(entity, eid, fld)] = (at, actor, new)
    return out


def measures_due_after_issue(db: sqlite_utils.Database, issue_ids: list[int]
                             ) -> list[tuple[int, int, str, str]]:
    """(issue id, measure id, measure deadline, issue deadline) of the open measures of these
    issues due after their issue's deadline (deadlines that fit), by issue and measure."""
    out: list[tuple[int, int, str, str]] = []
    for start in range(0, len(issue_ids), 500):
        chunk = issue_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        out.extend(tuple(r) for r in db.conn.execute(
            f"SELECT i.id, m.id, m.deadline, i.deadline FROM measures m "
            f"JOIN issues i ON i.id = m.issue_id WHERE i.id IN ({marks}) "
            f"AND m.status != 'done' AND m.deadline > i.deadline ORDER BY i.id, m.id", chunk))
    return out


def issue_codes_of(db: sqlite_utils.Database, ids: list[int]) -> dict[int, str]:
    """Issue id → code, for the given ids."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    return {i: c for i, c in db.conn.execute(
        f"SELECT id, code FROM issues WHERE id IN ({marks})", wanted)}
