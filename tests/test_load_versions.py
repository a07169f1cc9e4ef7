"""Data versions per unit (audit.store.versions): a write moves the versions of the units it
touches and no others, and a read cached under its scope's version equals a fresh read after
any sequence of writes (the property the page caches rely on)."""
from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from audit.dashboard_views import dashboard_data
from audit.store import versions
from audit.views import Scope
from issues import catalogue_views, graph_views
from issues import service as issues
from tests import programme

AS_OF = date(2026, 2, 5)


def _subtree(p: programme.Programme, code: str) -> frozenset[int]:
    from audit.store import org
    return org.subtree_ids(p.db, p.units[code])


def _setup(tmp: Path) -> tuple[programme.Programme, list[int], list[int]]:
    """Issues in A, A1 and B, each assigned with a measure; a measure of A waits for one of B."""
    p = programme.build(tmp)
    ids, mids = [], []
    for n, unit in enumerate(("A", "A1", "B", "B")):
        i = p.new_issue(f"问题{n}合同未经审核", unit=unit)
        p.assign(i, deadline="2026-03-20", responsible="rect_b" if unit == "B" else "rect_a")
        # B's measures run past their issues' deadline (accepted): A's wait for them.
        mids.append(p.measure(i, deadline="2026-03-25" if unit == "B" else "2026-03-10",
                              owner="rect_b" if unit == "B" else "rect_a",
                              accept_reason="跨部门系统改造" if unit == "B" else None))
        p.start(i)
        ids.append(i)
    issues.add_dependency(p.db, p.actors["lead"], mids[0], mids[2], at=p.at("2026-01-08"))
    return p, ids, mids


def _write(p: programme.Programme, ids: list[int], mids: list[int], kind: str, n: int,
           step: int) -> None:
    lead, at = p.actors["lead"], p.at("2026-02-01", 8, step % 60)
    i, m = ids[n % len(ids)], mids[n % len(mids)]
    if kind == "progress":
        issues.update_progress(p.db, lead, i, version=p.version(i), progress=f"进展{step}", at=at)
    elif kind == "measure_done":
        issues.set_measure_status(p.db, lead, m, version=p.mversion(m), status="done",
                                  completed_on="2026-01-20", at=at)
    elif kind == "measure_doing":
        issues.set_measure_status(p.db, lead, m, version=p.mversion(m), status="doing", at=at)
    elif kind == "deadline":
        issues.edit_measure(p.db, lead, m, version=p.mversion(m), at=at,
                            deadline=f"2026-03-{10 + step % 18:02d}")
    elif kind == "amount":
        issues.edit_issue(p.db, lead, i, version=p.version(i), at=at,
                          amount_involved=float(1000 * (step + 1)))
    elif kind == "new_issue":
        ids.append(p.new_issue(f"新问题{step}结算依据不足", unit=("A", "A1", "B")[n % 3],
                               day="2026-02-01"))
    elif kind == "category":
        issues.create_category(p.db, lead, code=f"C{10 + step}", name=f"新类{step}", at=at)


def _reads(p: programme.Programme, scope: Scope) -> dict:
    actor = p.actors["rect_b"] if scope.unit_ids and p.units["B"] in scope.unit_ids else None
    out = {"dashboard": dashboard_data(p.db, scope, AS_OF, date(2026, 1, 15)),
           "blocked": graph_views.blocked(p.db, scope, AS_OF),
           "dues": graph_views.escalations_due(p.db, scope, AS_OF)}
    if actor is not None:
        found = catalogue_views.search_summary(p.db, actor, as_of=AS_OF, shown=50)
        out["catalogue"] = (found.total, list(found.ids), found.rows, found.tree)
    return out


WRITES = st.lists(st.tuples(st.sampled_from(["progress", "measure_done", "measure_doing",
                                             "deadline", "amount", "new_issue", "category"]),
                            st.integers(0, 20)), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(writes=WRITES)
def test_a_read_cached_under_its_scopes_version_equals_a_fresh_read_after_random_writes(writes):
    tmp = Path(tempfile.mkdtemp(prefix="versions-"))
    try:
        p, ids, mids = _setup(tmp)
        scopes = {"all": Scope(None), "A": Scope(_subtree(p, "A")), "A1": Scope(_subtree(p, "A1")),
                  "B": Scope(_subtree(p, "B"))}
        cache: dict = {}
        for step, (kind, n) in enumerate([("progress", 0)] + writes):
            _write(p, ids, mids, kind, n, step)
            for name, scope in scopes.items():
                key = (name, versions.version_of(p.db, scope.unit_ids))
                fresh = _reads(p, scope)
                if key in cache:
                    assert cache[key] == fresh, (name, kind, step)
                else:
                    cache[key] = fresh
        p.db.conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_progress_note_in_one_city_leaves_the_other_citys_version_and_moves_its_own(tmp_path):
    p, ids, mids = _setup(tmp_path)
    a, b = _subtree(p, "A"), _subtree(p, "B")
    before = {k: versions.version_of(p.db, u) for k, u in (("A", a), ("B", b), ("all", None))}
    b_issue = ids[3]     # in B; no measure dependency reaches it
    issues.update_progress(p.db, p.actors["lead"], b_issue, version=p.version(b_issue),
                           progress="已整改一半", at=p.at("2026-02-02"))
    after = {k: versions.version_of(p.db, u) for k, u in (("A", a), ("B", b), ("all", None))}
    assert after["A"] == before["A"]
    assert after["B"] > before["B"] and after["all"] > before["all"]


def test_a_measure_another_city_waits_for_moves_both_cities(tmp_path):
    p, ids, mids = _setup(tmp_path)
    a = _subtree(p, "A")
    before = versions.version_of(p.db, a)
    m = mids[2]   # B's measure that A's measure depends on
    issues.set_measure_status(p.db, p.actors["lead"], m, version=p.mversion(m), status="doing",
                              at=p.at("2026-02-02"))
    assert versions.version_of(p.db, a) > before


def test_a_change_to_reference_data_or_a_sign_in(tmp_path):
    p, ids, mids = _setup(tmp_path)
    a = _subtree(p, "A")
    before = versions.version_of(p.db, a)
    from audit import login_service
    login_service.authenticate(p.db, "rect", programme.PASSWORD, at=p.at("2026-02-02"))
    assert versions.version_of(p.db, a) == before, "a sign-in changes nothing shown"
    issues.create_category(p.db, p.actors["lead"], code="C9", name="新类", at=p.at("2026-02-02"))
    assert versions.version_of(p.db, a) > before, "reference data moves every scope"
