"""The cap on staged + continuous items over a whole ledger import (docs/RULES.md): the share
after all the import's new issues and type changes, warned in the plan with its figures, checked
again in the write transaction against the rows as they are, and gone past only with the lead's
reason (recorded as for one issue); without it nothing is written. At the exact boundary."""
from __future__ import annotations

import pytest

from audit.__main__ import main
from audit.rules_model import ImportCapExceeded
from issues import import_model as importer
from issues import service as issues
from issues.import_service import apply_import, plan_import
from tests.ledger_factory import HEADER, read_ledger, row, table, xlsx_bytes
from tests.programme import build

AT = "2026-03-02T10:00:00+08:00"
TYPE_WORDS = {"immediate": "立行立改", "staged": "分阶段整改", "continuous": "持续整改"}


@pytest.fixture
def p(tmp_path):
    return build(tmp_path)


def existing(p, rtype: str, n: int) -> int:
    return issues.create_issue(p.db, p.actors["lead"], aspect_id=p.aspects["C1.1"],
                               title=f"既有问题{n}", unit_id=p.units["A"], code=f"C1.1.{n}",
                               rectification_type=rtype, accept_reason="既有",
                               at=p.at("2026-01-05", 9, n))


def ledger(*rows: tuple[int, str]) -> bytes:
    """A ledger of rows (序号/code number, rectification type) in unit 甲市分公司."""
    return xlsx_bytes(table(*[row(n, 问题类别="外包合同管理", 问题方面="合同签订",
                                  责任单位="甲市分公司", 问题描述=f"导入问题第{n}项。说明")
                              + [TYPE_WORDS[t]] for n, t in rows],
                            header=[*HEADER, "整改类型"]))


def plan(p, data: bytes, filename: str = "ledger.xlsx"):
    parsed = read_ledger(data, filename)
    out = plan_import(p.db, p.actors["lead"], parsed, "audit", filename=filename)
    if out.unresolved():
        out = plan_import(p.db, p.actors["lead"], parsed, "audit", filename=filename,
                          resolutions={q.key: importer.NEW for q in out.unresolved()})
    assert not out.unresolved()
    return out


def count(p, sql: str) -> int:
    return p.db.conn.execute(sql).fetchone()[0]


def long_items(p) -> tuple[int, int]:
    return (count(p, "SELECT COUNT(*) FROM issues WHERE rectification_type IN "
                     "('staged', 'continuous')"), count(p, "SELECT COUNT(*) FROM issues"))


def test_an_import_ending_exactly_at_the_cap_is_not_warned(p):
    for n in range(1, 7):
        existing(p, "immediate", n)                     # 0 of 6
    pl = plan(p, ledger((51, "staged"), (52, "continuous"), (53, "staged"), (54, "immediate")))
    assert pl.cap is None                               # 3 of 10: exactly 30%
    apply_import(p.db, p.actors["lead"], pl, AT)
    assert long_items(p) == (3, 10)
    assert count(p, "SELECT COUNT(*) FROM rule_acceptances") == 0


def test_an_import_one_past_the_cap_is_warned_refused_without_a_reason_and_recorded_with_one(p):
    for n in range(1, 8):
        existing(p, "immediate", n)                     # 0 of 7
    pl = plan(p, ledger((51, "staged"), (52, "continuous"), (53, "staged"), (54, "staged")))
    before, after = pl.cap                              # 4 of 11: 36%, past 30%
    assert (before.long, before.total, after.long, after.total) == (0, 7, 4, 11)
    issues_before = count(p, "SELECT COUNT(*) FROM issues")
    history_before = count(p, "SELECT COUNT(*) FROM history")
    with pytest.raises(ImportCapExceeded) as refused:
        apply_import(p.db, p.actors["lead"], pl, AT)
    assert refused.value.key == "error.import_cap_exceeded"
    assert (refused.value.params["before_long"], refused.value.params["long"],
            refused.value.params["total"], refused.value.params["cap"]) == (0, 4, 11, "30%")
    assert "cap of 30%" in str(refused.value)
    assert count(p, "SELECT COUNT(*) FROM issues") == issues_before
    assert count(p, "SELECT COUNT(*) FROM history") == history_before
    with pytest.raises(ImportCapExceeded):
        apply_import(p.db, p.actors["lead"], pl, AT, accept_cap="   ")   # blank is no reason
    result = apply_import(p.db, p.actors["lead"], pl, AT, accept_cap="省公司批准集中分阶段整改")
    assert result.counts["create"] == 4 and long_items(p) == (4, 11)
    [acc] = p.db.conn.execute("SELECT rule, issue_id, reason, accepted_by, detail, at FROM "
                              "rule_acceptances").fetchall()
    assert acc[:4] == ("cap", None, "省公司批准集中分阶段整改", p.actors["lead"].user_id)
    assert "0 of 7" in acc[4] and "4 of 11" in acc[4] and "ledger.xlsx" in acc[4]
    assert acc[5] == AT
    # the acceptance went to history in the import's transaction
    assert count(p, "SELECT COUNT(*) FROM history WHERE entity = 'acceptance'") > 0


