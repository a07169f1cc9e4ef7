"""Assignment, deadlines, extensions and the working-day calendar."""
from __future__ import annotations

from datetime import date

import pytest

from audit import calendar_service
from audit.model import NotPermitted, ValidationFailed
from audit.store import org
from audit.time_model import add_working_days, unpublished_years, working_days_between
from owners import service as owners
from tests.programme import build


@pytest.fixture
def prog(tmp_path):
    return build(tmp_path)


def test_the_calendar_knows_national_day_and_its_make_up_working_day(prog):
    cal = org.load_calendar(prog.db)
    assert not cal.is_working_day(date(2026, 10, 1))
    assert not cal.is_working_day(date(2026, 10, 7))
    assert cal.is_working_day(date(2026, 10, 10))          # Saturday, 调休
    assert not cal.is_working_day(date(2026, 10, 11))      # an ordinary Sunday
    # From Wed 30 Sep, 1–7 Oct are off: 8, 9 (Thu, Fri), 10 (Sat, make-up), 12–16, 19, 20.
    assert add_working_days(cal, date(2026, 9, 30), 10) == date(2026, 10, 20)
    assert working_days_between(cal, date(2026, 9, 30), date(2026, 10, 20)) == 10
    assert working_days_between(cal, date(2026, 9, 30), date(2026, 10, 7)) == 0


def test_a_year_without_a_published_schedule_is_flagged(prog):
    cal = org.load_calendar(prog.db)
    assert cal.is_published(2026) and not cal.is_published(2027)
    assert unpublished_years(cal, [date(2026, 12, 31), date(2027, 3, 1)]) == [2027]


def test_an_admin_corrects_the_calendar_and_confirms_a_year(prog):
    admin = prog.actors["admin"]
    calendar_service.set_calendar_day(prog.db, admin, "2027-02-08", is_working=False, name="春节",
                            at=prog.at("2026-11-20"))
    calendar_service.set_year_published(prog.db, admin, 2027, True, at=prog.at("2026-11-20"))
    cal = org.load_calendar(prog.db)
    assert not cal.is_working_day(date(2027, 2, 8)) and cal.is_published(2027)
    with pytest.raises(NotPermitted):
        calendar_service.set_calendar_day(prog.db, prog.actors["lead"], "2027-02-09", is_working=False,
                                at=prog.at("2026-11-20"))


def test_the_first_deadline_becomes_the_original_one(prog):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    row = prog.db.conn.execute("SELECT deadline, original_deadline FROM issues WHERE id = ?",
                               (iid,)).fetchone()
    assert row == ("2026-06-30", "2026-06-30")


def test_once_work_started_the_deadline_moves_only_by_extension(prog):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    prog.measure(iid, deadline="2026-06-01")
    prog.start(iid)
    with pytest.raises(ValidationFailed) as err:
        owners.assign_issue(prog.db, prog.actors["lead"], iid, version=prog.version(iid),
                            deadline="2026-08-31", at=prog.at("2026-02-01"))
    assert err.value.field == "deadline"
    owners.extend_deadline(prog.db, prog.actors["lead"], iid, version=prog.version(iid),
                           new_deadline="2026-08-31", reason="系统改造周期长",
                           at=prog.at("2026-02-01"))
    row = prog.db.conn.execute("SELECT deadline, original_deadline FROM issues WHERE id = ?",
                               (iid,)).fetchone()
    assert row == ("2026-08-31", "2026-06-30")
    ext = prog.db.conn.execute("SELECT original_deadline, old_deadline, new_deadline, "
                               "approved_by, reason FROM extensions").fetchone()
    assert ext == ("2026-06-30", "2026-06-30", "2026-08-31", prog.actors["lead"].user_id,
                   "系统改造周期长")


@pytest.mark.parametrize("new,reason,field", [
    ("2026-05-01", "提前", "new_deadline"),
    ("2026-08-31", "  ", "reason"),
    ("2026-02-30", "原因", "new_deadline"),
])
def test_an_extension_must_be_later_reasoned_and_a_date(prog, new, reason, field):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    with pytest.raises(ValidationFailed) as err:
        owners.extend_deadline(prog.db, prog.actors["lead"], iid, version=prog.version(iid),
                               new_deadline=new, reason=reason, at=prog.at("2026-02-01"))
    assert err.value.field == field


def test_only_an_audit_lead_approves_an_extension(prog):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    for who in ("rect", "manager", "admin"):
        with pytest.raises(NotPermitted):
            owners.extend_deadline(prog.db, prog.actors[who], iid, version=prog.version(iid),
                                   new_deadline="2026-08-31", reason="x",
                                   at=prog.at("2026-02-01"))


def test_assignment_to_an_unknown_person_names_the_field(prog):
    iid = prog.new_issue()
    with pytest.raises(ValidationFailed) as err:
        owners.assign_issue(prog.db, prog.actors["lead"], iid, version=prog.version(iid),
                            responsible_person_id=99999, at=prog.at("2026-02-01"))
    assert err.value.field == "responsible_person_id"


def test_the_unit_tree_gives_scopes_and_escalation_chains(prog):
    assert org.subtree_ids(prog.db, prog.units["A"]) == {prog.units["A"], prog.units["A1"]}
    chain = [u["code"] for u in org.chain_to_root(prog.db, prog.units["A1"])]
    assert chain == ["A1", "A", "R"]
