"""Findings that come back as of a chosen date (audit.flags_views, issues.recurrence_views) and
as badges in 问题台账 (issues.catalogue_views, catalogue_page): 屡审屡犯 from the second audit
year linked on 03-02, 共性问题 from the merge on 04-01, a possible recurrence flagged on 05-04
and confirmed on 05-11. Each date before, on and after, on the hand-built programme."""
from __future__ import annotations

from datetime import date

import pytest

from audit.messages import t
from issues import catalogue_views, merge_service, recurrence_service, recurrence_views
from issues import service as issues
from tests import programme
from tests.conftest import open_page, sign_in

D = date.fromisoformat


@pytest.fixture
def p(tmp_path):
    """x (A, audit 2025; audit 2024 added on 03-02), y (A) absorbing z (B) on 04-01, w (A)
    flagged on 05-04 as a possible recurrence of x, confirmed on 05-11."""
    prog = programme.build(tmp_path)
    lead = prog.actors["lead"]
    ids = prog.ids = {}
    ids["x"] = prog.new_issue("合同未经法律审核", unit="A")
    ids["y"] = prog.new_issue("外包人员共用系统账号", unit="A", aspect="C1.2")
    ids["z"] = prog.new_issue("外包人员混用系统账号", unit="B", aspect="C1.2")
    ids["w"] = prog.new_issue("考核扣罚未执行", unit="A", aspect="C2.1")
    issues.edit_issue(prog.db, lead, ids["x"], version=prog.version(ids["x"]),
                      sources=[prog.audits["AUD2025"], prog.audits["AUD2024"]],
                      at=prog.at("2026-03-02"))
    merge_service.merge_issues(prog.db, lead, ids["y"], ids["z"],
                               survivor_version=prog.version(ids["y"]),
                               absorbed_version=prog.version(ids["z"]), at=prog.at("2026-04-01"))
    recurrence_service.flag_recurrence(prog.db, lead, ids["w"], earlier_id=ids["x"],
                                       version=prog.version(ids["w"]), at=prog.at("2026-05-04"))
    recurrence_service.decide_recurrence(prog.db, lead, ids["w"], version=prog.version(ids["w"]),
                                         decision="confirmed", at=prog.at("2026-05-11"))
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def counts(p, day: str) -> dict:
    c = recurrence_views.flag_counts(p.db, p.actors["lead"], D(day))
    return {k: c[k] for k in ("recurring", "common", "recurrence_pending")}


def test_flag_counts_answer_as_of_each_date(p):
    assert counts(p, "2026-02-27") == {"recurring": 0, "common": 0, "recurrence_pending": 0}
    assert counts(p, "2026-03-02") == {"recurring": 1, "common": 0, "recurrence_pending": 0}
    assert counts(p, "2026-04-01") == {"recurring": 1, "common": 1, "recurrence_pending": 0}
    assert counts(p, "2026-05-06") == {"recurring": 1, "common": 1, "recurrence_pending": 1}
    assert counts(p, "2026-05-11") == {"recurring": 2, "common": 1, "recurrence_pending": 0}
    today = counts(p, "2026-12-01")
    assert today == counts(p, "2026-05-11")


def test_issue_flags_as_of_a_date_and_now(p):
    x, y, w = p.ids["x"], p.ids["y"], p.ids["w"]
    before = recurrence_views.issue_flags(p.db, [x, y, w], D("2026-02-27"))
    assert not any(f[k] for f in before.values() for k in ("recurring", "common",
                                                               "recurrence_pending"))
    mid = recurrence_views.issue_flags(p.db, [x, y, w], D("2026-05-06"))
    assert [recurrence_views.badges(mid[i]) for i in (x, y, w)] == [
        ["recurring"], ["common"], ["recurrence_pending"]]
    now = recurrence_views.issue_flags(p.db, [x, y, w])
    assert [recurrence_views.badges(now[i]) for i in (x, y, w)] == [
        ["recurring"], ["common"], ["recurring"]]
    # An issue created after the date is not there yet.
    later = p.new_issue("新问题", day="2026-06-01")
    assert later not in recurrence_views.issue_flags(p.db, [later], D("2026-05-06"))


def test_the_catalogue_badges_counts_and_filter_follow_the_date(p):
    lead = p.actors["lead"]
    found = catalogue_views.search_summary(p.db, lead, as_of=D("2026-05-06"), shown=50)
    assert found.flags == {"recurring": 1, "common": 1, "recurrence_pending": 1, "reopened": 0}
    assert found.badges == {p.ids["x"]: ["recurring"], p.ids["y"]: ["common"],
                            p.ids["w"]: ["recurrence_pending"]}
    early = catalogue_views.search_summary(p.db, lead, as_of=D("2026-02-27"), shown=50)
    assert early.badges == {} and not any(early.flags.values())

    def flagged(flag: str, day: str) -> list[int]:
        return [r["id"] for r in catalogue_views.search_issues(p.db, lead, as_of=D(day),
                                                               flag=flag)]
    assert flagged("recurring", "2026-05-06") == [p.ids["x"]]
    assert flagged("recurring", "2026-05-11") == [p.ids["x"], p.ids["w"]]
    assert flagged("common", "2026-03-31") == []
    assert flagged("common", "2026-04-01") == [p.ids["y"]]
    assert flagged("recurrence_pending", "2026-05-06") == [p.ids["w"]]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_list_shows_each_issues_badges_and_the_counts(make_app, p, lang):
    app = make_app(p.path)
    app.query_params["lang"] = lang
    sign_in(app, "lead", programme.PASSWORD)
    app = open_page(app, "catalogue")
    assert not app.exception and not app.error
    frame = app.dataframe[-1].value
    col = t("catalogue.col.flags", lang)
    codes = [url.rsplit("code=", 1)[1] for url in frame.iloc[:, 0]]
    got = dict(zip(codes, frame[col]))
    code = dict(p.db.conn.execute("SELECT id, code FROM issues"))
    assert list(got[code[p.ids["x"]]]) == ["recurring"]
    assert list(got[code[p.ids["y"]]]) == ["common"]
    assert list(got[code[p.ids["w"]]]) == ["recurring"]
    caption = next(c.value for c in app.caption
                   if c.value.startswith(t("catalogue.flag_counts", lang, items="")))
    assert f"{t('flag.recurring', lang)} 2" in caption
    assert f"{t('flag.common', lang)} 1" in caption


def test_a_causes_flags_follow_the_date_the_cause_was_recorded(p):
    lead = p.actors["lead"]
    b = p.new_issue("结算单据审核签字不全", unit="B", aspect="C2.1", sources=("AUD2024",))
    cause = issues.create_cause(p.db, lead, title="外包管理制度缺失", at=p.at("2026-06-01"))
    issues.record_root_cause(p.db, lead, p.ids["w"], cause_id=cause, at=p.at("2026-06-01"))
    issues.record_root_cause(p.db, lead, b, cause_id=cause, at=p.at("2026-06-10"))

    def flagged(flag: str, day: str) -> list[int]:
        return sorted(r["id"] for r in catalogue_views.search_issues(
            p.db, lead, as_of=D(day), flag=flag))
    # w (A, 2025) alone until 06-10; then w and b (B, 2024): two units, two audit years.
    for flag in ("cause_common", "cause_recurring"):
        assert flagged(flag, "2026-06-05") == []
        assert flagged(flag, "2026-06-10") == sorted([p.ids["w"], b])
