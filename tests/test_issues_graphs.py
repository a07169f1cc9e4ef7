"""Root causes and measure dependencies: small graphs whose answers are worked out by hand."""
from __future__ import annotations

from datetime import date, timedelta

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.model import DependencyCycle
from issues.dependency_model import (
    IssueDeadline,
    MeasureNode,
    blocked_issues,
    cycle_if_added,
    dependency_graph,
    earliest_finish,
    find_cycle,
    issue_earliest_finish,
    own_finish,
    refuse_cycle,
    waited_by,
    waits_for,
)
from issues.graph_model import (
    CauseNode,
    IssueNode,
    SourceMeasure,
    cause_graph,
    causes_fixed_at_source,
    greedy_cover,
    is_common,
    is_recurring,
    issue_causes_fixed_at_source,
    rank_causes,
    recurring_causes,
)

D = date.fromisoformat
AS_OF = D("2026-06-01")


# --- ranking ---------------------------------------------------------------------------------

RANK_ISSUES = [
    IssueNode(1, "C1.1.1", status="in_progress", unit_id=10, amount=100, audit_years=(2021,)),
    IssueNode(2, "C1.1.2", status="not_started", unit_id=10, amount=50, overdue=True,
              audit_years=(2021,)),
    IssueNode(3, "C1.1.3", status="closed", unit_id=11, amount=1000, audit_years=(2023,)),
    IssueNode(4, "C1.2.1", status="submitted", unit_id=10, amount=100, overdue=True,
              audit_years=(2022,)),
    IssueNode(5, "C1.2.2", status="in_progress", unit_id=10, amount=150, audit_years=(2022,)),
    IssueNode(6, "C1.2.3", status="in_progress", unit_id=10, amount=0, audit_years=(2022,)),
]
RANK_CAUSES = [CauseNode(1, "K1", "no price review"), CauseNode(2, "K2", "no contract check"),
               CauseNode(3, "K3", "no penalty rule"), CauseNode(4, "K4", "unused"),
               CauseNode(5, "K5", "twin of K1")]
RANK_LINKS = [(1, 1), (2, 1), (3, 1),      # K1: open 1,2 → 2 open, 150 yuan, 1 overdue
              (4, 2), (5, 2),              # K2: open 4,5 → 2 open, 250 yuan, 1 overdue
              (2, 3), (4, 3),              # K3: open 2,4 → 2 open, 150 yuan, 2 overdue
              (1, 5), (2, 5)]              # K5: same open figures as K1, no closed issue


def test_causes_rank_by_open_issues_then_money_then_overdue_then_code():
    ranks = rank_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES)
    assert [r.code for r in ranks] == ["K2", "K3", "K1", "K5", "K4"]
    k2, k3, k1, k5, k4 = ranks
    assert (k2.open_issues, k2.amount_open, k2.overdue) == (2, 250.0, 1)
    assert (k3.open_issues, k3.amount_open, k3.overdue) == (2, 150.0, 2)
    assert (k1.open_issues, k1.total_issues, k1.amount_open, k1.overdue) == (2, 3, 150.0, 1)
    assert k1.issue_ids == (1, 2, 3) and k1.open_issue_ids == (1, 2)
    assert (k4.open_issues, k4.total_issues, k4.issue_ids) == (0, 0, ())


def test_rank_accepts_rows_as_dicts():
    issues = [dict(id=1, code="A", status="in_progress", amount=5, extra="ignored")]
    ranks = rank_causes(issues, [{"issue_id": 1, "cause_id": 9}],
                        [{"id": 9, "code": "K9", "title": "t"}])
    assert (ranks[0].code, ranks[0].open_issues, ranks[0].amount_open) == ("K9", 1, 5.0)


