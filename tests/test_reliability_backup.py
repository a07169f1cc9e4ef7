"""Online backup under load: a backup taken while 4 writer processes run restores to a database
that verifies and holds every change committed before the backup began. Restore: refused
without a manifest unless asked (and then says what it could not check), refused when the
backup's tables are not what its history says, never touching the backup nor writing over an
existing database, its work folder removed after a crash."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.anchor_format import parse_anchor
from audit.backup_service import manifest_path, online_backup, restore_backup
from audit.model import IntegrityBroken, ValidationFailed
from audit.store import history
from audit.store.db import open_database
from audit.store.restore_files import clean_interrupted, work_folder
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


# --- restore: what it checks, what it never touches ---------------------------------------------

@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[Path, dict]:
    """A worked programme (one issue closed with evidence) backed up to backups/b.db."""
    (tmp_path / "live").mkdir()
    p = build(tmp_path / "live")
    a = p.new_issue("甲问题")
    p.full_cycle(a, deadline="2026-03-31", done="2026-03-01", closed="2026-03-03")
    out = tmp_path / "backups" / "b.db"
    manifest = online_backup(p.db, p.actors["admin"], out, evidence_root=p.evidence_root, at=AT)
    p.db.conn.close()
    return out, manifest


def _plant_admin(path: Path) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("INSERT INTO users (username, password_hash, role, password_changed_at, "
                 "created_at) VALUES ('mallory', 'x', 'admin', '2026-01-01', '2026-01-01')")
    conn.close()


def test_a_backup_is_a_standalone_file_with_a_manifest_and_its_evidence(backed_up):
    out, manifest = backed_up
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "b-evidence", "b.db", "b.db.manifest.json"]       # no -wal, no key
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["history_key_id"] and manifest["evidence_files"] == 1
    assert "key" not in json.dumps(manifest).replace("history_key_id", "").replace(
        "keyed_from", "")


def test_restore_refuses_a_backup_without_a_manifest_unless_told(backed_up, tmp_path):
    out, _ = backed_up
    manifest_path(out).unlink()
    with pytest.raises(ValidationFailed, match="no manifest") as refused:
        restore_backup(out, tmp_path / "r.db")
    assert refused.value.field == "source" and not (tmp_path / "r.db").exists()
    got = restore_backup(out, tmp_path / "r.db", no_manifest=True)
    assert "file SHA-256 (no manifest)" in got["not_checked"]
    assert any("anchor" in n for n in got["not_checked"])
    assert any(c.startswith("live tables") for c in got["checked"])


def test_a_backup_with_a_planted_administrator_does_not_restore(backed_up, tmp_path):
    out, _ = backed_up
    _plant_admin(out)
    with pytest.raises(IntegrityBroken, match="SHA-256 differs"):
        restore_backup(out, tmp_path / "r.db")
    manifest_path(out).unlink()        # the manifest removed, as the issue found
    with pytest.raises(IntegrityBroken, match="users row 7: the row is in the table but "
                                              "history never created it"):
        restore_backup(out, tmp_path / "r.db", no_manifest=True)
    assert not (tmp_path / "r.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_restore_leaves_the_backup_untouched_and_nothing_beside_it(backed_up, tmp_path):
    out, manifest = backed_up
    before = sorted(p.name for p in out.parent.iterdir())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    restore_backup(out, tmp_path / "r.db")
    assert sorted(p.name for p in out.parent.iterdir()) == before
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest == manifest["sha256"]
    db = open_database(tmp_path / "r.db")
    assert history.verify(db, anchors=[parse_anchor(manifest["anchor"])]).ok


def test_restore_never_writes_over_an_existing_database(backed_up, tmp_path):
    out, _ = backed_up
    target = tmp_path / "r.db"
    target.write_bytes(b"precious")
    with pytest.raises(ValidationFailed, match="exists") as refused:
        restore_backup(out, target)
    assert refused.value.field == "db" and target.read_bytes() == b"precious"
    target.unlink()
    (tmp_path / "r-evidence").mkdir()
    with pytest.raises(ValidationFailed, match="r-evidence exists"):
        restore_backup(out, target)
    assert not target.exists()


@pytest.mark.parametrize("text,message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "not a backup manifest"),
    ('{"anchor": "12:abc"}', "not an anchor"),
    ('{"file": "b.db"}', "holds no anchor"),
])
def test_a_broken_manifest_is_refused_by_name(backed_up, tmp_path, text, message):
    out, _ = backed_up
    manifest_path(out).write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed, match=message) as refused:
        restore_backup(out, tmp_path / "r.db")
    assert refused.value.field.startswith("manifest")


def test_an_interrupted_restore_is_cleaned_up_at_the_next_start(backed_up, tmp_path):
    # A restore holds its work folder locked; killed, it leaves the folder behind, which the
    # next open of a database in that folder (or the next restore) removes. One that is still
    # running is left alone.
    target = tmp_path / "r.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from audit.store.restore_files import restore_work\n"
         f"with restore_work(Path({str(target)!r})) as w:\n"
         "    (w / 'restored.db').write_bytes(b'half a copy')\n"
         "    print('ready', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        work = work_folder(target)
        assert (work / "restored.db").exists()
        assert clean_interrupted(tmp_path) == [] and work.exists()     # still running
    finally:
        holder.kill()                                                   # as a crash would
        holder.wait()
    assert work.exists()
    open_database(tmp_path / "other.db").conn.close()                  # the next start
    assert not work.exists()
    restore_backup(backed_up[0], target)                               # and restores work
    assert open_database(target).conn.execute("SELECT COUNT(*) FROM issues").fetchone() == (1,)
