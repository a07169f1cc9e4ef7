"""Tamper evidence at the command line, behind the application's back (triggers dropped, as
someone holding the file would): a history row edited, deleted or reordered makes
`python -m audit verify` exit 1 naming the first bad record; a live row edited directly (no
history) is named with its table, row, field, live value and value from history; a changed or
missing evidence file is named; a record forged with a recomputed hash fails its signature;
rows cut off the end and a chain rewritten since are caught against an anchor (a backup
manifest's, or the one a Word pack or Excel ledger carries)."""
from __future__ import annotations

import json
import os
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


# --- live rows edited directly: replaying history no longer gives them ------------------------

def copy_with_evidence(clean: tuple[Path, str], tmp_path: Path) -> Path:
    """A copy of the clean programme with its evidence folder (as verify finds it)."""
    from audit.store.paths import evidence_dir
    path = tmp_path / "t.db"
    shutil.copy(clean[0], path)
    shutil.copytree(evidence_dir(clean[0]), evidence_dir(path))
    return path


# (name, SQL behind the back, (table, row, field, live, history) verify must name)
LIVE_EDITS = [
    ("issue status", "UPDATE issues SET status = 'closed' WHERE id = 2",
     ("issues", 2, "status", "closed", "not_started")),
    ("amount", "UPDATE issues SET amount_involved = 1160000 WHERE id = 1",
     ("issues", 1, "amount_involved", "1160000", "0")),
    ("measure owner", "UPDATE measures SET owner_person_id = 3 WHERE id = 1",
     ("measures", 1, "owner_person_id", "3", "1")),
    ("deleted measure", "DELETE FROM measures WHERE id = 1",
     ("measures", 1, "", None, None)),
    ("inserted link", "INSERT INTO issue_focus (issue_id, focus_id) VALUES (2, 3)",
     ("issues", 2, "focus", "[1, 3]", "[1]")),
    ("planted administrator",
     "INSERT INTO users (username, password_hash, role, password_changed_at, created_at) "
     "VALUES ('mallory', 'x', 'admin', '2026-01-01', '2026-01-01')",
     ("users", 7, "", None, None)),
    ("setting", "UPDATE settings SET value = '99' WHERE key = 'warning.amber_working_days'",
     ("settings", "warning.amber_working_days", "value", "99", "10")),
]


@pytest.mark.parametrize("name,sql,named", LIVE_EDITS, ids=[e[0] for e in LIVE_EDITS])
def test_a_direct_edit_of_a_live_row_is_caught_and_named(clean, tmp_path, name, sql, named):
    path = copy_with_evidence(clean, tmp_path)
    conn = sqlite3.connect(str(path), isolation_level=None)   # foreign keys off, as sqlite3's
    conn.execute(sql)
    conn.close()
    code, out = verify_cli(path)
    assert code == 1 and not out["ok"] and out["stage"] == "tables"
    first = out["tables"]["first"]
    assert (first["table"], first["row"], first["field"], first["live"],
            first["history"]) == named
    assert out["problem"].startswith("live tables differ from history")
    print(f"\nTAMPER live {name}: exit 1: {first['text']}")


def test_the_summary_of_an_edited_file_is_not_what_history_says(clean, tmp_path):
    # What the issue reported: a status set to closed directly made `summary` count one more
    # closed issue while verify passed. Now verify names it.
    path = copy_with_evidence(clean, tmp_path)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("UPDATE issues SET status = 'closed', closed_at = '2026-05-01T10:00:00+08:00' "
                 "WHERE id = 2")
    conn.close()
    code, out = verify_cli(path)
    assert code == 1 and out["tables"]["mismatches"] == 2
    assert out["tables"]["first"]["field"] == "status"


@pytest.mark.parametrize("damage", ["changed", "missing"])
def test_a_changed_or_missing_evidence_file_is_named(clean, tmp_path, damage):
    from audit.store.evidence_files import blob_path
    from audit.store.paths import evidence_dir
    path = copy_with_evidence(clean, tmp_path)
    conn = sqlite3.connect(str(path))
    (sha,), = conn.execute("SELECT sha256 FROM evidence WHERE filename = '佐证.pdf'").fetchall()
    conn.close()
    blob = blob_path(evidence_dir(path), sha)
    assert blob.exists()
    if damage == "changed":
        blob.write_bytes(blob.read_bytes() + b"%forged page\n")
    else:
        blob.unlink()
    code, out = verify_cli(path)
    assert code == 1 and out["stage"] == "evidence"
    assert out["evidence"][damage] == [sha]
    assert "佐证.pdf" in out["problem"] and "C1.1.1" in out["problem"] and damage in out["problem"]
    problem = out["problem"]
    code, out = verify_cli(path, "--quick")     # --quick leaves the files out
    assert code == 0 and out["evidence"] is None
    print(f"\nTAMPER evidence {damage}: exit 1: {problem}")


