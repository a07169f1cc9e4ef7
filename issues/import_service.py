"""Importing a field ledger (整改台账): plan first (reads only), then apply in one transaction
through the services, which write the history: new issues in one batch
(issues.bulk_service.create_issues_bulk: each written in its final state under the rules the
per-row services enforce), changes to existing issues through the per-row services. The rules
of the plan are in issues.import_plan_model."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import sqlite_utils

from audit.anchor_format import anchor_in_workbook
from audit.model import Actor, AuditError, LedgerRowError, Role, ValidationFailed
from audit.rules_model import DeadlineMisfit, ImportCapExceeded, needs_import_cap_warning
from audit.service import accept_rule_warning, require
from audit.store import history
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.store.paths import max_upload_bytes
from audit.time_model import day_of
from issues import (bulk_service, import_profile_service, import_store, recurrence_service,
                    store)
from issues import service as issues
from issues.import_model import (
    ImportNeedsDecision,
    ImportPlan,
    ImportResult,
    Known,
    Ref,
    RowPlan,
)
from issues.import_conflict_model import (
    ImportConflicts,
    guard_cut_and_control,
    hold_back_newer,
)
from issues.import_plan_model import Planner
from issues.ledger_format import REMARKS_HEADER, ParsedLedger
from issues.ledger_read_format import read_ledger
from issues.model import Move
from owners import service as owners

Progress = Callable[[str, int, int], None]
IMPORT_CACHE_KIB = 131_072


def _referenced_people(details: dict[int, dict]) -> set[int]:
    """The people the matched issues name (responsible, supervisor, measure owners)."""
    out: set[int] = set()
    for d in details.values():
        out.update(p for p in (d["responsible_person_id"], d["supervisor_person_id"]) if p)
        out.update(m["owner_person_id"] for m in d["measures"] if m["owner_person_id"])
    return out


def upload_limit() -> int:
    """The largest ledger file accepted, in bytes (the configured upload limit)."""
    return max_upload_bytes()


def read_file(db: sqlite_utils.Database, data: bytes, filename: str, *,
              mapping: dict[str, str] | None = None,
              on_progress: Progress | None = None, values: dict[str, str] | None = None,
              profile: dict[str, str] | None = None) -> ParsedLedger:
    """Read a ledger file against the programme's work streams and focus points, within the
    upload limit (issues.ledger_read_format.read_ledger; reads only): `mapping` the user's
    column choices, `profile` a saved profile's, `values` the answers about local words.
    Raises LedgerFileError and LedgerRowError."""
    parsed = read_ledger(data, filename, vocabulary=store.ledger_vocabulary(db),
                         names=import_store.known_names(db), mapping=mapping, max_bytes=upload_limit(), on_progress=on_progress,
                         values=values, profile=profile)
    parsed.anchor = anchor_in_workbook(data)
    return parsed


def plan_import(db: sqlite_utils.Database, actor: Actor, parsed: ParsedLedger,
                stream: str | None = None, *, filename: str = "",
                resolutions: dict[str, int] | None = None,
                choices: dict[int, str] | None = None) -> ImportPlan:
    """What importing `parsed` would create, update and ask (reads only). `stream` is the work
    stream (a stream code, e.g. 'cleanup' or 'audit') of rows that name none. `choices`: per
    row with conflicts (cells changed after the file's anchor), 'file' to take the file's
    values or 'keep' to keep the newer ones (issues.import_conflict_model). Raises
    NotPermitted, ValidationFailed for an unknown stream, and LedgerRowError for a row that
    cannot be imported whatever the user answers (naming the row's own sheet and Excel row
    in a workbook of several sheets)."""
    try:
        return _plan(db, actor, parsed, stream, filename, resolutions, choices)
    except LedgerRowError as err:
        there = parsed.located(err)
        if there is err:
            raise
        raise there from err


def _plan(db: sqlite_utils.Database, actor: Actor, parsed: ParsedLedger, stream: str | None,
          filename: str, resolutions: dict[str, int] | None,
          choices: dict[int, str] | None) -> ImportPlan:
    require(actor, "ledger.import")
    known: Known = import_store.known(db, parsed)
    if stream is not None and stream not in known.stream_ids:
        raise ValidationFailed("stream", f"must be one of {', '.join(known.stream_order)}")
    details = import_store.issue_details(db, known.issues_to_read(parsed))
    known.add_people(import_store.people_by_ids(db, _referenced_people(details)))
    plan = Planner(known, details, actor, parsed, filename, stream, dict(resolutions or {}),
                   history.anchor(db), two_level=store.two_level_verification(db)).run()
    column_of = {fld: shown for shown, fld in parsed.header_map.items() if fld}
    guard_cut_and_control(plan, details, column_of)
    plan.choices = dict(choices or {})
    plan.cap = import_cap(db, plan)
    if parsed.anchor is None:
        plan.anchor_note = "none"
    elif not import_store.anchor_is_ours(db, parsed.anchor):
        plan.anchor_note = "foreign"
    else:
        updated = [r.issue for r in plan.rows if r.action == "update"]
        newer = import_store.newer_records(db, parsed.anchor[0], updated)
        plan.conflicts = hold_back_newer(plan, newer, plan.choices, column_of)
    return plan


def import_cap(db: sqlite_utils.Database, plan: ImportPlan) -> tuple | None:
    """(before, after) (audit.rules_model.CapCheck) when the plan's new issues and type changes
    together take the share of staged + continuous items past the cap, checked against the
    rows as they are now (audit.rules_model.needs_import_cap_warning); else None."""
    from audit.rules_views import cap, cap_min_items, programme_types_by_id
    new = [p.create["rectification_type"] for p in plan.rows if p.action == "create"]
    changes = {p.issue: p.edits["rectification_type"] for p in plan.rows
               if p.action == "update" and "rectification_type" in p.edits}
    return needs_import_cap_warning(programme_types_by_id(db), cap(db), new=new,
                                    changes=changes, min_items=cap_min_items(db))


# --- applying ------------------------------------------------------------------------------------

def _as_role(actor: Actor, role: Role) -> Actor:
    """The importing user acting with the rights a ledger import carries (see the module
    docstring); history still names the real user."""
    return replace(actor, role=role)


class _Applier:
    """Executes a plan through the services, inside the caller's transaction."""

    def __init__(self, db: sqlite_utils.Database, actor: Actor, plan: ImportPlan, at: str):
        self.db = db
        self.actor = actor
        self.org = _as_role(actor, Role.ADMIN)
        self.lead = _as_role(actor, Role.LEAD)
        self.plan = plan
        self.at = at
        self.ids: dict[str, int] = {}
        self.headers = {fld: shown for shown, fld in plan.header_map.items() if fld}
        self.deadline_day = day_of(at)

    def ref(self, ref: Ref | None) -> int | None:
        if ref is None or isinstance(ref, int):
            return ref
        return self.ids[ref]

    @staticmethod
    def _value(row: int, fld: str, plan: ImportPlan) -> Any:
        for r in plan.parsed.rows:
            if r.excel_row == row:
                v = getattr(r, fld, "")
                return v if not isinstance(v, tuple) else "; ".join(map(str, v))
        return ""

    def reason(self, row: int) -> str:
        """Why a change the rules would warn about is made: the ledger row it comes from (an
        extension's reason, an accepted cap or deadline-fit warning)."""
        return f"台账导入 {self.plan.filename} 第{row}行"

    def step(self, row: int, fld: str) -> "_Step":
        return _Step(self, row, fld)

    def create_entities(self) -> None:
        for ent in self.plan.new:
            row = ent.rows[0]
            v = ent.values
            if ent.kind == "unit":
                with self.step(row, "unit"):
                    self.ids[ent.key] = owners.create_unit(
                        self.db, self.org, code=v["code"], name=v["name"], level=v["level"],
                        parent_code=v["parent_code"], at=self.at)
            elif ent.kind == "person":
                with self.step(row, "responsible"):
                    self.ids[ent.key] = owners.create_person(
                        self.db, self.org, name=v["name"], unit_id=self.ref(v["unit"]),
                        at=self.at)
            elif ent.kind == "category":
                with self.step(row, "category"):
                    self.ids[ent.key] = issues.create_category(
                        self.db, self.lead, code=v["code"], name=v["name"], at=self.at)
            elif ent.kind == "aspect":
                with self.step(row, "aspect"):
                    self.ids[ent.key] = issues.create_aspect(
                        self.db, self.lead, category_id=self.ref(v["category"]),
                        name=v["name"], code=v["code"], at=self.at)
            elif ent.kind == "audit":
                with self.step(row, "audit_name"):
                    self.ids[ent.key] = issues.ensure_audit(
                        self.db, self.lead, name=v["name"], year=v["year"], level=v["level"],
                        report_no=v["report_no"], at=self.at)
            elif ent.kind == "cause":
                with self.step(row, "causes"):
                    self.ids[ent.key] = issues.create_cause(
                        self.db, self.lead, title=v["title"], at=self.at)

    def create_issues(self, plans: list[RowPlan]) -> None:
        """The new issues, in one batch through issues.create_issues_bulk: each written in the
        state the per-row services would leave it in, under the same rules."""
        items = []
        for p in plans:
            c, a = p.create, p.assign
            items.append(bulk_service.NewIssue(
                aspect_id=self.ref(c["aspect"]), unit_id=self.ref(c["unit"]), title=c["title"],
                code=c["code"], description=c["description"],
                amount_involved=c["amount_involved"], amount_corrected=c["amount_corrected"],
                amount_recovered=c["amount_recovered"], basis=c["basis"],
                recommendation=c["recommendation"], rectification_type=c["rectification_type"],
                sources=tuple(self.ref(s) for s in c["sources"]), streams=tuple(c["streams"]),
                focus=tuple(c["focus"]), responsible_person_id=self.ref(a.get("responsible")),
                supervisor_person_id=self.ref(a.get("supervisor")), deadline=a.get("deadline"),
                measures=tuple(bulk_service.NewMeasure(m.title, self.ref(m.owner), m.deadline, m.done)
                               for m in p.measures),
                causes=tuple(self.ref(x) for x in p.causes), progress=p.progress,
                moves=tuple(p.moves)))
        try:
            # Striking off is the importer's own act: its real role must allow it.
            ids = bulk_service.create_issues_bulk(self.db, self.lead, items, at=self.at,
                                            closer=self.actor)
        except AuditError as ex:
            p = plans[getattr(ex, "item", 0)]
            step = getattr(ex, "step", "create")
            fld = {"create": "title", "assign": "responsible" if "responsible" in p.assign
                   else "deadline"}.get(step, step)
            with self.step(p.excel_row, fld):
                raise
        for p, iid in zip(plans, ids):
            self.ids[p.issue] = iid

    def apply_row(self, p: RowPlan) -> int:
        """An existing issue's changes, through the services."""
        db, lead, at, row = self.db, self.lead, self.at, p.excel_row
        iid = p.issue
        if p.edits or p.links:
            fields = dict(p.edits)
            if "aspect_id" in fields:
                fields["aspect_id"] = self.ref(fields["aspect_id"])
            links = dict(p.links)
            if "sources" in links:
                links["sources"] = [self.ref(s) for s in links["sources"]]
            with self.step(row, next(iter(p.edits), "title")):
                # The cap is checked once over the whole import (_apply), not row by row.
                issues.edit_issue(db, lead, iid, version=None, at=at,
                                  accept_reason=self.reason(row), check_cap=False, **links,
                                  **fields)
        if p.assign:
            a = p.assign
            with self.step(row, "responsible" if "responsible" in a else "deadline"):
                owners.assign_issue(db, lead, iid, version=None,
                                    responsible_person_id=self.ref(a.get("responsible")),
                                    supervisor_person_id=self.ref(a.get("supervisor")),
                                    unit_id=self.ref(a.get("unit")), deadline=a.get("deadline"),
                                    accept_reason=self.reason(row), at=at)
        if p.extend_to is not None:
            with self.step(row, "deadline"):
                owners.extend_deadline(db, lead, iid, version=None, new_deadline=p.extend_to,
                                       reason=self.reason(row),
                                       at=at)
        for m in p.measures:
            with self.step(row, "measures"):
                mid = m.measure_id
                if mid is None:
                    mid = issues.add_measure(db, lead, iid, title=m.title,
                                             owner_person_id=self.ref(m.owner),
                                             deadline=m.deadline, at=at,
                                             accept_reason=self.reason(row))
                elif m.edit:
                    issues.edit_measure(db, lead, mid, version=None, at=at,
                                        owner_person_id=self.ref(m.edit.get("owner")),
                                        deadline=m.edit.get("deadline"),
                                        accept_reason=self.reason(row))
                if m.done:
                    issues.set_measure_status(db, lead, mid, version=None, status="done",
                                              at=at)
        for cause in p.causes:
            with self.step(row, "causes"):
                issues.record_root_cause(db, lead, iid, cause_id=self.ref(cause), at=at)
        if p.progress is not None:
            with self.step(row, "progress"):
                issues.update_progress(db, lead, iid, version=None, progress=p.progress, at=at)
        for move in p.moves:
            with self.step(row, "status"):
                # Striking off is the importer's own act: its real role must allow it.
                issues.move_issue(db, self.actor if move == Move.CLOSE else lead, iid, move,
                                  version=None, at=at)
        return iid


class _Step:
    """Turns a service's refusal into a LedgerRowError naming row, column and value."""

    def __init__(self, applier: _Applier, row: int, fld: str):
        self.a, self.row, self.fld = applier, row, fld

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, LedgerRowError) or not isinstance(exc, AuditError):
            return False
        column = self.a.headers.get(self.fld, self.fld)
        value = _Applier._value(self.row, self.fld, self.a.plan)
        raise LedgerRowError(self.row, column, value, str(exc)) from exc


