"""Races with another writer holding the lock (as an import does for seconds): every guard is
checked against the rows as they are once the lock is held, so that no interleaving of a
measure change, a submission and a strike-off closes an issue past 三不放过."""
from __future__ import annotations

import threading
import time

import pytest

from audit.model import AuditError
from audit.store.db import open_database
from issues import service as issues
from issues.model import Move
from tests import programme

TRIALS = 12


def _closable(p: programme.Programme) -> tuple[int, int]:
    iid = p.new_issue()
    p.assign(iid, deadline="2026-06-30")
    mid = p.measure(iid, deadline="2026-06-30")
    p.start(iid)
    p.make_closable(iid, day="2026-03-02")
    return iid, mid


def _race(p: programme.Programme, iid: int, mid: int, hold_seconds: float) -> list[str]:
    """Hold the write lock; meanwhile a rectifier sets the measure back to 'todo' (from the
    version it saw), submits, and a second lead strikes off. Returns what each one got."""
    holder = open_database(p.path)
    holder.conn.execute("BEGIN IMMEDIATE")
    outcome: dict[str, str] = {}
    version = p.mversion(mid)

    def run(name: str, action) -> None:
        db = open_database(p.path)
        try:
            action(db)
            outcome[name] = "done"
        except AuditError as exc:
            outcome[name] = type(exc).__name__
        finally:
            db.conn.close()

    threads = [
        threading.Thread(target=run, args=("reset", lambda db: issues.set_measure_status(
            db, p.actors["rect"], mid, version=version, status="todo",
            at=p.at("2026-03-03", 10)))),
        threading.Thread(target=run, args=("submit", lambda db: issues.move_issue(
            db, p.actors["rect"], iid, Move.SUBMIT, version=None,
            at=p.at("2026-03-03", 10, 1)))),
        threading.Thread(target=run, args=("close", lambda db: issues.move_issue(
            db, p.actors["lead2"], iid, Move.CLOSE, version=None,
            at=p.at("2026-03-03", 10, 2)))),
    ]
    for t in threads:
        t.start()
        time.sleep(0.05)       # each has read what it reads before it waits for the lock
    time.sleep(hold_seconds)
    holder.conn.execute("COMMIT")
    holder.conn.close()
    for t in threads:
        t.join(timeout=30)
    return [outcome.get(n, "hung") for n in ("reset", "submit", "close")]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_no_interleaving_behind_a_held_lock_closes_an_issue_with_a_measure_not_done(
        tmp_path, trial):
    p = programme.build(tmp_path)
    iid, mid = _closable(p)
    outcome = _race(p, iid, mid, hold_seconds=0.6)
    assert "hung" not in outcome
    status = p.status(iid)
    measure = p.db.conn.execute("SELECT status FROM measures WHERE id = ?", (mid,)).fetchone()[0]
    if status == "closed":
        assert measure == "done", outcome
    if status in ("submitted", "closed"):
        # Nothing the verification rests on changed after the submission.
        changed_after = p.db.conn.execute(
            "SELECT COUNT(*) FROM history m, history s WHERE m.entity = 'measure' "
            "AND m.entity_id = ? AND m.field = 'status' AND s.entity = 'issue' "
            "AND s.entity_id = ? AND s.field = 'status' AND s.new = 'submitted' "
            "AND m.seq > s.seq", (mid, iid)).fetchone()[0]
        assert changed_after == 0, outcome
    from audit.store.history import verify
    assert verify(p.db).ok
