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
from typing import Any, Callable

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
    LedgerQuestion,
    LedgerRow,
    ParsedLedger,
    Vocabulary,
    is_blank,
    located,
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
    read_calamine,
    read_csv,
    read_xlsx_sheets,
    too_many,
)
from issues.ledger_header_format import (
    Column,
    column_questions,
    find_header,
    header_signature,
    infer_columns,
    resolve_columns,
)
from issues.ledger_words_format import LocalWords, level_in_name, year_in_name


def read_ledger(data: bytes, filename: str, *, vocabulary: Vocabulary,
                mapping: dict[str, str] | None = None, max_bytes: int = MAX_BYTES,
                max_rows: int = MAX_ROWS, on_progress: Progress | None = None,
                values: dict[str, str] | None = None,
                profile: dict[str, str] | None = None,
                names: dict[str, frozenset[str]] | None = None) -> ParsedLedger:
    """Parse a ledger (.xlsx or .csv); its 工作组 and 关注点 cells name the `vocabulary`'s work
    streams and focus points. `mapping` (header → field, the user's) and `profile` (a saved
    one's) decide columns; `values` answers local words (LedgerQuestion.key → target). Columns
    and words it cannot tell with confidence come back as `questions`. Raises LedgerFileError
    for the file as a whole and LedgerRowError for the first bad cell (row, column header and
    value). `names`: the programme's unit and person names (normalised), by which a column
    whose header says nothing is recognised (issues.import_store.known_names)."""
    mapping = dict(mapping or {})
    for fld in mapping.values():
        if fld and fld not in MAPPABLE_FIELDS:
            raise LedgerFileError(f"unknown field {fld!r}; valid fields: "
                                  + ", ".join(MAPPABLE_FIELDS), field=fld)
    check_size(data, max_bytes)
    ext = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if ext == "xlsx" or ext == "xlsm":
        sheets = read_xlsx_sheets(data, max_rows, on_progress)
    elif ext in ("csv", "txt", "tsv"):
        if data[:4] == b"PK\x03\x04":
            raise LedgerFileError("the file is a zip (Excel?) named as CSV", reason="type")
        sheets = [("", read_csv(data, max_rows, on_progress))]
    elif ext in ("xls", "ods", "et"):
        sheets = read_calamine(data, ext, max_rows)
    else:
        raise LedgerFileError(f"unsupported file type {filename!r}: use .xlsx, .xls, .ods "
                              "or .csv", reason="type")
    grid, sheet_report, sheet_column = _one_ledger(sheets, mapping)
    if on_progress:
        on_progress("reading", len(grid.rows), len(grid.rows))
    header_r, data_start, columns = find_header(grid, mapping)
    warnings = list(grid.warnings)
    mappings = infer_columns(grid, data_start, columns, profile, names)
    if sheet_column is not None:
        mappings = _sheet_mapping(columns, mappings, sheet_column)
    by_field, header_map, unmapped = resolve_columns(columns, mappings, mapping, warnings)
    questions = column_questions(columns, mappings, header_r + 1)
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
    extra_cols = [c for c in columns if c.shown in set(unmapped)]
    parser = _RowParser(grid, by_field, data_start, vocabulary, dict(values or {}), extra_cols)
    rows: list[LedgerRow] = []
    skipped: list[tuple[int, str]] = []
    seen_codes: dict[str, int] = {}
    try:
        for r in range(data_start, len(grid.rows)):
            excel_row = r + 1
            reason = parser.skip_reason(r)
            if reason:
                skipped.append((excel_row, reason))
                continue
            row = parser.parse(r)
            if row.code:
                if row.code in seen_codes:
                    sheet, first = grid.origin.get(seen_codes[row.code],
                                                   ("", seen_codes[row.code]))
                    raise LedgerRowError(excel_row, by_field["code"].shown, row.code,
                                         "duplicate code: also on "
                                         + (f"sheet {sheet} row {first}" if sheet
                                            else f"row {first}"))
                seen_codes[row.code] = excel_row
            rows.append(row)
            if on_progress and len(rows) % 1000 == 0:
                on_progress("checking", r - data_start + 1, n_data)
    except LedgerRowError as err:
        there = located(err, grid.origin)
        if there is err:
            raise
        raise there from err
    if on_progress:
        on_progress("checking", n_data, n_data)
    if not rows:
        raise LedgerFileError("the ledger has a header but no issue rows", reason="no_rows")
    return ParsedLedger(rows, header_map, unmapped, header_r + 1, skipped, warnings,
                        mappings, questions + parser.questions(), parser.matched,
                        dict(parser.inferred), sheet_report,
                        header_signature([c for c in columns if c.shown != SHEET_HEADER]),
                        origin=grid.origin)


