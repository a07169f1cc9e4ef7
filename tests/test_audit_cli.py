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


# --- every command against every kind of bad argument: exit 1, one line, no traceback ----------

# What each command needs besides the argument under test ({out}: a folder, {backup}: a good
# backup, {ledger}: a good ledger). A command the parser knows and this table does not fails
# test_every_command_is_in_the_hostile_argument_table.
COMMAND_ARGS: dict[str, list[str]] = {
    "init": [], "summary": [], "verify": [], "key": [], "backup": ["--out", "{out}/b.db"],
    "restore": ["{backup}"], "generate": ["--issues", "1"],
    "users add": ["newuser", "--role", "lead"], "users list": [],
    "import": ["{ledger}", "--dry-run"], "duplicates": [], "merge": ["--cluster", "1"],
    "unmerge": ["--merge", "1"], "causes": [], "blocked": [], "escalations": [],
    "report": ["--out", "{out}/p.docx"], "export": ["--out", "{out}/l.xlsx"],
    "remind": ["--dry-run"], "refresh": [],
}
BAD_FILE_KINDS = ("not_a_database", "folder", "unreadable", "locked")


def parser_commands() -> list[str]:
    """Every command of the CLI, nested ones as 'users add'."""
    from audit.__main__ import build_parser

    def walk(parser, prefix: str) -> list[str]:
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs:
            return [prefix.strip()]
        return [name for a in subs for n, p in a.choices.items() for name in
                walk(p, f"{prefix} {n}")]
    return walk(build_parser(), "")


def test_every_command_is_in_the_hostile_argument_table():
    assert sorted(parser_commands()) == sorted(COMMAND_ARGS)


