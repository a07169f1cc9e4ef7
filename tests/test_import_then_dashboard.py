"""Across issues: a programme registered by ledger import (bulk creation, one row record per
issue plus its as-of fields) and changed afterwards through a newer ledger and the services
gives the same dashboard figures as audit.figures for dates before, on and after each change,
and the burn-up counts what was open and closed then."""
from __future__ import annotations

from datetime import date

from audit.dashboard_views import burnup_weeks, dashboard_data
from audit.views import figures, scope_for
from tests.ledger_factory import table, xlsx_bytes
from tests.test_issues_importer import do_import, ledger_row, prog  # noqa: F401 (fixture)

FIRST = "2026-10-05T10:00:00+08:00"
SECOND = "2026-11-02T10:00:00+08:00"


def test_dashboard_of_an_imported_programme_agrees_with_the_figures_on_every_date(prog):
    first = table(ledger_row(1, 整改状态="未启动"), ledger_row(2, 整改状态="整改中"),
                  ledger_row(3, 整改状态="待验收"), ledger_row(4, 整改状态="整改中",
                                                             整改时限="2026-10-20"),
                  ledger_row(5, 整改状态="整改中", 涉及金额="3.5万元"))
    result = do_import(prog, xlsx_bytes(first), at=FIRST)
    assert result.counts["create"] == 5
    # The newer ledger: 2 submitted, 3 and 4 marked 已销号 (4 gets as far as 待验收), 5 later.
    second = table(ledger_row(1, 整改状态="未启动"), ledger_row(2, 整改状态="待验收"),
                   ledger_row(3, 整改状态="已销号"), ledger_row(4, 整改状态="已销号",
                                                             整改时限="2026-10-20"),
                   ledger_row(5, 整改状态="整改中", 涉及金额="3.5万元", 整改时限="2027-03-31"))
    do_import(prog, xlsx_bytes(second), at=SECOND)
    scope = scope_for(prog.db)
    scopes = (scope, scope_for(prog.db, unit_code="A"), scope_for(prog.db, unit_code="B"))
    seen = []
    for day in (date(2026, 10, 1), date(2026, 10, 5), date(2026, 10, 25), date(2026, 11, 2),
                date(2026, 11, 27)):
        for sc in scopes:
            data = dashboard_data(prog.db, sc, day, date(2026, 10, 10))
            assert data["figures"] == figures(prog.db, sc, day), (day, sc)
            assert data["compare"] == figures(prog.db, sc, date(2026, 10, 10))
        data = dashboard_data(prog.db, scope, day)
        seen.append((data["figures"]["issues"], data["figures"]["overdue"],
                     {r["status"]: r["count"] for r in data["status_by_category"]}))
    # By hand: nothing before the import; on 10-05 one not started, 2/4/5 in progress and 3
    # submitted; from 10-21 row 4 is past its 10-20 deadline (overdue until struck off); on
    # 11-02 rows 2 and 4 are submitted. Striking off waits for 三不放过, which a ledger
    # cannot give, so nothing is closed.
    states_1005 = {"not_started": 1, "in_progress": 3, "submitted": 1}
    states_1102 = {"not_started": 1, "in_progress": 1, "submitted": 3}
    assert seen == [(0, 0, {}), (5, 0, states_1005), (5, 1, states_1005), (5, 1, states_1102),
                    (5, 1, states_1102)]
    weeks = burnup_weeks(prog.db, scope, date(2026, 11, 27))["weeks"]
    assert weeks[0]["in_scope"] == 5 and weeks[0]["closed"] == 0
    assert weeks[-1]["in_scope"] == 5 and weeks[-1]["closed"] == 0
