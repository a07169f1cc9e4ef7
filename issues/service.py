"""Services for the catalogue, measures, causes, accountability, the workflow and merging.
Each function is one user intent: permission → validation → one transaction → history."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from audit import history
from audit.clock import day_of, parse_date
from audit.db import insert_many, one, write_transaction
from audit.errors import (AssignmentIncomplete, AuditError, ClosureBlocked, DependencyCycle,
                          MergeNotUndoable, NotFound, NotPermitted, TransitionNotAllowed,
                          ValidationFailed)
from audit.model import Actor, Role, grant
from audit.ops import text_value as _text
from audit.ops import Recorder, bump_version, check_version, get_row, insert, require, update
from issues import store
from issues.graphs import cycle_if_added
from issues.model import (OPEN_STATUSES, TRANSITIONS, IssueFacts, MeasureFacts, Move, Status,
                          highest_child_number, may_strike_off, missing_for_assignment,
                          missing_for_closure)

SEVERITIES = ("high", "medium", "low")
RECTIFICATION_TYPES = ("immediate", "staged", "continuous")
MEASURE_STATUSES = ("todo", "doing", "done")
AUDIT_LEVELS = ("group", "regional")
EDITABLE_STATUSES = (Status.NOT_STARTED.value, Status.IN_PROGRESS.value)




def _amount(value, field: str) -> float:
    try:
        amount = round(float(value or 0), 2)
    except (TypeError, ValueError):
        raise ValidationFailed(field, f"not a number: {value!r}") from None
    if amount < 0 or amount != amount or amount > 1e13:
        raise ValidationFailed(field, "must be zero or more (yuan)")
    return amount


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValidationFailed(field, f"must be one of {', '.join(allowed)}")
    return value


def owns_issue(actor: Actor, issue: dict) -> bool:
    """A rectifier's own issue: they are its responsible person."""
    return actor.person_id is not None and issue["responsible_person_id"] == actor.person_id


def owns_measure(actor: Actor, measure: dict, issue: dict | None) -> bool:
    """A rectifier's own measure: they own it, or they are responsible for its issue."""
    if actor.person_id is None:
        return False
    return measure["owner_person_id"] == actor.person_id or (
        issue is not None and issue["responsible_person_id"] == actor.person_id)


def _editable(issue: dict) -> None:
    if issue["status"] not in EDITABLE_STATUSES:
        raise ValidationFailed("status", f"{issue['code']} is {issue['status']}: measures and "
                                         "causes change only before submission (return or "
                                         "reopen it first)")


def _set_links(db, rec: Recorder, issue_id: int, table: str, column: str, field: str,
               new_ids: list[int]) -> bool:
    """Replace an issue's links in one table; record old and new id lists."""
    old = store.link_ids(db, table, column, issue_id)
    new = sorted(set(new_ids))
    if old == new:
        return False
    db.conn.execute(f"DELETE FROM {table} WHERE issue_id = ?", (issue_id,))
    db.conn.executemany(f"INSERT INTO {table} (issue_id, {column}) VALUES (?, ?)",
                        [(issue_id, i) for i in new])
    rec.add("issue", issue_id, field, old, new)
    return True


# --- catalogue -----------------------------------------------------------------------------


def create_category(db: sqlite_utils.Database, actor: Actor, *, code: str | None = None,
                    name: str, at: str) -> int:
    """Add a category (大类) with a code like C3 (the next free one when omitted)."""
    require(actor, "catalogue.edit")
    name = _text(name, "name", required=True, max_len=200).strip()
    if not code:
        n = db.conn.execute("SELECT COUNT(*) FROM categories").fetchone()[0]
        code = f"C{n + 1}"
        while store.category_by_code(db, code):
            n += 1
            code = f"C{n + 1}"
    code = code.strip()
    if not (code.startswith("C") and code[1:].isdigit()):
        raise ValidationFailed("code", f"a category code looks like C3, not {code!r}")
    if store.category_by_code(db, code):
        raise ValidationFailed("code", f"category {code} already exists")
    rec = Recorder(db, actor, at, "category.create")
    with write_transaction(db):
        cid = insert(db, rec, "categories", "category", {"code": code, "name": name})
        rec.flush()
    return cid


def create_aspect(db: sqlite_utils.Database, actor: Actor, *, category_id: int, name: str,
                  code: str | None = None, at: str) -> int:
    """Add an aspect (方面) under a category, coded C3.2 (the next free one when omitted)."""
    require(actor, "catalogue.edit")
    cat = get_row(db, "categories", category_id, "category")
    name = _text(name, "name", required=True, max_len=200).strip()
    code = (code or store.next_child_code(db, "aspects", cat["code"])).strip()
    if not code.startswith(cat["code"] + ".") or not code[len(cat["code"]) + 1:].isdigit():
        raise ValidationFailed("code", f"an aspect of {cat['code']} is coded {cat['code']}.n")
    if store.aspect_by_code(db, code):
        raise ValidationFailed("code", f"aspect {code} already exists")
    rec = Recorder(db, actor, at, "aspect.create")
    with write_transaction(db):
        aid = insert(db, rec, "aspects", "aspect",
                     {"code": code, "category_id": category_id, "name": name})
        rec.flush()
    return aid


