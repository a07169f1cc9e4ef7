"""The 督办函 letters: the facts of one, the list a person may open, and the document itself.
A letter is the 'letter' step of the escalation ladder (recorded by an audit lead); it is made
from the issue as it is now and dated on the day the step was recorded."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.messages import t
from audit.model import Actor, NotFound, NotPermitted
from audit.store import org
from audit.time_model import Calendar, add_working_days
from exports import letter_format
from exports import remind_store as store
from exports.letter_format import LetterFacts, OpenMeasure
from exports.remind_model import overdue_days
from issues.model import missing_for_closure
from issues.store import issue_facts

DEFAULT_OFFICE = "审计整改工作办公室"


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def letter_facts(db: sqlite_utils.Database, escalation_id: int, lang: str,
                 cal: Calendar | None = None) -> LetterFacts:
    """What the letter of an escalation step says. Raises NotFound."""
    r = store.letter_rows(db, escalation_id)
    if r is None:
        raise NotFound(f"escalation {escalation_id} not found", entity="escalation",
                       id=escalation_id)
    cal = cal or org.load_calendar(db)
    settings = store.settings(db)
    issued = date.fromisoformat(r["as_of"])
    reply_days = int(settings.get("remind.reply_days", "5") or 5)
    # Unfinished measures are listed one by one, so "measures done" is not repeated as a key.
    missing = tuple(k for k in missing_for_closure(issue_facts(db, r["issue_id"]))
                    if k != "measures_done")
    deadline = _day(r["deadline"])
    return LetterFacts(
        number=t("letter.number", lang, year=issued.year, n=r["id"]),
        addressee_unit=r["target_unit_name"] or r["unit_name"],
        addressee=r["target_name"] or "",
        code=r["code"], title=r["title"], description=r["description"] or "",
        unit=r["unit_name"], responsible=r["responsible_name"] or "",
        sources=tuple(store.issue_sources(db, r["issue_id"])), status=r["status"],
        original_deadline=_day(r["original_deadline"]), deadline=deadline,
        overdue_days=overdue_days(cal, deadline, issued), progress=r["progress"] or "",
        missing=missing,
        open_measures=tuple(OpenMeasure(m["title"], m["owner"] or "", _day(m["deadline"]))
                            for m in store.unfinished_measures(db, r["issue_id"])),
        reply_by=add_working_days(cal, issued, reply_days),
        office=settings.get("remind.issuing_office") or DEFAULT_OFFICE, issued_on=issued)


def letter_bytes(db: sqlite_utils.Database, escalation_id: int, lang: str,
                 cal: Calendar | None = None) -> tuple[str, bytes]:
    """(file name, .docx bytes) of a step's letter, without a permission check (the reminder
    run attaches it). Raises NotFound."""
    facts = letter_facts(db, escalation_id, lang, cal)
    return letter_format.letter_filename(facts.code, lang), letter_format.letter_docx(facts, lang)


def letters_for(db: sqlite_utils.Database, actor: Actor, lang: str) -> list[dict]:
    """The letters of issues in the actor's scope, newest first: id, as_of, issue_id, code,
    title, target_unit_name, number and filename (in `lang`)."""
    out = []
    for r in store.letters(db):
        if actor.in_scope(r["unit_id"]):
            r["number"] = t("letter.number", lang, year=r["as_of"][:4], n=r["id"])
            r["filename"] = letter_format.letter_filename(r["code"], lang)
            out.append(r)
    return out


def letter_document(db: sqlite_utils.Database, actor: Actor, escalation_id: int, lang: str
                    ) -> tuple[str, bytes]:
    """(file name, .docx bytes) of a letter the actor may read: its issue is in their scope.
    Raises NotFound (also for a step that is not a letter) or NotPermitted."""
    r = store.letter_rows(db, escalation_id)
    if r is None or r["step"] != "letter":
        raise NotFound(f"letter {escalation_id} not found", entity="escalation",
                       id=escalation_id)
    if not actor.in_scope(r["unit_id"]):
        raise NotPermitted(f"letter {escalation_id} is outside {actor.username}'s scope",
                           reason="scope", what=r["code"])
    return letter_bytes(db, escalation_id, lang)
