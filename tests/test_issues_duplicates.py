"""Likely duplicates between the work streams and across years (屡审屡犯): hand-built pairs are
clustered with their evidence and unrelated findings are not; confirming merges through the
merge service and keeps everything; a rejection is remembered; a merge can be undone; the 并轨
report counts what came in, what was merged and what remains."""
from __future__ import annotations

from datetime import date

import pytest

from audit.model import NotPermitted, ValidationFailed
from audit.store import history
from audit.views import scope_for
from issues import duplicates_views as duplicates
from issues import merge_service, store
from issues.duplicates_views import bigrams, cosine, find_duplicates, merge_report
from issues.merge_service import confirm_cluster, reject_cluster
from tests.programme import build

AT = "2026-11-25T10:00:00+08:00"


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    lead = p.actors["lead"]
    ids = {}
    # The same finding, worded differently by the two work streams (same unit, same category).
    ids["audit"] = p.new_issue("外包合同未经法律审核即签订", unit="A", streams=("audit",),
                               sources=("AUD2025",))
    ids["cleanup"] = p.new_issue("外包合同未经法审即签订", unit="A", streams=("cleanup",),
                                 sources=("AUD2025",), focus=("F5",))
    # A finding that came back a year later in the same unit (屡审屡犯).
    ids["2024"] = p.new_issue("承包商考核扣罚未按合同执行", unit="B", aspect="C2.1",
                              sources=("AUD2024",))
    ids["2025"] = p.new_issue("承包商考核扣罚仍未按合同执行", unit="B", aspect="C2.1",
                              sources=("AUD2025",))
    # Unrelated: other words; the same words in another city; the same words in another
    # category.
    ids["other"] = p.new_issue("外包人员未经安全培训上岗", unit="A", aspect="C1.2")
    ids["other_city"] = p.new_issue("外包合同未经法律审核即签订", unit="B")
    ids["other_category"] = p.new_issue("承包商考核扣罚未按合同执行", unit="B", aspect="C1.1")
    for key in ("audit", "cleanup"):
        p.assign(ids[key], deadline="2026-06-30")
    p.ids = ids
    p.m_cleanup = p.measure(ids["cleanup"], deadline="2026-05-01", title="修订合同范本")
    p.m_audit = p.measure(ids["audit"], deadline="2026-06-01", title="补充法律审核")
    del lead
    return p


def clusters_as_sets(p, **kw) -> list[set[int]]:
    return [set(c.issue_ids) for c in find_duplicates(p.db, **kw)]


def test_bigrams_and_cosine_see_the_shared_wording():
    a, b = bigrams("外包合同未经法律审核"), bigrams("外包合同，未经法审！")
    assert {"外包", "合同", "未经"} <= a & b
    assert 0.4 < cosine(a, b) < 1.0
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, frozenset()) == 0.0


def test_the_same_finding_from_both_streams_and_a_recurring_one_are_clustered(prog):
    found = clusters_as_sets(prog)
    i = prog.ids
    assert {i["audit"], i["cleanup"]} in found
    assert {i["2024"], i["2025"]} in found
    assert len(found) == 2


def test_a_cluster_carries_its_evidence(prog):
    i = prog.ids
    by_members = {frozenset(c.issue_ids): c for c in find_duplicates(prog.db)}
    streams = by_members[frozenset({i["audit"], i["cleanup"]})]
    [pair] = streams.pairs
    assert pair.same_unit and pair.same_city and pair.same_category
    assert {"外包", "合同", "未经"} <= set(pair.shared)
    assert pair.score == pytest.approx(min(1.0, pair.text_score + duplicates.SAME_UNIT_BONUS))
    assert streams.cross_stream and not streams.recurring
    recurring = by_members[frozenset({i["2024"], i["2025"]})]
    assert recurring.recurring
    assert [x["years"] for x in recurring.issues] == [[2024], [2025]]


def test_unrelated_findings_are_not_proposed_at_any_threshold_above_the_noise(prog):
    i = prog.ids
    members = set().union(*clusters_as_sets(prog, threshold=0.3))
    assert i["other"] not in members
    assert i["other_city"] not in members        # another city: another finding
    assert i["other_category"] not in members    # another category: not compared


def test_only_issues_of_the_same_category_and_city_are_compared(prog, monkeypatch):
    seen = []
    real = duplicates._block_edges

    def spy(block, grams, threshold, rejected):
        seen.append({(d["category_id"], d["city_id"]) for d in block})
        return real(block, grams, threshold, rejected)

    monkeypatch.setattr(duplicates, "_block_edges", spy)
    find_duplicates(prog.db)
    assert seen and all(len(keys) == 1 for keys in seen)


def test_a_county_counts_with_its_city(prog):
    county = prog.new_issue("外包合同未经法律审核即签订", unit="A1")
    found = [s for s in clusters_as_sets(prog) if prog.ids["audit"] in s]
    assert county in found[0]


