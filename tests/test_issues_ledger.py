"""Reading field ledgers: every quirk offices send, and a corpus of bad files that must be refused
with a message naming the row, the column and the value (or the file-level reason)."""
from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from audit.messages import error_text
from audit.model import LedgerFileError, LedgerRowError
from issues import ledger_format as ledger
from issues import ledger_grid_format
from issues.ledger_format import (
    MeasureLine,
    format_measure_line,
    parse_mapping_arg,
    parse_measure_line,
)
from issues.ledger_grid_format import inline_text
from tests.ledger_factory import (
    HEADER,
    billion_laughs_xlsx,
    csv_bytes,
    field_ledger_xlsx,
    formula_with_cache_xlsx,
    formula_without_cache_xlsx,
    latin1_csv,
    read_ledger,
    renamed_exe,
    renamed_pdf,
    row,
    table,
    with_sheet_xml,
    xlsx_bytes,
    zip_bomb_xlsx,
)


def read_csv(rows, **kw):
    return read_ledger(csv_bytes(rows), "ledger.csv", **kw)


def read_xlsx(rows, merges=(), **kw):
    return read_ledger(xlsx_bytes(rows, merges), "ledger.xlsx", **kw)


# --- the field ledger as a whole ---------------------------------------------------------------

@pytest.fixture(scope="module")
def field() -> ledger.ParsedLedger:
    return read_ledger(field_ledger_xlsx(), "包头台账.xlsx")


def test_reader_finds_header_below_title_rows(field):
    assert field.header_row == 3
    assert [r.excel_row for r in field.rows] == [5, 6, 7, 8, 9]


def test_reader_combines_two_level_merged_header(field):
    assert field.header_map["整改情况/整改措施"] == "measures"
    assert field.header_map["整改情况/整改时限"] == "deadline"
    assert field.header_map["整改情况/整改进展"] == "progress"
    assert field.rows[0].progress == "已补签两份"


def test_reader_fills_merged_category_cells_down(field):
    assert [r.category for r in field.rows] == ["合同管理"] * 3 + ["安全管理"] * 2


def test_reader_skips_totals_blank_and_signature_rows(field):
    assert field.skipped == [(10, "totals"), (11, "blank"), (12, "signature")]


def test_reader_reads_every_date_form(field):
    assert [r.deadline for r in field.rows] == [
        dt.date(2026, 12, 31), dt.date(2024, 6, 30), dt.date(2026, 12, 31),
        dt.date(2026, 12, 31), dt.date(2026, 12, 31)]


def test_reader_multiplies_amounts_under_a_wan_yuan_header(field):
    assert [r.amount for r in field.rows] == [12000.0, 5000.0, None, 1200.0, 125000.0]


def test_reader_uses_a_single_text_column_for_title_and_description(field):
    assert field.rows[0].title == "外包合同未签订"
    assert field.rows[0].description == "外包合同未签订。涉及三家承包商"


def test_reader_splits_numbered_measure_lines(field):
    assert field.rows[0].measures == (
        MeasureLine("补签合同"), MeasureLine("建立台账", "李四", dt.date(2026, 12, 31)))
    assert field.rows[1].measures == (MeasureLine("追回多付款项"),)


def test_reader_maps_status_words(field):
    assert [r.status for r in field.rows] == [
        "in_progress", "not_started", "closed", "submitted", "closed"]


# --- single quirks -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (dt.datetime(2026, 12, 31, 0, 0), dt.date(2026, 12, 31)),
    (dt.date(2026, 12, 31), dt.date(2026, 12, 31)),
    (45473, dt.date(2024, 6, 30)),
    (45473.0, dt.date(2024, 6, 30)),
    ("2026-12-31", dt.date(2026, 12, 31)),
    ("2026/12/31", dt.date(2026, 12, 31)),
    ("2026.12.31", dt.date(2026, 12, 31)),
    ("2026年12月31日", dt.date(2026, 12, 31)),
    ("2026年1月5日", dt.date(2026, 1, 5)),
    ("2026-12-31 00:00:00", dt.date(2026, 12, 31)),
    ("20261231", dt.date(2026, 12, 31)),
    ("", None),
])
def test_reader_parses_date_forms(value, expected):
    assert ledger.parse_date(value, 5, "整改时限") == expected


