"""Escalation (挂账督办): steps by working days overdue on a hand-built Chinese calendar, who
must act up the unit tree, and what is already recorded."""
from __future__ import annotations

from datetime import date

import pytest

from audit.time_model import Calendar, working_days_between
from owners.escalation_model import (
    EscalationDue,
    IssueForEscalation,
    Target,
    Thresholds,
    UnitNode,
    UnitTreeBroken,
    chase_list,
    due_escalations,
    escalation_step,
    escalation_target,
    thresholds_from_reviews,
    thresholds_from_settings,
    unit_chains,
)

D = date.fromisoformat

# 2026: Mid-Autumn Fri 25 Sep; National Day Thu 1 – Wed 7 Oct; make-up working days Sun 20 Sep
# and Sat 10 Oct (the published schedule, entered by hand).
CAL = Calendar(
    holidays=frozenset(map(D, ["2026-09-25", "2026-10-01", "2026-10-02", "2026-10-05",
                               "2026-10-06", "2026-10-07"])),
    make_up_days=frozenset(map(D, ["2026-09-20", "2026-10-10"])),
    published_years=frozenset({2026}))

# Region 1 (head 100) → city 2 (head 200) → counties 3 (head 300) and 4 (no head).
UNITS = [UnitNode(1, None, 100), UnitNode(2, 1, 200), UnitNode(3, 2, 300),
         {"id": 4, "parent_id": 2, "head_person_id": None}]
HEADS = {1: 100, 2: 200, 3: 300, 4: None}


@pytest.mark.parametrize("days, step", [
    (None, None), (-1, None), (0, "reminder"), (9, "reminder"), (10, "letter"),
    (19, "letter"), (20, "summons"), (100, "summons")])
def test_step_reached_by_working_days_overdue_with_default_thresholds(days, step):
    assert escalation_step(days) == step


def test_custom_thresholds_can_delay_the_reminder():
    t = Thresholds(reminder=2, letter=5, summons=8)
    assert [escalation_step(d, t) for d in (1, 2, 5, 8)] == [None, "reminder", "letter",
                                                             "summons"]


def test_thresholds_come_from_settings_and_must_climb():
    assert thresholds_from_settings({"escalation.letter_days": "15"}) == Thresholds(0, 15, 20)
    assert thresholds_from_settings({}) == Thresholds(0, 10, 20)
    with pytest.raises(ValueError):
        Thresholds(reminder=0, letter=20, summons=10)


def test_red_at_consecutive_reviews_converts_to_working_days_overdue():
    # Weekly reviews (5 working days): letter at the 3rd red review in a row, summons at the 5th.
    assert thresholds_from_reviews(3, 5, 5) == Thresholds(0, 10, 20)


def test_overdue_working_days_skip_national_day_and_count_the_make_up_saturday():
    # Deadline Wed 30 Sep: 1–7 Oct are off; Thu 8, Fri 9, Sat 10 (make-up), Mon 12 count.
    assert working_days_between(CAL, D("2026-09-30"), D("2026-10-07")) == 0
    assert working_days_between(CAL, D("2026-09-30"), D("2026-10-10")) == 3
    assert working_days_between(CAL, D("2026-09-30"), D("2026-10-12")) == 4


@pytest.mark.parametrize("as_of, step, days", [
    ("2026-09-30", None, None),         # due today: not overdue
    ("2026-10-01", "reminder", 0),      # overdue during the holiday: reminder at once
    ("2026-10-19", "reminder", 9),      # 8,9,10(Sat),12–16,19
    ("2026-10-20", "letter", 10),       # without the make-up Saturday this would be 21 Oct
    ("2026-11-02", "letter", 19),
    ("2026-11-03", "summons", 20),      # 21–23, 26–30 Oct, 2–3 Nov
])
def test_step_by_date_across_national_day(as_of, step, days):
    issue = IssueForEscalation(1, "Q1", 3, 301, D("2026-09-30"), "in_progress")
    dues = due_escalations([issue], UNITS, CAL, D(as_of))
    assert [(e.step, e.overdue_working_days) for e in dues] == ([] if step is None
                                                               else [(step, days)])


def test_unit_chains_run_from_the_unit_up_to_the_root():
    assert unit_chains(UNITS) == {1: [1], 2: [2, 1], 3: [3, 2, 1], 4: [4, 2, 1]}


