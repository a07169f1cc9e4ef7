"""Small parts of a Word document the review pack needs beyond python-docx: the date in Chinese
numerals (二〇二六年十一月二十七日), bookmarks on headings and a table of contents whose page
numbers are PAGEREF fields (LibreOffice computes them when it lays the document out; Word when
it updates fields, which settings.xml asks it to do on opening), pagination controls on
paragraphs, the width a table header needs so that it never breaks inside a word, and the
core properties (the history anchor in `identifier`)."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Sequence

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


# Widths of narrow characters in ems (Liberation Sans / Serif, about): capitals and m, w are
# wider than the average the estimate used before (Commo/n broke inside its word).
_THIN = set(".,:;!|'()[]/-–· ")
_BROAD = set("mwMW@%")


def _em(ch: str) -> float:
    if _wide(ch):
        return 1.0
    if ch in _BROAD:
        return 0.9
    if ch in _THIN:
        return 0.36
    return 0.72 if ch.isupper() else 0.56


def _line_cm(text: str, size_pt: float) -> float:
    """The width (cm) of `text` on one line at `size_pt`, without the cell's margins."""
    return sum(map(_em, text)) * size_pt / 72 * 2.54


_PADDING_CM = 0.5  # the cell's left and right margins, and bold type


_OPENING, _CLOSING = set("（([《“‘"), set("）)]》”’、，。：；/")


def header_lines(text: str) -> list[str]:
    """The lines a table header may take without breaking inside a word: lines the text breaks
    itself ("\n"); a Chinese header of up to three characters on one line (问题数); a longer one
    on two, broken between words (逾期 / 工作日, 严重 / 程度, never 逾期工 / 作日) where the two
    lines are most even (header_text keeps it on one line where the column is wide enough).
    An English header is its words (LibreOffice and Word break between them)."""
    if "\n" in text:
        return text.split("\n")
    if " " in text or sum(1 for ch in text if _wide(ch)) <= 3:
        return [text]
    import rjieba  # the word cutter the duplicate finder uses; loaded when a header needs it
    words = rjieba.cut(text)
    best: list[str] = [text]
    best_width = float("inf")
    for k in range(1, len(words)):
        lines = ["".join(words[:k]), "".join(words[k:])]
        if lines[0][-1] in _OPENING or lines[1][0] in _CLOSING:
            continue  # a line never ends with （ nor starts with ）
        width = max(_line_cm(line, 10.5) for line in lines)
        if width < best_width:
            best, best_width = lines, width
    return best


def header_min_cm(text: str, size_pt: float = 10.5) -> float:
    """The narrowest column (cm) in which a header never breaks inside a word: an English
    header's longest word on one line; a Chinese header's lines (header_lines) each on one."""
    pieces = [w for line in header_lines(text) for w in (line.split() or [""])]
    return max(_line_cm(p, size_pt) * 1.05 for p in pieces) + _PADDING_CM


def header_text(text: str, width_cm: float, size_pt: float = 10.5) -> str:
    """The header as written in a column `width_cm` wide: on one line where it fits, else with
    the break between words that header_lines chose (Word and LibreOffice break a Chinese line
    anywhere, so the break is written)."""
    if "\n" in text or " " in text or _line_cm(text, size_pt) * 1.05 + _PADDING_CM <= width_cm:
        return text
    return "\n".join(header_lines(text))


# A cell shorter than this stays on one line (a date, an amount, 已销号, 分阶段整改, revised):
# narrow characters, or wide ones, up to the number given.
_WHOLE_NARROW, _WHOLE_WIDE = 14, 5


def cell_min_cm(text: str, size_pt: float = 10.5) -> float:
    """The narrowest column (cm) that shows a short cell without breaking it inside a word: a
    date (2026-11-09), an amount (1,648,398.31), a status (已销号) or type (分阶段整改), an English
    word (Awaiting, verification). 0 for longer text, which wraps."""
    longest = 0.0
    for word in text.split():
        wide = sum(1 for ch in word if _wide(ch))
        if (wide and wide > _WHOLE_WIDE) or len(word) - wide > _WHOLE_NARROW:
            if wide:
                return 0.0
            continue
        longest = max(longest, _line_cm(word, size_pt))
    return longest + _PADDING_CM if longest else 0.0


def fit_widths(widths: list[float], headers: list[str], available: float,
               size_pt: float = 10.5, mins: Sequence[float] | None = None) -> list[float]:
    """Widths (cm) that give every header at least its `header_min_cm`, taken from the other
    columns in proportion, within `available`; then, as far as the text columns can give it
    (each keeps at least _TEXT_KEEPS of its width), every column of short cells its `mins`
    (cell_min_cm: the width that shows 2026-11-09 or 已销号 on one line)."""
    need = [header_min_cm(h, size_pt) for h in headers]
    base = _fit(widths, need, available)
    if not mins:
        return base
    want = [max(b, m) for b, m in zip(base, mins)]
    if sum(want) <= available:
        return want
    # Text columns (no short cells: they wrap) give what the text area's free width does not;
    # the others take.
    free = max(0.0, available - sum(base))
    extra = sum(want) - sum(base)
    if extra <= 0:  # no short cell wants more than it has (a table wider than the page)
        return want
    floors = [b if m > 0 else max(n, b * _TEXT_KEEPS) for b, n, m in zip(base, need, mins)]
    room = sum(b - f for b, f in zip(base, floors))
    if room + free <= 0:
        return base
    give = min(1.0, (extra - free) / room) if room > 0 else 0.0
    take = min(1.0, (room + free) / extra)
    return [b + (w - b) * take if m > 0 else b - (b - f) * give
            for b, w, f, m in zip(base, want, floors, mins)]


_TEXT_KEEPS = 0.7  # the share of its width a wrapping text column keeps for short cells


def _fit(widths: list[float], need: list[float], available: float) -> list[float]:
    """`widths` raised to `need`, the rest shrunk in proportion to fit `available`."""
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