@pytest.mark.parametrize("value, in_wan, expected", [
    (1200, False, 1200.0), ("1,234.50", False, 1234.5), ("1.2万", False, 12000.0),
    ("¥1200", False, 1200.0), ("12.5万元", False, 125000.0), (1.2, True, 12000.0),
    ("0.07", True, 700.0), ("", False, None), ("1200元", True, 1200.0),
])
def test_reader_parses_amount_forms(value, in_wan, expected):
    assert ledger.parse_amount(value, 5, "涉及金额", in_wan) == expected


@pytest.mark.parametrize("word, status", [
    ("未启动", "not_started"), ("未整改", "not_started"), ("整改中", "in_progress"),
    ("正在整改", "in_progress"), ("推进中", "in_progress"), ("部分整改", "in_progress"),
    ("待验收", "submitted"), ("已提交", "submitted"), ("已完成", "closed"), ("已整改", "closed"),
    ("已销号", "closed"), ("完成整改", "closed"), ("终结", "ended"), ("特殊原因终结", "ended"),
    ("In progress", "in_progress"), ("Closed", "closed"), ("not started", "not_started"),
])
def test_reader_maps_each_status_word(word, status):
    assert ledger.parse_status(word, 5, "整改状态") == status


def test_reader_takes_yes_in_a_struck_off_column_as_closed():
    header = ["问题编号", "问题描述", "是否销号"]
    parsed = read_csv([header, ["A1", "问题一", "是"], ["A2", "问题二", "否"]])
    assert [r.status for r in parsed.rows] == ["closed", None]


def test_reader_reads_gbk_csv():
    parsed = read_ledger(csv_bytes(table(row(1), row(2)), encoding="gbk"), "台账.csv")
    assert parsed.rows[0].unit == "包头"
    assert parsed.rows[1].code == "C1.1.2"


def test_reader_reads_utf8_csv_with_bom():
    parsed = read_ledger(csv_bytes(table(row(1)), bom=True), "台账.csv")
    assert parsed.header_map["序号"] == ""
    assert parsed.rows[0].code == "C1.1.1"


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_reader_sniffs_tab_and_semicolon_delimiters(delimiter):
    data = csv_bytes(table(row(1)), delimiter=delimiter)
    assert read_ledger(data, "台账.csv").rows[0].responsible == "张三"


def test_reader_fills_blank_category_cells_down_in_csv():
    parsed = read_csv(table(row(1), row(2, 问题类别=None, 问题方面=None), row(3, 问题类别="安全")))
    assert [r.category for r in parsed.rows] == ["合同管理", "合同管理", "安全"]
    assert [r.aspect for r in parsed.rows] == ["合同签订"] * 3


def test_reader_does_not_fill_down_other_columns_in_csv():
    parsed = read_csv(table(row(1), row(2, 责任人=None)))
    assert parsed.rows[1].responsible == ""


def test_reader_recognises_english_headers():
    header = ["Code", "Category", "Description", "Unit", "Deadline", "Status", "Amount (yuan)"]
    parsed = read_csv([header, ["X1", "Contracts", "No contract", "Baotou", "2026-12-31",
                                "In progress", "1,200"]])
    r = parsed.rows[0]
    assert (r.code, r.category, r.unit, r.status, r.amount) == (
        "X1", "Contracts", "Baotou", "in_progress", 1200.0)


def test_reader_applies_mapping_overrides():
    header = ["编号", "情况说明", "牵头部门", "备注"]
    rows = [header, ["A1", "合同未签", "财务部", "无"]]
    mapping = parse_mapping_arg("情况说明=description,牵头部门=unit,备注=")
    parsed = read_csv(rows, mapping=mapping)
    assert parsed.rows[0].description == "合同未签"
    assert parsed.rows[0].unit == "财务部"
    assert parsed.header_map["备注"] == ""
    assert parsed.unmapped_headers == []


def test_reader_lists_unmapped_headers():
    parsed = read_csv([["问题编号", "问题描述", "佐证材料"], ["A1", "x", "文件"]])
    assert parsed.unmapped_headers == ["佐证材料"]


