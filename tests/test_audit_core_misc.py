"""Schema migrations, the demo programme, and the architecture convention that imports point
downwards (page → service/charts → store → model)."""
from __future__ import annotations

import ast
import re
import sys
from datetime import date
from pathlib import Path

import pytest

from audit import history, migrations
from audit.db import open_database
from audit.demo import build_demo

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


# --- architecture ------------------------------------------------------------------------------

PACKAGES = ("audit", "issues", "owners", "exports")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            # `from owners import store` imports the module owners.store
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_model_modules_use_the_standard_library_only():
    stdlib = set(sys.stdlib_module_names)
    for pkg in ("audit", "issues", "owners"):
        for name in _imports(ROOT / pkg / "model.py"):
            top = name.split(".")[0]
            assert top in stdlib or name == "audit.model" or name.startswith("audit.model."), \
                f"{pkg}/model.py imports {name}"


# SQL in this codebase is written with capital keywords, which English prose does not use.
SQL_STATEMENT = re.compile(r"\b(SELECT\b.+?\bFROM|INSERT INTO|UPDATE \w+ SET|DELETE FROM|"
                           r"CREATE (TABLE|INDEX)|PRAGMA \w+)\b", re.DOTALL)


def _string_constants(tree: ast.AST) -> list[str]:
    """Every string literal that is not a docstring."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                    ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings]


def test_pages_hold_no_sql_and_never_open_the_database_themselves():
    for pkg in PACKAGES:
        for page in (ROOT / pkg).glob("*_page.py"):
            imported = _imports(page)
            assert "sqlite3" not in imported and "audit.db" not in imported, page
            assert not any(m.endswith(".store") for m in imported), f"{page} imports a store"
            tree = ast.parse(page.read_text(encoding="utf-8"))
            for text in _string_constants(tree):
                assert not SQL_STATEMENT.search(text), f"{page} holds SQL: {text[:60]!r}"


def test_the_sql_check_finds_sql_and_ignores_words():
    assert SQL_STATEMENT.search("SELECT id FROM issues WHERE x = ?")
    assert SQL_STATEMENT.search("PRAGMA database_list")
    assert SQL_STATEMENT.search("UPDATE issues SET title = ?")
    assert not SQL_STATEMENT.search("Update the progress; select a measure from the list")


def test_stores_and_models_never_import_streamlit_or_pages():
    for pkg in PACKAGES:
        for module in list((ROOT / pkg).glob("store.py")) + list((ROOT / pkg).glob("model.py")) \
                + list((ROOT / pkg).glob("service.py")):
            imported = _imports(module)
            assert "streamlit" not in imported, module
            assert not any(m.endswith("_page") for m in imported), module


def test_nothing_below_the_pages_and_cli_reads_the_clock():
    allowed = {"audit/clock.py", "audit/session.py", "audit/__main__.py", "audit/cli_common.py"}
    for pkg in PACKAGES:
        for module in (ROOT / pkg).glob("*.py"):
            rel = f"{pkg}/{module.name}"
            if rel in allowed or module.name.endswith("_page.py") or module.name.endswith("cli.py"):
                continue
            source = module.read_text(encoding="utf-8")
            for call in ("date.today()", "datetime.now(", "pendulum.now(", "clock.now_text()",
                         "clock.today()"):
                assert call not in source, f"{rel} reads the clock ({call})"
