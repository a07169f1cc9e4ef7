"""The app's background refresher: a daemon thread, one per app process, that keeps the stored
results (issues.stored_views: cause ranking, blocked chains, escalation steps due, duplicate
clusters of the scopes people look at) current, so that the first page view after a write
finds them ready. It polls the data versions every AUDIT_REFRESH_SECONDS (default 20; 0 turns
it off) on a connection of its own and recomputes only what a write made stale; several app
processes on one file (docs/DEPLOY.md) each run one, and a result one of them stores serves all.
`python -m audit refresh` does the same once."""
from __future__ import annotations

import logging
import os
import threading
from datetime import date
from typing import Callable

from audit.store.db import open_database
from issues import stored_views

log = logging.getLogger("audit.refresh")
DEFAULT_SECONDS = 20.0


def interval() -> float:
    """Seconds between two looks ($AUDIT_REFRESH_SECONDS; 0 or less: no background refresh)."""
    try:
        return float(os.environ.get("AUDIT_REFRESH_SECONDS", DEFAULT_SECONDS))
    except ValueError:
        return DEFAULT_SECONDS


def refresh_once(path: str, today: Callable[[], date], now_at: Callable[[], str]) -> list[dict]:
    """One pass over the stored results of the database at `path`."""
    db = open_database(path, migrate=False)
    try:
        return stored_views.refresh(db, today(), at=now_at())
    finally:
        db.conn.close()


def start(path: str, today: Callable[[], date], now_at: Callable[[], str],
          seconds: float | None = None) -> threading.Event | None:
    """Start the thread for the database at `path`; returns the event that stops it (None
    when turned off). The clock comes from the caller (only pages and commands read it)."""
    seconds = interval() if seconds is None else seconds
    if seconds <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                done = refresh_once(path, today, now_at)
                if done:
                    log.info("refreshed %d stored results in %.1f s", len(done),
                             sum(d["seconds"] for d in done))
            except Exception:      # a failed pass is logged and retried at the next look
                log.exception("background refresh failed")
            stop.wait(seconds)

    threading.Thread(target=loop, name="audit-refresh", daemon=True).start()
    return stop
