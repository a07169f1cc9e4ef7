"""我的任务 and 验收 under AppTest on the hand-built test programme: who may open them, the
rows each person sees (red first), quick updates that pass their version (a stale edit keeps the
typed text and names who changed it), submit where allowed, strike off and return with the
service's refusals in words (三不放过, segregation of duties), and English labels."""
from __future__ import annotations

from datetime import date

import pytest

from audit.model import NotPermitted
from issues import service as issues
from issues import work_views
from issues.model import Move
from tests import programme
from tests.conftest import open_page, shown, sign_in


@pytest.fixture
def p(tmp_path):
    """`work`: in progress, unit A, responsible 张三 (rect), one measure of his, deadline far
    off; `late`: in progress, deadline passed (red); `other`: unit B (rect_b's)."""
    prog = programme.build(tmp_path)
    prog.ids = {}
    prog.ids["work"] = prog.new_issue("外包合同先履行后签订", unit="A", aspect="C1.1")
    prog.assign(prog.ids["work"], deadline="2030-03-31")
    prog.ids["m_work"] = prog.measure(prog.ids["work"], deadline="2030-03-31")
    prog.start(prog.ids["work"])
    prog.ids["late"] = prog.new_issue("结算单据审核签字不全", unit="A1", aspect="C2.1")
    prog.assign(prog.ids["late"], deadline="2026-02-27")
    prog.measure(prog.ids["late"], deadline="2026-02-27")
    prog.start(prog.ids["late"])
    prog.ids["other"] = prog.new_issue("外包商资质未年审", unit="B", aspect="C1.2")
    prog.assign(prog.ids["other"], deadline="2030-03-31", responsible="rect_b")
    prog.measure(prog.ids["other"], deadline="2030-03-31", owner="rect_b")
    prog.start(prog.ids["other"])
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _open(make_app, p, who: str, url: str, lang: str | None = None):
    app = make_app(p.path)
    if lang:
        app.query_params["lang"] = lang
    sign_in(app, who, programme.PASSWORD)
    return open_page(app, url)


def _keys(app) -> set[str]:
    return {b.key for b in app.button if b.key}


def _submitted(p, issue_id: int, by: str = "rect") -> None:
    """Walk an issue to 待验收 (not closable yet: no cause, accountability or evidence)."""
    p.submit(issue_id, "2026-11-20", actor=by)


# --- my work -----------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["rect", "lead"])
def test_my_work_opens_for_rectifiers_and_leads_without_an_exception(make_app, p, who):
    app = _open(make_app, p, who, "my-work")
    assert not app.exception
    assert app.title[0].value == "我的任务"


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_my_work_is_not_in_the_navigation_of_managers_and_admins(make_app, p, who):
    app = sign_in(make_app(p.path), who, programme.PASSWORD)
    with pytest.raises(ValueError):
        open_page(app, "my-work")


def test_my_work_lists_own_issues_red_first_and_nobody_elses(p, as_of):
    rows = work_views.my_issues(p.db, p.actors["rect"], date(2026, 11, 27))
    assert [r["id"] for r in rows] == [p.ids["late"], p.ids["work"]]
    assert [r["warning"] for r in rows] == ["red", "green"]
    measures = work_views.my_measures(p.db, p.actors["rect"], date(2026, 11, 27))
    assert {m["issue_id"] for m in measures} == {p.ids["late"], p.ids["work"]}
    assert measures[0]["warning"] == "red"
    assert work_views.my_issues(p.db, p.actors["rect_b"], date(2026, 11, 27))[0]["id"] == \
        p.ids["other"]


