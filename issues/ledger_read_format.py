"""Reading a field ledger (整改台账) from .xlsx or .csv bytes into plain LedgerRows: the grid
(issues.ledger_grid_format), its header (issues.ledger_header_format), then each row's cells
through the value parsers (issues.ledger_format). Pure: no database; the programme's work
streams and focus points come in as a Vocabulary. Every refusal names the Excel row as the user
sees it, the column header and the value (LedgerRowError), or says why the file as a whole
cannot be read (LedgerFileError).

Blank category/aspect/audit cells inherit the value above only in .csv (where merges cannot be
expressed), so an .xlsx round trip stays exact; in .xlsx merged cells are filled from their
top-left cell. Totals, blank and signature rows are skipped and listed.
"""
from __future__ import annotations

import re
from typing import Any

from audit.model import LedgerFileError, LedgerRowError
from issues.ledger_format import (
    FILL_DOWN_FIELDS,
    LONG_TEXT,
    MAPPABLE_FIELDS,
    NO_WORDS,
    SHORT_TEXT,
    SIGNATURE_ROW,
    TOTALS_ROW,
    TYPE_WORDS,
    WARNING_WORDS,
    YES_WORDS,
    LedgerRow,
    ParsedLedger,
    Vocabulary,
    is_blank,
    parse_amount,
    parse_causes,
    parse_date,
    parse_focus,
    parse_level,
    parse_measures,
    parse_status,
    parse_streams,
    parse_word,
    parse_year,
    plain,
    plain_keep,
)
from issues.ledger_grid_format import (
    MAX_BYTES,
    MAX_ROWS,
    Grid,
    Progress,
    check_size,
    read_csv,
    read_xlsx,
    too_many,
)
from issues.ledger_header_format import Column, find_header, resolve_columns


def read_ledger(data: bytes, filename: str, *, vocabulary: Vocabulary,
                mapping: dict[str, str] | None = None, max_bytes: int = MAX_BYTES,
                max_rows: int = MAX_ROWS, on_progress: Progress | None = None) -> ParsedLedger:
    """Parse a ledger (.xlsx or .csv); its 工作组 and 关注点 cells name the `vocabulary`'s work
    streams and focus points. Raises LedgerFileError for the file as a whole and LedgerRowError
    for the first bad cell (row, column header and value)."""
    mapping = dict(mapping or {})
    for fld in mapping.values():
        if fld and fld not in MAPPABLE_FIELDS:
            raise LedgerFileError(f"unknown field {fld!r}; valid fields: "
                                  + ", ".join(MAPPABLE_FIELDS), field=fld)
    check_size(data, max_bytes)
    ext = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if ext == "xlsx" or ext == "xlsm":
        grid = read_xlsx(data, max_rows, on_progress)
    elif ext in ("csv", "txt", "tsv"):
        if data[:4] == b"PK\x03\x04":
            raise LedgerFileError("the file is a zip (Excel?) named as CSV", reason="type")
        grid = read_csv(data, max_rows, on_progress)
    elif ext == "xls":
        raise LedgerFileError("old .xls workbooks are not supported: save as .xlsx",
                              reason="type")
    else:
        raise LedgerFileError(f"unsupported file type {filename!r}: use .xlsx or .csv",
                              reason="type")
    while grid.rows and all(is_blank(v) for v in grid.rows[-1]):
        grid.rows.pop()
    if not grid.rows:
        raise LedgerFileError("the ledger holds no rows", reason="empty")
    if on_progress:
        on_progress("reading", len(grid.rows), len(grid.rows))
    header_r, data_start, columns = find_header(grid, mapping)
    warnings = list(grid.warnings)
    by_field, header_map, unmapped = resolve_columns(columns, mapping, warnings)
    if "title" not in by_field and "description" not in by_field:
        raise LedgerFileError("no issue text column (问题摘要 or 问题描述 / Summary or "
                              "Description) in the header row", reason="no_text_column",
                              headers=[c.shown for c in columns])
    for r0, c0, r1, c1, coord in grid.merge_ranges:
        if r0 < data_start <= r1:
            raise LedgerFileError(f"merged cells {coord} span the header and the data; "
                                  "unmerge them", reason="merge", range=coord)
    n_data = len(grid.rows) - data_start
    if n_data <= 0:
        raise LedgerFileError("the ledger has a header but no rows", reason="no_rows")
    if n_data > max_rows:
        raise too_many(max_rows)
    parser = _RowParser(grid, by_field, data_start, vocabulary)
    rows: list[LedgerRow] = []
    skipped: list[tuple[int, str]] = []
    seen_codes: dict[str, int] = {}
    for r in range(data_start, len(grid.rows)):
        excel_row = r + 1
        reason = parser.skip_reason(r)
        if reason:
            skipped.append((excel_row, reason))
            continue
        row = parser.parse(r)
        if row.code:
            if row.code in seen_codes:
                raise LedgerRowError(excel_row, by_field["code"].shown, row.code,
                                     f"duplicate code: also on row {seen_codes[row.code]}")
            seen_codes[row.code] = excel_row
        rows.append(row)
        if on_progress and len(rows) % 1000 == 0:
            on_progress("checking", r - data_start + 1, n_data)
    if on_progress:
        on_progress("checking", n_data, n_data)
    if not rows:
        raise LedgerFileError("the ledger has a header but no issue rows", reason="no_rows")
    return ParsedLedger(rows, header_map, unmapped, header_r + 1, skipped, warnings)


