"""The Word typography layer: page setup, Chinese fonts, fields, tables, sections, saving, PDF."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.text_format import xml_safe
from exports import docx_format, pdf_io
from exports.docx_format import PackWriter
from exports.docx_table_format import save_atomically
from exports.pdf_io import convert_to_pdf, write_fontconfig
from tests import pdf_tools

AS_OF = dt.date(2026, 11, 27)
THEME_ATTRS = ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme")
FORBIDDEN = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))] + [
    "\ufffe", "\uffff", "\ud800", "\udbff", "\udc00", "\udfff"]
LEDGER_HEADERS = ["编号", "责任单位", "问题", "状态", "涉及金额（元）"]


def ledger_rows(n: int) -> list[list[object]]:
    """Rows shaped like the issue ledger."""
    units = ["呼和浩特", "包头", "赤峰"]
    return [[f"C{i % 8 + 1}.{i % 3 + 1}.{i}", units[i % 3], "外包费用结算不规范，未按合同约定核对业务量",
             ["整改中", "待验收", "已销号"][i % 3], f"{i * 1234.5:,.2f}"] for i in range(n)]


def sample_pack(lang: str = "zh", rows: int = 30) -> PackWriter:
    """A short pack: cover, headings, text, list, a table, a landscape table."""
    zh = lang == "zh"
    w = PackWriter(lang, "外包专项审计整改台账" if zh else "Outsourcing audit remediation")
    w.cover("外包专项审计整改情况汇报" if zh else "Outsourcing audit remediation review",
            ["范围：全区 12 个盟市分公司" if zh else "Scope: 12 league/city branches"], AS_OF,
            "内蒙古自治区分公司" if zh else "Inner Mongolia branch")
    w.heading("一、总体情况" if zh else "1. Overview", 1)
    w.paragraph("截至 2026年11月27日，38 个问题中已销号 21 个。" if zh else "21 of 38 issues are closed.")
    w.heading("（一）整改进展" if zh else "1.1 Progress", 2)
    w.bullets(["立行立改 20 项", "分阶段整改 12 项"] if zh else ["Fix at once: 20", "In stages: 12"])
    w.heading("1. 问题清单" if zh else "1.1.1 Issues", 3)
    w.caption("表1 问题清单" if zh else "Table 1 Issues")
    w.table(LEDGER_HEADERS, ledger_rows(rows), [2, 2.5, 7, 2, 2.5], zebra=True,
            align=["left", "center", "left", "center", "right"])
    w.landscape_section()
    w.heading("二、明细台账" if zh else "2. Ledger", 1)
    w.table([f"列{i}" for i in range(12)], [[f"值{r}-{c}" for c in range(12)] for r in range(5)])
    return w


def reopen(w: PackWriter, tmp_path: Path, name: str = "pack.docx") -> docx.document.Document:
    """Save atomically and open the file again with python-docx."""
    return docx.Document(str(w.save(tmp_path / name)))


def test_pages_are_a4_portrait_with_report_margins(tmp_path):
    doc = reopen(sample_pack(), tmp_path)
    first = doc.sections[0]
    assert round(first.page_width.cm, 2) == 21.0
    assert round(first.page_height.cm, 2) == 29.7
    assert round(first.left_margin.cm, 1) == docx_format.MARGINS_CM["left"]


# 公文 headings (issue 22): 一级 黑体, 二级 楷体, 三级 仿宋 (bold); the default house style
# ('song') keeps 宋体 body and tables.
@pytest.mark.parametrize(("style", "east_asia"), [
    ("Normal", "宋体"), ("Body Text", "宋体"), ("Table Text", "宋体"), ("Heading 1", "黑体"),
    ("Heading 2", "楷体"), ("Heading 3", "仿宋"), ("Title", "黑体"), ("Table Heading", "黑体"),
])
def test_styles_name_songti_and_heiti_as_east_asian_fonts(tmp_path, style, east_asia):
    doc = reopen(sample_pack(), tmp_path)
    rFonts = doc.styles[style].element.rPr.find(qn("w:rFonts"))
    assert rFonts.get(qn("w:eastAsia")) == east_asia
    assert rFonts.get(qn("w:ascii")) in {"Times New Roman", "Arial"}


def test_no_theme_font_attribute_is_left_to_override_the_chinese_fonts(tmp_path):
    doc = reopen(sample_pack(), tmp_path)
    for rFonts in doc.styles.element.iter(qn("w:rFonts")):
        assert not [a for a in THEME_ATTRS if rFonts.get(qn(f"w:{a}")) is not None]
    default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    assert default.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "宋体"
    assert default.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"


def test_english_pack_keeps_east_asian_fonts_for_chinese_names(tmp_path):
    doc = reopen(sample_pack("en"), tmp_path)
    assert doc.styles["Normal"].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "宋体"


def test_headings_are_bold_and_black(tmp_path):
    # Chinese: 黑体 and 楷体 headings are not set bold, the third level (仿宋) is; English
    # headings are all bold. All black.
    doc = reopen(sample_pack(), tmp_path)
    assert [doc.styles[n].font.bold for n in ("Heading 1", "Heading 2", "Heading 3")] == \
        [False, False, True]
    english = reopen(sample_pack("en"), tmp_path, "en.docx")
    for name in ("Heading 1", "Heading 2", "Heading 3"):
        assert english.styles[name].font.bold is True
        assert doc.styles[name].element.rPr.find(qn("w:color")) is None


def test_the_fangsong_house_style_sets_body_type_and_keeps_song_tables(tmp_path):
    w = PackWriter("zh", "x", house_style="fangsong")
    w.paragraph("正文")
    doc = reopen(w, tmp_path)
    east = {name: doc.styles[name].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))
            for name in ("Normal", "Body Text", "Table Text")}
    assert east == {"Normal": "仿宋", "Body Text": "仿宋", "Table Text": "宋体"}
    with pytest.raises(ValueError, match="house style"):
        PackWriter("zh", "x", house_style="comic")


def test_a_heading_after_a_page_break_starts_the_page_and_no_break_paragraph_is_left(tmp_path):
    w = PackWriter("zh", "x")
    w.table(["a"], [[str(i)] for i in range(3)])
    w.page_break()
    w.heading("二、下一部分", 1)
    doc = reopen(w, tmp_path)
    body = doc.element.body
    assert not list(body.iter(qn("w:br")))  # no page-break run that could leave a blank page
    heading = next(p for p in doc.paragraphs if p.text == "二、下一部分")
    assert heading.paragraph_format.page_break_before is True


def test_a_short_table_keeps_together_and_a_long_one_keeps_its_ends(tmp_path):
    from exports.docx_table_format import KEEP_WHOLE_ROWS, keeps_next
    w = PackWriter("zh", "x")
    w.table(["a"], [[str(i)] for i in range(5)], total=["合计"])
    w.table(["b"], [[str(i)] for i in range(40)])
    doc = reopen(w, tmp_path)
    short, long_ = doc.tables

    def kept(table) -> list[bool]:
        return [r._tr.find(f"{qn('w:tc')}/{qn('w:p')}/{qn('w:pPr')}/{qn('w:keepNext')}")
                is not None for r in table.rows]
    assert kept(short) == [True] * 6 + [False]          # header and rows keep with the next
    assert short.rows[-1].cells[0].text == "合计"
    assert short.rows[-1]._tr.find(f".//{qn('w:b')}") is not None
    flags = kept(long_)
    # header + first two rows together; the last three rows together
    assert flags[:3] == [True, True, True] and flags[-3:] == [True, True, False]
    assert not any(flags[3:-3])
    assert KEEP_WHOLE_ROWS >= 15 and not keeps_next(39, 40)


@pytest.mark.parametrize("header", ["问题数", "已销号", "整改率", "Awaiting", "Rank"])
def test_a_header_gets_the_width_it_needs_never_to_break_inside_a_word(header):
    from exports.docx_parts_format import fit_widths, header_min_cm
    widths = fit_widths([0.5, 10.0], [header, "x"], 12.0)
    assert widths[0] >= header_min_cm(header) and sum(widths) <= 12.0 + 1e-9
    # a Chinese header up to four characters on one line: about 0.37 cm a character
    if not header.isascii():
        assert header_min_cm(header) >= len(header) * 0.37


def test_the_formal_date_is_written_in_chinese_numerals():
    from audit import messages
    from exports.docx_parts_format import chinese_number, formal_date
    assert formal_date(dt.date(2026, 11, 27), "zh") == "二〇二六年十一月二十七日"
    assert formal_date(dt.date(2030, 10, 10), "zh") == "二〇三〇年十月十日"
    assert formal_date(dt.date(2026, 11, 27), "en") == "27 November 2026"
    assert [messages.t(f"docx.day.{d}", "zh") for d in range(1, 32)] == \
        [chinese_number(d) for d in range(1, 32)]


def test_the_contents_list_each_heading_with_a_pageref_to_its_bookmark(tmp_path):
    w = PackWriter("zh", "x")
    w.cover("标题")
    w.contents_here("目　录")
    w.heading("一、基本情况", 1, contents=True)
    w.heading("（一）总体进展", 2, contents=True)
    w.heading("不列入目录", 2)
    assert w.finish_contents() == 2
    doc = reopen(w, tmp_path)
    xml = doc.element.xml
    assert xml.count("PAGEREF _Toc") == 2 and xml.count("<w:bookmarkStart") == 2
    assert doc.settings.element.find(qn("w:updateFields")) is not None
    texts = [p.text for p in doc.paragraphs]
    assert texts.index("目　录") < texts.index("一、基本情况\t1") < texts.index("一、基本情况")


def test_a_crash_while_saving_leaves_no_temporary_file(tmp_path, monkeypatch):
    w = sample_pack()
    monkeypatch.setattr("docx.document.Document.save",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError):
        w.save(tmp_path / "pack.docx")
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_file_left_by_a_dead_process_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".pack.docx.999999999.tmp"
    stale.write_bytes(b"half")
    mine = tmp_path / f".pack.docx.{__import__('os').getpid()}.tmp.keep"
    mine.write_bytes(b"")
    sample_pack().save(tmp_path / "pack.docx")
    assert not stale.exists() and (tmp_path / "pack.docx").exists()


def test_core_properties_carry_the_anchor_and_no_login(tmp_path):
    from exports.docx_parts_format import set_core_properties
    w = sample_pack()
    set_core_properties(w.doc, title="整改情况汇报", author="审计部", identifier="anchor:12:ab",
                        created=dt.datetime(2026, 11, 27))
    doc = reopen(w, tmp_path)
    props = doc.core_properties
    assert (props.identifier, props.author, props.last_modified_by) == \
        ("anchor:12:ab", "审计部", "审计部")


def footer_xml(doc) -> str:
    """The XML of the first section's main footer."""
    return doc.sections[0].footer._element.xml


