"""Stored results (issues.stored_views): what is stored equals what the read computes fresh, a
current stored result is served without computing, a write makes only the results it touches
stale, `refresh` brings them back, and a payload not signed with the history key is refused."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audit.store import results, versions
from audit.store.org import subtree_ids
from audit.views import Scope
from issues import duplicates_views, graph_views, stored_views
from issues import service as issues
from tests import programme
from tests.test_load_versions import AS_OF, _setup

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-02-05T09:00:00+08:00"


def _fresh(db, scope: Scope) -> dict:
    inputs = graph_views.load_cause_inputs(db, scope, AS_OF)
    return {"ranking": graph_views.cause_ranking(db, scope, AS_OF, inputs=inputs),
            "blocked": graph_views.blocked(db, scope, AS_OF),
            "dues": graph_views.escalations_due(db, scope, AS_OF),
            "clusters": duplicates_views.find_duplicates(db, with_issues=False)}


def _stored(db, scope: Scope) -> dict:
    return {"ranking": stored_views.cause_inputs(db, scope, AS_OF, at=AT)[1],
            "blocked": stored_views.blocked(db, scope, AS_OF, at=AT),
            "dues": stored_views.escalations_due(db, scope, AS_OF, at=AT),
            "clusters": stored_views.clusters(db, at=AT)}


def _duplicate_pair(p: programme.Programme) -> None:
    for n in range(2):
        p.new_issue("外包合同未经法律审核即签订，合同条款缺失违约责任", unit="B",
                    day="2026-01-05")


def test_refresh_stores_results_equal_to_fresh_reads_and_a_second_refresh_computes_nothing(
        tmp_path):
    p, ids, mids = _setup(tmp_path)
    _duplicate_pair(p)
    done = stored_views.refresh(p.db, AS_OF, at=AT)
    assert {d["name"] for d in done} == {"clusters", "cause_inputs", "blocked",
                                         "escalations_due"}
    assert stored_views.refresh(p.db, AS_OF, at=AT) == []
    for scope in stored_views.watched_scopes(p.db):
        assert _stored(p.db, scope) == _fresh(p.db, scope)
    assert _fresh(p.db, Scope(None))["clusters"], "the programme has a duplicate pair"
    assert _fresh(p.db, Scope(subtree_ids(p.db, p.units["A"])))["blocked"]


def test_a_current_stored_result_is_served_without_computing(tmp_path, monkeypatch):
    p, ids, mids = _setup(tmp_path)
    scope = Scope(subtree_ids(p.db, p.units["A"]))
    first = stored_views.blocked(p.db, scope, AS_OF, at=AT)

    def boom(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(graph_views, "blocked", boom)
    assert stored_views.blocked(p.db, scope, AS_OF, at=AT) == first


def test_a_write_in_one_city_leaves_the_other_citys_results_current(tmp_path):
    p, ids, mids = _setup(tmp_path)
    scopes = [Scope(subtree_ids(p.db, p.units[c])) for c in ("A", "B")]
    stored_views.refresh(p.db, AS_OF, at=AT, scopes=scopes)
    b_issue = ids[3]
    issues.update_progress(p.db, p.actors["lead"], b_issue, version=p.version(b_issue),
                           progress="过半", at=p.at("2026-02-02"))
    done = stored_views.refresh(p.db, AS_OF, at=AT, scopes=scopes)
    keys = {(d["name"], tuple(json.loads(d["key"])["units"] or ())) for d in done
            if d["name"] != "clusters"}
    b_units = tuple(sorted(scopes[1].unit_ids))
    assert keys == {(n, b_units) for n in ("cause_inputs", "blocked", "escalations_due")}
    assert not any(d["name"] == "clusters" for d in done), "a progress note moves no duplicate"
    for scope in scopes:
        assert _stored(p.db, scope) == _fresh(p.db, scope)


def test_a_stored_payload_not_signed_with_the_history_key_is_not_unpickled(tmp_path):
    p, ids, mids = _setup(tmp_path)
    scope = Scope(subtree_ids(p.db, p.units["A"]))
    stored_views.blocked(p.db, scope, AS_OF, at=AT)
    p.db.conn.execute("UPDATE stored_results SET payload = ? WHERE name = 'blocked'",
                      (b"\0" * 32 + b"x\x9c\x03\x00\x00\x00\x00\x01",))
    key = stored_views._scope_key(scope, AS_OF)
    assert results.load(p.db, "blocked", key, versions.version_of(p.db, scope.unit_ids)) \
        is results.MISSING
    assert stored_views.blocked(p.db, scope, AS_OF, at=AT) == graph_views.blocked(p.db, scope,
                                                                                   AS_OF)


def test_the_refresh_command_reports_what_it_computed(tmp_path):
    p, ids, mids = _setup(tmp_path)
    p.db.conn.close()
    run = subprocess.run([sys.executable, "-m", "audit", "refresh", "--db", str(p.path),
                          "--as-of", AS_OF.isoformat(), "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["as_of"] == AS_OF.isoformat() and out["computed"]
    again = subprocess.run([sys.executable, "-m", "audit", "refresh", "--db", str(p.path),
                            "--as-of", AS_OF.isoformat(), "--json"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert json.loads(again.stdout)["computed"] == []


def test_the_background_refresher_stores_results_after_a_write(tmp_path):
    import time
    from issues import refresh_worker
    p, ids, mids = _setup(tmp_path)
    stop = refresh_worker.start(str(p.path), lambda: AS_OF, lambda: AT, seconds=0.2)
    try:
        deadline = time.time() + 60
        scope = Scope(None)
        key = stored_views._scope_key(scope, AS_OF)
        while time.time() < deadline and not stored_views.is_current(p.db, "blocked", key):
            time.sleep(0.2)
        assert stored_views.is_current(p.db, "blocked", key)
    finally:
        stop.set()
