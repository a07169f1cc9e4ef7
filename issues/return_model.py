"""The ledger sent out and returned (下发—填报—回收) as plain data: what a returned ledger would
change, cell by cell, and what it may not. Pure: the file's rows, the same issues as the ledger
shows them now, and the facts of each item (who may change what) come in as plain data.

A returned ledger may change only the progress fields of items and measures assigned to the
uploader: an issue's 整改进展 (progress note) and each measure's completion (已完成 in the
measures cell, with its completion date after it — 已完成：2026-11-20 — or, without one,
completed on the day of the upload; the date follows the service's rule, issues.model.
completion_day: not after the upload day). A done measure's date may be corrected the same way. Anything else that differs from what the
ledger shows now — a title, a deadline, a measure's owner or title, a status, a row of an item
outside the uploader's scope, a row without a known code — is a refusal listed by row and
column, and one refusal refuses the whole upload. So is a progress cell whose stored value
changed after the file was exported (its anchor), a cell cut to Excel's limit and then edited,
and a cell whose U+FFFD would replace stored control characters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt
from typing import Any, Iterable

from audit.model import AuditError, ValidationFailed
from audit.text_format import TRUNCATION_MARK, has_xml_forbidden, is_truncated_from
from issues.ledger_format import ROW_FIELDS, LedgerRow, MeasureLine
from issues.model import completion_day

# Columns compared for equality: everything but the progress fields and 预警 (the warning
# colour is worked out from the export's date, so it moves by itself).
COMPARED = tuple(f for f in ROW_FIELDS if f not in ("progress", "measures", "warning"))
# A ledger column → the issue field history records it under (to tell "changed in the app
# since the export" from "changed in the file").
HISTORY_FIELD = {"category": "aspect_id", "aspect": "aspect_id", "audit_name": "sources",
                 "audit_year": "sources", "audit_level": "sources", "report_no": "sources",
                 "unit": "unit_id", "responsible": "responsible_person_id",
                 "supervisor": "supervisor_person_id", "amount": "amount_involved",
                 "closed_on": "closed_at"}


@dataclass(frozen=True)
class MeasureFacts:
    """A measure as the return needs it: its id, whether the uploader may change it, and its
    status (todo / doing / done)."""

    measure_id: int
    may_edit: bool
    status: str


@dataclass(frozen=True)
class ItemFacts:
    """An issue as the return needs it (read by issues.return_service)."""

    issue_id: int
    code: str
    may_progress: bool            # the uploader may record its progress note
    measures_editable: bool       # measures change only before submission
    progress: str                 # the stored note, whole
    measures: tuple[MeasureFacts, ...] = ()
    newer: dict[str, tuple[str, str]] = field(default_factory=dict)
    # changed after the file's anchor → (actor, at): an issue field by its history name
    # ('progress', 'deadline', 'status'…), or 'measure:<id>' for any field of a measure


@dataclass(frozen=True)
class ReturnChange:
    """One change a returned ledger makes: an issue's progress note, a measure's completion
    ('measure_done' / 'measure_undone'), or a done measure's completion date
    ('measure_date': old and new are ISO dates). `completed_on`: the completion date a
    'measure_done' or 'measure_date' change records (ISO)."""

    row: int
    column: str
    code: str
    issue_id: int
    kind: str                     # 'progress' | 'measure_done' | 'measure_undone' | 'measure_date'
    old: Any
    new: Any
    measure_id: int | None = None
    measure_title: str = ""
    completed_on: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A cell a returned ledger may not change: row, column, the file's value, the value now,
    and why (a `return.why.*` catalogue key's last part)."""

    row: int
    column: str
    why: str
    file_value: Any = None
    value_now: Any = None
    who: str = ""
    when: str = ""


@dataclass
class ReturnDiff:
    """What a returned ledger would do: its changes in file order, and its refusals."""

    rows: int
    changes: list[ReturnChange] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def acceptable(self) -> bool:
        """May it be applied (no refusal and something to change)?"""
        return not self.refusals and bool(self.changes)


class ReturnRefused(AuditError):
    """A returned ledger changes cells its uploader may not change; nothing was written."""

    key = "error.return_refused"

    def __init__(self, refusals: list[Refusal]):
        first = refusals[0]
        super().__init__(
            f"{len(refusals)} cell(s) of the returned ledger may not be changed by this upload "
            f"(nothing written); first: row {first.row}, column {first.column!r}: {first.why}",
            count=len(refusals), row=first.row, column=first.column,
            why=f"return.why.{first.why}")
        self.refusals = refusals


class ReturnChanged(AuditError):
    """The database changed between the preview and the apply: the preview no longer says
    what would be written."""

    key = "error.return_changed"

    def __init__(self) -> None:
        super().__init__("the items changed since the preview; upload the file again to see "
                         "what would change now")


def _same_text(file_value: str, now: str) -> bool:
    """Is a text cell what the export writes for `now` (equal, or its visible cut)?"""
    return file_value == now or (file_value.endswith(TRUNCATION_MARK)
                                 and is_truncated_from(file_value, now))


def _same(file_value: Any, now: Any) -> bool:
    if isinstance(file_value, str) and isinstance(now, str):
        return _same_text(file_value, now)
    if isinstance(file_value, float) or isinstance(now, float):
        return round(float(file_value or 0), 2) == round(float(now or 0), 2)
    return file_value == now


