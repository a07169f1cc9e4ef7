"""Helpers shared by every CLI command module. They live here, not in `audit.__main__`: under
`python -m audit` that module runs as `__main__`, and importing `audit.__main__` from a command
module would load a second copy whose `Refused` the running `main()` would not catch."""
from __future__ import annotations

import json
import sys
from datetime import date

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


def open_db(args, *, must_exist: bool = True):
    """Open the database named by --db / AUDIT_DB; refuse a missing file unless creating."""
    from audit.store.db import open_database
    path = database_path(getattr(args, "db", None))
    if must_exist and not path.exists():
        raise Refused(f"--db: no database at {path} (create one with `python -m audit init`)")
    return open_database(path), path


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
