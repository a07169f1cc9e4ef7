"""问题详情 under AppTest, on the hand-built test programme: every role sees the page, only the
workflow buttons it may press, refusals in words, stale edits that keep the typed input,
forms that write through the services, and English labels."""
from __future__ import annotations

import pytest

from audit.messages import t
from audit.model import NotPermitted
from issues import bulk_service
from issues import service as issues
from issues.model import Move
from tests import programme
from tests.conftest import open_page, shown, sign_in

ROLES = ("lead", "rect", "manager", "admin")


@pytest.fixture
def p(tmp_path):
    """Issues: `work` in progress (unit A, responsible 张三 = rect, one measure), `other` in
    unit B (outside rect's and manager's scope), `fresh` not started."""
    prog = programme.build(tmp_path)
    prog.ids = {}
    prog.ids["work"] = prog.new_issue("外包合同先履行后签订", unit="A", aspect="C1.1")
    prog.assign(prog.ids["work"], deadline="2027-03-31")
    prog.measure(prog.ids["work"], deadline="2027-03-31")
    prog.start(prog.ids["work"])
    prog.ids["other"] = prog.new_issue("结算单据审核签字不全", unit="B", aspect="C2.1")
    prog.ids["fresh"] = prog.new_issue("合同变更未履行审批程序", unit="A", aspect="C1.2")
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _open(make_app, p, who: str, issue_id: int | str | None, lang: str | None = None):
    app = make_app(p.path)
    if lang:
        app.query_params["lang"] = lang
    sign_in(app, who, programme.PASSWORD)
    if issue_id is not None:
        app.query_params["id"] = str(issue_id)
    return open_page(app, "issue")


def _moves(app) -> set[str]:
    return {b.key.rsplit(".", 1)[1] for b in app.button if b.key and
            b.key.startswith("issue.move.")}


def _errors(app) -> list[str]:
    return [shown(e.value) for e in app.error]


@pytest.mark.parametrize("who", ROLES)
def test_every_role_sees_an_issue_in_scope_without_an_exception(make_app, p, who):
    app = _open(make_app, p, who, p.ids["work"])
    assert not app.exception
    assert not _errors(app)
    assert "外包合同先履行后签订" in app.title[0].value
    assert len(app.tabs) == 6


@pytest.mark.parametrize("who", ROLES)
def test_buttons_are_exactly_the_allowed_moves(make_app, p, who):
    app = _open(make_app, p, who, p.ids["work"])
    allowed = {m.value for m in issues.allowed_moves(p.db, p.actors[who], p.ids["work"])}
    assert _moves(app) == allowed
    expected = {"lead": {"submit", "end"}, "rect": {"submit"}, "manager": set(),
                "admin": set()}[who]
    assert allowed == expected


def test_rectifier_has_no_lead_actions_and_the_service_refuses_them(make_app, p):
    app = _open(make_app, p, "rect", p.ids["work"])
    keys = {b.key for b in app.button}
    for absent in ("issue.move.end", "issue.move.close", "issue.move.return",
                   "issue.save.edit", "issue.save.assign", "issue.save.extend"):
        assert absent not in keys
    assert "issue.save.progress" in keys and "issue.save.cause" in keys
    rect = p.actors["rect"]
    with pytest.raises(NotPermitted):
        issues.move_issue(p.db, rect, p.ids["work"], Move.END, version=p.version(p.ids["work"]),
                          reason="业务取消", at=p.at("2026-11-20"))
    with pytest.raises(NotPermitted):
        issues.edit_issue(p.db, rect, p.ids["work"], version=p.version(p.ids["work"]),
                          title="改", at=p.at("2026-11-20"))


@pytest.mark.parametrize("who", ("rect", "manager"))
def test_out_of_scope_and_unknown_issues_show_one_message_and_nothing_else(make_app, p, who):
    for target in (p.ids["other"], 99999):
        app = _open(make_app, p, who, target)
        assert not app.exception
        assert _errors(app) == [t("issue.not_visible", "zh")]
        assert not app.tabs and not app.title and not _moves(app)


def test_a_non_numeric_id_is_refused(make_app, p):
    app = _open(make_app, p, "lead", "1;DROP")
    assert _errors(app) == [t("issue.bad_id", "zh")]


