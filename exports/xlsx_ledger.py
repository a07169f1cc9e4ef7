"""Writing the 整改台账 (remediation ledger) as .xlsx from plain LedgerRows: no database.

The file reads back with issues.ledger.read_ledger into equal rows, with one documented loss:
XML-forbidden control characters (U+0000–U+0008, U+000B, U+000C, U+000E–U+001F, U+FFFE/FFFF,
lone surrogates) cannot be stored in .xlsx and are written as U+FFFD. Text is neutralised
against formula injection with a leading apostrophe that the reader removes again.
"""
from __future__ import annotations

import datetime as dt
import os
from copy import copy
from typing import IO, Any, Callable, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from exports.sanitize import TRUNCATION_MARK, fit_excel_cell, xml_safe
from issues.ledger import (FOCUS_POINTS, LEVEL_LABELS, STATUS_LABELS, STREAMS, TYPE_LABELS,
                           WARNING_LABELS, LedgerRow, format_measures, neutralise)

Progress = Callable[[str, int, int], None]

# (field, Chinese header, English header, width, kind). The reader knows every header here.
COLUMNS: tuple[tuple[str, str, str, int, str], ...] = (
    ("serial", "序号", "No.", 6, "int"),
    ("code", "问题编号", "Code", 12, "code"),
    ("category", "问题类别", "Category", 14, "text"),
    ("aspect", "问题方面", "Aspect", 14, "text"),
    ("title", "问题摘要", "Summary", 24, "wrap"),
    ("description", "问题描述", "Description", 40, "wrap"),
    ("audit_name", "审计项目", "Audit project", 20, "wrap"),
    ("audit_year", "年度", "Year", 7, "int"),
    ("audit_level", "审计层级", "Audit level", 10, "level"),
    ("report_no", "报告文号", "Report no.", 16, "code"),
    ("unit", "责任单位", "Unit", 14, "text"),
    ("responsible", "责任人", "Responsible", 10, "text"),
    ("supervisor", "分管领导", "Supervisor", 10, "text"),
    ("rectification_type", "整改类型", "Rectification type", 11, "type"),
    ("measures", "整改措施", "Measures", 44, "measures"),
    ("deadline", "整改时限", "Deadline", 12, "date"),
    ("progress", "整改进展", "Progress", 36, "wrap"),
    ("status", "整改状态", "Status", 11, "status"),
    ("warning", "预警", "Warning", 7, "warning"),
    ("amount", "涉及金额（元）", "Amount (yuan)", 14, "amount"),
    ("streams", "工作组", "Work streams", 18, "streams"),
    ("focus", "关注点", "Focus points", 24, "focus"),
    ("causes", "问题根源", "Root causes", 28, "causes"),
    ("basis", "审计依据", "Basis", 28, "wrap"),
    ("recommendation", "审计建议", "Recommendation", 28, "wrap"),
    ("closed_on", "销号日期", "Closed on", 12, "date"),
)
STATUS_COLUMN = next(i for i, c in enumerate(COLUMNS) if c[0] == "status") + 1
WARNING_FILLS = {
    "red": PatternFill("solid", fgColor="FFC7CE"),
    "amber": PatternFill("solid", fgColor="FFEB9C"),
    "green": PatternFill("solid", fgColor="C6EFCE"),
    "blue": PatternFill("solid", fgColor="BDD7EE"),
}
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")
_LIST_SHEET = "lists"


def ledger_title(title: str, as_of: dt.date, lang: str = "zh") -> str:
    """The title line, e.g. 外包专项审计整改台账（截至2026年11月27日）."""
    if lang == "en":
        return f"{title} (as of {as_of.isoformat()})"
    return f"{title}（截至{as_of.year}年{as_of.month}月{as_of.day}日）"


def anchor_line(anchor: tuple[int, str], lang: str = "zh") -> str:
    """The footer naming the history anchor; the reader skips it like a signature row."""
    seq, digest = anchor
    if lang == "en":
        return f"Record anchor: seq={seq} hash={digest}"
    return f"记录锚点：seq={seq} hash={digest}"


def _text(value: str) -> str:
    # Export boundary: neutralise formulas, replace what XML cannot hold, and cut (visibly) what
    # one Excel cell cannot hold; the full text stays in the database.
    return fit_excel_cell(xml_safe(neutralise(value)))[0]


def cell_values(row: LedgerRow, serial: int, lang: str) -> list[Any]:
    """The cell values of one row, in COLUMNS order (strings already neutralised)."""
    out: list[Any] = []
    for fld, _, _, _, kind in COLUMNS:
        if fld == "serial":
            out.append(serial)
            continue
        v = getattr(row, fld)
        if kind in ("text", "wrap", "code"):
            out.append(_text(v) if v else None)
        elif kind == "int":
            out.append(v)
        elif kind == "date":
            out.append(v)
        elif kind == "amount":
            out.append(v)
        elif kind == "level":
            out.append(LEVEL_LABELS[lang][v] if v else None)
        elif kind == "type":
            out.append(TYPE_LABELS[lang][v] if v else None)
        elif kind == "status":
            out.append(STATUS_LABELS[lang][v] if v else None)
        elif kind == "warning":
            out.append(WARNING_LABELS[lang][v] if v and v != "none" else None)
        elif kind == "measures":
            out.append(_text(format_measures(v)) if v else None)
        elif kind == "streams":
            names = [STREAMS[s][0 if lang == "zh" else 1] for s in v]
            out.append("、".join(names) if lang == "zh" else "; ".join(names) or None)
        elif kind == "focus":
            names = [f"{c} {FOCUS_POINTS[c][0 if lang == 'zh' else 1]}" for c in v]
            out.append(("；" if lang == "zh" else "; ").join(names) or None)
        elif kind == "causes":
            out.append(_text("；".join(v)) if v else None)
        else:  # pragma: no cover - COLUMNS is fixed
            raise AssertionError(kind)
    return [None if x == "" else x for x in out]