def test_reader_prefers_responsible_unit_over_audited_unit():
    parsed = read_csv([["问题描述", "被审计单位", "责任单位"], ["x", "包头", "包头市分公司"]])
    assert parsed.rows[0].unit == "包头市分公司"
    assert parsed.unmapped_headers == ["被审计单位"]


def test_reader_reads_streams_focus_causes_level_and_type():
    header = ["问题描述", "工作组", "关注点", "问题根源", "审计项目", "整改类型", "预警"]
    parsed = read_csv([header, ["x", "外包专项审计整改、外包专项整治", "F3；外包单价与结算成本",
                                "制度缺失；监督不力\n考核缺位", "集团公司2024年外包审计",
                                "限期整改", "红灯"]])
    r = parsed.rows[0]
    assert r.streams == ("cleanup", "audit")
    assert r.focus == ("F1", "F3")
    assert r.causes == ("制度缺失", "监督不力", "考核缺位")
    assert r.audit_level == "group"
    assert r.rectification_type == "continuous"
    assert r.warning == "red"


def test_reader_keeps_control_characters_in_text():
    parsed = read_csv([["问题编号", "问题描述"], ["A1", "含\x07控制\x1f字符"]])
    assert parsed.rows[0].description == "含\x07控制\x1f字符"


def test_reader_undoes_formula_neutralisation_only_before_formula_prefixes():
    parsed = read_csv([["问题编号", "问题描述", "整改进展"],
                       ["A1", "'=SUM(A1)", "'不是公式"], ["A2", "''+1", "'"]])
    assert [(r.description, r.progress) for r in parsed.rows] == [
        ("=SUM(A1)", "'不是公式"), ("'+1", "'")]


def test_reader_reads_a_workbook_whose_first_sheet_is_hidden():
    data = xlsx_bytes(table(row(1)), extra_sheet_first=True)
    assert read_ledger(data, "x.xlsx").rows[0].code == "C1.1.1"


def test_reader_keeps_numeric_codes_as_text_without_decimals():
    parsed = read_xlsx(table(row(1, 问题编号=1001)))
    assert parsed.rows[0].code == "1001"


def test_reader_reports_progress_stages():
    seen = []
    read_csv(table(row(1), row(2)), on_progress=lambda s, d, t: seen.append((s, d, t)))
    assert ("checking", 2, 2) in seen
    assert seen[0][0] == "reading"


def test_mapping_argument_lists_valid_fields_for_unknown_names():
    with pytest.raises(LedgerFileError) as ex:
        parse_mapping_arg("问题=titel")
    assert "titel" in str(ex.value) and "description" in str(ex.value)


def test_mapping_argument_refuses_items_without_equals():
    with pytest.raises(LedgerFileError, match="header=field"):
        parse_mapping_arg("问题描述=description,责任单位")


# --- measure lines --------------------------------------------------------------------------------

@pytest.mark.parametrize("m", [
    MeasureLine("完成合同清理", "张三", dt.date(2026, 12, 31), True),
    MeasureLine("完成合同清理"),
    MeasureLine("建立台账", None, dt.date(2027, 1, 1)),
    MeasureLine("补签（第二批）"),
    MeasureLine("补签 (x)", "李四"),
    MeasureLine("1. 不是编号"),
    MeasureLine("完成合同清理", "张三", dt.date(2026, 12, 31), True, dt.date(2026, 11, 20)),
    MeasureLine("建立台账", None, None, True, dt.date(2026, 3, 1)),
])
def test_measure_line_format_and_parse_are_inverse(m):
    assert parse_measure_line(format_measure_line(m), 5, "整改措施") == m


def test_measure_line_has_the_documented_form():
    m = MeasureLine("完成合同清理", "张三", dt.date(2026, 12, 31), True)
    assert format_measure_line(m) == "完成合同清理（责任人：张三；时限：2026-12-31；已完成）"


def test_a_done_measure_line_carries_its_completion_date_after_the_done_mark():
    m = MeasureLine("完成合同清理", "张三", dt.date(2026, 12, 31), True, dt.date(2026, 11, 20))
    assert format_measure_line(m) == (
        "完成合同清理（责任人：张三；时限：2026-12-31；已完成：2026-11-20）")


@pytest.mark.parametrize("text", ["补签合同（done: 2026/11/20）", "补签合同（completed: 2026-11-20）",
                                  "补签合同（完成日期：2026年11月20日）"])
