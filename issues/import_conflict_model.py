"""What a ledger import must not do to the database: revert a change made after the ledger was
exported, write a cell cut to Excel's limit over the whole text, or put U+FFFD where the stored
text holds control characters. Pure: the plan (issues.import_plan_model), the matched issues'
details and the history records since the file's anchor come in as plain data.

- A **conflict** is a cell the import would change whose stored value was changed after the
  anchor the workbook carries (its core property `identifier`, written by the export): the
  person who exported it did not see that change, so the file's value is stale. Each conflict is
  listed by row and column with the file's value, the value now, who changed it and when. It is
  applied only for a row the user chose ('file'); a row the user chose to keep ('keep') keeps
  the newer value and the rest of the row is applied; an import with a conflict nobody decided
  on is refused (ImportConflicts).
- A cell ending with TRUNCATION_MARK is the export's cut of a longer text: left as exported, it
  changes nothing (the whole text stays); edited, it is refused naming row and column (the whole
  text can only be edited in the app).
- The export writes U+FFFD for characters an .xlsx cannot hold (control characters): a cell
  equal to the export of the stored text changes nothing (the control characters stay); a cell
  that holds U+FFFD and differs from a stored text with control characters is refused naming
  row and column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from audit.model import AuditError, LedgerRowError
from audit.text_format import TRUNCATION_MARK, has_xml_forbidden, is_truncated_from, xml_safe
from issues.import_model import ImportPlan, RowPlan

FILE, KEEP = "file", "keep"   # a row's choice: the file's values, or the newer values now
Newer = dict[tuple[str, int, str], tuple[str, str, Any]]   # (entity, id, field) → (at, actor, new)

# Plan part → (history field of the issue, ledger column field).
_EDIT_FIELDS = {"aspect_id": ("aspect_id", "aspect"), "amount_involved": ("amount_involved",
                                                                          "amount")}
_ASSIGN_FIELDS = {"unit": ("unit_id", "unit"), "responsible": ("responsible_person_id",
                                                               "responsible"),
                  "supervisor": ("supervisor_person_id", "supervisor"),
                  "deadline": ("deadline", "deadline")}
_ASSIGN_CHANGE = {"unit": "unit", "responsible": "responsible_person_id",
                  "supervisor": "supervisor_person_id", "deadline": "deadline"}
_LINK_COLUMN = {"sources": "audit_name", "streams": "streams", "focus": "focus"}
_MEASURE_PARTS = {"owner": "owner_person_id", "deadline": "deadline", "done": "status"}
_TEXT_FIELDS = ("title", "description", "basis", "recommendation")


@dataclass(frozen=True)
class Conflict:
    """A ledger cell whose stored value changed after the file's anchor."""

    row: int
    column: str
    field: str
    file_value: Any
    value_now: Any
    changed_by: str
    changed_at: str
    choice: str | None = None     # FILE, KEEP or None (undecided)


class ImportConflicts(AuditError):
    """The ledger would revert changes made after it was exported, and no choice was made for
    their rows (issues.import_conflict_model)."""

    key = "error.import_conflicts"

    def __init__(self, conflicts: list[Conflict]):
        first = conflicts[0]
        rows = sorted({c.row for c in conflicts})
        super().__init__(
            f"{len(conflicts)} cell(s) on row(s) {', '.join(map(str, rows[:20]))} were changed "
            f"after this ledger was exported; first: row {first.row}, column {first.column!r}: "
            f"file {_short(first.file_value)!r}, now {_short(first.value_now)!r} "
            f"(changed by {first.changed_by} at {first.changed_at}); choose per row to keep "
            f"the newer values or take the file's",
            count=len(conflicts), rows=", ".join(map(str, rows[:20])), row=first.row,
            column=first.column, file_value=_short(first.file_value),
            value_now=_short(first.value_now), changed_by=first.changed_by,
            changed_at=first.changed_at)
        self.conflicts = conflicts