def apply_import(db: sqlite_utils.Database, actor: Actor, plan: ImportPlan, at: str,
                 resolutions: dict[str, int] | None = None,
                 on_progress: Progress | None = None,
                 accept_cap: str | None = None) -> ImportResult:
    """Apply a plan in ONE transaction through the services (all or nothing). Answers to the
    plan's questions come in `resolutions` (ambiguity key → chosen id, or NEW). The plan is
    worked out again inside the transaction when answers were added or the database changed
    since planning. Raises ImportNeedsDecision while a question is open, ImportConflicts while a
    row with cells changed after the file's anchor has no choice, LedgerRowError naming
    row, column and value when a row cannot be applied, NotPermitted. When the import's new
    issues and type changes together pass the cap on staged + continuous items (checked in the
    transaction against the rows as they are), it raises ImportCapExceeded and writes nothing
    unless the importer, who must be allowed rule.accept, gives `accept_cap`, the reason
    (recorded in rule_acceptances with the figures, in the same transaction)."""
    require(actor, "ledger.import")
    answers = dict(plan.resolutions)
    answers.update(resolutions or {})
    # A large import touches many pages: a bigger page cache for this transaction keeps them
    # in memory instead of spilling to the WAL half-way (about 12% faster at 2,000 rows).
    with import_store.page_cache_of_at_least(db, IMPORT_CACHE_KIB):
        try:
            return _apply(db, actor, plan, at, answers, on_progress, accept_cap)
        except LedgerRowError as err:   # rolled back already; named by the row's own sheet
            there = plan.parsed.located(err)
            if there is err:
                raise
            raise there from err


