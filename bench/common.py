"""What the benchmarks share: the 40,000-issue programme, built once into bench/.cache/."""
from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

from audit.store import keys
from audit.store.paths import history_key_path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
SOURCE = Path("/tmp/g40k.db")        # a generated programme left by an earlier run, if any
BASE = CACHE / "g40k.db"
AS_OF = date(2026, 11, 27)
ISSUES, SEED = 40_000, 1


def _backup(source: Path, target: Path) -> None:
    """A consistent copy (SQLite's backup API: the source may be in WAL mode), written aside and
    renamed, so an interrupted copy never passes for a finished one."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(partial))
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    partial.replace(target)
    # The history key goes with the copy (a benchmark that writes needs it).
    key = history_key_path(source)
    if key.exists():
        shutil.copyfile(key, history_key_path(target))


def copy_40k(target: Path = BASE) -> Path:
    """The 40k programme at `target` (in bench/.cache by default): a copy of /tmp/g40k.db when
    that exists and is newer, else generated once into bench/.cache/g40k.db and copied from
    there. A benchmark that changes its database (indexes, page state) names a file of its own."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = SOURCE if SOURCE.exists() else BASE
    if not source.exists():
        from audit.generate import generate
        from audit.store.db import open_database
        from audit.store.paths import evidence_dir
        partial = BASE.with_name(BASE.name + ".partial")
        partial.unlink(missing_ok=True)
        db = open_database(partial)
        keys.use_key(db, keys.configured_key(BASE) or keys.ensure_key_file(BASE))
        generate(db, issues=ISSUES, seed=SEED, as_of=AS_OF, evidence_root=evidence_dir(BASE))
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
        partial.replace(BASE)
    if source == target or (target.exists()
                            and target.stat().st_mtime >= source.stat().st_mtime):
        return target
    _backup(source, target)
    return target