def test_a_record_forged_with_a_recomputed_hash_fails_its_signature(clean, tmp_path):
    # Someone with the file (but not the key) appends a record, chained and hashed as the
    # unkeyed chain was: it passes the chain's links, not its signature.
    path = tmp_path / "t.db"
    shutil.copy(clean[0], path)
    seq = int(clean[1].split(":")[0])
    conn = behind_the_back(path)
    prev = conn.execute("SELECT hash FROM history WHERE seq = ?", (seq,)).fetchone()[0]
    record = (seq + 1, "2026-06-01T10:00:00+08:00", 2, "lead", "f0" * 16, "workflow.close",
              "issue", 2, "status", "not_started", "closed")
    forged = history.record_hash(prev, *record)
    conn.execute("INSERT INTO history (seq, at, actor_id, actor, op, action, entity, entity_id, "
                 "field, old, new, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 (*record, prev, forged))
    conn.execute("UPDATE issues SET status = 'closed' WHERE id = 2")
    conn.close()
    code, out = verify_cli(path, "--anchor", clean[1])
    assert code == 1 and out["first_bad_seq"] == seq + 1
    assert "signature" in out["problem"]
    print(f"\nTAMPER forged record {seq + 1} with a recomputed hash: exit 1: {out['problem']}")


def _document_with_anchor(path: Path, anchor: str) -> Path:
    """A Word pack or Excel ledger carrying `anchor` as its core property identifier, as the
    exports write it."""
    if path.suffix == ".docx":
        from docx import Document
        doc = Document()
        doc.add_paragraph("整改情况汇报")
        doc.core_properties.identifier = anchor
        doc.save(str(path))
    else:
        from openpyxl import Workbook
        wb = Workbook()
        wb.active["A1"] = "整改台账"
        wb.properties.identifier = anchor
        wb.save(str(path))
    return path


@pytest.mark.parametrize("suffix", [".docx", ".xlsx"])
def test_verify_against_a_pack_or_ledger_catches_records_cut_off_and_a_rewritten_chain(
        clean, tmp_path, suffix):
    seq = int(clean[1].split(":")[0])
    doc = _document_with_anchor(tmp_path / f"pack{suffix}", "anchor:" + clean[1])
    code, out = verify_cli(clean[0], "--against", str(doc))
    assert code == 0 and out["anchors_checked"] == [clean[1]]
    cut = tmp_path / "cut.db"
    shutil.copy(clean[0], cut)
    conn = behind_the_back(cut)
    conn.execute("DELETE FROM history WHERE seq > ?", (seq - 3,))
    conn.close()
    code, out = verify_cli(cut, "--quick", "--against", str(doc))
    assert code == 1 and out["stage"] == "chain" and out["first_bad_seq"] == seq - 2
    assert "missing" in out["problem"]
    # A chain rewritten from record 100 on (every hash recomputed, as only a key holder could):
    # the anchor's record is no longer the one the document names.
    rewritten = tmp_path / "rewritten.db"
    shutil.copy(clean[0], rewritten)
    conn = behind_the_back(rewritten)
    rows = conn.execute("SELECT seq, at, actor_id, actor, op, action, entity, entity_id, field, "
                        "old, new FROM history WHERE seq >= 100 ORDER BY seq").fetchall()
    prev = conn.execute("SELECT hash FROM history WHERE seq = 99").fetchone()[0]
    key = bytes.fromhex(os.environ["AUDIT_HISTORY_KEY"])
    for r in rows:
        new = "篡改" if r[0] == 100 else r[10]
        h = history.record_hash(prev, *r[:10], new, key=key)
        conn.execute("UPDATE history SET new = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (new, prev, h, r[0]))
        prev = h
    conn.close()
    code, out = verify_cli(rewritten, "--quick", "--against", str(doc))
    assert code == 1 and out["first_bad_seq"] == seq and "rewritten" in out["problem"]
    print(f"\nTAMPER against {suffix}: records cut off → exit 1 at {seq - 2}; chain rewritten "
          f"with the key → exit 1: {out['problem']}")
