"""Batch actions (issues.batch_service): every item's outcome, rows and history equal what the
single action gives on the same data; refusals (scope, ownership, status, 三不放过, a stale
version) stay with their item; the chain verifies."""
from __future__ import annotations

import pytest

from audit.messages import error_text
from audit.model import NotPermitted, StaleEdit, TransitionNotAllowed, ValidationFailed
from audit.store import history
from audit.verify_views import verify_database
from issues import batch_service as batch
from issues import evidence_service
from issues import service as issues
from issues.batch_service import EvidenceFile, Picked
from issues.model import Move
from owners import service as owners
from tests.programme import MAX_UPLOAD, PDF, build

AT = "2026-03-02T10:00:00+08:00"


def scenario(prog) -> dict[str, int]:
    """Five issues of unit A and one of B, in known states: rect's own in progress (two), rect's
    own not started, another person's in A, rect_b's in B; one submitted and closable, one
    submitted without its evidence."""
    ids = {}
    for key, unit, who in (("own1", "A", "rect_a"), ("own2", "A", "rect_a"),
                           ("own_new", "A", "rect_a"), ("other", "A", "owner_a"),
                           ("b", "B", "rect_b")):
        ids[key] = prog.new_issue(f"问题 {key}", unit=unit)
        prog.assign(ids[key], deadline="2026-06-30", responsible=who)
        ids[key + ".m"] = prog.measure(ids[key], deadline="2026-06-15", owner=who)
        if key != "own_new":
            prog.start(ids[key])
    for key in ("ready", "bare"):
        ids[key] = prog.new_issue(f"问题 {key}")
        prog.assign(ids[key], deadline="2026-06-30")
        ids[key + ".m"] = prog.measure(ids[key], deadline="2026-06-15")
        prog.start(ids[key])
        if key == "ready":
            prog.make_closable(ids[key], day="2026-02-01")
        prog.submit(ids[key], "2026-02-02", actor="rect")
    return ids


@pytest.fixture
def twins(tmp_path):
    """The same programme twice: one for the batch, one for the single actions."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = build(tmp_path / "a"), build(tmp_path / "b")
    return (a, scenario(a)), (b, scenario(b))


def picked(prog, ids, keys, *, measures=False) -> list[Picked]:
    out = []
    for k in keys:
        if measures:
            mid = ids[k + ".m"]
            out.append(Picked(mid, prog.mversion(mid), f"M{mid}"))
        else:
            out.append(Picked(ids[k], prog.version(ids[k]), k))
    return out


def single(call) -> tuple:
    """What a single action gave: ('done',) or the refusal's class and words."""
    try:
        call()
    except Exception as exc:   # noqa: BLE001 - every refusal is compared as it came
        return (type(exc).__name__, error_text(exc, "zh"))
    return ("done",)


def outcome(o: batch.Outcome) -> tuple:
    return ("done",) if o.done else (type(o.error).__name__, error_text(o.error, "zh"))


def state(prog) -> dict:
    """The rows a batch may change and history without its sequence, hashes and op ids."""
    db = prog.db.conn
    return {
        "issues": db.execute("SELECT * FROM issues ORDER BY id").fetchall(),
        "measures": db.execute("SELECT * FROM measures ORDER BY id").fetchall(),
        "evidence": db.execute("SELECT id, sha256, issue_id, measure_id, filename FROM evidence "
                               "ORDER BY id").fetchall(),
        "extensions": db.execute("SELECT * FROM extensions ORDER BY id").fetchall(),
        "history": db.execute("SELECT at, actor, action, entity, entity_id, field, old, new "
                              "FROM history ORDER BY seq").fetchall()}


def history_count(prog) -> int:
    return prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]


