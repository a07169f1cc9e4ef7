"""Online backup under load: a backup taken while 4 writer processes run restores to a database
that verifies and holds every change committed before the backup began."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from audit.backup_service import online_backup, restore_backup
from audit.store import history
from audit.store.db import open_database
from tests.programme import build
from tests.reliability_workers import AT

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 4


def committed(logs: list[Path]) -> list[tuple[int, int, str]]:
    """(history seq, issue id, value) of every commit the writers have logged so far."""
    out = []
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            seq, iid, value = line.split("\t")
            out.append((int(seq), int(iid), value))
    return out


def test_an_online_backup_under_four_writers_restores_every_earlier_commit(tmp_path: Path
                                                                             ) -> None:
    p = build(tmp_path)
    issue_ids = [p.new_issue(f"备份问题{i}") for i in range(8)]
    logs = [tmp_path / f"writer{i}.log" for i in range(WRITERS)]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.reliability_workers", "write",
                               str(p.path), str(i), str(log), "3",
                               ",".join(map(str, issue_ids))], cwd=ROOT)
             for i, log in enumerate(logs)]
    try:
        # Wait until every writer has committed something, then note what is committed.
        deadline = time.monotonic() + 60
        while not all(log.exists() and log.stat().st_size for log in logs):
            assert time.monotonic() < deadline, "writers did not start"
            time.sleep(0.05)
        time.sleep(0.5)
        before = committed(logs)
        started = time.perf_counter()
        manifest = online_backup(p.db, p.actors["admin"], tmp_path / "backup.db", at=AT)
        took = time.perf_counter() - started
        during = committed(logs)
    finally:
        codes = [proc.wait(timeout=120) for proc in procs]
    assert codes == [0] * WRITERS
    after = committed(logs)
    assert len(after) > len(during) >= len(before) > 0

    restored = tmp_path / "restored.db"
    restore_backup(tmp_path / "backup.db", restored)
    db = open_database(restored)
    result = history.verify(db)
    assert result.ok, result.problem
    missing = [c for c in before if db.conn.execute(
        "SELECT 1 FROM history WHERE seq = ? AND entity = 'issue' AND entity_id = ? AND "
        "field = 'progress' AND new = ?", c).fetchone() is None]
    assert missing == []
    anchor_seq = int(manifest["anchor"].split(":")[0])
    assert anchor_seq >= max(seq for seq, _, _ in before)
    # The backup is a consistent snapshot: the restored rows are what its own history says.
    replayed = history.replay(db, "issue")
    for iid, progress in db.conn.execute("SELECT id, progress FROM issues"):
        assert replayed[iid].get("progress", "") == progress
    # The live database still verifies and has moved on.
    live = history.verify(p.db)
    assert live.ok and live.records > anchor_seq
    print(f"\nBACKUP under {WRITERS} writers: {len(before)} commits logged before the backup "
          f"began, all {len(before)} in the restored copy (missing 0); backup took "
          f"{took * 1000:.0f} ms, anchor seq {anchor_seq}; {len(after)} commits in all, the "
          f"restored copy verifies ({result.records} records)")
