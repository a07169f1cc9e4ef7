"""Services for the catalogue, measures, causes, accountability, the workflow and merging.
Each function is one user intent: permission → validation → one transaction → history."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.model import (
    Actor,
    DependencyCycle,
    NotFound,
    NotPermitted,
    Role,
    Status,
    TransitionNotAllowed,
    ValidationFailed,
    grant,
)
from audit.model import text_value as _text
from audit.rules_model import CapExceeded, DeadlineMisfit, deadline_misfits, needs_cap_warning
from audit.service import accept_rule_warning, check_version, require
from audit.store.db import write_transaction
from audit.store.form_tokens import settle_form_token, spend_form_token
from audit.store.history import Recorder
from audit.store.rows import bump_version, get_row, insert, update
from audit.time_model import day_of, parse_date
from issues import store
from issues.dependency_model import cycle_if_added
from issues.recheck_model import check_recheck, recheck_due, recheck_values
from issues.model import (
    AUDIT_LEVELS,
    ISSUE_EDITABLE,
    MEASURE_STATUSES,
    RECTIFICATION_TYPES,
    SEVERITIES,
    TRANSITIONS,
    Move,
    amount_value,
    check_editable,
    check_move,
    child_code,
    choice_value,
    codes_to_ids,
    completion_day,
    guard_move,
    may_first_check,
    may_second_check,
    may_strike_off,
    move_values,
    new_issue_values,
    new_measure_values,
    owns_issue,
    owns_measure,
)


def _set_links(db, rec: Recorder, issue_id: int, table: str, column: str, field: str,
               new_ids: list[int]) -> bool:
    """Replace an issue's links in one table; record old and new id lists."""
    old = store.link_ids(db, table, column, issue_id)
    new = sorted(set(new_ids))
    if old == new:
        return False
    store.replace_links(db, table, column, issue_id, new)
    rec.add("issue", issue_id, field, old, new)
    return True


# --- catalogue -----------------------------------------------------------------------------


def create_category(db: sqlite_utils.Database, actor: Actor, *, code: str | None = None,
                    name: str, at: str) -> int:
    """Add a category (大类) with a code like C3 (the next free one when omitted)."""
    require(actor, "catalogue.edit")
    name = _text(name, "name", required=True, max_len=200).strip()
    with write_transaction(db):
        if not code:
            n = store.category_count(db)
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
        cid = insert(db, rec, "categories", "category", {"code": code, "name": name})
        rec.flush()
    return cid


def create_aspect(db: sqlite_utils.Database, actor: Actor, *, category_id: int, name: str,
                  code: str | None = None, at: str) -> int:
    """Add an aspect (方面) under a category, coded C3.2 (the next free one when omitted)."""
    require(actor, "catalogue.edit")
    with write_transaction(db):
        cat = get_row(db, "categories", category_id, "category")
        name = _text(name, "name", required=True, max_len=200).strip()
        code = child_code(cat["code"], code, store.codes_under(db, "aspects", cat["code"]),
                          "aspect")
        rec = Recorder(db, actor, at, "aspect.create")
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
    with write_transaction(db):
        row = get_row(db, table, entry_id, entity)
        check_version(db, entity, row, version)
        rec = Recorder(db, actor, at, f"{entity}.rename")
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
    choice_value(level, AUDIT_LEVELS, "level")
    with write_transaction(db):
        existing = store.audit_id(db, name, year)
        if existing:
            return existing
        rec = Recorder(db, actor, at, "audit.create")
        aid = insert(db, rec, "audits", "audit", {"name": name, "year": year, "level": level,
                                                  "report_no": _text(report_no, "report_no",
                                                                     max_len=200)})
        rec.flush()
    return aid