def test_a_progress_batch_gives_each_item_what_the_single_action_gives(twins):
    (a, ids), (b, _) = twins
    keys = ["own1", "own2", "other", "b", "own_new"]
    items = picked(a, ids, keys)
    # own2 was changed by a lead after the rectifier selected it: stale, refused by itself.
    for prog in (a, b):
        issues.update_progress(prog.db, prog.actors["lead"], ids["own2"],
                               version=prog.version(ids["own2"]), progress="牵头人补充",
                               at="2026-03-02T09:00:00+08:00")
    before = history_count(a)
    got = batch.update_progress(a.db, a.actors["rect"], items, progress="已完成合同梳理", at=AT)
    want = [single(lambda p=p: issues.update_progress(b.db, b.actors["rect"], p.id,
                                                      version=p.version,
                                                      progress="已完成合同梳理", at=AT))
            for p in items]
    assert [outcome(o) for o in got] == want
    assert [o.done for o in got] == [True, False, False, False, True]
    assert isinstance(got[1].error, StaleEdit)
    assert isinstance(got[2].error, NotPermitted) and got[2].error.params["reason"] == "own"
    assert got[3].error.params["reason"] == "scope"
    assert state(a) == state(b)
    assert history_count(a) - before == 2          # one record per changed note
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_measures_are_marked_done_each_with_its_own_evidence_or_not_at_all(twins):
    (a, ids), (b, _) = twins
    keys = ["own1", "own2", "other", "ready"]       # ready's issue is submitted: locked
    items = picked(a, ids, keys, measures=True)
    files = {items[0].id: EvidenceFile("合同清单.pdf", PDF),
             items[1].id: EvidenceFile("坏文件.pdf", b"not a pdf at all")}
    got = batch.mark_measures_done(a.db, a.actors["rect"], items, completed_on="2026-03-01",
                                   evidence=files, evidence_root=a.evidence_root,
                                   max_bytes=MAX_UPLOAD, at=AT)

    def one(p):
        f = files.get(p.id)
        return single(lambda: evidence_service.complete_measure(
            b.db, b.actors["rect"], p.id, version=p.version, completed_on="2026-03-01",
            filename=f.filename if f else None, data=f.data if f else None,
            evidence_root=b.evidence_root, max_bytes=MAX_UPLOAD, at=AT))

    # the single action (evidence_service.complete_measure), each once
    want = [one(p) for p in items]
    assert [outcome(o) for o in got] == want
    assert [o.done for o in got] == [True, False, False, False]
    assert state(a) == state(b)
    # own2's file was refused: its measure stays as it was (nothing half-done)
    status = a.db.conn.execute("SELECT status FROM measures WHERE id = ?",
                               (items[1].id,)).fetchone()[0]
    assert status == "todo"
    ev = a.db.conn.execute("SELECT measure_id FROM evidence WHERE uploaded_at = ?",
                           (AT,)).fetchall()
    assert ev == [(items[0].id,)]
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_a_submit_batch_refuses_the_wrong_status_and_other_peoples_items(twins):
    (a, ids), (b, _) = twins
    items = picked(a, ids, ["own1", "own_new", "other", "ready", "own2"])
    got = batch.submit(a.db, a.actors["rect"], items, at=AT)
    want = [single(lambda p=p: issues.move_issue(b.db, b.actors["rect"], p.id, Move.SUBMIT,
                                                 version=p.version, at=AT)) for p in items]
    assert [outcome(o) for o in got] == want
    assert [o.done for o in got] == [True, False, False, False, True]
    assert isinstance(got[1].error, TransitionNotAllowed)
    assert state(a) == state(b)
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_a_lead_strikes_off_only_what_three_no_let_go_and_duties_allow(twins):
    (a, ids), (b, _) = twins
    items = picked(a, ids, ["ready", "bare", "own1"])
    with pytest.raises(ValidationFailed):
        batch.strike_off(a.db, a.actors["lead"], items, checked=False, at=AT)
    got = batch.strike_off(a.db, a.actors["lead"], items, checked=True, at=AT)
    want = [single(lambda p=p: issues.move_issue(b.db, b.actors["lead"], p.id, Move.CLOSE,
                                                 version=p.version, at=AT)) for p in items]
    assert [outcome(o) for o in got] == want
    assert [o[0] for o in want] == ["done", "ClosureBlocked", "TransitionNotAllowed"]
    assert state(a) == state(b)
    # a rectifier may not strike anything off
    refused = batch.strike_off(a.db, a.actors["rect"], picked(a, ids, ["bare"]), checked=True,
                               at=AT)
    assert isinstance(refused[0].error, NotPermitted)
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_a_lead_returns_many_with_one_reason(twins):
    (a, ids), (b, _) = twins
    items = picked(a, ids, ["ready", "bare", "own1"])
    got = batch.return_items(a.db, a.actors["lead"], items, reason="缺少整改前后对比材料", at=AT)
    want = [single(lambda p=p: issues.move_issue(b.db, b.actors["lead"], p.id, Move.RETURN,
                                                 version=p.version, reason="缺少整改前后对比材料",
                                                 at=AT)) for p in items]
    assert [outcome(o) for o in got] == want
    assert [o.done for o in got] == [True, True, False]
    assert state(a) == state(b)
    blank = batch.return_items(a.db, a.actors["lead"], picked(a, ids, ["own2"]), reason="",
                               at=AT)
    assert isinstance(blank[0].error, TransitionNotAllowed)
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_a_lead_assigns_and_extends_many_as_the_single_actions_do(twins):
    (a, ids), (b, _) = twins
    keys = ["own1", "own_new", "other", "b", "ready"]
    items = picked(a, ids, keys)
    sup = a.people["head_a"]
    got = batch.assign(a.db, a.actors["lead"], items, supervisor_person_id=sup,
                       deadline="2026-07-31", at=AT)
    want = [single(lambda p=p: owners.assign_issue(b.db, b.actors["lead"], p.id,
                                                   version=p.version, supervisor_person_id=sup,
                                                   deadline="2026-07-31", at=AT))
            for p in items]
    assert [outcome(o) for o in got] == want
    assert state(a) == state(b)
    later = "2026-03-02T11:00:00+08:00"
    items = picked(a, ids, keys)
    got = batch.extend(a.db, a.actors["lead"], items, new_deadline="2026-09-30",
                       reason="跨年度合同需重签", at=later)
    want = [single(lambda p=p: owners.extend_deadline(b.db, b.actors["lead"], p.id,
                                                      version=p.version,
                                                      new_deadline="2026-09-30",
                                                      reason="跨年度合同需重签", at=later))
            for p in items]
    assert [outcome(o) for o in got] == want
    assert state(a) == state(b)
    # a rectifier may not assign or extend: every item refused, nothing written
    before = history_count(a)
    refused = batch.extend(a.db, a.actors["rect"], picked(a, ids, ["own1"]),
                           new_deadline="2026-12-31", reason="x", at=later)
    assert isinstance(refused[0].error, NotPermitted)
    assert history_count(a) == before
    with pytest.raises(ValidationFailed):
        batch.assign(a.db, a.actors["lead"], items, at=later)
    assert history.verify(a.db).ok
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_a_rectifier_requests_extensions_and_a_lead_decides_them_in_batches(twins):
    (a, ids), (b, _) = twins
    rect, lead = a.actors["rect"], a.actors["lead"]
    keys = ["own1", "own2", "other", "b"]
    items = picked(a, ids, keys)
    got = batch.request_extension(a.db, rect, items, new_deadline="2026-09-30",
                                  reason="合同重签须经集团审批", at=AT)
    want = [single(lambda p=p: owners.request_extension(
        b.db, b.actors["rect"], p.id, version=p.version, new_deadline="2026-09-30",
        reason="合同重签须经集团审批", at=AT)) for p in items]
    assert [outcome(o) for o in got] == want
    assert [o.done for o in got] == [True, True, False, False]
    # one request waits per issue
    again = batch.request_extension(a.db, rect, picked(a, ids, ["own1"]),
                                    new_deadline="2026-10-31", reason="再延", at=AT)
    assert again[0].error.params["rule"] == "request_pending"
    # a rectifier may not decide; a lead approves one and refuses one (a note is needed)
    assert isinstance(batch.decide_extension_requests(a.db, rect, picked(a, ids, ["own1"]),
                                                      approve=True, at=AT)[0].error,
                      NotPermitted)
    later = "2026-03-02T11:00:00+08:00"
    done = batch.decide_extension_requests(a.db, lead, picked(a, ids, ["own1", "other"]),
                                           approve=True, at=later)
    assert [o.done for o in done] == [True, False]        # other has no request
    no_note = batch.decide_extension_requests(a.db, lead, picked(a, ids, ["own2"]),
                                              approve=False, at=later)
    assert isinstance(no_note[0].error, ValidationFailed)
    refused = batch.decide_extension_requests(a.db, lead, picked(a, ids, ["own2"]),
                                              approve=False, note="理由不充分", at=later)
    assert refused[0].done
    rows = a.db.conn.execute("SELECT issue_id, status, extension_id IS NOT NULL FROM "
                             "extension_requests ORDER BY id").fetchall()
    assert rows == [(ids["own1"], "approved", 1), (ids["own2"], "refused", 0)]
    deadlines = dict(a.db.conn.execute("SELECT id, deadline FROM issues WHERE id IN (?, ?)",
                                       (ids["own1"], ids["own2"])).fetchall())
    assert deadlines == {ids["own1"]: "2026-09-30", ids["own2"]: "2026-06-30"}
    ext = a.db.conn.execute("SELECT original_deadline, new_deadline, reason FROM extensions "
                            "WHERE issue_id = ?", (ids["own1"],)).fetchall()
    assert ext == [("2026-06-30", "2026-09-30", "合同重签须经集团审批")]
    assert verify_database(a.db, evidence_root=a.evidence_root).ok


