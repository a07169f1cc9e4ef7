"""Gaps found by rendering the review pack and the Excel ledger (issue 22, audit22): each test
asserts what a reader of the printed page sees."""
from __future__ import annotations

import datetime as dt
import io
import shutil
from dataclasses import replace

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from audit import messages
from issues.ledger_write_format import COLUMNS
from tests.ledger_factory import write_ledger
from tests.test_exports_xlsx_ledger import AS_OF, sample_rows

ACCOUNTABILITY = ((True, "", "", "属于制度缺陷，经集体研究不涉及个人责任", 0.0),
                  (False, "王五", "通报批评", "", 1000.0),
                  (False, "赵六", "诫勉谈话", "", 0.0))


def _cell(tmp_path, lang: str, header_key: str) -> str:
    rows = [replace(sample_rows(1)[0], accountability=ACCOUNTABILITY)]
    path = tmp_path / f"ledger-{lang}.xlsx"
    write_ledger(rows, path, title="台账", as_of=AS_OF, lang=lang)
    ws = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).worksheets[0]
    header = [c.value for c in ws[2]]
    return ws.cell(3, header.index(messages.t(header_key, lang)) + 1).value


def test_the_ledger_accountability_cell_names_reason_person_action_and_penalty(tmp_path):
    # The templates were looked up without their fields, which blanked them: every record
    # printed as 不适用： or ：, whatever was recorded.
    assert "accountability" in [c[0] for c in COLUMNS]
    assert _cell(tmp_path, "zh", "ledger.col.accountability").split("\n") == [
        "不适用：属于制度缺陷，经集体研究不涉及个人责任",
        "王五：通报批评（经济处罚1,000.00元）",
        "赵六：诫勉谈话"]
    assert _cell(tmp_path, "en", "ledger.col.accountability").split("\n") == [
        "Not applicable: 属于制度缺陷，经集体研究不涉及个人责任",
        "王五: 通报批评 (penalty 1,000.00 yuan)",
        "赵六: 诫勉谈话"]


def test_charts_name_each_status_as_the_prose_and_tables_do():
    # The English pack's legend said Submitted where its prose said awaiting verification.
    from audit.model import Status
    for lang in messages.LANGS:
        for status in (s.value for s in Status):
            assert messages.t(f"chart.status.{status}", lang) == messages.t(f"status.{status}",
                                                                           lang), (lang, status)


def test_the_ledger_header_row_is_tall_enough_for_a_wrapped_header(tmp_path):
    # 已整改金额（元） wraps in its column; at one line's height its second line printed over
    # the border.
    from issues.ledger_write_format import _LINE_POINTS, _lines
    path = tmp_path / "ledger.xlsx"
    write_ledger(sample_rows(2), path, title="台账", as_of=AS_OF)
    ws = openpyxl.load_workbook(path).worksheets[0]
    header = [c.value for c in ws[2]]
    widths = [ws.column_dimensions[get_column_letter(i)].width
              for i in range(1, len(header) + 1)]
    wrapped = _lines("已整改金额（元）", widths[header.index("已整改金额（元）")])
    assert wrapped >= 2
    assert ws.row_dimensions[2].height >= wrapped * _LINE_POINTS
    assert ws.row_dimensions[1].height >= 16 * 1.4  # the 16-point title


def test_a_long_chinese_header_breaks_between_words_never_inside_one():
    from exports.docx_parts_format import header_lines, header_text
    # 逾期工作日 printed as 逾期工 / 作日, 源头措施（完成/总数） as …（完成/总 / 数）
    assert header_lines("逾期工作日") == ["逾期", "工作日"]
    assert header_lines("措施责任人") == ["措施", "责任人"]
    assert header_lines("源头措施（完成/总数）") == ["源头措施", "（完成/总数）"]
    assert header_lines("问题数") == ["问题数"]
    assert header_text("逾期工作日", 1.6) == "逾期\n工作日"
    assert header_text("逾期工作日", 4.0) == "逾期工作日"  # it fits: one line


def _narrow_table(tmp_path):
    from exports.docx_format import PackWriter
    w = PackWriter("zh", "页眉")
    headers = ["问题摘要", "逾期工作日", "状态", "整改期限", "涉及金额（元）"]
    rows = [["外包合同未经法律审核即签订" * 3, 19, "已销号", "2026-11-09", "1,648,398.31"]] * 3
    # Widths like those the pack asked for such columns; in them the cells printed 已销/号,
    # 2026-11-/09 and 1,648,398./31.
    w.table(headers, rows, [9.0, 1.2, 1.0, 1.5, 1.5])
    path = w.save(tmp_path / "t.docx")
    return path, headers, rows