def test_confirming_merges_into_the_survivor_and_keeps_sources_streams_measures(prog):
    i = prog.ids
    cluster = next(c for c in find_duplicates(prog.db) if i["audit"] in c.issue_ids)
    assert cluster.suggested_survivor == i["audit"]   # both open: the earlier one
    [merge_id] = confirm_cluster(prog.db, prog.actors["lead"], cluster, i["audit"], AT)
    d = store.issue_detail(prog.db, i["audit"])
    assert [s["code"] for s in d["streams"]] == ["cleanup", "audit"]
    assert [f["code"] for f in d["focus"]] == ["F1", "F5"]
    assert sorted(m["id"] for m in d["measures"]) == sorted([prog.m_audit, prog.m_cleanup])
    assert [m["code"] for m in d["merged_from"]] == [store.issue_detail(
        prog.db, i["cleanup"])["code"]]
    timeline = store.issue_timeline(prog.db, i["audit"])
    assert any(r["entity_id"] == i["cleanup"] and r["action"] == "issue.create"
               for r in timeline)
    assert merge_id and history.verify(prog.db).ok
    # Once merged, the pair is no longer proposed.
    assert all(i["cleanup"] not in s for s in clusters_as_sets(prog))


def test_a_cluster_merges_all_or_nothing(prog):
    i = prog.ids
    prog.db.conn.execute("UPDATE issues SET status = 'closed' WHERE id = ?", (i["2024"],))
    before = prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    with pytest.raises(ValidationFailed):
        # A closed survivor cannot absorb an open finding: refused, nothing merged.
        confirm_cluster(prog.db, prog.actors["lead"], [i["2024"], i["2025"]], i["2024"], AT)
    assert prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == before
    assert prog.db.conn.execute("SELECT COUNT(*) FROM merges").fetchone()[0] == 0


def test_the_survivor_must_be_in_the_cluster(prog):
    with pytest.raises(ValidationFailed):
        confirm_cluster(prog.db, prog.actors["lead"], [prog.ids["2024"], prog.ids["2025"]],
                        prog.ids["other"], AT)


def test_a_rejected_cluster_is_remembered_and_not_proposed_again(prog):
    i = prog.ids
    cluster = next(c for c in find_duplicates(prog.db) if i["2024"] in c.issue_ids)
    assert reject_cluster(prog.db, prog.actors["lead"], cluster, AT) == 1
    assert {i["2024"], i["2025"]} not in clusters_as_sets(prog)
    assert reject_cluster(prog.db, prog.actors["lead"], cluster, AT) == 0
    rec = prog.db.conn.execute("SELECT actor, action FROM history WHERE entity = 'duplicate'"
                               ).fetchall()
    assert rec == [("lead", "duplicate.reject")]
    # A third, similar finding is still proposed with one of them.
    third = prog.new_issue("承包商考核扣罚未按合同执行整改", unit="B", aspect="C2.1")
    assert any(third in s for s in clusters_as_sets(prog))


def test_a_rectifier_may_neither_merge_nor_reject(prog):
    ids = [prog.ids["2024"], prog.ids["2025"]]
    with pytest.raises(NotPermitted):
        confirm_cluster(prog.db, prog.actors["rect"], ids, ids[0], AT)
    with pytest.raises(NotPermitted):
        reject_cluster(prog.db, prog.actors["rect"], ids, AT)


def test_undo_gives_back_both_issues_and_the_cluster_is_proposed_again(prog):
    i = prog.ids
    [merge_id] = confirm_cluster(prog.db, prog.actors["lead"], [i["audit"], i["cleanup"]],
                                 i["audit"], AT)
    merge_service.undo_merge(prog.db, prog.actors["lead"], merge_id, at="2026-11-25T11:00:00+08:00")
    assert store.issue_detail(prog.db, i["cleanup"])["merged_into_id"] is None
    assert [m["id"] for m in store.issue_detail(prog.db, i["cleanup"])["measures"]] == \
        [prog.m_cleanup]
    assert {i["audit"], i["cleanup"]} in clusters_as_sets(prog)


def test_the_report_counts_findings_in_merged_recurring_and_the_final_track(prog):
    i = prog.ids
    confirm_cluster(prog.db, prog.actors["lead"], [i["audit"], i["cleanup"]], i["audit"], AT)
    confirm_cluster(prog.db, prog.actors["lead"], [i["2024"], i["2025"]], i["2025"], AT)
    scope = scope_for(prog.db)
    report = merge_report(prog.db, scope, date(2026, 11, 25))
    assert report["findings_in"] == 7
    assert report["merged"] == 2
    assert report["issues"] == 5
    assert report["recurring"] == 1     # the kept 2025 finding now has 2024 and 2025 sources
    assert (report["categories"], report["aspects"]) == (2, 3)
    before = merge_report(prog.db, scope, date(2026, 11, 24))
    assert (before["merged"], before["issues"]) == (0, 7)


