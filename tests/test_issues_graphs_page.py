"""The 根源与督办 page under AppTest: what a lead and a city manager see, the graph's links,
recording the due escalation steps (leads only)."""
from __future__ import annotations

from pathlib import Path

import pytest

from audit.store.db import open_database
from tests.conftest import copy_database, open_page, sign_in

PASSWORD = "demo1234"


@pytest.fixture
def app_db(demo_path: Path, tmp_path: Path) -> Path:
    """A copy of the demo database this test may write to."""
    return copy_database(demo_path, tmp_path / "demo.db")


def causes_page(make_app, path: Path, username: str):
    app = sign_in(make_app(path), username, PASSWORD)
    app = open_page(app, "causes")
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app) -> str:
    parts = [m.value for m in app.markdown] + [s.value for s in app.subheader]
    parts += [x.value for x in app.success] + [x.value for x in app.info]
    return "\n".join(str(p) for p in parts)


def test_a_lead_sees_every_section_and_the_record_button(make_app, app_db):
    app = causes_page(make_app, app_db, "lead")
    assert app.title[0].value == "根源与督办"
    heads = [s.value for s in app.subheader]
    assert heads == ["问题根源排名", "先整改哪些根源", "问题—根源关系图", "受阻问题", "督办清单",
                     "我需要督办的"]
    ranking = app.dataframe[0].value
    assert list(ranking.columns[:3]) == ["根源编号", "未销号问题", "问题总数"]
    assert len(ranking) == 8  # the demo's eight causes
    graph = app.get("graphviz_chart")[0].proto.spec
    assert graph.startswith("graph causes {")
    # An SVG link would load the page afresh (a new session, signed out): links go below it,
    # through Streamlit's navigation, one per issue drawn.
    assert "URL=" not in graph
    links = app.get("page_link")
    assert links and len(links) == graph.count("shape=ellipse")
    assert all(link.proto.page.endswith("issue") or "issue" in str(link.proto) for link in links)
    assert app.get("vega_lite_chart")  # the cause ranking chart
    assert [b.label for b in app.button if b.key == "graphs.record"] == ["记录到期的督办步骤"]


def test_the_cover_slider_changes_the_share(make_app, app_db):
    app = causes_page(make_app, app_db, "lead")
    one = app.slider(key="graphs.k").set_value(1).run()
    chosen = one.dataframe[1].value
    assert len(chosen) == 1
    assert "整改前 1 个根源可覆盖" in texts(one)


def test_a_lead_records_the_due_steps_once(make_app, app_db):
    app = causes_page(make_app, app_db, "lead")
    db = open_database(app_db)
    before = db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone()[0]
    app = app.button(key="graphs.record").click().run()
    assert not app.exception
    total = db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone()[0]
    n = total - before           # the demo has recorded some steps already
    assert n > 0
    assert f"已记录 {n} 个督办步骤。" in texts(app)
    assert db.conn.execute("SELECT COUNT(*) FROM history WHERE entity = 'escalation' AND "
                           "field = 'step'").fetchone()[0] == total
    assert "没有需要督办的逾期问题。" in texts(app)
    assert not [b for b in app.button if b.key == "graphs.record"]


def test_a_manager_sees_only_the_city_and_cannot_record(make_app, app_db):
    app = causes_page(make_app, app_db, "manager")
    assert not [b for b in app.button if b.key == "graphs.record"]
    db = open_database(app_db)
    bt = {r[0] for r in db.conn.execute(
        "WITH RECURSIVE t(id) AS (SELECT id FROM units WHERE code = 'BT' UNION "
        "SELECT u.id FROM units u JOIN t ON u.parent_id = t.id) SELECT name FROM units "
        "WHERE id IN (SELECT id FROM t)")}
    for df in app.dataframe:
        if "责任单位" in df.value.columns:
            assert set(df.value["责任单位"]) <= bt
    units = app.selectbox(key="graphs.unit").options
    assert len(units) == 1 + len(bt)


def test_the_page_speaks_english(make_app, app_db):
    app = make_app(app_db)
    app.query_params["lang"] = "en"
    app = open_page(sign_in(app, "lead", PASSWORD), "causes")
    assert not app.exception
    assert [s.value for s in app.subheader][0] == "Root causes ranked"
