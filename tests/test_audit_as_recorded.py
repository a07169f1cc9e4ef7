"""Issue 15: as of a date means as recorded on that date, for every field. The summary, the
dashboard's figures and charts and the review pack's tables are made for a date D, then the
programme is changed after D in every way the catalogue can change (amount, title, severity,
type, aspect and so category, unit, responsible person, streams, focus points), and
the same things are made again for D: they must be equal. With today's classification asked
for explicitly, they differ where the classification changed, and say so."""
from __future__ import annotations

import datetime as dt

import pytest

from audit.dashboard_views import dashboard_data
from audit.views import CURRENT, classification_note, figures, scope_for
from exports.pack_views import gather
from issues import service as issues
from owners import service as owners
from tests.programme import build

D = dt.date(2026, 3, 16)
LATER = "2026-04-02"


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    a = p.new_issue("合同未经法律审核", amount=100_000, focus=("F1",))
    p.full_cycle(a, deadline="2026-03-31", done="2026-03-02", closed="2026-03-04")
    b = p.new_issue("结算单据审核签字不全", unit="B", aspect="C2.1", amount=50_000,
                    streams=("audit", "cleanup"), focus=("F2",))
    p.assign(b, deadline="2026-03-10", responsible="rect_b")
    p.measure(b, deadline="2026-03-10", owner="rect_b")
    p.start(b)
    c = p.new_issue("外包人员共用系统账号", aspect="C1.2", amount=0)
    p.assign(c, deadline="2026-06-30")
    p.ids = (a, b, c)
    yield p
    p.db.conn.close()


def _made_for_d(p, scope_kwargs: dict | None = None) -> dict:
    lead = p.actors["lead"]
    scope = scope_for(p.db, lead, **(scope_kwargs or {}))
    dash = dashboard_data(p.db, scope, D, lang="zh")
    pack = gather(p.db, scope, as_of=D, since=dt.date(2026, 1, 1), lang="zh", label="全区")
    return {
        "summary": figures(p.db, scope, D),
        "dashboard": {k: v for k, v in dash.items() if k != "data_version"},
        "pack": {"figures": pack.figures, "records": [tuple(r) for r in pack.records],
                 "by_category": pack.by_category, "by_unit": pack.by_unit,
                 "by_type": pack.by_type, "streams": pack.streams, "overdue": pack.overdue,
                 "facts": pack.facts},
    }


def _change_everything_after_d(p) -> None:
    lead = p.actors["lead"]
    a, b, c = p.ids
    at = p.at(LATER)
    issues.edit_issue(p.db, lead, b, version=p.version(b), at=at, amount_involved=9_900_000,
                      title="结算单据审核签字不全（已更正）", severity="high",
                      rectification_type="staged", aspect_id=p.aspects["C1.1"],
                      streams=["audit"], focus=["F1", "F3"])
    owners.assign_issue(p.db, lead, b, version=p.version(b), unit_id=p.units["A"],
                        responsible_person_id=p.people["rect_a"],
                        at=p.at(LATER, 11))
    issues.edit_issue(p.db, lead, c, version=p.version(c), at=p.at(LATER, 12),
                      amount_involved=1_234_000, aspect_id=p.aspects["C2.1"])


@pytest.mark.parametrize("scope_kwargs", [None, {"unit_code": "B"}, {"category_codes": ["C2"]},
                                          {"stream": "cleanup"}, {"focus": "F2"}],
                         ids=["region", "unit B", "category C2", "stream", "focus F2"])
def test_what_was_made_for_a_date_is_made_again_the_same_after_later_changes(prog, scope_kwargs):
    before = _made_for_d(prog, scope_kwargs)
    _change_everything_after_d(prog)
    after = _made_for_d(prog, scope_kwargs)
    assert after == before
    # ... and the changes are real: today's figures see them.
    lead = prog.actors["lead"]
    now = figures(prog.db, scope_for(prog.db, lead), dt.date(2026, 4, 3))
    assert now["amount_involved"] == 100_000 + 9_900_000 + 1_234_000
    assert before["summary"]["issues"] >= 1 or scope_kwargs is not None


def test_todays_classification_for_a_past_date_is_an_explicit_labelled_choice(prog):
    lead = prog.actors["lead"]
    recorded = figures(prog.db, scope_for(prog.db, lead, unit_code="B"), D)
    _change_everything_after_d(prog)
    current_scope = scope_for(prog.db, lead, unit_code="B", classification=CURRENT)
    current = figures(prog.db, current_scope, D)
    # Issue b was in unit B on D; today it belongs to A, so with today's classification unit B
    # had no issue on D; as recorded it had one, with its amount of then.
    assert recorded["issues"] == 1 and recorded["amount_involved"] == 50_000
    assert current["issues"] == 0
    assert figures(prog.db, scope_for(prog.db, lead, unit_code="B"), D) == recorded
    assert classification_note(current_scope, "zh") and classification_note(current_scope, "en")
    assert classification_note(scope_for(prog.db, lead), "zh") is None
