"""Kill -9 during a run, run again: every message delivered exactly once.

`python -m audit remind` runs in a child process against the programme of
tests/remind_programme.py (5 e-mails and 3 robot digests are due on 2026-11-23). A
`sitecustomize` put on the child's path (so that the command is the real one, untouched) sends
the child SIGKILL at a chosen point of its n-th message; two more points are taken by the
servers themselves, which kill the child on receiving a complete message, before answering.
Then the command runs again (twice) and the test counts, per message key, what the local SMTP
server and the robot endpoints received.

The one point where a message can be lost: after its claim is committed and before its last
bytes leave (a window of one system call). The message is then 'unconfirmed', not sent again by
itself, and listed for an administrator, whose "send again" delivers it once; the last test
shows that path."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from audit.store import history
from exports import remind_service as rs
from tests import remind_programme as rp
from tests.remind_servers import robot_endpoints, smtp_server

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = 8  # 5 e-mail digests (李四 has no address) and one digest per robot

HOOK = '''
import os, signal

_spec = os.environ.get("AUDIT_REMIND_KILL", "")
if _spec:
    _where, _n = _spec.split(":")
    _n, _seen = int(_n), [0]

    def _hit():
        _seen[0] += 1
        return _seen[0] == _n

    def _die():
        os.kill(os.getpid(), signal.SIGKILL)

    from exports import remind_run_service as _rs
    from exports import remind_store as _st

    if _where == "plan":            # inside the planning transaction, at the n-th message
        _insert = _st.insert_message
        def insert_message(db, values):
            if _hit():
                _die()
            return _insert(db, values)
        _st.insert_message = insert_message
    elif _where in ("claim", "claimed"):   # just before / just after the claim commits
        _claim = _rs._claim
        def claim(*a, **k):
            if _where == "claim" and _hit():
                _die()
            _claim(*a, **k)
            if _where == "claimed" and _hit():
                _die()
        _rs._claim = claim
    elif _where in ("delivered", "recorded"):  # reply received / outcome committed
        _outcome = _rs._outcome
        def outcome(*a, **k):
            if _where == "delivered" and _hit():
                _die()
            result = _outcome(*a, **k)
            if _where == "recorded" and _hit():
                _die()
            return result
        _rs._outcome = outcome
'''


@pytest.fixture
def world(tmp_path):
    """The programme, a mail server and the robots, configured; the hook on disk."""
    p = rp.build(tmp_path)
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield p, box, robots, hook_dir
    p.db.conn.close()


def _remind(p, hook_dir: Path, kill: str = "", *, on_start=None) -> int:
    env = {**os.environ, "PYTHONPATH": f"{hook_dir}{os.pathsep}{ROOT}",
           "AUDIT_REMIND_KILL": kill}
    proc = subprocess.Popen([sys.executable, "-m", "audit", "remind", "--db", str(p.path),
                             "--as-of", rp.AS_OF.isoformat()], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if on_start is not None:
        on_start(proc.pid)
    out, err = proc.communicate(timeout=120)
    if proc.returncode not in (0, -9):
        raise AssertionError(f"remind exited {proc.returncode}: {err.decode()}")
    return proc.returncode


def _deliveries(box, robots) -> Counter:
    got = Counter(box.keys())
    for post in robots.posts:
        got[{k.lower(): v for k, v in post.headers.items()}["x-audit-reminder-key"]] += 1
    return got


POINTS = [("plan", 1), ("plan", 8), ("claim", 1), ("claim", 5), ("claim", 8),
          ("delivered", 1), ("delivered", 6), ("recorded", 3), ("recorded", 8),
          ("smtp-server", 2), ("robot-server", 1)]


@pytest.mark.parametrize("where, n", POINTS, ids=[f"{w}-{n}" for w, n in POINTS])
def test_killed_at_any_point_and_run_again_every_message_is_delivered_exactly_once(
        world, where, n):
    p, box, robots, hook_dir = world

    def arm(pid: int) -> None:
        if where == "smtp-server":
            box.kill_pid, box.kill_on = pid, n
        if where == "robot-server":
            robots.kill_pid, robots.kill_on = pid, n

    kill = f"{where}:{n}" if not where.endswith("-server") else ""
    assert _remind(p, hook_dir, kill, on_start=arm) == -9
    box.kill_pid = robots.kill_pid = None
    assert _remind(p, hook_dir) == 0
    assert _remind(p, hook_dir) == 0
    got = _deliveries(box, robots)
    keys = [r[0] for r in p.db.conn.execute("SELECT key FROM remind_outbox")]
    statuses = Counter(r[0] for r in p.db.conn.execute("SELECT status FROM remind_outbox"))
    print(f"\n{where}:{n}  planned {len(keys)}  delivered {sum(got.values())}  "
          f"distinct {len(got)}  statuses {dict(statuses)}  "
          f"incomplete HTTP bodies dropped {robots.incomplete}")
    assert len(keys) == EXPECTED
    assert got == Counter({k: 1 for k in keys}), got
    assert set(statuses) <= {"sent", "unconfirmed"}
    assert history.verify(p.db).ok
    assert p.db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_killed_between_its_claim_and_its_last_bytes_a_message_waits_for_a_person(world):
    p, box, robots, hook_dir = world
    assert _remind(p, hook_dir, "claimed:3") == -9
    assert _remind(p, hook_dir) == 0
    got = _deliveries(box, robots)
    overview = rs.run_overview(p.db, p.actors["admin"])
    (lost,) = overview["unconfirmed"]
    print(f"\nclaimed:3  delivered {sum(got.values())} of {EXPECTED}; unconfirmed: {lost['key']}")
    assert lost["key"] not in got and sum(got.values()) == EXPECTED - 1
    assert set(got.values()) == {1}
    rs.resend(p.db, p.actors["admin"], lost["id"], at="2026-11-23T10:00:00+08:00")
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _remind(p, hook_dir) == 0
    got = _deliveries(box, robots)
    assert got[lost["key"]] == 1 and sum(got.values()) == EXPECTED