def test_a_completion_date_is_read_in_either_language_and_the_usual_date_forms(text):
    assert parse_measure_line(text, 5, "整改措施") == MeasureLine(
        "补签合同", done=True, completed_on=dt.date(2026, 11, 20))


def test_a_completion_date_that_is_no_date_names_the_row_and_column():
    with pytest.raises(LedgerRowError) as ex:
        parse_measure_line("补签合同（已完成：2026-02-30）", 7, "整改措施")
    assert (ex.value.row, ex.value.column, ex.value.reason) == (
        7, "整改措施", "ledger_row.completed_on")
    assert "完成日期不是有效日期" in error_text(ex.value, "zh")
    assert "not a date" in error_text(ex.value, "en")


def test_measure_line_keeps_an_unrelated_bracket_in_the_title():
    assert parse_measure_line("完成清理（2026年底前）", 5, "整改措施") == MeasureLine(
        "完成清理（2026年底前）")


# --- the corpus of bad files ---------------------------------------------------------------------

def _row_error(data, filename="ledger.csv", **kw) -> LedgerRowError:
    with pytest.raises(LedgerRowError) as ex:
        read_ledger(data, filename, **kw)
    return ex.value


def _file_error(data, filename="ledger.xlsx", **kw) -> LedgerFileError:
    with pytest.raises(LedgerFileError) as ex:
        read_ledger(data, filename, **kw)
    return ex.value


BAD_CELLS = [
    # (name, row overrides, column, value, words in the reason)
    ("impossible date", {"整改时限": "2026-02-30"}, "整改时限", "2026-02-30", "no such date"),
    ("impossible chinese date", {"整改时限": "2026年13月1日"}, "整改时限", "2026年13月1日",
     "no such date"),
    ("date text", {"整改时限": "年底前"}, "整改时限", "年底前", "not a date"),
    ("date year out of range", {"整改时限": "1899-01-01"}, "整改时限", "1899-01-01", "range"),
    ("unknown status", {"整改状态": "差不多了"}, "整改状态", "差不多了", "unknown status"),
    ("negative amount", {"涉及金额": "-100"}, "涉及金额", "-100", "negative"),
    ("text amount", {"涉及金额": "约一百万"}, "涉及金额", "约一百万", "not an amount"),
    ("amount nan", {"涉及金额": "NaN"}, "涉及金额", "NaN", "not an amount"),
    ("bad measure date", {"整改措施": "清理（时限：2026-02-30）"}, "整改措施",
     "2026-02-30", "no such date"),
    ("empty issue text", {"问题描述": None}, "问题描述", "", "empty"),
]


@pytest.mark.parametrize("name, over, column, value, reason", BAD_CELLS,
                         ids=[b[0] for b in BAD_CELLS])
def test_bad_cell_is_refused_naming_row_column_and_value(name, over, column, value, reason):
    data = csv_bytes(table(row(1), row(2, **over), title="整改台账"))
    err = _row_error(data)
    assert (err.row, err.column) == (4, column)
    assert value in str(err.value)
    assert reason in err.reason
    assert "row 4" in str(err) and column in str(err)


@pytest.mark.parametrize("header, value, reason", [
    ("审计年度", "1980", "out of range"),
    ("审计年度", "明年", "not a year"),
    ("审计层级", "街道", "audit level"),
    ("整改类型", "随便改", "unknown value"),
    ("工作组", "第三组", "work stream"),
    ("关注点", "F9", "focus point"),
    ("预警", "紫", "unknown value"),
    ("是否销号", "也许", "是 or 否"),
])
def test_bad_word_is_refused_naming_row_column_and_value(header, value, reason):
    data = csv_bytes([["问题编号", "问题描述", header], ["A1", "x", value]])
    err = _row_error(data)
    assert (err.row, err.column, err.value) == (2, header, value)
    assert reason in str(err)


def test_struck_off_contradicting_status_is_refused():
    data = csv_bytes([["问题描述", "整改状态", "是否销号"], ["x", "整改中", "是"]])
    err = _row_error(data)
    assert (err.row, err.column) == (2, "是否销号")


