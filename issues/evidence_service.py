"""Evidence files (佐证材料): checked before anything is written, stored once by SHA-256 under the
evidence folder, attached to an issue or one of its measures."""
from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Callable

import sqlite_utils

from audit import login_service
from audit.model import Actor, NotFound, NotPermitted, UploadRefused, ValidationFailed
from audit.service import require
from audit.store.db import write_transaction
from audit.store.form_tokens import settle_form_token, spend_form_token
from audit.store.evidence_files import blob_path, hash_in_use, store_blob
from audit.store.history import Recorder
from audit.store.rows import get_row, insert
from issues import service
from issues.evidence_format import check_upload
from issues.evidence_preview_format import PDF, Preview, pdf_page_png, preview
from issues.model import check_editable, owns_issue, owns_measure


def _attach_target(db: sqlite_utils.Database, actor: Actor, issue_id: int,
                   measure_id: int | None) -> dict:
    """The issue evidence is attached to, checked: the measure is one of its own, the actor may
    attach there, and the issue is still being worked on (evidence is what verification rests
    on, so a submitted, closed or merged item takes none)."""
    issue = get_row(db, "issues", issue_id, "issue")
    measure = None
    if measure_id is not None:
        measure = get_row(db, "measures", measure_id, "measure")
        if measure["issue_id"] != issue_id:
            raise ValidationFailed("measure_id", f"M{measure_id} is not a measure of "
                                                 f"{issue['code']}")
    owns = owns_measure(actor, measure, issue) if measure else owns_issue(actor, issue)
    require(actor, "evidence.attach", unit_id=issue["unit_id"], owns=owns, what=issue["code"])
    if issue["merged_into_id"]:
        raise ValidationFailed("status", f"{issue['code']} was merged: attach evidence to the "
                                         "issue it was merged into")
    check_editable(issue)
    return issue


def attach_evidence(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    filename: str, data: bytes, evidence_root: Path, max_bytes: int,
                    measure_id: int | None = None, at: str, form_token: str | None = None,
                    then: Callable[[], None] | None = None) -> int:
    """Attach a file to an issue (and one of its measures); returns the evidence id. The file
    and the target are checked before anything is written, and the target again once the write
    lock is held (the issue may have been submitted meanwhile). `then` runs inside the same
    transaction once the file is recorded (see complete_measure): if it raises, nothing stays."""
    _attach_target(db, actor, issue_id, measure_id)
    name, mime = check_upload(filename, data, max_bytes)
    sha = hashlib.sha256(data).hexdigest()
    created = store_blob(evidence_root, data, sha)
    try:
        with write_transaction(db):
            spend_form_token(db, form_token, actor, "evidence.attach", at)
            _attach_target(db, actor, issue_id, measure_id)
            rec = Recorder(db, actor, at, "evidence.attach")
            eid = insert(db, rec, "evidence", "evidence", {
                "sha256": sha, "issue_id": issue_id, "measure_id": measure_id,
                "filename": name, "size": len(data), "mime": mime,
                "uploaded_by": actor.user_id, "uploaded_at": at})
            rec.flush()
            settle_form_token(db, form_token, eid)
            if then is not None:
                then()
    except BaseException:
        # Content no row refers to is removed, so a failed attach leaves nothing behind.
        if created and not hash_in_use(db, sha):
            blob_path(evidence_root, sha).unlink(missing_ok=True)
        raise
    return eid


def complete_measure(db: sqlite_utils.Database, actor: Actor, measure_id: int, *,
                     version: int | None, completed_on: str | date | None = None,
                     filename: str | None = None, data: bytes | None = None,
                     evidence_root: Path, max_bytes: int, at: str,
                     form_token: str | None = None) -> int | None:
    """Mark a measure done (issues.service.set_measure_status) with its evidence file, in one
    transaction: both are recorded or neither, and a second submit of the same form
    (`form_token`) records nothing more. Without a file the measure is only marked done (its
    evidence may already be there). Returns the evidence id, or None without a file."""
    def mark_done() -> None:
        service.set_measure_status(db, actor, measure_id, version=version, status="done",
                                   completed_on=completed_on, at=at)
    if data is None:
        mark_done()
        return None
    measure = get_row(db, "measures", measure_id, "measure")
    if measure["issue_id"] is None:
        raise ValidationFailed("measure_id", f"M{measure_id} belongs to a root cause, not an "
                                             "issue: it takes no evidence file")
    return attach_evidence(db, actor, measure["issue_id"], filename=filename or "",
                           data=data, evidence_root=evidence_root, max_bytes=max_bytes,
                           measure_id=measure_id, at=at, form_token=form_token,
                           then=mark_done)


def read_evidence(db: sqlite_utils.Database, actor: Actor, evidence_id: int,
                  evidence_root: Path) -> tuple[str, str, bytes]:
    """(original file name, mime, content) of an evidence file the actor may see. The content
    is checked against its hash, so a file changed on disk is refused."""
    ev = get_row(db, "evidence", evidence_id, "evidence")
    issue = get_row(db, "issues", ev["issue_id"], "issue")
    if not actor.in_scope(issue["unit_id"]):
        raise NotPermitted("the evidence is outside your scope", reason="scope")
    try:
        data = blob_path(evidence_root, ev["sha256"]).read_bytes()
    except FileNotFoundError:
        # Said in words where the file would show (verify names it too), never a traceback.
        raise UploadRefused(f"{ev['filename']}: the stored file is missing",
                            reason="missing") from None
    if hashlib.sha256(data).hexdigest() != ev["sha256"]:
        raise UploadRefused(f"{ev['filename']}: stored content does not match its hash",
                            reason="tampered")
    return ev["filename"], ev["mime"], data


def evidence_for_download(db: sqlite_utils.Database, user_id: int, evidence_id: int,
                          evidence_root: Path) -> tuple[str, str, bytes]:
    """read_evidence for a download link being fetched: the user as the database has them now
    (a disabled account, or a scope that no longer covers the issue, gets NotPermitted)."""
    if not login_service.is_active(db, user_id):
        raise NotPermitted(f"user {user_id} is not active", reason="inactive")
    return read_evidence(db, login_service.actor_for(db, user_id), evidence_id, evidence_root)


def preview_evidence(db: sqlite_utils.Database, actor: Actor, evidence_id: int,
                     evidence_root: Path) -> Preview:
    """What the page may show of an evidence file the actor may see (read_evidence's scope and
    hash checks): PDF page count, an image, a Word document's text, a workbook's first rows."""
    _name, mime, data = read_evidence(db, actor, evidence_id, evidence_root)
    return preview(mime, data)


def evidence_page_for_view(db: sqlite_utils.Database, user_id: int, evidence_id: int,
                           page: int, evidence_root: Path) -> tuple[str, str, bytes]:
    """Page `page` (0-based) of a PDF evidence file as a PNG, for an image in the page being
    fetched: the user checked as evidence_for_download does. NotFound when there is no such
    page or it cannot be drawn."""
    name, mime, data = evidence_for_download(db, user_id, evidence_id, evidence_root)
    png = pdf_page_png(data, page) if mime == PDF else None
    if png is None:
        raise NotFound(f"{name}: no page {page + 1} to show", entity="evidence", id=evidence_id)
    return f"{Path(name).stem}-{page + 1}.png", "image/png", png
