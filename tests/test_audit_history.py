"""History is append-only, hash-chained, tamper-evident, and replays to the current state."""
from __future__ import annotations

import sqlite3

import pytest

from audit.store import history
from tests.programme import build


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    a = p.new_issue("甲问题")
    p.full_cycle(a, deadline="2026-03-31", done="2026-03-01", closed="2026-03-03")
    b = p.new_issue("乙问题", unit="B")
    p.assign(b, deadline="2026-05-31", responsible="rect_b")
    return p


def raw(prog) -> sqlite3.Connection:
    """A connection behind the application's back, with the append-only triggers removed."""
    conn = sqlite3.connect(str(prog.path), isolation_level=None)
    conn.execute("DROP TRIGGER history_no_update")
    conn.execute("DROP TRIGGER history_no_delete")
    return conn


def test_the_chain_of_a_working_programme_verifies(prog):
    result = history.verify(prog.db)
    assert result.ok and result.integrity == "ok"
    assert result.records == prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]


def test_history_refuses_update_and_delete(prog):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        prog.db.conn.execute("UPDATE history SET new = 'x' WHERE seq = 5")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        prog.db.conn.execute("DELETE FROM history WHERE seq = 5")


def test_an_edited_record_is_named_by_verify(prog):
    conn = raw(prog)
    conn.execute("UPDATE history SET new = 'closed' WHERE seq = 40")
    result = history.verify(prog.db)
    assert not result.ok and result.first_bad_seq == 40
    assert "edited" in result.problem


def test_a_deleted_record_is_named_by_verify(prog):
    conn = raw(prog)
    conn.execute("DELETE FROM history WHERE seq = 30")
    result = history.verify(prog.db)
    assert not result.ok and result.first_bad_seq == 30


def test_reordered_records_are_named_by_verify(prog):
    conn = raw(prog)
    cols = "at, actor_id, actor, op, action, entity, entity_id, field, old, new, prev_hash, hash"
    r20 = conn.execute(f"SELECT {cols} FROM history WHERE seq = 20").fetchone()
    r21 = conn.execute(f"SELECT {cols} FROM history WHERE seq = 21").fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    conn.execute(f"UPDATE history SET {sets} WHERE seq = 20", r21)
    conn.execute(f"UPDATE history SET {sets} WHERE seq = 21", r20)
    result = history.verify(prog.db)
    assert not result.ok and result.first_bad_seq == 20


def test_records_cut_off_the_end_are_caught_only_against_the_anchor(prog):
    anchor = history.anchor(prog.db)
    conn = raw(prog)
    conn.execute("DELETE FROM history WHERE seq > ?", (anchor[0] - 3,))
    assert history.verify(prog.db).ok  # the shortened chain is still a chain…
    result = history.verify(prog.db, anchor)  # …but not the one the anchor names
    assert not result.ok and result.first_bad_seq == anchor[0] - 2


def assert_replays_exactly(db) -> None:
    """Replaying history gives every issue, measure, unit and person row as it is stored."""
    for entity, table in (("issue", "issues"), ("measure", "measures"), ("unit", "units"),
                          ("person", "people")):
        replayed = history.replay(db, entity)
        cur = db.conn.execute(f"SELECT * FROM {table}")
        cols = [c[0] for c in cur.description]
        live = [dict(zip(cols, r)) for r in cur.fetchall()]
        assert live and set(replayed) == {r["id"] for r in live}
        for row in live:
            for col, value in row.items():
                if col in ("id", "version"):
                    continue
                assert replayed[row["id"]].get(col) == history.as_history_text(value), (
                    entity, row["id"], col)


def test_replaying_history_reproduces_every_issue_and_measure(prog):
    assert_replays_exactly(prog.db)


def test_every_change_names_its_actor_and_time(prog):
    rows = prog.db.conn.execute(
        "SELECT actor, at FROM history WHERE entity = 'issue' AND field = 'status' "
        "AND new = 'closed'").fetchall()
    assert rows == [("lead", "2026-03-03T16:00:00+08:00")]