def test_without_an_id_the_user_picks_an_issue_in_scope(make_app, p):
    app = _open(make_app, p, "manager", None)
    picker = app.selectbox(key="issue.pick.id")
    assert set(picker.options) == {o for o in picker.options if "结算" not in o}
    assert len(picker.options) == 2
    app.text_input(key="issue.pick.query").input("变更").run()
    picker = app.selectbox(key="issue.pick.id")
    assert len(picker.options) == 1
    picker.set_value(p.ids["fresh"]).run()
    assert "合同变更未履行审批程序" in app.title[0].value


def test_closure_blocked_is_explained_in_words(make_app, p):
    p.submit(p.ids["work"], "2026-11-20")
    app = _open(make_app, p, "lead", p.ids["work"])
    assert _moves(app) == {"close", "return", "end"}
    app.button(key="issue.move.close").click().run()
    message = " ".join(_errors(app))
    assert "三不放过" in message and "问题根源" in message and "责任追究" in message
    assert p.status(p.ids["work"]) == "submitted"


def test_return_needs_a_reason_and_then_goes_through(make_app, p):
    p.submit(p.ids["work"], "2026-11-20")
    app = _open(make_app, p, "lead", p.ids["work"])
    app.button(key="issue.move.return").click().run()
    assert [w.value for w in app.warning if w.value == t("issue.reason_needed", "zh")]
    assert p.status(p.ids["work"]) == "submitted"
    app.text_area(key=f'issue.{p.ids["work"]}.reason').input("佐证材料不全")
    app.button(key="issue.move.return").click().run()
    assert p.status(p.ids["work"]) == "in_progress"
    assert any("整改中" in s.value for s in app.success)


def test_stale_edit_names_who_changed_it_and_keeps_the_typed_text(make_app, p):
    app = _open(make_app, p, "rect", p.ids["work"])
    issues.update_progress(p.db, p.actors["lead"], p.ids["work"],
                           version=p.version(p.ids["work"]), progress="牵头人补充的进展",
                           at=p.at("2026-11-21", 15, 30))
    key = f'issue.{p.ids["work"]}.progress'
    app.text_area(key=key).input("我写的进展：已完成合同补签")
    app.button(key="issue.save.progress").click().run()
    message = " ".join(_errors(app))
    assert "lead" in message and "2026-11-21T15:30" in message
    assert app.text_area(key=key).value == "我写的进展：已完成合同补签"
    assert "issue.reload.progress" in {b.key for b in app.button}
    # Saving again, now from the version on screen, goes through with the kept text.
    app.button(key="issue.save.progress").click().run()
    assert not _errors(app)
    assert p.db.conn.execute("SELECT progress FROM issues WHERE id = ?",
                             (p.ids["work"],)).fetchone()[0] == "我写的进展：已完成合同补签"


def test_reload_after_a_stale_edit_discards_the_typed_text(make_app, p):
    app = _open(make_app, p, "rect", p.ids["work"])
    issues.update_progress(p.db, p.actors["lead"], p.ids["work"],
                           version=p.version(p.ids["work"]), progress="牵头人补充的进展",
                           at=p.at("2026-11-21", 15, 30))
    key = f'issue.{p.ids["work"]}.progress'
    app.text_area(key=key).input("我的草稿")
    app.button(key="issue.save.progress").click().run()
    app.button(key="issue.reload.progress").click().run()
    assert app.text_area(key=key).value == "牵头人补充的进展"


