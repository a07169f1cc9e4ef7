"""The history key: the secret that signs history records (HMAC-SHA256), kept outside the
database file so that whoever holds a copy of the file cannot append or rewrite records with
valid signatures.

Where the key comes from, first found wins:
1. `AUDIT_HISTORY_KEY`: the key itself, 64 hexadecimal characters (32 bytes);
2. the key file beside the database, `<db stem>.history-key` (audit.store.paths), written with
   mode 0600 when the database's first history record is written (`init`, the demo, `generate`)
   or when an unkeyed database is keyed (`python -m audit key`).
The key never changes for a database; its id (`key_id`, 16 hex characters of an HMAC of a fixed
text) is recorded in history and in backup manifests, so that a wrong key is named as such."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import sqlite_utils

from audit.model import IntegrityBroken
from audit.store.db import database_file
from audit.store.paths import history_key_path

ENV = "AUDIT_HISTORY_KEY"
_ID_TEXT = b"audit-remediation-tracker history key id"
_CACHE_ATTR = "_audit_history_key"


class KeyUnusable(IntegrityBroken):
    """A history key that is given but cannot be read or is not 32 bytes in hex."""


def parse_key(text: str, where: str) -> bytes:
    """The key bytes from its hex text; KeyUnusable naming `where` when it is not 64 hex
    characters."""
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise KeyUnusable(f"{where}: a history key is 64 hexadecimal characters")
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key (safe to print and record): it tells keys apart without
    revealing them."""
    return hmac.new(key, _ID_TEXT, hashlib.sha256).hexdigest()[:16]


def read_key_file(path: Path) -> bytes:
    """The key stored in `path`; KeyUnusable when it cannot be read or is malformed."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as ex:
        raise KeyUnusable(f"{path}: the history key file cannot be read "
                          f"({ex.__class__.__name__})") from None
    return parse_key(text, str(path))


def configured_key(db_path: str | os.PathLike | None) -> bytes | None:
    """The key for the database at `db_path` ($AUDIT_HISTORY_KEY, else its key file), or None
    when neither exists."""
    env = os.environ.get(ENV)
    if env:
        return parse_key(env, ENV)
    if not db_path:
        return None
    path = history_key_path(db_path)
    return read_key_file(path) if path.exists() else None


def write_key_file(path: Path, key: bytes) -> bool:
    """Write `key` to `path` (mode 0600) unless a key file is already there; True when written.
    Atomic: two processes keying at once end with one file, and never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def key_for(db: sqlite_utils.Database) -> bytes | None:
    """The configured key of this database (cached on the connection's Database object)."""
    cached = getattr(db, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    key = configured_key(database_file(db) or None)
    if key is not None:
        setattr(db, _CACHE_ATTR, key)
    return key


def ensure_key(db: sqlite_utils.Database) -> bytes | None:
    """The key of this database, creating its key file when none is configured (a new or an
    unkeyed database); None for a database without a file (in memory)."""
    key = key_for(db)
    if key is not None:
        return key
    path = database_file(db)
    if not path:
        return None
    write_key_file(history_key_path(path), secrets.token_bytes(32))
    key = read_key_file(history_key_path(path))
    setattr(db, _CACHE_ATTR, key)
    return key


def use_key(db: sqlite_utils.Database, key: bytes) -> None:
    """Make `key` this connection's key (a key handed over explicitly: restore, tests)."""
    setattr(db, _CACHE_ATTR, key)


def ensure_key_file(db_path: str | os.PathLike) -> bytes:
    """The key in the key file of the database at `db_path`, creating the file first when there
    is none (a new database: `init`, `generate`, the app's first start)."""
    path = history_key_path(db_path)
    if not path.exists():
        write_key_file(path, secrets.token_bytes(32))
    return read_key_file(path)