def test_recurrence_by_distinct_years_or_units_counts_closed_issues_too():
    flags = {r.code: r.recurring for r in rank_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES)}
    # K1: years 2021 and 2023 (the 2023 issue is closed) and units 10, 11;
    # K3: years 2021 and 2022, one unit; K2, K5: one year, one unit; K4: no issue.
    assert flags == {"K1": True, "K2": False, "K3": True, "K4": False, "K5": False}
    # 共性问题 is the other idea: several units (K1 only), whatever the years.
    common = {r.code: r.common for r in rank_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES)}
    assert common == {"K1": True, "K2": False, "K3": False, "K4": False, "K5": False}


def test_recurrence_thresholds_are_parameters():
    assert recurring_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES) == {1, 3}
    # Three years needed: nobody (two units make K1 a 共性问题, not a 屡审屡犯 one).
    assert recurring_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES, min_years=3) == set()
    assert recurring_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES,
                            min_years=3, min_units=3) == set()
    assert {r.code for r in rank_causes(RANK_ISSUES, RANK_LINKS, RANK_CAUSES, min_units=3)
            if r.common} == set()


def test_one_issue_found_by_audits_in_two_years_is_recurring():
    assert is_recurring([2021, 2023])
    assert not is_recurring([2021, 2021])
    # Two units and one year is a 共性问题, not 屡审屡犯.
    assert not is_recurring([2021]) and is_common([10, 11])
    assert not is_common([10, 10, None])


# --- greedy cover ------------------------------------------------------------------------------

# Open issues 1–8 and 10 (10 has no cause), 9 is closed: 9 open issues in all.
COVER_ISSUES = [IssueNode(i, f"I{i}", status="in_progress") for i in range(1, 9)] + [
    IssueNode(9, "I9", status="closed"), IssueNode(10, "I10", status="not_started")]
COVER_CAUSES = [CauseNode(100 + n, code) for n, code in enumerate("ABCDEFG")]
A, B, C, D_, E, F, G = range(100, 107)
COVER_SETS = {A: [1, 2, 3, 4], B: [5, 6, 7], C: [4, 5, 6], D_: [7, 8], E: [8, 9], F: [3, 8],
              G: [1, 2, 3, 4]}
COVER_LINKS = [(i, c) for c, issues in COVER_SETS.items() for i in issues]


def test_greedy_cover_of_one_takes_the_biggest_cause_ties_broken_by_code():
    # A and G both cover 4 open issues: A wins on code.
    r = greedy_cover(COVER_ISSUES, COVER_LINKS, COVER_CAUSES, 1)
    assert [s.code for s in r.chosen] == ["A"]
    assert (r.gains, r.covered, r.open_total, r.share) == ([4], 4, 9, 4 / 9)


def test_greedy_cover_of_two_takes_the_best_marginal_gain_not_the_biggest_set():
    # After A: B adds 5,6,7 (3); C adds only 5,6 (its 4 is covered); G adds nothing.
    r = greedy_cover(COVER_ISSUES, COVER_LINKS, COVER_CAUSES, 2)
    assert [s.code for s in r.chosen] == ["A", "B"]
    assert r.gains == [4, 3] and [s.covered_after for s in r.chosen] == [4, 7]
    assert (r.covered, r.share) == (7, 7 / 9)


def test_greedy_cover_of_three_breaks_a_three_way_tie_by_code():
    # Only issue 8 is left among caused open issues: D, E (9 is closed) and F each add 1.
    r = greedy_cover(COVER_ISSUES, COVER_LINKS, COVER_CAUSES, 3)
    assert [s.code for s in r.chosen] == ["A", "B", "D"]
    assert r.gains == [4, 3, 1]
    assert (r.covered, r.share) == (8, 8 / 9)
    assert r.covered_issue_ids == (1, 2, 3, 4, 5, 6, 7, 8)


def test_greedy_cover_stops_when_nothing_is_left_to_gain_and_issue_without_cause_stays_out():
    r = greedy_cover(COVER_ISSUES, COVER_LINKS, COVER_CAUSES, 10)
    assert [s.code for s in r.chosen] == ["A", "B", "D"]
    assert r.share == 8 / 9  # issue 10 has no cause: it stays in the denominator


