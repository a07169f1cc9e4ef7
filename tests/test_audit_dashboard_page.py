"""The dashboard page under AppTest on the demo programme: every role sees it without an
exception, the charts arrive as Vega-Lite specs carrying their data, a manager's tiles count only
its unit, and the filters round-trip through the URL (bad values get a message, not a crash)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import streamlit as st

from audit import time_model
from audit.demo import DEMO_PASSWORD, demo_actor
from audit.store.db import open_database
from audit.views import figures, scope_for
from tests.conftest import open_page, sign_in

TILES = ["纳入整改问题", "已销号", "整改率", "按期整改率", "逾期问题", "即将到期（黄灯）",
         "四个到人率", "涉及/已整改金额（万元）",
         # the rectification rules' section (docs/RULES.md)
         "最近推进会", "多次红灯问题", "最多连续红灯"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """st.cache_data is process-wide: no test may see another's results."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def _open(make_app, demo_path, username: str, **params: str):
    app = make_app(demo_path)
    for key, value in params.items():
        app.query_params[key] = value
    app = sign_in(app, username, DEMO_PASSWORD)
    # A rectifier lands on its tasks and a lead on the verification queue: open the dashboard.
    if any(i.get("url_pathname") == "dashboard" for i in app._registered_pages.values()):
        app = open_page(app, "dashboard")
    return app


def _metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def _specs(app) -> list[dict]:
    return [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]


@pytest.mark.parametrize("username", ["admin", "lead", "team", "manager"])
def test_every_role_sees_the_dashboard_with_its_charts(make_app, demo_path, username):
    app = _open(make_app, demo_path, username)
    assert not app.exception, app.exception
    assert not app.error
    assert [m.label for m in app.metric] == TILES
    specs = _specs(app)
    assert len(specs) == 10                       # burn-up + nine drill-down charts
    text = json.dumps(specs, ensure_ascii=False)
    for title in ("整改进度（累计）", "各大类问题整改状态", "各单位红黄绿灯预警", "问题根源排行"):
        assert title in text
    burnup = specs[0]
    weeks = burnup["layer"][0]["data"]["values"]
    assert weeks and {"week", "in_scope", "closed"} <= set(weeks[0])


def test_the_managers_tiles_count_only_its_unit(make_app, demo_path):
    app = _open(make_app, demo_path, "manager")
    db = open_database(demo_path)
    try:
        mine = figures(db, scope_for(db, demo_actor(db, "manager")), time_model.today())
        everyone = figures(db, scope_for(db), time_model.today())
    finally:
        db.conn.close()
    assert mine["issues"] < everyone["issues"]
    assert _metric(app, "纳入整改问题") == f"{mine['issues']:,}"
    assert _metric(app, "已销号") == f"{mine['closed']:,}"
    # The unit filter offers the manager's own units only (BT and its counties).
    options = app.selectbox(key="dash.unit").options
    assert "包头市分公司" in " ".join(options) and "呼和浩特" not in " ".join(options)


def _chart_rows(element) -> list[dict]:
    """A single-view chart's data: Streamlit moves the top-level values out of the spec into
    an Arrow table on the element."""
    import pyarrow as pa
    return pa.ipc.open_stream(element.proto.data.data).read_all().to_pylist()


def test_status_chart_carries_the_scope_s_data(make_app, demo_path):
    app = _open(make_app, demo_path, "lead")
    element = next(c for c in app.get("vega_lite_chart")
                   if json.loads(c.proto.spec).get("title") == "各大类问题整改状态")
    data = _chart_rows(element)
    assert {"category", "status", "count"} <= set(data[0])
    assert f"{sum(r['count'] for r in data):,}" == _metric(app, "纳入整改问题")


def test_query_params_are_read_on_load_and_written_back(make_app, demo_path):
    as_of = (time_model.today() - timedelta(days=3)).isoformat()
    app = _open(make_app, demo_path, "lead", as_of=as_of, unit="BT", stream="audit")
    assert not app.exception and not app.warning
    assert app.query_params["as_of"] == [as_of] or app.query_params["as_of"] == as_of
    assert str(app.date_input(key="dash.as_of").value) == as_of
    assert app.selectbox(key="dash.unit").value == "BT"
    assert app.selectbox(key="dash.stream").value == "audit"
    compare = (time_model.today() - timedelta(days=17)).isoformat()
    assert str(app.date_input(key="dash.compare").value) == compare
    app.selectbox(key="dash.unit").set_value("HHHT").run()
    assert not app.exception
    assert _param(app, "unit") == "HHHT"
    app.selectbox(key="dash.stream").set_value("").run()
    assert "stream" not in app.query_params


def _param(app, key: str) -> str:
    value = app.query_params[key]
    return value[0] if isinstance(value, list) else value


def test_bad_values_in_the_url_give_a_message_not_a_crash(make_app, demo_path):
    app = _open(make_app, demo_path, "lead", as_of="2026-13-45", unit="NOPE", cat="C1,C99",
                focus="F9", compare="3000-01-01")
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning)
    for bad in ("as_of=2026-13-45", "unit=NOPE", "cat=C99", "focus=F9", "compare=3000-01-01"):
        assert bad in warnings
    assert app.multiselect(key="dash.cat").value == ["C1"]
    assert _param(app, "as_of") == time_model.today().isoformat()
    assert len(app.get("vega_lite_chart")) == 10


def test_a_manager_cannot_widen_its_scope_through_the_url(make_app, demo_path):
    app = _open(make_app, demo_path, "manager", unit="HHHT")
    assert not app.exception
    assert "unit=HHHT" in " ".join(w.value for w in app.warning)
    assert app.selectbox(key="dash.unit").value == ""


def test_the_page_speaks_english_when_asked(make_app, demo_path):
    app = _open(make_app, demo_path, "lead", lang="en")
    assert not app.exception
    assert [m.label for m in app.metric][:3] == ["Issues in scope", "Closed", "Closure rate"]
    assert "Burn-up" in json.dumps(_specs(app)[0])
