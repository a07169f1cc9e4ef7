"""Sign-in holds: argon2id hashes, lock-out after repeated failures, no user enumeration (same
message and similar time for an unknown name and a wrong password), sessions that end, and no
password anywhere: not in logs, history, CLI output, nor the database file's bytes."""
from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit import accounts_service, login_service
from audit.model import LoginFailed
from audit.store import history
from audit.store.db import open_database
from tests.conftest import sign_in

AT = "2026-11-23T09:00:00+08:00"
LATER = "2026-11-23T09:20:00+08:00"
SECRET = "Zebra-Quartz-7319"
NEW_SECRET = "Violet-Anchor-2846"
WRONG = "Wrong-Guess-5501"
ROOT = Path(__file__).resolve().parent.parent
TRIES = 10


@pytest.fixture
def accounts(tmp_path: Path):
    db = open_database(tmp_path / "login.db")
    admin = accounts_service.create_user(db, None, "admin", "Admin-Pass-1234", "admin", at=AT)
    uid = accounts_service.create_user(db, None, "liwei", SECRET, "lead", at=AT)
    yield db, login_service.actor_for(db, admin), uid
    db.conn.close()


def attempt(db, name: str, password: str, at: str = AT) -> tuple[float, str, str]:
    """(seconds, exception class, message) of a failed sign-in."""
    started = time.perf_counter()
    try:
        login_service.login(db, name, password, at)
    except LoginFailed as ex:
        return time.perf_counter() - started, type(ex).__name__, f"{ex.key}|{ex}"
    raise AssertionError("sign-in should have failed")