def test_chinese_footer_counts_pages_with_page_and_numpages_fields(tmp_path):
    doc = reopen(sample_pack(), tmp_path)
    xml = footer_xml(doc)
    assert re.search(r"<w:instrText[^>]*> PAGE </w:instrText>", xml)
    assert re.search(r"<w:instrText[^>]*> NUMPAGES </w:instrText>", xml)
    text = "".join(doc.sections[0].footer.paragraphs[0].text)
    assert text.startswith("第 ") and " 页 共 " in text and text.endswith(" 页")


def test_english_footer_says_page_x_of_y(tmp_path):
    doc = reopen(sample_pack("en"), tmp_path)
    text = doc.sections[0].footer.paragraphs[0].text
    assert text == "Page 1 of 1"  # cached field results until a reader updates them
    assert " NUMPAGES " in footer_xml(doc)


def test_cover_page_has_no_header_or_footer_but_later_sections_do(tmp_path):
    doc = reopen(sample_pack(), tmp_path)
    first, landscape = doc.sections[0], doc.sections[-1]
    assert first.different_first_page_header_footer is True
    assert first.first_page_footer.paragraphs[0].text == ""
    assert first.header.paragraphs[0].text == "外包专项审计整改台账"
    assert landscape.different_first_page_header_footer is False
    assert landscape.header.is_linked_to_previous and landscape.footer.is_linked_to_previous


