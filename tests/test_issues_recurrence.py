"""Findings that come back (屡审屡犯, 共性问题): importing a newer audit's ledger matches each new
finding against the earlier items and flags the strongest as a possible recurrence (struck-off
items, or findings of an earlier year's audit; never every pair), a person confirms or rejects
the flag, and the flags are counted and filtered per issue."""
from __future__ import annotations

from datetime import date

import pytest

from audit.model import NotPermitted, TransitionNotAllowed
from audit.store import live_check
from audit.store.db import rows as db_rows
from issues import catalogue_views, recurrence_model, recurrence_service, recurrence_views
from tests.ledger_factory import table, xlsx_bytes
from tests.test_issues_importer import do_import, prog  # noqa: F401 (fixture)

HEADER = ["序号", "问题编号", "问题类别", "问题方面", "问题摘要", "问题描述", "责任单位",
          "责任人", "整改措施", "整改时限", "整改状态", "审计项目", "审计年度"]


def finding(n: int, title: str, year: int, code: str | None = None) -> list:
    values = {"序号": n, "问题编号": code or f"C1.1.{n}", "问题类别": "外包合同管理",
              "问题方面": "合同签订", "问题摘要": title, "问题描述": title,
              "责任单位": "甲市分公司", "责任人": "张三",
              "整改措施": "1. 完成整改（责任人：张三；时限：2026-12-31）",
              "整改时限": "2026-12-31", "整改状态": "整改中",
              "审计项目": "外包专项审计", "审计年度": year}
    return [values[h] for h in HEADER]


def ids(p) -> dict[str, int]:
    return {t: i for i, t in p.db.conn.execute("SELECT id, title FROM issues")}


def test_a_newer_audits_reworded_finding_is_flagged_as_a_possible_recurrence(prog):
    p = prog
    do_import(p, xlsx_bytes(table(finding(1, "外包人员共用系统账号", 2024),
                                  finding(2, "外包合同未经法律审核即签订", 2024),
                                  header=HEADER)), at=p.at("2026-03-02"))
    first = ids(p)
    flags = recurrence_views.issue_flags(p.db, list(first.values()))
    assert not any(f["recurrence_pending"] for f in flags.values())   # nothing earlier yet
    do_import(p, xlsx_bytes(table(finding(3, "外包人员混用系统账号", 2025, "C1.1.3"),
                                  finding(4, "外包车辆未纳入监控平台管理", 2025, "C1.1.4"),
                                  header=HEADER)), at=p.at("2026-09-01"))
    now = ids(p)
    rows = {r["id"]: r for r in db_rows(
        p.db, "SELECT id, recurrence_status, recurrence_of_id, recurrence_score FROM issues")}
    flagged = rows[now["外包人员混用系统账号"]]
    assert flagged["recurrence_status"] == "pending"
    assert flagged["recurrence_of_id"] == first["外包人员共用系统账号"]
    assert flagged["recurrence_score"] >= 0.6
    assert rows[now["外包车辆未纳入监控平台管理"]]["recurrence_status"] is None
    lead = p.actors["lead"]
    [pending] = recurrence_views.pending_recurrences(p.db, lead)
    assert pending["earlier_title"] == "外包人员共用系统账号"
    assert recurrence_views.flag_counts(p.db, lead, date(2026, 9, 1))["recurrence_pending"] == 1
    found = catalogue_views.search_issues(p.db, lead, as_of=date(2026, 9, 1),
                                          flag="recurrence_pending")
    assert [r["title"] for r in found] == ["外包人员混用系统账号"]
    check = live_check.check_live_tables(p.db)
    assert check.ok, [m.describe() for m in check.examples]


def test_a_person_confirms_or_rejects_a_flag_and_only_a_lead_may(prog):
    p = prog
    do_import(p, xlsx_bytes(table(finding(1, "外包人员共用系统账号", 2024),
                                  finding(2, "外包合同未经法律审核即签订", 2024),
                                  header=HEADER)), at=p.at("2026-03-02"))
    do_import(p, xlsx_bytes(table(finding(3, "外包人员混用系统账号", 2025, "C1.1.3"),
                                  finding(4, "部分外包合同签订前未经法律部门审查", 2025, "C1.1.4"),
                                  header=HEADER)), at=p.at("2026-09-01"))
    now = ids(p)
    a, b = now["外包人员混用系统账号"], now["部分外包合同签订前未经法律部门审查"]
    version = lambda i: p.version(i)  # noqa: E731
    with pytest.raises(NotPermitted):
        recurrence_service.decide_recurrence(p.db, p.actors["rect"], a, version=version(a),
                                             decision="confirmed", at=p.at("2026-09-02"))
    recurrence_service.decide_recurrence(p.db, p.actors["lead"], a, version=version(a),
                                         decision="confirmed", at=p.at("2026-09-02"))
    recurrence_service.decide_recurrence(p.db, p.actors["lead"], b, version=version(b),
                                         decision="rejected", at=p.at("2026-09-02"))
    with pytest.raises(TransitionNotAllowed):
        recurrence_service.decide_recurrence(p.db, p.actors["lead"], b, version=version(b),
                                             decision="confirmed", at=p.at("2026-09-03"))
    flags = recurrence_views.issue_flags(p.db, [a, b])
    assert flags[a]["recurring"] and not flags[b]["recurring"]
    found = catalogue_views.search_issues(p.db, p.actors["lead"], as_of=date(2026, 9, 3),
                                          flag="recurring")
    assert [r["id"] for r in found] == [a]
    assert [tuple(r) for r in p.db.conn.execute(
        "SELECT action, new FROM history WHERE entity = 'issue' AND entity_id = ? AND "
        "field = 'recurrence_status' ORDER BY seq", (a,))] == [
        ("recurrence.flag", "pending"), ("recurrence.confirmed", "confirmed")]