def _shown(value: Any) -> Any:
    if isinstance(value, tuple):
        return "；".join(str(v) for v in value)
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else value


def diff_returned(rows: Iterable[LedgerRow], now: dict[str, LedgerRow],
                  facts: dict[str, ItemFacts], column_of: dict[str, str], today: dt.date
                  ) -> ReturnDiff:
    """Compare a returned ledger's rows with the same issues as the ledger shows them now
    (`now`, by code: only the uploader's scope) and list its changes and refusals.
    `column_of`: a row field → the header the file shows for it; `today`: the upload's day
    (a done mark without a date records it; a date after it is refused)."""
    rows = list(rows)
    out = ReturnDiff(len(rows))

    def col(fld: str) -> str:
        return column_of.get(fld, fld)

    for r in rows:
        current = now.get(r.code) if r.code else None
        item = facts.get(r.code) if r.code else None
        if current is None or item is None:
            out.refusals.append(Refusal(r.excel_row, col("code"),
                                        "no_code" if not r.code else "out_of_scope", r.code))
            continue
        for fld in COMPARED:
            f, n = getattr(r, fld), getattr(current, fld)
            if fld == "status" and f is None:
                continue
            if not _same(f, n):
                who, when = item.newer.get(HISTORY_FIELD.get(fld, fld), ("", ""))
                out.refusals.append(Refusal(r.excel_row, col(fld),
                                            "newer" if who else "not_progress",
                                            _shown(f), _shown(n), who, when))
        _progress(r, current, item, col("progress"), out)
        _measures(r, current, item, col("measures"), today, out)
    return out


def _progress(r: LedgerRow, current: LedgerRow, item: ItemFacts, column: str,
              out: ReturnDiff) -> None:
    cell, shown = r.progress, current.progress
    if _same_text(cell, shown):
        return          # unchanged (a cut or a U+FFFD stand-in of the stored text included)
    refuse = None
    if not item.may_progress:
        refuse = "not_assigned"
    elif cell.endswith(TRUNCATION_MARK):
        refuse = "cut"
    elif "\ufffd" in cell and has_xml_forbidden(item.progress):
        refuse = "control"
    elif "progress" in item.newer:
        who, when = item.newer["progress"]
        out.refusals.append(Refusal(r.excel_row, column, "newer", cell, item.progress,
                                    who, when))
        return
    if refuse:
        out.refusals.append(Refusal(r.excel_row, column, refuse, cell, shown))
        return
    out.changes.append(ReturnChange(r.excel_row, column, item.code, item.issue_id,
                                    "progress", item.progress, cell))


def _measures(r: LedgerRow, current: LedgerRow, item: ItemFacts, column: str,
              today: dt.date, out: ReturnDiff) -> None:
    mine, theirs = r.measures, current.measures
    if len(mine) != len(theirs) or len(theirs) != len(item.measures):
        out.refusals.append(Refusal(r.excel_row, column, "measures_changed",
                                    _lines(mine), _lines(theirs)))
        return
    for f, n, m in zip(mine, theirs, item.measures):
        if (f.title, f.owner, f.deadline) != (n.title, n.owner, n.deadline):
            who, when = item.newer.get(f"measure:{m.measure_id}", ("", ""))
            out.refusals.append(Refusal(r.excel_row, column,
                                        "newer" if who else "measures_changed",
                                        _line(f), _line(n), who, when))
            continue
        # A done mark without a date on a done measure keeps its date.
        redated = (f.done and n.done and f.completed_on is not None
                   and f.completed_on != n.completed_on)
        if f.done == n.done and not redated:
            continue
        why = None
        if not m.may_edit:
            why = "not_assigned"
        elif not item.measures_editable:
            why = "not_editable"
        elif f"measure:{m.measure_id}" in item.newer:
            who, when = item.newer[f"measure:{m.measure_id}"]
            out.refusals.append(Refusal(r.excel_row, column, "newer", _line(f), _line(n),
                                        who, when))
            continue
        day = None
        if f.done and not why:
            try:
                day = completion_day(f.completed_on, today).isoformat()
            except ValidationFailed:
                why = "completed_future"
        if why:
            out.refusals.append(Refusal(r.excel_row, column, why, _line(f), _line(n)))
            continue
        if redated:
            out.changes.append(ReturnChange(
                r.excel_row, column, item.code, item.issue_id, "measure_date",
                _shown(n.completed_on), day, m.measure_id, f.title, day))
            continue
        out.changes.append(ReturnChange(
            r.excel_row, column, item.code, item.issue_id,
            "measure_done" if f.done else "measure_undone", m.status,
            "done" if f.done else "doing", m.measure_id, f.title, day))


def _line(m: MeasureLine) -> str:
    parts = [m.title]
    if m.owner:
        parts.append(m.owner)
    if m.deadline:
        parts.append(m.deadline.isoformat())
    if m.done:
        parts.append(f"✓ {m.completed_on.isoformat()}" if m.completed_on else "✓")
    return " / ".join(parts)


def _lines(measures: tuple[MeasureLine, ...]) -> str:
    return "；".join(_line(m) for m in measures)
