"""Evidence files on disk: stored once by SHA-256 in `<db stem>-evidence/` beside the database
(audit.store.paths.evidence_dir), written atomically, and checked against the hashes their
rows record (`check_files`, run by `verify`)."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from audit.store.db import database_file
from audit.store.paths import evidence_dir


def evidence_root(db: sqlite_utils.Database) -> Path:
    """The evidence folder of this database file."""
    return evidence_dir(database_file(db))


def blob_path(root: Path, sha256: str) -> Path:
    """Where a content hash is stored: <root>/ab/cdef…"""
    return Path(root) / sha256[:2] / sha256[2:]


def store_blob(root: Path, data: bytes, sha: str) -> bool:
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


def evidence_hashes(db: sqlite_utils.Database) -> list[str]:
    """Every distinct content hash the evidence rows refer to."""
    return [r[0] for r in db.conn.execute("SELECT DISTINCT sha256 FROM evidence")]


def hash_in_use(db: sqlite_utils.Database, sha256: str) -> bool:
    """Does an evidence row refer to this content?"""
    return db.conn.execute("SELECT 1 FROM evidence WHERE sha256 = ? LIMIT 1",
                           (sha256,)).fetchone() is not None


@dataclass
class EvidenceCheck:
    """Evidence files against the hashes their rows record: how many distinct files were read,
    and the missing and changed ones, each as {sha256, rows: [{id, issue_code, filename}]}."""

    files: int = 0
    bytes: int = 0
    missing: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.changed

    def describe(self) -> str:
        """The first problem in one line ('' when none)."""
        for kind, items in (("missing", self.missing), ("changed", self.changed)):
            if items:
                r = items[0]["rows"][0]
                more = len(self.missing) + len(self.changed) - 1
                return (f"evidence file {r['filename']!r} of issue {r['issue_code']} "
                        f"(evidence row {r['id']}, SHA-256 {items[0]['sha256'][:12]}…) is "
                        f"{kind}" + (f"; {more} more file(s) missing or changed" if more else ""))
        return ""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_files(db: sqlite_utils.Database, root: Path) -> EvidenceCheck:
    """Read every evidence file the rows refer to under `root` and compare its SHA-256 with the
    one recorded: missing and changed files are named with the rows that refer to them."""
    out = EvidenceCheck()
    rows: dict[str, list[dict]] = {}
    for eid, sha, code, filename in db.conn.execute(
            "SELECT e.id, e.sha256, i.code, e.filename FROM evidence e "
            "LEFT JOIN issues i ON i.id = e.issue_id ORDER BY e.sha256, e.id"):
        rows.setdefault(sha, []).append({"id": eid, "issue_code": code, "filename": filename})
    for sha, refs in rows.items():
        path = blob_path(Path(root), sha)
        try:
            got = file_sha256(path)
        except FileNotFoundError:
            out.missing.append({"sha256": sha, "rows": refs})
            continue
        except OSError:
            out.missing.append({"sha256": sha, "rows": refs, "unreadable": True})
            continue
        out.files += 1
        out.bytes += path.stat().st_size
        if got != sha:
            out.changed.append({"sha256": sha, "rows": refs, "found": got})
    return out
