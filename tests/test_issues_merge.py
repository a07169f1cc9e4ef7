"""Merging two issues into one (并轨) keeps everything, is recorded, and can be undone until the
merged issue next changes."""
from __future__ import annotations

from datetime import date

import pytest

from audit.model import MergeNotUndoable, NotPermitted, ValidationFailed
from audit.store import history
from audit.views import figures, scope_for
from issues import merge_service, store
from issues import service as issues
from tests.programme import build


@pytest.fixture
def merged(tmp_path):
    p = build(tmp_path)
    lead = p.actors["lead"]
    survivor = p.new_issue("外包合同未经法律审核", streams=("audit",), focus=("F1",),
                           sources=("AUD2025",), day="2026-01-05")
    absorbed = p.new_issue("外包合同未经法审即签订", streams=("cleanup",), focus=("F5",),
                           sources=("AUD2024",), day="2026-01-05", amount=800)
    p.assign(survivor, deadline="2026-06-30")
    p.assign(absorbed, deadline="2026-05-31")
    m1 = p.measure(survivor, deadline="2026-06-01", title="补充法律审核")
    m2 = p.measure(absorbed, deadline="2026-05-01", title="修订合同范本")
    merge_id = merge_service.merge_issues(p.db, lead, survivor, absorbed,
                                   survivor_version=p.version(survivor),
                                   absorbed_version=p.version(absorbed),
                                   at=p.at("2026-02-01"))
    p.ids = {"survivor": survivor, "absorbed": absorbed, "m1": m1, "m2": m2, "merge": merge_id}
    return p


def test_a_merge_keeps_both_sources_both_streams_and_every_measure(merged):
    d = store.issue_detail(merged.db, merged.ids["survivor"])
    assert sorted(s["year"] for s in d["sources"]) == [2024, 2025]
    assert sorted(s["code"] for s in d["streams"]) == ["audit", "cleanup"]
    assert sorted(f["code"] for f in d["focus"]) == ["F1", "F5"]
    assert sorted(m["id"] for m in d["measures"]) == sorted([merged.ids["m1"], merged.ids["m2"]])
    assert d["amount_involved"] == 800
    assert [m["code"] for m in d["merged_from"]] == ["C1.1.2"]


def test_the_merged_issue_shows_the_full_history_of_both(merged):
    timeline = store.issue_timeline(merged.db, merged.ids["survivor"])
    entity_ids = {(r["entity"], r["entity_id"]) for r in timeline}
    assert ("issue", merged.ids["absorbed"]) in entity_ids
    assert ("measure", merged.ids["m2"]) in entity_ids
    assert any(r["action"] == "issue.merge" for r in timeline)
    assert history.verify(merged.db).ok


def test_a_finding_counts_once_after_the_merge_and_twice_before(merged):
    before = figures(merged.db, scope_for(merged.db), date(2026, 1, 31))
    after = figures(merged.db, scope_for(merged.db), date(2026, 2, 1))
    assert (before["issues"], after["issues"]) == (2, 1)


def test_a_merge_can_be_undone_until_the_merged_issue_changes(merged):
    p, ids = merged, merged.ids
    merge_service.undo_merge(p.db, p.actors["lead"], ids["merge"], at=p.at("2026-02-02"))
    s = store.issue_detail(p.db, ids["survivor"])
    a = store.issue_detail(p.db, ids["absorbed"])
    assert [x["code"] for x in s["streams"]] == ["audit"]
    assert [m["id"] for m in a["measures"]] == [ids["m2"]]
    assert a["merged_into_id"] is None and s["amount_involved"] == 0
    with pytest.raises(MergeNotUndoable):
        merge_service.undo_merge(p.db, p.actors["lead"], ids["merge"], at=p.at("2026-02-03"))
    assert history.verify(p.db).ok


def test_a_merge_cannot_be_undone_once_the_merged_issue_changed(merged):
    p, ids = merged, merged.ids
    issues.edit_measure(p.db, p.actors["lead"], ids["m2"], version=p.mversion(ids["m2"]),
                        progress="已完成范本修订初稿", at=p.at("2026-02-02"))
    with pytest.raises(MergeNotUndoable):
        merge_service.undo_merge(p.db, p.actors["lead"], ids["merge"], at=p.at("2026-02-03"))


def test_a_merged_away_issue_cannot_be_edited_or_moved(merged):
    p = merged
    with pytest.raises(ValidationFailed):
        issues.edit_issue(p.db, p.actors["lead"], p.ids["absorbed"], version=None, title="x",
                          at=p.at("2026-02-02"))
    assert issues.allowed_moves(p.db, p.actors["lead"], p.ids["absorbed"]) == []


def test_rectifiers_and_managers_cannot_merge(tmp_path):
    p = build(tmp_path)
    a, b = p.new_issue("甲"), p.new_issue("乙")
    for who in ("rect", "manager"):
        with pytest.raises(NotPermitted):
            merge_service.merge_issues(p.db, p.actors[who], a, b, survivor_version=None,
                                absorbed_version=None, at=p.at("2026-02-01"))
    with pytest.raises(ValidationFailed):
        merge_service.merge_issues(p.db, p.actors["lead"], a, a, survivor_version=None,
                            absorbed_version=None, at=p.at("2026-02-01"))