def test_rectifier_records_cause_accountability_evidence_and_submits(make_app, p):
    iid = p.ids["work"]
    mid = p.db.conn.execute("SELECT id FROM measures WHERE issue_id = ?", (iid,)).fetchone()[0]
    app = _open(make_app, p, "rect", iid)
    app.radio(key=f"issue.{iid}.cause.mode").set_value("new")
    app.text_input(key=f"issue.{iid}.cause.title").input("合同审核流程缺失")
    app.button(key="issue.save.cause").click().run()
    assert not _errors(app)
    app.radio(key=f"issue.{iid}.acc.mode").set_value("na")
    app.text_area(key=f"issue.{iid}.acc.reason").input("制度缺陷所致")
    app.button(key="issue.save.acc").click().run()
    app.file_uploader[0].set_value(
        ("佐证.pdf", programme.PDF, "application/pdf"))
    app.selectbox(key=f"issue.{iid}.upload.measure").set_value(mid)
    app.button(key="issue.save.upload").click().run()
    assert any("佐证.pdf" in shown(s.value) for s in app.success), _errors(app)
    app.selectbox(key=f"issue.m{mid}.status").set_value("done")
    app.button(key=f"issue.m{mid}.save.status").click().run()
    assert not _errors(app)
    assert any("三不放过" in shown(s.value) for s in app.success)
    app.button(key="issue.move.submit").click().run()
    assert p.status(iid) == "submitted"
    # The uploaded file can be downloaded, through a link that ends with the session.
    assert any(b.proto.url.startswith("download/") for b in app.get("link_button"))
    assert app.file_uploader[0].key == f"issue.{iid}.upload.file.1"  # a fresh, empty uploader
    names = p.db.conn.execute("SELECT filename FROM evidence WHERE issue_id = ?",
                              (iid,)).fetchall()
    assert names == [("佐证.pdf",)]


def test_a_refused_upload_is_explained_and_nothing_is_stored(make_app, p):
    iid = p.ids["work"]
    app = _open(make_app, p, "rect", iid)
    app.file_uploader[0].set_value(
        ("假的.pdf", b"MZ not a pdf", "application/pdf"))
    app.button(key="issue.save.upload").click().run()
    assert any(t("issue.upload.content", "zh") in e for e in _errors(app))
    assert p.db.conn.execute("SELECT COUNT(*) FROM evidence").fetchone()[0] == 0


def test_incomplete_forms_are_refused_before_the_service(make_app, p):
    iid = p.ids["work"]
    app = _open(make_app, p, "rect", iid)
    app.radio(key=f"issue.{iid}.acc.mode").set_value("na")
    app.button(key="issue.save.acc").click().run()
    assert t("issue.acc_needed_reason", "zh") in [w.value for w in app.warning]
    assert p.db.conn.execute("SELECT COUNT(*) FROM accountability").fetchone()[0] == 0


def test_lead_assigns_and_starts_a_fresh_issue(make_app, p):
    iid = p.ids["fresh"]
    app = _open(make_app, p, "lead", iid)
    # 四个到人 is not met: no 启动整改 button, but what is missing, before anything is pressed.
    assert _moves(app) == {"end"}
    said = " ".join(w.value for w in app.warning)
    assert "启动整改前，四个到人还缺" in said and "整改责任人" in said
    app.selectbox(key=f"issue.{iid}.assign.responsible").set_value(p.people["rect_a"])
    app.date_input(key=f"issue.{iid}.assign.deadline").set_value("2027-01-31")
    app.button(key="issue.save.assign").click().run()
    app.text_area(key=f"issue.{iid}.measure.title").input("补办审批手续")
    app.selectbox(key=f"issue.{iid}.measure.owner").set_value(p.people["owner_a"])
    app.date_input(key=f"issue.{iid}.measure.deadline").set_value("2027-01-15")
    app.button(key="issue.save.add_measure").click().run()
    assert not _errors(app)
    app.button(key="issue.move.start").click().run()
    assert p.status(iid) == "in_progress", _errors(app)


def test_an_assigned_deadline_before_a_planned_measure_is_warned_then_accepted(make_app, p):
    """Deadlines that fit from the issue: a measure planned to June, then the issue assigned a
    March deadline: warned, nothing written; with the lead's reason, set and recorded."""
    iid = p.ids["fresh"]
    p.measure(iid, deadline="2027-06-30", title="系统改造")
    app = _open(make_app, p, "lead", iid)
    app.selectbox(key=f"issue.{iid}.assign.responsible").set_value(p.people["rect_a"])
    app.date_input(key=f"issue.{iid}.assign.deadline").set_value("2027-03-31")
    app.button(key="issue.save.assign").click().run()
    assert not app.exception
    said = " ".join(shown(w.value) for w in app.warning)
    assert "问题整改时限 2027-03-31 早于其 1 项措施的完成时限（最晚 2027-06-30）" in said
    assert p.db.conn.execute("SELECT deadline FROM issues WHERE id = ?",
                             (iid,)).fetchone()[0] is None
    app.text_input(key=f"issue.rules.{iid}.accept").input("领导小组要求一季度完成")
    app.button(key="issue.save.assign").click().run()
    assert not app.exception and not _errors(app)
    assert p.db.conn.execute("SELECT deadline FROM issues WHERE id = ?",
                             (iid,)).fetchone()[0] == "2027-03-31"
    assert p.db.conn.execute("SELECT rule, reason FROM rule_acceptances").fetchall() == [
        ("deadline_fit", "领导小组要求一季度完成")]