def _short(value: Any, limit: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Parts:
    """The parts of one row's plan, each with the history key it would change, the ledger
    column it came from and the FieldChange it shows as; and how to take one back out."""

    def __init__(self, p: RowPlan):
        self.p = p

    def __iter__(self) -> Iterator[tuple[tuple[str, int, str], str, str, Any]]:
        """(history key, column field, change field, plan key) of each part."""
        p, iid = self.p, self.p.issue
        for fld in p.edits:
            hist, col = _EDIT_FIELDS.get(fld, (fld, fld))
            yield ("issue", iid, hist), col, "aspect" if fld == "aspect_id" else fld, \
                ("edit", fld)
        for fld in p.links:
            yield ("issue", iid, fld), _LINK_COLUMN[fld], fld, ("link", fld)
        for key in p.assign:
            if key == "deadline" or p.assign[key] is not None:
                hist, col = _ASSIGN_FIELDS[key]
                yield ("issue", iid, hist), col, _ASSIGN_CHANGE[key], ("assign", key)
        if p.extend_to is not None:
            yield ("issue", iid, "deadline"), "deadline", "deadline", ("extend", None)
        for m in p.measures:
            if m.measure_id is None:
                continue
            for part, hist in _MEASURE_PARTS.items():
                if part in m.edit or (part == "done" and m.done):
                    label = {"owner": "owner", "deadline": "deadline", "done": "status"}[part]
                    yield ("measure", m.measure_id, hist), "measures", \
                        f"measure {m.title}: {label}", ("measure", (m.measure_id, part))
        if p.causes:
            yield ("issue", iid, "causes"), "causes", "causes", ("causes", None)
        if p.progress is not None:
            yield ("issue", iid, "progress"), "progress", "progress", ("progress", None)
        if p.moves:
            yield ("issue", iid, "status"), "status", "status", ("moves", None)

    def drop(self, part: tuple[str, Any], change_field: str) -> None:
        """Take one part out of the plan (the database keeps its value)."""
        p = self.p
        kind, key = part
        if kind == "edit":
            p.edits.pop(key, None)
        elif kind == "link":
            p.links.pop(key, None)
        elif kind == "assign":
            p.assign.pop(key, None)
        elif kind == "extend":
            p.extend_to = None
        elif kind == "measure":
            mid, what = key
            for m in p.measures:
                if m.measure_id == mid:
                    if what == "done":
                        m.done = False
                    else:
                        m.edit.pop(what, None)
            p.measures = [m for m in p.measures if m.measure_id is None or m.edit or m.done]
        elif kind == "causes":
            p.causes = []
        elif kind == "progress":
            p.progress = None
        elif kind == "moves":
            p.moves = []
            p.status_after = p.status_before
        p.changes = [c for c in p.changes if c.field != change_field]
        if not p.changes and not p.moves:
            p.action = "unchanged"


def hold_back_newer(plan: ImportPlan, newer: Newer, choices: dict[int, str],
                    column_of: dict[str, str]) -> list[Conflict]:
    """Find every cell of `plan` whose stored value changed after the file's anchor (`newer`:
    the last record of each (entity, id, field) since then) and take it out of the plan unless
    its row's choice is FILE. Returns the conflicts, each with its row's choice (None when
    undecided). `column_of`: a row field → the header the file shows for it."""
    out: list[Conflict] = []
    for p in plan.rows:
        if p.action != "update":
            continue
        parts = _Parts(p)
        found = []
        for key, col, change_field, part in list(parts):
            record = newer.get(key)
            if record is None:
                continue
            change = next((c for c in p.changes if c.field == change_field), None)
            at, actor, _new = record
            found.append((part, change_field, Conflict(
                p.excel_row, column_of.get(col, col), change_field,
                change.new if change else None, change.old if change else _new, actor, at,
                choices.get(p.excel_row))))
        if not found:
            continue
        for part, change_field, conflict in found:
            out.append(conflict)
            if conflict.choice != FILE:
                parts.drop(part, change_field)
                p.notes.append(f"{change_field}: changed by {conflict.changed_by} at "
                               f"{conflict.changed_at} after the export; the newer value kept")
    return out


def guard_cut_and_control(plan: ImportPlan, details: dict[int, dict],
                          column_of: dict[str, str]) -> None:
    """Keep the whole stored text where the file holds the export's cut of it or its U+FFFD
    stand-ins for control characters; raise LedgerRowError naming row and column where such a
    cell was edited (writing it would lose text)."""
    for p in plan.rows:
        if p.action != "update":
            for m in p.measures:
                _refuse_cut(p.excel_row, column_of.get("measures", "measures"), m.title)
            continue
        d = details.get(p.issue)
        if d is None:
            continue
        parts = _Parts(p)
        texts = [(("edit", f), f, p.edits[f]) for f in _TEXT_FIELDS
                 if isinstance(p.edits.get(f), str)]
        if p.progress is not None:
            texts.append((("progress", None), "progress", p.progress))
        for part, fld, value in texts:
            if _keeps_stored(p.excel_row, column_of.get(fld, fld), value, d.get(fld)):
                parts.drop(part, fld)
        for m in p.measures:
            if m.measure_id is None:
                _refuse_cut(p.excel_row, column_of.get("measures", "measures"), m.title)


def _keeps_stored(row: int, column: str, cell: str, stored: str | None) -> bool:
    """Is `cell` the export's form of `stored` (cut, or with U+FFFD for control characters),
    so that the stored text stays? Raises LedgerRowError for an edited cut or stand-in."""
    stored = stored or ""
    shown = xml_safe(stored)
    if cell.endswith(TRUNCATION_MARK):
        if is_truncated_from(cell, stored) or is_truncated_from(cell, shown):
            return True
        raise LedgerRowError(row, column, _short(cell),
                             "this cell was cut to Excel's 32,767-character limit on export "
                             f"(it ends with {TRUNCATION_MARK}); importing it would lose the "
                             "rest of the text: edit the whole text in the app")
    if "\ufffd" in cell and has_xml_forbidden(stored):
        if cell in (shown, shown.strip()):
            return True
        raise LedgerRowError(row, column, _short(cell),
                             "the stored text holds control characters that an Excel file "
                             "cannot carry (the export wrote U+FFFD for them); importing this "
                             "cell would replace them: edit this text in the app")
    return False


def _refuse_cut(row: int, column: str, text: str) -> None:
    if text.endswith(TRUNCATION_MARK):
        raise LedgerRowError(row, column, _short(text),
                             "this cell was cut to Excel's 32,767-character limit on export; "
                             "a cut text is not imported: edit it in the app")
