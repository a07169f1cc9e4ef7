"""Online backup and restore. The backup is one `sqlite3` backup step (pages=-1: a step-wise
copy restarts at every commit and never finishes under writers), then verified; evidence blobs
are copied beside it; a manifest records the history anchor so a restore can prove that no
record was cut off."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import sqlite_utils

from audit.model import Actor, IntegrityBroken, ValidationFailed
from audit.service import require
from audit.store import history
from audit.store.db import database_file, write_transaction
from audit.store.evidence_files import blob_path, evidence_hashes
from audit.store.evidence_files import evidence_root as evidence_root_of
from audit.store.history import Recorder


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".manifest.json")


def backup_dir(db: sqlite_utils.Database) -> Path:
    """Where the app's backups go: `backups/` in the database's folder (data/backups/ for the
    default data/tracker.db)."""
    return Path(database_file(db)).resolve().parent / "backups"


def backup_beside(db: sqlite_utils.Database, actor: Actor, *, at: str) -> tuple[Path, dict]:
    """An online backup, with its evidence, into backup_dir as `<db stem>-<at>.db`; returns the
    file and its manifest (see online_backup)."""
    stamp = at[:19].replace(":", "").replace("-", "")
    out = backup_dir(db) / f"{Path(database_file(db)).stem}-{stamp}.db"
    return out, online_backup(db, actor, out, evidence_root=evidence_root_of(db), at=at)


def online_backup(db: sqlite_utils.Database, actor: Actor, out: Path, *,
                  evidence_root: Path | None = None, at: str) -> dict:
    """Copy the live database to `out` (safe while others write), verify the copy, copy the
    evidence it refers to, write the manifest, and record the backup in history."""
    require(actor, "backup.run")
    out = Path(out)
    if out.exists():
        raise ValidationFailed("out", f"{out} exists; choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    dest = sqlite3.connect(str(tmp))
    try:
        db.conn.backup(dest, pages=-1)
    finally:
        dest.close()
    copy = sqlite_utils.Database(sqlite3.connect(str(tmp)))
    try:
        result = history.verify(copy)
        shas = evidence_hashes(copy)
    finally:
        copy.conn.close()
    if not result.ok:
        tmp.unlink(missing_ok=True)
        raise IntegrityBroken(f"the backup does not verify: {result.problem}")
    copied = 0
    if evidence_root is not None:
        ev_out = out.with_name(out.stem + "-evidence")
        for sha in shas:
            src = blob_path(Path(evidence_root), sha)
            if src.exists():
                target = blob_path(ev_out, sha)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
                copied += 1
    tmp.replace(out)
    manifest = {"file": out.name, "taken_at": at, "history_records": result.records,
                "anchor": f"{result.anchor[0]}:{result.anchor[1]}", "evidence_files": copied,
                "by": actor.username}
    manifest_path(out).write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                  encoding="utf-8")
    rec = Recorder(db, actor, at, "backup.run")
    with write_transaction(db):
        rec.add("backup", None, "anchor", None, manifest["anchor"])
        rec.flush()
    return manifest


def restore_backup(source: Path, target: Path) -> dict:
    """Check a backup (integrity, chain, and the manifest's anchor) and copy it to `target`,
    which must not exist. Returns the manifest."""
    source, target = Path(source), Path(target)
    if not source.exists():
        raise ValidationFailed("source", f"no backup at {source}")
    if target.exists():
        raise ValidationFailed("db", f"{target} exists; restore into a new path")
    mpath = manifest_path(source)
    manifest = json.loads(mpath.read_text(encoding="utf-8")) if mpath.exists() else {}
    anchor = None
    if manifest.get("anchor"):
        seq, digest = manifest["anchor"].split(":", 1)
        anchor = (int(seq), digest)
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        result = history.verify(sqlite_utils.Database(conn), anchor)
    finally:
        conn.close()
    if not result.ok:
        raise IntegrityBroken(f"the backup does not verify: {result.problem}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    ev_src = source.with_name(source.stem + "-evidence")
    if ev_src.exists():
        shutil.copytree(ev_src, target.with_name(target.stem + "-evidence"), dirs_exist_ok=True)
    manifest.setdefault("anchor", f"{result.anchor[0]}:{result.anchor[1]}")
    return manifest
