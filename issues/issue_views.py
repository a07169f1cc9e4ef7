"""Service helpers for the issue page (问题详情): everything the page shows of one issue in one
call (scope checked), the history timeline, evidence in and out (the evidence folder is found
from the database file), and the choices its forms offer. No Streamlit here."""
from __future__ import annotations

import json
from datetime import date

from typing import Callable

import sqlite_utils

from audit import model
from audit.model import Actor, Status, can
from audit.store import history
from audit.store.db import database_file, open_database, rows
from audit.store.evidence_files import evidence_root
from audit.store.paths import max_upload_bytes
from audit.views import amber_cutoff
from issues import (
    catalogue_views,
    evidence_format,
    evidence_preview_format,
    evidence_service,
    graph_views,
    service,
    store,
)
from issues.model import (
    Move,
    closure_steps,
    missing_for_assignment,
    missing_for_closure,
    warning_colour,
)

MAX_PICK = 50


def issue_page_data(db: sqlite_utils.Database, actor: Actor, issue_id: int) -> dict:
    """The issue's full detail (see service.visible_issue) plus `moves` (what this user may
    press now), `timeline` (newest first), `source_fixes` (causes fixed at the source) and
    `dependencies` (measure_dependencies, when available). Raises NotFound / NotPermitted."""
    detail = service.visible_issue(db, actor, issue_id)
    detail["moves"] = service.allowed_moves(db, actor, issue_id)
    detail["timeline"] = store.issue_timeline(db, issue_id)
    detail["source_fixes"] = _source_fixes(db, issue_id)
    facts = store.issue_facts(db, issue_id)
    detail["closure_missing"] = missing_for_closure(facts)
    detail["closure_steps"] = closure_steps(facts)
    detail["assignment_missing"] = missing_for_assignment(facts)
    return detail


def warning_of(db: sqlite_utils.Database, detail: dict, as_of: date) -> str:
    """The issue's warning colour as of a date (red/amber/green/none), its milestones counted
    (audit.rules_model); the live row's colour for an issue not in the database."""
    from audit.rules_views import issue_warning
    if detail.get("id") is not None:
        return issue_warning(db, detail["id"], as_of)
    cutoff = amber_cutoff(db, as_of).isoformat()
    return warning_colour(Status(detail["status"]), detail["deadline"], as_of.isoformat(),
                          cutoff).value


def _source_fixes(db: sqlite_utils.Database, issue_id: int) -> list[dict]:
    """Causes of the issue fixed at the source."""
    return graph_views.issue_source_fixes(db, issue_id)


def may(actor: Actor, action: str) -> bool:
    """Does the actor's role allow `action` at all (ownership is checked by the services)?"""
    return can(action, actor.role)


def owns_issue(actor: Actor, detail: dict) -> bool:
    """Is the actor the issue's responsible person?"""
    return actor.person_id is not None and detail["responsible_person_id"] == actor.person_id


def may_edit(actor: Actor, action: str, detail: dict, measure: dict | None = None) -> bool:
    """Show a form for `action` on this issue (or measure)? Role 'all' in scope, or 'own' on an
    issue or measure of the actor's. The service checks again."""
    from audit.model import grant
    level = grant(action, actor.role)
    if level is None or not actor.in_scope(detail["unit_id"]) or detail.get("merged_into_id"):
        return False
    if level == "all":
        return True
    if owns_issue(actor, detail):
        return True
    return measure is not None and measure.get("owner_person_id") == actor.person_id \
        and actor.person_id is not None


def needs_reason(move: Move | str) -> bool:
    """Does this move need a written reason (return, reopen, end)?"""
    from issues.model import TRANSITIONS
    return TRANSITIONS[Move(move)].needs_reason