def test_cover_shows_title_scope_organisation_and_as_of_date(tmp_path):
    texts = [p.text for p in reopen(sample_pack(), tmp_path).paragraphs]
    assert texts[:4] == ["外包专项审计整改情况汇报", "范围：全区 12 个盟市分公司", "内蒙古自治区分公司",
                         "截至 2026年11月27日"]
    english = [p.text for p in reopen(sample_pack("en"), tmp_path, "en.docx").paragraphs]
    assert "As of 27 November 2026" in english


def test_landscape_section_is_wider_than_tall(tmp_path):
    doc = reopen(sample_pack(), tmp_path)
    landscape = doc.sections[-1]
    assert landscape.page_width > landscape.page_height
    assert round(landscape.page_width.cm, 2) == 29.7


def test_section_can_carry_its_own_header_text(tmp_path):
    w = sample_pack()
    w.portrait_section(header_text="附件：佐证材料")
    doc = reopen(w, tmp_path)
    assert doc.sections[-1].header.paragraphs[0].text == "附件：佐证材料"
    assert doc.sections[-1].footer.is_linked_to_previous


def test_table_header_row_repeats_on_every_page(tmp_path):
    table = reopen(sample_pack(), tmp_path).tables[0]
    header_trPr = table.rows[0]._tr.trPr
    assert header_trPr.find(qn("w:tblHeader")) is not None
    assert table.rows[1]._tr.trPr.find(qn("w:tblHeader")) is None
    # a header too wide for its column is broken between words (涉及金额 / （元）)
    assert [c.text.replace("\n", "") for c in table.rows[0].cells] == LEDGER_HEADERS
    assert len(table.rows) == 31


