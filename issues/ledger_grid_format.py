"""Ledger files to grids: .xlsx and .csv bytes as rows of raw cell values, with the merged
ranges and the formulas that have no saved result. Pure: bytes in, plain data out; every file
that cannot be read is refused as a whole (LedgerFileError, with a `reason`).

How a workbook is read (the round trip and the hostile-file tests rely on it):
- Sheets stream row by row through openpyxl's sheet parser (what its read-only mode uses),
  which cannot see merged cells, so the merged ranges are read from the sheet XML directly;
  merges are filled from their top-left cell, and a value hidden under a merge is dropped (as
  Excel shows the sheet).
- The zip is checked before openpyxl opens it: its size, each member's expansion (zip bombs)
  and the area of every merged range; openpyxl parses with defusedxml (entity bombs).
- A formula without a saved result is recorded (its cell and text) and refused only where its
  value is used, by the reader.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

import openpyxl
import openpyxl.xml

from audit.model import LedgerFileError

# openpyxl parses the sheet XML with defusedxml only when it is installed; without it a
# billion-laughs sheet would expand in memory.
assert openpyxl.xml.DEFUSEDXML is True, "defusedxml must be installed for ledger import"

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
# Whole zip, refused above this before openpyxl opens it. openpyxl writes CJK text as character
# references (&#21512;), so our own 100,000-row export expands to about 240 MB.
MAX_UNCOMPRESSED = 300 * 1024 * 1024
MAX_RATIO = 200                          # per member, for members above 1 MB uncompressed
ROW_SLACK = 50                           # title, header and footer rows allowed above max_rows

Progress = Callable[[str, int, int], None]


@dataclass
class Grid:
    """A sheet as rows of raw cell values (row 0 = Excel row 1), the merged-cell fills
    {(r, c): (value, range)}, the merged ranges (0-based, inclusive), and the formula cells
    without a saved result {(r, c): formula}."""

    rows: list[list[Any]]
    merged: dict[tuple[int, int], tuple[Any, str]]
    merge_ranges: list[tuple[int, int, int, int, str]]   # r0, c0, r1, c1 (0-based, inclusive)
    is_csv: bool
    warnings: list[str]
    uncached: dict[tuple[int, int], str] = field(default_factory=dict)
    # Sheets joined into one ledger: a row's number in the joined grid (Excel row as if one
    # sheet) → (its sheet, its Excel row in that sheet); empty for a single sheet.
    origin: dict[int, tuple[str, int]] = field(default_factory=dict)


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse an empty file or one above `max_bytes`."""
    if not data:
        raise LedgerFileError("the file is empty", reason="empty")
    if len(data) > max_bytes:
        raise LedgerFileError(
            f"the file is {len(data):,} bytes; the limit is {max_bytes:,}", size=len(data),
            limit=max_bytes)


def read_csv(data: bytes, max_rows: int, on_progress: Progress | None) -> Grid:
    """A CSV (UTF-8 or GB18030, comma, tab or semicolon) as a grid."""
    text = _decode(data)
    if "\x00" in text:
        raise LedgerFileError("the file is not a text CSV (it holds NUL bytes)", reason="binary")
    lines = text.splitlines()
    sample = [ln for ln in lines[:40] if ln.strip()]
    best, best_cols = ",", 0
    for delim in (",", "\t", ";"):
        cols = max((len(r) for r in csv.reader(sample, delimiter=delim)), default=0)
        if cols > best_cols:
            best, best_cols = delim, cols
    rows: list[list[Any]] = []
    try:
        for rec in csv.reader(io.StringIO(text, newline=""), delimiter=best):
            rows.append([c if c != "" else None for c in rec])
            if len(rows) > max_rows + ROW_SLACK:
                raise too_many(max_rows)
            if on_progress and len(rows) % 5000 == 0:
                on_progress("reading", len(rows), 0)
    except csv.Error as ex:
        raise LedgerFileError(f"the CSV cannot be read near line {len(rows) + 1}: {ex}",
                              line=len(rows) + 1) from None
    return Grid(rows, {}, [], True, [])


def _decode(data: bytes) -> str:
    # UTF-8 first: UTF-8 bytes decode silently (as nonsense) in GB18030, not the other way.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as ex:
        raise LedgerFileError(
            f"the CSV is neither UTF-8 nor GB18030/GBK (undecodable bytes at offset {ex.start}); "
            "save it as UTF-8 CSV", reason="encoding", offset=ex.start) from None


def too_many(max_rows: int) -> LedgerFileError:
    """The refusal of a ledger longer than `max_rows`."""
    return LedgerFileError(f"the ledger has more than {max_rows:,} rows; split it",
                           limit=max_rows, reason="rows")


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_MERGE_TAG = re.compile(
    rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3}[0-9]+(?::[A-Z]{1,3}[0-9]+)?)"')