def test_passwords_are_stored_as_argon2id_hashes(accounts) -> None:
    db, _, uid = accounts
    stored = db.conn.execute("SELECT password_hash FROM users WHERE id = ?", (uid,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and SECRET not in stored
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2  # OWASP minimum
    print(f"\nLOGIN hash: argon2id m={params['m']} KiB t={params['t']} p={params['p']}")


def test_five_failures_lock_the_account_and_the_right_password_then_fails_too(accounts
                                                                                ) -> None:
    db, _, uid = accounts
    for _ in range(login_service.LOCKOUT_THRESHOLD):
        attempt(db, "liwei", WRONG)
    locked_until = db.conn.execute("SELECT locked_until FROM users WHERE id = ?",
                                   (uid,)).fetchone()[0]
    assert locked_until == "2026-11-23T09:15:00+08:00"
    _, _, message = attempt(db, "liwei", SECRET)  # right password, still locked
    assert message == "error.login_failed|login failed"
    assert login_service.login(db, "liwei", SECRET, LATER).actor.user_id == uid
    print(f"\nLOGIN lock-out: after {login_service.LOCKOUT_THRESHOLD} failures for "
          f"{login_service.LOCKOUT_MINUTES} minutes; the right password is refused while locked")


def test_unknown_user_and_wrong_password_look_the_same_in_words_and_time(accounts) -> None:
    db, admin, uid = accounts
    disabled = accounts_service.create_user(db, None, "gone", SECRET, "lead", at=AT)
    accounts_service.set_active(db, admin, disabled, False, at=AT)
    cases = {"unknown user": ("nobody-here", WRONG), "wrong password": ("liwei", WRONG),
             "disabled account": ("gone", SECRET)}
    timings: dict[str, list[float]] = {k: [] for k in cases}
    messages: set[tuple[str, str]] = set()
    attempt(db, "nobody-here", WRONG)  # warm the dummy hash
    for _ in range(TRIES):
        for label, (name, password) in cases.items():
            seconds, cls, message = attempt(db, name, password)
            timings[label].append(seconds)
            messages.add((cls, message))
            db.conn.execute("UPDATE users SET failed_logins = 0 WHERE id = ?", (uid,))
    assert len(messages) == 1, messages
    medians = {k: statistics.median(v) for k, v in timings.items()}
    ratio = max(medians.values()) / min(medians.values())
    assert ratio < 2.0, medians
    print("\nLOGIN enumeration: one message for all; median of "
          f"{TRIES} tries: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in medians.items())
          + f"; slowest/fastest {ratio:.2f}")


def test_a_session_ends_on_password_change_role_change_or_disabling(accounts) -> None:
    db, admin, uid = accounts
    result = login_service.login(db, "liwei", SECRET, AT)
    stamp = result.password_changed_at
    assert login_service.session_still_valid(db, uid, "lead", stamp)
    accounts_service.reset_password(db, admin, uid, NEW_SECRET, at=LATER)
    assert not login_service.session_still_valid(db, uid, "lead", stamp)
    stamp = login_service.login(db, "liwei", NEW_SECRET, LATER).password_changed_at
    accounts_service.set_role(db, admin, uid, "manager", at=LATER)
    assert not login_service.session_still_valid(db, uid, "lead", stamp)
    assert login_service.session_still_valid(db, uid, "manager", stamp)
    accounts_service.set_active(db, admin, uid, False, at=LATER)
    assert not login_service.session_still_valid(db, uid, "manager", stamp)


def test_an_idle_session_in_the_app_expires_to_the_sign_in_form(tmp_path: Path, make_app
                                                                ) -> None:
    path = tmp_path / "app.db"
    db = open_database(path)
    accounts_service.create_user(db, None, "liwei", SECRET, "lead", at=AT)
    db.conn.close()
    app = sign_in(make_app(path), "liwei", SECRET)
    assert not app.exception and "audit.user_id" in app.session_state
    app.session_state["audit.last_seen"] = time.time() - 31 * 60
    app.run()
    assert "audit.user_id" not in app.session_state
    assert app.text_input(key="audit.login_password") is not None


def test_no_password_reaches_logs_history_cli_output_or_the_database_bytes(
        tmp_path: Path, make_app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "secrets.db"
    db = open_database(path)
    admin = login_service.actor_for(db, accounts_service.create_user(db, None, "admin", "Admin-Pass-1234",
                                                  "admin", at=AT))
    uid = accounts_service.create_user(db, admin, "liwei", SECRET, "lead", at=AT)
    attempt(db, "liwei", WRONG)
    login_service.login(db, "liwei", SECRET, AT)
    actor = login_service.actor_for(db, uid)
    accounts_service.change_password(db, actor, SECRET, NEW_SECRET, at=LATER)
    accounts_service.reset_password(db, admin, uid, SECRET + "x", at=LATER)
    db.conn.close()
    # The app's sign-in, right and wrong.
    sign_in(make_app(path), "liwei", WRONG)
    app = sign_in(make_app(path), "liwei", SECRET + "x")
    assert not app.exception
    # The CLI's user creation.
    cli = subprocess.run([sys.executable, "-m", "audit", "users", "add", "zhang", "--role",
                          "lead", "--db", str(path)], cwd=ROOT, capture_output=True, text=True,
                         env={"AUDIT_NEW_PASSWORD": "Cli-Secret-4242", "PATH": "/usr/bin:/bin",
                              "AUDIT_HISTORY_KEY": os.environ["AUDIT_HISTORY_KEY"],
                              "HOME": str(tmp_path)})
    assert cli.returncode == 0, cli.stderr
    secrets = [SECRET, NEW_SECRET, WRONG, SECRET + "x", "Cli-Secret-4242", "Admin-Pass-1234"]
    db = open_database(path)
    text = "\n".join(" ".join(str(c) for c in r)
                     for r in db.conn.execute("SELECT * FROM history"))
    assert history.verify(db).ok
    db.conn.close()
    blobs = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    logged = caplog.text + cli.stdout + cli.stderr
    for s in secrets:
        assert s not in text
        assert s.encode("utf-8") not in blobs and s.encode("utf-16-le") not in blobs
        assert s not in logged
    print(f"\nLOGIN secrets: {len(secrets)} passwords searched in history, logs, CLI output and "
          f"{len(blobs):,} bytes of database files: found 0")


# --- parallel sign-ins ----------------------------------------------------------------------

def _parallel_attempts(path: Path, passwords: list[str], at: str = AT) -> list[str]:
    """Sign in as liwei with each password at once, each on its own connection; 'ok' or the
    refusal's class per attempt, in order."""
    import threading
    results: list[str] = [""] * len(passwords)

    def one(i: int, password: str) -> None:
        db = open_database(path)
        try:
            login_service.login(db, "liwei", password, at)
            results[i] = "ok"
        except LoginFailed:
            results[i] = "LoginFailed"
        finally:
            db.conn.close()

    threads = [threading.Thread(target=one, args=(i, pw)) for i, pw in enumerate(passwords)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_twelve_parallel_wrong_sign_ins_lock_the_account_and_the_right_one_then_is_refused(
        tmp_path, accounts):
    db, _admin, uid = accounts
    path = tmp_path / "login.db"
    results = _parallel_attempts(path, [WRONG] * 12)
    assert results == ["LoginFailed"] * 12
    # The right password right behind them: refused while the lock holds…
    assert _parallel_attempts(path, [SECRET]) == ["LoginFailed"]
    row = db.conn.execute("SELECT locked_until FROM users WHERE id = ?", (uid,)).fetchone()
    assert row[0] is not None and login_service.is_locked(row[0], AT)


def test_a_success_racing_failures_never_clears_a_lock_they_set(tmp_path, accounts):
    db, _admin, uid = accounts
    path = tmp_path / "login.db"
    for _ in range(5):
        # Twelve wrong and the right one in flight together, as often as it takes to see both
        # orders: the success may come first (then the failures lock after it), never after.
        db.conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?",
                        (uid,))
        start = db.conn.execute("SELECT MAX(seq) FROM history").fetchone()[0]
        _parallel_attempts(path, [WRONG] * 6 + [SECRET] + [WRONG] * 6)
        events = [r[0] for r in db.conn.execute(
            "SELECT action FROM history WHERE seq > ? AND entity = 'login' "
            "AND field = 'failed_logins' ORDER BY seq", (start,))]
        assert "login.locked" in events
        if "login.succeeded" in events:
            assert events.index("login.succeeded") < events.index("login.locked")
        locked = db.conn.execute("SELECT locked_until FROM users WHERE id = ?",
                                 (uid,)).fetchone()[0]
        assert locked is not None, events


def test_sign_ins_at_once_compute_at_most_the_bounded_number_of_hashes(tmp_path, accounts,
                                                                         monkeypatch):
    import threading
    db, _admin, _uid = accounts
    running, peak = [0], [0]
    guard = threading.Lock()
    real = login_service._hasher

    class Counting:
        """The real hasher, counting how many of its checks run at the same moment."""

        def verify(self, *a):
            with guard:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                time.sleep(0.05)
                return real.verify(*a)
            finally:
                with guard:
                    running[0] -= 1

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(login_service, "_hasher", Counting())
    results = _parallel_attempts(tmp_path / "login.db", [WRONG, SECRET] * 5,
                                 at="2026-11-23T08:00:00+08:00")
    assert peak[0] <= login_service.HASH_CONCURRENCY
    assert "ok" in results