def create_issue(db: sqlite_utils.Database, actor: Actor, *, aspect_id: int, title: str,
                 unit_id: int, description: str = "", severity: str = "medium",
                 amount_involved: float = 0, basis: str = "", recommendation: str = "",
                 rectification_type: str = "immediate", code: str | None = None,
                 sources: list[int] = (), streams: list[str] = (), focus: list[str] = (),
                 accept_reason: str | None = None, at: str) -> int:
    """Register an issue (挂号) under an aspect; returns its id. Code C3.2.n when omitted.
    Raises CapExceeded when a staged or continuous item would pass the cap, unless a lead
    accepts it with `accept_reason` (recorded)."""
    with write_transaction(db):
        aspect = get_row(db, "aspects", aspect_id, "aspect")
        get_row(db, "units", unit_id, "unit")
        require(actor, "catalogue.edit", unit_id=unit_id, what="issue")
        code = child_code(aspect["code"], code, store.codes_under(db, "issues", aspect["code"]),
                          "issue", numbered=False)
        values = new_issue_values(
            code=code, aspect_id=aspect_id, title=title, unit_id=unit_id, description=description,
            severity=severity, amount_involved=amount_involved, basis=basis,
            recommendation=recommendation, rectification_type=rectification_type, at=at)
        stream_ids = codes_to_ids(store.stream_ids(db), streams, "streams")
        focus_ids = codes_to_ids(store.focus_ids(db), focus, "focus")
        for a in sources:
            get_row(db, "audits", a, "audit")
        rec = Recorder(db, actor, at, "issue.create")
        over = _cap_warning(db, None, None, values["rectification_type"])
        iid = insert(db, rec, "issues", "issue", values)
        if over is not None:
            accept_rule_warning(db, rec, actor, over, accept_reason, issue_id=iid, at=at)
        _set_links(db, rec, iid, "issue_sources", "audit_id", "sources", list(sources))
        _set_links(db, rec, iid, "issue_streams", "stream_id", "streams", stream_ids)
        _set_links(db, rec, iid, "issue_focus", "focus_id", "focus", focus_ids)
        rec.flush()
    return iid


def edit_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int, *, version: int | None,
               at: str, sources: list[int] | None = None, streams: list[str] | None = None,
               focus: list[str] | None = None, accept_reason: str | None = None,
               check_cap: bool = True, **fields) -> dict:
    """Edit an issue's catalogue fields and links (audit lead or admin). Returns the changes.
    Raises CapExceeded when making it staged or continuous would pass the cap, unless a lead
    accepts it with `accept_reason` (recorded). `check_cap` False: the caller has checked the
    cap over all its changes at once, in this transaction (a ledger import)."""
    with write_transaction(db):
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
                values[k] = choice_value(v, SEVERITIES, k)
            elif k == "rectification_type":
                values[k] = choice_value(v, RECTIFICATION_TYPES, k)
            elif k in ("amount_involved", "amount_corrected", "amount_recovered"):
                values[k] = amount_value(v, k)
            elif k == "aspect_id":
                get_row(db, "aspects", v, "aspect")
                values[k] = int(v)
            else:
                values[k] = _text(v, k)
        rec = Recorder(db, actor, at, "issue.edit")
        if "rectification_type" in values and check_cap:
            over = _cap_warning(db, issue_id, issue["rectification_type"],
                                values["rectification_type"])
            if over is not None:
                accept_rule_warning(db, rec, actor, over, accept_reason, issue_id=issue_id,
                                    at=at)
        changed = update(db, rec, "issues", "issue", issue, values)
        links = False
        if sources is not None:
            for a in sources:
                get_row(db, "audits", a, "audit")
            links |= _set_links(db, rec, issue_id, "issue_sources", "audit_id", "sources",
                                sources)
        if streams is not None:
            links |= _set_links(db, rec, issue_id, "issue_streams", "stream_id", "streams",
                                codes_to_ids(store.stream_ids(db), streams, "streams"))
        if focus is not None:
            links |= _set_links(db, rec, issue_id, "issue_focus", "focus_id", "focus",
                                codes_to_ids(store.focus_ids(db), focus, "focus"))
        if links and not changed:
            bump_version(db, "issues", "issue", issue)
        rec.flush()
    return changed