def test_short_cells_and_headers_get_the_width_they_need_in_a_narrow_table(tmp_path):
    import docx
    from docx.oxml.ns import qn
    from exports.docx_parts_format import cell_min_cm, header_min_cm
    path, headers, rows = _narrow_table(tmp_path)
    table = docx.Document(str(path)).tables[0]
    widths = [int(g.get(qn("w:w"))) / (1440 / 2.54) for g in
              table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert [c.text for c in table.rows[0].cells][1] == "逾期\n工作日"
    for j, value in enumerate(rows[0]):
        assert widths[j] + 0.01 >= header_min_cm(headers[j])
        if j:
            assert widths[j] + 0.01 >= cell_min_cm(str(value)), headers[j]
    assert widths[0] >= 0.7 * 9.0  # the text column gives at most 30 % of its width


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_in_the_pdf_no_short_cell_or_header_is_broken_inside_a_word(tmp_path):
    from exports.pdf_io import convert_to_pdf
    from tests.pdf_tools import page_text
    path, _, _ = _narrow_table(tmp_path)
    lines = [line.split() for line in page_text(convert_to_pdf(path, tmp_path), 1).splitlines()]
    words = [w for line in lines for w in line]
    for whole in ("2026-11-09", "1,648,398.31", "已销号", "逾期", "工作日"):
        assert words.count(whole) >= 1, (whole, words)
    assert "逾期工" not in words and "作日" not in words


AS_OF_PACK = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def unit_pack(demo_path, tmp_path_factory):
    """包头's pack (the manager's scope: 7 issues) of the demo programme."""
    from audit.demo import demo_actor
    from audit.store.db import open_database
    from audit.views import scope_for
    from exports.pack_service import build_pack
    db = open_database(demo_path)
    out = tmp_path_factory.mktemp("unit") / "bt.docx"
    try:
        build_pack(db, scope_for(db, demo_actor(db, "manager")), out, as_of=AS_OF_PACK,
                   user="manager")
    finally:
        db.conn.close()
    return out


def test_a_short_attachment_list_splits_instead_of_leaving_its_heading_alone(unit_pack):
    import docx
    from docx.oxml.ns import qn
    document = docx.Document(str(unit_pack))
    scope_lines = [p for p in document.paragraphs
                   if p.text.startswith("范围：") and p.style.name == "Table Text"]
    assert len(scope_lines) == 3 and all(p.paragraph_format.keep_with_next for p in scope_lines)
    attachments = [t for t in document.tables
                   if t.rows[0].cells[0].text == "编号"]
    assert len(attachments) == 3
    for table in attachments:
        n = len(table.rows) - 1
        assert 5 < n <= 20  # few rows: a body table of this size moves whole
        kept = [r._tr.find(f"{qn('w:tc')}/{qn('w:p')}/{qn('w:pPr')}/{qn('w:keepNext')}")
                is not None for r in table.rows[1:]]
        assert kept[:2] == [True, True] and not any(kept[2:n - 3]) and kept[-1] is False


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_in_the_pdf_each_attachment_heading_shares_its_page_with_rows(unit_pack, tmp_path):
    import re
    from exports.pdf_io import convert_to_pdf
    from tests.pdf_tools import page_count, page_text
    pdf = convert_to_pdf(unit_pack, tmp_path)
    headed = 0
    for page in range(1, page_count(pdf) + 1):
        text = page_text(pdf, page)
        if "....." not in text and re.search(r"^\s*附件\s*[123]\s", text, re.MULTILINE):
            headed += 1
            # the list's first issue code is on the heading's page
            assert re.search(r"\bC\d+\.\d+\.\d+\b", text), (page, text[:300])
    assert headed == 3


def test_a_picture_after_a_table_leaves_the_tables_bottom_border_visible(tmp_path):
    # Without space before it, LibreOffice drew figure 9 over the bottom border of table 7.
    import docx
    from docx.shared import Pt
    from exports.docx_format import PackWriter
    from tests.test_exports_docx_base import _png
    w = PackWriter("zh", "页眉")
    w.table(["问题根源", "未销号问题"], [["考核机制与结算脱节，奖惩不到位" * 2, 4]], [8.0, 2.0])
    w.picture(_png(400, 200), 12.0, caption="图1　问题根源排行")
    document = docx.Document(str(w.save(tmp_path / "p.docx")))
    body = list(document.element.body)
    after = body[[el.tag.endswith("}tbl") for el in body].index(True) + 1]
    picture = next(p for p in document.paragraphs if p._p is after)
    assert picture._p.xpath(".//w:drawing") and picture.paragraph_format.space_before >= Pt(6)


def test_heatmap_category_labels_wrap_between_words_to_fit_their_columns():
    # Eight categories across a printed heatmap ran into each other (外包合同管理外包商选择…).
    import json
    from audit import charts
    cats = ["外包合同管理", "外包商选择与退出", "外包费用结算", "服务质量与考核", "寄递安全管理",
            "外包人员管理", "系统与数据管理", "内部控制与监督"]
    rows = [{"unit": "包头市分公司", "category": c, "open": 1, "overdue": 0} for c in cats]
    spec = charts.heatmap_unit_category(rows, "open", "zh").to_dict()
    axis = next(layer["encoding"]["x"]["axis"] for layer in spec["layer"]
                if "x" in layer.get("encoding", {})) if "layer" in spec else \
        spec["encoding"]["x"]["axis"]
    expr = axis["labelExpr"]
    lines = json.loads(expr[expr.index("(") + 1:expr.rindex(")")])
    per_line = charts.HEATMAP_LABEL_CHARS // len(cats)
    assert lines["外包合同管理"] == ["外包合同", "管理"]
    for c in cats:
        assert "".join(lines[c]) == c and all(len(x) <= per_line for x in lines[c])
    assert charts.word_lines("逾期工作日", 3) == ["逾期", "工作日"]


def test_the_focus_chart_says_when_an_issue_is_counted_under_several_focus_points(
        demo_path, tmp_path):
    # 五大关注点整改进度 showed 47 issues' worth of bars for 38 issues with no word of it.
    import re
    import docx
    from audit.store.db import open_database
    from audit.views import figures, scope_for
    from exports.pack_service import build_pack
    db = open_database(demo_path)
    try:
        out = tmp_path / "pack.docx"
        build_pack(db, scope_for(db, None), out, as_of=AS_OF_PACK, lang="zh", user="admin")
        issues = figures(db, scope_for(db, None), AS_OF_PACK)["issues"]
        links = db.conn.execute("SELECT COUNT(*), COUNT(DISTINCT issue_id) FROM issue_focus"
                                ).fetchone()
    finally:
        db.conn.close()
    assert links[0] > links[1] == issues  # the demo has issues under two focus points
    caption = next(p.text for p in docx.Document(str(out)).paragraphs
                   if re.match(r"图\d+\s+五大关注点整改进度", p.text))
    match = re.search(r"在各关注点各计一次：合计(\d+)个，问题(\d+)个", caption)
    assert match and int(match.group(1)) == links[0] and int(match.group(2)) == issues


def test_the_projection_waits_only_for_open_issues_not_for_ended_ones(demo_path):
    # The pack said 剩余22个问题预计… where it said 尚未销号21个: the issue ended for a special
    # reason (never to be closed) was counted as remaining.
    from audit.dashboard_views import burnup_weeks, dashboard_data
    from audit.store.db import open_database
    from audit.views import scope_for
    db = open_database(demo_path)
    try:
        d = dashboard_data(db, scope_for(db, None), AS_OF_PACK)
        alone = burnup_weeks(db, scope_for(db, None), AS_OF_PACK)
    finally:
        db.conn.close()
    f = d["figures"]
    assert f["ended"] >= 1
    open_now = f["not_started"] + f["in_progress"] + f["submitted"]
    assert d["burnup"]["projection"]["remaining"] == open_now == f["issues"] - f["closed"] - \
        f["ended"]
    assert alone["projection"] == d["burnup"]["projection"]


def test_the_sentence_that_leads_into_a_table_stays_with_it(tmp_path):
    # （三）分单位整改情况 and its sentence stayed at the foot of a page, table 3 on the next.
    import docx
    from exports.docx_format import PackWriter
    w = PackWriter("zh", "页眉")
    w.heading("（三）分单位整改情况", 2)
    w.paragraph("第一段，与表无关。")
    w.paragraph("各单位的数字含其下属单位。")
    w.caption("表2　另一表")
    w.table(["a", "b"], [["x", 1]], [8.0, 2.0])
    w.paragraph("截至2026年12月5日，全区共梳理问题38个。" * 5)  # long: stays on its page
    w.caption("表1　主要指标")
    w.table(["指标", "数值"], [["纳入整改问题", 38]], [8.0, 2.0])
    w.caption("表3　各单位整改情况")
    w.table(["责任单位", "问题数"], [["包头市分公司", 7]], [8.0, 2.0])
    document = docx.Document(str(w.save(tmp_path / "t.docx")))
    kept = {p.text: p.paragraph_format.keep_with_next or p.style.paragraph_format.keep_with_next
            for p in document.paragraphs}
    assert kept["（三）分单位整改情况"] and kept["各单位的数字含其下属单位。"]
    assert kept["表3　各单位整改情况"] and not kept["第一段，与表无关。"]
    assert not kept["截至2026年12月5日，全区共梳理问题38个。" * 5]