def test_short_rows_cannot_split_but_very_long_rows_can(tmp_path):
    w = PackWriter()
    w.table(["a", "b"], [["短", "行"], ["长" * 1000, ""]])
    rows = reopen(w, tmp_path).tables[0].rows
    assert rows[1]._tr.trPr.find(qn("w:cantSplit")) is not None
    assert rows[2]._tr.trPr.find(qn("w:cantSplit")) is None


def test_table_has_visible_borders_and_column_alignment(tmp_path):
    table = reopen(sample_pack(), tmp_path).tables[0]
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    assert {b.get(qn("w:val")) for b in borders} == {"single"}
    amount = table.rows[1].cells[4].paragraphs[0]
    assert amount.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
    assert amount.style.name == "Table Text"


def test_wide_column_widths_are_scaled_down_to_the_text_area(tmp_path):
    w = PackWriter()
    w.table(["a", "b"], [["1", "2"]], col_widths_cm=[20, 20])
    table = reopen(w, tmp_path).tables[0]
    total = sum(int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.findall(qn("w:gridCol")))
    assert abs(total / 1440 * 2.54 - (21.0 - 2.8 - 2.6)) < 0.01


def test_cell_line_breaks_and_tabs_become_word_breaks(tmp_path):
    w = PackWriter()
    w.table(["措施"], [["第一步\r\n第二步\t完成"]])
    cell = reopen(w, tmp_path).tables[0].rows[1].cells[0]
    assert cell.text == "第一步\n第二步\t完成"


def test_cell_text_that_looks_like_markup_is_kept_as_text(tmp_path):
    # Rows go into document.xml as text spliced at the place of an XML comment: a cell that
    # reads like that comment, like markup or like a format field must come back as it was.
    tricky = ["<!--rows:0-->", "<w:t>x</w:t> & &amp;", "{0} {} }{", "\ue000 私用区"]
    w = PackWriter()
    w.table(["a"], [[t] for t in tricky])
    w.table(["b"], [["第二张表"]])
    doc = reopen(w, tmp_path)
    assert [r.cells[0].text for r in doc.tables[0].rows[1:]] == tricky
    assert [r.cells[0].text for r in doc.tables[1].rows] == ["b", "第二张表"]