def rename_catalogue_entry(db: sqlite_utils.Database, actor: Actor, table: str, entry_id: int,
                           *, version: int | None, name: str, at: str) -> None:
    """Rename a category or an aspect."""
    if table not in ("categories", "aspects"):
        raise ValidationFailed("table", "must be categories or aspects")
    require(actor, "catalogue.edit")
    entity = "category" if table == "categories" else "aspect"
    row = get_row(db, table, entry_id, entity)
    check_version(db, entity, row, version)
    rec = Recorder(db, actor, at, f"{entity}.rename")
    with write_transaction(db):
        update(db, rec, table, entity, row,
               {"name": _text(name, "name", required=True, max_len=200).strip()})
        rec.flush()


def ensure_audit(db: sqlite_utils.Database, actor: Actor, *, name: str, year: int, level: str,
                 report_no: str = "", at: str) -> int:
    """The source audit (审计项目) with this name and year, created when new; returns its id."""
    require(actor, "catalogue.edit")
    name = _text(name, "name", required=True, max_len=300).strip()
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise ValidationFailed("year", f"not a year: {year!r}") from None
    if not 1990 <= year <= 2100:
        raise ValidationFailed("year", f"out of range: {year}")
    _choice(level, AUDIT_LEVELS, "level")
    existing = one(db, "SELECT id FROM audits WHERE name = ? AND year = ?", (name, year))
    if existing:
        return existing["id"]
    rec = Recorder(db, actor, at, "audit.create")
    with write_transaction(db):
        aid = insert(db, rec, "audits", "audit", {"name": name, "year": year, "level": level,
                                                  "report_no": _text(report_no, "report_no",
                                                                     max_len=200)})
        rec.flush()
    return aid


def _codes_to_ids(mapping: dict[str, int], codes, field: str) -> list[int]:
    out = []
    for c in codes or []:
        if c not in mapping:
            raise ValidationFailed(field, f"unknown code {c!r} (valid: {', '.join(mapping)})")
        out.append(mapping[c])
    return out


def create_issue(db: sqlite_utils.Database, actor: Actor, *, aspect_id: int, title: str,
                 unit_id: int, description: str = "", severity: str = "medium",
                 amount_involved: float = 0, basis: str = "", recommendation: str = "",
                 rectification_type: str = "immediate", code: str | None = None,
                 sources: list[int] = (), streams: list[str] = (), focus: list[str] = (),
                 at: str) -> int:
    """Register an issue (挂号) under an aspect; returns its id. Code C3.2.n when omitted."""
    aspect = get_row(db, "aspects", aspect_id, "aspect")
    get_row(db, "units", unit_id, "unit")
    require(actor, "catalogue.edit", unit_id=unit_id, what="issue")
    code = (code or store.next_child_code(db, "issues", aspect["code"])).strip()
    if not code.startswith(aspect["code"] + "."):
        raise ValidationFailed("code", f"an issue of {aspect['code']} is coded "
                                       f"{aspect['code']}.n, not {code!r}")
    if store.issue_by_code(db, code):
        raise ValidationFailed("code", f"issue {code} already exists")
    values = {
        "code": code, "aspect_id": aspect_id,
        "title": _text(title, "title", required=True, max_len=2000),
        "description": _text(description, "description"),
        "severity": _choice(severity, SEVERITIES, "severity"),
        "unit_id": unit_id, "amount_involved": _amount(amount_involved, "amount_involved"),
        "basis": _text(basis, "basis"), "recommendation": _text(recommendation, "recommendation"),
        "rectification_type": _choice(rectification_type, RECTIFICATION_TYPES,
                                      "rectification_type"),
        "status": Status.NOT_STARTED.value, "created_at": at,
    }
    stream_ids = _codes_to_ids(store.stream_ids(db), streams, "streams")
    focus_ids = _codes_to_ids(store.focus_ids(db), focus, "focus")
    for a in sources:
        get_row(db, "audits", a, "audit")
    rec = Recorder(db, actor, at, "issue.create")
    with write_transaction(db):
        iid = insert(db, rec, "issues", "issue", values)
        _set_links(db, rec, iid, "issue_sources", "audit_id", "sources", list(sources))
        _set_links(db, rec, iid, "issue_streams", "stream_id", "streams", stream_ids)
        _set_links(db, rec, iid, "issue_focus", "focus_id", "focus", focus_ids)
        rec.flush()
    return iid


ISSUE_EDITABLE = ("title", "description", "severity", "amount_involved", "basis",
                  "recommendation", "rectification_type", "aspect_id")


def edit_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int, *, version: int | None,
               at: str, sources: list[int] | None = None, streams: list[str] | None = None,
               focus: list[str] | None = None, **fields) -> dict:
    """Edit an issue's catalogue fields and links (audit lead or admin). Returns the changes."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "catalogue.edit", unit_id=issue["unit_id"], what=issue["code"])
    check_version(db, "issue", issue, version)
    if issue["merged_into_id"]:
        raise ValidationFailed("merged_into_id", f"{issue['code']} was merged; edit the "
                                                 "issue it was merged into")
    unknown = set(fields) - set(ISSUE_EDITABLE)
    if unknown:
        raise ValidationFailed(sorted(unknown)[0], "not an editable field")
    values: dict = {}
    for k, v in fields.items():
        if k == "title":
            values[k] = _text(v, k, required=True, max_len=2000)
        elif k == "severity":
            values[k] = _choice(v, SEVERITIES, k)
        elif k == "rectification_type":
            values[k] = _choice(v, RECTIFICATION_TYPES, k)
        elif k == "amount_involved":
            values[k] = _amount(v, k)
        elif k == "aspect_id":
            get_row(db, "aspects", v, "aspect")
            values[k] = int(v)
        else:
            values[k] = _text(v, k)
    rec = Recorder(db, actor, at, "issue.edit")
    with write_transaction(db):
        changed = update(db, rec, "issues", "issue", issue, values)
        links = False
        if sources is not None:
            for a in sources:
                get_row(db, "audits", a, "audit")
            links |= _set_links(db, rec, issue_id, "issue_sources", "audit_id", "sources",
                                sources)
        if streams is not None:
            links |= _set_links(db, rec, issue_id, "issue_streams", "stream_id", "streams",
                                _codes_to_ids(store.stream_ids(db), streams, "streams"))
        if focus is not None:
            links |= _set_links(db, rec, issue_id, "issue_focus", "focus_id", "focus",
                                _codes_to_ids(store.focus_ids(db), focus, "focus"))
        if links and not changed:
            bump_version(db, "issues", "issue", issue)
        rec.flush()
    return changed


def update_progress(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    version: int | None, progress: str, at: str) -> None:
    """Record the issue's progress note (整改进展): its rectifier or an audit lead."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "issue.progress", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
            what=issue["code"])
    check_version(db, "issue", issue, version)
    rec = Recorder(db, actor, at, "issue.progress")
    with write_transaction(db):
        update(db, rec, "issues", "issue", issue, {"progress": _text(progress, "progress")})
        rec.flush()


