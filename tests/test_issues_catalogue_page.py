"""问题台账 under AppTest, on the hand-built test programme: every role sees its scope and only
its scope, the filters and search narrow the list, the tree counts, the ledger download, and
English labels."""
from __future__ import annotations

import pytest

from audit.messages import t
from tests import programme
from tests.conftest import open_page, sign_in

ROLES = ("lead", "rect", "manager", "admin")


@pytest.fixture
def p(tmp_path):
    """Three issues in unit A (one overdue), one in its county A1, one in unit B."""
    prog = programme.build(tmp_path)
    prog.ids = {}
    prog.ids["a1"] = prog.new_issue("合同未经法律审核", unit="A", aspect="C1.1", amount=1000)
    prog.assign(prog.ids["a1"], deadline="2026-03-31")
    prog.ids["a2"] = prog.new_issue("外包合同先履行后签订", unit="A", aspect="C1.2")
    prog.ids["a3"] = prog.new_issue("考核扣罚未执行", unit="A", aspect="C2.1",
                                    streams=("cleanup",))
    prog.ids["county"] = prog.new_issue("县级网点实名收寄不全", unit="A1", aspect="C1.1")
    prog.ids["b"] = prog.new_issue("结算单据审核签字不全", unit="B", aspect="C2.1")
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _open(make_app, p, who: str, lang: str | None = None):
    app = make_app(p.path)
    if lang:
        app.query_params["lang"] = lang
    sign_in(app, who, programme.PASSWORD)
    return open_page(app, "catalogue")


def _count(app) -> int:
    return int(next(m.value for m in app.metric
                    if m.label in (t("catalogue.metric.issues", "zh"),
                                   t("catalogue.metric.issues", "en"))))


def _listed(app) -> list[str]:
    """The codes in the issue list (the link column's URLs carry them)."""
    frame = app.dataframe[-1].value
    return [url.rsplit("code=", 1)[1] for url in frame.iloc[:, 0]]


@pytest.mark.parametrize("who, expected", [("lead", 5), ("admin", 5), ("rect", 4),
                                           ("manager", 4)])
def test_every_role_sees_its_scope_without_an_exception(make_app, p, who, expected):
    app = _open(make_app, p, who)
    assert not app.exception and not app.error
    assert app.title[0].value == t("page.catalogue", "zh")
    assert _count(app) == expected
    assert len(_listed(app)) == expected


def test_manager_never_sees_another_unit_and_cannot_pick_one(make_app, p):
    app = _open(make_app, p, "manager")
    codes = p.db.conn.execute("SELECT code FROM issues WHERE unit_id = ?",
                              (p.units["B"],)).fetchall()
    assert codes and codes[0][0] not in _listed(app)
    assert set(app.selectbox(key="catalogue.unit").options) == {
        "全部", "甲市分公司（A）", "甲县分公司（A1）"}


def test_unit_filter_includes_the_county(make_app, p):
    app = _open(make_app, p, "lead")
    app.selectbox(key="catalogue.unit").set_value("A").run()
    assert _count(app) == 4
    app.selectbox(key="catalogue.unit").set_value("A1").run()
    assert _count(app) == 1


def test_search_two_and_four_characters(make_app, p):
    app = _open(make_app, p, "lead")
    app.text_input(key="catalogue.text").input("合同").run()
    assert _count(app) == 2
    app.text_input(key="catalogue.text").input("法律审核").run()
    assert _count(app) == 1
    app.text_input(key="catalogue.text").input("没有这个词").run()
    assert _count(app) == 0
    assert app.info[0].value == t("catalogue.empty", "zh")


def test_status_warning_and_stream_filters(make_app, p):
    app = _open(make_app, p, "lead")
    app.multiselect(key="catalogue.warning").set_value(["red"]).run()
    assert _count(app) == 1
    app.multiselect(key="catalogue.warning").set_value([]).run()
    app.selectbox(key="catalogue.stream").set_value("cleanup").run()
    assert _count(app) == 1
    app.selectbox(key="catalogue.stream").set_value(None)
    app.multiselect(key="catalogue.status").set_value(["closed"]).run()
    assert _count(app) == 0


def test_sort_by_amount_puts_the_largest_first(make_app, p):
    app = _open(make_app, p, "lead")
    app.selectbox(key="catalogue.sort").set_value("amount").run()
    first = p.db.conn.execute("SELECT code FROM issues WHERE id = ?",
                              (p.ids["a1"],)).fetchone()[0]
    assert _listed(app)[0] == first


def test_tree_counts_categories_and_aspects(make_app, p):
    app = _open(make_app, p, "lead")
    tree = app.dataframe[0].value
    names = list(tree.iloc[:, 0])
    assert names[0].startswith("C1 ") and any(n.strip("　└ ").startswith("C1.1") for n in names)
    counts = dict(zip((n.strip("　└ ").split(" ")[0] for n in names), tree.iloc[:, 1]))
    assert counts == {"C1": 3, "C1.1": 2, "C1.2": 1, "C2": 2, "C2.1": 2}


def test_ledger_download_is_offered_for_the_filtered_list(make_app, p):
    app = _open(make_app, p, "manager")
    labels = [b.label for b in app.download_button]
    assert labels == [t("catalogue.download", "zh", count=4)]


def test_writes_elsewhere_show_at_once(make_app, p):
    app = _open(make_app, p, "lead")
    assert _count(app) == 5
    p.new_issue("新登记的问题", unit="B", aspect="C2.1")
    app.run()
    assert _count(app) == 6


def test_english_labels(make_app, p):
    app = _open(make_app, p, "rect", lang="en")
    assert app.title[0].value == "Issue ledger"
    assert app.text_input(key="catalogue.text").label == "Search"
    assert [b.label for b in app.download_button] == [
        t("catalogue.download", "en", count=4)]