def update_progress(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    version: int | None, progress: str, at: str) -> None:
    """Record the issue's progress note (整改进展): its rectifier or an audit lead."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "issue.progress", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
                what=issue["code"])
        check_version(db, "issue", issue, version)
        rec = Recorder(db, actor, at, "issue.progress")
        update(db, rec, "issues", "issue", issue, {"progress": _text(progress, "progress")})
        rec.flush()


# --- measures and dependencies --------------------------------------------------------------


def add_measure(db: sqlite_utils.Database, actor: Actor, issue_id: int, *, title: str,
                owner_person_id: int | None = None, deadline: str | date | None = None,
                milestone_id: int | None = None, accept_reason: str | None = None,
                at: str, form_token: str | None = None) -> int:
    """Add a measure (整改措施) to an issue, optionally serving one of its milestones; returns
    its id. Raises DeadlineMisfit when its deadline falls after the issue's deadline or the
    milestone's date, unless a lead accepts it with `accept_reason` (recorded)."""
    with write_transaction(db):
        spend_form_token(db, form_token, actor, "measure.add", at)
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "measure.add", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
                what=issue["code"])
        check_editable(issue)
        values = new_measure_values(title=title, owner_person_id=owner_person_id,
                                    deadline=deadline, issue_id=issue_id, at=at,
                                    known_people=store.existing_people(db, [owner_person_id]))
        if milestone_id is not None:
            values["milestone_id"] = _milestone_of(db, issue_id, milestone_id)["id"]
        rec = Recorder(db, actor, at, "measure.add")
        misfit = _deadline_misfit(db, issue, values.get("deadline"), values.get("milestone_id"))
        mid = insert(db, rec, "measures", "measure", values)
        if misfit is not None:
            accept_rule_warning(db, rec, actor, misfit, accept_reason, issue_id=issue_id,
                                measure_id=mid, at=at)
        rec.flush()
        settle_form_token(db, form_token, mid)
    return mid


def add_cause_measure(db: sqlite_utils.Database, actor: Actor, cause_id: int, *, title: str,
                      owner_person_id: int | None = None, deadline: str | date | None = None,
                      at: str) -> int:
    """Add a source-level measure to a root cause (fixing it at the source)."""
    require(actor, "cause.edit")
    with write_transaction(db):
        get_row(db, "causes", cause_id, "cause")
        values = new_measure_values(title=title, owner_person_id=owner_person_id,
                                    deadline=deadline, cause_id=cause_id, at=at,
                                    known_people=store.existing_people(db, [owner_person_id]))
        rec = Recorder(db, actor, at, "measure.add_to_cause")
        mid = insert(db, rec, "measures", "measure", values)
        rec.flush()
    return mid


def _measure_context(db, measure_id: int) -> tuple[dict, dict | None]:
    m = get_row(db, "measures", measure_id, "measure")
    issue = store.issue_row(db, m["issue_id"]) if m["issue_id"] else None
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
                 progress: str | None = None, milestone_id: int | None = None,
                 accept_reason: str | None = None) -> dict:
    """Edit a measure's title, owner, deadline, progress note or the milestone it serves
    (`milestone_id` 0 unlinks it). Returns the changes. Raises DeadlineMisfit as add_measure
    does when the deadline or the milestone changes."""
    with write_transaction(db):
        m, issue = _measure_context(db, measure_id)
        _require_measure(actor, "measure.edit", m, issue)
        check_version(db, "measure", m, version)
        if issue is not None:
            check_editable(issue)
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
        if milestone_id is not None and issue is not None:
            values["milestone_id"] = (_milestone_of(db, issue["id"], milestone_id)["id"]
                                      if milestone_id else None)
        rec = Recorder(db, actor, at, "measure.edit")
        if issue is not None and ({"deadline", "milestone_id"} & {
                k for k, v in values.items() if m.get(k) != v}):
            misfit = _deadline_misfit(db, issue, values.get("deadline", m["deadline"]),
                                      values.get("milestone_id", m.get("milestone_id")))
            if misfit is not None:
                accept_rule_warning(db, rec, actor, misfit, accept_reason,
                                    issue_id=issue["id"], measure_id=measure_id, at=at)
        changed = update(db, rec, "measures", "measure", m, values)
        rec.flush()
    return changed


# --- the rules of rectification types (audit.rules_model) -----------------------------------


def _cap_warning(db: sqlite_utils.Database, issue_id: int | None, old: str | None, new: str
                 ) -> CapExceeded | None:
    """The cap warning making issue `issue_id` (None: a new one) of type `new` would raise."""
    from audit.rules_views import cap, cap_min_items, programme_types
    check = needs_cap_warning(programme_types(db), cap(db), old=old, new=new,
                              min_items=cap_min_items(db))
    return CapExceeded(check) if check is not None else None


def _milestone_of(db: sqlite_utils.Database, issue_id: int, milestone_id: int) -> dict:
    """Milestone `milestone_id`, which must belong to issue `issue_id`."""
    ms = get_row(db, "milestones", milestone_id, "milestone")
    if ms["issue_id"] != issue_id:
        raise ValidationFailed("milestone_id", "the milestone belongs to another issue")
    return ms


