"""Writing the 整改台账: the workbook's layout checked by reopening it with openpyxl, and the
round trip write_ledger → read_ledger giving back equal rows for any rows."""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import replace
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issues.ledger_format import LedgerRow, MeasureLine
from issues.ledger_write_format import COLUMNS, STATUS_COLUMN
from tests.ledger_factory import read_ledger, vocabulary, write_ledger

FOCUS_POINTS = vocabulary().focus_codes

AS_OF = dt.date(2026, 11, 27)


def sample_rows(n: int = 3) -> list[LedgerRow]:
    base = LedgerRow(
        excel_row=3, code="001", category="合同管理", aspect="合同签订", title="=SUM(A1:A9)",
        description="外包合同未签订。\n第二行\t制表", audit_name="集团公司2024年外包专项审计",
        audit_year=2024, audit_level="group", report_no="2024-07", unit="包头",
        responsible="张三", supervisor="李四",
        measures=(MeasureLine("完成合同清理", "张三", dt.date(2026, 12, 31), True),
                  MeasureLine("建立台账")),
        deadline=dt.date(2026, 12, 31), progress="+已完成一半", status="in_progress",
        warning="red", amount=1234.5, rectification_type="staged", basis="@依据",
        recommendation="-建议", streams=("cleanup", "audit"), focus=("F1", "F5"),
        causes=("制度缺失", "监督不力"), closed_on=None)
    colours = ["red", "amber", "green", None]
    return [replace(base, excel_row=3 + i, code=f"{i + 1:03d}", warning=colours[i % 4])
            for i in range(n)]


def export(rows, tmp_path, **kw) -> bytes:
    path = tmp_path / "ledger.xlsx"
    kw.setdefault("title", "外包专项审计整改台账")
    kw.setdefault("as_of", AS_OF)
    write_ledger(rows, path, **kw)
    return path.read_bytes()


@pytest.fixture
def sheet(tmp_path):
    data = export(sample_rows(4), tmp_path, anchor=(1234, "ab12" * 16))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return wb, wb.worksheets[0]


def test_writer_puts_title_with_as_of_date_above_header(sheet):
    _, ws = sheet
    assert ws["A1"].value == "外包专项审计整改台账（截至2026年11月27日）"
    assert [c.value for c in ws[2]][:6] == ["序号", "问题编号", "问题类别", "问题方面",
                                           "问题摘要", "问题描述"]
    assert len(COLUMNS) == 31


def test_writer_freezes_panes_below_header(sheet):
    assert sheet[1].freeze_panes == "A3"


def test_writer_sets_auto_filter_over_header_and_rows(sheet):
    assert sheet[1].auto_filter.ref == "A2:AE6"


def test_writer_validates_status_column_from_hidden_list_sheet(sheet):
    wb, ws = sheet
    (dv,) = ws.data_validations.dataValidation
    col = openpyxl.utils.get_column_letter(STATUS_COLUMN)
    assert dv.type == "list" and str(dv.sqref) == f"{col}3:{col}6"
    assert dv.formula1 == "=lists!$A$1:$A$5"
    lists = wb["lists"]
    assert lists.sheet_state == "hidden"
    assert [r[0] for r in lists.iter_rows(values_only=True)] == [
        "未启动", "整改中", "待验收", "已销号", "特殊原因终结"]


def test_writer_fills_warning_cells_by_colour(sheet):
    _, ws = sheet
    col = [c[0] for c in COLUMNS].index("warning") + 1
    cells = [ws.cell(row=r, column=col) for r in range(3, 7)]
    assert [c.value for c in cells] == ["红", "黄", "绿", None]
    assert [c.fill.fgColor.rgb[-6:] for c in cells[:3]] == ["FFC7CE", "FFEB9C", "C6EFCE"]
    assert cells[3].fill.fill_type is None


def test_writer_keeps_codes_and_report_numbers_as_text(sheet):
    _, ws = sheet
    for r in range(3, 7):
        for c in (2, 10):
            cell = ws.cell(row=r, column=c)
            assert cell.data_type == "s" and cell.number_format == "@"
    assert ws["B3"].value == "001"


