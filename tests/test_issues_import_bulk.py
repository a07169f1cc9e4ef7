"""New issues of a ledger import are registered in one batch (issues.create_issues_bulk): each
row is exactly what the per-row services would have stored, under the same rules, and history
still replays every row and answers as-of questions."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from audit import views
from audit.model import (
    AssignmentIncomplete,
    ClosureBlocked,
    NotFound,
    NotPermitted,
    ValidationFailed,
)
from audit.store import history
from issues import bulk_service
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests import ledger_factory as lf
from tests.ledger_factory import table, xlsx_bytes
from tests.test_audit_history import assert_replays_exactly
from tests.test_issues_importer import AT, LATER, do_import, ledger_row, programme_with_city


@pytest.fixture
def prog(tmp_path):
    p = programme_with_city(tmp_path)
    p.causes = [issues.create_cause(p.db, p.actors["lead"], title=t, at=p.at("2026-01-01", 8))
                for t in ("制度缺失", "监督不到位")]
    return p


def full_issue(p, code: str, **over) -> bulk_service.NewIssue:
    """An issue with everything an import gives it, submitted for verification."""
    values = dict(
        aspect_id=p.aspects["C1.1"], unit_id=p.units["A"], title=f"外包合同未签订 {code}",
        code=code, description="描述\n第二行", severity="high", amount_involved=12345.5,
        basis="《办法》", recommendation="建立台账", rectification_type="staged",
        sources=(p.audits["AUD2025"], p.audits["AUD2024"]), streams=("audit", "cleanup"),
        focus=("F3", "F1"), responsible_person_id=p.people["rect_a"],
        supervisor_person_id=p.people["head_a"], deadline=date(2026, 12, 31),
        measures=(bulk_service.NewMeasure("补签合同", p.people["owner_a"], date(2026, 12, 1), True),
                  bulk_service.NewMeasure("建立台账", p.people["rect_a"], "2026-12-20")),
        causes=(p.causes[1], p.causes[0]), progress="已补签两份",
        moves=(Move.START, Move.SUBMIT))
    values.update(over)
    return bulk_service.NewIssue(**values)


def through_services(p, item: bulk_service.NewIssue) -> int:
    """The same issue registered the way an import used to: one service call per step."""
    lead, db = p.actors["lead"], p.db
    iid = issues.create_issue(db, lead, aspect_id=item.aspect_id, title=item.title,
                              unit_id=item.unit_id, description=item.description,
                              severity=item.severity, amount_involved=item.amount_involved,
                              basis=item.basis, recommendation=item.recommendation,
                              rectification_type=item.rectification_type, code=item.code,
                              sources=list(item.sources), streams=list(item.streams),
                              focus=list(item.focus), at=AT)
    owners.assign_issue(db, lead, iid, version=None,
                        responsible_person_id=item.responsible_person_id,
                        supervisor_person_id=item.supervisor_person_id, deadline=item.deadline,
                        at=AT)
    for m in item.measures:
        mid = issues.add_measure(db, lead, iid, title=m.title,
                                 owner_person_id=m.owner_person_id, deadline=m.deadline, at=AT)
        if m.done:
            issues.set_measure_status(db, lead, mid, version=None, status="done", at=AT)
    for cause in item.causes:
        issues.record_root_cause(db, lead, iid, cause_id=cause, at=AT)
    issues.update_progress(db, lead, iid, version=None, progress=item.progress, at=AT)
    for move in item.moves:
        issues.move_issue(db, lead, iid, move, version=None, at=AT)
    return iid


def stored(p, iid: int) -> dict:
    """Every column of an issue and of its measures, and its links; ids, versions, the code
    and the title (which tell the compared issues apart) left out."""
    conn = p.db.conn

    def dicts(sql: str, args: tuple, leave_out: tuple[str, ...]) -> list[dict]:
        cur = conn.execute(sql, args)
        cols = [c[0] for c in cur.description]
        return [{k: v for k, v in zip(cols, r) if k not in leave_out} for r in cur.fetchall()]

    out = {"issue": dicts("SELECT * FROM issues WHERE id = ?", (iid,),
                          ("id", "version", "code", "title"))[0],
           "measures": dicts("SELECT * FROM measures WHERE issue_id = ? ORDER BY id", (iid,),
                             ("id", "version", "issue_id"))}
    for table, column in (("issue_sources", "audit_id"), ("issue_streams", "stream_id"),
                          ("issue_focus", "focus_id"), ("issue_causes", "cause_id")):
        out[table] = sorted(r[0] for r in conn.execute(
            f"SELECT {column} FROM {table} WHERE issue_id = ?", (iid,)))
    return out


# --- the same row as the services ------------------------------------------------------------

def test_a_bulk_created_issue_equals_the_one_the_services_build_in_every_column_and_link(prog):
    item = full_issue(prog, "C1.1.1")
    [bulk] = bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], [item], at=AT)
    one_by_one = through_services(prog, full_issue(prog, "C1.1.2"))
    assert stored(prog, bulk) == stored(prog, one_by_one)
    assert stored(prog, bulk)["issue"]["status"] == "submitted"
    assert prog.db.conn.execute("SELECT version FROM issues WHERE id = ?", (bulk,)
                                ).fetchone()[0] == 1


def test_a_bulk_created_issue_without_moves_or_assignment_equals_create_issue(prog):
    lead = prog.actors["lead"]
    item = bulk_service.NewIssue(aspect_id=prog.aspects["C1.2"], unit_id=prog.units["B"],
                           title="结算依据不足 X", code="C1.2.1")
    [bulk] = bulk_service.create_issues_bulk(prog.db, lead, [item], at=AT)
    single = issues.create_issue(prog.db, lead, aspect_id=prog.aspects["C1.2"],
                                 unit_id=prog.units["B"], title="结算依据不足 Y", at=AT)
    assert stored(prog, bulk) == stored(prog, single)


def test_bulk_ids_are_the_ids_one_by_one_inserts_would_get(prog):
    first = through_services(prog, full_issue(prog, "C1.1.1"))
    ids = bulk_service.create_issues_bulk(prog.db, prog.actors["lead"],
                                    [full_issue(prog, "C1.1.2"), full_issue(prog, "C1.1.3")],
                                    at=AT)
    assert ids == [first + 1, first + 2]


# --- history ---------------------------------------------------------------------------------

def test_an_imported_database_replays_every_row_exactly(prog):
    do_import(prog, lf.field_ledger_xlsx(), "包头台账.xlsx", new_people=True)
    do_import(prog, xlsx_bytes(table(ledger_row(1, 整改状态="待验收"), ledger_row(2),
                                     ledger_row(3, 整改状态="未启动"))))
    # A newer version of the ledger: existing issues change through the per-row services.
    do_import(prog, xlsx_bytes(table(ledger_row(1, 整改状态="待验收"),
                                     ledger_row(2, 整改状态="待验收", 整改时限="2027-01-31"),
                                     ledger_row(3, 整改状态="整改中", 涉及金额="99"))),
              at=LATER)
    assert_replays_exactly(prog.db)
    assert history.verify(prog.db).ok


def test_a_bulk_creation_records_each_row_once_and_its_as_of_fields_apart(prog):
    before = history.anchor(prog.db)[0]
    [iid] = bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], [full_issue(prog, "C1.1.1")],
                                      at=AT)
    recs = prog.db.conn.execute("SELECT op, action, entity, field FROM history WHERE seq > ?",
                                (before,)).fetchall()
    assert len({r[0] for r in recs}) == 1
    issue_fields = [r[3] for r in recs if r[2] == "issue"]
    assert issue_fields[0] == history.ROW and sorted(issue_fields[1:]) == sorted(
        ["status", "deadline", "original_deadline", "responsible_person_id"])
    assert {r[1] for r in recs if r[2] == "measure"} == {"measure.add"}
    assert sum(1 for r in recs if r[2] == "measure" and r[3] == history.ROW) == 2


def test_as_of_state_of_an_imported_issue_holds_after_it_changes(prog):
    do_import(prog, xlsx_bytes(table(ledger_row(1, 整改状态="待验收"))))
    iid = prog.db.conn.execute("SELECT id FROM issues WHERE code = 'C1.1.1'").fetchone()[0]
    issues.move_issue(prog.db, prog.actors["lead2"], iid, Move.RETURN, version=None,
                      reason="佐证不足", at=LATER)
    scope = views.Scope()
    then = {r["code"]: r for r in views.issue_states(prog.db, scope, date(2026, 11, 25))}
    now = {r["code"]: r for r in views.issue_states(prog.db, scope, date(2026, 11, 26))}
    assert then["C1.1.1"]["status"] == "submitted" and now["C1.1.1"]["status"] == "in_progress"
    assert then["C1.1.1"]["deadline"] == now["C1.1.1"]["deadline"] == "2026-12-31"
    assert then["C1.1.1"]["responsible_person_id"] == prog.people["rect_a"]


# --- the rules still hold --------------------------------------------------------------------

@pytest.mark.parametrize("over, error, step", [
    ({"measures": (bulk_service.NewMeasure("补签合同", None, "2026-12-01"),)}, AssignmentIncomplete,
     "status"),
    ({"responsible_person_id": None}, AssignmentIncomplete, "status"),
    ({"moves": (Move.START, Move.SUBMIT, Move.CLOSE)}, NotPermitted, "status"),
    ({"moves": (Move.SUBMIT,)}, "TransitionNotAllowed", "status"),
    ({"code": "C1.2.9"}, ValidationFailed, "create"),
    ({"amount_involved": -1}, ValidationFailed, "create"),
    ({"title": "  "}, ValidationFailed, "create"),
    ({"streams": ("nope",)}, ValidationFailed, "create"),
    ({"sources": (999,)}, NotFound, "create"),
    ({"supervisor_person_id": 999}, ValidationFailed, "assign"),
    ({"deadline": "31/12/2026"}, ValidationFailed, "assign"),
    ({"measures": (bulk_service.NewMeasure("补签合同", 999, "2026-12-01"),)}, ValidationFailed,
     "measures"),
    ({"causes": (999,)}, NotFound, "causes"),
])
def test_bulk_creation_refuses_what_the_services_refuse_and_writes_nothing(prog, over, error,
                                                                          step):
    before = history.anchor(prog.db)
    over = dict(over)
    items = [full_issue(prog, "C1.1.1"), full_issue(prog, over.pop("code", "C1.1.2"), **over)]
    with pytest.raises(Exception) as caught:
        bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], items, at=AT)
    expected = error if isinstance(error, str) else error.__name__
    assert type(caught.value).__name__ == expected
    assert (caught.value.item, caught.value.step) == (1, step)
    assert history.anchor(prog.db) == before
    assert prog.db.conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0] == 0


def test_bulk_creation_checks_role_and_scope(prog):
    with pytest.raises(NotPermitted):
        bulk_service.create_issues_bulk(prog.db, prog.actors["rect"], [full_issue(prog, "C1.1.1")],
                                  at=AT)
    scoped = replace(prog.actors["lead"], scope_unit_ids=frozenset({prog.units["B"]}))
    with pytest.raises(NotPermitted):
        bulk_service.create_issues_bulk(prog.db, scoped, [full_issue(prog, "C1.1.1")], at=AT)


def test_an_inactive_responsible_person_is_refused(prog):
    prog.db.conn.execute("UPDATE people SET active = 0 WHERE id = ?", (prog.people["rect_a"],))
    with pytest.raises(ValidationFailed) as caught:
        bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], [full_issue(prog, "C1.1.1")],
                                  at=AT)
    assert caught.value.field == "responsible_person_id"


def test_a_code_used_twice_in_one_batch_is_refused(prog):
    with pytest.raises(ValidationFailed) as caught:
        bulk_service.create_issues_bulk(prog.db, prog.actors["lead"],
                                  [full_issue(prog, "C1.1.1"), full_issue(prog, "C1.1.1")],
                                  at=AT)
    assert caught.value.item == 1 and "already exists" in str(caught.value)


def test_striking_off_in_bulk_is_the_closers_act_and_needs_the_three_rules(prog):
    item = full_issue(prog, "C1.1.1", moves=(Move.START, Move.SUBMIT, Move.CLOSE))
    # The submitter may not strike off its own submission (segregation of duties)…
    with pytest.raises(NotPermitted):
        bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], [item], at=AT)
    # …another lead may, once 三不放过 holds: a new issue has no evidence nor accountability.
    with pytest.raises(ClosureBlocked) as caught:
        bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], [item], at=AT,
                                  closer=prog.actors["lead2"])
    assert {"accountability", "measure_evidence"} <= set(caught.value.missing)
    # …and a closer whose role may not strike off is refused.
    with pytest.raises(NotPermitted):
        bulk_service.create_issues_bulk(prog.db, prog.actors["lead"], [item], at=AT,
                                  closer=prog.actors["rect"])