def people_choices(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Active people in the actor's scope (id, name, unit_name), for owner and person fields."""
    found = rows(db, "SELECT p.id, p.name, p.unit_id, u.name AS unit_name FROM people p "
                     "JOIN units u ON u.id = p.unit_id WHERE p.active = 1 "
                     "ORDER BY u.level <> 'region', u.code, p.name")
    return [p for p in found if actor.in_scope(p["unit_id"])]


def cause_choices(db: sqlite_utils.Database) -> list[dict]:
    """Every root cause (id, code, title), for linking an existing cause."""
    found = rows(db, "SELECT id, code, title FROM causes")
    return sorted(found, key=lambda c: model.code_key(c["code"]))


def pick_issues(db: sqlite_utils.Database, actor: Actor, text: str | None, as_of: date,
                limit: int = MAX_PICK) -> list[dict]:
    """Issues in scope matching a code or words, for the page's picker (id, code, title,
    status)."""
    found = catalogue_views.search_issues(db, actor, as_of=as_of, text=text or None, limit=limit)
    return [{k: r[k] for k in ("id", "code", "title", "status")} for r in found]


def attach(db: sqlite_utils.Database, actor: Actor, issue_id: int, *, filename: str,
           data: bytes, measure_id: int | None, at: str, form_token: str | None = None) -> int:
    """Attach an uploaded evidence file (checked and stored by issues.evidence)."""
    return evidence_service.attach_evidence(db, actor, issue_id, filename=filename, data=data,
                                    evidence_root=evidence_root(db),
                                    max_bytes=max_upload_bytes(), measure_id=measure_id, at=at,
                                    form_token=form_token)


def complete_measure(db: sqlite_utils.Database, actor: Actor, measure_id: int, *,
                     version: int | None, completed_on: str | None, filename: str | None,
                     data: bytes | None, at: str, form_token: str | None = None) -> int | None:
    """Mark a measure done with its evidence file in one step (evidence_service.complete_measure)."""
    return evidence_service.complete_measure(
        db, actor, measure_id, version=version, completed_on=completed_on, filename=filename,
        data=data, evidence_root=evidence_root(db), max_bytes=max_upload_bytes(), at=at,
        form_token=form_token)


def evidence_file(db: sqlite_utils.Database, actor: Actor, evidence_id: int
                  ) -> tuple[str, str, bytes]:
    """(original name, mime, content) of an evidence file the actor may see."""
    return evidence_service.read_evidence(db, actor, evidence_id, evidence_root(db))


def evidence_loader(db: sqlite_utils.Database, actor: Actor, evidence_id: int
                    ) -> Callable[[], tuple[str, str, bytes]]:
    """What a download link runs when it is fetched (on the server's own thread, with its own
    connection): the evidence file, if the user may still see it then."""
    path, root, user_id = database_file(db), evidence_root(db), actor.user_id

    def load() -> tuple[str, str, bytes]:
        own = open_database(path, migrate=False)
        try:
            return evidence_service.evidence_for_download(own, user_id, evidence_id, root)
        finally:
            own.conn.close()

    return load


def evidence_preview(db: sqlite_utils.Database, actor: Actor, evidence_id: int
                     ) -> evidence_preview_format.Preview:
    """What the page shows of an evidence file the actor may see (NotPermitted outside scope)."""
    return evidence_service.preview_evidence(db, actor, evidence_id, evidence_root(db))


def evidence_page_loader(db: sqlite_utils.Database, actor: Actor, evidence_id: int, page: int
                         ) -> Callable[[], tuple[str, str, bytes]]:
    """What an image of page `page` of a PDF runs when the browser fetches it: the page drawn,
    if the user may still see the file then (as evidence_loader)."""
    path, root, user_id = database_file(db), evidence_root(db), actor.user_id

    def load() -> tuple[str, str, bytes]:
        own = open_database(path, migrate=False)
        try:
            return evidence_service.evidence_page_for_view(own, user_id, evidence_id, page, root)
        finally:
            own.conn.close()

    return load


def upload_types() -> list[str]:
    """The file types the uploader accepts (without dots)."""
    return sorted(ext.lstrip(".") for ext in evidence_format.ALLOWED)


def upload_limit() -> int:
    """The per-file upload limit in bytes."""
    return max_upload_bytes()


def file_size_text(size: int) -> str:
    """A file size for people: 512 B, 12.3 KB, 4.0 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def whole_row(field: str, value: str | None) -> dict | None:
    """The columns of a whole-row history record (a row created in bulk, field '*'), or None
    for any other record."""
    if field != history.ROW or value is None:
        return None
    return json.loads(value)