def _deadline_misfit(db: sqlite_utils.Database, issue: dict, deadline: str | None,
                     milestone_id: int | None) -> DeadlineMisfit | None:
    """The deadline-fit warning for a measure of `issue` due on `deadline`, serving
    `milestone_id`, or None when it fits."""
    due = get_row(db, "milestones", milestone_id, "milestone")["due_on"] if milestone_id \
        else None
    misfits = deadline_misfits(deadline, issue["deadline"], due)
    return DeadlineMisfit(misfits, deadline) if misfits else None


def set_measure_status(db: sqlite_utils.Database, actor: Actor, measure_id: int, *,
                       version: int | None, status: str, completed_on: str | date | None = None,
                       at: str) -> None:
    """Move a measure between todo, doing and done (done needs a completion date, by default
    the day of `at`, not in the future)."""
    with write_transaction(db):
        m, issue = _measure_context(db, measure_id)
        _require_measure(actor, "measure.edit", m, issue)
        check_version(db, "measure", m, version)
        choice_value(status, MEASURE_STATUSES, "status")
        if issue is not None:
            check_editable(issue)
        values: dict = {"status": status}
        if status == "done":
            values["completed_on"] = completion_day(completed_on, day_of(at)).isoformat()
        else:
            values["completed_on"] = None
        rec = Recorder(db, actor, at, "measure.status")
        update(db, rec, "measures", "measure", m, values)
        rec.flush()


def add_dependency(db: sqlite_utils.Database, actor: Actor, measure_id: int,
                   depends_on_id: int, *, at: str) -> None:
    """Make a measure wait for another (across issues too). A dependency that would close a
    cycle is refused with DependencyCycle naming the measures in it."""
    with write_transaction(db):
        m, issue = _measure_context(db, measure_id)
        _require_measure(actor, "measure.depend", m, issue)
        other = get_row(db, "measures", depends_on_id, "measure")
        other_issue = store.issue_row(db, other["issue_id"]) if other["issue_id"] else None
        if other_issue and not actor.in_scope(other_issue["unit_id"]):
            raise NotPermitted("the measure depended on is outside your scope", reason="scope")
        rec = Recorder(db, actor, at, "measure.depend")
        edges = store.dependency_edges(db)
        if (measure_id, depends_on_id) in edges:
            return
        cycle = cycle_if_added(edges, measure_id, depends_on_id)
        if cycle:
            labels = store.measure_labels(db, sorted(set(cycle)))
            raise DependencyCycle([labels[i] for i in cycle])
        old = sorted(d for mm, d in edges if mm == measure_id)
        store.add_dependency_edge(db, measure_id, depends_on_id)
        rec.add("measure", measure_id, "depends_on", old, sorted(old + [depends_on_id]))
        rec.flush()


def remove_dependency(db: sqlite_utils.Database, actor: Actor, measure_id: int,
                      depends_on_id: int, *, at: str) -> None:
    """Remove a dependency between two measures."""
    with write_transaction(db):
        m, issue = _measure_context(db, measure_id)
        _require_measure(actor, "measure.depend", m, issue)
        rec = Recorder(db, actor, at, "measure.undepend")
        old = store.depends_on(db, measure_id)
        if depends_on_id not in old:
            raise ValidationFailed("depends_on_id", "no such dependency")
        store.remove_dependency_edge(db, measure_id, depends_on_id)
        rec.add("measure", measure_id, "depends_on", old, [d for d in old if d != depends_on_id])
        rec.flush()


# --- root causes and accountability ---------------------------------------------------------


def create_cause(db: sqlite_utils.Database, actor: Actor, *, title: str,
                 description: str = "", code: str | None = None, at: str) -> int:
    """Add a root cause (问题根源) that issues can share; returns its id."""
    require(actor, "cause.record")
    title = _text(title, "title", required=True, max_len=2000).strip()
    with write_transaction(db):
        if not code:
            n = store.cause_count(db) + 1
            code = f"R{n}"
            while store.cause_id_by_code(db, code):
                n += 1
                code = f"R{n}"
        if store.cause_id_by_code(db, code):
            raise ValidationFailed("code", f"cause {code} already exists")
        rec = Recorder(db, actor, at, "cause.create")
        cid = insert(db, rec, "causes", "cause", {"code": code, "title": title,
                                                  "description": _text(description,
                                                                       "description")})
        rec.flush()
    return cid


