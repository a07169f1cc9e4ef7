"""Small parts of a Word document the review pack needs beyond python-docx: the date in Chinese
numerals (二〇二六年十一月二十七日), bookmarks on headings and a table of contents whose page
numbers are PAGEREF fields (LibreOffice computes them when it lays the document out; Word when
it updates fields, which settings.xml asks it to do on opening), pagination controls on
paragraphs, the width a table header needs so that it never breaks inside a word, and the
core properties (the history anchor in `identifier`)."""
from __future__ import annotations

import datetime as dt
import math
import unicodedata

from docx.document import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from audit import messages
from audit.text_format import xml_safe

_DIGITS = "〇一二三四五六七八九"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def chinese_number(n: int) -> str:
    """1–99 in Chinese numerals as dates write them: 十一, 二十七, 三十 (the catalogue's
    docx.day.* and docx.month_formal.* keys hold them; tests check the two agree)."""
    if not 0 < n < 100:
        raise ValueError(f"{n} is outside 1–99")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


def formal_date(day: dt.date, lang: str) -> str:
    """The date as a cover or a signature block writes it: 二〇二六年十一月二十七日 in
    Chinese (year digit by digit, month and day as numbers), 27 November 2026 in English."""
    digits = messages.t("docx.digits", lang)
    return messages.t("docx.formal_date", lang,
                      year="".join(digits[int(c)] for c in str(day.year)),
                      month=messages.t(f"docx.month_formal.{day.month}", lang),
                      day=messages.t(f"docx.day.{day.day}", lang))


# --- pagination ---------------------------------------------------------------------------


def keep_with_next(paragraph: Paragraph, keep: bool = True) -> None:
    """Keep the paragraph on the page of the one after it (a heading or caption with what
    follows)."""
    paragraph.paragraph_format.keep_with_next = keep


def page_break_before(paragraph: Paragraph) -> None:
    """Start the paragraph on a new page: unlike a page-break paragraph, this never leaves a
    blank page behind a table that filled its page."""
    paragraph.paragraph_format.page_break_before = True


# --- bookmarks and the table of contents ---------------------------------------------------


def add_bookmark(paragraph: Paragraph, name: str, bookmark_id: int) -> None:
    """Wrap the paragraph's runs in a bookmark called `name` (the target of a PAGEREF)."""
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(bookmark_id))
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(bookmark_id))
    p = paragraph._p
    pPr = p.find(qn("w:pPr"))
    if pPr is not None:
        pPr.addnext(start)
    else:
        p.insert(0, start)
    p.append(end)


def _run(text: str | None = None):
    r = OxmlElement("w:r")
    if text is not None:
        t = OxmlElement("w:t")
        t.set(_XML_SPACE, "preserve")
        t.text = text
        r.append(t)
    return r


def _field(code: str, cached: str) -> list:
    """The runs of a complex field with its cached result."""
    runs = []
    for kind in ("begin", "instr", "separate", "result", "end"):
        if kind == "instr":
            r = _run()
            instr = OxmlElement("w:instrText")
            instr.set(_XML_SPACE, "preserve")
            instr.text = f" {code} "
            r.append(instr)
        elif kind == "result":
            r = _run(cached)
        else:
            r = _run()
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            r.append(fld)
        runs.append(r)
    return runs


def toc_line(doc: Document, text: str, bookmark: str, level: int, width_twips: int):
    """One line of the table of contents: the heading's text, a dotted tab to the right
    margin and the PAGEREF of its bookmark. Returns the w:p element (not yet placed)."""
    p = OxmlElement("w:p")
    pPr = OxmlElement("w:pPr")
    style = OxmlElement("w:pStyle")
    style.set(qn("w:val"), doc.styles[f"TOC {level}"].style_id if f"TOC {level}" in
              [s.name for s in doc.styles] else doc.styles["Normal"].style_id)
    pPr.append(style)
    tabs = OxmlElement("w:tabs")
    tab = OxmlElement("w:tab")
    tab.set(qn("w:val"), "right")
    tab.set(qn("w:leader"), "dot")
    tab.set(qn("w:pos"), str(width_twips))
    tabs.append(tab)
    pPr.append(tabs)
    ind = OxmlElement("w:ind")
    ind.set(qn("w:left"), str((level - 1) * 420))
    ind.set(qn("w:firstLine"), "0")
    ind.set(qn("w:firstLineChars"), "0")
    pPr.append(ind)
    p.append(pPr)
    p.append(_run(xml_safe(text)))
    tab_run = _run()
    tab_run.append(OxmlElement("w:tab"))
    p.append(tab_run)
    for r in _field(f"PAGEREF {bookmark} \\h", "1"):
        p.append(r)
    return p


def ask_to_update_fields(doc: Document) -> None:
    """Ask Word to update the fields (the contents' page numbers) when the file is opened."""
    settings = doc.settings.element
    if settings.find(qn("w:updateFields")) is None:
        el = OxmlElement("w:updateFields")
        el.set(qn("w:val"), "true")
        settings.append(el)


# --- table headers -------------------------------------------------------------------------


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def header_min_cm(text: str, size_pt: float = 10.5) -> float:
    """The narrowest column (cm) in which a header never breaks inside a word: an English
    header's longest word on one line; a Chinese header of up to four characters on one line,
    a longer one on two (so 问题数 stays whole, 按期整改率 may go to two lines)."""
    em = size_pt / 72 * 2.54  # cm per full-width character
    padding = 0.5  # the cell's left and right margins, and bold type
    words = text.split()
    longest = 0.0
    for word in words or [""]:
        wide = sum(1 for ch in word if _wide(ch))
        narrow = len(word) - wide
        if wide and wide > 4:
            wide = math.ceil(wide / 2)
        longest = max(longest, wide * em + narrow * em * 0.55)
    return longest + padding


def fit_widths(widths: list[float], headers: list[str], available: float,
               size_pt: float = 10.5) -> list[float]:
    """Widths (cm) that give every header at least its `header_min_cm`, taken from the other
    columns in proportion, within `available`."""
    need = [header_min_cm(h, size_pt) for h in headers]
    out = [max(w, n) for w, n in zip(widths, need)]
    total = sum(out)
    if total <= available:
        return out
    # Shrink only what is above its minimum.
    spare = sum(w - n for w, n in zip(out, need))
    excess = total - available
    if spare <= 0:
        return [w * available / total for w in out]
    return [n + (w - n) * max(0.0, 1 - excess / spare) for w, n in zip(out, need)]


# --- properties ---------------------------------------------------------------------------


def set_core_properties(doc: Document, *, title: str, author: str, identifier: str,
                        created: dt.datetime, subject: str = "", language: str = "") -> None:
    """Title, author (a department or person, never a login), subject, language and the
    identifier (the history anchor `anchor:SEQ:HASH` that `verify --against FILE` reads)."""
    props = doc.core_properties
    props.title = xml_safe(title)
    props.author = xml_safe(author)
    props.last_modified_by = xml_safe(author)
    props.identifier = identifier
    props.subject = xml_safe(subject)
    props.language = language
    props.created = created
    props.modified = created
    props.revision = 1
    props.comments = ""
    props.keywords = ""
    props.category = ""
