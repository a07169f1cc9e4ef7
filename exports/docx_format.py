"""Typography of the Word review pack: A4 pages, Chinese fonts, heading and body styles,
headers, page numbers, the cover, pictures, landscape sections, and `PackWriter`, on which the
pack (exports/pack_format.py) is written. Tables are written as XML text and spliced in at save
(exports/docx_table_format.py); PDF conversion is exports/pdf_io.py.

Every text that goes into the document passes `audit.text_format.xml_safe` here, so callers
hand over raw values.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import string
import tempfile
from pathlib import Path
from typing import IO, Iterable, Literal, Sequence

import docx
from docx.document import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.image.image import Image as DocxImage
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.shape import CT_Inline
from docx.section import Section
from docx.shared import Cm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from audit import messages
from exports.docx_table_format import (
    COPY_BYTES,
    HEADER_FILL,
    ROWS_BATCH,
    TWIPS_PER_CM,
    ZEBRA_FILL,
    CANT_SPLIT_MAX_CHARS,
    cells_xml,
    column_widths,
    row_format,
    row_template,
    save_atomically,
    keeps_next,
    table_properties,
)
from exports.docx_parts_format import (
    add_bookmark,
    ask_to_update_fields,
    cell_min_cm,
    fit_widths,
    header_text,
    page_break_before,
    toc_line,
)
from audit.text_format import xml_safe

Lang = Literal["zh", "en"]
Align = Literal["left", "center", "right"]

A4_WIDTH_CM = 21.0
A4_HEIGHT_CM = 29.7
# Report margins close to GB/T 9704 habits, a little narrower so ledger tables fit.
MARGINS_CM = {"top": 2.5, "bottom": 2.5, "left": 2.8, "right": 2.6}
HEADER_FOOTER_DISTANCE_CM = 1.5

# Chinese type sizes (字号) in points.
SIZE_PT = {"二号": 22.0, "三号": 16.0, "小三": 15.0, "四号": 14.0, "小四": 12.0, "五号": 10.5,
           "小五": 9.0}

# The fonts named in the file, as Word and WPS users have them (公文 habit: 一级标题 黑体, 二级
# 楷体, 三级 仿宋加粗, body 仿宋 or 宋体 as the house style says, tables 宋体 or 仿宋). Rendering
# here maps each to a Simplified Chinese face (docs/fontconfig/cjk-sc-aliases.conf and the
# replacement table of exports/pdf_io.py), never to the Japanese forms of Noto CJK.
HOUSE_FONTS: dict[str, dict[str, str]] = {
    "fangsong": {"body": "仿宋", "table": "宋体"},
    "song": {"body": "宋体", "table": "宋体"},
}
HEADING_EAST_ASIA = ("黑体", "楷体", "仿宋")
BODY_EAST_ASIA = HOUSE_FONTS["fangsong"]["body"]
BODY_LATIN = "Times New Roman"
HEADING_LATIN = "Arial"

_PAGE_FIELDS = {"page": "PAGE", "pages": "NUMPAGES"}
# Paragraph habits per language (not texts): Chinese body text runs at 1.5 lines with a
# two-character first-line indent and no space between paragraphs; English at 1.15 with 6 pt.
# Headings: 黑体 and 楷体 are not set bold in Chinese; English headings are.
_HABITS = {"zh": {"space_after": 0, "line_spacing": 1.5, "indent": True,
                  "heading_bold": (False, False, True)},
           "en": {"space_after": 6, "line_spacing": 1.15, "indent": False,
                  "heading_bold": (True, True, True)}}
BODY_PT = 14.0  # 四号: the body of a 汇报 read on paper


_THEME_FONT_ATTRS = tuple(qn(f"w:{a}") for a in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"))
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


# --- document and styles -------------------------------------------------------------------


def new_document(lang: Lang = "zh", house_style: str = "fangsong") -> Document:
    """A blank A4 portrait document whose styles name the house style's Chinese fonts.
    Raises ValueError for an unknown language or house style."""
    if lang not in _HABITS:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    if house_style not in HOUSE_FONTS:
        raise ValueError(f"house style must be one of {', '.join(HOUSE_FONTS)}, not {house_style!r}")
    doc = docx.Document()
    section = doc.sections[0]
    _set_page(section, landscape=False)
    _set_styles(doc, lang, HOUSE_FONTS[house_style])
    return doc


def _set_page(section: Section, *, landscape: bool) -> None:
    """Give a section an A4 page in the requested orientation and the report margins."""
    short, long_ = Cm(A4_WIDTH_CM), Cm(A4_HEIGHT_CM)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long_, short) if landscape else (short, long_)
    section.top_margin = Cm(MARGINS_CM["top"])
    section.bottom_margin = Cm(MARGINS_CM["bottom"])
    section.left_margin = Cm(MARGINS_CM["left"])
    section.right_margin = Cm(MARGINS_CM["right"])
    section.header_distance = Cm(HEADER_FOOTER_DISTANCE_CM)
    section.footer_distance = Cm(HEADER_FOOTER_DISTANCE_CM)


def _set_fonts(rPr, *, latin: str, east_asia: str) -> None:
    """Name Latin and East Asian fonts explicitly on an rPr; theme attributes would win otherwise."""
    rFonts = rPr.find(qn("w:rFonts"))
    if rFonts is None:
        rFonts = OxmlElement("w:rFonts")
        rPr.insert(0, rFonts)
    for attr in _THEME_FONT_ATTRS:
        rFonts.attrib.pop(attr, None)
    rFonts.set(qn("w:ascii"), latin)
    rFonts.set(qn("w:hAnsi"), latin)
    rFonts.set(qn("w:cs"), latin)
    rFonts.set(qn("w:eastAsia"), east_asia)


def _set_lang(rPr) -> None:
    """Mark East Asian text as zh-CN so renderers pick Simplified Chinese glyph shapes."""
    lang = rPr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rPr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    lang.attrib.pop(qn("w:bidi"), None)


def _style_fonts(doc: Document, name: str, *, latin: str, east_asia: str, size_pt: float,
                 bold: bool | None = None) -> None:
    """Set fonts, size, weight and black colour on a style and on its linked character style."""
    style = doc.styles[name]
    style.font.size = Pt(size_pt)
    style.font.bold = bold
    rPr = style.element.get_or_add_rPr()
    color = rPr.find(qn("w:color"))
    if color is not None:  # the template's theme colours (blue headings); reports print black
        rPr.remove(color)
    _set_fonts(rPr, latin=latin, east_asia=east_asia)
    link = style.element.find(qn("w:link"))
    if link is not None:
        for other in doc.styles:
            if other.style_id == link.get(qn("w:val")):
                _set_fonts(other.element.get_or_add_rPr(), latin=latin, east_asia=east_asia)


def _set_styles(doc: Document, lang: Lang, fonts: dict[str, str]) -> None:
    """Fonts, sizes and spacing of every style the pack uses, per 公文 habits."""
    styles_el = doc.styles.element
    # The template names theme fonts everywhere; any left over would override 宋体/黑体.
    for rFonts in styles_el.iter(qn("w:rFonts")):
        for attr in _THEME_FONT_ATTRS:
            rFonts.attrib.pop(attr, None)
    rPr_default = styles_el.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rPr_default, latin=BODY_LATIN, east_asia=fonts["body"])
    _set_lang(rPr_default)
    for sz in ("w:sz", "w:szCs"):
        rPr_default.find(qn(sz)).set(qn("w:val"), str(int(BODY_PT * 2)))

    body_fonts = {"latin": BODY_LATIN, "east_asia": fonts["body"]}
    table_fonts = {"latin": BODY_LATIN, "east_asia": fonts["table"]}
    heading_fonts = {"latin": HEADING_LATIN, "east_asia": HEADING_EAST_ASIA[0]}
    _style_fonts(doc, "Normal", **body_fonts, size_pt=BODY_PT)
    normal = doc.styles["Normal"].paragraph_format
    habits = _HABITS[lang]
    normal.space_before, normal.space_after = Pt(0), Pt(habits["space_after"])
    normal.line_spacing = habits["line_spacing"]

    # Chinese body paragraphs start indented by two characters (首行缩进两字符).
    body = doc.styles["Body Text"]
    _style_fonts(doc, "Body Text", **body_fonts, size_pt=BODY_PT)
    body.paragraph_format.space_after = Pt(habits["space_after"])
    body.paragraph_format.widow_control = True
    if habits["indent"]:
        ind = body.element.get_or_add_pPr().get_or_add_ind()
        ind.set(qn("w:firstLineChars"), "200")
        ind.set(qn("w:firstLine"), str(int(2 * BODY_PT * 20)))

    for level, (name, size, before, after) in enumerate(
            (("Heading 1", SIZE_PT["三号"], 12, 6), ("Heading 2", SIZE_PT["四号"], 6, 3),
             ("Heading 3", BODY_PT, 3, 0))):
        _style_fonts(doc, name, latin=HEADING_LATIN if level < 2 else BODY_LATIN,
                     east_asia=HEADING_EAST_ASIA[level], size_pt=size,
                     bold=habits["heading_bold"][level])
        fmt = doc.styles[name].paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(after)
        fmt.line_spacing = 1.25
        fmt.keep_with_next = True
        fmt.keep_together = True
        if habits["indent"] and level:
            # 二级、三级标题 start where a body paragraph's text does.
            ind = doc.styles[name].element.get_or_add_pPr().get_or_add_ind()
            ind.set(qn("w:firstLineChars"), "200")
            ind.set(qn("w:firstLine"), str(int(2 * size * 20)))

    _style_fonts(doc, "Title", **heading_fonts, size_pt=SIZE_PT["二号"], bold=True)
    title = doc.styles["Title"]
    pBdr = title.element.pPr.find(qn("w:pBdr"))
    if pBdr is not None:  # the template underlines titles in blue
        title.element.pPr.remove(pBdr)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(24)
    title.paragraph_format.line_spacing = 1.25
    spacing = title.element.rPr.find(qn("w:spacing"))
    if spacing is not None:  # letter-spacing meant for Latin display type
        title.element.rPr.remove(spacing)

    _style_fonts(doc, "Subtitle", **body_fonts, size_pt=SIZE_PT["三号"], bold=False)
    doc.styles["Subtitle"].font.italic = False
    doc.styles["Subtitle"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.styles["Subtitle"].paragraph_format.space_after = Pt(6)

    for name in ("List Bullet", "List Number"):
        _style_fonts(doc, name, **body_fonts, size_pt=BODY_PT)

    _style_fonts(doc, "Caption", **heading_fonts, size_pt=SIZE_PT["五号"], bold=False)
    caption = doc.styles["Caption"].paragraph_format
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.space_before, caption.space_after = Pt(6), Pt(6)

    for name in ("Header", "Footer"):
        _style_fonts(doc, name, **body_fonts, size_pt=SIZE_PT["小五"])
        pPr = doc.styles[name].element.get_or_add_pPr()
        tabs = pPr.find(qn("w:tabs"))
        if tabs is not None:  # Letter-width tab stops; we centre instead
            pPr.remove(tabs)
        doc.styles[name].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _add_bottom_border(doc.styles["Header"].element.get_or_add_pPr())

    table_text = doc.styles.add_style("Table Text", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = doc.styles["Normal"]
    _style_fonts(doc, "Table Text", **table_fonts, size_pt=SIZE_PT["五号"])
    fmt = table_text.paragraph_format
    fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(0), Pt(0), 1.0
    table_heading = doc.styles.add_style("Table Heading", WD_STYLE_TYPE.PARAGRAPH)
    table_heading.base_style = table_text
    _style_fonts(doc, "Table Heading", **heading_fonts, size_pt=SIZE_PT["五号"], bold=True)
    table_heading.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _add_bottom_border(pPr) -> None:
    """A thin rule under a paragraph (the line under the page header)."""
    pBdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "4"), ("space", "1"), ("color", "000000")):
        bottom.set(qn(f"w:{key}"), value)
    pBdr.append(bottom)
    # pBdr must come before spacing/ind/jc in CT_PPr's sequence.
    anchor = next((c for c in pPr if c.tag in {qn("w:shd"), qn("w:tabs"), qn("w:spacing"),
                                                qn("w:ind"), qn("w:jc")}), None)
    if anchor is None:
        pPr.append(pBdr)
    else:
        anchor.addprevious(pBdr)


# --- headers, footers, sections --------------------------------------------------------------


def _field_runs(paragraph: Paragraph, code: str) -> None:
    """Append a complex field (PAGE, NUMPAGES) whose cached result is 1 until the reader updates it."""
    for kind, text in (("begin", None), ("instr", f" {code} "), ("separate", None),
                       ("result", "1"), ("end", None)):
        run = paragraph.add_run()
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(_XML_SPACE, "preserve")
            instr.text = text
            run._r.append(instr)
        elif kind == "result":
            run.text = text
        else:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)


def set_header_footer(section: Section, header_text: str, lang: Lang) -> None:
    """Give a section its own header text and the 第 X 页 共 Y 页 / Page X of Y footer."""
    header = section.header
    header.is_linked_to_previous = False
    p = header.paragraphs[0]
    p.text = xml_safe(header_text)
    p.style = "Header"
    footer = section.footer
    footer.is_linked_to_previous = False
    p = footer.paragraphs[0]
    p.text = ""
    p.style = "Footer"
    for literal, field, _, _ in string.Formatter().parse(
            messages.MESSAGES[lang]["docx.page_of"]):
        if literal:
            p.add_run(literal)
        if field:
            _field_runs(p, _PAGE_FIELDS[field])


LEAD_IN_CHARS = 80  # about two lines of 四号 body text: a lead-in kept with its table


# Rows looked at for the width a column's short cells need: a column holds one kind of value,
# and a 40,000-row attachment is not scanned for it.
_WIDTH_SAMPLE_ROWS = 300


def column_mins(rows: Sequence[Sequence[object]], total: Sequence[object] | None,
                n: int) -> list[float]:
    """Per column, the width (cm) its short cells need on one line (cell_min_cm) over the first
    rows and the total row: 2026-11-09 and 已销号 printed broken in two."""
    mins = [0.0] * n
    sample = list(rows[:_WIDTH_SAMPLE_ROWS]) + ([total] if total is not None else [])
    for values in sample:
        for j, v in enumerate(values[:n]):
            if v is None:
                continue
            text = v if v.__class__ is str else str(v)
            if len(text) <= 40:
                m = cell_min_cm(text)
                if m > mins[j]:
                    mins[j] = m
    return mins


def format_date(day: dt.date, lang: Lang) -> str:
    """A date as a reader of that language writes it: 2026年11月27日 / 27 November 2026."""
    return messages.t("docx.date", lang, year=day.year, day=day.day,
                      month_name=messages.t(f"docx.month.{day.month}", lang))


def usable_width_cm(section: Section) -> float:
    """Width between the margins of a section, in centimetres."""
    return (section.page_width - section.left_margin - section.right_margin) / 360000


def usable_height_cm(section: Section) -> float:
    """Height between the top and bottom margins of a section, in centimetres."""
    return (section.page_height - section.top_margin - section.bottom_margin) / 360000



# --- the writer -------------------------------------------------------------------------------


class PackWriter:
    """Builds one review-pack document: cover, headings, text, tables, figures and sections."""

    def __init__(self, lang: Lang = "zh", header_text: str = "", house_style: str = "song"
                 ) -> None:
        """A new A4 document with the header text and page-number footer on every page but
        the cover; body and table type after `house_style` (see HOUSE_FONTS)."""
        self.lang: Lang = lang
        self.doc: Document = new_document(lang, house_style)
        # (paragraph, bookmark, level, text) of each heading listed in the contents
        self._toc: list[tuple[Paragraph, str, int, str]] = []
        self._toc_at: Paragraph | None = None
        self._new_page = False  # the next paragraph starts a page (see page_break)
        self._next_shape_id: int | None = None
        # The tables' body rows as UTF-8 XML, put in the document at save (see table): in a
        # temporary file, as the 40,000-issue appendix's rows are 170 MB of XML. _bodies[k] is
        # the (start, end) of table k's rows in it.
        self._rows_file: IO[bytes] | None = None
        self._bodies: list[tuple[int, int]] = []
        section = self.doc.sections[0]
        set_header_footer(section, header_text, lang)
        # The cover page carries no header or footer; it still counts in 共 Y 页.
        section.different_first_page_header_footer = True
        for part in (section.first_page_header, section.first_page_footer):
            part.is_linked_to_previous = False
            # Normal, not Header: an empty Header paragraph would still draw its rule.
            part.paragraphs[0].style = "Normal"

    # text

    def cover(self, title: str, lines: Iterable[str] = (), as_of: dt.date | None = None,
              organisation: str = "") -> None:
        """The cover page: title, scope lines, as-of date and organisation, then a page break."""
        title_p = self.doc.add_paragraph(xml_safe(title), style="Title")
        title_p.paragraph_format.space_before = Cm(6)
        for line in lines:
            self.doc.add_paragraph(xml_safe(line), style="Subtitle")
        tail = [organisation] if organisation else []
        if as_of is not None:
            tail.append(messages.t("docx.as_of", self.lang, date=format_date(as_of, self.lang)))
        for i, line in enumerate(tail):
            p = self.doc.add_paragraph(xml_safe(line), style="Subtitle")
            if i == 0:
                p.paragraph_format.space_before = Cm(8)
        self.page_break()

    def formal_cover(self, *, company: str, title: str, lines: Iterable[str] = (),
                     issuer: str = "", date_text: str = "", classification: str = "") -> None:
        """The cover of a 汇报: 密级 top left (when given), the full company name, the title,
        the scope lines, and at the foot the issuing department and the date (written as the
        caller gives it: 二〇二六年十一月二十七日). The body starts on the next page."""
        if classification:
            p = self.doc.add_paragraph(xml_safe(classification), style="Subtitle")
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT
            p.runs[0].font.name = HEADING_LATIN
            p.runs[0].bold = True
        first = self.doc.add_paragraph(xml_safe(company), style="Subtitle")
        first.paragraph_format.space_before = Cm(4 if classification else 5)
        first.paragraph_format.space_after = Pt(18)
        p = self.doc.add_paragraph(xml_safe(title), style="Title")
        for line in lines:
            self.doc.add_paragraph(xml_safe(line), style="Subtitle")
        tail = [x for x in (issuer, date_text) if x]
        for i, line in enumerate(tail):
            p = self.doc.add_paragraph(xml_safe(line), style="Subtitle")
            if i == 0:
                p.paragraph_format.space_before = Cm(7)
        self._new_page = True

    def heading(self, text: str, level: int = 1, *, new_page: bool = False,
                contents: bool = False) -> Paragraph:
        """A heading of level 1–3 (一级 黑体, 二级 楷体, 三级 仿宋加粗), kept with what follows;
        `new_page` starts it on a new page (never a blank one); `contents` lists it in the
        table of contents (see contents_here)."""
        if level not in (1, 2, 3):
            raise ValueError(f"heading level must be 1, 2 or 3, not {level}")
        p = self.doc.add_paragraph(xml_safe(text), style=f"Heading {level}")
        if new_page:
            self._new_page = True
        self._started(p)
        if contents:
            name = f"_Toc{len(self._toc) + 1:04d}"
            add_bookmark(p, name, len(self._toc) + 1)
            self._toc.append((p, name, level, text))
        return p

    def _started(self, p: Paragraph) -> Paragraph:
        """Start `p` on a new page when a page break is pending."""
        if self._new_page:
            page_break_before(p)
            self._new_page = False
        return p

    def contents_here(self, title: str) -> None:
        """Put the table of contents here (its lines are written by `finish_contents`, once
        every heading is known): a page of its own after the cover."""
        self._toc_at = self.doc.add_paragraph(xml_safe(title), style="Title")
        self._new_page = True
        self._started(self._toc_at)
        self._toc_at.paragraph_format.space_after = Pt(12)
        self._new_page = True  # the body starts on the next page

    def finish_contents(self) -> int:
        """Write the contents' lines (heading, dotted tab, PAGEREF page number) where
        `contents_here` was called; returns how many. Nothing when it was not called."""
        if self._toc_at is None:
            return 0
        width = int(round(usable_width_cm(self.doc.sections[0]) * TWIPS_PER_CM))
        at = self._toc_at._p
        for _, name, level, text in self._toc:
            line = toc_line(self.doc, text, name, level, width)
            at.addnext(line)
            at = line
        ask_to_update_fields(self.doc)
        return len(self._toc)

    def paragraph(self, text: str = "", style: str = "Body Text", *, bold: bool = False,
                  align: Align | None = None, keep_with_next: bool = False) -> Paragraph:
        """A body paragraph (first line indented two characters in Chinese)."""
        p = self._started(self.doc.add_paragraph(style=style))
        if keep_with_next:
            p.paragraph_format.keep_with_next = True
        run = p.add_run(xml_safe(text))
        if bold:
            run.bold = True
        if align is not None:
            p.alignment = _ALIGNMENTS[align]
            p.paragraph_format.first_line_indent = Cm(0)
        return p

    def bullets(self, items: Iterable[str], numbered: bool = False) -> list[Paragraph]:
        """A bulleted (or numbered) list, one paragraph per item."""
        style = "List Number" if numbered else "List Bullet"
        return [self.doc.add_paragraph(xml_safe(item), style=style) for item in items]

    def caption(self, text: str) -> Paragraph:
        """A centred caption kept on the same page as the table or figure that follows it; the
        body paragraph just before it, when short (a sentence that leads into the table), is
        kept with it, so that a heading and its lead-in never stay behind at a page's foot; a
        longer one stays where it is rather than leave its page half empty."""
        body = self.doc.element.body
        last = body[-2] if len(body) > 1 and body[-1].tag == qn("w:sectPr") else body[-1]
        if last.tag == qn("w:p"):
            before = Paragraph(last, self.doc._body)
            if (before.style is not None and before.style.name == "Body Text"
                    and len(before.text) <= LEAD_IN_CHARS):
                before.paragraph_format.keep_with_next = True
        p = self._started(self.doc.add_paragraph(xml_safe(text), style="Caption"))
        p.paragraph_format.keep_with_next = True
        return p

    def page_break(self) -> None:
        """Start a new page within the current section: the next paragraph starts one (a
        break paragraph after a table that filled its page would leave a blank page)."""
        self._new_page = True

    def picture(self, png_bytes: bytes, width_cm: float, caption: str | None = None) -> Paragraph:
        """A centred image that fits the text area, with an optional caption below."""
        p, max_width, max_height = self.picture_slot(caption)
        self.place_picture(p, png_bytes, width_cm, max_width, max_height)
        return p

    def picture_slot(self, caption: str | None = None) -> tuple[Paragraph, float, float]:
        """An empty centred paragraph (and the caption under it) for a picture that
        `place_picture` puts there later; returns it with the largest width and height (cm) the
        picture may take there."""
        section = self.doc.sections[-1]
        p = self._started(self.doc.add_paragraph())
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.keep_with_next = caption is not None
        # Right after a table, LibreOffice drew the picture over the table's bottom border.
        p.paragraph_format.space_before = Pt(6)
        if caption is not None:
            self.doc.add_paragraph(xml_safe(caption), style="Caption")
        if self._next_shape_id is None:  # while the document is short: see place_picture
            self._next_shape_id = self.doc.part.next_id
        # A tall image scaled to the requested width would run off the page; leave room for the
        # caption under it.
        return p, usable_width_cm(section), usable_height_cm(section) - 2.0

    def place_picture(self, paragraph: Paragraph, png_bytes: bytes, width_cm: float,
                      max_width_cm: float, max_height_cm: float) -> None:
        """Put an image at the end of `paragraph`: `width_cm` wide, narrower when the image would
        be wider than `max_width_cm` or taller than `max_height_cm`."""
        image = DocxImage.from_blob(png_bytes)
        width = min(width_cm, max_width_cm, max_height_cm * image.px_width / image.px_height)
        part = self.doc.part
        rId, image = part.get_or_add_image(io.BytesIO(png_bytes))
        cx, cy = image.scaled_dimensions(Cm(width), None)
        # python-docx's add_picture finds the next shape id by searching the whole document for
        # ids: over a 40,000-issue appendix that is a second or more per picture. Pictures are
        # the only shapes written here, so one search, then counting on, gives the same ids.
        if self._next_shape_id is None:
            self._next_shape_id = part.next_id
        inline = CT_Inline.new_pic_inline(self._next_shape_id, rId, image.filename, cx, cy)
        self._next_shape_id += 1
        paragraph.add_run()._r.add_drawing(inline)

    # sections

    def landscape_section(self, header_text: str | None = None) -> Section:
        """Start a landscape A4 section (for wide tables); header and footer carry over."""
        return self._new_section(landscape=True, header_text=header_text)

    def portrait_section(self, header_text: str | None = None) -> Section:
        """Start a portrait A4 section; header and footer carry over."""
        return self._new_section(landscape=False, header_text=header_text)

    def _new_section(self, *, landscape: bool, header_text: str | None) -> Section:
        """A new-page section linked to the previous header/footer unless header_text is given."""
        section = self.doc.add_section(WD_SECTION.NEW_PAGE)
        self._new_page = False  # the section starts a page already
        # The paragraph that ends the previous section holds its properties: one point high,
        # so that after a table filling its page it does not spill onto a blank page.
        ender = self.doc.paragraphs[-1]
        ender.paragraph_format.space_before = ender.paragraph_format.space_after = Pt(0)
        ender.paragraph_format.line_spacing = Pt(1)
        ender.paragraph_format.first_line_indent = Cm(0)
        _set_page(section, landscape=landscape)
        # The clone keeps the cover's "different first page"; later sections must not hide
        # their first header and footer.
        section.different_first_page_header_footer = False
        if header_text is not None:
            section.header.is_linked_to_previous = False
            p = section.header.paragraphs[0]
            p.text = xml_safe(header_text)
            p.style = "Header"
        return section

    # tables

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]],
              col_widths_cm: Sequence[float] | None = None, *, repeat_header: bool = True,
              zebra: bool = False, align: Sequence[Align] | None = None,
              total: Sequence[object] | None = None, keep_whole: bool = True) -> Table:
        """A bordered table in 五号 type whose header row repeats on every page; `total`, a
        合计 row in bold at the end. Headers get the width they need never to break inside a
        word; a short table moves to the next page whole (unless `keep_whole` is False: rows
        too tall for that), a long one never leaves its header or its last rows alone on a
        page.

        The body rows are written as XML text and spliced into the document when it is saved:
        a 40,000-issue appendix has 120,000 rows, and building them as lxml elements (even by
        copying a prepared row) and serialising them again took most of the pack's time. Until
        `save`, the in-memory table holds only its header row. Column widths are scaled down to
        the text area when they do not fit.
        """
        if self._new_page:  # a table cannot start a page itself: an empty paragraph does
            self._started(self.doc.add_paragraph(style="Normal"))
        n = len(headers)
        if align is not None and len(align) != n:
            raise ValueError(f"align has {len(align)} entries for {n} columns")
        available = usable_width_cm(self.doc.sections[-1])
        if not isinstance(rows, Sequence):
            rows = list(rows)
        mins = column_mins(rows, total, n)
        widths = fit_widths(column_widths(col_widths_cm, n, available),
                            [xml_safe(str(h)) for h in headers], available, mins=mins)
        headers = [header_text(xml_safe(str(h)), w) for h, w in zip(headers, widths)]
        twips = [int(round(w * TWIPS_PER_CM)) for w in widths]

        table = self.doc.add_table(rows=0, cols=n)
        table.style = self.doc.styles["Table Grid"]
        tbl = table._tbl
        table_properties(tbl.tblPr, sum(twips))
        for gridCol, w in zip(tbl.tblGrid.findall(qn("w:gridCol")), twips):
            gridCol.set(qn("w:w"), str(w))

        styles = self.doc.styles
        text_id, heading_id = styles["Table Text"].style_id, styles["Table Heading"].style_id
        jc = [a if a != "left" else None for a in (align or ["left"] * n)]

        # The header row and four prepared body rows (plain or shaded, kept whole or free to
        # split) as format strings: each row is one format call with its cells' escaped texts.
        header = row_format(row_template(twips, heading_id, [None] * n, fill=HEADER_FILL,
                                         header=repeat_header, cant_split=True,
                                         keep_next=True))
        fills = (None, ZEBRA_FILL if zebra else None)
        formats = [[[row_format(row_template(twips, text_id, jc, fill=f, header=False,
                                             cant_split=whole, keep_next=keep))
                     for keep in (False, True)] for whole in (False, True)] for f in fills]
        m = len(rows) + (total is not None)
        if self._rows_file is None:
            self._rows_file = tempfile.TemporaryFile(prefix="pack-rows-")
        spill = self._rows_file
        start = spill.seek(0, os.SEEK_END)
        batch = [header.format(*cells_xml([xml_safe(h) for h in headers]))]
        append = batch.append
        for i, values in enumerate(rows):
            if len(values) != n:
                raise ValueError(f"row {i + 1} has {len(values)} values for {n} columns")
            texts = [v if v.__class__ is str else xml_safe(v) for v in values]
            whole = n == 0 or max(map(len, texts)) < CANT_SPLIT_MAX_CHARS
            append(formats[i % 2][whole][keeps_next(i, m, keep_whole)].format(*cells_xml(texts)))
            if len(batch) == ROWS_BATCH:
                spill.write("".join(batch).encode("utf-8"))
                batch.clear()
        if total is not None:
            if len(total) != n:
                raise ValueError(f"the total row has {len(total)} values for {n} columns")
            bold = row_format(row_template(twips, text_id, jc, fill=HEADER_FILL, header=False,
                                           cant_split=True, bold=True))
            append(bold.format(*cells_xml([xml_safe(v) for v in total])))
        spill.write("".join(batch).encode("utf-8"))
        tbl.append(etree.Comment(f"rows:{len(self._bodies)}"))
        self._bodies.append((start, spill.tell()))
        return table

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the document atomically, the tables' rows spliced in, and return its path."""
        return save_atomically(self.doc, path, self._write_rows if self._bodies else None)

    def _write_rows(self, k: int, part: IO[bytes]) -> None:
        """Copy table k's body rows from the temporary file into the document part."""
        assert self._rows_file is not None
        start, end = self._bodies[k]
        self._rows_file.seek(start)
        while start < end:
            chunk = self._rows_file.read(min(COPY_BYTES, end - start))
            if not chunk:
                raise OSError(f"the table rows file ended at byte {start} of {end}")
            part.write(chunk)
            start += len(chunk)




_ALIGNMENTS = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
               "right": WD_ALIGN_PARAGRAPH.RIGHT}

