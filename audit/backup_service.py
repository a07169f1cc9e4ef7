"""Online backup and restore.

Backup: one `sqlite3` backup step (pages=-1: a step-wise copy restarts at every commit and
never finishes under writers) into a `.partial` file, which is put in rollback-journal mode (a
standalone file, no -wal beside it) and verified as `verify` does (chain under the history key,
live tables against history); then the evidence it refers to is copied beside it, and a
manifest records the history anchor, the key's id (never the key: the key is kept apart, see
README) and the file's SHA-256.

Restore never opens the backup itself (no -wal/-shm beside it, nothing written to it): it
copies it into a work folder beside the target (`.<target name>.restoring/`, locked while in
use), checks the copy against the manifest (file SHA-256, anchor) and as `verify` does (chain,
live tables, evidence files), and only then links it into place, failing if anything exists
there: an existing database is never written over. A restore cut short leaves only the work
folder, which the next restore into that folder, or the next `open_database` of a database
there (audit.store.restore_files), removes. Without a manifest a restore is refused unless
asked for with `no_manifest`, and then reports what it could not check."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import sqlite_utils

from audit.anchor_format import parse_anchor
from audit.model import Actor, IntegrityBroken, ValidationFailed
from audit.service import require
from audit.store import keys
from audit.store.db import (
    copy_to_file,
    database_file,
    leave_wal,
    open_database,
    write_transaction,
)
from audit.store.evidence_files import blob_path, evidence_hashes, file_sha256
from audit.store.evidence_files import evidence_root as evidence_root_of
from audit.store.history import Recorder
from audit.store.paths import evidence_dir, history_key_path
from audit.store.restore_files import clean_interrupted, restore_work
from audit.verify_views import verify_database

SQLITE_HEADER = b"SQLite format 3\x00"


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
    evidence it refers to, write the manifest, and record the backup in history. Raises
    ValidationFailed('out') for an existing or unwritable target, IntegrityBroken when the
    copy does not verify."""
    require(actor, "backup.run")
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise ValidationFailed("out", f"{out} exists; choose a new file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        raise ValidationFailed("out", f"cannot create the folder {out.parent} "
                                      f"({ex.strerror or ex})") from None
    tmp = out.with_name(out.name + ".partial")
    try:
        tmp.unlink(missing_ok=True)
        copy_to_file(db, tmp)
    except (OSError, sqlite3.Error) as ex:
        tmp.unlink(missing_ok=True)
        raise ValidationFailed("out", f"cannot write {tmp} ({ex})") from None
    copy = sqlite_utils.Database(sqlite3.connect(str(tmp)))
    try:
        report = verify_database(copy, key=keys.key_for(db))
        shas = evidence_hashes(copy)
    finally:
        copy.conn.close()
    if not report.ok:
        tmp.unlink(missing_ok=True)
        raise IntegrityBroken(f"the backup does not verify: {report.problem}")
    copied, missing = 0, 0
    if evidence_root is not None:
        ev_out = evidence_dir(out)
        for sha in shas:
            src = blob_path(Path(evidence_root), sha)
            if src.exists():
                target = blob_path(ev_out, sha)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
                copied += 1
            else:
                missing += 1
    digest = file_sha256(tmp)
    tmp.replace(out)
    chain = report.chain
    manifest = {"file": out.name, "taken_at": at, "history_records": chain.records,
                "anchor": f"{chain.anchor[0]}:{chain.anchor[1]}",
                "history_key_id": chain.key_id, "keyed_from": chain.keyed_from,
                "sha256": digest, "evidence_files": copied, "evidence_missing": missing,
                "by": actor.username}
    manifest_path(out).write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                  encoding="utf-8")
    rec = Recorder(db, actor, at, "backup.run")
    with write_transaction(db):
        rec.add("backup", None, "anchor", None, manifest["anchor"])
        rec.flush()
    return manifest