def test_greedy_cover_with_no_open_issue_has_share_zero():
    r = greedy_cover([IssueNode(1, "I1", status="closed")], [(1, 100)], COVER_CAUSES[:1], 3)
    assert (r.chosen, r.covered, r.open_total, r.share) == ([], 0, 0, 0.0)


def _naive_greedy(sets: dict[int, set[int]], codes: dict[int, str], k: int) -> list[int]:
    covered: set[int] = set()
    chosen: list[int] = []
    for _ in range(k):
        best = max(sets, key=lambda c: (len(sets[c] - covered), [-ord(ch) for ch in codes[c]]),
                   default=None)
        if best is None or not sets[best] - covered:
            break
        chosen.append(best)
        covered |= sets[best]
    return chosen


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 12), st.sets(st.integers(1, 20), max_size=8), max_size=10),
       st.integers(0, 6))
def test_lazy_greedy_chooses_exactly_what_the_naive_greedy_chooses(sets, k):
    codes = {c: f"K{c:02d}" for c in sets}
    issues = [IssueNode(i, f"I{i}", status="in_progress") for i in range(1, 21)]
    links = [(i, c) for c, s in sets.items() for i in s]
    r = greedy_cover(issues, links, [CauseNode(c, codes[c]) for c in sets], k)
    assert [s.cause_id for s in r.chosen] == _naive_greedy(sets, codes, k)


# --- bipartite graph and source-level measures ---------------------------------------------------

def test_cause_graph_is_bipartite_and_drops_links_to_unknown_nodes():
    g = cause_graph(RANK_ISSUES, [*RANK_LINKS, (99, 1), (1, 99)], RANK_CAUSES)
    assert nx.is_bipartite(g)
    assert g.number_of_nodes() == 6 + 5 and g.number_of_edges() == len(RANK_LINKS)
    assert g.nodes[("issue", 1)]["bipartite"] == 0 and g.nodes[("cause", 1)]["bipartite"] == 1
    assert g.nodes[("issue", 3)]["open"] is False
    assert set(g[("cause", 2)]) == {("issue", 4), ("issue", 5)}


SOURCE = [SourceMeasure(A, "done"), SourceMeasure(A, "done"),      # A: all done → fixed
          SourceMeasure(B, "done"), SourceMeasure(B, "doing"),     # B: one still open
          {"cause_id": C, "status": "todo"}]                        # C: open; G: none at all


def test_a_cause_is_fixed_at_the_source_only_with_measures_all_done():
    assert causes_fixed_at_source(SOURCE) == {A}
    ranks = {r.code: r for r in rank_causes(COVER_ISSUES, COVER_LINKS, COVER_CAUSES, SOURCE)}
    assert (ranks["A"].source_measures_done, ranks["A"].source_measures_total) == (2, 2)
    assert (ranks["B"].source_measures_done, ranks["B"].source_measures_total) == (1, 2)
    assert ranks["A"].fixed_at_source and not ranks["B"].fixed_at_source
    assert not ranks["G"].fixed_at_source  # no source measure is not "fixed"


def test_each_issue_lists_its_causes_fixed_at_the_source():
    fixed = issue_causes_fixed_at_source(COVER_LINKS, SOURCE)
    assert fixed == {1: [A], 2: [A], 3: [A], 4: [A]}
    assert fixed.get(5, []) == []


# --- cycles and waiting ------------------------------------------------------------------------

def test_adding_a_dependency_that_closes_a_cycle_names_the_cycle():
    edges = [(1, 2), (2, 3)]
    assert cycle_if_added(edges, 3, 1) == [3, 1, 2, 3]
    assert cycle_if_added(edges, 1, 3) is None
    with pytest.raises(DependencyCycle) as ex:
        refuse_cycle(edges, 3, 1)
    assert ex.value.cycle == ["3", "1", "2", "3"]
    refuse_cycle(edges, 1, 3)  # safe: no exception