def test_writer_neutralises_formulas(sheet):
    _, ws = sheet
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    assert ws["E3"].value == "'=SUM(A1:A9)"


def test_writer_wraps_long_text_and_sets_widths(sheet):
    _, ws = sheet
    assert ws["F3"].alignment.wrap_text
    assert ws.column_dimensions["F"].width == 40


def test_writer_puts_the_history_anchor_in_the_properties_not_in_a_row(tmp_path):
    # Issue 22: readers of the sheet never see a hash; verify --against reads the property.
    from audit.anchor_format import anchor_from_document
    data = export(sample_rows(2), tmp_path, anchor=(77, "f" * 64))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    assert wb.properties.identifier == f"anchor:77:{'f' * 64}"
    assert ws.max_row == 4 and not any("f" * 64 in str(c.value) for r in ws.iter_rows()
                                       for c in r if c.value)
    assert anchor_from_document(tmp_path / "ledger.xlsx") == (77, "f" * 64)
    parsed = read_ledger(data, "ledger.xlsx")
    assert parsed.skipped == [] and len(parsed.rows) == 2


def test_the_ledger_prints_on_a4_landscape_one_page_wide_with_titles_and_page_numbers(sheet):
    wb, ws = sheet
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows in ("1:2", "$1:$2")
    assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
    title = ws["A1"]
    assert title.alignment.horizontal == "center" and "A1:" in str(ws.merged_cells)
    header = ws["B2"]
    assert header.fill.fgColor.rgb.endswith("D9E1F2") and header.border.bottom.style == "thin"
    assert header.font.name == "宋体" and header.alignment.wrap_text
    # The grid prints whole: printed gridlines for every cell, borders on every written one.
    assert ws.print_options.gridLines
    body = [ws.cell(row=3, column=c) for c in range(1, len(COLUMNS) + 1)]
    written = [c for c in body if c.value is not None]
    assert len(written) > len(COLUMNS) // 2
    assert all(c.border.left.style == "thin" and c.font.name == "宋体" for c in written)
    # A row whose measures take two lines is tall enough to show them.
    assert ws.row_dimensions[3].height and ws.row_dimensions[3].height >= 27


def test_the_long_reference_columns_are_folded_and_still_read_back(sheet, tmp_path):
    _, ws = sheet
    folded = {c[0] for i, c in enumerate(COLUMNS, 1)
              if ws.column_dimensions[openpyxl.utils.get_column_letter(i)].hidden}
    assert {"description", "basis", "recommendation"} <= folded and "measures" not in folded
    rows = sample_rows(2)
    parsed = read_ledger(export(rows, tmp_path), "ledger.xlsx")
    assert parsed.rows[0].description == rows[0].description


def test_writer_replaces_xml_forbidden_characters(tmp_path):
    rows = [replace(sample_rows(1)[0], description="a\x00b\x1fc")]
    parsed = read_ledger(export(rows, tmp_path), "ledger.xlsx")
    assert parsed.rows[0].description == "a\ufffdb\ufffdc"


def test_writer_writes_english_headers_the_reader_recognises(tmp_path):
    rows = sample_rows(3)
    data = export(rows, tmp_path, lang="en", title="Ledger")
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["A1"].value == "Ledger (as of 2026-11-27)"
    assert ws["R2"].value == "Status" and ws["R3"].value == "In progress"
    assert read_ledger(data, "ledger.xlsx").rows == rows


def test_export_then_import_gives_equal_rows(tmp_path):
    rows = sample_rows(5)
    assert read_ledger(export(rows, tmp_path), "ledger.xlsx").rows == rows


def test_writer_reports_progress_on_a_large_export(tmp_path):
    rows = [replace(sample_rows(1)[0], excel_row=3 + i, code=f"X{i}") for i in range(4000)]
    seen = []
    data = export(rows, tmp_path, on_progress=lambda *a: seen.append(a))
    assert seen[-1] == ("writing", 4000, 4000) and ("writing", 2000, 4000) in seen
    assert len(data) > 10_000