# --- measures and dependencies --------------------------------------------------------------


def add_measure(db: sqlite_utils.Database, actor: Actor, issue_id: int, *, title: str,
                owner_person_id: int | None = None, deadline: str | date | None = None,
                at: str) -> int:
    """Add a measure (整改措施) to an issue; returns its id."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "measure.add", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
            what=issue["code"])
    _editable(issue)
    if owner_person_id is not None and one(db, "SELECT id FROM people WHERE id = ?",
                                           (owner_person_id,)) is None:
        raise ValidationFailed("owner_person_id", f"no person with id {owner_person_id}")
    d = parse_date(deadline, "deadline")
    rec = Recorder(db, actor, at, "measure.add")
    with write_transaction(db):
        mid = insert(db, rec, "measures", "measure", {
            "issue_id": issue_id, "title": _text(title, "title", required=True, max_len=5000),
            "owner_person_id": owner_person_id, "deadline": d.isoformat() if d else None,
            "status": "todo", "created_at": at})
        rec.flush()
    return mid


def add_cause_measure(db: sqlite_utils.Database, actor: Actor, cause_id: int, *, title: str,
                      owner_person_id: int | None = None, deadline: str | date | None = None,
                      at: str) -> int:
    """Add a source-level measure to a root cause (fixing it at the source)."""
    require(actor, "cause.edit")
    get_row(db, "causes", cause_id, "cause")
    d = parse_date(deadline, "deadline")
    rec = Recorder(db, actor, at, "measure.add_to_cause")
    with write_transaction(db):
        mid = insert(db, rec, "measures", "measure", {
            "cause_id": cause_id, "title": _text(title, "title", required=True, max_len=5000),
            "owner_person_id": owner_person_id, "deadline": d.isoformat() if d else None,
            "status": "todo", "created_at": at})
        rec.flush()
    return mid


def _measure_context(db, measure_id: int) -> tuple[dict, dict | None]:
    m = get_row(db, "measures", measure_id, "measure")
    issue = one(db, "SELECT * FROM issues WHERE id = ?", (m["issue_id"],)) if m["issue_id"] \
        else None
    return m, issue


def _require_measure(actor: Actor, action: str, m: dict, issue: dict | None) -> None:
    if issue is None:  # a cause's measure: the audit lead's
        require(actor, "cause.edit", what=f"M{m['id']}")
        return
    require(actor, action, unit_id=issue["unit_id"], owns=owns_measure(actor, m, issue),
            what=f"{issue['code']}/M{m['id']}")


def edit_measure(db: sqlite_utils.Database, actor: Actor, measure_id: int, *,
                 version: int | None, at: str, title: str | None = None,
                 owner_person_id: int | None = None, deadline: str | date | None = None,
                 progress: str | None = None) -> dict:
    """Edit a measure's title, owner, deadline or progress note. Returns the changes."""
    m, issue = _measure_context(db, measure_id)
    _require_measure(actor, "measure.edit", m, issue)
    check_version(db, "measure", m, version)
    if issue is not None:
        _editable(issue)
    values: dict = {}
    if title is not None:
        values["title"] = _text(title, "title", required=True, max_len=5000)
    if owner_person_id is not None:
        if actor.role == Role.RECTIFIER and owner_person_id != m["owner_person_id"] and \
                not (issue and owns_issue(actor, issue)):
            raise NotPermitted("only the issue's responsible person or a lead reassigns a "
                               "measure", reason="own")
        get_row(db, "people", owner_person_id, "person")
        values["owner_person_id"] = owner_person_id
    if deadline is not None:
        d = parse_date(deadline, "deadline")
        values["deadline"] = d.isoformat() if d else None
    if progress is not None:
        values["progress"] = _text(progress, "progress")
    rec = Recorder(db, actor, at, "measure.edit")
    with write_transaction(db):
        changed = update(db, rec, "measures", "measure", m, values)
        rec.flush()
    return changed