def test_tables_are_complete_in_the_saved_file_in_document_order(tmp_path):
    w = PackWriter()
    w.table(["一"], [[str(i)] for i in range(5000)])
    w.paragraph("两表之间")
    w.table(["二"], [])
    w.table(["三"], [["x"], ["y"]])
    doc = reopen(w, tmp_path)
    assert [len(t.rows) for t in doc.tables] == [5001, 1, 3]
    assert doc.tables[0].rows[5000].cells[0].text == "4999"
    body = [el.tag.split("}")[1] for el in doc.element.body]
    assert body[:4] == ["tbl", "p", "tbl", "tbl"]


def test_a_writer_saved_twice_keeps_every_row_and_the_tables_added_between(tmp_path):
    w = PackWriter()
    w.table(["一"], [["a"], ["b"]])
    first = reopen(w, tmp_path, "first.docx")
    w.table(["二"], [["c"]])
    second = reopen(w, tmp_path, "second.docx")
    assert [[c.text for r in t.rows for c in r.cells] for t in first.tables] == [["一", "a", "b"]]
    assert [[c.text for r in t.rows for c in r.cells] for t in second.tables] \
        == [["一", "a", "b"], ["二", "c"]]


def test_table_rejects_a_row_with_the_wrong_number_of_values():
    with pytest.raises(ValueError, match="row 2 has 1 values for 2 columns"):
        PackWriter().table(["a", "b"], [["1", "2"], ["3"]])


def test_text_with_every_xml_forbidden_character_saves_and_reopens(tmp_path):
    dirty = "整改" + "".join(FORBIDDEN) + "完成"
    w = PackWriter(header_text=dirty)
    w.cover(dirty, [dirty], AS_OF, dirty)
    w.heading(dirty)
    w.paragraph(dirty)
    w.bullets([dirty])
    w.caption(dirty)
    w.table([dirty], [[dirty]])
    w.landscape_section(header_text=dirty)
    doc = reopen(w, tmp_path)
    clean = xml_safe(dirty)
    assert clean == "整改" + "\ufffd" * len(FORBIDDEN) + "完成"
    assert doc.paragraphs[0].text == clean
    assert doc.tables[0].rows[1].cells[0].text == clean
    assert doc.sections[0].header.paragraphs[0].text == clean


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.one_of(st.characters(), st.sampled_from(FORBIDDEN)), max_size=40))
def test_any_text_survives_a_save_in_every_place(tmp_path, text):
    w = PackWriter(header_text=text)
    w.heading(text)
    w.paragraph(text)
    w.table([text], [[text], [None], [12.5]])
    doc = reopen(w, tmp_path)
    if not set(text) & {"\n", "\r", "\t"}:
        assert doc.tables[0].rows[1].cells[0].text == xml_safe(text)
    assert doc.tables[0].rows[3].cells[0].text == "12.5"


def test_picture_fits_the_page_and_keeps_its_caption(tmp_path):
    png = _png(40, 300)  # a tall, narrow image
    w = PackWriter()
    w.picture(png, 15, caption="图1 各单位问题数")
    doc = reopen(w, tmp_path)
    shape = doc.inline_shapes[0]
    assert shape.height.cm <= 29.7 - 2.5 - 2.5
    assert doc.paragraphs[-1].text == "图1 各单位问题数"


