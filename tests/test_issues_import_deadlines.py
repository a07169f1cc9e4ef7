"""Deadlines that fit on a ledger import (docs/RULES.md): a measure the ledger gives a deadline
after its issue's, on a new issue (registered in bulk) or on an existing one (a measure added,
or the issue's deadline set earlier than its measures), is listed in the plan before anything is
written, and applying records each as a warning accepted with its ledger row as the reason."""
from __future__ import annotations

import pytest

from audit.__main__ import main
from audit.store import history
from audit.store.live_check import check_live_tables
from issues.import_service import apply_import, plan_import
from tests.ledger_factory import read_ledger, table, xlsx_bytes
from tests.test_issues_importer import ledger_row, prog  # noqa: F401 (fixture)

AT = "2026-03-02T10:00:00+08:00"
LATER = "2026-03-09T10:00:00+08:00"


def plan_of(p, data: bytes, filename: str):
    return plan_import(p.db, p.actors["lead"], read_ledger(data, filename), None,
                       filename=filename)


def acceptances(p) -> list[tuple]:
    return [tuple(r) for r in p.db.conn.execute(
        "SELECT rule, issue_id, measure_id, reason FROM rule_acceptances ORDER BY id")]


def ids(p) -> dict[str, int]:
    return {code: i for i, code in p.db.conn.execute("SELECT id, code FROM issues")}


def measure_id(p, title: str) -> int:
    return p.db.conn.execute("SELECT id FROM measures WHERE title = ?", (title,)).fetchone()[0]


def test_a_new_issues_measure_due_after_its_deadline_is_listed_then_recorded(prog):
    p = prog
    data = xlsx_bytes(table(
        ledger_row(1, 整改时限="2026-06-30",
                   整改措施="1. 清查合同（责任人：张三；时限：2026-05-31）\n"
                            "2. 系统改造（责任人：张三；时限：2026-09-30）"),
        ledger_row(2, 整改时限="2026-06-30",
                   整改措施="1. 补签合同（责任人：张三；时限：2026-06-30）")))
    plan = plan_of(p, data, "甲市台账.xlsx")
    # Only the measure past its issue's deadline; the one due on the deadline fits.
    assert plan.deadline_misfits() == [(2, "C1.1.1", "系统改造", "2026-09-30", "2026-06-30")]
    assert acceptances(p) == []                  # planning writes nothing
    apply_import(p.db, p.actors["lead"], plan, AT)
    assert acceptances(p) == [("deadline_fit", ids(p)["C1.1.1"], measure_id(p, "系统改造"),
                               "台账导入 甲市台账.xlsx 第2行")]
    assert check_live_tables(p.db).ok and history.verify(p.db).ok


def test_an_existing_issue_set_earlier_than_its_measures_or_given_a_late_one_is_listed(prog):
    p = prog
    first = xlsx_bytes(table(
        ledger_row(1, 整改状态="未启动", 整改时限="2026-12-31",
                   整改措施="1. 系统改造（责任人：张三；时限：2026-09-30）"),
        ledger_row(2, 整改状态="未启动", 整改时限="2026-12-31",
                   整改措施="1. 制度修订（责任人：张三；时限：2026-10-31）")))
    apply_import(p.db, p.actors["lead"], plan_of(p, first, "一月.xlsx"), AT)
    assert acceptances(p) == []
    # Row 2: the issue's deadline moves before its measure; row 3: a late measure is added.
    second = xlsx_bytes(table(
        ledger_row(1, 整改状态="未启动", 整改时限="2026-06-30",
                   整改措施="1. 系统改造（责任人：张三；时限：2026-09-30）"),
        ledger_row(2, 整改状态="未启动", 整改时限="2026-12-31",
                   整改措施="1. 制度修订（责任人：张三；时限：2026-10-31）\n"
                            "2. 培训考核（责任人：张三；时限：2027-01-31）")))
    plan = plan_of(p, second, "三月.xlsx")
    assert plan.deadline_misfits() == [
        (2, "C1.1.1", "系统改造", "2026-09-30", "2026-06-30"),
        (3, "C1.1.2", "培训考核", "2027-01-31", "2026-12-31")]
    apply_import(p.db, p.actors["lead"], plan, LATER)
    code = ids(p)
    assert acceptances(p) == [
        ("deadline_fit", code["C1.1.1"], None, "台账导入 三月.xlsx 第2行"),
        ("deadline_fit", code["C1.1.2"], measure_id(p, "培训考核"), "台账导入 三月.xlsx 第3行")]
    assert p.db.conn.execute("SELECT deadline FROM issues WHERE id = ?",
                             (code["C1.1.1"],)).fetchone()[0] == "2026-06-30"
    assert check_live_tables(p.db).ok and history.verify(p.db).ok


def test_the_dry_run_names_the_row_and_the_dates(prog, tmp_path, capsys):
    p = prog
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(xlsx_bytes(table(ledger_row(
        1, 整改时限="2026-06-30", 整改措施="1. 系统改造（责任人：张三；时限：2026-09-30）"))))
    code = main(["import", str(path), "--db", str(p.path), "--as-user", "lead", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert ("warning: row 2 C1.1.1: measure '系统改造' is due 2026-09-30, after the issue's "
            "deadline 2026-06-30") in out
    assert acceptances(p) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_import_page_warns_of_the_late_measure_before_importing(demo_path, tmp_path,
                                                                     make_app, lang):
    import sqlite3

    from audit.messages import t
    from tests.conftest import copy_database, open_page, sign_in
    from tests.ledger_factory import HEADER, row
    path = copy_database(demo_path, tmp_path / "demo.db")
    app = make_app(path)
    app.query_params["lang"] = lang
    app = open_page(sign_in(app, "lead", "demo1234"), "import")
    data = xlsx_bytes(table(row(1, 问题编号="", 问题类别="外包合同管理", 问题方面="合同签订",
                                责任单位="包头市分公司", 问题描述="外包人员未签保密协议。说明",
                                整改时限="2027-03-31",
                                整改措施="1. 补签保密协议（责任人：张三；时限：2027-05-31）"),
                            header=HEADER))
    app.file_uploader(key="issues.import.file.0").set_value(
        ("台账.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    app.run()
    assert not app.exception, app.exception
    assert t("imp.deadline_misfits", lang, n=1) in [w.value for w in app.warning]
    shown = app.dataframe[-1].value
    assert list(shown[t("imp.col.measure_deadline", lang)]) == ["2027-05-31"]
    assert list(shown[t("imp.col.issue_deadline", lang)]) == ["2027-03-31"]
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT COUNT(*) FROM rule_acceptances WHERE reason LIKE '台账导入%'"
                         ).fetchone()[0] == 0
