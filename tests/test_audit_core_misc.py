"""Schema migrations, the demo programme, and the architecture convention that imports point
downwards (page → service/charts → store → model)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from audit.demo import build_demo
from audit.store import history, migrations
from audit.store.db import open_database

ROOT = Path(__file__).resolve().parent.parent


def test_a_new_database_carries_the_current_schema_version(tmp_path):
    db = open_database(tmp_path / "n.db")
    assert migrations.current_version(db) == migrations.SCHEMA_VERSION
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_an_older_database_is_upgraded_in_place_keeping_its_data(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    db = open_database(path)
    db.conn.execute("INSERT INTO units (code, name, level) VALUES ('R', '区', 'region')")
    db.conn.close()
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + [
        ["ALTER TABLE units ADD COLUMN short_name TEXT NOT NULL DEFAULT ''"]])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(migrations.MIGRATIONS))
    upgraded = open_database(path)
    assert migrations.current_version(upgraded) == migrations.SCHEMA_VERSION
    assert upgraded.conn.execute("SELECT code, short_name FROM units").fetchall() == [("R", "")]


def test_a_database_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "new.db"
    db = open_database(path)
    db.conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    db.conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        open_database(path)


def test_foreign_keys_refuse_a_bad_reference(tmp_path):
    import sqlite3
    db = open_database(tmp_path / "fk.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute("INSERT INTO people (name, unit_id) VALUES ('某', 999)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    db = open_database(folder / "demo.db")
    build_demo(db, as_of=date(2026, 11, 27), seed=1, evidence_root=folder / "ev")
    return db


def test_the_demo_has_8_categories_22_aspects_38_issues_and_the_five_focus_points(demo):
    q = lambda sql: demo.conn.execute(sql).fetchone()[0]  # noqa: E731
    assert (q("SELECT COUNT(*) FROM categories"), q("SELECT COUNT(*) FROM aspects"),
            q("SELECT COUNT(*) FROM issues")) == (8, 22, 38)
    assert q("SELECT COUNT(*) FROM focus_points") == 5
    assert q("SELECT COUNT(*) FROM units WHERE level = 'city'") == 12
    assert q("SELECT COUNT(DISTINCT year) FROM audits") == 3
    assert q("SELECT COUNT(*) FROM issues i WHERE (SELECT COUNT(*) FROM issue_streams s "
             "WHERE s.issue_id = i.id) = 2") > 0


def test_the_demo_has_every_kind_of_progress(demo):
    statuses = dict(demo.conn.execute("SELECT status, COUNT(*) FROM issues GROUP BY status"))
    assert set(statuses) == {"not_started", "in_progress", "submitted", "closed", "ended"}
    actions = {r[0] for r in demo.conn.execute("SELECT DISTINCT action FROM history")}
    assert {"workflow.return", "deadline.extend", "workflow.close", "workflow.end",
            "measure.depend", "evidence.attach"} <= actions
    late = demo.conn.execute("SELECT COUNT(*) FROM issues WHERE status = 'closed' "
                             "AND substr(closed_at, 1, 10) > original_deadline").fetchone()[0]
    assert late > 0
    assert history.verify(demo).ok


def test_the_demo_is_the_same_for_the_same_seed(tmp_path, demo):
    other = open_database(tmp_path / "again.db")
    build_demo(other, as_of=date(2026, 11, 27), seed=1, evidence_root=tmp_path / "ev")
    sql = ("SELECT code, title, status, deadline, unit_id, amount_involved FROM issues "
           "ORDER BY code")
    assert other.conn.execute(sql).fetchall() == demo.conn.execute(sql).fetchall()


def test_no_item_in_the_demo_was_struck_off_by_the_one_who_submitted_it(demo):
    assert demo.conn.execute(
        "SELECT COUNT(*) FROM history c JOIN history s ON s.entity_id = c.entity_id "
        "WHERE c.entity = 'issue' AND c.field = 'closed_by' AND c.new IS NOT NULL "
        "AND s.entity = 'issue' AND s.field = 'submitted_by' AND s.new = c.new").fetchone()[0] == 0


def test_the_demo_shows_baotou_s_rectifiers_and_manager_every_kind_of_item(demo):
    from audit.demo import demo_actor
    from issues import work_views
    as_of = date(2026, 11, 27)
    team, team2 = demo_actor(demo, "team"), demo_actor(demo, "team2")
    mine = work_views.my_issues(demo, team, as_of)
    assert {"red", "amber", "green"} <= {r["warning"] for r in mine}
    assert len(mine) >= 4 and mine[0]["warning"] == "red"
    q = lambda sql: demo.conn.execute(sql).fetchall()  # noqa: E731
    bt = "(SELECT i.id FROM issues i JOIN units u ON u.id = i.unit_id WHERE u.code = 'BT')"
    assert {"submitted", "closed", "in_progress"} <= {s for (s,) in q(
        f"SELECT status FROM issues WHERE id IN {bt}")}
    assert q(f"SELECT 1 FROM history WHERE action = 'workflow.return' AND entity = 'issue' "
             f"AND entity_id IN {bt}")
    assert q(f"SELECT 1 FROM escalations WHERE issue_id IN {bt}")
    # a measure of 包头 waits for one that is itself unfinished
    assert q(f"SELECT 1 FROM measure_deps d JOIN measures m ON m.id = d.measure_id "
             f"JOIN measures w ON w.id = d.depends_on_id "
             f"WHERE m.issue_id IN {bt} AND w.status <> 'done'")
    # found again in a later year (屡审屡犯)
    assert q(f"SELECT s.issue_id FROM issue_sources s JOIN audits a ON a.id = s.audit_id "
             f"WHERE s.issue_id IN {bt} GROUP BY s.issue_id HAVING COUNT(DISTINCT a.year) > 1")
    # two rectifiers share an issue; each sees the other's measure there
    theirs = work_views.my_measures(demo, team2, as_of)
    assert any(not m["mine"] and m["owner_name"] for m in theirs)
    # the rectifier's task: an item whose last open measure is its own, cause and
    # accountability recorded, so that completing it leaves nothing of 三不放过 missing
    assert any(m["mine"] and m["status"] != "done" and m["warning"] != "red"
               and m["closure_missing"] == ["measures_done", "measure_evidence"]
               and sum(o["issue_id"] == m["issue_id"] and o["status"] != "done"
                       for o in work_views.my_measures(demo, team, as_of)) == 1
               for m in work_views.my_measures(demo, team, as_of))
