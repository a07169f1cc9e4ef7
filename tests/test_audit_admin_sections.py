"""The administration page's backup section under AppTest: a backup taken from the page is
written beside the database (here a tmp dir), verifies, and carries a manifest with the anchor;
"verify now" reports the chain; restoring is only offered at the command line."""
from __future__ import annotations

import json

import pytest

from audit import backup_service
from audit.model import NotPermitted
from audit.store import history
from tests import programme
from tests.conftest import open_page, sign_in


@pytest.fixture
def p(tmp_path):
    prog = programme.build(tmp_path)
    issue = prog.new_issue("外包合同先履行后签订", unit="A", aspect="C1.1")
    prog.assign(issue, deadline="2030-03-31")
    prog.measure(issue, deadline="2030-03-31")
    prog.start(issue)
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _admin(make_app, p, lang: str | None = None):
    app = make_app(p.path)
    if lang:
        app.query_params["lang"] = lang
    sign_in(app, "admin", programme.PASSWORD)
    return open_page(app, "admin")


def test_admin_page_shows_the_calendar_settings_and_backup_tabs(make_app, p):
    app = _admin(make_app, p)
    assert not app.exception
    labels = [t.label for t in app.tabs]
    assert {"工作日历", "督办与预警设置", "备份与校验"} <= set(labels)
    anchor = history.anchor(p.db)
    assert any(c.value == f"{anchor[0]}:{anchor[1]}" for c in app.code)
    assert any("python -m audit restore" in i.value for i in app.info)


def test_backup_from_the_page_is_written_beside_the_database_and_verifies(make_app, p):
    app = _admin(make_app, p)
    app.button(key="backup.run").click().run()
    assert not app.exception and not app.error
    written = sorted((p.path.parent / "backups").glob("*.db"))
    assert len(written) == 1
    manifest = json.loads(backup_service.manifest_path(written[0]).read_text(encoding="utf-8"))
    assert manifest["by"] == "admin"
    shown = json.loads(next(c.value for c in app.code if c.language == "json"))
    assert shown == manifest
    restored = backup_service.restore_backup(written[0], p.path.parent / "restored.db")
    assert restored["anchor"] == manifest["anchor"]


def test_verify_now_reports_the_intact_chain(make_app, p):
    app = _admin(make_app, p)
    app.button(key="backup.verify").click().run()
    assert not app.exception
    records = history.verify(p.db).records
    assert any(f"{records} 条变更记录" in s.value for s in app.success)


@pytest.mark.parametrize("who", ["lead", "manager", "rect"])
def test_only_the_administrator_takes_backups(p, who, tmp_path):
    with pytest.raises(NotPermitted):
        backup_service.online_backup(p.db, p.actors[who], tmp_path / "x.db", at=p.at("2026-11-27"))


@pytest.mark.parametrize("who", ["lead", "manager", "rect"])
def test_the_admin_page_is_not_in_other_roles_navigation(make_app, p, who):
    app = sign_in(make_app(p.path), who, programme.PASSWORD)
    with pytest.raises(ValueError):
        open_page(app, "admin")


def test_admin_sections_in_english(make_app, p):
    app = _admin(make_app, p, lang="en")
    assert not app.exception
    assert {"Working-day calendar", "Backup and checks"} <= {t.label for t in app.tabs}
    assert any(s.value == "Backup and history check" for s in app.subheader)
