"""Every figure of DOMAIN.md on a small programme with known history, worked out by hand, for
today and two past dates and a unit scope; and the history path equals the live path."""
from __future__ import annotations

from datetime import date

import pytest

from audit.views import figures, issue_states, scope_for
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests.programme import build

D1, D2, D3 = date(2026, 3, 15), date(2026, 4, 20), date(2026, 5, 1)


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    p = build(tmp_path_factory.mktemp("figures"))
    lead = p.actors["lead"]
    i1 = p.new_issue("一", amount=1000)                       # closed on time (03-20 ≤ 03-31)
    p.full_cycle(i1, deadline="2026-03-31", done="2026-03-18", closed="2026-03-20")
    i2 = p.new_issue("二", unit="A1", amount=2000)             # closed late (03-10 > 02-28)
    p.full_cycle(i2, deadline="2026-02-28", done="2026-03-05", closed="2026-03-10")
    i3 = p.new_issue("三", unit="B", amount=500)               # overdue from 04-16
    p.assign(i3, deadline="2026-04-15", responsible="rect_b")
    p.measure(i3, deadline="2026-04-10")
    p.start(i3)
    i4 = p.new_issue("四", unit="B")                           # no measure: not 四个到人
    p.assign(i4, deadline="2026-05-18", responsible="rect_b")
    i5 = p.new_issue("五")                                     # extended 03-31 → 05-31
    p.assign(i5, deadline="2026-03-31")
    p.measure(i5, deadline="2026-03-31")
    p.start(i5)
    owners.extend_deadline(p.db, lead, i5, version=p.version(i5), new_deadline="2026-05-31",
                           reason="跨部门系统改造", at=p.at("2026-03-25"))
    i6 = p.new_issue("六", aspect="C2.1")                      # ended 02-15
    p.assign(i6, deadline="2026-03-31")
    p.measure(i6, deadline="2026-03-31")
    p.start(i6)
    issues.move_issue(p.db, lead, i6, Move.END, version=p.version(i6), reason="业务已撤销",
                      at=p.at("2026-02-15"))
    p.new_issue("七", day="2026-04-10")                        # exists only from 04-10
    p.ids = dict(zip("1234567", (i1, i2, i3, i4, i5, i6, i6 + 1)))
    return p


# (as_of, unit) → figures worked out by hand from the events above
EXPECTED = {
    (D1, None): dict(issues=6, categories=2, aspects=2, closed=1, ended=1, overdue=0,
                     due_soon=0, on_time=0, on_time_due=1, fully_assigned=5,
                     amount_involved=3500.0, amount_rectified=2000.0),
    (D2, None): dict(issues=7, categories=2, aspects=2, closed=2, ended=1, overdue=1,
                     due_soon=0, on_time=1, on_time_due=4, fully_assigned=5,
                     amount_involved=3500.0, amount_rectified=3000.0),
    (D3, None): dict(issues=7, categories=2, aspects=2, closed=2, ended=1, overdue=1,
                     due_soon=1, on_time=1, on_time_due=4, fully_assigned=5,
                     amount_involved=3500.0, amount_rectified=3000.0),
    (D3, "A"): dict(issues=5, categories=2, aspects=2, closed=2, ended=1, overdue=0,
                    due_soon=0, on_time=1, on_time_due=3, fully_assigned=4,
                    amount_involved=3000.0, amount_rectified=3000.0),
    (D1, "B"): dict(issues=2, categories=1, aspects=1, closed=0, ended=0, overdue=0,
                    due_soon=0, on_time=0, on_time_due=0, fully_assigned=1,
                    amount_involved=500.0, amount_rectified=0.0),
}


@pytest.mark.parametrize("as_of,unit", list(EXPECTED))
def test_figures_equal_the_hand_worked_values(prog, as_of, unit):
    got = figures(prog.db, scope_for(prog.db, unit_code=unit), as_of)
    want = EXPECTED[(as_of, unit)]
    assert {k: got[k] for k in want} == want
    assert got["closure_rate"] == pytest.approx(want["closed"] / want["issues"])
    assert got["fully_assigned_rate"] == pytest.approx(want["fully_assigned"] / want["issues"])
    if want["on_time_due"]:
        assert got["on_time_rate"] == pytest.approx(want["on_time"] / want["on_time_due"])
    else:
        assert got["on_time_rate"] is None


@pytest.mark.parametrize("as_of,unit", list(EXPECTED))
def test_the_history_path_and_the_live_path_agree_whenever_both_apply(prog, as_of, unit):
    scope = scope_for(prog.db, unit_code=unit)
    from_history = figures(prog.db, scope, as_of, live=False)
    assert {k: from_history[k] for k in EXPECTED[(as_of, unit)]} == EXPECTED[(as_of, unit)]
    if as_of == D3:
        assert figures(prog.db, scope, as_of, live=True) == from_history


def test_amber_counts_working_days_across_the_labour_day_holiday(prog):
    # From Fri 2026-05-01, ten working days skip 1–5 May and count Sat 9 May (调休): 05-18.
    states = {s["code"]: s for s in issue_states(prog.db, scope_for(prog.db), D3)}
    four = next(s for s in states.values() if s["title"] == "四")
    assert four["warning"] == "amber"
    assert next(s for s in states.values() if s["title"] == "三")["warning"] == "red"
    assert next(s for s in states.values() if s["title"] == "一")["warning"] == "none"


def test_issue_states_as_of_a_past_date_show_the_status_then(prog):
    states = {s["title"]: s for s in issue_states(prog.db, scope_for(prog.db), D1)}
    assert states["一"]["status"] == "in_progress" and states["二"]["status"] == "closed"
    assert states["五"]["deadline"] == "2026-03-31"
    assert "七" not in states
    later = {s["title"]: s for s in issue_states(prog.db, scope_for(prog.db), D2)}
    assert later["五"]["deadline"] == "2026-05-31"
    assert later["五"]["original_deadline"] == "2026-03-31"


def test_a_managers_figures_never_leave_its_scope(prog):
    manager = prog.actors["manager"]  # scoped to A and its county A1
    got = figures(prog.db, scope_for(prog.db, manager), D3)
    assert got["issues"] == EXPECTED[(D3, "A")]["issues"]
    asked_for_b = figures(prog.db, scope_for(prog.db, manager, unit_code="B"), D3)
    assert asked_for_b["issues"] == 0


def test_figures_asked_again_later_give_the_same_answer(prog):
    before = figures(prog.db, scope_for(prog.db), D2)
    i4 = prog.ids["4"]
    issues.add_measure(prog.db, prog.actors["lead"], i4, title="补充", at=prog.at("2026-05-02"))
    assert figures(prog.db, scope_for(prog.db), D2) == before