def set_measure_status(db: sqlite_utils.Database, actor: Actor, measure_id: int, *,
                       version: int | None, status: str, completed_on: str | date | None = None,
                       at: str) -> None:
    """Move a measure between todo, doing and done (done needs a completion date, by default
    the day of `at`, not in the future)."""
    m, issue = _measure_context(db, measure_id)
    _require_measure(actor, "measure.edit", m, issue)
    check_version(db, "measure", m, version)
    _choice(status, MEASURE_STATUSES, "status")
    if issue is not None:
        _editable(issue)
    values: dict = {"status": status}
    if status == "done":
        d = parse_date(completed_on, "completed_on") or day_of(at)
        if d > day_of(at):
            raise ValidationFailed("completed_on", "cannot be in the future")
        values["completed_on"] = d.isoformat()
    else:
        values["completed_on"] = None
    rec = Recorder(db, actor, at, "measure.status")
    with write_transaction(db):
        update(db, rec, "measures", "measure", m, values)
        rec.flush()


def add_dependency(db: sqlite_utils.Database, actor: Actor, measure_id: int,
                   depends_on_id: int, *, at: str) -> None:
    """Make a measure wait for another (across issues too). A dependency that would close a
    cycle is refused with DependencyCycle naming the measures in it."""
    m, issue = _measure_context(db, measure_id)
    _require_measure(actor, "measure.depend", m, issue)
    other = get_row(db, "measures", depends_on_id, "measure")
    other_issue = one(db, "SELECT unit_id FROM issues WHERE id = ?", (other["issue_id"],)) \
        if other["issue_id"] else None
    if other_issue and not actor.in_scope(other_issue["unit_id"]):
        raise NotPermitted("the measure depended on is outside your scope", reason="scope")
    rec = Recorder(db, actor, at, "measure.depend")
    with write_transaction(db):
        edges = store.dependency_edges(db)
        if (measure_id, depends_on_id) in edges:
            return
        cycle = cycle_if_added(edges, measure_id, depends_on_id)
        if cycle:
            labels = store.measure_labels(db, sorted(set(cycle)))
            raise DependencyCycle([labels[i] for i in cycle])
        old = sorted(d for mm, d in edges if mm == measure_id)
        db.conn.execute("INSERT INTO measure_deps (measure_id, depends_on_id) VALUES (?, ?)",
                        (measure_id, depends_on_id))
        rec.add("measure", measure_id, "depends_on", old, sorted(old + [depends_on_id]))
        rec.flush()


def remove_dependency(db: sqlite_utils.Database, actor: Actor, measure_id: int,
                      depends_on_id: int, *, at: str) -> None:
    """Remove a dependency between two measures."""
    m, issue = _measure_context(db, measure_id)
    _require_measure(actor, "measure.depend", m, issue)
    rec = Recorder(db, actor, at, "measure.undepend")
    with write_transaction(db):
        old = sorted(r[0] for r in db.conn.execute(
            "SELECT depends_on_id FROM measure_deps WHERE measure_id = ?", (measure_id,)))
        if depends_on_id not in old:
            raise ValidationFailed("depends_on_id", "no such dependency")
        db.conn.execute("DELETE FROM measure_deps WHERE measure_id = ? AND depends_on_id = ?",
                        (measure_id, depends_on_id))
        rec.add("measure", measure_id, "depends_on", old, [d for d in old if d != depends_on_id])
        rec.flush()


# --- root causes and accountability ---------------------------------------------------------


def create_cause(db: sqlite_utils.Database, actor: Actor, *, title: str,
                 description: str = "", code: str | None = None, at: str) -> int:
    """Add a root cause (问题根源) that issues can share; returns its id."""
    require(actor, "cause.record")
    title = _text(title, "title", required=True, max_len=2000).strip()
    if not code:
        n = db.conn.execute("SELECT COUNT(*) FROM causes").fetchone()[0] + 1
        code = f"R{n}"
        while one(db, "SELECT id FROM causes WHERE code = ?", (code,)):
            n += 1
            code = f"R{n}"
    if one(db, "SELECT id FROM causes WHERE code = ?", (code,)):
        raise ValidationFailed("code", f"cause {code} already exists")
    rec = Recorder(db, actor, at, "cause.create")
    with write_transaction(db):
        cid = insert(db, rec, "causes", "cause", {"code": code, "title": title,
                                                  "description": _text(description,
                                                                       "description")})
        rec.flush()
    return cid


def record_root_cause(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                      cause_id: int | None = None, new_cause_title: str | None = None,
                      description: str = "", at: str) -> int:
    """Link an issue to a root cause: an existing one, or a new one described here.
    Returns the cause id."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "cause.record", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
            what=issue["code"])
    _editable(issue)
    if cause_id is None and not (new_cause_title or "").strip():
        raise ValidationFailed("cause", "choose a root cause or describe a new one")
    if cause_id is not None:
        get_row(db, "causes", cause_id, "cause")
    with write_transaction(db):
        if cause_id is None:
            cause_id = create_cause(db, actor, title=new_cause_title, description=description,
                                    at=at)
        rec = Recorder(db, actor, at, "issue.cause")
        old = store.link_ids(db, "issue_causes", "cause_id", issue_id)
        _set_links(db, rec, issue_id, "issue_causes", "cause_id", "causes", old + [cause_id])
        rec.flush()
    return cause_id


def remove_root_cause(db: sqlite_utils.Database, actor: Actor, issue_id: int, cause_id: int,
                      *, at: str) -> None:
    """Unlink a root cause from an issue."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "cause.record", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
            what=issue["code"])
    _editable(issue)
    rec = Recorder(db, actor, at, "issue.uncause")
    with write_transaction(db):
        old = store.link_ids(db, "issue_causes", "cause_id", issue_id)
        if cause_id not in old:
            raise ValidationFailed("cause_id", "not linked to this issue")
        _set_links(db, rec, issue_id, "issue_causes", "cause_id", "causes",
                   [c for c in old if c != cause_id])
        rec.flush()