def test_find_cycle_names_an_existing_cycle_from_its_smallest_measure():
    assert find_cycle([(2, 3), (3, 1), (1, 2), (3, 4)]) == [1, 2, 3, 1]
    assert find_cycle([(5, 5)]) == [5, 5]
    assert find_cycle([(1, 2), (2, 3), (1, 3)]) is None
    assert find_cycle([]) is None


def test_earliest_finish_refuses_a_cyclic_graph():
    with pytest.raises(DependencyCycle) as ex:
        earliest_finish([MeasureNode(1, 1, deadline=AS_OF)], [(1, 2), (2, 1)], AS_OF)
    assert ex.value.cycle == ["1", "2", "1"]


def test_earliest_finish_names_a_cycle_behind_acyclic_measures():
    ms = [MeasureNode(i, 1, deadline=AS_OF) for i in (1, 2, 3, 5)]
    with pytest.raises(DependencyCycle) as ex:
        earliest_finish(ms, [(5, 1), (1, 2), (2, 3), (3, 1)], AS_OF)
    assert ex.value.cycle == ["1", "2", "3", "1"]


def test_waits_for_and_waited_by_directly_and_transitively():
    edges = [(1, 2), (2, 3), (4, 2)]
    assert waits_for(edges, 1) == {2}
    assert waits_for(edges, 1, transitive=True) == {2, 3}
    assert waited_by(edges, 3) == {2}
    assert waited_by(edges, 3, transitive=True) == {1, 2, 4}
    assert waits_for(edges, 99) == set() and waited_by(edges, 99, transitive=True) == set()
    assert waits_for([{"measure_id": 1, "depends_on_id": 2}], 1) == {2}


# --- earliest finish -----------------------------------------------------------------------------

CHAIN = [
    MeasureNode(1, 1, status="done", deadline=D("2026-05-10"), completed_on=D("2026-05-20")),
    MeasureNode(2, 1, status="doing", deadline=D("2026-05-25")),     # past deadline: as_of
    MeasureNode(3, 2, status="todo", deadline=D("2026-06-10")),
    MeasureNode(4, 2, status="todo", deadline=D("2026-06-05")),      # pushed by 3
    MeasureNode(5, 3, status="todo", deadline=None),                 # undated: unknown
    MeasureNode(6, 3, status="todo", deadline=D("2026-07-01")),      # waits for 5: unknown
    MeasureNode(7, 4, status="todo", deadline=D("2026-06-20")),
    MeasureNode(8, 4, status="done", completed_on=D("2026-05-01")),  # done: a fact
]
CHAIN_EDGES = [(2, 1), (3, 2), (4, 3), (6, 5), (8, 6)]


def test_earliest_finish_through_a_chain_with_done_overdue_and_undated_measures():
    assert earliest_finish(CHAIN, CHAIN_EDGES, AS_OF) == {
        1: D("2026-05-20"),   # done: its completion date
        2: D("2026-06-01"),   # deadline 05-25 passed: not before as_of (06-01 > 05-20 of 1)
        3: D("2026-06-10"),   # its own deadline is later than 2's 06-01
        4: D("2026-06-10"),   # own 06-05, but waits for 3 until 06-10
        5: None,              # open and undated
        6: None,              # waits for an unknown
        7: D("2026-06-20"),   # no dependency
        8: D("2026-05-01"),   # done, whatever it waits for
    }


def test_earliest_finish_accepts_a_prebuilt_dependency_graph():
    assert earliest_finish(CHAIN, dependency_graph(CHAIN_EDGES), AS_OF) == \
        earliest_finish(CHAIN, CHAIN_EDGES, AS_OF)


def test_earliest_finish_treats_a_dependency_not_given_as_unknown():
    ms = [MeasureNode(1, 1, deadline=D("2026-06-10"))]
    assert earliest_finish(ms, [(1, 42)], AS_OF) == {1: None}