# --- workbooks as offices make them: one sheet per category or unit ------------------------------

INSTRUCTION_SHEET = re.compile(r"说明|填表|目录|封面|备注|readme|instruction|notes?$", re.I)
SHEET_HEADER = "工作表"


def _trimmed(grid: Grid) -> Grid:
    while grid.rows and all(is_blank(v) for v in grid.rows[-1]):
        grid.rows.pop()
    return grid


def _one_ledger(sheets: list[tuple[str, Grid]], mapping: dict[str, str]
                ) -> tuple[Grid, list[tuple[str, str]], int | None]:
    """The workbook's sheets as one ledger: instruction sheets (说明, 填表说明…) and sheets
    without a ledger header are skipped; the sheets with the first ledger sheet's header are
    joined (the active sheet first), their data rows numbered on through them, and a column
    工作表 holding each row's sheet name is added (its index returned) when more than one sheet
    is joined. Returns (grid, [(sheet, 'read' | why skipped)], sheet column)."""
    if len(sheets) == 1:
        grid = _trimmed(sheets[0][1])
        if not grid.rows:
            raise LedgerFileError("the ledger holds no rows", reason="empty")
        return grid, [(sheets[0][0], "read")] if sheets[0][0] else [], None
    report: list[tuple[str, str]] = []
    found: list[tuple[str, Grid, tuple[int, int, list[Column]]]] = []
    first_error: LedgerFileError | None = None
    for name, grid in sheets:
        grid = _trimmed(grid)
        if INSTRUCTION_SHEET.search(name):
            report.append((name, "instructions"))
            continue
        if not grid.rows:
            report.append((name, "empty"))
            continue
        try:
            header = find_header(grid, mapping)
        except LedgerFileError as ex:
            first_error = first_error or ex
            report.append((name, "no_header"))
            continue
        if found and header_signature(header[2]) != header_signature(found[0][2][2]):
            report.append((name, "other_header"))
            continue
        found.append((name, grid, header))
        report.append((name, "read"))
    if not found:
        raise first_error or LedgerFileError("the ledger holds no rows", reason="empty")
    base_name, base, (hr, start, cols) = found[0]
    if len(found) == 1:
        return base, report, None
    width = max(c.index for c in cols) + 1
    rows = [list(r[:width]) + [None] * (width - len(r[:width])) for r in base.rows]
    for r in range(hr, start):
        rows[r].append(SHEET_HEADER if r == hr else None)
    origin: dict[int, tuple[str, int]] = {}
    for r in range(start, len(rows)):
        rows[r].append(base_name)
        origin[r + 1] = (base_name, r + 1)
    merged = dict(base.merged)
    ranges = list(base.merge_ranges)
    uncached = dict(base.uncached)
    warnings = list(base.warnings)
    for name, grid, (g_hr, g_start, _) in found[1:]:
        shift = len(rows) - g_start
        for r in range(g_start, len(grid.rows)):
            row = list(grid.rows[r][:width])
            rows.append(row + [None] * (width - len(row)) + [name])
            origin[len(rows)] = (name, r + 1)
        for (r, c), v in grid.merged.items():
            if r >= g_start:
                merged[(r + shift, c)] = v
        for r0, c0, r1, c1, coord in grid.merge_ranges:
            if r0 >= g_start:
                ranges.append((r0 + shift, c0, r1 + shift, c1, f"{name}!{coord}"))
        for (r, c), v in grid.uncached.items():
            if r >= g_start:
                uncached[(r + shift, c)] = v
        warnings.extend(grid.warnings)
    return Grid(rows, merged, ranges, base.is_csv, warnings, uncached, origin), report, width


