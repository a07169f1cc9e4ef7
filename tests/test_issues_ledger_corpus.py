"""A corpus of sixteen ledgers as different offices write them (tests/ledger_corpus.py), each
imported into the hand-built programme by an audit lead with no question asked, into exactly
the programme worked out by hand: issues by category and aspect, statuses, deadlines, amounts,
measures and 四个到人; a second import changes nothing. The last test prints the share of the
corpus imported with no question and the share of column mappings that were right."""
from __future__ import annotations

import pytest

from audit.store import history
from issues import import_store
from issues.import_service import apply_import, plan_import
from tests import ledger_corpus
from tests.ledger_factory import read_ledger
from tests.programme import build

AT = "2026-11-25T10:00:00+08:00"
CASES = ledger_corpus.cases()


def _import(p, case):
    parsed = read_ledger(case.data, case.filename)
    plan = plan_import(p.db, p.actors["lead"], parsed, filename=case.filename)
    return parsed, plan


def _issues(p) -> list[dict]:
    rows = p.db.conn.execute(
        """SELECT i.id, i.code, i.title, i.description, i.status, i.deadline,
                  i.amount_involved, i.rectification_type, i.responsible_person_id,
                  c.name, a.name
           FROM issues i JOIN aspects a ON a.id = i.aspect_id
           JOIN categories c ON c.id = a.category_id ORDER BY i.id""").fetchall()
    out = []
    for r in rows:
        measures = p.db.conn.execute(
            "SELECT m.title, m.owner_person_id, m.deadline, pe.name FROM measures m "
            "LEFT JOIN people pe ON pe.id = m.owner_person_id WHERE m.issue_id = ?",
            (r[0],)).fetchall()
        out.append({"id": r[0], "code": r[1], "title": r[2], "description": r[3],
                    "status": r[4], "deadline": r[5], "amount": r[6], "type": r[7],
                    "responsible": r[8], "category": r[9], "aspect": r[10],
                    "measures": measures})
    return out


def _four(i: dict) -> bool:
    return bool(i["responsible"] and i["deadline"] and i["measures"]
                and all(m[1] and m[2] for m in i["measures"]))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_an_offices_ledger_imports_with_no_question_into_the_programme_worked_out_by_hand(
        tmp_path, case):
    p = build(tmp_path)
    parsed, plan = _import(p, case)
    assert not plan.unresolved(), [q.reason for q in plan.unresolved()]
    got_columns = {m.header: m.field for m in parsed.mappings}
    assert got_columns == case.columns
    apply_import(p.db, p.actors["lead"], plan, AT)
    issues = _issues(p)
    by_aspect: dict = {}
    for i in issues:
        by_aspect[(i["category"], i["aspect"])] = by_aspect.get((i["category"], i["aspect"]),
                                                                0) + 1
    assert by_aspect == case.want("by_aspect")
    status = {i["description"]: i["status"] for i in issues}
    assert status == case.want("status")
    assert sorted(i["deadline"] for i in issues) == case.want("deadlines")
    assert round(sum(i["amount"] for i in issues), 2) == case.want("amount")
    assert sum(len(i["measures"]) for i in issues) == case.want("measures")
    assert sum(1 for i in issues if _four(i)) == case.want("four_met")
    assert plan.counts().get("four_met") == case.want("four_met")
    if "measure_owners" in case.expected:
        owners = {m[0]: m[3] for i in issues for m in i["measures"]
                  if m[0] in case.expected["measure_owners"]}
        assert owners == case.expected["measure_owners"]
    if "types" in case.expected:
        by_title = {i["description"]: i["type"] for i in issues}
        assert [by_title[t["description"]] for t in ledger_corpus.TRUTH] == case.expected["types"]
    if "streams" in case.expected or "focus" in case.expected:
        for t, streams, focus in zip(ledger_corpus.TRUTH, case.expected["streams"],
                                     case.expected["focus"]):
            iid = next(i["id"] for i in issues if i["description"] == t["description"])
            got_s = tuple(r[0] for r in p.db.conn.execute(
                "SELECT s.code FROM issue_streams x JOIN streams s ON s.id = x.stream_id "
                "WHERE x.issue_id = ? ORDER BY s.id", (iid,)))
            got_f = tuple(r[0] for r in p.db.conn.execute(
                "SELECT f.code FROM issue_focus x JOIN focus_points f ON f.id = x.focus_id "
                "WHERE x.issue_id = ? ORDER BY f.code", (iid,)))
            assert (got_s, got_f) == (streams, focus), t["description"]
    if "audits" in case.expected:
        audits = set(p.db.conn.execute(
            "SELECT a.name, a.year, a.level FROM audits a WHERE a.id IN "
            "(SELECT audit_id FROM issue_sources)").fetchall())
        assert audits == case.expected["audits"]
    if "codes" in case.expected:
        assert sorted(i["code"] for i in issues) == case.expected["codes"]
    if case.extras:
        kept = import_store.extras_of(p.db, [i["id"] for i in issues])
        for title, extras in case.extras.items():
            iid = next(i["id"] for i in issues if i["description"] == title)
            assert {h: kept[iid][h] for h in extras} == extras
    # The same file again changes nothing and writes nothing.
    before = history.anchor(p.db)
    parsed, plan = _import(p, case)
    assert not plan.changes_anything and not plan.unresolved()
    apply_import(p.db, p.actors["lead"], plan, "2026-11-26T10:00:00+08:00")
    assert history.anchor(p.db) == before


def test_the_corpus_share_imported_with_no_question_and_of_right_column_mappings(tmp_path):
    no_question = right = total = 0
    for n, case in enumerate(CASES):
        (tmp_path / str(n)).mkdir()
        p = build(tmp_path / str(n))
        parsed, plan = _import(p, case)
        no_question += not plan.unresolved()
        for m in parsed.mappings:
            total += 1
            right += case.columns.get(m.header, "?") == (None if m.asked else m.field)
    print(f"\ncorpus: {len(CASES)} ledgers; imported with no question: "
          f"{no_question}/{len(CASES)} = {no_question / len(CASES):.0%}; column mappings "
          f"right: {right}/{total} = {right / total:.0%}")
    assert len(CASES) >= 15
    assert no_question == len(CASES) and right == total