def _proto(ws: Any, **style: Any) -> Any:
    cell = WriteOnlyCell(ws, None)
    for name, value in style.items():
        setattr(cell, name, value)
    return cell


def write_ledger(rows: Sequence[LedgerRow | dict[str, Any]],
                 out: str | os.PathLike[str] | IO[bytes], *, lang: str = "zh", title: str, as_of: dt.date, anchor: tuple[int, str] | None = None,
                 on_progress: Progress | None = None) -> int:
    """Write the ledger workbook to a path or binary file. Rows are LedgerRows (or dicts of their
    fields); each row's `warning` ('red', 'amber', 'green', 'blue', 'none' or None) picks the
    fill of its 预警 cell. Returns the number of cells cut to Excel's 32,767-character limit
    (each ends with TRUNCATION_MARK). Raises ValueError for a measure that cannot be written on
    one line."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账" if lang == "zh" else "Ledger")
    lists = wb.create_sheet(_LIST_SHEET)
    lists.sheet_state = "hidden"
    ncols = len(COLUMNS)
    last_col = get_column_letter(ncols)
    n = len(rows)
    header_row, first_data = 2, 3
    last_row = header_row + max(n, 1)

    # Sheet-level settings must be in place before the first row is streamed.
    for i, (_, _, _, width, _) in enumerate(COLUMNS, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = f"A{first_data}"
    ws.auto_filter.ref = f"A{header_row}:{last_col}{last_row}"
    status_col = get_column_letter(STATUS_COLUMN)
    labels = list(STATUS_LABELS[lang].values())
    dv = DataValidation(type="list", formula1=f"={_LIST_SHEET}!$A$1:$A${len(labels)}",
                        allow_blank=True, showErrorMessage=True)
    dv.add(f"{status_col}{first_data}:{status_col}{max(last_row, first_data)}")
    ws.data_validations.append(dv)
    ws.merged_cells.add(f"A1:{last_col}1")

    title_cell = WriteOnlyCell(ws, ledger_title(xml_safe(title), as_of, lang))
    title_cell.font = Font(bold=True, size=14)
    ws.append([title_cell])
    header_font = Font(bold=True)
    header = []
    for _, zh, en, _, _ in COLUMNS:
        c = WriteOnlyCell(ws, zh if lang == "zh" else en)
        c.font = header_font
        c.alignment = _WRAP
        header.append(c)
    ws.append(header)

    kinds = [c[4] for c in COLUMNS]
    # One styled prototype per kind; new cells copy its style array instead of assigning
    # Font/Alignment objects (each assignment hashes the style: the slow part of big exports).
    protos = {"code": _proto(ws, number_format="@"),
              "date": _proto(ws, number_format="yyyy-mm-dd"),
              "amount": _proto(ws, number_format="#,##0.00"),
              "wrap": _proto(ws, alignment=_WRAP)}
    protos["measures"] = protos["causes"] = protos["wrap"]
    warn_protos = {k: _proto(ws, fill=f) for k, f in WARNING_FILLS.items()}
    truncated = 0
    for i, row in enumerate(rows, 1):
        if isinstance(row, dict):
            row = LedgerRow(**{"excel_row": 0, **row})
        values = cell_values(row, i, lang)
        truncated += sum(isinstance(v, str) and v.endswith(TRUNCATION_MARK) for v in values)
        cells: list[Any] = []
        for kind, v in zip(kinds, values):
            if v is None:
                cells.append(None)
                continue
            proto = warn_protos.get(row.warning) if kind == "warning" else protos.get(kind)
            if proto is None:
                cells.append(v)
                continue
            c = WriteOnlyCell(ws, v)
            c._style = copy(proto._style)
            if kind == "code":
                # Keep codes text so 001 stays 001 and 2024-1 is never taken for a number.
                c.data_type = "s"
            cells.append(c)
        ws.append(cells)
        if on_progress and i % 2000 == 0:
            on_progress("writing", i, n)
    if anchor is not None:
        ws.append([anchor_line(anchor, lang)])

    for label in labels:
        lists.append([label])
    wb.save(out)
    if on_progress:
        on_progress("writing", n, n)
    return truncated


def rows_with_warnings(rows: Iterable[LedgerRow], warnings: Iterable[str | None]
                       ) -> list[LedgerRow]:
    """Rows with their `warning` replaced by computed colour keys (e.g. from warning_colour)."""
    from dataclasses import replace
    return [replace(r, warning=None if w in (None, "none") else w)
            for r, w in zip(rows, warnings, strict=True)]