def test_rectifier_saves_a_progress_note_through_the_service(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    late = p.ids["late"]
    app.text_area(key=f"mywork.i{late}.progress").input("已完成合同补签 50%")
    app.button(key="mywork.save.progress").click().run()
    assert not app.exception
    assert "已保存" in app.success[0].value
    progress = p.db.conn.execute("SELECT progress FROM issues WHERE id = ?", (late,)).fetchone()
    assert progress[0] == "已完成合同补签 50%"


def test_stale_progress_edit_names_who_changed_it_and_keeps_the_typed_text(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    late = p.ids["late"]
    issues.update_progress(p.db, p.actors["lead"], late, version=p.version(late),
                           progress="牵头人先改了", at=p.at("2026-11-26"))
    app.text_area(key=f"mywork.i{late}.progress").input("我的进展说明")
    app.button(key="mywork.save.progress").click().run()
    assert not app.exception
    message = shown(app.error[0].value)
    assert "lead" in message and "2026-11-26" in message
    assert app.text_area(key=f"mywork.i{late}.progress").value == "我的进展说明"
    kept = p.db.conn.execute("SELECT progress FROM issues WHERE id = ?", (late,)).fetchone()
    assert kept[0] == "牵头人先改了"


def test_rectifier_marks_a_measure_done_with_its_completion_date(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    measures = work_views.my_measures(p.db, p.actors["rect"], date(2026, 11, 27))
    mid = measures[0]["id"]
    app.selectbox(key=f"mywork.m{mid}.status").set_value("done")
    app.date_input(key=f"mywork.m{mid}.completed_on").set_value(date(2026, 11, 2))
    app.button(key="mywork.save.measure").click().run()
    assert not app.exception and not app.error
    status, done_on = p.db.conn.execute("SELECT status, completed_on FROM measures WHERE id = ?",
                                        (mid,)).fetchone()
    assert (status, done_on) == ("done", "2026-11-02")


def test_submit_for_verification_where_allowed(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    assert "mywork.submit" in _keys(app)
    app.button(key="mywork.submit").click().run()
    assert not app.exception and not app.error
    assert p.status(p.ids["late"]) == "submitted"
    # Submitted: no second submit, the page says it waits for verification instead.
    assert "mywork.submit" not in _keys(app)


def test_lead_sees_the_verification_queue_count(make_app, p):
    _submitted(p, p.ids["work"])
    app = _open(make_app, p, "lead", "my-work")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["待验收（管辖范围内）"] == "1"


def test_my_work_in_english(make_app, p):
    app = _open(make_app, p, "rect", "my-work", lang="en")
    assert not app.exception
    assert app.title[0].value == "My tasks"
    assert any(s.value == "Issues I am responsible for" for s in app.subheader)


# --- verification ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["rect", "manager", "admin"])
def test_verify_is_only_in_the_leads_navigation(make_app, p, who):
    app = sign_in(make_app(p.path), who, programme.PASSWORD)
    with pytest.raises(ValueError):
        open_page(app, "verify")


def test_rectifier_cannot_strike_off_through_the_service(p):
    _submitted(p, p.ids["work"])
    with pytest.raises(NotPermitted):
        issues.move_issue(p.db, p.actors["rect"], p.ids["work"], Move.CLOSE,
                          version=p.version(p.ids["work"]), at=p.at("2026-11-27"))


def test_lead_cannot_strike_off_its_own_submission_and_the_page_says_why(make_app, p):
    _submitted(p, p.ids["work"], by="lead")
    app = _open(make_app, p, "lead", "verify")
    assert not app.exception
    assert "verify.close" not in _keys(app)
    assert "verify.return" in _keys(app)
    assert any("职责分离" in i.value for i in app.info)
    with pytest.raises(NotPermitted):
        issues.move_issue(p.db, p.actors["lead"], p.ids["work"], Move.CLOSE,
                          version=p.version(p.ids["work"]), at=p.at("2026-11-27"))


def test_strike_off_refused_names_the_missing_three_conditions(make_app, p):
    _submitted(p, p.ids["work"])
    app = _open(make_app, p, "lead", "verify")
    assert any("三不放过" in w.value for w in app.warning)
    app.button(key="verify.close").click().run()
    assert not app.exception
    message = app.error[0].value
    assert "三不放过" in message and "问题根源" in message and "责任追究" in message
    assert p.status(p.ids["work"]) == "submitted"


def test_lead_strikes_off_a_complete_item_with_its_evidence_shown(make_app, p):
    work = p.ids["work"]
    p.make_closable(work, day="2026-11-19")
    _submitted(p, work)
    app = _open(make_app, p, "lead", "verify")
    assert any(b.proto.label == "下载" and b.proto.url.startswith("download/")
               for b in app.get("link_button"))
    app.button(key="verify.close").click().run()
    assert not app.exception and not app.error
    assert p.status(work) == "closed"


def test_return_needs_a_reason_and_then_goes_back_to_in_progress(make_app, p):
    _submitted(p, p.ids["work"])
    app = _open(make_app, p, "lead", "verify")
    app.button(key="verify.return").click().run()
    assert any("退回原因" in w.value for w in app.warning)
    assert p.status(p.ids["work"]) == "submitted"
    app.text_area(key=f'verify.{p.ids["work"]}.reason').input("缺少合同补签的佐证")
    app.button(key="verify.return").click().run()
    assert not app.exception and not app.error
    assert p.status(p.ids["work"]) == "in_progress"


def test_verify_in_english(make_app, p):
    _submitted(p, p.ids["work"])
    app = _open(make_app, p, "lead", "verify", lang="en")
    assert not app.exception
    assert app.title[0].value == "Verification"
    assert {m.label for m in app.metric} >= {"Awaiting verification", "You may strike off"}


def test_my_work_lists_a_colleagues_measure_on_an_issue_one_is_responsible_for(p):
    colleague = p.measure(p.ids["work"], deadline="2030-02-28", owner="owner_a")
    measures = work_views.my_measures(p.db, p.actors["rect"], date(2026, 11, 27))
    row = next(m for m in measures if m["id"] == colleague)
    assert row["owner_name"] == "李四" and row["mine"]  # the responsible person may update it
    assert "measures_done" in row["closure_missing"]
    assert [m["mine"] for m in measures] == sorted((m["mine"] for m in measures), reverse=True)


def test_a_measure_is_completed_with_its_evidence_in_one_press_and_once(make_app, p):
    mid = p.ids["m_work"]
    app = _open(make_app, p, "rect", "my-work")
    # pick the work measure's row in the table
    rows = work_views.my_measures(p.db, p.actors["rect"], date(2026, 11, 27))
    app.session_state["mywork.measures.0"] = {"selection": {
        "rows": [[m["id"] for m in rows].index(mid)], "columns": []}}
    app.run()
    app.file_uploader(key=f"mywork.m{mid}.file.0").set_value(
        ("整改佐证.pdf", programme.PDF, "application/pdf"))
    app.button(key="mywork.done.measure").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    status, files = p.db.conn.execute(
        "SELECT status, (SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) "
        "FROM measures m WHERE id = ?", (mid,)).fetchone()
    assert (status, files) == ("done", 1)
    # Done with its evidence: nothing left to press twice; the uploader is a fresh one.
    assert "mywork.done.measure" not in _keys(app)
    # Its issue's submission follows, a plain button while 三不放过 still lacks the cause.
    submit = next(b for b in app.button if b.key == f"mywork.submit.m{mid}")
    assert submit.proto.type == "secondary"
    assert any("提交验收前还缺" in w.value and "问题根源" in w.value for w in app.warning)


def test_a_refused_evidence_file_leaves_the_measure_as_it_was(make_app, p):
    mid = p.ids["m_work"]
    app = _open(make_app, p, "rect", "my-work")
    rows = work_views.my_measures(p.db, p.actors["rect"], date(2026, 11, 27))
    app.session_state["mywork.measures.0"] = {"selection": {
        "rows": [[m["id"] for m in rows].index(mid)], "columns": []}}
    app.run()
    app.file_uploader(key=f"mywork.m{mid}.file.0").set_value(
        ("伪装.pdf", b"MZ not a pdf at all", "application/pdf"))
    app.button(key="mywork.done.measure").click().run()
    assert app.error and not app.exception
    assert p.db.conn.execute("SELECT status FROM measures WHERE id = ?",
                             (mid,)).fetchone()[0] == "todo"
    assert p.db.conn.execute("SELECT COUNT(*) FROM evidence").fetchone()[0] == 0


def test_submit_is_the_main_button_only_once_three_do_not_let_go_is_met(make_app, p):
    app = _open(make_app, p, "rect", "my-work")
    assert next(b for b in app.button if b.key == "mywork.submit").proto.type == "secondary"
    p.make_closable(p.ids["late"], day="2026-11-20")
    app = _open(make_app, p, "rect", "my-work")
    assert next(b for b in app.button if b.key == "mywork.submit").proto.type == "primary"


def test_closure_steps_are_in_the_order_a_rectifier_does_them():
    from issues.model import IssueFacts, MeasureFacts, closure_steps
    from audit.model import Status
    facts = IssueFacts(code="C1.1.1", status=Status.IN_PROGRESS, responsible_person_id=1,
                       deadline="2030-01-01", cause_count=1, accountability_recorded=False,
                       submitted_by=None,
                       measures=(MeasureFacts(7, 1, "2030-01-01", "done", 1),
                                 MeasureFacts(8, 2, "2030-01-01", "done", 0)))
    assert closure_steps(facts) == [("root_cause", None, True), ("accountability", None, False),
                                    ("measure_done", 7, True), ("measure_done", 8, False),
                                    ("submit", None, False)]


def test_a_second_submit_of_one_completion_form_records_nothing_more(p):
    from audit.model import AlreadySubmitted
    from issues import evidence_service
    mid, rect = p.ids["m_work"], p.actors["rect"]

    def complete():
        return evidence_service.complete_measure(
            p.db, rect, mid, version=p.mversion(mid), filename="佐证.pdf", data=programme.PDF,
            evidence_root=p.evidence_root, max_bytes=programme.MAX_UPLOAD,
            at=p.at("2026-11-20"), form_token="one-drawing-of-the-form")
    complete()
    with pytest.raises(AlreadySubmitted):
        complete()
    assert p.db.conn.execute("SELECT COUNT(*) FROM evidence WHERE measure_id = ?",
                             (mid,)).fetchone()[0] == 1