_CELL = re.compile(rb"<c\b([^>]*?)(?<!/)>(.*?)</c>", re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_CELL_TYPE = re.compile(rb'\bt="([a-zA-Z]+)"')
_CACHED = re.compile(rb"<(?:\w+:)?v>[^<]")
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*>(.*?)</(?:\w+:)?f>", re.S)


def _open_xlsx_zip(data: bytes) -> tuple[zipfile.ZipFile, int]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise LedgerFileError("the file is not an Excel .xlsx workbook", reason="type") from None
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise LedgerFileError("the file is not an Excel .xlsx workbook (a zip without a "
                              "workbook)", reason="type")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise LedgerFileError(
                f"member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
                "-fold: refused as a zip bomb", reason="zip_bomb", member=info.filename)
    if total > MAX_UNCOMPRESSED:
        raise LedgerFileError(f"the workbook expands to {total:,} bytes; the limit is "
                              f"{MAX_UNCOMPRESSED:,}", reason="zip_bomb", size=total)
    return zf, total


def _sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → zip member of its XML, from workbook.xml and its relationships."""
    from defusedxml import ElementTree as SafeET
    try:
        book = SafeET.fromstring(zf.read("xl/workbook.xml"))
        rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception as ex:  # a damaged or hostile workbook part
        raise LedgerFileError(f"the workbook cannot be opened: {type(ex).__name__}: {ex}",
                              reason="corrupt") from None
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out: dict[str, str] = {}
    for sheet in book.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"):
        rid = sheet.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        target = targets.get(rid, "")
        out[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") \
            else "xl/" + target
    return out


def _scan_sheet(zf: zipfile.ZipFile, member: str) -> tuple[bool, list[str]]:
    """(has formulas, merged ranges) of a sheet, streamed: read-only mode cannot see merges."""
    has_formulas = False
    merges: set[str] = set()
    tail = b""
    try:
        with zf.open(member) as f:
            while chunk := f.read(1 << 20):
                buf = tail + chunk
                has_formulas = has_formulas or bool(_FORMULA_TAG.search(buf))
                merges.update(m.decode() for m in _MERGE_TAG.findall(buf))
                tail = buf[-256:]
    except KeyError:
        raise LedgerFileError(f"the workbook lacks its sheet {member!r}",
                              reason="corrupt") from None
    except (zipfile.BadZipFile, OSError, EOFError) as ex:
        raise LedgerFileError(f"the workbook is damaged: {ex}", reason="corrupt") from None
    return has_formulas, sorted(merges)


MAX_MERGE_CELLS = 1_000_000


def _check_merge_area(coord: str) -> None:
    from openpyxl.worksheet.cell_range import CellRange
    rng = CellRange(coord)
    area = (rng.max_row - rng.min_row + 1) * (rng.max_col - rng.min_col + 1)
    if area > MAX_MERGE_CELLS:
        raise LedgerFileError(f"merged cells {coord} cover {area:,} cells; unmerge them",
                              reason="merge", range=coord)


def _uncached_formulas(xml: bytes) -> dict[tuple[int, int], str]:
    """Formula cells whose result was never saved: {(row, col) 0-based: formula}. A cached
    empty string (t="str" with an empty <v>) is a result, not a missing one."""
    from openpyxl.utils import column_index_from_string
    out: dict[tuple[int, int], str] = {}
    for attrs, body in _CELL.findall(xml):
        if not _FORMULA_TAG.search(body) or _CACHED.search(body):
            continue
        t = _CELL_TYPE.search(attrs)
        if t and t.group(1) == b"str":
            continue
        ref = _CELL_REF.search(attrs)
        if not ref:
            continue
        text = _FORMULA_TEXT.search(body)
        formula = "=" + (text.group(1).decode("utf-8", "replace") if text else "")
        out[(int(ref.group(2)) - 1, column_index_from_string(ref.group(1).decode()) - 1)] = \
            formula
    return out


def read_xlsx(data: bytes, max_rows: int, on_progress: Progress | None) -> Grid:
    """The active (or first visible) worksheet of an .xlsx as a grid."""
    return read_xlsx_sheets(data, max_rows, on_progress, every=False)[0][1]


def read_xlsx_sheets(data: bytes, max_rows: int, on_progress: Progress | None,
                     every: bool = True) -> list[tuple[str, Grid]]:
    """(name, grid) of every visible worksheet, the active one first and then the others in
    the workbook's order (`every`), or of the active one only; hidden sheets are never
    read."""
    zf, _ = _open_xlsx_zip(data)
    paths = _sheet_paths(zf)
    # Scan before openpyxl parses any sheet: the merged ranges come from this scan (openpyxl's
    # streaming reader cannot see them), and a merge such as A1:XFD1048576 is refused here.
    scans = {name: _scan_sheet(zf, member) for name, member in paths.items()}
    for has_f, coords in scans.values():
        for coord in coords:
            _check_merge_area(coord)
    book = _Book(data)
    picked = [book.pick_sheet()]
    if every:
        # The active sheet first (a workbook opened on its ledger, a summary sheet before it),
        # then the other visible worksheets in the workbook's order.
        picked += [(n, m) for n, state, m, ws in book.sheets
                   if ws and state == "visible" and (n, m) != picked[0]]
    out = []
    total = 0
    for name, member in picked:
        grid = _xlsx_grid(zf, book, member, scans.get(name, (False, [])), max_rows - total,
                          on_progress)
        total += len(grid.rows)
        out.append((name, grid))
    return out


def _xlsx_grid(zf: zipfile.ZipFile, book: "_Book", member: str,
               scan: tuple[bool, list[str]], max_rows: int,
               on_progress: Progress | None) -> Grid:
    has_formulas, coords = scan
    rows = book.rows(member, max(max_rows, 0), on_progress)
    merged: dict[tuple[int, int], tuple[Any, str]] = {}
    ranges: list[tuple[int, int, int, int, str]] = []
    from openpyxl.worksheet.cell_range import CellRange
    # Clip to the cells that exist: a garbage merge such as A1:XFD1048576 must not explode.
    width = max((len(r) for r in rows), default=0)
    for coord in coords:
        rng = CellRange(coord)
        r0, c0, r1, c1 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
        ranges.append((r0, c0, r1, c1, coord))
        top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            for c in range(c0, min(c1, width - 1) + 1):
                if (r, c) != (r0, c0):
                    merged[(r, c)] = (top, coord)
                    if c < len(row):
                        row[c] = None   # hidden under the merge, as Excel shows it
    uncached = _uncached_formulas(zf.read(member)) if has_formulas else {}
    return Grid(rows, merged, ranges, False, [], uncached)


class _Book:
    """An .xlsx opened with openpyxl's parts (shared strings, styles for dates, sheet list)
    and its sheets streamed row by row, as openpyxl's read-only mode does, but without
    load_workbook's first pass over every sheet to size it (a whole extra parse when the file
    has no <dimension>, as openpyxl-written files do not)."""

    def __init__(self, data: bytes):
        from openpyxl.reader.excel import ExcelReader
        from openpyxl.styles.stylesheet import apply_stylesheet
        try:
            reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            # (name, state, member, is a worksheet) in the workbook's order.
            self.sheets = [(sheet.name, sheet.state or "visible", rel.target,
                            "chartsheet" not in rel.Type)
                           for sheet, rel in reader.parser.find_sheets()
                           if rel.target in reader.valid_files]
        except Exception as ex:  # openpyxl raises many types on malformed or hostile parts
            raise LedgerFileError(f"the workbook cannot be opened: {type(ex).__name__}: {ex}",
                                  reason="corrupt") from None
        self.reader = reader
        self.wb = reader.wb

    def pick_sheet(self) -> tuple[str, str]:
        """(name, zip member) of the active worksheet if visible, else the first visible one."""
        candidates = [s for s in self.sheets if s[3] and s[1] == "visible"]
        if not candidates:
            raise LedgerFileError("the workbook has no visible worksheet", reason="no_sheet")
        index = self.wb._active_sheet_index
        active = self.sheets[index] if 0 <= index < len(self.sheets) else None
        name, _, member, _ = active if active in candidates else candidates[0]
        return name, member

    def rows(self, member: str, max_rows: int, on_progress: Progress | None
             ) -> list[list[Any]]:
        """The sheet's cell values, row 0 = Excel row 1, each row as long as its last cell."""
        WorkSheetParser = _sheet_parser()
        wb = self.wb
        rows: list[list[Any]] = []
        limit = max_rows + ROW_SLACK
        try:
            with self.reader.archive.open(member) as src:
                parser = WorkSheetParser(src, self.reader.shared_strings, data_only=True,
                                         epoch=wb.epoch, date_formats=wb._date_formats,
                                         timedelta_formats=wb._timedelta_formats)
                for idx, cells in parser.parse():
                    if idx > limit:
                        raise too_many(max_rows)
                    while len(rows) < idx - 1:
                        rows.append([])          # rows missing from the file
                    values: list[Any] = [None] * (cells[-1]["column"] if cells else 0)
                    for cell in cells:
                        values[cell["column"] - 1] = cell["value"]
                    rows.append(values)
                    if on_progress and len(rows) % 5000 == 0:
                        on_progress("reading", len(rows), 0)
        except LedgerFileError:
            raise
        except Exception as ex:  # a damaged or hostile sheet part
            raise LedgerFileError(f"the workbook cannot be opened: {type(ex).__name__}: {ex}",
                                  reason="corrupt") from None
        return rows


