"""Crash safety: a process killed with SIGKILL in the middle of a large batch write (the ledger
import when it exists), a merge, or a batch of status changes leaves a database that passes
integrity_check and history.verify, with the operation wholly there or wholly absent.

The worker counts the SQL statements the operation executes and stops before statement N (for
several N, from the first read to the COMMIT itself); the test then kills it with SIGKILL."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


from audit.store import history
from audit.store.db import open_database
from issues import service as issues
from tests.programme import build
from tests.reliability_workers import AT, BATCH_TITLE

ROOT = Path(__file__).resolve().parent.parent
LARGE = int(os.environ.get("AUDIT_CRASH_BATCH", "400"))


@dataclass
class Run:
    killed: bool
    statements: int      # statements executed before the kill (or in all)
    commit_at: int       # the COMMIT's statement number (0 when killed before it)


def run_worker(db_path: Path, op: str, stop_at: int, extra: str = "") -> Run:
    """Run the crash worker; SIGKILL it when it reports reaching statement `stop_at`."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.reliability_workers", "crash",
                             str(db_path), op, str(stop_at), extra],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if line.startswith("at "):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        return Run(True, int(line.split()[1]) - 1, 0)
    assert proc.wait(timeout=300) == 0, line
    _, total, commit_at = line.split()
    return Run(False, int(total), int(commit_at))


def check_database(path: Path) -> None:
    """integrity_check ok and the chain verifies, opened afresh as the next process would."""
    conn = sqlite3.connect(str(path))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    db = open_database(path)
    result = history.verify(db)
    db.conn.close()
    assert result.ok, result.problem


def counts(path: Path, sql: str, params: tuple = ()) -> tuple:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, params).fetchone()
    finally:
        conn.close()


def kill_points(total: int, commit_at: int) -> list[int]:
    """Statement numbers to stop before: the first, a third, two thirds, the last before the
    COMMIT, the COMMIT itself."""
    picks = {1, max(1, total // 3), max(1, 2 * total // 3), max(1, commit_at - 1), commit_at}
    return sorted(p for p in picks if 1 <= p <= total)


def exercise(tmp_path: Path, template: Path, op: str, state, extra: str = "") -> None:
    """Complete run first (counts the statements), then a kill before each chosen one; the
    state after each is either `before` or `after`, never anything else."""
    before = state(template)
    full = tmp_path / f"{op}-full.db"
    shutil.copy(template, full)
    run = run_worker(full, op, 10**9, extra)
    assert not run.killed and run.commit_at > 0
    check_database(full)
    after = state(full)
    assert after != before
    for n in kill_points(run.statements, run.commit_at):
        target = tmp_path / f"{op}-{n}.db"
        shutil.copy(template, target)
        killed = run_worker(target, op, n, extra)
        assert killed.killed
        check_database(target)
        got = state(target)
        # Killed before the COMMIT ran: wholly absent. (Stopping *before* statement n means the
        # COMMIT at commit_at has not executed for n <= commit_at.)
        assert got == before, (op, n, got, before)
    target = tmp_path / f"{op}-committed.db"
    shutil.copy(template, target)
    assert run_worker(target, op, 0, extra).killed
    check_database(target)
    assert state(target) == after, (op, "after commit")
    print(f"\nCRASH {op}: {run.statements} statements, COMMIT at {run.commit_at}; killed before "
          f"{kill_points(run.statements, run.commit_at)}: each wholly absent; killed after the "
          f"COMMIT and run to the end: wholly there; integrity ok, chain verifies")


def fresh(folder: Path):
    """The test programme in its own folder (a copy of the shared template)."""
    folder.mkdir(parents=True, exist_ok=True)
    return build(folder)


def template_db(tmp_path: Path) -> Path:
    p = fresh(tmp_path)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()
    return p.path


def batch_state(path: Path) -> tuple:
    return counts(path, "SELECT (SELECT COUNT(*) FROM issues WHERE title LIKE ?), "
                        "(SELECT COUNT(*) FROM history), "
                        "(SELECT COUNT(*) FROM issue_streams)", (BATCH_TITLE + "%",))


def test_a_large_batch_write_killed_midway_leaves_nothing(tmp_path: Path) -> None:
    template = template_db(tmp_path / "t")
    exercise(tmp_path, template, "batch_create", batch_state, str(LARGE))
    full = counts(tmp_path / "batch_create-full.db",
                  "SELECT COUNT(*) FROM issues WHERE title LIKE ?", (BATCH_TITLE + "%",))
    assert full == (LARGE,)


def test_an_import_killed_midway_leaves_nothing(tmp_path: Path) -> None:
    from tests import ledger_factory as lf
    template = template_db(tmp_path / "t")
    ledger = tmp_path / "ledger.xlsx"
    ledger.write_bytes(lf.xlsx_bytes(lf.table(*[
        lf.row(i, 责任单位="甲市分公司", 责任人="张三", 问题编号="") for i in range(1, LARGE // 3)])))

    def state(path: Path) -> tuple:
        return counts(path, "SELECT (SELECT COUNT(*) FROM issues), (SELECT COUNT(*) FROM "
                            "history), (SELECT COUNT(*) FROM measures)")
    exercise(tmp_path, template, "import", state, str(ledger))


def test_a_merge_killed_midway_is_wholly_there_or_absent(tmp_path: Path) -> None:
    p = fresh(tmp_path / "t")
    s = p.new_issue("保留")
    a = p.new_issue("被合并", unit="A1", sources=("AUD2024",), focus=("F2",))
    p.assign(a, deadline="2026-06-30")
    for i in range(3):
        p.measure(a, deadline="2026-06-01", title=f"措施{i}")
    issues.record_root_cause(p.db, p.actors["lead"], a, new_cause_title="制度缺失", at=AT)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()

    def state(path: Path) -> tuple:
        return counts(path, "SELECT (SELECT merged_into_id FROM issues WHERE id = ?), "
                            "(SELECT COUNT(*) FROM measures WHERE issue_id = ?), "
                            "(SELECT COUNT(*) FROM issue_sources WHERE issue_id = ?), "
                            "(SELECT COUNT(*) FROM merges), (SELECT COUNT(*) FROM history), "
                            "(SELECT version FROM issues WHERE id = ?)", (a, s, s, s))
    exercise(tmp_path, p.path, "merge", state)
    assert state(tmp_path / "merge-full.db")[:4] == (s, 3, 2, 1)


def test_a_batch_of_status_changes_killed_midway_changes_none(tmp_path: Path) -> None:
    p = fresh(tmp_path / "t")
    lead = p.actors["lead"]
    for i in range(200):
        issues.create_issue(p.db, lead, aspect_id=p.aspects["C1.1"], title=f"{BATCH_TITLE}{i}",
                            unit_id=p.units["A"], at=AT)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()

    def state(path: Path) -> tuple:
        return counts(path, "SELECT (SELECT COUNT(*) FROM issues WHERE status = 'ended'), "
                            "(SELECT COUNT(*) FROM history), (SELECT SUM(version) FROM issues)")
    exercise(tmp_path, p.path, "batch_end", state)
    assert state(tmp_path / "batch_end-full.db")[0] == 200