def record_root_cause(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                      cause_id: int | None = None, new_cause_title: str | None = None,
                      description: str = "", at: str, form_token: str | None = None) -> int:
    """Link an issue to a root cause: an existing one, or a new one described here.
    Returns the cause id."""
    with write_transaction(db):
        spend_form_token(db, form_token, actor, "cause.record", at)
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "cause.record", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
                what=issue["code"])
        check_editable(issue)
        if cause_id is None and not (new_cause_title or "").strip():
            raise ValidationFailed("cause", "choose a root cause or describe a new one")
        if cause_id is not None:
            get_row(db, "causes", cause_id, "cause")
        if cause_id is None:
            cause_id = create_cause(db, actor, title=new_cause_title, description=description,
                                    at=at)
        rec = Recorder(db, actor, at, "issue.cause")
        old = store.link_ids(db, "issue_causes", "cause_id", issue_id)
        _set_links(db, rec, issue_id, "issue_causes", "cause_id", "causes", old + [cause_id])
        rec.flush()
        settle_form_token(db, form_token, cause_id)
    return cause_id


def remove_root_cause(db: sqlite_utils.Database, actor: Actor, issue_id: int, cause_id: int,
                      *, at: str) -> None:
    """Unlink a root cause from an issue."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "cause.record", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
                what=issue["code"])
        check_editable(issue)
        rec = Recorder(db, actor, at, "issue.uncause")
        old = store.link_ids(db, "issue_causes", "cause_id", issue_id)
        if cause_id not in old:
            raise ValidationFailed("cause_id", "not linked to this issue")
        _set_links(db, rec, issue_id, "issue_causes", "cause_id", "causes",
                   [c for c in old if c != cause_id])
        rec.flush()


def record_accountability(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                          not_applicable: bool = False, person_name: str = "",
                          action: str = "", reason: str = "", penalty: float = 0.0,
                          at: str, form_token: str | None = None) -> int:
    """Record what was done about responsibility (责任追究), or a reasoned "not applicable";
    `penalty`: the economic penalty imposed (yuan), totalled by the review pack."""
    with write_transaction(db):
        spend_form_token(db, form_token, actor, "accountability.record", at)
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "accountability.record", unit_id=issue["unit_id"],
                owns=owns_issue(actor, issue), what=issue["code"])
        check_editable(issue)
        if not_applicable:
            reason = _text(reason, "reason", required=True, max_len=5000)
        else:
            person_name = _text(person_name, "person_name", required=True, max_len=200)
            action = _text(action, "action", required=True, max_len=5000)
        penalty = amount_value(penalty, "penalty_amount")
        rec = Recorder(db, actor, at, "accountability.record")
        aid = insert(db, rec, "accountability", "accountability", {
            "issue_id": issue_id, "not_applicable": int(bool(not_applicable)),
            "person_name": person_name, "action": action, "reason": _text(reason, "reason"),
            "penalty_amount": penalty, "recorded_by": actor.user_id, "recorded_at": at})
        rec.flush()
        settle_form_token(db, form_token, aid)
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
    two_level = None
    out = []
    for move, t in TRANSITIONS.items():
        if status not in t.source:
            continue
        level = grant(t.permission, actor.role)
        if level is None or (level == "own" and not owns_issue(actor, issue)):
            continue
        if move == Move.CLOSE:
            facts = facts or store.issue_facts(db, issue_id)
            two_level = two_level if two_level is not None else \
                store.two_level_verification(db)
            if not (may_second_check(facts, actor) if two_level
                    else may_strike_off(facts, actor.user_id, actor.person_id)):
                continue
        if move == Move.CHECK:
            facts = facts or store.issue_facts(db, issue_id)
            two_level = two_level if two_level is not None else \
                store.two_level_verification(db)
            if not two_level or not may_first_check(facts, actor.user_id, actor.person_id):
                continue
        out.append(move)
    return out


def move_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int, move: Move | str, *,
               version: int | None, reason: str = "", at: str) -> Status:
    """Move an issue through the workflow; returns the new status. Refusals:
    TransitionNotAllowed, NotPermitted (role, scope, ownership, segregation of duties),
    ValidationFailed (a reason is needed), AssignmentIncomplete (四个到人 before 整改中),
    ClosureBlocked (三不放过 before 已销号), StaleEdit."""
    move = Move(move)
    t = TRANSITIONS[move]
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, t.permission, unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
                what=issue["code"])
        check_version(db, "issue", issue, version)
        if issue["merged_into_id"]:
            raise TransitionNotAllowed(f"{issue['code']} was merged into another issue",
                                       code=issue["code"], move=move.value, status="merged")
        reason = _text(reason, "reason", max_len=5000)
        check_move(issue["code"], Status(issue["status"]), move, reason)
        facts = store.issue_facts(db, issue_id)
        guard_move(actor, move, facts, store.two_level_verification(db))
        values = move_values(move, actor, reason, at)
        if move == Move.CLOSE:
            values["recheck_due"] = recheck_due(day_of(at), issue["rectification_type"],
                                                store.recheck_months(db))
        elif move in (Move.REOPEN, Move.END, Move.RETURN):
            values["recheck_due"] = None
        rec = Recorder(db, actor, at, f"workflow.{move.value}")
        update(db, rec, "issues", "issue", issue, values)
        rec.flush()
    return t.target


def record_recheck(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                   version: int | None, outcome: str, reason: str = "", at: str) -> Status:
    """The check after closure (整改成效回头看) of a struck-off item: `outcome` 'held' (the fix
    held: the check is done) or 'reopened' (the finding came back: 整改中 again with `reason`,
    counted as a recurrence). Audit leads in scope. Returns the issue's status."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "workflow.reopen", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        reason = _text(reason, "reason", max_len=5000)
        check_recheck(issue, outcome, reason)
        rec = Recorder(db, actor, at, f"recheck.{outcome}")
        values = recheck_values(issue, outcome, reason)
        update(db, rec, "issues", "issue", issue, values)
        rec.flush()
    return Status(values.get("status", issue["status"]))