def test_earliest_finish_reads_iso_strings_from_rows():
    rows = [{"id": 1, "issue_id": 1, "deadline": "2026-06-10", "status": "todo",
             "completed_on": None},
            {"id": 2, "issue_id": 1, "deadline": "2026-05-01", "status": "done",
             "completed_on": "2026-05-03"}]
    assert earliest_finish(rows, [(1, 2)], AS_OF) == {1: D("2026-06-10"), 2: D("2026-05-03")}


def test_issue_earliest_finish_is_the_latest_of_its_measures_or_unknown():
    assert issue_earliest_finish(CHAIN, CHAIN_EDGES, AS_OF) == {
        1: D("2026-06-01"), 2: D("2026-06-10"), 3: None, 4: D("2026-06-20")}


# --- blocked issues ----------------------------------------------------------------------------

BLOCK_ISSUES = [
    IssueDeadline(1, "C1.1.1", D("2026-06-30"), "in_progress"),   # X: blocked by Y's measure
    IssueDeadline(2, "C2.1.1", D("2026-08-31"), "in_progress"),   # Y: upstream, on time
    IssueDeadline(3, "C3.1.1", D("2026-06-30"), "in_progress"),   # Z: late by its own measure
    IssueDeadline(4, "C4.1.1", D("2026-06-30"), "not_started"),   # W: two issues upstream
    IssueDeadline(5, "C5.1.1", D("2026-12-31"), "in_progress"),   # V
    IssueDeadline(6, "C6.1.1", D("2026-12-31"), "in_progress"),   # U
    IssueDeadline(7, "C7.1.1", D("2026-06-30"), "closed"),        # T: closed, not flagged
]
BLOCK_MEASURES = [
    MeasureNode(11, 1, deadline=D("2026-06-15")),
    MeasureNode(12, 1, deadline=D("2026-06-20")),
    MeasureNode(21, 2, deadline=D("2026-07-15")),
    MeasureNode(22, 2, status="done", completed_on=D("2026-05-10")),
    MeasureNode(31, 3, deadline=D("2026-07-10")),
    MeasureNode(32, 3, deadline=D("2026-06-01")),
    MeasureNode(41, 4, deadline=D("2026-06-05")),
    MeasureNode(51, 5, deadline=D("2026-06-12")),
    MeasureNode(61, 6, status="doing", deadline=D("2026-07-20")),
    MeasureNode(71, 7, deadline=D("2026-06-10")),
]
BLOCK_EDGES = [(12, 21), (21, 22), (32, 21), (41, 51), (51, 61), (71, 21)]


def test_issue_is_blocked_when_its_own_measures_are_fine_but_upstream_finishes_late():
    blocked = {b.code: b for b in blocked_issues(BLOCK_ISSUES, BLOCK_MEASURES, BLOCK_EDGES,
                                                 AS_OF)}
    x = blocked["C1.1.1"]
    # Own measures: 06-15 and 06-20, both before 06-30; measure 12 waits for 21 (07-15).
    assert (x.own_finish, x.earliest_finish, x.days_late) == (D("2026-06-20"), D("2026-07-15"),
                                                               15)
    assert [(c.measure_id, c.issue_code, c.finish) for c in x.chain] == [
        (12, "C1.1.1", D("2026-07-15")), (21, "C2.1.1", D("2026-07-15"))]
    assert x.root.measure_id == 21 and not x.truncated


def test_blocked_chain_follows_the_predecessor_that_sets_the_date_back_to_the_root():
    w = {b.code: b for b in blocked_issues(BLOCK_ISSUES, BLOCK_MEASURES, BLOCK_EDGES,
                                           AS_OF)}["C4.1.1"]
    assert [c.measure_id for c in w.chain] == [41, 51, 61]
    assert w.chain_issue_codes == ["C4.1.1", "C5.1.1", "C6.1.1"]
    assert (w.own_finish, w.earliest_finish) == (D("2026-06-05"), D("2026-07-20"))