def _apply(db: sqlite_utils.Database, actor: Actor, plan: ImportPlan, at: str,
           answers: dict[str, int], on_progress: Progress | None,
           accept_cap: str | None = None) -> ImportResult:
    with write_transaction(db):
        if answers != plan.resolutions or history.anchor(db) != plan.anchor:
            plan = plan_import(db, actor, plan.parsed, plan.stream, filename=plan.filename,
                               resolutions=answers, choices=plan.choices)
        open_questions = plan.unresolved()
        if open_questions:
            raise ImportNeedsDecision(open_questions)
        undecided = plan.undecided_conflicts()
        if undecided:
            raise ImportConflicts(undecided)
        before = history.anchor(db)[0]
        # The cap over the whole import, against the rows as they are in this transaction.
        plan.cap = import_cap(db, plan)
        if plan.cap is not None:
            rec = Recorder(db, actor, at, "ledger.import")
            accept_rule_warning(db, rec, actor, ImportCapExceeded(*plan.cap, plan.filename),
                                accept_cap, at=at)
            rec.flush()
        applier = _Applier(db, actor, plan, at)
        total = len(plan.rows)
        applier.create_entities()
        created = [p for p in plan.rows if p.action == "create"]
        applier.create_issues(created)
        _accept_late_measures(db, applier, created)
        done = len(created)
        if on_progress and created:
            on_progress("writing", done, total)
        ids: list[int] = []
        for p in plan.rows:
            if p.action == "create":
                ids.append(applier.ids[p.issue])
            elif p.action == "update":
                ids.append(applier.apply_row(p))
                done += 1
                if on_progress and (done % 200 == 0 or done == total):
                    on_progress("writing", done, total)
        if on_progress and done < total:
            on_progress("writing", total, total)
        # The office's columns that map to no field stay with each issue (nothing is lost).
        # The 备注 column is kept the same way, under its own header.
        extras = {r.excel_row: r.extras + (((REMARKS_HEADER, r.remarks),) if r.remarks else ())
                  for r in plan.parsed.rows if r.extras or r.remarks}
        if extras:
            import_profile_service.keep_extras(db, actor, [
                (p.issue if isinstance(p.issue, int) else applier.ids[p.issue],
                 extras[p.excel_row]) for p in plan.rows
                if p.excel_row in extras and p.action != "ask"], at)
        # Findings that come back: each new one matched against the earlier items.
        flagged = recurrence_service.flag_recurrences(
            db, applier.lead, [applier.ids[p.issue] for p in created], at=at)
        counts = plan.counts()
        if history.anchor(db)[0] > before:
            rec = Recorder(db, actor, at, "ledger.import")
            rec.add("import", None, "file", None, json.dumps(
                {"file": plan.filename, "rows": len(plan.parsed.rows), **counts},
                ensure_ascii=False, sort_keys=True))
            rec.flush()
        written = history.anchor(db)[0] - before
    return ImportResult(counts, ids, written, plan, flagged)


def _accept_late_measures(db: sqlite_utils.Database, applier: _Applier,
                          created: list[RowPlan]) -> None:
    """Deadlines that fit for the new issues, registered in bulk: each measure the ledger gives
    a deadline after its issue's is recorded as a warning accepted with its row as the reason,
    as the per-row services do for the rows of existing issues (the plan lists them first)."""
    rows = {applier.ids[p.issue]: p.excel_row for p in created if p.deadline_misfits}
    late = import_store.measures_due_after_issue(db, sorted(rows)) if rows else []
    if not late:
        return
    rec = Recorder(db, applier.actor, applier.at, "ledger.import")
    for iid, mid, deadline, issue_deadline in late:
        accept_rule_warning(db, rec, applier.lead, DeadlineMisfit([("issue", issue_deadline)],
                                                                  deadline),
                            applier.reason(rows[iid]), issue_id=iid, measure_id=mid,
                            at=applier.at)
    rec.flush()


def iter_status_shortfalls(plan: ImportPlan) -> Iterator[RowPlan]:
    """Rows whose ledger status the import cannot reach (with `missing` saying why)."""
    return (r for r in plan.rows if r.status_short)