def test_duplicate_code_is_refused_naming_both_rows():
    err = _row_error(csv_bytes(table(row(1), row(2), row(3, 问题编号="C1.1.1"))))
    assert (err.row, err.column, err.value) == (4, "问题编号", "C1.1.1")
    assert "row 2" in err.reason


def test_formula_without_cached_value_is_refused_naming_the_cell():
    err = _row_error(formula_without_cache_xlsx(), "ledger.xlsx")
    assert (err.row, err.column, err.value) == (2, "涉及金额", "=100*12")
    assert "K2" in err.reason


def test_formula_with_a_cached_result_is_read_as_its_value():
    data = formula_with_cache_xlsx()
    assert read_ledger(data, "ledger.xlsx").rows[0].amount == 1200.0


def test_formula_in_a_skipped_totals_row_needs_no_cached_value():
    data = xlsx_bytes(table(row(1), ["合计", None, None, None, None, None, None, None, None,
                                     None, "=SUM(K2:K2)"]))
    assert len(read_ledger(data, "ledger.xlsx").rows) == 1


def test_reader_streams_workbooks_and_still_fills_merges():
    parsed = read_ledger(field_ledger_xlsx(), "包头台账.xlsx")
    assert [r.category for r in parsed.rows] == ["合同管理"] * 3 + ["安全管理"] * 2
    assert parsed.header_map["整改情况/整改措施"] == "measures"


def test_garbage_merge_over_the_whole_sheet_is_refused_quickly():
    # openpyxl itself would build every cell of such a merge, so write the range into the XML.
    data = xlsx_bytes(table(row(1)), merges=["A1:B1"])
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    data = with_sheet_xml(data, xml.replace(b'ref="A1:B1"', b'ref="A1:XFD1048576"'))
    err = _file_error(data)
    assert "A1:XFD1048576" in str(err)


def test_merge_across_different_fields_in_data_is_refused():
    data = xlsx_bytes(table(row(1), row(2)), merges=["E3:G3"])
    err = _row_error(data, "ledger.xlsx")
    assert err.row == 3 and "E3:G3" in err.reason and err.column == "问题描述"


def test_merge_spanning_header_and_data_is_refused():
    err = _file_error(xlsx_bytes(table(row(1), row(2)), merges=["C1:C3"]))
    assert "C1:C3" in str(err)


