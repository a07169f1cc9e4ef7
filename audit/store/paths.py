"""Where the programme's data lives: the database file, the evidence store and the history
key."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "tracker.db"

# Upload limit for evidence files and ledgers (bytes); AUDIT_MAX_UPLOAD_MB overrides it.
DEFAULT_MAX_UPLOAD_MB = 20


def database_path(explicit: str | os.PathLike | None = None) -> Path:
    """Return the database path: an explicit one, else $AUDIT_DB, else data/tracker.db."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("AUDIT_DB")
    return Path(env) if env else DEFAULT_DB_PATH


def evidence_dir(db_path: str | os.PathLike) -> Path:
    """Evidence files sit beside the database, in `<db stem>-evidence/`, stored by SHA-256."""
    p = Path(db_path)
    return p.parent / f"{p.stem}-evidence"


def history_key_path(db_path: str | os.PathLike) -> Path:
    """The history key file of a database: `<db stem>.history-key` beside it (never inside the
    file, so that a copy of the database alone cannot sign history records)."""
    p = Path(db_path)
    return p.parent / f"{p.stem}.history-key"


def max_upload_bytes() -> int:
    """The configured upload limit in bytes."""
    return int(float(os.environ.get("AUDIT_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB)) * 1024 * 1024)
