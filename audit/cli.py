"""Helpers shared by every CLI command module. They live here, not in `audit.__main__`: under
`python -m audit` that module runs as `__main__`, and importing `audit.__main__` from a command
module would load a second copy whose `Refused` the running `main()` would not catch."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from audit import login_service, time_model
from audit.store import users as users_store
from audit.store.paths import database_path


class Refused(Exception):
    """Input the command cannot accept (exit 1)."""


def _as_of(text: str | None) -> date:
    if not text:
        return time_model.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused(f"--as-of: not a date (YYYY-MM-DD): {text!r}") from None


SQLITE_HEADER = b"SQLite format 3\x00"


def check_readable_file(path: Path, name: str) -> None:
    """Refused naming argument `name` unless `path` is a file this process can read."""
    if not path.exists():
        raise Refused(f"{name}: no file at {path}")
    if path.is_dir():
        raise Refused(f"{name}: {path} is a folder, not a file")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError:
        raise Refused(f"{name}: {path} cannot be read (permission denied)") from None
    except OSError as ex:
        raise Refused(f"{name}: {path} cannot be read ({ex.strerror or ex})") from None


def check_database_file(path: Path, name: str = "--db", *, must_exist: bool = True) -> None:
    """Refused naming argument `name` unless `path` is a readable SQLite file (or, when not
    `must_exist`, nothing yet)."""
    if not path.exists() and not path.is_symlink():
        if must_exist:
            raise Refused(f"{name}: no database at {path} (create one with "
                          "`python -m audit init`)")
        if path.parent.exists() and not path.parent.is_dir():
            raise Refused(f"{name}: {path.parent} is a file, not a folder")
        return
    check_readable_file(path, name)
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if head and head != SQLITE_HEADER:
        raise Refused(f"{name}: {path} is not a SQLite database")
    if not head and must_exist:
        raise Refused(f"{name}: {path} is empty, not a database (create one with "
                      "`python -m audit init`)")


def open_database_arg(path: Path, name: str = "--db", *, must_exist: bool = True,
                      readonly: bool = False):
    """Open the database at `path` for a command, every failure a Refused naming `name`: not a
    database, a folder, unreadable, locked by another process, a SQLite file of another
    program, a schema newer than this release. `readonly`: as it is, never written (verify)."""
    import sqlite3

    from audit.store.db import busy_timeout_ms, open_database, open_readonly
    from audit.store.migrations import another_programs, migrate
    check_database_file(path, name, must_exist=must_exist or readonly)
    db = None
    try:
        db = open_readonly(path) if readonly else open_database(path, migrate=False)
        if another_programs(db):
            raise Refused(f"{name}: {path} is a SQLite database of another program, not a "
                          "tracker's")
        if not readonly:
            migrate(db)
        return db
    except Refused:
        db.conn.close()
        raise
    except sqlite3.OperationalError as ex:
        if db is not None:
            db.conn.close()
        if "locked" in str(ex) or "busy" in str(ex):
            raise Refused(f"{name}: {path} is locked by another process (waited "
                          f"{busy_timeout_ms() / 1000:g} s)") from None
        raise Refused(f"{name}: {path} cannot be opened ({ex})") from None
    except sqlite3.DatabaseError as ex:
        if db is not None:
            db.conn.close()
        raise Refused(f"{name}: {path} is not a usable SQLite database ({ex})") from None
    except RuntimeError as ex:  # migrations: a schema newer than this release
        db.conn.close()
        raise Refused(f"{name}: {ex}") from None


def open_db(args, *, must_exist: bool = True, readonly: bool = False):
    """Open the database named by --db / AUDIT_DB (see open_database_arg); refuse a missing
    file unless creating. Returns (db, path)."""
    path = database_path(getattr(args, "db", None))
    return open_database_arg(path, "--db", must_exist=must_exist, readonly=readonly), path


def acting_user(db, name: str | None):
    """The Actor for --as-user, or the first active administrator."""
    if name:
        row = users_store.user_row_by_name(db, name)
        if row is None or not row["active"]:
            raise Refused(f"--as-user: no active user {name!r}")
        return login_service.actor_for(db, row["id"])
    admin_id = users_store.first_active_admin(db)
    if admin_id is None:
        raise Refused("no active administrator; name a user with --as-user")
    return login_service.actor_for(db, admin_id)


def _print(args, data: dict, human: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(human)


def _progress_printer(label: str):
    """A progress bar on a terminal, plain lines otherwise (one per 10%)."""
    tty = sys.stderr.isatty()
    last = [-1]

    def show(done: int, total: int, stage: str = "") -> None:
        pct = int(done * 100 / max(total, 1))
        if tty:
            bar = "#" * (pct // 4)
            sys.stderr.write(f"\r{label} {stage} [{bar:<25}] {pct:3d}% ({done}/{total})")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif pct // 10 != last[0]:
            last[0] = pct // 10
            print(f"{label} {stage} {pct}% ({done}/{total})", file=sys.stderr)
    return show
