"""Registering many issues at once (a ledger import's new issues): each written directly in
its final state, under the same model checks (issues.model: new_issue_values,
new_measure_values, child_code, check_move, guard_move, move_values; owners.model:
assignment_values) and permissions as the single-item services, with one whole-row history
record per issue and measure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlite_utils

from audit.model import Actor, AuditError, NotFound, Status, text_value
from audit.service import require
from audit.store import history
from audit.store.db import write_transaction
from audit.time_model import day_of
from issues import store
from issues.model import (
    ISSUE_LINKS,
    TRANSITIONS,
    IssueFacts,
    MeasureFacts,
    Move,
    amount_value,
    check_move,
    child_code,
    codes_to_ids,
    guard_move,
    move_values,
    new_issue_values,
    new_measure_values,
    owns_issue,
    owns_measure,
)
from owners.model import assignment_values


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
    amount_corrected: float = 0
    amount_recovered: float = 0
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

    aspects = store.aspect_codes(db)
    units = store.ids_of(db, "units")
    people = store.active_people(db)
    active = {pid for pid, is_active in people.items() if is_active}
    audits = store.ids_of(db, "audits")
    causes = store.ids_of(db, "causes")
    stream_map, focus_map = store.stream_ids(db), store.focus_ids(db)
    codes = store.issue_codes(db)
    next_issue, next_measure = store.next_id(db, "issues"), store.next_id(db, "measures")
    day = day_of(at).isoformat()
    two_level = store.two_level_verification(db)
    # Columns this function does not set are written, and recorded, with their defaults.
    issue_defaults = store.column_defaults(db, "issues")
    measure_defaults = store.column_defaults(db, "measures")
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
            code = child_code(aspects[item.aspect_id], item.code, codes, "issue",
                              numbered=False)
            row = {**issue_defaults, "id": iid, **new_issue_values(
                code=code, aspect_id=item.aspect_id, title=item.title, unit_id=item.unit_id,
                description=item.description, severity=item.severity,
                amount_involved=item.amount_involved, basis=item.basis,
                recommendation=item.recommendation,
                rectification_type=item.rectification_type, at=at),
                "responsible_person_id": None, "supervisor_person_id": None,
                "deadline": None, "original_deadline": None, "progress": "",
                "submitted_by": None, "submitted_at": None, "closed_by": None,
                "closed_at": None, "status_reason": "", "merged_into_id": None,
                "merged_at": None,
                "amount_corrected": amount_value(item.amount_corrected, "amount_corrected"),
                "amount_recovered": amount_value(item.amount_recovered, "amount_recovered"),
                "version": 1}
            linked = {"sources": sorted(set(item.sources)),
                      "streams": sorted(set(codes_to_ids(stream_map, item.streams,
                                                          "streams"))),
                      "focus": sorted(set(codes_to_ids(focus_map, item.focus, "focus"))),
                      "causes": []}
            for a in linked["sources"]:
                if a not in audits:
                    raise NotFound(f"audit {a} not found", entity="audit", id=a)
            # assign_issue
            step = "assign"
            if item.responsible_person_id is not None or item.supervisor_person_id is not None \
                    or item.deadline not in (None, ""):
                permit(actor, "issue.assign", unit_id=item.unit_id, what=code)
                row.update(assignment_values(
                    row, responsible_person_id=item.responsible_person_id,
                    supervisor_person_id=item.supervisor_person_id, deadline=item.deadline,
                    active_people=active))
            # add_measure, set_measure_status
            step = "measures"
            measures: list[dict] = []
            for m in item.measures:
                permit(actor, "measure.add", unit_id=item.unit_id,
                        owns=owns_issue(actor, row), what=code)
                mrow = {**measure_defaults,
                        "id": next_measure + len(measure_rows) + len(measures),
                        "cause_id": None, **new_measure_values(
                            title=m.title, owner_person_id=m.owner_person_id,
                            deadline=m.deadline, issue_id=iid, known_people=people, at=at),
                        "completed_on": None, "progress": "", "version": 1}
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
                row["progress"] = text_value(item.progress, "progress")
            # move_issue, each move
            step = "status"
            for move in item.moves:
                mover = closer if Move(move) == Move.CLOSE else actor
                t = TRANSITIONS[Move(move)]
                permit(mover, t.permission, unit_id=item.unit_id,
                        owns=owns_issue(mover, row), what=code)
                _bulk_move(row, measures, len(linked["causes"]), Move(move), mover, at,
                           two_level)
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
            store.insert_links(db, table, column, links[table])
        history.append_many(db, at=at, actor_id=actor.user_id, actor=actor.username,
                            entries=entries)
    return ids


def _bulk_move(row: dict, measures: list[dict], cause_count: int, move: Move, actor: Actor,
               at: str, two_level: bool = False) -> None:
    """move_issue on an issue being registered in bulk (its row and measures in memory), the
    mover's permission already checked."""
    status = Status(row["status"])
    check_move(row["code"], status, move, "")
    facts = IssueFacts(code=row["code"], status=status,
                       responsible_person_id=row["responsible_person_id"],
                       deadline=row["deadline"],
                       measures=tuple(MeasureFacts(m["id"], m["owner_person_id"], m["deadline"],
                                                   m["status"], 0) for m in measures),
                       cause_count=cause_count, accountability_recorded=False,
                       submitted_by=row["submitted_by"])
    guard_move(actor, move, facts, two_level)
    row.update(move_values(move, actor, "", at))