def test_type_changes_of_existing_items_count_with_the_new_ones(p):
    ids = [existing(p, "immediate", n) for n in range(1, 8)] + \
          [existing(p, "staged", n) for n in (8, 9, 10)]          # 3 of 10, at the cap
    # C1.1.1 made staged: 4 of 10 → warned
    pl = plan(p, ledger((1, "staged")))
    assert [(c.long, c.total) for c in pl.cap] == [(3, 10), (4, 10)]
    with pytest.raises(ImportCapExceeded):
        apply_import(p.db, p.actors["lead"], pl, AT)
    assert p.db.conn.execute("SELECT rectification_type FROM issues WHERE id = ?",
                             (ids[0],)).fetchone()[0] == "immediate"
    # C1.1.8 made immediate and a new staged one: 3 of 11 — the import ends within the cap
    pl = plan(p, ledger((8, "immediate"), (51, "staged")))
    assert pl.cap is None
    apply_import(p.db, p.actors["lead"], pl, AT)
    assert long_items(p) == (3, 11)
    assert count(p, "SELECT COUNT(*) FROM rule_acceptances") == 0


def test_the_cap_is_checked_again_against_the_rows_as_they_are_when_applied(p):
    for n in range(1, 8):
        existing(p, "immediate", n)
    existing(p, "staged", 8)                            # 1 of 8
    pl = plan(p, ledger((51, "staged"), (52, "staged")))
    assert pl.cap is None                               # 3 of 10 when planned
    existing(p, "staged", 9)                            # meanwhile: 2 of 9
    with pytest.raises(ImportCapExceeded) as refused:
        apply_import(p.db, p.actors["lead"], pl, AT)    # would be 4 of 11
    assert (refused.value.params["long"], refused.value.params["total"]) == (4, 11)
    assert long_items(p) == (2, 9)


def test_the_cli_refuses_an_import_past_the_cap_until_given_a_reason(p, tmp_path, capsys):
    for n in range(1, 8):
        existing(p, "immediate", n)
    f = tmp_path / "l.xlsx"
    f.write_bytes(ledger((51, "staged"), (52, "staged"), (53, "staged"), (54, "staged")))
    args = ["import", str(f), "--db", str(p.path), "--as-user", "lead", "--stream", "audit"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "cap of 30%" in err and "0 of 7" in err and "4 of 11" in err and "--accept-cap" in err
    assert long_items(p) == (0, 7)
    assert main([*args, "--accept-cap", "领导小组同意"]) == 0
    assert long_items(p) == (4, 11)
    assert p.db.conn.execute("SELECT reason FROM rule_acceptances").fetchone()[0] == "领导小组同意"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_import_page_warns_with_the_figures_and_imports_only_with_a_reason(
        demo_path, tmp_path, make_app, lang):
    """The demo is already above the cap (its leads accepted each item): one more staged row
    is warned; confirming without a reason shows the refusal naming the cap, with one imports."""
    import sqlite3

    from audit.messages import t
    from tests.conftest import copy_database, open_page, sign_in
    path = copy_database(demo_path, tmp_path / "demo.db")

    def figures() -> tuple[int, int, int]:
        with sqlite3.connect(path) as c:
            long, total = c.execute(
                "SELECT TOTAL(rectification_type IN ('staged', 'continuous')), COUNT(*) FROM "
                "issues WHERE merged_into_id IS NULL").fetchone()
            return int(long), int(total), c.execute(
                "SELECT COUNT(*) FROM rule_acceptances").fetchone()[0]

    long, total, accepted = figures()
    app = make_app(path)
    app.query_params["lang"] = lang
    app = open_page(sign_in(app, "lead", "demo1234"), "import")
    data = xlsx_bytes(table(row(1, 问题编号="", 问题类别="外包合同管理", 问题方面="合同签订",
                                责任单位="包头市分公司", 问题描述="外包人员未签保密协议。说明")
                            + ["分阶段整改"], header=[*HEADER, "整改类型"]))
    app.file_uploader(key="issues.import.file.0").set_value(
        ("台账.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    app.run()
    assert not app.exception, app.exception
    share = lambda a, b: f"{a / b:.0%}"  # noqa: E731
    expected = t("imp.cap_warning", lang, before_long=long, before_total=total,
                 before_share=share(long, total), long=long + 1, total=total + 1,
                 share=share(long + 1, total + 1), cap="30%")
    assert expected in [w.value for w in app.warning]
    app.button(key="issues.import.confirm").click()
    app.run()
    assert not app.exception, app.exception
    assert any("30%" in e.value and f"{long + 1}" in e.value for e in app.error)
    assert figures() == (long, total, accepted)
    app.text_input(key="issues.import.cap_reason").input("省公司同意分阶段整改")
    app.button(key="issues.import.confirm").click()
    app.run()
    assert not app.exception, app.exception
    assert app.success
    assert figures() == (long + 1, total + 1, accepted + 1)