def read_manifest(path: Path) -> dict:
    """A backup manifest as a dict; ValidationFailed('manifest') naming the file when it cannot
    be read, is not JSON, or holds a malformed anchor or checksum."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as ex:
        raise ValidationFailed("manifest", f"{path} cannot be read ({ex})") from None
    try:
        data = json.loads(text)
    except ValueError as ex:
        raise ValidationFailed("manifest", f"{path} is not valid JSON ({ex})") from None
    if not isinstance(data, dict):
        raise ValidationFailed("manifest", f"{path} is not a backup manifest (a JSON object)")
    if not data.get("anchor"):
        raise ValidationFailed("manifest", f"{path} holds no anchor")
    parse_anchor(str(data["anchor"]), f"manifest ({path.name}) anchor")
    sha = data.get("sha256")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64
                                and all(c in "0123456789abcdef" for c in sha)):
        raise ValidationFailed("manifest", f"{path}: sha256 is not a SHA-256")
    return data


def _check_source(source: Path) -> None:
    """ValidationFailed('source') unless `source` is a readable SQLite file."""
    if not source.exists():
        raise ValidationFailed("source", f"no backup at {source}")
    if source.is_dir():
        raise ValidationFailed("source", f"{source} is a folder, not a backup file")
    try:
        with open(source, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as ex:
        raise ValidationFailed("source", f"{source} cannot be read ({ex.strerror or ex})"
                               ) from None
    if head != SQLITE_HEADER:
        raise ValidationFailed("source", f"{source} is not a SQLite database")


def restore_backup(source: Path, target: Path, *, key: bytes | None = None,
                   no_manifest: bool = False) -> dict:
    """Check a backup and restore it to `target`, which must not exist (module docstring).
    `key`: the history key the backup is signed with (default: the one configured for
    `target`, $AUDIT_HISTORY_KEY or a key file already beside it); written beside `target`
    when given and none is there. Returns the manifest plus 'checked' and 'not_checked' (what
    was and could not be checked). Raises ValidationFailed naming 'source', 'manifest' or 'db',
    IntegrityBroken when the backup does not verify."""
    source, target = Path(source), Path(target)
    _check_source(source)
    if target.exists() or target.is_symlink():
        raise ValidationFailed("db", f"{target} exists; restore into a new path")
    if target.parent.exists() and not target.parent.is_dir():
        raise ValidationFailed("db", f"{target.parent} is a file, not a folder")
    ev_target = evidence_dir(target)
    if ev_target.exists():
        raise ValidationFailed("db", f"{ev_target} exists; restore into a new path")
    mpath = manifest_path(source)
    if mpath.exists():
        manifest = read_manifest(mpath)
    elif no_manifest:
        manifest = None
    else:
        raise ValidationFailed("source", f"no manifest beside it ({mpath.name}); without one "
                                         "the file's checksum and the anchor cannot be checked "
                                         "(restore --no-manifest to restore it all the same)")
    checked, not_checked = [], []
    if manifest is not None and manifest.get("sha256"):
        if file_sha256(source) != manifest["sha256"]:
            raise IntegrityBroken(f"the backup does not verify: {source.name} is not the file "
                                  f"its manifest describes (SHA-256 differs)")
        checked.append("file SHA-256 (manifest)")
    elif manifest is not None:
        not_checked.append("file SHA-256 (the manifest has none)")
    else:
        not_checked += ["file SHA-256 (no manifest)",
                        "anchor: records cut off the end (no manifest)"]
    if key is None:
        key = keys.configured_key(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        raise ValidationFailed("db", f"cannot create the folder {target.parent} "
                                     f"({ex.strerror or ex})") from None
    clean_interrupted(target.parent)
    ev_source = evidence_dir(source)
    with restore_work(target) as work:
        staged = work / "restored.db"
        shutil.copyfile(source, staged)
        for suffix in ("-wal",):   # a backup copied while in WAL mode: its log goes along
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{staged}{suffix}")
        staged_ev = work / "evidence"
        if ev_source.is_dir():
            shutil.copytree(ev_source, staged_ev)
        db = open_database(staged, migrate=False)
        try:
            anchors = [parse_anchor(manifest["anchor"])] if manifest else []
            report = verify_database(db, anchors=anchors, key=key, evidence_root=staged_ev)
            if report.ok:
                leave_wal(db)
        finally:
            db.conn.close()
        if not report.ok:
            if report.chain.keyed_from is not None and key is None:
                raise IntegrityBroken(f"the backup does not verify: {report.problem}; give its "
                                      "key (restore --key-file FILE)")
            raise IntegrityBroken(f"the backup does not verify: {report.problem}")
        checked += ["integrity", f"history chain ({report.chain.records} records"
                    + (", keyed" if report.chain.keyed_from else ", not keyed") + ")",
                    f"live tables against history ({report.tables.rows} rows)",
                    f"evidence files ({report.evidence.files})"]
        if anchors:
            checked.append("anchor (manifest)")
        try:
            os.link(staged, target)
        except FileExistsError:
            raise ValidationFailed("db", f"{target} exists; restore into a new path") from None
        if staged_ev.exists():
            staged_ev.rename(ev_target)
    if key is not None and keys.configured_key(target) is None:
        keys.write_key_file(history_key_path(target), key)
    out = dict(manifest or {})
    out.setdefault("anchor", f"{report.chain.anchor[0]}:{report.chain.anchor[1]}")
    out.update(checked=checked, not_checked=not_checked)
    return out
