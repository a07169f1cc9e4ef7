"""The Word review pack (整改情况汇报), checked by reopening the .docx with python-docx: the five
parts and three separate attachments, figures in the prose and the table equal
audit.figures.figures, tables with their 合计 rows, chart images, 公文 heading fonts, A4 pages,
no login names or hashes in the text (the anchor in the core properties), 屡审屡犯 apart from
共性问题, an English pack free of Chinese interface text, XML-forbidden characters, and a
failing step that leaves no file. With LibreOffice installed, the demo pack becomes a PDF in the
SC faces."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from audit.demo import demo_actor
from audit.model import ExportFailed
from audit.store.db import open_database
from audit.views import figures, scope_for
from exports.pack_model import PackOptions, background_paragraphs, progress_paragraphs
from exports.pack_model import changes_paragraph, problem_paragraphs
from exports.pack_service import build_pack
from exports.pack_views import gather


def summary_paragraphs(data) -> list[str]:
    """The body's sentences of 一、基本情况 and 二、整改进展 (what the old summary said); for an
    empty scope, only the sentence that says so."""
    if not data.figures["issues"]:
        return background_paragraphs(data)
    return background_paragraphs(data) + progress_paragraphs(data) + [changes_paragraph(data)]
from tests import pdf_tools, programme
from tests.conftest import AS_OF, copy_database

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def all_text(document) -> str:
    """Every paragraph and table cell of the body, one per line."""
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def table_after(document, caption_fragment: str):
    """The table that follows the caption containing `caption_fragment`."""
    body = document.element.body
    found = False
    for el in body.iterchildren():
        if el.tag == qn("w:p") and caption_fragment in "".join(t.text or "" for t in
                                                              el.iter(qn("w:t"))):
            found = True
        elif found and el.tag == qn("w:tbl"):
            return docx.table.Table(el, document)
    raise AssertionError(f"no table after a caption with {caption_fragment!r}")


def tables_after(document, caption_pattern: str) -> list:
    """Every table whose caption matches a regular expression."""
    out, pending = [], False
    for el in document.element.body.iterchildren():
        if el.tag == qn("w:p"):
            text = "".join(t.text or "" for t in el.iter(qn("w:t")))
            pending = bool(re.search(caption_pattern, text)) or (pending and not text)
        elif el.tag == qn("w:tbl") and pending:
            out.append(docx.table.Table(el, document))
            pending = False
    return out


@pytest.fixture(scope="module")
def demo_pack(demo_path: Path, tmp_path_factory) -> tuple[Path, dict]:
    """The region-wide Chinese pack of the demo programme, built once for the module."""
    db = open_database(demo_path)
    out = tmp_path_factory.mktemp("pack") / "pack.docx"
    result = build_pack(db, scope_for(db, None), out, as_of=AS_OF, lang="zh", user="admin")
    db.conn.close()
    return out, result


@pytest.fixture(scope="module")
def demo_figures(demo_path: Path) -> dict:
    db = open_database(demo_path)
    try:
        return figures(db, scope_for(db, None), AS_OF)
    finally:
        db.conn.close()


def test_summary_prose_states_the_figures(demo_pack, demo_figures):
    document = docx.Document(demo_pack[0])
    f = demo_figures
    text = "\n".join(p.text for p in document.paragraphs)
    assert (f"截至2026年11月23日，全区共梳理问题{f['issues']}个，涉及{f['categories']}大类"
            f"{f['aspects']}个方面") in text
    assert f"已销号{f['closed']}个，整改率{f['closure_rate'] * 100:.1f}%" in text
    assert f"按期整改率{f['on_time_rate'] * 100:.1f}%" in text
    assert f"应按期完成的{f['on_time_due']}个问题中，{f['on_time']}个" in text
    assert f"逾期问题{f['overdue']}个（红灯）" in text
    assert f"另有{f['due_soon']}个问题将在10个工作日内到期" in text
    assert f"“四个到人”落实率{f['fully_assigned_rate'] * 100:.1f}%" in text
    assert f"另有{f['ended']}个因特殊原因终结" in text


def test_figures_table_matches_the_figures(demo_pack, demo_figures):
    document = docx.Document(demo_pack[0])
    table = table_after(document, "主要指标")
    values = {r.cells[0].text: r.cells[1].text for r in table.rows[1:]}
    f = demo_figures
    assert values["纳入整改问题"] == str(f["issues"])
    assert values["已销号"] == str(f["closed"])
    assert values["特殊原因终结"] == str(f["ended"])
    assert values["未销号"] == str(f["open"])
    assert values["逾期（红灯）"] == str(f["overdue"])
    assert values["临期（黄灯）"] == str(f["due_soon"])
    assert values["整改率"] == f"{f['closure_rate'] * 100:.1f}%"
    assert values["按期整改率"] == f"{f['on_time_rate'] * 100:.1f}%"
    assert values["涉及金额（元）"] == f"{f['amount_involved']:,.2f}"


def test_status_tables_and_lists_have_their_headers_and_rows(demo_pack, demo_figures):
    document = docx.Document(demo_pack[0])
    by_category = table_after(document, "各大类整改情况")
    assert [c.text for c in by_category.rows[0].cells][:3] == ["问题大类", "问题数", "已销号"]
    assert len(by_category.rows) == 2 + demo_figures["categories"]  # header … 合计
    assert sum(int(r.cells[1].text) for r in by_category.rows[1:-1]) == demo_figures["issues"]
    assert by_category.rows[-1].cells[0].text == "合计"
    assert int(by_category.rows[-1].cells[1].text) == demo_figures["issues"]
    assert not re.search(r"C\d", "".join(r.cells[0].text for r in by_category.rows))  # names
    by_unit = table_after(document, "各单位整改情况")
    assert sum(int(r.cells[1].text) for r in by_unit.rows[1:-1]) == demo_figures["issues"]
    # every city, with zeros where it has none, and the region's own issues apart
    assert len(by_unit.rows) == 2 + 12 + 1
    overdue = table_after(document, "逾期问题清单")
    # a header too wide for its column is broken between words (逾期 / 工作日)
    assert [c.text for c in overdue.rows[0].cells] == ["问题摘要", "责任单位", "责任人",
                                                      "整改期限", "逾期\n工作日", "整改进展"]
    assert len(overdue.rows) == 1 + demo_figures["overdue"]
    days = [int(r.cells[4].text) for r in overdue.rows[1:]]
    assert days == sorted(days, reverse=True) and min(days) > 0
    due_soon = table_after(document, "临期问题清单")
    assert len(due_soon.rows) == 1 + demo_figures["due_soon"]
    assert all(0 <= int(r.cells[4].text) <= 10 for r in due_soon.rows[1:])


def test_three_separate_attachments_list_every_issue_with_measures_and_people(demo_pack,
                                                                             demo_figures):
    document = docx.Document(demo_pack[0])
    problems = tables_after(document, r"表\d+\s+问题清单$")
    tasks = tables_after(document, r"表\d+\s+任务清单$")
    people = tables_after(document, r"表\d+\s+责任清单$")
    assert len(problems) == len(tasks) == len(people) == 1  # three lists, not interleaved
    for lists in (problems, tasks, people):
        assert sum(len(t.rows) - 1 for t in lists) == demo_figures["issues"]
    assert tasks[0].rows[0].cells[2].text.replace("\n", "") == "整改措施（责任人、时限）"
    assert [c.text.replace("\n", "") for c in problems[0].rows[0].cells][4:6] == [
        "严重程度", "整改类型"]
    measures = "\n".join(r.cells[2].text for t in tasks for r in t.rows[1:])
    assert re.search(r"1\. .+（.+；\d{4}-\d{2}-\d{2}；(已完成|进行中|未开始)）", measures)
    assert [c.text.replace("\n", "") for c in people[0].rows[0].cells][1:4] == [
        "责任单位", "责任人", "分管领导"]
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["一、基本情况", "二、整改进展", "三、整改成效", "四、存在的主要问题和困难",
                        "五、下一步工作安排", "附件1　问题清单", "附件2　任务清单", "附件3　责任清单"]


def test_headings_follow_official_document_practice(demo_pack):
    document = docx.Document(demo_pack[0])
    styles = document.styles
    fonts = {name: (styles[name].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")),
                    styles[name].font.bold)
             for name in ("Heading 1", "Heading 2", "Heading 3")}
    assert fonts == {"Heading 1": ("黑体", False), "Heading 2": ("楷体", False),
                     "Heading 3": ("仿宋", True)}
    levels = {p.style.name for p in document.paragraphs
              if p.text.startswith("（一）") and "\t" not in p.text}  # not the contents' lines
    assert levels == {"Heading 2"}
    # the body in the house style's 仿宋 (the demo's setting), tables in 宋体
    assert styles["Body Text"].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "仿宋"


def test_cover_names_the_company_issuer_date_in_numerals_and_classification(demo_pack):
    texts = [p.text for p in docx.Document(demo_pack[0]).paragraphs[:12]]
    assert texts[0] == "内部资料"
    assert "中国邮政集团有限公司内蒙古自治区分公司" in texts
    assert "寄递业务外包专项审计整改情况汇报" in texts
    assert "审计部（外包专项整治和审计整改工作办公室）" in texts
    assert "二〇二六年十一月二十三日" in texts
    assert "目　录" in texts


def test_no_login_names_hashes_or_commands_in_the_text(demo_pack, demo_path):
    from audit.store import history
    document = docx.Document(demo_pack[0])
    text = all_text(document)
    for section in document.sections:
        text += section.header.paragraphs[0].text
    db = open_database(demo_path)
    logins = [r[0] for r in db.conn.execute("SELECT username FROM users")]
    seq, digest = history.anchor(db)
    db.conn.close()
    words = set(re.findall(r"[A-Za-z0-9_]+", text))
    assert not words & set(logins), words & set(logins)
    assert digest not in text and "python -m" not in text and "verify" not in text
    assert not re.search(r"[0-9a-f]{32}", text)
    # the people who acted appear by name: the closing block names the compiler and contact
    assert "联系人及电话：王芳" in text


def test_pack_has_the_chart_images(demo_pack):
    document = docx.Document(demo_pack[0])
    assert len(document.inline_shapes) == demo_pack[1]["pictures"] == 10
    assert "图10" in all_text(document)


def test_pack_is_a4_with_chinese_fonts_headers_and_page_numbers(demo_pack):
    document = docx.Document(demo_pack[0])
    sizes = {(round(s.page_width.cm, 1), round(s.page_height.cm, 1)) for s in document.sections}
    assert sizes == {(21.0, 29.7), (29.7, 21.0)}  # portrait front matter, landscape lists
    styles = document.styles
    for name, east_asia in (("Normal", "仿宋"), ("Heading 1", "黑体"), ("Table Text", "宋体")):
        rfonts = styles[name].element.rPr.find(qn("w:rFonts"))
        assert rfonts.get(qn("w:eastAsia")) == east_asia
    footer = document.sections[0].footer.paragraphs[0]
    assert "PAGE" in footer._p.xml and "NUMPAGES" in footer._p.xml and "第" in footer.text
    assert "截至2026年11月23日" in document.sections[0].header.paragraphs[0].text


def test_pack_carries_the_history_anchor_in_its_properties(demo_pack, demo_path):
    from audit.store import history
    db = open_database(demo_path)
    seq, digest = history.anchor(db)
    db.conn.close()
    document = docx.Document(demo_pack[0])
    assert document.core_properties.identifier == f"anchor:{seq}:{digest}"
    assert demo_pack[1]["anchor"] == f"{seq}:{digest}"
    assert document.core_properties.author == "审计部（外包专项整治和审计整改工作办公室）"
    tail = "\n".join(p.text for p in document.paragraphs)
    assert f"{seq}:{digest}" not in tail


def test_wide_tables_are_in_landscape_and_every_table_fits_its_page(demo_pack):
    document = docx.Document(demo_pack[0])
    usable = [s.page_width - s.left_margin - s.right_margin for s in document.sections]
    section, placed = 0, []
    for el in document.element.body.iterchildren():
        if el.tag == qn("w:tbl"):
            width = sum(int(g.get(qn("w:w"))) for g in el.iter(qn("w:gridCol")))
            first = "".join(t.text or "" for t in next(el.iter(qn("w:tr"))).iter(qn("w:t")))
            placed.append((section, width, first))
        elif el.tag == qn("w:p") and el.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
            section += 1  # this paragraph ends a section
    for index, width, _ in placed:
        assert width * 635 <= usable[index] + 635 * 5  # twips → EMU
    landscape = {first for index, _, first in placed
                 if document.sections[index].page_width > document.sections[index].page_height}
    portrait = {first for index, _, first in placed
                if document.sections[index].page_width < document.sections[index].page_height}
    # the body's tables fit a portrait page; only the attachments are landscape
    assert any(h.startswith("问题摘要责任单位责任人整改期限逾期工作日") for h in portrait)
    assert any(h.startswith("编号问题方面问题摘要责任单位严重程度") for h in landscape)
    assert all(h.startswith("编号") for h in landscape)


def test_english_pack_has_no_chinese_interface_text(demo_path, tmp_path):
    path = copy_database(demo_path, tmp_path / "ascii.db")
    db = open_database(path)
    # Make every user-entered text ASCII, so that any Chinese left can only be interface text.
    for table, cols in (("units", ("name",)), ("people", ("name",)), ("categories", ("name",)),
                        ("aspects", ("name",)), ("causes", ("title", "description")),
                        ("audits", ("name", "report_no")), ("measures", ("title", "progress")),
                        ("issues", ("title", "description", "progress", "basis",
                                    "recommendation", "status_reason")),
                        ("accountability", ("person_name", "action", "reason")),
                        ("extensions", ("reason",)), ("rules", ("title",))):
        for col in cols:
            db.conn.execute(f"UPDATE {table} SET {col} = '{table} ' || id "
                            f"WHERE {col} <> ''")
    # The pack's settings are typed text too (the English names are the demo's, in English).
    db.conn.execute("UPDATE settings SET value = 'settings ' || key WHERE key LIKE 'report.%' "
                    "AND value <> '' AND key NOT IN ('report.house_style', "
                    "'report.classification', 'report.company_en', 'report.department_en')")
    out = tmp_path / "pack-en.docx"
    build_pack(db, scope_for(db, None), out, as_of=AS_OF, lang="en", user="admin")
    document = docx.Document(out)
    text = all_text(document)
    for section in document.sections:
        text += section.header.paragraphs[0].text + section.footer.paragraphs[0].text
    assert not CJK.findall(text), sorted(set(CJK.findall(text)))
    assert "(as of 23 November 2026)" in text and "closure rate of" in text
    assert "Attachment 1  Issue list" in text and "Attachment 3  Responsibility list" in text
    assert "China Post Group Co., Ltd. Inner Mongolia Branch" in text  # the English issuer


def test_control_characters_in_an_issue_title_do_not_break_the_pack(tmp_path):
    p = programme.build(tmp_path)
    iid = p.new_issue("合同\x00未\x0b审核\x1f\ufffe", unit="A")
    p.assign(iid, deadline="2026-12-31")
    p.measure(iid, deadline="2026-12-31", title="补充\x08审核")
    out = tmp_path / "pack.docx"
    build_pack(p.db, scope_for(p.db, None), out, as_of=AS_OF, lang="zh", user="admin")
    text = all_text(docx.Document(out))
    assert "合同\ufffd未\ufffd审核\ufffd\ufffd" in text
    assert "补充\ufffd审核" in text


def _fail(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize("step, target", [
    ("gather", "exports.pack_views.gather_issues"),
    ("charts", "exports.chart_io.render_pngs"),
    ("sections", "exports.pack_format.background_paragraphs"),
    ("save", "docx.document.Document.save"),
])
def test_a_failing_step_is_named_and_leaves_no_file(tmp_path, monkeypatch, step, target):
    p = programme.build(tmp_path)
    iid = p.new_issue("合同未审核", unit="A")
    p.assign(iid, deadline="2026-12-31")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setattr(target, _fail)
    with pytest.raises(ExportFailed) as caught:
        build_pack(p.db, scope_for(p.db, None), out_dir / "pack.docx", as_of=AS_OF,
                   lang="zh", user="admin")
    assert caught.value.step == step
    assert "injected failure" in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_a_chart_the_chart_process_fails_on_names_the_charts_step(tmp_path, monkeypatch):
    # No patched renderer: a spec vl-convert rejects really goes to the chart process.
    p = programme.build(tmp_path)
    p.new_issue("合同未审核", unit="A")
    bad = {"mark": "no-such-mark", "data": {"values": [{"x": 1}]},
           "encoding": {"x": {"field": "x", "type": "quantitative"}}}
    monkeypatch.setattr("exports.pack_service.chart_dicts",
                        lambda rows, lang: [("burnup", "坏图", "", bad)])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ExportFailed) as caught:
        build_pack(p.db, scope_for(p.db, None), out_dir / "pack.docx", as_of=AS_OF)
    assert caught.value.step == "charts"
    assert "chart 1: ValueError" in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_progress_goes_through_the_four_steps_in_order(tmp_path):
    p = programme.build(tmp_path)
    p.new_issue("合同未审核", unit="A")
    seen: list[str] = []
    build_pack(p.db, scope_for(p.db, None), tmp_path / "p.docx", as_of=AS_OF,
               on_progress=lambda step, done, total: seen.append(step))
    assert list(dict.fromkeys(seen)) == ["gather", "charts", "sections", "save"]


# --- the prose adapts to the figures ------------------------------------------------------------


def _summary(p: programme.Programme, as_of: dt.date = AS_OF, lang: str = "zh",
             since: dt.date | None = None) -> str:
    data = gather(p.db, scope_for(p.db, None), as_of=as_of,
                  since=since or as_of - dt.timedelta(days=14), lang=lang, label="全区",
                  user="lead")
    return "\n".join(summary_paragraphs(data))


def test_prose_for_an_empty_scope_says_there_is_nothing_to_rate(tmp_path):
    text = _summary(programme.build(tmp_path))
    assert text == "截至2026年11月23日，全区范围内没有纳入整改的问题，各项比率无从计算。"


def test_prose_without_overdue_or_due_rates_says_so(tmp_path):
    p = programme.build(tmp_path)
    iid = p.new_issue("合同未审核", unit="A")
    p.assign(iid, deadline="2027-06-30")
    text = _summary(p)
    assert "目前尚无问题销号，整改率为0" in text
    assert "按期整改率暂无法计算" in text
    assert "目前没有逾期问题" in text and "10个工作日内没有到期的问题" in text
    assert "逾期问题0个" not in text
    assert "尚有1个问题未完全落实到人" in text  # no measure yet


def test_prose_names_the_longest_overdue_issue_and_the_changes(tmp_path):
    p = programme.build(tmp_path)
    late = p.new_issue("结算单据审核签字不全", unit="A")
    p.assign(late, deadline="2026-11-13")
    closed = p.new_issue("合同未审核", unit="A")
    p.full_cycle(closed, deadline="2026-11-30", done="2026-11-16", closed="2026-11-18")
    text = _summary(p)
    # no code in prose; overdue days are working days (Nov 16–20 and 23)
    unit = p.db.conn.execute("SELECT name FROM units WHERE id = ?", (p.units["A"],)).fetchone()[0]
    assert f"逾期最久的是{unit}的“结算单据审核签字不全”，已逾期6个工作日" in text
    assert "2026年11月9日以来，新增逾期1个、新销号1个" in text or \
        "2026年11月9日以来，新销号1个、新增逾期1个" in text
    assert "期间没有问题被退回或延期" in text


def test_changes_since_list_returns_and_extensions_with_reasons(tmp_path):
    from issues import service as issues
    from issues.model import Move
    from owners import service as owners
    p = programme.build(tmp_path)
    back = p.new_issue("合同未审核", unit="A")
    p.assign(back, deadline="2026-12-31")
    p.measure(back, deadline="2026-12-31")
    p.start(back)
    p.make_closable(back, day="2026-11-10")
    p.submit(back, "2026-11-11")
    issues.move_issue(p.db, p.actors["lead"], back, Move.RETURN, version=p.version(back),
                      reason="佐证不足", at=p.at("2026-11-12"))
    later = p.new_issue("单价过高", unit="A")
    p.assign(later, deadline="2026-11-20")
    owners.extend_deadline(p.db, p.actors["lead"], later, version=p.version(later),
                           new_deadline="2027-01-31", reason="跨部门改造", at=p.at("2026-11-15"))
    data = gather(p.db, scope_for(p.db, None), as_of=AS_OF, since=dt.date(2026, 11, 9),
                  lang="zh", label="全区", user="lead")
    assert [(r["issue_id"], r["reason"]) for r in data.changes["returned"]] == [(back, "佐证不足")]
    assert [(x["issue_id"], x["new_deadline"], x["reason"]) for x in data.changes["extended"]] \
        == [(later, "2027-01-31", "跨部门改造")]
    # outside the window: nothing
    quiet = gather(p.db, scope_for(p.db, None), as_of=AS_OF, since=dt.date(2026, 11, 20),
                   lang="zh", label="全区", user="lead")
    assert not quiet.changes["returned"] and not quiet.changes["extended"]


def test_manager_pack_covers_only_the_managers_units(demo_path, tmp_path):
    db = open_database(demo_path)
    manager = demo_actor(db, "manager")
    scope = scope_for(db, manager)
    expected = figures(db, scope, AS_OF)["issues"]
    out = tmp_path / "bt.docx"
    result = build_pack(db, scope, out, as_of=AS_OF, user="manager")
    assert result["issues"] == expected < 38
    problems = tables_after(docx.Document(out), r"表\d+\s+问题清单$")
    assert sum(len(t.rows) - 1 for t in problems) == expected
    # 包头 counted with its branches: the same number as in the region's unit table
    region = tables_after(docx.Document(
        build_pack(db, scope_for(db, None), tmp_path / "all.docx", as_of=AS_OF)["path"]),
        r"各单位整改情况")[0]
    bt = next(r for r in region.rows if r.cells[0].text == "包头市分公司")
    own = table_after(docx.Document(out), "各单位整改情况")
    assert int(bt.cells[1].text) == int(own.rows[-1].cells[1].text) == expected


def test_since_after_as_of_is_refused(tmp_path):
    p = programme.build(tmp_path)
    with pytest.raises(ValueError):
        build_pack(p.db, scope_for(p.db, None), tmp_path / "x.docx", as_of=AS_OF,
                   since=AS_OF + dt.timedelta(days=1))
    assert not (tmp_path / "x.docx").exists()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_demo_pack_converts_to_a_pdf_with_cjk_fonts(demo_pack, tmp_path):
    from exports.pdf_io import convert_to_pdf
    pdf = convert_to_pdf(demo_pack[0], tmp_path)
    assert 20 <= pdf_tools.page_count(pdf) <= 60
    fonts = pdf_tools.font_names(pdf)
    assert any(f.startswith("NotoSerifCJK") for f in fonts), fonts
    assert any(f.startswith("NotoSansCJK") for f in fonts), fonts
    # the Simplified Chinese faces, never the Japanese ones of the same collections
    cjk = [f for f in fonts if "CJK" in f]
    assert cjk and all("CJKsc" in f for f in cjk), cjk
    assert "全区共梳理问题38个" in pdf_tools.page_text(pdf, 3).replace(" ", "")


# --- the 导入导出 page ----------------------------------------------------------------------------


@pytest.mark.parametrize("button, name_end", [("exports.io.report", ".docx"),
                                              ("exports.io.ledger", ".xlsx")])
def test_export_page_builds_the_file_step_by_step_and_offers_it(demo_path, tmp_path, make_app,
                                                            button, name_end):
    from audit.demo import DEMO_PASSWORD
    from tests.conftest import open_page, sign_in
    app = make_app(copy_database(demo_path, tmp_path / "app.db"))
    app.default_timeout = 180
    sign_in(app, "manager", DEMO_PASSWORD)
    open_page(app, "export")
    assert not app.exception
    app.button(key=button).click()
    app.run()
    assert not app.exception and not app.error
    blocks = list(app.main.children.values())
    status = next(b for b in blocks if type(b).__name__ == "Status")
    assert status.label.startswith("已生成：") and "_BT_2026-" in status.label
    assert status.label.split("（")[0].endswith(name_end)
    assert [type(c).__name__ for c in status.children.values()] == ["Progress"]
    assert next(iter(status.children.values())).value == 100
    downloads = [b for b in blocks if type(b).__name__ == "DownloadButton"]
    assert len(downloads) == 1


# --- words that mean one thing, attachments as chosen, the body short at any scale -------------


def test_repeat_findings_and_common_findings_are_told_apart(tmp_path):
    from issues import merge_service
    from issues import service as issues
    p = programme.build(tmp_path)
    lead = p.actors["lead"]
    # found by the 2024 audit and again by the 2025 one, in one unit: 屡审屡犯, not 共性
    again = p.new_issue("结算单据审核签字不全", unit="A", sources=("AUD2024", "AUD2025"))
    # the same finding in units A and B, one year, merged into one issue: 共性, not 屡审屡犯
    here = p.new_issue("外包合同未经法律审核", unit="A", sources=("AUD2025",))
    there = p.new_issue("外包合同未经法律审核即签订", unit="B", sources=("AUD2025",))
    merge_service.merge_issues(p.db, lead, here, there, survivor_version=p.version(here),
                               absorbed_version=p.version(there), at=p.at("2026-02-01"))
    plain = p.new_issue("单价高于市场价", unit="B", sources=("AUD2025",))
    cause = issues.create_cause(p.db, lead, code="K1", title="合同审核缺位", at=p.at("2026-02-02"))
    for iid in (here, plain):  # a cause behind issues in A and B in one year: 共性 cause
        issues.record_root_cause(p.db, lead, iid, cause_id=cause, at=p.at("2026-02-02"))
    data = gather(p.db, scope_for(p.db, None), as_of=AS_OF, since=dt.date(2026, 11, 9),
                  lang="zh", label="全区")
    flags = {iid: (data.facts[iid]["recurring"], data.facts[iid]["common"])
             for iid in (again, here, plain)}
    assert flags == {again: (True, False), here: (False, True), plain: (False, False)}
    (k1,) = [c for c in data.causes if c["code"] == "K1"]
    assert (k1["recurring"], k1["common"]) == (False, True)
    words = "\n".join(problem_paragraphs(data)["flags"])
    assert "屡审屡犯问题（不同年度的审计再次发现的同一问题）1个" in words
    assert "共性问题（同一问题在两个及以上单位发现）1个" in words
    out = tmp_path / "flags.docx"
    build_pack(p.db, scope_for(p.db, None), out, as_of=AS_OF)
    (problems,) = tables_after(docx.Document(out), r"表\d+\s+问题清单$")
    marks = {r.cells[2].text: r.cells[8].text for r in problems.rows[1:]}
    assert marks["结算单据审核签字不全"] == "屡审屡犯" and marks["外包合同未经法律审核"] == "共性问题"


@pytest.mark.parametrize("choice, expected", [("none", 0), ("open", 3), ("overdue", 1),
                                              ("unit", 3), ("all", 4)])
def test_the_attachments_list_what_was_chosen(tmp_path, choice, expected):
    p = programme.build(tmp_path)
    late = p.new_issue("逾期问题", unit="A")
    p.assign(late, deadline="2026-11-13")
    p.new_issue("未启动问题", unit="A1")
    p.new_issue("另一单位问题", unit="B")
    closed = p.new_issue("已销号问题", unit="A")
    p.full_cycle(closed, deadline="2026-11-30", done="2026-11-16", closed="2026-11-18")
    out = tmp_path / f"{choice}.docx"
    result = build_pack(p.db, scope_for(p.db, None), out, as_of=AS_OF,
                        options=PackOptions(choice, "A" if choice == "unit" else None))
    assert result["attachment_issues"] == expected
    lists = tables_after(docx.Document(out), r"表\d+\s+(问题|任务|责任)清单$")
    assert [len(t.rows) - 1 for t in lists] == ([expected] * 3 if expected else [])
    if not expected:
        assert "逐项清单见同日导出的Excel整改台账" in all_text(docx.Document(out))


def test_an_unknown_attachment_unit_is_refused_and_nothing_is_written(tmp_path):
    from audit.model import NotFound
    p = programme.build(tmp_path)
    with pytest.raises(NotFound):
        build_pack(p.db, scope_for(p.db, None), tmp_path / "x.docx", as_of=AS_OF,
                   options=PackOptions("unit", "NOPE"))
    assert not (tmp_path / "x.docx").exists()
    with pytest.raises(ValueError, match="attachments"):
        PackOptions("everything")


def test_a_long_list_shows_the_top_ten_and_says_where_the_rest_is(tmp_path):
    p = programme.build(tmp_path)
    for i in range(14):
        iid = p.new_issue(f"逾期问题{i:02d}", unit="A")
        p.assign(iid, deadline=f"2026-10-{10 + i:02d}")
    out = tmp_path / "long.docx"
    build_pack(p.db, scope_for(p.db, None), out, as_of=AS_OF, options=PackOptions("none"))
    document = docx.Document(out)
    assert len(table_after(document, "逾期问题清单").rows) == 1 + 10
    assert "另有4项（共14项），详见Excel整改台账。" in all_text(document)
    build_pack(p.db, scope_for(p.db, None), out, as_of=AS_OF, options=PackOptions("overdue"))
    assert "另有4项（共14项），详见附件。" in all_text(docx.Document(out))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_the_body_of_a_40000_issue_pack_stays_within_fifteen_pages(tmp_path):
    """The whole-region pack of the 40,000-issue programme (bench/.cache, made by
    `python -m audit generate` the first time): the body — cover, contents, 一 to 五 and the
    closing block — within 15 pages with the default attachments."""
    from bench.common import copy_40k
    from exports.pdf_io import convert_to_pdf
    db = open_database(copy_40k(tmp_path / "g40k.db"))
    out = tmp_path / "region.docx"
    result = build_pack(db, scope_for(db, None), out, as_of=dt.date(2026, 11, 27))
    assert result["issues"] == 40_000 and result["attachments"] == "none"
    pdf = convert_to_pdf(out, tmp_path)
    pages = pdf_tools.page_count(pdf)
    last = pdf_tools.page_text(pdf, pages).replace(" ", "")
    assert "编制单位" in last or "联系人" in last or "Excel整改台账" in last
    assert pages <= 15, pages