def test_a_staged_items_milestone_is_added_shown_red_when_late_and_completed(make_app, p):
    """分阶段整改 on the issue page: a milestone added a month back is red (late by more than
    five working days), then marked done with its evidence: no colour left."""
    from datetime import timedelta

    from audit import time_model
    iid = p.ids["fresh"]
    issues.edit_issue(p.db, p.actors["lead"], iid, version=p.version(iid),
                      rectification_type="staged", at=p.at("2026-01-06"))
    today = time_model.today()
    due = today - timedelta(days=30)
    app = _open(make_app, p, "lead", iid)
    app.date_input(key=f"issue.rules.{iid}.milestone.due").set_value(due)
    app.text_input(key=f"issue.rules.{iid}.milestone.what").input("完成合同清查")
    app.button(key=f"issue.rules.{iid}.milestone.save").click().run()
    assert not app.exception and not _errors(app)

    def shown_milestones():
        frame = next(f.value for f in app.dataframe if "成果" in getattr(f.value, "columns", ()))
        return [tuple(r) for r in frame[["日期", "成果", "完成日期", "佐证", "预警"]].values]

    assert shown_milestones() == [(due.isoformat(), "完成合同清查", "", "", "红灯（逾期）")]
    app.text_input(key=f"issue.rules.{iid}.done.evidence").input("清查报告（办发〔2026〕3号）")
    app.button(key=f"issue.rules.{iid}.done.save").click().run()
    assert not app.exception and not _errors(app)
    assert shown_milestones() == [(due.isoformat(), "完成合同清查", today.isoformat(),
                                   "清查报告（办发〔2026〕3号）", "")]


def test_user_text_is_escaped_not_rendered(make_app, p):
    iid = p.new_issue("**粗体** <b>标签</b> :red[红]", unit="A")
    app = _open(make_app, p, "lead", iid)
    title = app.title[0].value
    assert "\\*\\*粗体\\*\\*" in title and "\\<b\\>" in title and "\\:red\\[" in title


def test_history_is_newest_first(make_app, p):
    app = _open(make_app, p, "lead", p.ids["work"])
    history = app.dataframe[-1].value
    stamps = list(history.iloc[:, 0])
    assert stamps == sorted(stamps, reverse=True) and len(stamps) > 5


def test_english_labels(make_app, p):
    app = _open(make_app, p, "rect", p.ids["work"], lang="en")
    assert [tab.label for tab in app.tabs][0] == "Overview"
    assert {b.label for b in app.button if b.key == "issue.move.submit"} == \
        {t("move.submit", "en")}
    assert any(t("issue.closure", "en") in w.value for w in app.warning)


def test_manager_reads_everything_and_is_offered_no_change(make_app, p):
    app = _open(make_app, p, "manager", p.ids["work"])
    assert not [b.key for b in app.button if b.key and b.key.startswith("issue.")]
    assert not app.file_uploader and len(app.tabs) == 6


def test_submitted_issue_offers_no_measure_forms(make_app, p):
    p.submit(p.ids["work"], "2026-11-20")
    app = _open(make_app, p, "rect", p.ids["work"])
    keys = {b.key for b in app.button}
    assert not any(k and (".save.status" in k or k == "issue.save.add_measure") for k in keys)
    assert _moves(app) == set()


def test_bulk_created_issue_history_names_the_fields_of_its_row_record(make_app, p):
    """An imported issue's creation is one history record holding the whole row: the history
    tab labels that record and the fields inside it instead of showing '*' and raw JSON."""
    at = p.at("2026-11-20", 9)
    [iid] = bulk_service.create_issues_bulk(p.db, p.actors["lead"], [bulk_service.NewIssue(
        aspect_id=p.aspects["C1.1"], unit_id=p.units["A"], title="导入的问题",
        description="台账第5行")], at=at)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    history = _open(make_app, p, "lead", iid).dataframe[-1].value
    fields = list(history.iloc[:, 3])
    assert t("field.*", "zh") in fields and "*" not in fields
    row_value = history.iloc[fields.index(t("field.*", "zh")), 5]
    assert f'{t("field.title", "zh")}: 导入的问题' in row_value
    assert f'{t("field.description", "zh")}: 台账第5行' in row_value


