"""Shared fixtures: a real SQLite file in a temporary directory, fixed times, a small org tree."""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest
import sqlite_utils

from audit.store.db import open_database

# Every database a test makes is signed with this history key (audit.store.keys), so that the
# copies tests make of database files (which leave the key file behind, as a copy should) stay
# writable; tests of the key file itself remove it (tests/test_audit_history_key.py).
TEST_HISTORY_KEY = "5e" * 32


def pytest_configure(config) -> None:
    # Under pytest only: the benchmarks import helpers from here and open databases signed
    # with their own key files.
    os.environ.setdefault("AUDIT_HISTORY_KEY", TEST_HISTORY_KEY)


# No background refresh of stored results in the apps tests start (issues.refresh_worker): a
# thread computing beside a test's own reads would make its timings and writes vary. Tests of
# the refresher start it themselves.
os.environ.setdefault("AUDIT_REFRESH_SECONDS", "0")

AT = "2026-11-23T09:00:00+08:00"
AS_OF = date(2026, 11, 23)


def later(at: str, **delta: float) -> str:
    """`at` moved by a timedelta (minutes=16, days=1, …), in history's ISO form."""
    return (datetime.fromisoformat(at) + timedelta(**delta)).isoformat(timespec="seconds")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test database lives."""
    return tmp_path / "t.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite_utils.Database]:
    """A migrated, empty database file."""
    database = open_database(db_path)
    yield database
    database.conn.close()


@pytest.fixture
def at() -> str:
    """A fixed moment: 2026-11-23 09:00 in Asia/Shanghai."""
    return AT


@pytest.fixture
def as_of() -> date:
    """A fixed as-of date: 2026-11-23 (a Monday)."""
    return AS_OF


@pytest.fixture
def make_unit(db: sqlite_utils.Database) -> Callable[..., int]:
    """Insert a unit row directly: make_unit('R', '自治区分公司', parent=None, level='region')."""

    def make(code: str, name: str, parent: int | None = None, level: str | None = None) -> int:
        level = level or ("region" if parent is None else "city")
        cur = db.conn.execute("INSERT INTO units (code, name, parent_id, level) VALUES (?,?,?,?)",
                              (code, name, parent, level))
        return int(cur.lastrowid)

    return make


@pytest.fixture
def make_person(db: sqlite_utils.Database) -> Callable[..., int]:
    """Insert a person row directly: make_person('张三', unit_id)."""

    def make(name: str, unit_id: int, title: str = "") -> int:
        cur = db.conn.execute("INSERT INTO people (name, unit_id, title) VALUES (?,?,?)",
                              (name, unit_id, title))
        return int(cur.lastrowid)

    return make


@pytest.fixture
def org(make_unit: Callable[..., int]) -> dict[str, int]:
    """A small tree: region R → cities HHHT (呼和浩特) and BT (包头) → county HHHT01 under HHHT.
    Returns code → id."""
    region = make_unit("R", "内蒙古自治区分公司")
    hhht = make_unit("HHHT", "呼和浩特市分公司", region, "city")
    bt = make_unit("BT", "包头市分公司", region, "city")
    county = make_unit("HHHT01", "托克托县分公司", hhht, "county")
    return {"R": region, "HHHT": hhht, "BT": bt, "HHHT01": county}


# --- the app under AppTest ----------------------------------------------------------------------

APP_PATH = Path(__file__).resolve().parent.parent / "streamlit_app.py"


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database (audit.demo.build_demo as of AS_OF, seed 1), built once per test run.
    Treat it as read-only; copy it (copy_database) before writing."""
    from audit.demo import build_demo
    from audit.store.paths import evidence_dir
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    database = open_database(path)
    build_demo(database, as_of=AS_OF, seed=1, evidence_root=evidence_dir(path))
    database.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.conn.close()
    return path


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a database file (SQLite online backup), for a test that writes."""
    import sqlite3
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], object]:
    """make_app(db_path) → an AppTest of streamlit_app.py on that database (caches cleared)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def make(path: Path) -> AppTest:
        monkeypatch.setenv("AUDIT_DB", str(path))
        st.cache_data.clear()
        return AppTest.from_file(str(APP_PATH), default_timeout=30)

    return make


def sign_in(app, username: str, password: str):
    """Fill the sign-in form of a fresh AppTest and submit it; returns the app after the run."""
    if not app.text_input:
        app.run()
    app.text_input(key="audit.login_username").input(username)
    app.text_input(key="audit.login_password").input(password)
    app.button(key="FormSubmitter:audit.login_form-" + app.button[0].label).click()
    return app.run()


def open_page(app, url_path: str):
    """Switch a signed-in AppTest to the page registered under `url_path` (PAGES in
    streamlit_app.py) and run it. AppTest.switch_page only knows file pages."""
    matches = [h for h, info in app._registered_pages.items()
               if info.get("url_pathname") == url_path]
    if not matches:
        # The role's landing page is registered under "" (streamlit_app.home_of): find it by
        # its title.
        import streamlit_app
        from audit.messages import LANGS, t
        titles = {t(spec.title_key, lang) for spec in streamlit_app.PAGES
                  if spec.url_path == url_path for lang in LANGS}
        matches = [h for h, info in app._registered_pages.items()
                   if info.get("url_pathname") == "" and info.get("page_name") in titles]
    if not matches:
        raise ValueError(f"no page {url_path!r} for this user; known: "
                         f"{[i.get('url_pathname') for i in app._registered_pages.values()]}")
    app._page_hash = matches[0]
    return app.run()


def shown(markdown: str) -> str:
    """What a reader sees of markdown source: backslash escapes removed (the app escapes every
    user-typed and message text it puts into markdown)."""
    import re
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown))
