"""Batch actions on the pages under AppTest: 我的任务 (a rectifier's note on all shown issues,
measures done with evidence, the result table item by item) and 问题台账 (a lead's extension and
a return with one reason; strike-off refused until the check is confirmed)."""
from __future__ import annotations

import pytest

from issues import service as issues
from tests import programme
from tests.conftest import open_page, shown, sign_in


@pytest.fixture
def p(tmp_path):
    """Three issues of rect (张三, unit A) in progress, each with one measure of his; one of
    another person in A; one of rect_b in B."""
    prog = programme.build(tmp_path)
    prog.ids = {}
    for key, unit, who in (("a1", "A", "rect_a"), ("a2", "A", "rect_a"), ("a3", "A1", "rect_a"),
                           ("o", "A", "owner_a"), ("b", "B", "rect_b")):
        prog.ids[key] = prog.new_issue(f"外包问题 {key}", unit=unit)
        prog.assign(prog.ids[key], deadline="2030-03-31", responsible=who)
        prog.ids["m" + key] = prog.measure(prog.ids[key], deadline="2030-03-31", owner=who)
        prog.start(prog.ids[key])
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _open(make_app, p, who: str, url: str):
    app = make_app(p.path)
    sign_in(app, who, programme.PASSWORD)
    return open_page(app, url)


def _results(app):
    """The result table of the last batch (the one frame with a 结果 column)."""
    return next(d.value for d in app.dataframe if "结果" in getattr(d.value, "columns", ()))


def _progress(p, key: str) -> str:
    return p.db.conn.execute("SELECT progress FROM issues WHERE id = ?",
                             (p.ids[key],)).fetchone()[0] or ""