class _RowParser:
    """Turns grid rows into LedgerRows with the columns found in the header."""

    def __init__(self, grid: Grid, by_field: dict[str, Column], data_start: int,
                 vocabulary: Vocabulary):
        self.grid = grid
        self.vocabulary = vocabulary
        self.cols = by_field
        self.data_start = data_start
        self.above: dict[str, Any] = {}   # CSV fill-down of category/aspect/audit cells
        self.wide: dict[int, list[tuple[int, int, str]]] = {}
        for r0, c0, r1, c1, coord in grid.merge_ranges:
            if c1 > c0:
                for rr in range(max(r0, data_start), r1 + 1):
                    self.wide.setdefault(rr, []).append((c0, c1, coord))

    def raw(self, r: int, c: int) -> Any:
        row = self.grid.rows[r]
        v = row[c] if c < len(row) else None
        if v is None and (r, c) in self.grid.merged:
            v = self.grid.merged[(r, c)][0]
        return v

    def skip_reason(self, r: int) -> str | None:
        row = self.grid.rows[r]
        first = next((v for v in row if not is_blank(v)), None)
        if first is None:
            return "blank"
        text = plain(first)
        if TOTALS_ROW.match(text):
            return "totals"
        if SIGNATURE_ROW.match(text):
            return "signature"
        return None

    def value(self, r: int, fld: str) -> tuple[Any, str]:
        col = self.cols.get(fld)
        if col is None:
            return None, ""
        v = self.raw(r, col.index)
        if (r, col.index) in self.grid.uncached:
            from openpyxl.utils import get_column_letter
            raise LedgerRowError(r + 1, col.shown, self.grid.uncached[(r, col.index)],
                                 f"cell {get_column_letter(col.index + 1)}{r + 1} is a formula "
                                 "without a saved result; open the file in Excel, save it, and "
                                 "import again")
        if self.grid.is_csv and fld in FILL_DOWN_FIELDS:
            if is_blank(v):
                v = self.above.get(fld)
            else:
                self.above[fld] = v
        return v, col.shown

    def text(self, r: int, fld: str) -> str:
        v, _ = self.value(r, fld)
        if fld in LONG_TEXT:
            return plain_keep(v)
        return plain(v)

    def parse(self, r: int) -> LedgerRow:
        row = r + 1
        self._check_cross_merges(r)
        f: dict[str, Any] = {}
        for name in SHORT_TEXT | LONG_TEXT:
            f[name] = self.text(r, name)
        if "title" not in self.cols or "description" not in self.cols or not f["title"]:
            source = f["description"] or f["title"]
            if "description" not in self.cols:
                f["description"] = source
            if not f["title"]:
                f["title"] = _summary(source)
        if not f["title"] and not f["description"]:
            col = self.cols.get("description") or self.cols["title"]
            raise LedgerRowError(row, col.shown, "", "the issue text is empty")
        v, h = self.value(r, "audit_year")
        f["audit_year"] = parse_year(v, row, h)
        if "audit_level" in self.cols:
            v, h = self.value(r, "audit_level")
            f["audit_level"] = parse_level(v, row, h)
        else:
            # No level column: the audit's name usually says who ran it.
            name = f["audit_name"]
            f["audit_level"] = ("group" if "集团" in name else
                                "regional" if re.search(r"区分公司|自治区|省分公司", name) else None)
        v, h = self.value(r, "measures")
        f["measures"] = parse_measures(v, row, h)
        v, h = self.value(r, "deadline")
        f["deadline"] = parse_date(v, row, h)
        v, h = self.value(r, "closed_on")
        f["closed_on"] = parse_date(v, row, h)
        v, h = self.value(r, "status")
        f["status"] = parse_status(v, row, h)
        v, h = self.value(r, "struck_off")
        if not is_blank(v):
            yes = plain(v).lower()
            if yes in YES_WORDS:
                if f["status"] not in (None, "closed"):
                    raise LedgerRowError(row, h, v, f"struck off, but the status is "
                                         f"{f['status']}")
                f["status"] = "closed"
            elif yes not in NO_WORDS:
                raise LedgerRowError(row, h, v, "use 是 or 否")
        v, h = self.value(r, "warning")
        f["warning"] = parse_word(WARNING_WORDS, v, row, h, "红, 黄, 绿 or 蓝")
        v, h = self.value(r, "amount")
        col = self.cols.get("amount")
        f["amount"] = parse_amount(v, row, h, bool(col and col.in_wan))
        v, h = self.value(r, "rectification_type")
        f["rectification_type"] = parse_word(TYPE_WORDS, v, row, h, "立行立改, 分阶段整改 or 持续整改")
        v, h = self.value(r, "streams")
        f["streams"] = parse_streams(v, row, h, self.vocabulary)
        v, h = self.value(r, "focus")
        f["focus"] = parse_focus(v, row, h, self.vocabulary)
        v, h = self.value(r, "causes")
        f["causes"] = parse_causes(v)
        return LedgerRow(excel_row=row, **f)

    def _check_cross_merges(self, r: int) -> None:
        # A merge across columns that mean different fields would copy one value into both.
        for c0, c1, coord in self.wide.get(r, ()):
            fields = {col.shown: f for f, col in self.cols.items() if c0 <= col.index <= c1}
            if len(set(fields.values())) > 1:
                shown = next(iter(fields))
                raise LedgerRowError(r + 1, shown, self.raw(r, c0),
                                     f"cells {coord} are merged across the columns "
                                     f"{', '.join(fields)}; unmerge them")


def _summary(text: str, limit: int = 40) -> str:
    """A title from a description: its first sentence, at most `limit` characters."""
    first = re.split(r"[。！？!?；;\n]", text.strip(), maxsplit=1)[0].strip()
    return first[:limit]
