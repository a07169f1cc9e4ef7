"""The dashboard as the sum of per-unit shares kept under each unit's data version
(audit.dashboard_views.scope_partials): after any sequence of writes the kept-and-recomputed
answer equals a computation from scratch, and a write in one unit leaves the other units' shares
as they were kept (not recomputed)."""
from __future__ import annotations

import random
from datetime import date

import pytest

from audit import dashboard_views
from audit.dashboard_views import dashboard_data, scope_partials
from audit.model import AuditError
from audit.store import org
from audit.views import Scope
from issues import service as issues
from tests import programme

AS_OF = date(2026, 2, 5)
COMPARE = date(2026, 1, 20)
KINDS = ("progress", "measure_done", "measure_doing", "deadline", "amount", "new_issue",
         "cause", "assign", "category", "close")


def _subtree(p: programme.Programme, code: str) -> frozenset[int]:
    return org.subtree_ids(p.db, p.units[code])


def _setup(tmp_path) -> tuple[programme.Programme, list[int], list[int]]:
    """Issues in A, A1 and B, assigned, each with a measure, started."""
    p = programme.build(tmp_path)
    ids, mids = [], []
    for n, unit in enumerate(("A", "A1", "B", "B", "A1")):
        i = p.new_issue(f"问题{n}合同未经审核", unit=unit, amount=1000.0 * n)
        p.assign(i, deadline=("2026-01-30", "2026-02-10", "2026-03-20")[n % 3])
        mids.append(p.measure(i, deadline="2026-01-28"))
        p.start(i)
        ids.append(i)
    return p, ids, mids


def _write(p: programme.Programme, ids: list[int], mids: list[int], kind: str,
           rng: random.Random, step: int) -> None:
    """One write of `kind` on a randomly chosen item, through the services; a write the
    services refuse (a closed item, say) records nothing and is skipped."""
    lead, at = p.actors["lead"], p.at("2026-02-01", 8, step % 60)
    i, m = rng.choice(ids), rng.choice(mids)
    try:
        if kind == "progress":
            issues.update_progress(p.db, lead, i, version=p.version(i), progress=f"进展{step}",
                                   at=at)
        elif kind == "measure_done":
            issues.set_measure_status(p.db, lead, m, version=p.mversion(m), status="done",
                                      completed_on="2026-01-20", at=at)
        elif kind == "measure_doing":
            issues.set_measure_status(p.db, lead, m, version=p.mversion(m), status="doing",
                                      at=at)
        elif kind == "deadline":
            issues.edit_measure(p.db, lead, m, version=p.mversion(m), at=at,
                                deadline=f"2026-0{rng.choice((1, 2, 3))}-{rng.randint(10, 28)}")
        elif kind == "amount":
            issues.edit_issue(p.db, lead, i, version=p.version(i), at=at,
                              amount_involved=float(500 * rng.randint(0, 40)))
        elif kind == "new_issue":
            ids.append(p.new_issue(f"新问题{step}结算依据不足", unit=rng.choice(("A", "A1", "B")),
                                   day="2026-02-01", amount=float(100 * step)))
        elif kind == "cause":
            issues.record_root_cause(p.db, lead, i, new_cause_title=f"根源{step % 3}", at=at)
        elif kind == "assign":   # the newest issue: not started yet, so its deadline can move
            i = ids[-1]
            p.assign(i, deadline=f"2026-0{rng.choice((1, 2, 3))}-{rng.randint(10, 28)}",
                     responsible=rng.choice(("rect_a", "rect_b")), day="2026-02-01")
        elif kind == "category":
            issues.create_category(p.db, lead, code=f"C{10 + step}", name=f"新类{step}", at=at)
        elif kind == "close":
            p.make_closable(i, day="2026-02-02", actor="lead")
            p.submit(i, "2026-02-02", actor="lead")
            p.close(i, "2026-02-03")
    except AuditError:
        pass


def _scratch(p: programme.Programme, scope: Scope) -> dict:
    """The dashboard computed from scratch: with a calendar given, nothing is kept or reused."""
    return dashboard_data(p.db, scope, AS_OF, COMPARE, cal=org.load_calendar(p.db))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kept_shares_equal_a_computation_from_scratch_after_random_writes(tmp_path, seed):
    rng = random.Random(seed)
    p, ids, mids = _setup(tmp_path)
    scopes = {"all": Scope(None), "A": Scope(_subtree(p, "A")), "A1": Scope(_subtree(p, "A1")),
              "B": Scope(_subtree(p, "B"))}
    dashboard_views.forget_partials()
    for step in range(14):
        kind = rng.choice(KINDS)
        _write(p, ids, mids, kind, rng, step)
        for name in rng.sample(sorted(scopes), 3):
            kept = dashboard_data(p.db, scopes[name], AS_OF, COMPARE)
            assert kept == _scratch(p, scopes[name]), (seed, step, kind, name)
    p.db.conn.close()


def test_a_write_in_one_unit_leaves_the_other_units_shares_as_kept(tmp_path):
    p, ids, mids = _setup(tmp_path)
    a, b = Scope(_subtree(p, "A")), Scope(_subtree(p, "B"))
    dashboard_views.forget_partials()
    before_a = scope_partials(p.db, a, AS_OF)
    before_b = scope_partials(p.db, b, AS_OF)
    b_issue = ids[2]
    issues.update_progress(p.db, p.actors["lead"], b_issue, version=p.version(b_issue),
                           progress="已整改一半", at=p.at("2026-02-02"))
    after_a = scope_partials(p.db, a, AS_OF)
    after_b = scope_partials(p.db, b, AS_OF)
    assert all(x is y for x, y in zip(before_a, after_a, strict=True)), "A's shares kept"
    assert any(x is not y for x, y in zip(before_b, after_b, strict=True)), "B's recomputed"
    assert dashboard_data(p.db, b, AS_OF) == dashboard_data(p.db, b, AS_OF,
                                                             cal=org.load_calendar(p.db))
    p.db.conn.close()