def test_rectifier_writes_one_note_on_all_shown_and_a_stale_one_is_refused_alone(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    app.button(key="mywork.batch.i.all").click().run()
    assert sorted(app.multiselect(key="mywork.batch.i.picked").value) == sorted(
        p.ids[k] for k in ("a1", "a2", "a3"))
    # a lead changes a2 after the rectifier picked it
    issues.update_progress(p.db, p.actors["lead"], p.ids["a2"], version=p.version(p.ids["a2"]),
                           progress="牵头人补充", at=p.at("2026-11-26"))
    app.text_area(key="mywork.batch.i.progress").input("合同已全部补签")
    app.button(key="mywork.batch.i.save.progress").click().run()
    assert not app.exception
    assert [_progress(p, k) for k in ("a1", "a2", "a3")] == ["合同已全部补签", "牵头人补充",
                                                             "合同已全部补签"]
    table = _results(app)
    assert list(table["结果"]) == ["已完成", "未执行", "已完成"]
    refused = table[table["结果"] == "未执行"]
    assert len(refused) == 1 and "lead" in refused.iloc[0]["原因"]
    assert "1 项未执行" in shown(app.warning[0].value)


def test_rectifier_marks_measures_done_each_with_its_evidence(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    app.button(key="mywork.batch.m.all").click().run()
    m1 = p.ids["ma1"]
    app.file_uploader(key="mywork.batch.m.file.all.0").set_value(
        ("会议纪要.pdf", programme.PDF, "application/pdf"))
    app.file_uploader(key=f"mywork.batch.m.file.{m1}.0").set_value(
        ("补签合同.pdf", programme.PDF + b"\n% own", "application/pdf"))
    app.button(key="mywork.batch.m.save").click().run()
    assert not app.exception
    done = p.db.conn.execute("SELECT COUNT(*) FROM measures WHERE status = 'done'").fetchone()[0]
    assert done == 3
    files = dict(p.db.conn.execute("SELECT measure_id, filename FROM evidence"))
    assert files == {m1: "补签合同.pdf", p.ids["ma2"]: "会议纪要.pdf",
                     p.ids["ma3"]: "会议纪要.pdf"}
    assert list(_results(app)["结果"]) == ["已完成"] * 3


def test_lead_extends_many_from_the_catalogue_and_the_table_says_item_by_item(make_app, p):
    from datetime import date
    app = _open(make_app, p, "lead", "catalogue")
    app.button(key="catalogue.batch.all").click().run()
    assert len(app.multiselect(key="catalogue.batch.picked").value) == 5
    app.date_input(key="catalogue.batch.new_deadline").set_value(date(2030, 6, 30))
    app.text_input(key="catalogue.batch.reason").input("合同重签周期长")
    app.button(key="catalogue.batch.save.extend").click().run()
    assert not app.exception
    n = p.db.conn.execute("SELECT COUNT(*) FROM extensions").fetchone()[0]
    assert n == 5
    table = _results(app)
    assert list(table["结果"]) == ["已完成"] * 5


def test_strike_off_from_the_catalogue_needs_the_check_confirmed(make_app, p):
    app = _open(make_app, p, "lead", "catalogue")
    app.button(key="catalogue.batch.all").click().run()
    app.button(key="catalogue.batch.save.strike").click().run()
    assert not app.exception
    assert "核对" in shown(app.error[0].value)
    app.checkbox(key="catalogue.batch.checked").check()
    app.button(key="catalogue.batch.save.strike").click().run()
    table = _results(app)
    assert list(table["结果"]) == ["未执行"] * 5     # in progress: not submitted, none closed
    assert p.db.conn.execute("SELECT COUNT(*) FROM issues WHERE status = 'closed'"
                             ).fetchone()[0] == 0


def test_lead_sees_evidence_beside_measures_and_strikes_off_the_checked_ones(make_app, p):
    for k in ("a1", "a2"):
        p.make_closable(p.ids[k], day="2026-11-20")
        p.submit(p.ids[k], "2026-11-20")
    p.submit(p.ids["a3"], "2026-11-20")          # no cause, accountability or evidence yet
    app = _open(make_app, p, "lead", "verify")
    assert not app.exception
    images = [m.value for m in app.markdown if "](download/" in m.value]
    assert images and all("inline=1" in m for m in images)    # the PDF's page, in the page
    app.button(key="verify.batch.all").click().run()
    assert len(app.multiselect(key="verify.batch.picked").value) == 3
    app.checkbox(key="verify.batch.checked").check()
    app.button(key="verify.batch.save.close").click().run()
    assert not app.exception
    assert [p.status(p.ids[k]) for k in ("a1", "a2", "a3")] == ["closed", "closed", "submitted"]
    table = _results(app)
    assert list(table["结果"]) == ["已完成", "已完成", "未执行"]
    assert "三不放过" in table.iloc[2]["原因"]


def test_rectifier_requests_extensions_and_the_lead_approves_them_from_the_catalogue(make_app,
                                                                                      p):
    from datetime import date
    app = _open(make_app, p, "rect", "my-work")
    app.button(key="mywork.batch.i.all").click().run()
    app.date_input(key="mywork.batch.i.new_deadline").set_value(date(2030, 9, 30))
    app.text_input(key="mywork.batch.i.reason").input("合同重签须经集团审批")
    app.button(key="mywork.batch.i.save.extend").click().run()
    assert not app.exception
    assert list(_results(app)["结果"]) == ["已完成"] * 3
    lead = _open(make_app, p, "lead", "catalogue")
    lead.button(key="catalogue.batch.all").click().run()
    lead.button(key="catalogue.batch.save.approve").click().run()
    assert not lead.exception
    assert sorted(_results(lead)["结果"]) == ["已完成"] * 3 + ["未执行"] * 2
    assert p.db.conn.execute("SELECT COUNT(*) FROM extensions WHERE new_deadline = "
                             "'2030-09-30'").fetchone()[0] == 3


def test_rectifier_marks_the_picked_issues_measures_done_from_the_catalogue(make_app, p):
    """问题台账's 措施完成: the open measures of the picked issues that are the rectifier's (not
    李四's on `o`), each with its own file or the shared one; one changed by a lead after the tab
    was drawn is refused by itself and keeps its state; the issues stay picked."""
    app = _open(make_app, p, "rect", "catalogue")
    app.button(key="catalogue.batch.all").click().run()
    picked = app.multiselect(key="catalogue.batch.picked").value
    assert sorted(picked) == sorted(p.ids[k] for k in ("a1", "a2", "a3", "o"))
    assert any("3 项" in shown(c.value) for c in app.caption)     # ma1, ma2, ma3, not mo
    m1, m2, m3, mo = (p.ids[k] for k in ("ma1", "ma2", "ma3", "mo"))
    issues.set_measure_status(p.db, p.actors["lead"], m2, version=p.mversion(m2),
                              status="doing", at=p.at("2026-11-26"))
    app.file_uploader(key="catalogue.batch.file.all.0").set_value(
        ("会议纪要.pdf", programme.PDF, "application/pdf"))
    app.file_uploader(key=f"catalogue.batch.file.{m1}.0").set_value(
        ("补签合同.pdf", programme.PDF + b"\n% own", "application/pdf"))
    before = p.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    app.button(key="catalogue.batch.save.measures").click().run()
    assert not app.exception
    status = dict(p.db.conn.execute("SELECT id, status FROM measures WHERE id IN (?, ?, ?, ?)",
                                    (m1, m2, m3, mo)).fetchall())
    assert status == {m1: "done", m2: "doing", m3: "done", mo: "todo"}
    files = dict(p.db.conn.execute("SELECT measure_id, filename FROM evidence"))
    assert files == {m1: "补签合同.pdf", m3: "会议纪要.pdf"}
    table = _results(app)
    assert list(table["结果"]) == ["已完成", "未执行", "已完成"]
    assert "lead" in table.iloc[1]["原因"]                       # stale: who changed it
    assert p.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] > before
    assert sorted(app.multiselect(key="catalogue.batch.picked").value) == sorted(picked)
