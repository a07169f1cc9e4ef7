"""Evidence files (佐证材料): checked before anything is written, stored once by SHA-256 under the
evidence folder, attached to an issue or one of its measures."""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import sqlite_utils

from audit.db import one, write_transaction
from audit.errors import NotPermitted, UploadRefused, ValidationFailed
from audit.model import Actor
from audit.ops import Recorder, get_row, insert, require

# extension → (mime, magic check)
ALLOWED = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
}
MAX_ZIP_UNCOMPRESSED = 500 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 10_000


def _magic_ok(ext: str, data: bytes) -> bool:
    if ext == ".pdf":
        return data.startswith(b"%PDF-")
    if ext == ".png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if ext in (".jpg", ".jpeg"):
        return data.startswith(b"\xff\xd8\xff")
    if ext == ".gif":
        return data.startswith((b"GIF87a", b"GIF89a"))
    if ext == ".webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if ext in (".docx", ".xlsx", ".zip"):
        return data.startswith(b"PK\x03\x04") or (ext == ".zip" and data.startswith(b"PK\x05\x06"))
    return False


def safe_filename(name: str) -> str:
    """A file name with any directory part, control and reserved characters removed."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", name)
    name = name.strip().lstrip(".")
    return name[:200]


def check_upload(filename: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    """Refuse an upload that is too big, of a type not allowed, not what its name says, or a
    hostile archive. Returns (safe file name, mime type). Raises UploadRefused."""
    name = safe_filename(filename)
    if not name:
        raise UploadRefused(f"file name {filename!r} is empty once cleaned", field="filename",
                            reason="name")
    if len(data) == 0:
        raise UploadRefused(f"{name}: the file is empty", field="file", reason="empty")
    if len(data) > max_bytes:
        raise UploadRefused(f"{name}: {len(data)} bytes is over the limit of {max_bytes} bytes",
                            field="file", reason="size", limit=max_bytes)
    ext = os.path.splitext(name)[1].lower()
    if ext not in ALLOWED:
        raise UploadRefused(f"{name}: type {ext or '(none)'} is not allowed; allowed: "
                            f"{', '.join(sorted(ALLOWED))}", field="file", reason="type")
    if not _magic_ok(ext, data):
        raise UploadRefused(f"{name}: the content is not a {ext} file", field="file",
                            reason="content")
    if ext in (".docx", ".xlsx", ".zip"):
        _check_archive(name, ext, data)
    return name, ALLOWED[ext]


def _check_archive(name: str, ext: str, data: bytes) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as ex:
        raise UploadRefused(f"{name}: not a readable archive ({ex})", field="file",
                            reason="content") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadRefused(f"{name}: too many entries ({len(infos)})", field="file",
                            reason="zip_bomb")
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_ZIP_UNCOMPRESSED or total / packed > MAX_ZIP_RATIO:
        raise UploadRefused(f"{name}: unpacks to {total} bytes from {packed} "
                            "(looks like a zip bomb)", field="file", reason="zip_bomb")
    for i in infos:
        n = i.filename.replace("\\", "/")
        if n.startswith("/") or ".." in n.split("/") or re.match(r"^[A-Za-z]:", n):
            raise UploadRefused(f"{name}: entry {i.filename!r} points outside the archive",
                                field="file", reason="traversal")
    names = {i.filename for i in infos}
    if ext == ".docx" and not ("[Content_Types].xml" in names and
                               any(n.startswith("word/") for n in names)):
        raise UploadRefused(f"{name}: not a Word document", field="file", reason="content")
    if ext == ".xlsx" and not ("[Content_Types].xml" in names and
                               any(n.startswith("xl/") for n in names)):
        raise UploadRefused(f"{name}: not an Excel workbook", field="file", reason="content")


def blob_path(root: Path, sha256: str) -> Path:
    """Where a content hash is stored: <root>/ab/cdef…"""
    return Path(root) / sha256[:2] / sha256[2:]


def _store_blob(root: Path, data: bytes, sha: str) -> bool:
    """Write the content once (atomically); returns True when it was new."""
    path = blob_path(root, sha)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return True


def attach_evidence(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    filename: str, data: bytes, evidence_root: Path, max_bytes: int,
                    measure_id: int | None = None, at: str) -> int:
    """Attach a file to an issue (and one of its measures). Checks permission and the file
    before anything is written; returns the evidence id."""
    from issues.service import owns_issue, owns_measure
    issue = get_row(db, "issues", issue_id, "issue")
    measure = None
    if measure_id is not None:
        measure = get_row(db, "measures", measure_id, "measure")
        if measure["issue_id"] != issue_id:
            raise ValidationFailed("measure_id", f"M{measure_id} is not a measure of "
                                                 f"{issue['code']}")
    owns = owns_measure(actor, measure, issue) if measure else owns_issue(actor, issue)
    require(actor, "evidence.attach", unit_id=issue["unit_id"], owns=owns, what=issue["code"])
    if issue["status"] in ("closed", "ended") or issue["merged_into_id"]:
        raise ValidationFailed("status", f"{issue['code']} is {issue['status']}: no new "
                                         "evidence after closing")
    name, mime = check_upload(filename, data, max_bytes)
    sha = hashlib.sha256(data).hexdigest()
    created = _store_blob(evidence_root, data, sha)
    rec = Recorder(db, actor, at, "evidence.attach")
    try:
        with write_transaction(db):
            eid = insert(db, rec, "evidence", "evidence", {
                "sha256": sha, "issue_id": issue_id, "measure_id": measure_id,
                "filename": name, "size": len(data), "mime": mime,
                "uploaded_by": actor.user_id, "uploaded_at": at})
            rec.flush()
    except BaseException:
        # Content no row refers to is removed, so a failed attach leaves nothing behind.
        if created and one(db, "SELECT id FROM evidence WHERE sha256 = ?", (sha,)) is None:
            blob_path(evidence_root, sha).unlink(missing_ok=True)
        raise
    return eid


def read_evidence(db: sqlite_utils.Database, actor: Actor, evidence_id: int,
                  evidence_root: Path) -> tuple[str, str, bytes]:
    """(original file name, mime, content) of an evidence file the actor may see. The content
    is checked against its hash, so a file changed on disk is refused."""
    ev = get_row(db, "evidence", evidence_id, "evidence")
    issue = get_row(db, "issues", ev["issue_id"], "issue")
    if not actor.in_scope(issue["unit_id"]):
        raise NotPermitted("the evidence is outside your scope", reason="scope")
    data = blob_path(evidence_root, ev["sha256"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != ev["sha256"]:
        raise UploadRefused(f"{ev['filename']}: stored content does not match its hash",
                            reason="tampered")
    return ev["filename"], ev["mime"], data