def record_accountability(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                          not_applicable: bool = False, person_name: str = "",
                          action: str = "", reason: str = "", at: str) -> int:
    """Record what was done about responsibility (责任追究), or a reasoned "not applicable"."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "accountability.record", unit_id=issue["unit_id"],
            owns=owns_issue(actor, issue), what=issue["code"])
    _editable(issue)
    if not_applicable:
        reason = _text(reason, "reason", required=True, max_len=5000)
    else:
        person_name = _text(person_name, "person_name", required=True, max_len=200)
        action = _text(action, "action", required=True, max_len=5000)
    rec = Recorder(db, actor, at, "accountability.record")
    with write_transaction(db):
        aid = insert(db, rec, "accountability", "accountability", {
            "issue_id": issue_id, "not_applicable": int(bool(not_applicable)),
            "person_name": person_name, "action": action, "reason": _text(reason, "reason"),
            "recorded_by": actor.user_id, "recorded_at": at})
        rec.flush()
    return aid


# --- the workflow -----------------------------------------------------------------------------


def allowed_moves(db: sqlite_utils.Database, actor: Actor, issue_id: int) -> list[Move]:
    """The moves this user may press for this issue now (role, scope, ownership, segregation
    of duties). Guards (四个到人, 三不放过) are checked when the move is made, so the refusal
    can say what is missing."""
    issue = get_row(db, "issues", issue_id, "issue")
    if issue["merged_into_id"] or not actor.in_scope(issue["unit_id"]):
        return []
    status = Status(issue["status"])
    facts = None
    out = []
    for move, t in TRANSITIONS.items():
        if status not in t.source:
            continue
        level = grant(t.permission, actor.role)
        if level is None or (level == "own" and not owns_issue(actor, issue)):
            continue
        if move == Move.CLOSE:
            facts = facts or store.issue_facts(db, issue_id)
            if not may_strike_off(facts, actor.user_id, actor.person_id):
                continue
        out.append(move)
    return out


def _guard_move(actor: Actor, move: Move, facts: IssueFacts) -> None:
    """The workflow's guards on a move, for move_issue and bulk creation alike: 四个到人
    before 整改中, segregation of duties and 三不放过 before 已销号."""
    if move == Move.START:
        missing = missing_for_assignment(facts)
        if missing:
            raise AssignmentIncomplete(facts.code, missing)
    if move == Move.CLOSE:
        if not may_strike_off(facts, actor.user_id, actor.person_id):
            raise NotPermitted(f"{actor.username} submitted {facts.code} or owns one of its "
                               "measures and may not strike it off", reason="segregation")
        missing = missing_for_closure(facts)
        if missing:
            raise ClosureBlocked(facts.code, missing)


def move_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int, move: Move | str, *,
               version: int | None, reason: str = "", at: str) -> Status:
    """Move an issue through the workflow; returns the new status. Refusals:
    TransitionNotAllowed, NotPermitted (role, scope, ownership, segregation of duties),
    ValidationFailed (a reason is needed), AssignmentIncomplete (四个到人 before 整改中),
    ClosureBlocked (三不放过 before 已销号), StaleEdit."""
    move = Move(move)
    t = TRANSITIONS[move]
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, t.permission, unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
            what=issue["code"])
    check_version(db, "issue", issue, version)
    if issue["merged_into_id"]:
        raise TransitionNotAllowed(f"{issue['code']} was merged into another issue",
                                   code=issue["code"], move=move.value, status="merged")
    status = Status(issue["status"])
    if status not in t.source:
        raise TransitionNotAllowed(f"{issue['code']}: cannot {move.value} from {status.value}",
                                   code=issue["code"], move=move.value, status=status.value)
    reason = _text(reason, "reason", max_len=5000)
    if t.needs_reason and not reason.strip():
        raise ValidationFailed("reason", f"a reason is required to {move.value}")
    facts = store.issue_facts(db, issue_id)
    _guard_move(actor, move, facts)
    values: dict = {"status": t.target.value, "status_reason": reason}
    if move == Move.SUBMIT:
        values.update(submitted_by=actor.user_id, submitted_at=at)
    elif move == Move.CLOSE:
        values.update(closed_by=actor.user_id, closed_at=at)
    elif move == Move.REOPEN:
        values.update(closed_by=None, closed_at=None, submitted_by=None, submitted_at=None)
    elif move == Move.RETURN:
        values.update(submitted_by=None, submitted_at=None)
    rec = Recorder(db, actor, at, f"workflow.{move.value}")
    with write_transaction(db):
        update(db, rec, "issues", "issue", issue, values)
        rec.flush()
    return t.target



# --- registering many issues at once (ledger import) -----------------------------------------


@dataclass(frozen=True)
class NewMeasure:
    """A measure of an issue registered in bulk; `done` marks it done on the day of `at`."""

    title: str
    owner_person_id: int | None = None
    deadline: str | date | None = None
    done: bool = False


@dataclass(frozen=True)
class NewIssue:
    """An issue registered in bulk, with what the services would then record on it."""

    aspect_id: int
    unit_id: int
    title: str
    code: str | None = None
    description: str = ""
    severity: str = "medium"
    amount_involved: float = 0
    basis: str = ""
    recommendation: str = ""
    rectification_type: str = "immediate"
    sources: tuple[int, ...] = ()
    streams: tuple[str, ...] = ()
    focus: tuple[str, ...] = ()
    responsible_person_id: int | None = None
    supervisor_person_id: int | None = None
    deadline: str | date | None = None
    measures: tuple[NewMeasure, ...] = ()
    causes: tuple[int, ...] = ()
    progress: str | None = None
    moves: tuple[Move, ...] = ()


def create_issues_bulk(db: sqlite_utils.Database, actor: Actor, items: list[NewIssue], *,
                       at: str, closer: Actor | None = None) -> list[int]:
    """Register many issues, each written directly in the state this sequence of services
    would leave it in: create_issue, assign_issue (when a person or deadline is given),
    add_measure and set_measure_status 'done' per measure, record_root_cause per cause,
    update_progress, then move_issue for each of `moves` (striking off as `closer`, by default
    `actor`). The same permission, scope, validation and workflow guards (四个到人, 三不放过,
    segregation of duties) apply; history gets the final row of each issue and measure
    (history.row_records), one op per issue. Runs inside the caller's transaction, or its own.
    Returns the new ids in order. Raises what those services raise, with `item` (the index
    in `items`) and `step` ('create', 'assign', 'measures', 'causes', 'progress', 'status')
    set on the exception."""
    closer = closer or actor
    granted: set[tuple] = set()

    def permit(who: Actor, action: str, *, unit_id: int, owns: bool = True,
               what: str = "") -> None:
        """require, asked once per (who, action, unit, ownership)."""
        key = (who.user_id, who.role, action, unit_id, owns)
        if key not in granted:
            require(who, action, unit_id=unit_id, owns=owns, what=what)
            granted.add(key)

    aspects = {r[0]: r[1] for r in db.conn.execute("SELECT id, code FROM aspects")}
    units = store.ids_of(db, "units")
    people = store.active_people(db)
    audits = store.ids_of(db, "audits")
    causes = store.ids_of(db, "causes")
    stream_map, focus_map = store.stream_ids(db), store.focus_ids(db)
    codes = {r[0] for r in db.conn.execute("SELECT code FROM issues")}
    next_issue, next_measure = store.next_id(db, "issues"), store.next_id(db, "measures")
    day = day_of(at).isoformat()
    issue_rows: list[dict] = []
    measure_rows: list[dict] = []
    links: dict[str, list[tuple[int, int]]] = {t: [] for t, _ in ISSUE_LINKS.values()}
    entries: list[tuple[str, str, tuple]] = []
    ids: list[int] = []
    for n, item in enumerate(items):
        step = "create"
        try:
            iid = next_issue + len(ids)
            # create_issue
            if item.aspect_id not in aspects:
                raise NotFound(f"aspect {item.aspect_id} not found", entity="aspect",
                               id=item.aspect_id)
            if item.unit_id not in units:
                raise NotFound(f"unit {item.unit_id} not found", entity="unit", id=item.unit_id)
            permit(actor, "catalogue.edit", unit_id=item.unit_id, what="issue")
            prefix = aspects[item.aspect_id]
            code = (item.code or
                    f"{prefix}.{highest_child_number(prefix, codes) + 1}").strip()
            if not code.startswith(prefix + "."):
                raise ValidationFailed("code", f"an issue of {prefix} is coded {prefix}.n, "
                                               f"not {code!r}")
            if code in codes:
                raise ValidationFailed("code", f"issue {code} already exists")
            row = {
                "id": iid, "code": code, "aspect_id": item.aspect_id,
                "title": _text(item.title, "title", required=True, max_len=2000),
                "description": _text(item.description, "description"),
                "severity": _choice(item.severity, SEVERITIES, "severity"),
                "unit_id": item.unit_id,
                "amount_involved": _amount(item.amount_involved, "amount_involved"),
                "basis": _text(item.basis, "basis"),
                "recommendation": _text(item.recommendation, "recommendation"),
                "rectification_type": _choice(item.rectification_type, RECTIFICATION_TYPES,
                                              "rectification_type"),
                "status": Status.NOT_STARTED.value, "responsible_person_id": None,
                "supervisor_person_id": None, "deadline": None, "original_deadline": None,
                "progress": "", "submitted_by": None, "submitted_at": None, "closed_by": None,
                "closed_at": None, "status_reason": "", "merged_into_id": None,
                "merged_at": None, "created_at": at, "version": 1}
            linked = {"sources": sorted(set(item.sources)),
                      "streams": sorted(set(_codes_to_ids(stream_map, item.streams,
                                                          "streams"))),
                      "focus": sorted(set(_codes_to_ids(focus_map, item.focus, "focus"))),
                      "causes": []}
            for a in linked["sources"]:
                if a not in audits:
                    raise NotFound(f"audit {a} not found", entity="audit", id=a)
            # assign_issue
            step = "assign"
            if item.responsible_person_id is not None or item.supervisor_person_id is not None \
                    or item.deadline not in (None, ""):
                permit(actor, "issue.assign", unit_id=item.unit_id, what=code)
                for fld in ("responsible_person_id", "supervisor_person_id"):
                    pid = getattr(item, fld)
                    if pid is not None:
                        if not people.get(pid):
                            raise ValidationFailed(fld, f"no active person with id {pid}")
                        row[fld] = pid
                if item.deadline not in (None, ""):
                    row["deadline"] = row["original_deadline"] = \
                        parse_date(item.deadline, "deadline").isoformat()
            # add_measure, set_measure_status
            step = "measures"
            measures: list[dict] = []
            for m in item.measures:
                permit(actor, "measure.add", unit_id=item.unit_id,
                        owns=owns_issue(actor, row), what=code)
                if m.owner_person_id is not None and m.owner_person_id not in people:
                    raise ValidationFailed("owner_person_id",
                                           f"no person with id {m.owner_person_id}")
                d = parse_date(m.deadline, "deadline")
                mrow = {"id": next_measure + len(measure_rows) + len(measures),
                        "issue_id": iid, "cause_id": None,
                        "title": _text(m.title, "title", required=True, max_len=5000),
                        "owner_person_id": m.owner_person_id,
                        "deadline": d.isoformat() if d else None, "status": "todo",
                        "completed_on": None, "progress": "", "created_at": at, "version": 1}
                if m.done:
                    permit(actor, "measure.edit", unit_id=item.unit_id,
                            owns=owns_measure(actor, mrow, row), what=f"{code}/M{mrow['id']}")
                    mrow.update(status="done", completed_on=day)
                measures.append(mrow)
            # record_root_cause
            step = "causes"
            for cid in item.causes:
                permit(actor, "cause.record", unit_id=item.unit_id,
                        owns=owns_issue(actor, row), what=code)
                if cid not in causes:
                    raise NotFound(f"cause {cid} not found", entity="cause", id=cid)
            linked["causes"] = sorted(set(item.causes))
            # update_progress
            step = "progress"
            if item.progress is not None:
                permit(actor, "issue.progress", unit_id=item.unit_id,
                        owns=owns_issue(actor, row), what=code)
                row["progress"] = _text(item.progress, "progress")
            # move_issue, each move
            step = "status"
            for move in item.moves:
                mover = closer if Move(move) == Move.CLOSE else actor
                t = TRANSITIONS[Move(move)]
                permit(mover, t.permission, unit_id=item.unit_id,
                        owns=owns_issue(mover, row), what=code)
                _bulk_move(row, measures, len(linked["causes"]), Move(move), mover, at)
        except AuditError as ex:
            ex.item, ex.step = n, step
            raise
        codes.add(code)
        ids.append(iid)
        issue_rows.append(row)
        measure_rows.extend(measures)
        for fld, (table, _column) in ISSUE_LINKS.items():
            links[table].extend((iid, other) for other in linked[fld])
        op = history.new_op()
        entries.extend((op, "issue.create", r) for r in history.row_records(
            "issue", iid, {**row, **{k: v for k, v in linked.items() if v}}))
        for mrow in measures:
            entries.extend((op, "measure.add", r)
                           for r in history.row_records("measure", mrow["id"], mrow))
    with write_transaction(db):
        store.insert_rows(db, "issues", issue_rows)
        store.insert_rows(db, "measures", measure_rows)
        for table, column in ISSUE_LINKS.values():
            insert_many(db, f"INSERT INTO {table} (issue_id, {column}) VALUES",
                        links[table])
        history.append_many(db, at=at, actor_id=actor.user_id, actor=actor.username,
                            entries=entries)
    return ids


def _bulk_move(row: dict, measures: list[dict], cause_count: int, move: Move, actor: Actor,
               at: str) -> None:
    """move_issue on an issue being registered in bulk (its row and measures in memory), the
    mover's permission already checked."""
    t = TRANSITIONS[move]
    status = Status(row["status"])
    if status not in t.source:
        raise TransitionNotAllowed(f"{row['code']}: cannot {move.value} from {status.value}",
                                   code=row["code"], move=move.value, status=status.value)
    if t.needs_reason:
        raise ValidationFailed("reason", f"a reason is required to {move.value}")
    facts = IssueFacts(code=row["code"], status=status,
                       responsible_person_id=row["responsible_person_id"],
                       deadline=row["deadline"],
                       measures=tuple(MeasureFacts(m["id"], m["owner_person_id"], m["deadline"],
                                                   m["status"], 0) for m in measures),
                       cause_count=cause_count, accountability_recorded=False,
                       submitted_by=row["submitted_by"])
    _guard_move(actor, move, facts)
    row["status"] = t.target.value
    if move == Move.SUBMIT:
        row.update(submitted_by=actor.user_id, submitted_at=at)
    elif move == Move.CLOSE:
        row.update(closed_by=actor.user_id, closed_at=at)