def _sheet_mapping(columns: list[Column], mappings: list, index: int) -> list:
    """The sheet-name column means the category when the header has none (one sheet per
    category), else the unit when it has none and the names look like units, else nothing."""
    from issues.ledger_infer_model import ColumnMapping
    taken = {m.field for m in mappings if m.field and not m.asked}
    out = []
    for col, m in zip(columns, mappings):
        if col.index == index:
            fld = None
            if "category" not in taken and "unit" in taken:
                fld = "category"
            elif "unit" not in taken:
                fld = "unit"
            elif "category" not in taken:
                fld = "category"
            m = ColumnMapping(col.shown, fld, 1.0 if fld else 0.0, "sheet")
        out.append(m)
    return out


class _RowParser:
    """Turns grid rows into LedgerRows with the columns found in the header."""

    def __init__(self, grid: Grid, by_field: dict[str, Column], data_start: int,
                 vocabulary: Vocabulary, answers: dict[str, str] | None = None,
                 extras: list[Column] | None = None):
        self.grid = grid
        self.vocabulary = vocabulary
        self.words = LocalWords(vocabulary, answers or {})
        self.matched = self.words.matched
        self.extras = extras or []
        self.inferred: dict[str, int] = {}
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

    def questions(self) -> list[LedgerQuestion]:
        """The local words this reading could not match with confidence."""
        return self.words.questions()

    def infer(self, what: str) -> None:
        self.inferred[what] = self.inferred.get(what, 0) + 1

    def word(self, fld: str, r: int, parse: Callable[[Any], Any]) -> Any:
        """A cell parsed by `parse`; a word it does not know matched in the office's terms
        (LocalWords), asked (None) when unsure, refused when nothing is near."""
        v, h = self.value(r, fld)
        try:
            return parse(v)
        except LedgerRowError as err:
            return self.words.resolve(fld, v, r + 1, h, err)

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
        name = f["audit_name"]
        if f["audit_year"] is None and "audit_year" not in self.cols and name:
            # No year column: the audit's name usually carries it (2021年…审计).
            f["audit_year"] = year_in_name(name)
            if f["audit_year"] is not None:
                self.infer("audit_year")
        if "audit_level" in self.cols:
            h = self.cols["audit_level"].shown
            f["audit_level"] = self.word("audit_level", r, lambda x: parse_level(x, row, h))
        elif name:
            # No level column: the audit's name usually says who ran it.
            f["audit_level"] = level_in_name(name)
            if f["audit_level"] is not None:
                self.infer("audit_level")
        v, h = self.value(r, "measures")
        f["measures"] = parse_measures(v, row, h)
        v, h = self.value(r, "deadline")
        f["deadline"] = parse_date(v, row, h)
        v, h = self.value(r, "closed_on")
        f["closed_on"] = parse_date(v, row, h)
        h = self.cols["status"].shown if "status" in self.cols else ""
        f["status"] = self.word("status", r, lambda x: parse_status(x, row, h))
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
        h = self.cols["warning"].shown if "warning" in self.cols else ""
        f["warning"] = self.word("warning", r, lambda x: parse_word(
            WARNING_WORDS, x, row, h, "红, 黄, 绿 or 蓝"))
        for fld in ("amount", "amount_corrected", "amount_recovered"):
            v, h = self.value(r, fld)
            col = self.cols.get(fld)
            f[fld] = parse_amount(v, row, h, bool(col and col.in_wan))
        h = self.cols["rectification_type"].shown if "rectification_type" in self.cols else ""
        f["rectification_type"] = self.word("rectification_type", r, lambda x: parse_word(
            TYPE_WORDS, x, row, h, "立行立改, 分阶段整改 or 持续整改"))
        for fld, parse_list in (("streams", parse_streams), ("focus", parse_focus)):
            v, h = self.value(r, fld)
            try:
                f[fld] = parse_list(v, row, h, self.vocabulary)
            except LedgerRowError as err:
                f[fld] = self.words.resolve_list(fld, v, row, h, err, parse_list)
        v, h = self.value(r, "causes")
        f["causes"] = parse_causes(v)
        if self.extras:
            f["extras"] = tuple((c.shown, t) for c in self.extras
                                if (t := plain_keep(self.raw(r, c.index)).strip()))
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