def test_two_leads_editing_one_issue_across_reruns_never_lose_the_first_save(make_app, p):
    """Lead 1 opens the progress form; lead 2 saves a progress note; lead 1's page reruns (any
    click) and then lead 1 saves what was typed: refused, naming lead 2, the typed text kept,
    lead 2's note still stored. (The version a save carries is the one the form was filled
    from, not the one of the last rerun.)"""
    key = f'issue.{p.ids["work"]}.progress'
    first = _open(make_app, p, "lead", p.ids["work"])
    second = _open(make_app, p, "lead2", p.ids["work"])
    second.text_area(key=key).input("第二位牵头人的进展")
    second.button(key="issue.save.progress").click().run()
    assert not _errors(second)
    first.run()                                   # a rerun after the other save
    assert "form.changed_meanwhile" not in " ".join(i.value for i in first.info)
    assert any(t("form.changed_meanwhile", "zh") == i.value for i in first.info)
    first.text_area(key=key).input("第一位牵头人的进展")
    first.button(key="issue.save.progress").click().run()
    message = " ".join(_errors(first))
    assert "lead2" in message
    assert first.text_area(key=key).value == "第一位牵头人的进展"
    stored = p.db.conn.execute("SELECT progress FROM issues WHERE id = ?",
                               (p.ids["work"],)).fetchone()[0]
    assert stored == "第二位牵头人的进展"
    history = [r[0] for r in p.db.conn.execute(
        "SELECT new FROM history WHERE entity = 'issue' AND entity_id = ? AND field = "
        "'progress' ORDER BY seq", (p.ids["work"],))]
    assert history[-1] == "第二位牵头人的进展"


def test_the_history_tab_names_every_field_in_the_pages_language(make_app, demo_path, tmp_path):
    """Every field 变更记录 lists is named in the page's language, never by its column name
    (depends_on, uploaded_at, closed_by…): on the fewest demo issues whose timelines hold every
    kind of field the demo records, in Chinese and in English."""
    import re

    from audit.store.db import open_database
    from issues import store
    from tests.conftest import copy_database
    path = copy_database(demo_path, tmp_path / "demo.db")
    db = open_database(path)
    ids = [i for (i,) in db.conn.execute("SELECT id FROM issues WHERE merged_into_id IS NULL")]
    fields = {i: {h["field"] for h in store.issue_timeline(db, i)} for i in ids}
    # and every column a change of these rows may record (ids and versions are never shown)
    columns = {c for table in ("issues", "measures", "evidence", "accountability", "extensions")
               for (_, c, *_) in db.conn.execute(f"PRAGMA table_info({table})")}
    db.conn.close()
    from audit.messages_en import TEXTS as EN
    from audit.messages_zh import TEXTS as ZH
    assert [c for c in sorted(columns - {"id", "version"})
            if f"field.{c}" not in ZH or f"field.{c}" not in EN] == []
    recorded = set().union(*fields.values())
    assert {"depends_on", "uploaded_at", "closed_by", "not_applicable"} <= recorded
    chosen, covered = [], set()
    while covered != recorded:
        best = max(ids, key=lambda i: len(fields[i] - covered))
        chosen.append(best)
        covered |= fields[best]
    for lang in ("zh", "en"):
        for iid in chosen:
            app = make_app(path)
            app.query_params["lang"] = lang
            sign_in(app, "lead", "demo1234")
            app.query_params["id"] = str(iid)
            history = open_page(app, "issue").dataframe[-1].value
            assert history.columns[3] == t("issue.col.field", lang)
            named = set(history.iloc[:, 3])
            assert not named & recorded, (iid, lang, sorted(named & recorded))
            if lang == "zh":     # no column name in Latin letters on a Chinese screen
                assert not [n for n in named if re.fullmatch(r"[a-z_.]+", n)], (iid, named)