# --- merging two issues into one (并轨) -------------------------------------------------------

# Rows that follow an issue into a merge, and the entity their history is recorded under.
MERGED_ROWS = {"measures": "measure", "evidence": "evidence",
               "accountability": "accountability", "extensions": "extension"}
# An issue's link sets: history field → (link table, id column).
ISSUE_LINKS = {"sources": ("issue_sources", "audit_id"), "streams": ("issue_streams", "stream_id"),
               "focus": ("issue_focus", "focus_id"), "causes": ("issue_causes", "cause_id")}


def _move_rows(db, rec: Recorder, row_ids: dict[str, list[int]], from_id: int, to_id: int
               ) -> None:
    """Re-attach child rows (by table) from one issue to another, recording each."""
    for table, ids in row_ids.items():
        for rid in ids:
            db.conn.execute(f"UPDATE {table} SET issue_id = ? WHERE id = ?", (to_id, rid))
            rec.add(MERGED_ROWS[table], rid, "issue_id", from_id, to_id)



def merge_issues(db: sqlite_utils.Database, actor: Actor, survivor_id: int, absorbed_id: int,
                 *, survivor_version: int | None, absorbed_version: int | None, at: str) -> int:
    """Merge `absorbed` into `survivor`: the survivor keeps both sets of sources, work streams,
    focus points and causes, every measure, evidence, accountability record and extension; the
    absorbed issue stays (with its history) marked as merged. Returns the merge id; the merge
    can be undone until the survivor next changes."""
    if survivor_id == absorbed_id:
        raise ValidationFailed("absorbed_id", "an issue cannot be merged into itself")
    s = get_row(db, "issues", survivor_id, "issue")
    a = get_row(db, "issues", absorbed_id, "issue")
    require(actor, "issue.merge", unit_id=s["unit_id"], what=s["code"])
    require(actor, "issue.merge", unit_id=a["unit_id"], what=a["code"])
    check_version(db, "issue", s, survivor_version)
    check_version(db, "issue", a, absorbed_version)
    for row in (s, a):
        if row["merged_into_id"]:
            raise ValidationFailed("merged_into_id", f"{row['code']} is already merged")
    if s["status"] in (Status.CLOSED.value, Status.ENDED.value) and \
            a["status"] in {x.value for x in OPEN_STATUSES}:
        raise ValidationFailed("survivor_id", f"{s['code']} is {s['status']}: merge the open "
                                              f"{a['code']} into an open issue instead")
    rec = Recorder(db, actor, at, "issue.merge")
    with write_transaction(db):
        row_ids = {t: [r[0] for r in db.conn.execute(
            f"SELECT id FROM {t} WHERE issue_id = ?", (absorbed_id,))] for t in MERGED_ROWS}
        links = {}
        for field, (table, column) in ISSUE_LINKS.items():
            old_s = store.link_ids(db, table, column, survivor_id)
            old_a = store.link_ids(db, table, column, absorbed_id)
            links[field] = old_s
            _set_links(db, rec, survivor_id, table, column, field, old_s + old_a)
        _move_rows(db, rec, row_ids, absorbed_id, survivor_id)
        survivor_values: dict = {}
        if not s["deadline"] and a["deadline"]:
            survivor_values.update(deadline=a["deadline"],
                                   original_deadline=a["original_deadline"])
        if not s["amount_involved"] and a["amount_involved"]:
            survivor_values["amount_involved"] = a["amount_involved"]
        if not s["responsible_person_id"] and a["responsible_person_id"]:
            survivor_values["responsible_person_id"] = a["responsible_person_id"]
        if not update(db, rec, "issues", "issue", s, survivor_values):
            bump_version(db, "issues", "issue", s)
        update(db, rec, "issues", "issue", a, {"merged_into_id": survivor_id, "merged_at": at})
        new_version = one(db, "SELECT version FROM issues WHERE id = ?",
                          (survivor_id,))["version"]
        # What undo_merge needs to put everything back.
        moved = {"rows": row_ids, "links_before": links,
                 "survivor_values_before": {k: s[k] for k in survivor_values}}
        merge_id = insert(db, rec, "merges", "merge", {
            "survivor_id": survivor_id, "absorbed_id": absorbed_id,
            "survivor_version": new_version, "moved": json.dumps(moved, ensure_ascii=False),
            "merged_by": actor.user_id, "at": at})
        rec.flush()
    return merge_id


