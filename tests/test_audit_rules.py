"""The rules rectification offices apply, as pure functions (audit.rules_model, docs/RULES.md):
the cap on staged + continuous items at its exact boundary, milestones turning amber and red on
the right working days of China's calendar, red meetings counted, the escalation step they reach,
deadlines that fit, periodic report dates."""
from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from audit.model import ValidationFailed
from audit.rules_model import (
    CapCheck,
    cap_value,
    deadline_misfits,
    item_warning,
    milestone_red_before,
    milestone_warning,
    needs_cap_warning,
    red_count,
    report_dates,
)
from audit.time_model import Calendar
from owners.escalation_model import (
    LETTER,
    REMINDER,
    SUMMONS,
    IssueForEscalation,
    ReviewThresholds,
    UnitNode,
    due_escalations,
    step_for_reds,
)

D = date.fromisoformat
# National Day 2026 as published: Thu 1 – Wed 7 Oct off, Sat 10 Oct a make-up working day.
CAL = Calendar(holidays=frozenset(map(D, ["2026-10-01", "2026-10-02", "2026-10-05",
                                           "2026-10-06", "2026-10-07"])),
               make_up_days=frozenset({D("2026-10-10")}), published_years=frozenset({2026}))
CAP = cap_value("30")


def types(long: int, immediate: int) -> list[str]:
    return ["staged"] * long + ["immediate"] * immediate


def test_the_cap_setting_is_a_whole_percentage_read_as_an_exact_fraction():
    assert cap_value("30") == Fraction(3, 10)
    assert cap_value("") == Fraction(3, 10)
    with pytest.raises(ValidationFailed):
        cap_value("101")
    with pytest.raises(ValidationFailed):
        cap_value("0.3")
    with pytest.raises(ValidationFailed):
        cap_value("三成")


def test_a_new_staged_item_reaching_exactly_thirty_percent_is_not_warned():
    # 2 of 9 before, 3 of 10 after: exactly at the cap.
    assert needs_cap_warning(types(2, 7), CAP, old=None, new="staged", min_items=10) is None


def test_a_new_staged_item_passing_thirty_percent_is_warned():
    check = needs_cap_warning(types(3, 7), CAP, old=None, new="continuous", min_items=10)
    assert check == CapCheck(4, 11, CAP) and check.over
    assert round(check.share, 4) == round(4 / 11, 4)


def test_changing_a_type_counts_the_item_once():
    # 10 items, 2 long: making an immediate one staged gives 3 of 10 (at the cap).
    assert needs_cap_warning(types(2, 8), CAP, old="immediate", new="staged",
                             min_items=10) is None
    # 10 items, 3 long: 4 of 10 passes it.
    assert needs_cap_warning(types(3, 7), CAP, old="immediate", new="staged",
                             min_items=10) == CapCheck(4, 10, CAP)


def test_lowering_the_share_or_moving_between_long_types_is_never_warned():
    assert needs_cap_warning(types(9, 1), CAP, old="staged", new="immediate") is None
    assert needs_cap_warning(types(9, 1), CAP, old="staged", new="continuous") is None
    assert needs_cap_warning(types(9, 1), CAP, old=None, new="immediate") is None


def test_a_programme_below_the_minimum_size_is_not_warned():
    assert needs_cap_warning(types(3, 5), CAP, old=None, new="staged", min_items=10) is None
    assert needs_cap_warning(types(3, 6), CAP, old=None, new="staged",
                             min_items=10) == CapCheck(4, 10, CAP)


def test_a_late_milestone_is_amber_and_red_after_five_working_days_across_national_day():
    due = "2026-09-30"

    def colour(today: str) -> str:
        t = D(today)
        return milestone_warning(due, None, t, milestone_red_before(CAL, t, 5))

    assert colour("2026-09-30") == "green"          # due today: not late yet
    assert colour("2026-10-01") == "amber"          # late; the holiday is no working day
    assert colour("2026-10-07") == "amber"
    # Working days late: 8, 9, 10 (the make-up Saturday), 12 → four; 13 Oct is the fifth.
    assert colour("2026-10-12") == "amber"
    assert colour("2026-10-13") == "red"