def test_a_loop_or_a_missing_parent_in_the_unit_tree_is_refused():
    with pytest.raises(UnitTreeBroken):
        unit_chains([UnitNode(1, 2), UnitNode(2, 1)])
    with pytest.raises(UnitTreeBroken):
        unit_chains([UnitNode(1, 9)])


def test_targets_climb_from_responsible_person_to_unit_head_to_region_head():
    chain = [3, 2, 1]
    assert escalation_target(chain, HEADS, 301, "reminder") == Target(301, 3)
    assert escalation_target(chain, HEADS, 301, "letter") == Target(300, 3)
    assert escalation_target(chain, HEADS, 301, "summons") == Target(100, 1)


def test_letter_skips_a_unit_without_head_or_headed_by_the_responsible_person():
    assert escalation_target([4, 2, 1], HEADS, 401, "letter") == Target(200, 2)
    assert escalation_target([3, 2, 1], HEADS, 300, "letter") == Target(200, 2)


def test_reminder_without_responsible_person_goes_to_the_unit_head():
    assert escalation_target([3, 2, 1], HEADS, None, "reminder") == Target(300, 3)


def _issues():
    return [
        IssueForEscalation(1, "Q1", 3, 301, D("2026-09-30"), "in_progress"),   # letter (10)
        IssueForEscalation(2, "Q2", 3, 302, D("2026-10-16"), "not_started"),   # reminder (2)
        IssueForEscalation(3, "Q3", 3, 301, D("2026-09-30"), "closed"),        # closed
        IssueForEscalation(4, "Q4", 3, 301, None, "in_progress"),              # no deadline
        {"id": 5, "code": "Q5", "unit_id": 4, "responsible_person_id": 401,
         "deadline": "2026-09-01", "status": "submitted"},                     # summons (31)
        IssueForEscalation(6, "Q6", 3, 301, D("2026-09-30"), "in_progress"),   # letter recorded
        IssueForEscalation(7, "Q7", 3, 301, D("2026-09-30"), "in_progress"),   # reminder recorded
    ]


def test_due_escalations_list_the_step_reached_and_who_must_act_skipping_recorded_steps():
    recorded = {(6, "reminder"), (6, "letter"), (7, "reminder")}
    dues = due_escalations(_issues(), UNITS, CAL, D("2026-10-20"), Thresholds(), recorded)
    # Q5: Sep 2–4 (3), 7–11 (8), 14–18 (13), Sun 20 make-up (14), 21–24 (18), 28–30 (21),
    # then 10 working days in October as for Q1: 31.
    assert [(e.code, e.step, e.overdue_working_days, e.target_person_id, e.target_unit_id)
            for e in dues] == [
        ("Q5", "summons", 31, 100, 1),
        ("Q1", "letter", 10, 300, 3),
        ("Q7", "letter", 10, 300, 3),
        ("Q2", "reminder", 2, 302, 3),
    ]
    skipped = {e.code: e.skipped for e in dues}
    assert skipped == {"Q5": ("reminder", "letter"), "Q1": ("reminder",), "Q7": (),
                       "Q2": ()}


def test_chase_list_groups_what_each_person_must_chase():
    dues = due_escalations(_issues(), UNITS, CAL, D("2026-10-20"),
                           already_recorded={(6, "letter")})
    chase = chase_list(dues)
    assert {p: [e.code for e in es] for p, es in chase.items()} == {
        100: ["Q5"], 300: ["Q1", "Q7"], 302: ["Q2"]}  # Q6's letter is already recorded
    assert all(isinstance(e, EscalationDue) for es in chase.values() for e in es)


def test_steps_with_nobody_to_send_to_are_grouped_under_none():
    units = [UnitNode(1, None, None)]
    dues = due_escalations([IssueForEscalation(1, "Q1", 1, None, D("2026-09-30"), "in_progress")],
                           units, CAL, D("2026-10-08"))
    assert list(chase_list(dues)) == [None]


def test_issue_in_an_unknown_unit_is_refused():
    with pytest.raises(UnitTreeBroken):
        due_escalations([IssueForEscalation(1, "Q1", 9, 5, D("2026-09-30"), "in_progress")],
                        UNITS, CAL, D("2026-10-08"))
