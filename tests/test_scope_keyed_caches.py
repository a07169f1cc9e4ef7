"""The page caches of 我的任务, 验收 and 责任人与单位 are keyed on the data version of the
actor's scope (ui.data_key(db, actor.scope_unit_ids)), not of the whole programme: a read kept
under that version equals a fresh read after any sequence of writes (seeded random writes through
the services), and a write in another city leaves the version, so the kept read, as it was."""
from __future__ import annotations

import random
from datetime import date

import pytest

from audit.store import versions
from issues import graph_views, work_views
from issues import service as issues
from owners import views as owner_views
from tests.test_dashboard_partials import KINDS, _setup, _write

AS_OF = date(2026, 2, 5)
ACTORS = ("rect", "rect_b", "manager", "lead")


def _reads(p, name: str) -> dict:
    """What the three pages read for one actor (their cached loaders' bodies)."""
    actor = p.actors[name]
    out = {"issues": work_views.my_issues(p.db, actor, AS_OF),
           "measures": work_views.my_measures(p.db, actor, AS_OF),
           "chase": graph_views.chase_list_for(p.db, actor, AS_OF),
           "tree": owner_views.org_tree(p.db, actor),
           "work": owner_views.workload(p.db, actor, AS_OF),
           "people": owner_views.people(p.db, actor)}
    if name == "lead":
        out["queue"] = work_views.verify_queue(p.db, actor, AS_OF)
        out["submitted"] = work_views.submitted_count(p.db, actor)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_read_kept_under_the_actors_scope_version_equals_a_fresh_read(tmp_path, seed):
    rng = random.Random(seed)
    p, ids, mids = _setup(tmp_path)
    kept: dict = {}
    hits = 0
    for step in range(14):
        kind = rng.choice(KINDS)
        _write(p, ids, mids, kind, rng, step)
        for name in ACTORS:
            key = (name, versions.version_of(p.db, p.actors[name].scope_unit_ids))
            fresh = _reads(p, name)
            if key in kept:
                hits += 1
                assert kept[key] == fresh, (seed, step, kind, name)
            else:
                kept[key] = fresh
    assert hits, "some writes left some scope's version, and so its kept read, as it was"
    p.db.conn.close()


def test_a_progress_note_in_b_leaves_the_a_rectifiers_version(tmp_path):
    p, ids, mids = _setup(tmp_path)
    rect, rect_b = p.actors["rect"], p.actors["rect_b"]
    before = (versions.version_of(p.db, rect.scope_unit_ids),
              versions.version_of(p.db, rect_b.scope_unit_ids))
    b_issue = ids[2]
    issues.update_progress(p.db, p.actors["lead"], b_issue, version=p.version(b_issue),
                           progress="已整改一半", at=p.at("2026-02-02"))
    assert versions.version_of(p.db, rect.scope_unit_ids) == before[0]
    assert versions.version_of(p.db, rect_b.scope_unit_ids) > before[1]
    p.db.conn.close()
