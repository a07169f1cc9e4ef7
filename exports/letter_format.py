"""The supervision letter (督办函) as a Word document, built from plain facts.

Addressed to the head of the unit that must act: the facts of the issue, its original and
current deadline, what is still missing (三不放过 and the unfinished measures), the date by which
to reply in writing, the issuing office and the date of issue. A4, 宋体/黑体 through
exports.docx_format; every text passes `xml_safe` on its way in, so callers hand over raw values.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm

from audit.messages import t
from audit.text_format import xml_safe
from exports.docx_format import format_date, new_document, set_header_footer


@dataclass(frozen=True)
class OpenMeasure:
    """An unfinished measure as the letter lists it."""

    title: str
    owner: str
    deadline: date | None


@dataclass(frozen=True)
class LetterFacts:
    """Everything the letter says. `missing` holds 三不放过 keys (missing.* in the catalogue)."""

    number: str
    addressee_unit: str
    addressee: str
    code: str
    title: str
    description: str
    unit: str
    responsible: str
    sources: tuple[str, ...]
    status: str
    original_deadline: date | None
    deadline: date | None
    overdue_days: int
    progress: str
    missing: tuple[str, ...]
    open_measures: tuple[OpenMeasure, ...]
    reply_by: date
    office: str
    issued_on: date


def letter_filename(code: str, lang: str) -> str:
    """The attachment's file name, e.g. 督办函-C1.1.1.docx."""
    safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in code)
    return t("letter.filename", lang, code=safe)


def _day(d: date | None, lang: str) -> str:
    return format_date(d, lang) if d is not None else t("remind.no_deadline", lang)  # type: ignore[arg-type]


def letter_docx(f: LetterFacts, lang: str = "zh") -> bytes:
    """The 督办函 as .docx bytes."""
    doc = new_document(lang)  # type: ignore[arg-type]
    set_header_footer(doc.sections[0], t("letter.header", lang, office=f.office), lang)  # type: ignore[arg-type]
    doc.add_paragraph(xml_safe(t("letter.title", lang)), style="Title")
    doc.paragraphs[-1].paragraph_format.space_after = Cm(0.3)
    number = doc.add_paragraph(xml_safe(f.number), style="Subtitle")
    number.paragraph_format.space_after = Cm(0.6)

    def body(text: str, style: str = "Body Text"):
        return doc.add_paragraph(xml_safe(text), style=style)

    salutation = doc.add_paragraph(style="Normal")
    salutation.add_run(xml_safe(t("letter.to", lang, unit=f.addressee_unit,
                                  name=f.addressee))).bold = True
    deadline_text = (t("letter.deadline_extended", lang,
                       original=_day(f.original_deadline, lang), current=_day(f.deadline, lang))
                     if f.original_deadline and f.deadline and f.original_deadline != f.deadline
                     else t("letter.deadline_single", lang, original=_day(f.deadline, lang)))
    body(t("letter.opening", lang, unit=f.unit, code=f.code, title=f.title,
           deadline=deadline_text, as_of=_day(f.issued_on, lang), days=f.overdue_days))

    doc.add_paragraph(xml_safe(t("letter.h.facts", lang)), style="Heading 2")
    sep = t("remind.list_sep", lang)
    facts = [
        (t("letter.f.issue", lang), f"{f.code} {f.title}"),
        (t("letter.f.description", lang), f.description or t("letter.none", lang)),
        (t("letter.f.sources", lang), sep.join(f.sources) or t("letter.none", lang)),
        (t("letter.f.unit", lang), f.unit),
        (t("letter.f.responsible", lang), f.responsible or t("letter.none", lang)),
        (t("letter.f.status", lang), t(f"status.{f.status}", lang)),
        (t("letter.f.original_deadline", lang), _day(f.original_deadline, lang)),
        (t("letter.f.deadline", lang), _day(f.deadline, lang)),
        (t("letter.f.overdue", lang), t("letter.days", lang, days=f.overdue_days)),
        (t("letter.f.progress", lang), f.progress or t("letter.none", lang)),
    ]
    for label, value in facts:
        p = doc.add_paragraph(style="Normal")
        # The facts read as a list: tighter than body text, so the letter keeps to one page.
        p.paragraph_format.line_spacing = 1.0
        p.add_run(xml_safe(label + t("letter.colon", lang))).bold = True
        p.add_run(xml_safe(value))

    doc.add_paragraph(xml_safe(t("letter.h.missing", lang)), style="Heading 2")
    if not f.missing and not f.open_measures:
        body(t("letter.nothing_missing", lang))
    if f.missing:
        body(t("letter.missing", lang,
               items=sep.join(t(f"missing.{m}", lang) for m in f.missing)))
    for m in f.open_measures:
        doc.add_paragraph(xml_safe(t("letter.open_measure", lang, title=m.title,
                                     owner=m.owner or t("letter.none", lang),
                                     deadline=_day(m.deadline, lang))), style="List Bullet")

    doc.add_paragraph(xml_safe(t("letter.h.requirements", lang)), style="Heading 2")
    # The requirements and the signature stay together: a signature alone on a page is no
    # signature.
    body(t("letter.requirements", lang, reply_by=_day(f.reply_by, lang),
           office=f.office)).paragraph_format.keep_with_next = True
    for i, line in enumerate((f.office, _day(f.issued_on, lang))):
        p = doc.add_paragraph(xml_safe(line), style="Normal")
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if i == 0:
            p.paragraph_format.space_before = Cm(0.8)
            p.paragraph_format.keep_with_next = True
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