def undo_merge(db: sqlite_utils.Database, actor: Actor, merge_id: int, *, at: str) -> None:
    """Undo a merge while the survivor has not changed since (its version is the one the merge
    left and nothing moved has been touched)."""
    mg = get_row(db, "merges", merge_id, "merge")
    s = get_row(db, "issues", mg["survivor_id"], "issue")
    a = get_row(db, "issues", mg["absorbed_id"], "issue")
    require(actor, "issue.merge", unit_id=s["unit_id"], what=s["code"])
    if mg["undone_at"]:
        raise MergeNotUndoable(f"merge {merge_id} was already undone", merge_id=merge_id)
    moved = json.loads(mg["moved"])
    merge_seq = db.conn.execute(
        "SELECT MAX(seq) FROM history WHERE entity = 'merge' AND entity_id = ?",
        (merge_id,)).fetchone()[0]
    touched = db.conn.execute(
        "SELECT COUNT(*) FROM history WHERE seq > ? AND ((entity = 'issue' AND entity_id = ?) "
        "OR (entity = 'measure' AND entity_id IN (SELECT id FROM measures WHERE issue_id = ?)) "
        "OR (entity = 'evidence' AND entity_id IN (SELECT id FROM evidence WHERE issue_id = ?)))",
        (merge_seq, s["id"], s["id"], s["id"])).fetchone()[0]
    if s["version"] != mg["survivor_version"] or touched:
        raise MergeNotUndoable(f"{s['code']} has changed since the merge; it can no longer be "
                               "undone", merge_id=merge_id, code=s["code"])
    rec = Recorder(db, actor, at, "issue.unmerge")
    with write_transaction(db):
        _move_rows(db, rec, moved["rows"], s["id"], a["id"])
        for field, before in moved["links_before"].items():
            table, column = ISSUE_LINKS[field]
            _set_links(db, rec, s["id"], table, column, field, before)
        if not update(db, rec, "issues", "issue", s, moved["survivor_values_before"]):
            bump_version(db, "issues", "issue", s)
        update(db, rec, "issues", "issue", a, {"merged_into_id": None, "merged_at": None})
        db.conn.execute("UPDATE merges SET undone_at = ? WHERE id = ?", (at, merge_id))
        rec.add("merge", merge_id, "undone_at", None, at)
        rec.flush()


def visible_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int) -> dict:
    """An issue's full detail if the actor may see it (scope), else NotFound/NotPermitted."""
    detail = store.issue_detail(db, issue_id)
    if detail is None:
        raise NotFound(f"issue {issue_id} not found", entity="issue", id=issue_id)
    if not actor.in_scope(detail["unit_id"]):
        raise NotPermitted("the issue is outside your scope", reason="scope")
    return detail