def test_clusters_are_numbered_strongest_first(prog):
    clusters = find_duplicates(prog.db)
    assert [c.number for c in clusters] == list(range(1, len(clusters) + 1))
    assert [c.best for c in clusters] == sorted((c.best for c in clusters), reverse=True)
    assert duplicates.cluster_by_number(clusters, 1) is clusters[0]
    with pytest.raises(ValidationFailed):
        duplicates.cluster_by_number(clusters, 99)


def test_issues_merge_service_is_what_confirm_uses(prog, monkeypatch):
    calls = []
    real = merge_service.merge_issues

    def spy(*a, **kw):
        calls.append(a[2:4])
        return real(*a, **kw)

    monkeypatch.setattr(merge_service, "merge_issues", spy)
    confirm_cluster(prog.db, prog.actors["lead"], [prog.ids["2024"], prog.ids["2025"]],
                    prog.ids["2025"], AT)
    assert calls == [(prog.ids["2025"], prog.ids["2024"])]


def test_the_merge_page_shows_clusters_with_evidence_and_merges_on_confirm(prog, make_app):
    from tests.conftest import open_page, sign_in
    from tests.programme import PASSWORD
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = sign_in(make_app(prog.path), "lead", PASSWORD)
    app = open_page(app, "merge")
    assert not app.exception, app.exception
    assert app.title[0].value == "并轨与查重"
    assert [m.value for m in app.metric][:1] == ["7"]
    key = next(b.key for b in app.button if b.key and b.key.startswith("issues.merge.merge."))
    app.button(key=key).click()
    app.run()
    assert not app.exception, app.exception
    assert any("已合并" in s.value for s in app.success)
    assert prog.db.conn.execute("SELECT COUNT(*) FROM merges").fetchone()[0] == 1


def test_clusters_without_their_issues_are_the_same_clusters_and_read_them_on_demand(prog):
    full = find_duplicates(prog.db)
    slim = find_duplicates(prog.db, with_issues=False)
    assert all(c.issues == [] for c in slim)
    assert [(c.number, c.issue_ids, c.pairs, c.suggested_survivor, c.recurring,
             c.cross_stream, c.codes) for c in slim] == \
        [(c.number, c.issue_ids, c.pairs, c.suggested_survivor, c.recurring,
          c.cross_stream, c.codes) for c in full]
    for c in full:
        assert duplicates.cluster_issues(prog.db, c.issue_ids) == c.issues
        assert list(c.codes) == [i["code"] for i in c.issues]


def test_each_block_is_read_on_its_own(prog, monkeypatch):
    read = []
    real = duplicates._block_issues

    def spy(db, ids):
        read.append(list(ids))
        return real(db, ids)

    monkeypatch.setattr(duplicates, "_block_issues", spy)
    find_duplicates(prog.db)
    assert read and all(len(ids) < 7 for ids in read)


def test_across_units_and_categories_the_same_finding_is_proposed_with_where_it_differs(prog):
    i = prog.ids
    found = {frozenset(c.issue_ids): c for c in find_duplicates(prog.db, across=True)}
    contract = found[frozenset({i["audit"], i["cleanup"], i["other_city"]})]
    assessment = found[frozenset({i["2024"], i["2025"], i["other_category"]})]
    assert len(found) == 2                       # the unrelated finding is still not proposed
    other_city = next(p for p in contract.pairs if i["other_city"] in (p.a, p.b))
    assert not other_city.same_city and not other_city.same_unit and other_city.same_category
    other_category = next(p for p in assessment.pairs if i["other_category"] in (p.a, p.b)
                          and i["2024"] in (p.a, p.b))
    assert other_category.same_unit and not other_category.same_category
    assert assessment.recurring


def test_reworded_findings_are_proposed_at_the_default_threshold(prog):
    # The three rewordings issue 21 found missing at the old default.
    a = prog.new_issue("外包人员共用系统账号", unit="B", aspect="C2.1")
    b = prog.new_issue("外包人员混用系统账号", unit="B", aspect="C2.1")
    c = prog.new_issue("多名承包人员共享同一系统账号登录", unit="B", aspect="C2.1")
    assert {a, b, c} in clusters_as_sets(prog)


def test_a_rejected_pair_is_not_proposed_across_units_either(prog):
    i = prog.ids
    reject_cluster(prog.db, prog.actors["lead"], [i["audit"], i["other_city"]], AT)
    pairs = {(p.a, p.b) for c in find_duplicates(prog.db, across=True) for p in c.pairs}
    assert tuple(sorted((i["audit"], i["other_city"]))) not in pairs
