"""Evidence files on disk: stored once by SHA-256 in `<db stem>-evidence/` beside the database
(audit.store.paths.evidence_dir), written atomically."""
from __future__ import annotations

import os
import tempfile
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