@pytest.mark.parametrize("text", ["_x000D_", "'=1", "''-1", "'", "\r", "a\r\nb", " x ",
                                  "\t=1", "@", "-"])
def test_tricky_text_round_trips_exactly(tmp_path, text):
    rows = [replace(sample_rows(1)[0], description=text, progress=text, warning=None)]
    assert read_ledger(export(rows, tmp_path), "ledger.xlsx").rows == rows


# --- the round-trip property ----------------------------------------------------------------------

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_chars = st.one_of(
    st.sampled_from("合同外包审计整改问题单位（）()；;：:、，,.。 =+-@'\t12"),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
).filter(lambda c: not _XML_FORBIDDEN.match(c))
long_text = st.text(_chars, max_size=30)
short_text = long_text.map(str.strip)
line_text = short_text.map(lambda s: re.sub(r"[\r\n]", "", s).strip())
owner_text = line_text.map(lambda s: re.sub(r"[()（）;；:：]", "", s).strip())
dates = st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31))

measures = st.builds(
    MeasureLine,
    title=line_text.filter(bool),
    owner=st.none() | owner_text.filter(bool),
    deadline=st.none() | dates,
    done=st.booleans(),
)
cause = line_text.map(lambda s: re.sub(r"[;；]", "", s).strip()).filter(bool)


@st.composite
def ledger_rows(draw) -> list[LedgerRow]:
    n = draw(st.integers(1, 4))
    codes = draw(st.lists(short_text, min_size=n, max_size=n,
                          unique_by=lambda s: s or object()))
    out = []
    for i in range(n):
        out.append(LedgerRow(
            excel_row=3 + i,
            code=codes[i],
            category=draw(short_text), aspect=draw(short_text),
            title=draw(short_text.filter(bool)), description=draw(long_text),
            audit_name=draw(short_text), audit_year=draw(st.none() | st.integers(1990, 2100)),
            audit_level=draw(st.sampled_from([None, "group", "regional"])),
            report_no=draw(short_text), unit=draw(short_text),
            responsible=draw(short_text), supervisor=draw(short_text),
            measures=tuple(draw(st.lists(measures, max_size=3))),
            deadline=draw(st.none() | dates), progress=draw(long_text),
            status=draw(st.sampled_from([None, "not_started", "in_progress", "submitted",
                                         "closed", "ended"])),
            warning=draw(st.sampled_from([None, "red", "amber", "green", "blue"])),
            amount=draw(st.none() | st.decimals(0, 10**9, places=2).map(
                lambda d: float(Decimal(d)))),
            rectification_type=draw(st.sampled_from([None, "immediate", "staged",
                                                     "continuous"])),
            basis=draw(long_text), recommendation=draw(long_text),
            streams=draw(st.sampled_from([(), ("cleanup",), ("audit",), ("cleanup", "audit")])),
            focus=tuple(sorted(draw(st.sets(st.sampled_from(sorted(FOCUS_POINTS)))))),
            causes=tuple(draw(st.lists(cause, max_size=3))),
            closed_on=draw(st.none() | dates),
        ))
    return out


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=ledger_rows(), lang=st.sampled_from(["zh", "en"]))
def test_any_rows_round_trip_through_xlsx(tmp_path, rows, lang):
    out = io.BytesIO()
    write_ledger(rows, out, lang=lang, title="台账", as_of=AS_OF, anchor=(1, "0" * 64))
    assert read_ledger(out.getvalue(), "ledger.xlsx").rows == rows


def test_writer_accepts_dicts_of_row_fields(tmp_path):
    data = export([{"code": "A1", "title": "问题", "warning": "none"}], tmp_path)
    (got,) = read_ledger(data, "ledger.xlsx").rows
    assert (got.code, got.title, got.warning) == ("A1", "问题", None)
