"""The CLI's exact forms, outputs and exit codes (0 success, 1 refused input, 2 usage)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit import login_service
from audit.__main__ import main
from audit.views import FIGURE_KEYS

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("AUDIT_ADMIN_PASSWORD", None) if env is None else None
    return subprocess.run([sys.executable, "-m", "audit", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, input=stdin, timeout=300)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "demo.db"
    assert main(["init", "--demo", "--db", str(path), "--as-of", "2026-11-27"]) == 0
    return path


def test_summary_json_has_exactly_the_documented_keys(demo_db, capsys):
    assert main(["summary", "--db", str(demo_db), "--as-of", "2026-11-27", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == list(FIGURE_KEYS)
    assert (data["issues"], data["categories"], data["aspects"]) == (38, 8, 22)
    assert data["as_of"] == "2026-11-27"


def test_summary_for_a_unit_counts_only_that_unit(demo_db, capsys):
    main(["summary", "--db", str(demo_db), "--as-of", "2026-11-27", "--json"])
    whole = json.loads(capsys.readouterr().out)
    assert main(["summary", "--db", str(demo_db), "--as-of", "2026-11-27", "--unit", "BT",
                 "--json"]) == 0
    part = json.loads(capsys.readouterr().out)
    assert 0 < part["issues"] < whole["issues"]


def test_summary_in_words_is_chinese(demo_db, capsys):
    main(["summary", "--db", str(demo_db), "--as-of", "2026-11-27"])
    out = capsys.readouterr().out
    assert out.startswith("截至 2026-11-27") and "整改率" in out


def test_init_demo_prints_the_demo_accounts(tmp_path):
    r = run("init", "--demo", "--db", str(tmp_path / "d.db"), "--as-of", "2026-11-27")
    assert r.returncode == 0
    for name in ("admin", "lead", "lead2", "team", "manager"):
        assert name in r.stdout
    assert "demo1234" in r.stdout


def test_init_without_a_password_stops_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_ADMIN_PASSWORD"}
    r = subprocess.run([sys.executable, "-m", "audit", "init", "--db", str(tmp_path / "x.db")],
                       cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "AUDIT_ADMIN_PASSWORD" in r.stderr


def test_init_with_a_password_creates_no_known_password_account(tmp_path):
    path = tmp_path / "real.db"
    r = run("init", "--db", str(path), env={"AUDIT_ADMIN_PASSWORD": "s3cret-pass-2026"})
    assert r.returncode == 0, r.stderr
    from audit.store.db import open_database
    db = open_database(path)
    assert [u[0] for u in db.conn.execute("SELECT username FROM users")] == ["admin"]
    assert login_service.authenticate(db, "admin", "s3cret-pass-2026", "2026-11-27T10:00:00+08:00")
    assert db.conn.execute("SELECT COUNT(*) FROM units WHERE level = 'city'").fetchone()[0] == 12


def test_verify_backup_and_restore(demo_db, tmp_path, capsys):
    assert main(["verify", "--db", str(demo_db)]) == 0
    assert capsys.readouterr().out.startswith("OK: integrity ok")
    out = tmp_path / "backup.db"
    assert main(["backup", "--db", str(demo_db), "--out", str(out), "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["anchor"].startswith(f"{manifest['history_records']}:")
    assert main(["verify", "--db", str(out), "--anchor", manifest["anchor"]]) == 0
    restored = tmp_path / "restored.db"
    assert main(["restore", str(out), "--db", str(restored)]) == 0
    assert main(["verify", "--db", str(restored), "--anchor", manifest["anchor"]]) == 0
    assert main(["restore", str(out), "--db", str(restored)]) == 1  # never overwrites


def test_users_add_records_the_user_and_as_user_is_checked(demo_db):
    r = run("users", "add", "auditor3", "--role", "lead", "--db", str(demo_db),
            env={"AUDIT_NEW_PASSWORD": "another-pass-1"})
    assert r.returncode == 0, r.stderr
    r = run("users", "add", "x", "--role", "lead", "--db", str(demo_db), "--as-user", "team",
            env={"AUDIT_NEW_PASSWORD": "another-pass-1"})
    assert r.returncode == 1 and "error" in r.stderr
    r = run("summary", "--db", str(demo_db), "--as-user", "nobody")
    assert r.returncode == 1 and "--as-user" in r.stderr


@pytest.mark.parametrize("args,code,text", [
    (["summary", "--db", "/nonexistent/x.db"], 1, "--db"),
    (["summary", "--as-of", "2026-02-30"], 1, "--as-of"),
    (["summary", "--unit", "NOPE"], 1, "unit"),
    (["users", "add", "x", "--role", "boss"], 2, "invalid choice"),
    (["frobnicate"], 2, "invalid choice"),
    (["generate", "--issues", "0"], 1, "--issues"),
])
def test_bad_arguments_get_a_clear_message_and_the_right_exit_code(demo_db, args, code, text):
    if "--db" not in args:
        args = args + ["--db", str(demo_db) if args[0] != "generate" else "/tmp/never.db"]
    r = run(*args)
    assert r.returncode == code
    assert text in r.stderr


def test_a_database_with_a_broken_chain_fails_verify(tmp_path):
    import shutil
    import sqlite3
    path = tmp_path / "d.db"
    assert main(["init", "--demo", "--db", str(path), "--as-of", "2026-11-27"]) == 0
    conn = sqlite3.connect(str(path))
    conn.execute("DROP TRIGGER history_no_update")
    conn.execute("UPDATE history SET new = 'closed' WHERE seq = 100")
    conn.commit()
    conn.close()
    r = run("verify", "--db", str(path))
    assert r.returncode == 1 and "record 100" in r.stdout
    shutil.rmtree(tmp_path, ignore_errors=True)