@pytest.mark.parametrize("name, data, filename, words", [
    ("empty file", b"", "ledger.xlsx", "empty"),
    ("empty csv", b"", "ledger.csv", "empty"),
    ("whitespace csv", b"\r\n\r\n  \r\n", "ledger.csv", "no rows"),
    ("header only", None, "ledger.csv", "no rows"),
    ("wrong headers", b"name,age\nzhang,3\n", "ledger.csv", "no header row"),
    ("no text column", "问题编号,责任单位,整改时限\nA1,包头,2026-12-31\n".encode(),
     "ledger.csv", "no issue text column"),
    ("two description columns", "问题编号,问题描述,存在问题\nA,x,y\n".encode(), "ledger.csv",
     "both mean description"),
    ("latin-1 csv", None, "ledger.csv", "neither UTF-8 nor GB18030"),
    ("renamed exe as xlsx", renamed_exe(), "ledger.xlsx", "not an Excel"),
    ("renamed exe as csv", renamed_exe(), "ledger.csv", ""),
    ("renamed pdf as xlsx", renamed_pdf(), "ledger.xlsx", "not an Excel"),
    ("xlsx named csv", None, "ledger.csv", "zip"),
    ("unknown extension", b"a,b\n", "ledger.docx", "unsupported file type"),
    ("old xls", b"\xd0\xcf\x11\xe0", "ledger.xls", ".xls"),
    ("zip without workbook", None, "ledger.xlsx", "without a workbook"),
    ("zip bomb", None, "ledger.xlsx", "zip bomb"),
    ("billion laughs", None, "ledger.xlsx", "cannot be opened"),
    ("oversize", b"x" * 2048, "ledger.csv", "limit"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "")
def test_bad_file_is_refused_with_a_file_level_reason(name, data, filename, words):
    import io
    import zipfile
    kw = {}
    if name == "header only":
        data = csv_bytes([HEADER])
    elif name == "latin-1 csv":
        data = latin1_csv()
    elif name == "xlsx named csv":
        data = xlsx_bytes(table(row(1)))
    elif name == "zip without workbook":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("readme.txt", "hello")
        data = buf.getvalue()
    elif name == "zip bomb":
        data = zip_bomb_xlsx()
    elif name == "billion laughs":
        data = billion_laughs_xlsx()
    elif name == "oversize":
        kw["max_bytes"] = 1024
    err = _file_error(data, filename, **kw)
    assert words in str(err)


def test_workbook_expanding_beyond_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(ledger_grid_format, "MAX_UNCOMPRESSED", 1000)
    err = _file_error(xlsx_bytes(table(row(1))))
    assert "expands to" in str(err) and "limit" in str(err)


def test_rows_beyond_the_limit_are_refused():
    data = csv_bytes(table(*(row(i) for i in range(1, 12))))
    err = _file_error(data, "ledger.csv", max_rows=10)
    assert "more than 10 rows" in str(err)


def test_rows_far_beyond_the_limit_are_refused_while_reading():
    data = csv_bytes(table(*(row(i) for i in range(1, 200))))
    seen = []
    err = _file_error(data, "ledger.csv", max_rows=10,
                      on_progress=lambda *a: seen.append(a))
    assert "more than 10 rows" in str(err) and not seen


def test_unknown_mapping_field_is_refused():
    err = _file_error(csv_bytes(table(row(1))), "ledger.csv", mapping={"问题描述": "nonsense"})
    assert "nonsense" in str(err)


def test_mapping_naming_a_missing_header_gives_a_warning():
    parsed = read_csv(table(row(1)), mapping={"不存在的列": "title"})
    assert any("不存在的列" in w for w in parsed.warnings)


def test_control_characters_in_a_status_cell_are_refused():
    err = _row_error(csv_bytes(table(row(1, 整改状态="整改\x07中"))))
    assert err.column == "整改状态" and err.value == "整改\x07中"


def test_codes_differing_only_by_surrounding_spaces_are_duplicates():
    err = _row_error(csv_bytes(table(row(1), row(2, 问题编号=" C1.1.1 "))))
    assert err.row == 3 and "row 2" in err.reason


def test_reader_counts_rows_as_excel_shows_them_across_gaps():
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    for c, h in enumerate(HEADER, 1):
        ws.cell(row=3, column=c, value=h)
    for c, v in enumerate(row(1), 1):
        ws.cell(row=7, column=c, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    parsed = read_ledger(buf.getvalue(), "ledger.xlsx")
    assert parsed.header_row == 3
    assert [r.excel_row for r in parsed.rows] == [7]
    assert parsed.skipped == [(4, "blank"), (5, "blank"), (6, "blank")]


def test_a_value_hidden_under_a_merged_range_is_not_read():
    # Excel shows only the top-left value of a merge; a value left in a covered cell (written
    # by another tool) must not appear in the import.
    col = chr(ord("A") + HEADER.index("问题类别"))
    data = xlsx_bytes(table(row(1), row(2, 问题类别="安全管理")))
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    merge = f'<mergeCells count="1"><mergeCell ref="{col}2:{col}3"/></mergeCells>'.encode()
    data = with_sheet_xml(data, xml.replace(b"</sheetData>", b"</sheetData>" + merge))
    parsed = read_ledger(data, "ledger.xlsx")
    assert [r.category for r in parsed.rows] == ["合同管理", "合同管理"]


@pytest.mark.parametrize("xml", [
    "<is><t>plain</t></is>",
    "<is><t xml:space='preserve'>  spaced\n text </t></is>",
    "<is><t/></is>",
    "<is></is>",
    "<is><r><rPr><b/></rPr><t>bold</t></r><r><t> and plain</t></r></is>",
    "<is><t>head</t><r><t>run</t></r><rPh sb='0' eb='1'><t>ルビ</t></rPh></is>",
    "<is><r><t/></r><r><t>x</t></r></is>",
    "<is><t>&#21512;&amp;&lt;同</t><t>last wins</t></is>",
])
def test_inline_strings_read_as_openpyxl_reads_them(xml):
    from openpyxl.cell.text import Text
    from openpyxl.xml.functions import fromstring
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    node = fromstring(xml.replace("<is>", f"<is xmlns='{ns}'>", 1))
    assert inline_text(node) == Text.from_tree(node).content
