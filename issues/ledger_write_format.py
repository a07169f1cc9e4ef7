"""Writing the 整改台账 (remediation ledger) as .xlsx from plain LedgerRows: no database. Its
headers and cell words are the catalogue's (`ledger.*` keys); work streams and focus points are
named from the Vocabulary the caller read from the database.

The file reads back with issues.ledger_read_format.read_ledger into equal rows, with one documented loss:
XML-forbidden control characters (U+0000–U+0008, U+000B, U+000C, U+000E–U+001F, U+FFFE/FFFF,
lone surrogates) cannot be stored in .xlsx and are written as U+FFFD; importing the file keeps
the stored text wherever a cell is that export of it, and refuses a cell that would write U+FFFD
over control characters (issues.import_conflict_model). Text is neutralised
against formula injection with a leading apostrophe that the reader removes again.
"""
from __future__ import annotations

import datetime as dt
import os
from operator import attrgetter, itemgetter
from typing import IO, Any, Callable, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation

from audit.anchor_format import anchor_text
from audit.messages import LANGS, formatter, join_list, t
from audit.model import Status
from audit.text_format import (
    EXCEL_CELL_LIMIT,
    fit_excel_cell,
    has_xml_forbidden,
    xml_safe,
)
from issues.ledger_format import (
    AUDIT_LEVELS,
    RECTIFICATION_TYPES,
    WARNING_KEYS,
    LedgerRow,
    Vocabulary,
    format_measures,
    neutralise,
)

Progress = Callable[[str, int, int], None]

# (field, width, kind); the headers are the catalogue's ledger.col.<field>. The reader knows
# every header of every language.
_LAYOUT: tuple[tuple[str, int, str], ...] = (
    ("serial", 6, "int"),
    ("code", 12, "code"),
    ("category", 14, "text"),
    ("aspect", 14, "text"),
    ("title", 24, "wrap"),
    ("description", 40, "wrap"),
    ("audit_name", 20, "wrap"),
    ("audit_year", 7, "int"),
    ("audit_level", 10, "level"),
    ("report_no", 16, "code"),
    ("unit", 14, "text"),
    ("responsible", 10, "text"),
    ("supervisor", 10, "text"),
    ("rectification_type", 11, "type"),
    ("measures", 44, "measures"),
    ("deadline", 12, "date"),
    ("progress", 36, "wrap"),
    ("status", 11, "status"),
    ("warning", 7, "warning"),
    ("amount", 14, "amount"),
    ("amount_corrected", 13, "amount"),
    ("amount_recovered", 13, "amount"),
    ("accountability", 24, "accountability"),
    ("evidence", 22, "evidence"),
    ("streams", 18, "streams"),
    ("focus", 24, "focus"),
    ("causes", 28, "causes"),
    ("basis", 28, "wrap"),
    ("recommendation", 28, "wrap"),
    ("closed_on", 12, "date"),
    ("remarks", 18, "wrap"),
)
# (field, Chinese header, English header, width, kind)
COLUMNS: tuple[tuple[str, str, str, int, str], ...] = tuple(
    (f, t(f"ledger.col.{f}", "zh"), t(f"ledger.col.{f}", "en"), width, kind)
    for f, width, kind in _LAYOUT)
STATUS_COLUMN = next(i for i, c in enumerate(COLUMNS) if c[0] == "status") + 1
WARNING_FILLS = {
    "red": PatternFill("solid", fgColor="FFC7CE"),
    "amber": PatternFill("solid", fgColor="FFEB9C"),
    "green": PatternFill("solid", fgColor="C6EFCE"),
    "blue": PatternFill("solid", fgColor="BDD7EE"),
}
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")
# Printed as offices print a 台账: A4 landscape, fit to the page width, title and header rows on
# every page, page numbers, thin borders, a filled header, a CJK face (宋体 where Office runs;
# LibreOffice and WPS substitute their SC face).
_FONT_NAME = "宋体"
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_BODY_FONT = Font(name=_FONT_NAME, size=10)
_LINE_POINTS = 13.5  # one line of 10-point text
_MAX_ROW_POINTS = 409  # Excel's limit
# The long reference texts are grouped and folded (the + above the columns opens them): the
# printed page and the screen show the working columns; importing reads every column.
_FOLDED = ("description", "audit_name", "report_no", "streams", "focus", "causes", "basis",
           "recommendation")