def read_calamine(data: bytes, ext: str, max_rows: int) -> list[tuple[str, Grid]]:
    """(name, grid) of every visible worksheet of an .xls (Excel 97–2003) or .ods workbook,
    read by python-calamine (merged ranges included where the format records them)."""
    import python_calamine
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [m.name for m in book.sheets_metadata
                  if str(m.visible).endswith("Visible") and str(m.typ).endswith("WorkSheet")]
    except Exception as ex:  # calamine raises its own error types on damaged files
        raise LedgerFileError(f"the .{ext} workbook cannot be opened: {ex}",
                              reason="corrupt") from None
    if not sheets:
        raise LedgerFileError("the workbook has no visible worksheet", reason="no_sheet")
    out = []
    limit = max_rows + ROW_SLACK
    for name in sheets:
        try:
            sheet = book.get_sheet_by_name(name)
            raw = sheet.to_python(skip_empty_area=False)
            merges = getattr(sheet, "merged_cell_ranges", None) or []
        except LedgerFileError:
            raise
        except Exception as ex:
            raise LedgerFileError(f"the .{ext} workbook cannot be opened: {ex}",
                                  reason="corrupt") from None
        if len(raw) > limit:
            raise too_many(max_rows)
        rows = [[None if v == "" else v for v in r] for r in raw]
        for r in rows:
            while r and r[-1] is None:
                r.pop()
        merged: dict[tuple[int, int], tuple[Any, str]] = {}
        ranges: list[tuple[int, int, int, int, str]] = []
        from openpyxl.utils import get_column_letter
        for (r0, c0), (r1, c1) in merges:
            coord = f"{get_column_letter(c0 + 1)}{r0 + 1}:{get_column_letter(c1 + 1)}{r1 + 1}"
            _check_merge_area(coord)
            ranges.append((r0, c0, r1, c1, coord))
            top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
            for r in range(r0, min(r1, len(rows) - 1) + 1):
                for c in range(c0, c1 + 1):
                    if (r, c) != (r0, c0):
                        merged[(r, c)] = (top, coord)
                        if c < len(rows[r]):
                            rows[r][c] = None
        out.append((name, Grid(rows, merged, ranges, False, [])))
    return out


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def inline_text(node: Any) -> str:
    """The text of an inline string element (<is>) exactly as openpyxl gives it
    (Text.from_tree(node).content: the plain <t>, then each run's <t>; phonetic runs left out),
    without building openpyxl's rich-text objects: a third of the reading time of a sheet
    written by openpyxl, which writes all its text inline."""
    plain, runs = None, []
    for el in node:
        tag = _local(el.tag)
        if tag == "t":
            plain = el.text
        elif tag == "r":
            t = None
            for sub in el:
                if _local(sub.tag) == "t":
                    t = sub.text
            if t is not None:
                runs.append(t)
    return "".join(runs) if plain is None else plain + "".join(runs)


_PARSER: list[type] = []


def _sheet_parser() -> type:
    """openpyxl's sheet parser with inline strings read by `inline_text`."""
    if _PARSER:
        return _PARSER[0]
    from openpyxl.utils import coordinate_to_tuple
    from openpyxl.worksheet._reader import FORMULA_TAG, INLINE_STRING, WorkSheetParser

    class _Parser(WorkSheetParser):
        def parse_cell(self, element):  # noqa: D102 (openpyxl's, for t="inlineStr")
            if element.get("t") != "inlineStr" or (
                    not self.data_only and element.find(FORMULA_TAG) is not None):
                return super().parse_cell(element)
            style_id = element.get("s", 0)
            if style_id:
                style_id = int(style_id)
            coordinate = element.get("r")
            if coordinate:
                row, column = coordinate_to_tuple(coordinate)
                self.col_counter = column
            else:
                self.col_counter += 1
                row, column = self.row_counter, self.col_counter
            value, data_type = None, "inlineStr"
            child = element.find(INLINE_STRING)
            if child is not None:
                value, data_type = inline_text(child), "s"
            return {"row": row, "column": column, "value": value, "data_type": data_type,
                    "style_id": style_id}

    _PARSER.append(_Parser)
    return _Parser