@pytest.fixture(scope="module")
def hostile(demo_db, tmp_path_factory):
    """Files of every bad kind, a good backup and ledger, and a database held locked by another
    process (rollback journal, BEGIN EXCLUSIVE) for the module's tests."""
    import shutil
    import sqlite3 as sq
    from tests.ledger_factory import csv_bytes, row, table
    folder = tmp_path_factory.mktemp("hostile")
    out = folder / "out"
    out.mkdir()
    files = {"not_a_database": folder / "notes.db", "folder": folder / "a-folder.db"}
    files["not_a_database"].write_text("这不是数据库 / not a database\n", encoding="utf-8")
    files["folder"].mkdir()
    if os.geteuid() == 0:
        # root reads any file whatever its mode; the kernel refuses to read this one (EIO).
        files["unreadable"] = Path("/proc/self/mem")
    else:
        files["unreadable"] = folder / "unreadable.db"
        shutil.copy(demo_db, files["unreadable"])
        files["unreadable"].chmod(0)
    locked = folder / "locked.db"
    src, dst = sq.connect(demo_db), sq.connect(locked)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode = DELETE")
    dst.close()
    files["locked"] = locked
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({str(locked)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    backup = folder / "good-backup.db"
    assert main(["backup", "--db", str(demo_db), "--out", str(backup)]) == 0
    ledger = folder / "ledger.csv"
    ledger.write_bytes(csv_bytes(table(row(1))))
    yield {"files": files, "out": out, "backup": backup, "ledger": ledger, "folder": folder,
           "demo": demo_db}
    holder.kill()
    holder.wait()


def run_hostile(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """main(argv) in this process: (exit code, stderr). An exception escaping main would be a
    traceback at the command line, so it fails the test as it is."""
    monkeypatch.setenv("AUDIT_BUSY_TIMEOUT_MS", "200")
    monkeypatch.setenv("AUDIT_ADMIN_PASSWORD", "s3cret-pass-2026")
    monkeypatch.setenv("AUDIT_NEW_PASSWORD", "another-pass-1")
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as ex:   # argparse: usage errors exit 2
        code = ex.code
    return code, capsys.readouterr().err


def _args(command: str, ctx: dict, **values: str) -> list[str]:
    filled = [a.format(out=ctx["out"], backup=ctx["backup"], ledger=ctx["ledger"])
              for a in COMMAND_ARGS[command]]
    return command.split() + [values.get(a, a) for a in filled]


def assert_one_clear_line(code: int, err: str, name: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert name in lines[0], lines[0]


@pytest.mark.parametrize("kind", BAD_FILE_KINDS)
@pytest.mark.parametrize("command", sorted(COMMAND_ARGS))
def test_every_command_given_a_bad_db_exits_1_with_one_line_naming_it(
        hostile, command, kind, capsys, monkeypatch):
    argv = _args(command, hostile) + ["--db", str(hostile["files"][kind])]
    code, err = run_hostile(argv, capsys, monkeypatch)
    assert_one_clear_line(code, err, "--db")
    print(f"\nHOSTILE {command} --db {kind}: {err.strip()}")


# (command, argument named, kind, how the bad argument is given: (flag or None, value))
OTHER_ARGUMENTS = [
    ("restore", "source", kind, (None, kind)) for kind in BAD_FILE_KINDS[:3]
] + [
    ("restore", "manifest", "broken manifest", (None, "broken_manifest")),
    ("restore", "manifest", "malformed anchor in the manifest", (None, "bad_anchor_manifest")),
    ("restore", "source", "no manifest", (None, "no_manifest")),
    ("verify", "--anchor", "malformed anchor", ("--anchor", "12:not-a-hash")),
    ("verify", "--anchor", "anchor with a short hash", ("--anchor", "anchor:12:abc123")),
    ("verify", "--against", "not a document", ("--against", "not_a_database")),
    ("verify", "--against", "a folder", ("--against", "folder")),
    ("verify", "--against", "unreadable", ("--against", "unreadable")),
    ("verify", "--against", "a document without an anchor", ("--against", "plain_docx")),
    ("verify", "--evidence", "missing evidence folder", ("--evidence", "missing_folder")),
    ("verify", "--key-file", "a folder as key file", ("--key-file", "folder")),
    ("verify", "--key-file", "not a key", ("--key-file", "not_a_database")),
    ("restore", "--key-file", "unreadable key file", ("--key-file", "unreadable")),
    ("import", "file", "not a ledger", (None, "not_a_database")),
    ("import", "file", "a folder", (None, "folder")),
    ("import", "file", "unreadable", (None, "unreadable")),
    ("backup", "--out", "a folder", ("--out", "folder")),
    ("report", "--out", "a folder", ("--out", "folder_docx")),
    ("export", "--out", "a folder", ("--out", "folder_xlsx")),
]


def _bad_value(name: str, ctx: dict) -> str:
    """The file or text a case of OTHER_ARGUMENTS stands for (made on first use)."""
    import shutil
    folder = ctx["folder"]
    if name in ctx["files"]:
        return str(ctx["files"][name])
    if name in ("broken_manifest", "bad_anchor_manifest", "no_manifest"):
        target = folder / f"{name}.db"
        if not target.exists():
            shutil.copy(ctx["backup"], target)
            text = {"broken_manifest": "{\"anchor\": \"3:", "no_manifest": None,
                    "bad_anchor_manifest": json.dumps({"anchor": "3:xyz"})}[name]
            if text is not None:
                Path(f"{target}.manifest.json").write_text(text, encoding="utf-8")
        return str(target)
    if name == "plain_docx":
        target = folder / "plain.docx"
        if not target.exists():
            from docx import Document
            Document().save(str(target))
        return str(target)
    if name == "missing_folder":
        return str(folder / "no-such-evidence")
    if name in ("folder_docx", "folder_xlsx"):
        target = folder / ("pack.docx" if name == "folder_docx" else "ledger.xlsx")
        target.mkdir(exist_ok=True)
        return str(target)
    return name


@pytest.mark.parametrize("command,named,kind,given", OTHER_ARGUMENTS,
                         ids=[f"{c[0]}-{c[2]}" for c in OTHER_ARGUMENTS])
def test_every_bad_file_anchor_manifest_and_folder_argument_exits_1_naming_it(
        hostile, command, named, kind, given, capsys, monkeypatch):
    flag, value = given
    bad = _bad_value(value, hostile)
    db = str(hostile["demo"]) if command != "restore" else str(hostile["folder"] / "new.db")
    argv = _args(command, hostile)
    if flag is None:   # the positional argument is the bad one
        positional = {"restore": hostile["backup"], "import": hostile["ledger"]}[command]
        argv = [bad if a == str(positional) else a for a in argv]
    else:
        argv = [a for a in argv]
        if flag in argv:
            argv[argv.index(flag) + 1] = bad
        else:
            argv += [flag, bad]
    code, err = run_hostile(argv + ["--db", db], capsys, monkeypatch)
    assert_one_clear_line(code, err, named)
    assert not (hostile["folder"] / "new.db").exists()
    print(f"\nHOSTILE {command} {named} ({kind}): {err.strip()}")


@pytest.mark.parametrize("args", [["summary", "--db", "{notes}"], ["verify", "--db", "{folder}"],
                                  ["restore", "{notes}", "--db", "{new}"]])
def test_at_the_real_command_line_too_no_traceback(hostile, args):
    values = {"notes": hostile["files"]["not_a_database"],
              "folder": hostile["files"]["folder"], "new": hostile["folder"] / "new2.db"}
    r = run(*[a.format(**values) for a in args])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_users_list_shows_unit_codes_not_internal_ids(demo_db, capsys):
    assert main(["users", "list", "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    team = next(line for line in out.splitlines() if line.startswith("team"))
    assert "unit=BT" in team
    assert "unit=—" in next(line for line in out.splitlines() if line.startswith("admin"))
    assert main(["users", "list", "--db", str(demo_db), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["users"]
    assert {r["username"]: r["unit_code"] for r in rows}["team"] == "BT"
    assert all("unit_id" not in r for r in rows)
