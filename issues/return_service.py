"""The ledger sent out and returned (下发—填报—回收): a lead exports a unit's ledger
(issues.ledger_service.export_ledger with the unit's scope), the unit's rectifier fills in the
progress and uploads it back. `preview_return` reads the file and lists, item by item, what it
would change and what it may not (the rules are issues.return_model's); `apply_return` writes
the changes in ONE transaction through the same services as single edits (update_progress,
set_measure_status: permission, scope and workflow guards, one history record per changed
field), after working the diff out again under the write lock: all or nothing. A measure
marked done records the completion date written after its 已完成 (or the upload day)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from audit.model import Actor, AuditError, LedgerRowError, NotPermitted
from audit.service import require
from audit.store import history
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.time_model import day_of
from audit.views import scope_for
from issues import import_service, import_store, return_store
from issues import service as issues
from issues.ledger_format import ParsedLedger
from issues.ledger_views import ledger_rows_for
from issues.model import EDITABLE_STATUSES, owns_issue, owns_measure
from issues.return_model import (
    ItemFacts,
    MeasureFacts,
    ReturnChanged,
    ReturnChange,
    ReturnDiff,
    ReturnRefused,
    diff_returned,
)


@dataclass
class ReturnPreview:
    """A returned ledger read and compared: the file, and what it would change."""

    filename: str
    parsed: ParsedLedger
    diff: ReturnDiff


@dataclass
class ReturnResult:
    """What apply_return wrote: the changes and the number of history records."""

    changes: list[ReturnChange]
    history_records: int


def _allowed(actor: Actor, action: str, unit_id: int, owns: bool) -> bool:
    """Would the service let the actor do `action` here (the same rule it checks)?"""
    try:
        require(actor, action, unit_id=unit_id, owns=owns)
    except NotPermitted:
        return False
    return True


def _diff(db: sqlite_utils.Database, actor: Actor, parsed: ParsedLedger, at: str
          ) -> ReturnDiff:
    codes = sorted({r.code for r in parsed.rows if r.code})
    ids = return_store.issue_ids_by_code(db, codes)
    details = import_store.issue_details(db, sorted(ids.values()))
    in_scope = {c: i for c, i in ids.items()
                if actor.in_scope(details[i]["unit_id"]) and not details[i]["merged_into_id"]}
    now = {r.code: r for r in ledger_rows_for(db, scope_for(db, actor), day_of(at))
           if r.code in in_scope}
    anchor = parsed.anchor
    newer = {}
    if anchor is not None and import_store.anchor_is_ours(db, anchor):
        newer = import_store.newer_records(db, anchor[0], sorted(in_scope.values()))
    changed_since: dict[int, dict[str, tuple[str, str]]] = {}
    issue_of = {m["id"]: iid for iid in in_scope.values() for m in details[iid]["measures"]}
    for (entity, eid, fld), (when, who, _) in newer.items():
        if entity == "issue":
            changed_since.setdefault(eid, {})[fld] = (who, when)
        elif eid in issue_of:
            changed_since.setdefault(issue_of[eid], {})[f"measure:{eid}"] = (who, when)
    facts: dict[str, ItemFacts] = {}
    for code, iid in in_scope.items():
        d = details[iid]
        changed = changed_since.get(iid, {})
        facts[code] = ItemFacts(
            iid, code, _allowed(actor, "issue.progress", d["unit_id"], owns_issue(actor, d)),
            d["status"] in EDITABLE_STATUSES, d["progress"] or "",
            tuple(MeasureFacts(m["id"], _allowed(actor, "measure.edit", d["unit_id"],
                                                 owns_measure(actor, m, d)), m["status"])
                  for m in d["measures"]), changed)
    column_of = {fld: shown for shown, fld in parsed.header_map.items() if fld}
    return diff_returned(parsed.rows, now, facts, column_of, day_of(at))


def preview_return(db: sqlite_utils.Database, actor: Actor, data: bytes, filename: str, *,
                   at: str) -> ReturnPreview:
    """Read a returned ledger and compare it with the uploader's items as of `at` (reads only).
    Raises LedgerFileError / LedgerRowError for a file that cannot be read; refusals of cells
    are listed in the diff, not raised."""
    require(actor, "issue.progress")
    parsed = import_service.read_file(db, data, filename)   # the anchor read with it
    return ReturnPreview(filename, parsed, _diff(db, actor, parsed, at))


def apply_return(db: sqlite_utils.Database, actor: Actor, preview: ReturnPreview, *,
                 at: str) -> ReturnResult:
    """Write a previewed return in ONE transaction, each change through the service of the
    single edit. Raises ReturnRefused when a cell may not be changed (nothing written),
    ReturnChanged when the items changed since the preview, LedgerRowError naming row and
    column when a service refuses a change."""
    require(actor, "issue.progress")
    with write_transaction(db):
        fresh = _diff(db, actor, preview.parsed, at)
        if fresh.refusals:
            raise ReturnRefused(fresh.refusals)
        if fresh.changes != preview.diff.changes:
            raise ReturnChanged()
        before = history.anchor(db)[0]
        for ch in fresh.changes:
            try:
                if ch.kind == "progress":
                    issues.update_progress(db, actor, ch.issue_id, version=None,
                                           progress=ch.new, at=at)
                else:
                    # The completion date the preview showed (the file's, or the upload day).
                    issues.set_measure_status(db, actor, ch.measure_id, version=None,
                                              status="doing" if ch.kind == "measure_undone"
                                              else "done", completed_on=ch.completed_on,
                                              at=at)
            except LedgerRowError:
                raise
            except AuditError as ex:
                raise LedgerRowError(ch.row, ch.column, ch.measure_title or ch.new,
                                     str(ex)) from ex
        written = history.anchor(db)[0] - before
        if written:
            rec = Recorder(db, actor, at, "ledger.return")
            rec.add("import", None, "file", None, json.dumps(
                {"file": preview.filename, "kind": "return", "rows": fresh.rows,
                 "changes": len(fresh.changes)}, ensure_ascii=False, sort_keys=True))
            rec.flush()
    return ReturnResult(fresh.changes, history.anchor(db)[0] - before)