def test_a_batch_deadline_before_an_items_measures_is_refused_alone_unless_the_lead_gives_a_reason(
        tmp_path):
    """Deadlines that fit in the batch: own_new's measure is due 2026-06-15; a batch deadline of
    2026-05-31 refuses that item alone (the fresh one with no measure is assigned); with the
    lead's reason it is set and recorded."""
    from audit.rules_model import IssueDeadlineMisfit
    p = build(tmp_path)
    ids = scenario(p)
    ids["fresh"] = p.new_issue("问题 fresh")
    got = batch.assign(p.db, p.actors["lead"], picked(p, ids, ["own_new", "fresh"]),
                       deadline="2026-05-31", at=AT)
    assert [(o.label, o.done) for o in got] == [("own_new", False), ("fresh", True)]
    assert isinstance(got[0].error, IssueDeadlineMisfit)
    assert "2026-06-15" in error_text(got[0].error, "zh")
    deadline = lambda k: p.db.conn.execute(  # noqa: E731
        "SELECT deadline FROM issues WHERE id = ?", (ids[k],)).fetchone()[0]
    assert (deadline("own_new"), deadline("fresh")) == ("2026-06-30", "2026-05-31")
    got = batch.assign(p.db, p.actors["lead"], picked(p, ids, ["own_new"]),
                       deadline="2026-05-31", accept_reason="省公司要求5月底前完成", at=AT)
    assert [o.done for o in got] == [True] and deadline("own_new") == "2026-05-31"
    assert p.db.conn.execute("SELECT rule, issue_id, reason FROM rule_acceptances").fetchall() \
        == [("deadline_fit", ids["own_new"], "省公司要求5月底前完成")]
    assert history.verify(p.db).ok
