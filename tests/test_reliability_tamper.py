"""Tamper evidence at the command line: a history row edited, deleted or reordered behind the
application's back (triggers dropped, as an attacker with the file would) makes
`python -m audit verify` exit 1 naming the first bad record; rows cut off the end are caught
against the anchor of a backup manifest or export."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from audit.store import history
from tests.programme import build

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A worked programme (two issues, one closed) and its anchor 'SEQ:HASH'."""
    folder = tmp_path_factory.mktemp("tamper")
    p = build(folder)
    a = p.new_issue("甲问题")
    p.full_cycle(a, deadline="2026-03-31", done="2026-03-01", closed="2026-03-03")
    b = p.new_issue("乙问题", unit="B")
    p.assign(b, deadline="2026-05-31", responsible="rect_b")
    seq, digest = history.anchor(p.db)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()
    return p.path, f"{seq}:{digest}"


def verify_cli(path: Path, *extra: str) -> tuple[int, dict]:
    run = subprocess.run([sys.executable, "-m", "audit", "verify", "--db", str(path), "--json",
                          *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return run.returncode, json.loads(run.stdout)


def behind_the_back(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS history_no_update")
    conn.execute("DROP TRIGGER IF EXISTS history_no_delete")
    return conn


def edit_value(c: sqlite3.Connection) -> int:
    c.execute("UPDATE history SET new = 'closed' WHERE seq = 150")
    return 150


def edit_actor(c: sqlite3.Connection) -> int:
    c.execute("UPDATE history SET actor = 'someone_else' WHERE seq = 151")
    return 151


def edit_time(c: sqlite3.Connection) -> int:
    c.execute("UPDATE history SET at = '2026-01-01T00:00:00+08:00' WHERE seq = 152")
    return 152


def edit_and_rehash(c: sqlite3.Connection) -> int:
    # A careful forger recomputes the edited row's own hash, but without the history key: the
    # row's signature no longer matches (an unkeyed chain: the next row no longer follows,
    # tests/test_audit_history_key.py).
    row = c.execute("SELECT seq, at, actor_id, actor, op, action, entity, entity_id, field, "
                    "old, new, prev_hash FROM history WHERE seq = 153").fetchone()
    h = history.record_hash(row[11], row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                            row[7], row[8], row[9], "forged")
    c.execute("UPDATE history SET new = 'forged', hash = ? WHERE seq = 153", (h,))
    return 153


def delete_row(c: sqlite3.Connection) -> int:
    c.execute("DELETE FROM history WHERE seq = 160")
    return 160


def reorder_rows(c: sqlite3.Connection) -> int:
    # Swap the contents of two rows (keeping seq): the first of them no longer follows.
    cols = "at, actor_id, actor, op, action, entity, entity_id, field, old, new, prev_hash, hash"
    r1 = c.execute(f"SELECT {cols} FROM history WHERE seq = 170").fetchone()
    r2 = c.execute(f"SELECT {cols} FROM history WHERE seq = 171").fetchone()
    sets = ", ".join(f"{k.strip()} = ?" for k in cols.split(","))
    c.execute(f"UPDATE history SET {sets} WHERE seq = 170", r2)
    c.execute(f"UPDATE history SET {sets} WHERE seq = 171", r1)
    return 170


def renumber_rows(c: sqlite3.Connection) -> int:
    c.execute("UPDATE history SET seq = seq + 1000 WHERE seq = 175")
    return 175


@pytest.mark.parametrize("tamper", [edit_value, edit_actor, edit_time, edit_and_rehash,
                                    delete_row, reorder_rows, renumber_rows],
                         ids=lambda f: f.__name__)
def test_verify_exits_1_and_names_the_first_bad_record(clean: tuple[Path, str], tmp_path: Path,
                                                       tamper: Callable) -> None:
    path = tmp_path / "t.db"
    shutil.copy(clean[0], path)
    conn = behind_the_back(path)
    first_bad = tamper(conn)
    conn.close()
    code, out = verify_cli(path)
    assert code == 1 and not out["ok"]
    assert out["first_bad_seq"] == first_bad
    assert str(first_bad) in out["problem"]
    print(f"\nTAMPER {tamper.__name__}: exit 1, first bad record {first_bad}: {out['problem']}")


def test_rows_cut_off_the_end_are_caught_against_the_anchor(clean: tuple[Path, str],
                                                            tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    shutil.copy(clean[0], path)
    seq = int(clean[1].split(":")[0])
    conn = behind_the_back(path)
    conn.execute("DELETE FROM history WHERE seq > ?", (seq - 5,))
    conn.close()
    from audit.store.db import open_database
    shortened = open_database(path)
    assert history.verify(shortened).ok  # a shorter chain is still a chain...
    shortened.conn.close()
    code, out = verify_cli(path)          # ...whose replay no longer gives the live tables
    assert code == 1 and out["stage"] == "tables"
    code, out = verify_cli(path, "--anchor", clean[1])
    assert code == 1 and out["first_bad_seq"] == seq - 4  # ...but not the anchored one
    print(f"\nTAMPER truncate: exit 1 against the anchor, first missing record {seq - 4}")


def test_the_untouched_file_verifies_against_its_anchor(clean: tuple[Path, str]) -> None:
    code, out = verify_cli(clean[0], "--anchor", clean[1])
    assert code == 0 and out["ok"] and out["anchor"] == clean[1]