def test_the_make_up_saturday_counts_as_a_working_day_late():
    due = "2026-09-28"
    red_fri = milestone_red_before(CAL, D("2026-10-09"), 5)
    red_sat = milestone_red_before(CAL, D("2026-10-10"), 5)
    assert milestone_warning(due, None, D("2026-10-09"), red_fri) == "amber"  # 29, 30, 8, 9
    assert milestone_warning(due, None, D("2026-10-10"), red_sat) == "red"    # … and 10


def test_a_milestone_done_by_the_day_has_no_colour_and_zero_days_means_red_at_once():
    assert milestone_warning("2026-09-30", "2026-10-02", D("2026-10-13"),
                             milestone_red_before(CAL, D("2026-10-13"), 5)) == "none"
    assert milestone_warning("2026-09-30", "2026-10-14", D("2026-10-13"),
                             milestone_red_before(CAL, D("2026-10-13"), 5)) == "red"
    assert milestone_warning("2026-09-30", None, D("2026-10-01"),
                             milestone_red_before(CAL, D("2026-10-01"), 0)) == "red"


def test_the_item_takes_the_worst_of_its_deadline_and_its_milestones():
    assert item_warning("green", ["amber", "green"]) == "amber"
    assert item_warning("amber", ["red"]) == "red"
    assert item_warning("red", ["green"]) == "red"
    assert item_warning("none", ["red"]) == "none"


def test_red_meetings_are_counted_in_total_and_in_a_row():
    c = red_count(["red", "amber", "red", "red"])
    assert (c.meetings, c.reds, c.consecutive, c.ambers) == (4, 3, 2, 1)
    assert red_count(["red", "red", "green"]).consecutive == 0
    assert red_count([]).reds == 0


def test_red_at_two_meetings_running_reaches_the_letter_and_three_the_summons():
    review = ReviewThresholds(letter=2, summons=3)
    assert [step_for_reds(n, review) for n in (0, 1, 2, 3, 4)] == [
        None, REMINDER, LETTER, SUMMONS, SUMMONS]
    assert step_for_reds(5, ReviewThresholds(letter=0, summons=0)) == REMINDER


def test_an_item_red_at_meetings_for_a_late_milestone_escalates_before_its_deadline():
    units = [UnitNode(1, None, 100), UnitNode(2, 1, 200)]
    issue = IssueForEscalation(7, "C1.1.1", 2, 55, D("2026-12-31"), "in_progress")
    as_of = D("2026-10-13")
    assert due_escalations([issue], units, CAL, as_of) == []
    dues = due_escalations([issue], units, CAL, as_of, consecutive_reds={7: 2})
    assert [(d.step, d.target_person_id, d.consecutive_reds) for d in dues] == [
        (LETTER, 200, 2)]
    # Already recorded: nothing more is due until the third red meeting.
    assert due_escalations([issue], units, CAL, as_of, already_recorded={(7, LETTER)},
                           consecutive_reds={7: 2}) == []
    third = due_escalations([issue], units, CAL, as_of, already_recorded={(7, LETTER)},
                            consecutive_reds={7: 3})
    assert [d.step for d in third] == [SUMMONS]


def test_a_measure_due_after_its_issue_or_its_milestone_does_not_fit():
    assert deadline_misfits("2026-10-31", "2026-10-30", None) == [("issue", "2026-10-30")]
    assert deadline_misfits("2026-10-31", "2026-12-31", "2026-10-15") == [
        ("milestone", "2026-10-15")]
    assert deadline_misfits("2026-10-31", "2026-10-01", "2026-10-15") == [
        ("issue", "2026-10-01"), ("milestone", "2026-10-15")]
    assert deadline_misfits("2026-10-30", "2026-10-30", "2026-10-30") == []
    assert deadline_misfits(None, "2026-10-30", None) == []


def test_report_dates_fall_back_to_the_end_of_a_short_month():
    assert report_dates(D("2026-01-31"), 1, 3) == [D("2026-01-31"), D("2026-02-28"),
                                                  D("2026-03-31")]
    assert report_dates(D("2026-11-15"), 3, 3) == [D("2026-11-15"), D("2027-02-15"),
                                                  D("2027-05-15")]
    with pytest.raises(ValidationFailed):
        report_dates(D("2026-01-01"), 0, 3)