def test_the_import_says_which_new_findings_it_flagged(prog, tmp_path, capsys):
    """The result names the flags (for the page's message and the command line), so that the
    lead knows there is something to confirm on the 验收 page."""
    from audit.__main__ import main
    p = prog
    do_import(p, xlsx_bytes(table(finding(1, "外包人员共用系统账号", 2024), header=HEADER)),
              at=p.at("2026-03-02"))
    result = do_import(p, xlsx_bytes(table(finding(3, "外包人员混用系统账号", 2025, "C1.1.3"),
                                           header=HEADER)), at=p.at("2026-09-01"))
    now = ids(p)
    [(new, (earlier, score))] = result.recurrences.items()
    assert (new, earlier) == (now["外包人员混用系统账号"], now["外包人员共用系统账号"])
    assert score >= 0.6
    path = tmp_path / "2026.xlsx"
    path.write_bytes(xlsx_bytes(table(finding(4, "外包人员共享系统账号和密码", 2026, "C1.1.4"),
                                      header=HEADER)))
    assert main(["import", str(path), "--db", str(p.path), "--as-user", "lead"]) == 0
    code = p.db.conn.execute("SELECT code, recurrence_of_id FROM issues WHERE title = ?",
                             ("外包人员共享系统账号和密码",)).fetchone()
    earlier_code = p.db.conn.execute("SELECT code FROM issues WHERE id = ?",
                                     (code[1],)).fetchone()[0]
    assert (f"possible recurrence to confirm (验收): {code[0]} repeats {earlier_code}"
            in capsys.readouterr().out)


def test_a_finding_of_the_same_year_as_an_open_item_is_a_duplicate_not_a_recurrence():
    open_same_year = recurrence_model.Earlier(1, "in_progress", (2025,))
    assert not recurrence_model.may_recur((2025,), open_same_year)
    assert recurrence_model.may_recur((2026,), open_same_year)
    assert recurrence_model.may_recur((2025,), recurrence_model.Earlier(2, "closed", (2025,)))
    assert recurrence_model.best_matches([(10, 1, 0.7), (10, 2, 0.9), (2, 11, 0.8)], [10, 11], {
        1: recurrence_model.Earlier(1, "closed", ()), 2: open_same_year},
        {10: (2025,), 11: (2026,)}) == {10: (1, 0.7), 11: (2, 0.8)}


def test_candidates_are_bounded_per_new_finding():
    earlier = [[7, 8, -1]] * 100 + [[9, -1, -1]]
    pairs = recurrence_model.candidates([[7, 9, -1]], earlier, limit=5)
    assert pairs[:5] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)] and len(pairs) == 5
    assert recurrence_model.candidates([[7]], earlier, common=50) == []


def test_the_dashboards_flag_thresholds_are_the_cause_analysis_ones():
    from audit import flags_views
    from issues import graph_model
    assert flags_views.RECURRING_MIN_YEARS == graph_model.RECURRING_MIN_YEARS
    assert flags_views.RECURRING_MIN_UNITS == graph_model.RECURRING_MIN_UNITS


def test_the_cause_flags_in_the_catalogue_agree_with_the_cause_ranking(demo_path):
    from audit.demo import demo_actor
    from audit.store.db import open_database
    from audit.views import scope_for
    from issues import graph_views
    from tests.conftest import AS_OF
    db = open_database(demo_path)
    lead = demo_actor(db, "lead")
    ranking = graph_views.cause_ranking(db, scope_for(db, lead), AS_OF)
    for flag, key in (("cause_recurring", "recurring"), ("cause_common", "common")):
        expected = {i for r in ranking if r[key] for i in r["issue_ids"]}
        found = {r["id"] for r in catalogue_views.search_issues(db, lead, as_of=AS_OF,
                                                                 flag=flag)}
        assert found == expected and found, flag
    db.conn.close()