def test_a_long_chain_is_cut_but_still_names_its_root():
    w = {b.code: b for b in blocked_issues(BLOCK_ISSUES, BLOCK_MEASURES, BLOCK_EDGES, AS_OF,
                                           max_chain=2)}["C4.1.1"]
    assert [c.measure_id for c in w.chain] == [41, 51]
    assert w.truncated and w.root.measure_id == 61 and w.root.issue_code == "C6.1.1"


def test_many_issues_behind_one_long_chain_stay_linear():
    # Issue k's only measure waits for issue k+1's; the last one is late: all are blocked.
    n = 5_000
    ms = [MeasureNode(k, k, deadline=D("2026-06-10")) for k in range(n)]
    ms[-1] = MeasureNode(n - 1, n - 1, deadline=D("2026-09-01"))
    issues = [IssueDeadline(k, f"I{k}", D("2026-06-30"), "in_progress") for k in range(n - 1)]
    blocked = blocked_issues(issues, ms, [(k, k + 1) for k in range(n - 1)], AS_OF)
    assert len(blocked) == n - 1
    assert {b.root.measure_id for b in blocked} == {n - 1}
    by_code = {b.code: b for b in blocked}
    assert len(by_code["I0"].chain) == 50 and by_code["I0"].truncated
    last = by_code[f"I{n - 2}"]
    assert not last.truncated and [c.measure_id for c in last.chain] == [n - 2, n - 1]


def test_issue_late_by_its_own_measure_upstream_and_closed_issues_are_not_blocked():
    codes = [b.code for b in blocked_issues(BLOCK_ISSUES, BLOCK_MEASURES, BLOCK_EDGES, AS_OF)]
    # Z's own measure 31 ends 07-10 after its 06-30 deadline: its own delay, even though 32
    # waits for 21 until 07-15. Y and V, U meet their deadlines. T is closed.
    assert codes == ["C1.1.1", "C4.1.1"]


def test_issue_waiting_for_an_undated_measure_is_not_flagged():
    ms = [MeasureNode(1, 1, deadline=D("2026-06-10")), MeasureNode(2, 2)]
    issues = [IssueDeadline(1, "A", D("2026-06-30"), "in_progress")]
    assert blocked_issues(issues, ms, [(1, 2)], AS_OF) == []


# --- properties --------------------------------------------------------------------------------

@st.composite
def random_dag(draw):
    n = draw(st.integers(1, 25))
    ms = []
    for i in range(n):
        done = draw(st.booleans())
        dl = draw(st.one_of(st.none(), st.integers(-60, 120)))
        deadline = None if dl is None else AS_OF + timedelta(days=dl)
        completed = AS_OF - timedelta(days=draw(st.integers(0, 90))) if done else None
        ms.append(MeasureNode(i, i % 4, deadline=deadline, status="done" if done else "todo",
                              completed_on=completed))
    # Edges only point to smaller ids: acyclic by construction.
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    edges = sorted({(a, b) if a > b else (b, a) for a, b in pairs if a != b})
    return ms, edges


@settings(max_examples=300, deadline=None)
@given(random_dag())
def test_an_open_measure_never_finishes_before_what_it_waits_for(dag):
    ms, edges = dag
    finish = earliest_finish(ms, edges, AS_OF)
    by_id = {m.id: m for m in ms}
    for m, dep in edges:
        if by_id[m].status == "done":
            assert finish[m] == by_id[m].completed_on
        elif finish[dep] is None:
            assert finish[m] is None  # unknown propagates, never guessed
        elif finish[m] is not None:
            assert finish[m] >= finish[dep]
    for m in ms:
        if m.status != "done" and m.deadline is None:
            assert finish[m.id] is None
        elif m.status != "done" and finish[m.id] is not None:
            assert finish[m.id] >= max(own_finish(m, AS_OF), AS_OF)
