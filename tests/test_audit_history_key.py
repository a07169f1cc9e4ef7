"""The history key: created with the database's first record, beside the file and never in it;
without it nothing is written and verify says what is missing; a database made before keys
existed is keyed by its next write (or `python -m audit key`), its old records protected from
then on."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from audit.model import IntegrityBroken
from audit.store import history, keys
from audit.store.db import open_database
from audit.store.paths import history_key_path
from tests.programme import _build

ROOT = Path(__file__).resolve().parent.parent
OTHER_KEY = "a1" * 32


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != keys.ENV}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "audit", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def no_env_key(monkeypatch):
    """No $AUDIT_HISTORY_KEY: keys come from key files (as on a deployment that uses them)."""
    monkeypatch.delenv(keys.ENV, raising=False)


@pytest.fixture(scope="module")
def keyed_demo(tmp_path_factory) -> Path:
    """A demo database made by `init --demo` with no key in the environment."""
    path = tmp_path_factory.mktemp("keyed") / "demo.db"
    r = cli("init", "--demo", "--db", str(path), "--as-of", "2026-11-27")
    assert r.returncode == 0, r.stderr
    assert str(history_key_path(path)) in r.stdout      # init says where the key is
    return path


def test_init_writes_the_key_beside_the_database_readable_by_its_owner_only(keyed_demo):
    key_file = history_key_path(keyed_demo)
    assert key_file.parent == keyed_demo.parent and key_file.name == "demo.history-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = keys.read_key_file(key_file)
    assert len(key) == 32
    data = keyed_demo.read_bytes()
    assert key not in data and key.hex().encode() not in data   # never inside the file
    r = cli("verify", "--db", str(keyed_demo), "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["keyed_from"] == 1 and out["key_id"] == keys.key_id(key)


def test_a_copy_without_its_key_writes_nothing_and_verify_names_the_missing_key(
        keyed_demo, tmp_path, no_env_key):
    copy = tmp_path / "copy.db"
    shutil.copy(keyed_demo, copy)
    shutil.copytree(keyed_demo.with_name("demo-evidence"), tmp_path / "copy-evidence")
    r = cli("verify", "--db", str(copy), "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["first_bad_seq"] == 1
    assert "no key was given" in out["problem"] and "copy.history-key" in out["problem"]
    before = history.anchor(sqlite_db := open_database(copy))
    with pytest.raises(IntegrityBroken, match="signed with key"):
        history.append(sqlite_db, at="2026-11-28T10:00:00+08:00", actor_id=None,
                       actor="system", op=history.new_op(), action="setting.set",
                       changes=[history.Change("setting", None, "x", None, "1")])
    assert history.anchor(sqlite_db) == before and not history_key_path(copy).exists()
    # Handed the key file, verify passes.
    r = cli("verify", "--db", str(copy), "--key-file", str(history_key_path(keyed_demo)))
    assert r.returncode == 0, r.stdout


def test_another_key_is_refused_by_name(keyed_demo):
    r = cli("verify", "--db", str(keyed_demo), "--json", env={keys.ENV: OTHER_KEY})
    out = json.loads(r.stdout)
    assert r.returncode == 1 and "not with the key given" in out["problem"]
    assert keys.key_id(bytes.fromhex(OTHER_KEY)) in out["problem"]


def test_a_malformed_key_is_an_error_naming_where_it_came_from(keyed_demo, tmp_path):
    r = cli("verify", "--db", str(keyed_demo), env={keys.ENV: "not-a-key"})
    assert r.returncode == 1 and keys.ENV in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.key"
    bad.write_text("0123", encoding="ascii")
    r = cli("verify", "--db", str(keyed_demo), "--key-file", str(bad))
    assert r.returncode == 1 and "--key-file" in r.stderr and "Traceback" not in r.stderr


def _legacy_programme(tmp_path: Path, monkeypatch) -> Path:
    """A worked programme whose chain is plain SHA-256, as every database made before keys
    existed (no key configured, none created)."""
    monkeypatch.delenv(keys.ENV, raising=False)
    monkeypatch.setattr(keys, "ensure_key", lambda db: None)
    p = _build(tmp_path)      # not build(): its template, made once, is keyed
    a = p.new_issue("甲问题")
    p.full_cycle(a, deadline="2026-03-31", done="2026-03-01", closed="2026-03-03")
    assert history.chain_key_id(p.db) is None
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()
    monkeypatch.undo()
    monkeypatch.delenv(keys.ENV, raising=False)
    return p.path


def _rehash_everything_from(conn: sqlite3.Connection, seq: int, new_value: str) -> None:
    """What anyone holding an unkeyed file can do: edit record `seq` and recompute every
    SHA-256 after it, so that the chain is whole again."""
    rows = conn.execute("SELECT seq, at, actor_id, actor, op, action, entity, entity_id, field, "
                        "old, new FROM history WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
    prev = conn.execute("SELECT hash FROM history WHERE seq = ?", (seq - 1,)).fetchone()[0]
    for r in rows:
        new = new_value if r[0] == seq else r[10]
        h = history.record_hash(prev, *r[:10], new)
        conn.execute("UPDATE history SET new = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (new, prev, h, r[0]))
        prev = h


def test_an_unkeyed_chain_verifies_with_a_warning_and_could_be_rewritten_unseen(
        tmp_path, monkeypatch):
    path = _legacy_programme(tmp_path, monkeypatch)
    r = cli("verify", "--db", str(path), "--quick", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["keyed_from"] is None
    assert "not keyed yet" in out["warnings"][0]
    # The weakness keys remove: a record edited and every later hash recomputed passes.
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER history_no_update")
    _rehash_everything_from(conn, 120, "篡改")
    conn.close()
    assert history.verify(open_database(path)).ok


def test_keying_a_legacy_database_protects_its_old_records_from_then_on(tmp_path, monkeypatch):
    path = _legacy_programme(tmp_path, monkeypatch)
    records = history.anchor(open_database(path))[0]
    r = cli("key", "--db", str(path), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["keyed_from"] == records + 1 and out["state"] == "keyed now"
    assert history_key_path(path).exists()
    r = cli("key", "--db", str(path), "--json")       # a second time changes nothing
    assert json.loads(r.stdout)["state"] == "already keyed"
    r = cli("verify", "--db", str(path), "--quick", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["keyed_from"] == records + 1 and out["warnings"] == []
    # Rewriting an old (unkeyed) record now breaks the key record's signature, which covers
    # the hash before it: whoever lacks the key cannot re-sign it.
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER history_no_update")
    _rehash_everything_from(conn, 120, "篡改")
    conn.close()
    r = cli("verify", "--db", str(path), "--quick", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["first_bad_seq"] == records + 1
    assert "signature" in out["problem"]


def test_a_legacy_database_is_keyed_by_its_next_write(tmp_path, monkeypatch):
    path = _legacy_programme(tmp_path, monkeypatch)
    db = open_database(path)
    records = history.anchor(db)[0]
    history.append(db, at="2026-11-28T10:00:00+08:00", actor_id=None, actor="system",
                   op=history.new_op(), action="setting.set",
                   changes=[history.Change("setting", None, "demo", None, "0")])
    assert history.chain_key_id(db)[0] == records + 1
    row = db.conn.execute("SELECT action, entity, field, new FROM history WHERE seq = ?",
                          (records + 1,)).fetchone()
    assert row == (history.KEY_ACTION, history.KEY_ENTITY, history.KEY_FIELD,
                   keys.key_id(keys.read_key_file(history_key_path(path))))
    result = history.verify(db)
    assert result.ok and result.keyed_from == records + 1 and result.records == records + 2


def test_an_unkeyed_chain_edited_and_rehashed_at_one_record_is_caught_at_the_next(
        tmp_path, monkeypatch):
    # The unkeyed form of tests/test_reliability_tamper.py's edit_and_rehash: the forger
    # recomputes the edited record's own hash, so the record after it no longer follows.
    path = _legacy_programme(tmp_path, monkeypatch)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER history_no_update")
    row = conn.execute("SELECT prev_hash, seq, at, actor_id, actor, op, action, entity, "
                       "entity_id, field, old FROM history WHERE seq = 100").fetchone()
    conn.execute("UPDATE history SET new = 'forged', hash = ? WHERE seq = 100",
                 (history.record_hash(*row, "forged"),))
    conn.close()
    result = history.verify(open_database(path))
    assert not result.ok and result.first_bad_seq == 101 and "follow" in result.problem