def _png(width: int, height: int) -> bytes:
    """A blank grey PNG of the given size, written with the standard library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_failed_save_leaves_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "pack.docx"
    target.write_bytes(b"previous version")
    w = PackWriter()

    def broken_save(stream):
        stream.write(b"PK half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(w.doc, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_atomically(w.doc, target)
    assert target.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["pack.docx"]


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="lang"):
        PackWriter("fr")  # type: ignore[arg-type]


# --- LibreOffice ---------------------------------------------------------------------------------

needs_libreoffice = pytest.mark.skipif(
    not (shutil.which("soffice") and shutil.which("pdfinfo") and shutil.which("pdffonts")),
    reason="LibreOffice (soffice) and poppler-utils are needed to check the PDF")


@pytest.mark.skipif(not shutil.which("fc-match"), reason="fontconfig's fc-match is not installed")
def test_fontconfig_alias_maps_songti_and_heiti_to_simplified_chinese_faces(tmp_path):
    env = {"FONTCONFIG_FILE": str(write_fontconfig(tmp_path)), "PATH": "/usr/bin:/bin"}
    if "Noto" not in subprocess.run(["fc-list"], env=env, capture_output=True, text=True).stdout:
        pytest.skip("fonts-noto-cjk is not installed")
    for name, face in (("宋体", "Noto Serif CJK SC"), ("SimSun", "Noto Serif CJK SC"),
                       ("黑体", "Noto Sans CJK SC"), ("SimHei", "Noto Sans CJK SC")):
        out = subprocess.run(["fc-match", name], env=env, capture_output=True, text=True).stdout
        assert face in out, (name, out)


@needs_libreoffice
def test_pdf_has_expected_pages_cjk_fonts_and_page_numbers(tmp_path):
    pack = sample_pack(rows=40).save(tmp_path / "pack.docx")
    pdf = convert_to_pdf(pack, tmp_path, timeout_s=60)
    # cover, the ledger table over one or two pages, the landscape section
    assert 3 <= pdf_tools.page_count(pdf) <= 5
    fonts = pdf_tools.font_names(pdf)
    # 宋体 body through the alias comes out as the serif face, 黑体 headings as the sans face.
    assert any(f.startswith("NotoSerifCJK") for f in fonts), fonts
    assert any(f.startswith("NotoSansCJK") for f in fonts), fonts
    total = pdf_tools.page_count(pdf)
    assert re.search(rf"第\s*2\s*页\s*共\s*{total}\s*页", pdf_tools.page_text(pdf, 2))
    assert "编号" in pdf_tools.page_text(pdf, 3)  # the header row repeated on the next page
    png = pdf_tools.render_page(pdf, 1, tmp_path / "page1")
    assert png.stat().st_size > 1000


@needs_libreoffice
def test_english_pdf_numbers_pages_in_english(tmp_path):
    pdf = convert_to_pdf(sample_pack("en", rows=5).save(tmp_path / "en.docx"), tmp_path)
    total = pdf_tools.page_count(pdf)
    assert re.search(rf"Page\s+2\s+of\s+{total}", pdf_tools.page_text(pdf, 2))


def test_conversion_without_libreoffice_raises_a_named_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_io.shutil, "which", lambda name: None)
    with pytest.raises(pdf_io.PdfConversionError, match="not installed"):
        convert_to_pdf(tmp_path / "x.docx")


@needs_libreoffice
def test_a_document_libreoffice_cannot_load_raises_and_leaves_no_pdf(tmp_path):
    with pytest.raises(pdf_io.PdfConversionError, match="wrote no PDF"):
        convert_to_pdf(tmp_path / "missing.docx", tmp_path / "out", timeout_s=60)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_process_killed_while_saving_leaves_no_temporary_file(tmp_path):
    """SIGKILL in the middle of writing the file (issue 14): the unnamed file goes with the
    process; nothing is left beside the target, and the next save works."""
    import os
    import signal
    import sys
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from exports import docx_table_format
from exports.docx_format import PackWriter
def dying(doc, fh, write_rows):
    fh.write(b"PK" + b"x" * 100_000)
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)
docx_table_format._save_spliced = dying
w = PackWriter("zh", "x")
w.table(["a"], [[str(i)] for i in range(1000)])
w.save({str(tmp_path / "pack.docx")!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert list(tmp_path.iterdir()) == []
    sample_pack().save(tmp_path / "pack.docx")
    assert [p.name for p in tmp_path.iterdir()] == ["pack.docx"]
    assert os.path.getsize(tmp_path / "pack.docx") > 0