def _lines(text: str, width: int) -> int:
    """How many lines `text` takes wrapped in a column `width` characters wide (a CJK
    character is about 2.4 wide: its UTF-8 length is three bytes against one; generous, as
    wrapping breaks before a word or a full-width bracket, and a cut line is worse than air)."""
    usable = max(width - 2, 1)
    total = 0
    for line in text.split("\n"):
        shown = int((len(line.encode("utf-8")) + len(line)) * 0.6)
        total += max(1, -(-shown // usable))
    return total
_LIST_SHEET = "lists"


def ledger_title(title: str, as_of: dt.date, lang: str = "zh") -> str:
    """The title line, e.g. 外包专项审计整改台账（截至2026年11月27日）."""
    return t("ledger.title", lang, title=title,
             date=t("ledger.date", lang, year=as_of.year, month=as_of.month, day=as_of.day))


_FIELDS = tuple(c[0] for c in COLUMNS[1:])          # everything after 序号, in order
_row_values = attrgetter(*_FIELDS)
_KIND = {c[0]: c[4] for c in COLUMNS}
_AT = {f: i for i, f in enumerate(_FIELDS)}
# Every column whose cell is text that came from the user (and so is neutralised and cut).
_TEXT_AT = tuple(i for i, f in enumerate(_FIELDS)
                 if _KIND[f] in ("text", "wrap", "code", "measures", "causes", "accountability",
                                 "evidence"))
_LABELLED = (("audit_level", "level", AUDIT_LEVELS),
             ("rectification_type", "type", RECTIFICATION_TYPES),
             ("status", "status", tuple(s.value for s in Status)),
             ("warning", "warning", WARNING_KEYS))
_MEASURES_AT, _CAUSES_AT = _AT["measures"], _AT["causes"]
_STREAMS_AT, _FOCUS_AT = _AT["streams"], _AT["focus"]
_ACCOUNTABILITY_AT, _EVIDENCE_AT = _AT["accountability"], _AT["evidence"]
# First characters after which `neutralise` may change a text (formula prefixes, apostrophe).
_NEUTRALISE_FIRST = frozenset("=+-@\t\r'")


# LedgerRow's fields (without excel_row) → COLUMNS order after 序号.
_LEDGER_FIELDS = tuple(f for f in LedgerRow.__dataclass_fields__ if f != "excel_row")
_fields_in_column_order = itemgetter(*(_LEDGER_FIELDS.index(f) for f in _FIELDS))
_WARNING_FIELD = _LEDGER_FIELDS.index("warning")


class Words:
    """What a row's cells print in one language: the catalogue's labels of statuses, types,
    levels and warning colours (by column), the separators, and the vocabulary's names of work
    streams and focus points. Made once per workbook, not per row."""

    def __init__(self, vocabulary: Vocabulary, lang: str):
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
        self.lang = lang
        self.labels = tuple((_AT[f], {v: t(f"ledger.{kind}.{v}", lang) for v in values})
                            for f, kind, values in _LABELLED)
        self.streams = {c: vocabulary.stream_name(c, lang) for c in vocabulary.stream_codes}
        self.focus = {c: f"{c} {vocabulary.focus_name(c, lang)}" for c in vocabulary.focus_codes}
        self.focus_sep = t("ledger.focus_sep", lang)
        # Templates as functions of their fields: t() without them would blank {person}.
        self.acc = {k: formatter(f"ledger.acc.{k}", lang) for k in ("person", "penalty",
                                                                    "not_applicable")}

    def accountability(self, records: tuple[tuple[bool, str, str, str, float], ...]) -> str:
        """The 责任追究 cell: one line per record, a penalty with its amount."""
        acc, lines = self.acc, []
        for not_applicable, person, action, reason, penalty in records:
            if not_applicable:
                lines.append(acc["not_applicable"](reason=reason))
            elif penalty:
                lines.append(acc["penalty"](person=person, action=action,
                                            amount=f"{penalty:,.2f}"))
            else:
                lines.append(acc["person"](person=person, action=action))
        return "\n".join(lines)


def _cells(row: LedgerRow, serial: int, words: Words) -> tuple[list[Any], int]:
    """The cell values of one row in COLUMNS order, and how many were cut to the cell limit."""
    values = list(_row_values(row))
    m = values[_MEASURES_AT]
    values[_MEASURES_AT] = format_measures(m) if m else None
    return _finish(values, serial, words, True)


def _field_cells(fields: tuple, serial: int, words: Words) -> tuple[list[Any], int]:
    """_cells for a row given as its fields (see write_ledger: measures as cell text, every
    text XML-safe)."""
    values = list(_fields_in_column_order(fields))
    values[_MEASURES_AT] = values[_MEASURES_AT] or None
    return _finish(values, serial, words, False)


def _finish(values: list[Any], serial: int, words: Words, scan: bool) -> tuple[list[Any], int]:
    """The cell values of a row from its field values in COLUMNS order after 序号 (the measures
    already as cell text): labels, joined lists and the export boundary. `scan`: a text may
    hold characters XML cannot."""
    c = values[_CAUSES_AT]
    values[_CAUSES_AT] = "；".join(c) if c else None
    a = values[_ACCOUNTABILITY_AT]
    values[_ACCOUNTABILITY_AT] = words.accountability(a) if a else None
    e = values[_EVIDENCE_AT]
    values[_EVIDENCE_AT] = "\n".join(e) if e else None
    for at, table in words.labels:
        v = values[at]
        values[at] = table[v] if v and v != "none" else None
    streams = words.streams
    values[_STREAMS_AT] = join_list([streams[s] for s in values[_STREAMS_AT]],
                                    words.lang) or None
    focus = words.focus
    values[_FOCUS_AT] = words.focus_sep.join([focus[f] for f in values[_FOCUS_AT]]) or None
    texts = [values[i] for i in _TEXT_AT]
    # Export boundary: neutralise formulas, replace what XML cannot hold, and cut (visibly) what
    # one Excel cell cannot hold; the full text stays in the database. One scan of the whole
    # row clears nearly every row of the per-cell replacement, and neutralise can only change a
    # text starting with one of a few characters.
    dirty = scan and has_xml_forbidden("".join(t for t in texts if t))
    cut = 0
    for i, v in zip(_TEXT_AT, texts):
        if not v:
            values[i] = None
            continue
        if v[0] in _NEUTRALISE_FIRST:
            v = neutralise(v)
        if dirty:
            v = xml_safe(v)
        if len(v) > EXCEL_CELL_LIMIT:
            v, _ = fit_excel_cell(v)
            cut += 1
        values[i] = v
    values.insert(0, serial)
    return values, cut


def cell_values(row: LedgerRow, serial: int, words: Words) -> list[Any]:
    """The cell values of one row, in COLUMNS order (strings already neutralised)."""
    return _cells(row, serial, words)[0]


class _StyledCell(Cell):
    """A cell styled once and then given one value after another (see write_ledger): its style
    id is looked up once, not hashed again for every value written."""

    __slots__ = ("_style_id",)

    @property
    def style_id(self) -> int:
        try:
            return self._style_id
        except AttributeError:
            self._style_id: int = self.parent.parent._cell_styles.add(self._style)
            return self._style_id


class _LedgerSheet(WriteOnlyWorksheet):
    """openpyxl's write-only sheet, taking a ready styled cell in a row without first trying it
    as a value: openpyxl's own `_values_to_row` binds every item as a value and falls back to
    the cell only after two exceptions, which cost more than writing the cell (a third of the
    time of a 40,000-row ledger). Plain values take openpyxl's path unchanged. openpyxl is
    pinned (requirements.txt); the round-trip and style tests cover this hook."""

    def _values_to_row(self, values: Iterable[Any], row_idx: int) -> Any:
        plain = WriteOnlyCell(self)
        for col_idx, value in enumerate(values, 1):
            if value is None:
                continue
            if value.__class__ is _StyledCell:
                cell = value
            else:
                cell = plain
                cell.value = value
            cell.column = col_idx
            cell.row = row_idx
            if cell.hyperlink is not None:
                cell.hyperlink.ref = cell.coordinate
            yield cell
            if cell is plain and (cell.has_style or cell.hyperlink):
                plain = WriteOnlyCell(self)


def _styled(ws: Any, value: Any = None, **style: Any) -> _StyledCell:
    """A cell of `ws` with the given style attributes (font, alignment, number_format, fill)."""
    cell = _StyledCell(ws, row=1, column=1, value=value)
    for name, v in style.items():
        setattr(cell, name, v)
    return cell


def write_ledger(rows: Sequence[LedgerRow | dict[str, Any]],
                 out: str | os.PathLike[str] | IO[bytes], *, vocabulary: Vocabulary,
                 lang: str = "zh", title: str, as_of: dt.date,
                 anchor: tuple[int, str] | None = None,
                 on_progress: Progress | None = None,
                 extra: tuple[list[str], list[list[str | None]]] | None = None) -> int:
    """Write the ledger workbook to a path or binary file, in `lang`, naming work streams and
    focus points from `vocabulary`. Rows are LedgerRows (or dicts of their
    fields); each row's `warning` ('red', 'amber', 'green', 'blue', 'none' or None) picks the
    fill of its 预警 cell. Returns the number of cells cut to Excel's 32,767-character limit
    (each ends with TRUNCATION_MARK). Raises ValueError for a measure that cannot be written on
    one line.

    `rows` may instead offer `field_tuples()` (as issues.ledger_views.GatheredRows does):
    each row's fields in LedgerRow order without excel_row, with the measures as their cell
    text (what format_measures gives) and every text already XML-safe; written exactly as the
    equal LedgerRows would be, without making them.

    `extra` (headers, one list of values per row) adds the office's own columns an import kept
    with the issues after the ledger's columns, so that nothing of its file is lost."""
    words = Words(vocabulary, lang)
    extra_headers, extra_values = extra or ([], [])
    wb = Workbook(write_only=True)
    ws = _LedgerSheet(wb, t("ledger.sheet", lang))
    wb._add_sheet(ws)
    lists = wb.create_sheet(_LIST_SHEET)
    lists.sheet_state = "hidden"
    ncols = len(COLUMNS)
    last_col = get_column_letter(ncols)
    n = len(rows)
    header_row, first_data = 2, 3
    last_row = header_row + max(n, 1)

    # Sheet-level settings must be in place before the first row is streamed.
    for i, (field_name, _, _, width, _) in enumerate(COLUMNS, 1):
        dim = ws.column_dimensions[get_column_letter(i)]
        dim.width = width
        if field_name in _FOLDED:
            dim.outline_level, dim.hidden = 1, True
    for i in range(len(extra_headers)):
        ws.column_dimensions[get_column_letter(ncols + 1 + i)].width = 18
    ws.sheet_properties.outlinePr.summaryRight = False
    ws.freeze_panes = f"A{first_data}"
    ws.auto_filter.ref = f"A{header_row}:{last_col}{last_row}"
    status_col = get_column_letter(STATUS_COLUMN)
    labels = [t(f"ledger.status.{s.value}", lang) for s in Status]
    dv = DataValidation(type="list", formula1=f"={_LIST_SHEET}!$A$1:$A${len(labels)}",
                        allow_blank=True, showErrorMessage=True)
    dv.add(f"{status_col}{first_data}:{status_col}{max(last_row, first_data)}")
    ws.data_validations.append(dv)
    ws.merged_cells.add(f"A1:{last_col}1")
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0  # one page wide, as many long
    ws.print_title_rows = f"1:{header_row}"
    ws.print_options.horizontalCentered = True
    # The grid prints whole from the print setup: empty cells stay unwritten (a third fewer cells).
    ws.print_options.gridLines = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top, ws.page_margins.bottom = 0.6, 0.6
    ws.oddFooter.center.text = t("ledger.page_footer", lang)
    ws.oddFooter.center.font = _FONT_NAME
    if anchor is not None:
        # In the properties, not in a row: readers of the sheet never see a hash.
        wb.properties.identifier = anchor_text(*anchor)
    wb.properties.title = ledger_title(xml_safe(title), as_of, lang)

    # The 16-point title in a default (15-point) row touched its borders when printed.
    ws.row_dimensions[1] = {"ht": "24", "customHeight": "1"}
    ws.append([_styled(ws, ledger_title(xml_safe(title), as_of, lang),
                       font=Font(name=_FONT_NAME, bold=True, size=16),
                       alignment=Alignment(horizontal="center", vertical="center"))])
    ws.row_dimensions.pop(1, None)
    header_font = Font(name=_FONT_NAME, bold=True, size=10)
    header_alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    headers = ([(t(f"ledger.col.{f}", lang), width) for f, _, _, width, _ in COLUMNS]
               + [(xml_safe(h), 18) for h in extra_headers])
    # A header wrapped in its column (已整改金额（元）) needs the row's height for its lines:
    # the printed sheet showed the second line over the border.
    header_lines = max(_lines(h, width) for h, width in headers)
    row_heights = ws.row_dimensions
    if header_lines > 1:
        row_heights[header_row] = {"ht": str(header_lines * _LINE_POINTS), "customHeight": "1"}
    ws.append([_styled(ws, t(f"ledger.col.{f}", lang), font=header_font,
                       alignment=header_alignment, fill=_HEADER_FILL, border=_BORDER)
               for f, *_ in COLUMNS]
              + [_styled(ws, neutralise(xml_safe(h)), font=header_font,
                         alignment=header_alignment, fill=_HEADER_FILL, border=_BORDER)
                 for h in extra_headers])
    row_heights.pop(header_row, None)

    # One styled cell per styled column (and per warning colour), reused on every row: a
    # write-only sheet serialises a row before append returns, so the cell is free again by
    # the next row. Building a cell and copying its style per value cost as much as writing it.
    # Codes keep the text format so 001 stays 001 and 2024-1 is never taken for a number.
    formats = {"code": {"number_format": "@"}, "date": {"number_format": "yyyy-mm-dd"},
               "amount": {"number_format": "#,##0.00"}, "wrap": {"alignment": _WRAP},
               "measures": {"alignment": _WRAP}, "causes": {"alignment": _WRAP},
               "accountability": {"alignment": _WRAP}, "evidence": {"alignment": _WRAP}}
    # Every body cell has the border and the font (and its column's format, top-aligned).
    styled_at = [(i, _styled(ws, font=_BODY_FONT, border=_BORDER,
                             **{"alignment": _TOP, **formats.get(kind, {})}))
                 for i, (_, _, _, _, kind) in enumerate(COLUMNS)]
    warning_at = [c[0] for c in COLUMNS].index("warning")
    wrapped_at = [(i, width) for i, (f, _, _, width, kind) in enumerate(COLUMNS)
                  if kind in ("wrap", "measures", "causes", "accountability", "evidence")
                  and f not in _FOLDED]
    warning_cells = {k: _styled(ws, fill=f, font=_BODY_FONT, border=_BORDER, alignment=_TOP)
                     for k, f in WARNING_FILLS.items()}
    truncated = 0
    append = ws.append
    field_tuples = getattr(rows, "field_tuples", None)
    for i, row in enumerate(rows if field_tuples is None else field_tuples(), 1):
        if field_tuples is not None:
            values, cut = _field_cells(row, i, words)
            warning = row[_WARNING_FIELD]
        else:
            if isinstance(row, dict):
                row = LedgerRow(**{"excel_row": 0, **row})
            values, cut = _cells(row, i, words)
            warning = row.warning
        truncated += cut
        lines = max([_lines(v, width) for at, width in wrapped_at
                     if (v := values[at]).__class__ is str] or [1])
        if lines > 1:
            # Row heights are written, not left to the reader: LibreOffice and Excel do not
            # fit rows of a generated sheet, and wrapped text would show one line.
            row_heights[header_row + i] = {"ht": str(min(lines * _LINE_POINTS, _MAX_ROW_POINTS)),
                                           "customHeight": "1"}
        warning_value = values[warning_at]
        for at, cell in styled_at:
            v = values[at]
            if v is not None:  # empty cells stay unwritten: a third more cells otherwise
                cell.value = v
                values[at] = cell
        if warning_value is not None and warning in warning_cells:
            cell = warning_cells[warning]
            cell.value = warning_value
            values[warning_at] = cell
        if extra_headers:
            values.extend(None if v is None else neutralise(xml_safe(v))
                          for v in extra_values[i - 1])
        append(values)
        row_heights.pop(header_row + i, None)
        if on_progress and i % 2000 == 0:
            on_progress("writing", i, n)

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