def schedule_recheck(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                     version: int | None, due: str | date, at: str) -> str:
    """Move the date of a struck-off item's check after closure (the office brings it forward
    or puts it off); returns the date. Audit leads in scope; TransitionNotAllowed when the item
    is not struck off, ValidationFailed for a date that is not one or is before its 销号."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "workflow.reopen", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        if issue["status"] != Status.CLOSED.value:
            raise TransitionNotAllowed(f"{issue['code']}: only a struck-off item is checked "
                                       "after closure", key="error.recheck_none",
                                       code=issue["code"], move="recheck",
                                       status=issue["status"])
        d = parse_date(due, "recheck_due")
        if d is None:
            raise ValidationFailed("recheck_due", "required")
        if issue["closed_at"] and d < day_of(issue["closed_at"]):
            raise ValidationFailed("recheck_due", "cannot be before the item was struck off")
        rec = Recorder(db, actor, at, "recheck.schedule")
        update(db, rec, "issues", "issue", issue, {"recheck_due": d.isoformat()})
        rec.flush()
    return d.isoformat()


def schedule_missing_rechecks(db: sqlite_utils.Database, actor: Actor, *, at: str
                              ) -> list[str]:
    """Give every struck-off item in the lead's scope that has no check after closure — one
    closed before the check existed — its check date, from its 销号 day and the months of its
    type, as striking it off now would (recheck_model.recheck_due); returns their codes. An
    item whose check was done is not scheduled again. Audit leads (workflow.reopen)."""
    require(actor, "workflow.reopen")
    with write_transaction(db):
        items = store.closed_without_recheck(db, actor.scope_unit_ids)
        if not items:
            return []
        months = store.recheck_months(db)
        rec = Recorder(db, actor, at, "recheck.schedule")
        for item in items:
            issue = get_row(db, "issues", item["id"], "issue")
            update(db, rec, "issues", "issue", issue, {"recheck_due": recheck_due(
                day_of(issue["closed_at"]), issue["rectification_type"], months)})
        rec.flush()
    return [item["code"] for item in items]


# --- registering many issues at once (ledger import) -----------------------------------------


# --- merging two issues into one (并轨) -------------------------------------------------------


def visible_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int) -> dict:
    """An issue's full detail if the actor may see it (scope), else NotFound/NotPermitted."""
    detail = store.issue_detail(db, issue_id)
    if detail is None:
        raise NotFound(f"issue {issue_id} not found", entity="issue", id=issue_id)
    if not actor.in_scope(detail["unit_id"]):
        raise NotPermitted("the issue is outside your scope", reason="scope")
    return detail
