"""The catalogue read model (issues/catalogue.py): every filter, the actor's scope, Chinese
search (trigram for 3+ characters, LIKE for shorter terms, escaped), sorting, the tree counts
and the Excel download of a filtered list."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from audit import login_service, model
from audit.model import ValidationFailed
from audit.store import history
from audit.store.db import database_file
from issues import catalogue_views
from issues import service as issues
from tests import programme

AS_OF = date(2026, 11, 23)


@pytest.fixture
def p(tmp_path):
    """The test programme with five issues whose filters and colours are known:
    green (A), red (B), amber (A1), a title with % and _ (A, no deadline), closed (A)."""
    prog = programme.build(tmp_path)
    ids = {}
    ids["green"] = prog.new_issue("合同未经法律审核", unit="A", aspect="C1.1", amount=1000,
                                  streams=("audit",), focus=("F1",), sources=("AUD2025",))
    prog.assign(ids["green"], deadline="2026-12-31")
    prog.measure(ids["green"], deadline="2026-12-31", owner="owner_a")
    ids["red"] = prog.new_issue("结算单据审核签字不全", unit="B", aspect="C2.1", amount=5000,
                                streams=("cleanup",), focus=("F2",), sources=("AUD2024",))
    prog.assign(ids["red"], deadline="2026-11-01", responsible="rect_b")
    ids["amber"] = prog.new_issue("外包合同先履行后签订", unit="A1", aspect="C1.2", amount=300,
                                  streams=("audit", "cleanup"), focus=("F1", "F3"),
                                  sources=("AUD2024", "AUD2025"))
    prog.assign(ids["amber"], deadline="2026-11-30")
    prog.measure(ids["amber"], deadline="2026-11-30")
    prog.start(ids["amber"])
    ids["odd"] = prog.new_issue("100%_完成率统计口径不一", unit="A", aspect="C1.1", amount=20,
                                sources=("AUD2025",))
    ids["closed"] = prog.new_issue("外包商资质审查不严", unit="A", aspect="C1.2", amount=800,
                                   sources=("AUD2025",))
    prog.full_cycle(ids["closed"], deadline="2026-06-30", done="2026-05-10",
                    closed="2026-05-12")
    prog.ids = ids
    yield prog
    prog.db.conn.close()


def _search(p, who: str = "lead", **kw) -> list[dict]:
    return catalogue_views.search_issues(p.db, p.actors[who], as_of=AS_OF, **kw)


def _ids(found: list[dict]) -> set[int]:
    return {r["id"] for r in found}


def _named(p, *names: str) -> set[int]:
    return {p.ids[n] for n in names}


def test_lead_sees_every_issue_with_its_state_colour_and_names(p):
    found = {r["id"]: r for r in _search(p)}
    assert set(found) == _named(p, "green", "red", "amber", "odd", "closed")
    assert found[p.ids["red"]]["warning"] == "red"
    assert found[p.ids["amber"]]["warning"] == "amber"
    assert found[p.ids["green"]]["warning"] == "green"
    assert found[p.ids["closed"]]["warning"] == "none"
    assert found[p.ids["closed"]]["status"] == "closed"
    assert found[p.ids["red"]]["responsible_name"] == "王五"
    assert found[p.ids["green"]]["unit_name"] == "甲市分公司"
    assert (found[p.ids["green"]]["measures"], found[p.ids["green"]]["measures_done"]) == (1, 0)
    assert (found[p.ids["closed"]]["measures"], found[p.ids["closed"]]["measures_done"]) == (1, 1)


def test_manager_and_rectifier_see_only_their_units_whatever_they_ask_for(p):
    assert _ids(_search(p, "manager")) == _named(p, "green", "amber", "odd", "closed")
    assert _ids(_search(p, "rect_b")) == _named(p, "red")
    # A unit outside the scope narrows to nothing rather than widening the scope.
    assert _search(p, "manager", unit_code="B") == []
    assert _ids(_search(p, "manager", unit_code="A1")) == _named(p, "amber")


def test_unit_filter_includes_descendants(p):
    assert _ids(_search(p, unit_code="A")) == _named(p, "green", "amber", "odd", "closed")
    assert _ids(_search(p, unit_code="A1")) == _named(p, "amber")
    assert _ids(_search(p, unit_code="R")) == _named(p, "green", "red", "amber", "odd",
                                                     "closed")


@pytest.mark.parametrize("filters, expected", [
    ({"category": "C2"}, {"red"}),
    ({"category": "C1"}, {"green", "amber", "odd", "closed"}),
    ({"aspect": "C1.2"}, {"amber", "closed"}),
    ({"stream": "cleanup"}, {"red", "amber"}),
    ({"stream": "audit"}, {"green", "amber", "odd", "closed"}),
    ({"focus": "F3"}, {"amber"}),
    ({"focus": "F1"}, {"green", "amber", "odd", "closed"}),
    ({"status": "in_progress"}, {"amber"}),
    ({"status": ["not_started", "closed"]}, {"green", "red", "odd", "closed"}),
    ({"warning": "red"}, {"red"}),
    ({"warning": ["amber", "green"]}, {"green", "amber", "odd"}),
    ({"warning": "none"}, {"closed"}),
    ({"year": 2024}, {"red", "amber"}),
    ({"year": 2023}, set()),
])
def test_each_filter_selects_its_issues(p, filters, expected):
    assert _ids(_search(p, **filters)) == _named(p, *expected)


def test_owner_filter_matches_responsible_person_or_measure_owner(p):
    assert _ids(_search(p, owner_person_id=p.people["owner_a"])) == _named(p, "green")
    assert _ids(_search(p, owner_person_id=p.people["rect_b"])) == _named(p, "red")
    assert _ids(_search(p, owner_person_id=p.people["rect_a"])) == _named(
        p, "green", "amber", "closed")


def test_source_audit_filter(p):
    assert _ids(_search(p, audit_id=p.audits["AUD2024"])) == _named(p, "red", "amber")


def test_filters_combine(p):
    assert _ids(_search(p, unit_code="A", stream="cleanup", warning="amber")) == \
        _named(p, "amber")
    assert _ids(_search(p, unit_code="A", stream="audit", warning="green")) == \
        _named(p, "green", "odd")


def test_two_character_chinese_words_are_found_by_like(p):
    assert _ids(_search(p, text="合同")) == _named(p, "green", "amber")
    assert _ids(_search(p, text="签订")) == _named(p, "amber")
    assert _ids(_search(p, text="审")) == _named(p, "green", "red", "closed")


def test_three_or_more_characters_use_the_trigram_index(p):
    assert _ids(_search(p, text="法律审核")) == _named(p, "green")
    assert _ids(_search(p, text="先履行后签订")) == _named(p, "amber")
    assert _ids(_search(p, text="不存在的词语")) == set()


def test_mixed_terms_must_all_match(p):
    assert _ids(_search(p, text="合同 先履行")) == _named(p, "amber")
    assert _ids(_search(p, text="合同\u3000法律审核")) == _named(p, "green")
    assert _ids(_search(p, text="合同 结算")) == set()


def test_search_covers_code_description_and_progress(p, at):
    code = p.db.conn.execute("SELECT code FROM issues WHERE id = ?",
                             (p.ids["red"],)).fetchone()[0]
    assert _ids(_search(p, text=code)) == _named(p, "red")
    issues.update_progress(p.db, p.actors["rect_b"], p.ids["red"],
                           version=p.version(p.ids["red"]), progress="已约谈外包商负责人",
                           at=p.at("2026-11-20"))
    assert _ids(_search(p, text="约谈外包商")) == _named(p, "red")
    assert _ids(_search(p, text="约谈")) == _named(p, "red")


def test_like_wildcards_are_matched_literally(p):
    assert _ids(_search(p, text="%")) == _named(p, "odd")
    assert _ids(_search(p, text="_")) == _named(p, "odd")
    assert _ids(_search(p, text="0%")) == _named(p, "odd")
    assert _ids(_search(p, text="%_完成")) == _named(p, "odd")
    assert catalogue_views.like_pattern("5%_\\") == "%5\\%\\_\\\\%"


def test_quotes_and_fts_operators_in_the_search_box_do_not_break_the_query(p):
    assert _ids(_search(p, text='"合同未经"')) == set()
    assert _ids(_search(p, text="合同未经 OR")) == set()
    assert _ids(_search(p, text="NEAR(合同未经法律)")) == set()
    assert _ids(_search(p, text="合同未经*")) == set()


def test_search_respects_the_scope(p):
    assert _search(p, "rect_b", text="合同") == []
    assert _ids(_search(p, "manager", text="结算")) == set()


def test_sort_by_code_deadline_warning_amount_status_and_unit(p):
    def codes(found):
        return [r["id"] for r in found]
    by_code = _search(p)
    assert [r["code"] for r in by_code] == sorted((r["code"] for r in by_code),
                                                  key=model.code_key)
    by_deadline = _search(p, sort="deadline")
    deadlines = [r["deadline"] for r in by_deadline]
    assert deadlines[-1] is None and deadlines[:4] == sorted(deadlines[:4])
    assert codes(_search(p, sort="warning"))[:3] == [p.ids["red"], p.ids["amber"],
                                                      p.ids["green"]]
    assert codes(_search(p, sort="amount")) == [p.ids[n] for n in (
        "red", "green", "closed", "amber", "odd")]
    assert codes(_search(p, sort="amount", descending=True))[0] == p.ids["odd"]
    assert _search(p, sort="status")[-1]["status"] == "closed"
    assert [r["unit_code"] for r in _search(p, sort="unit")] == sorted(
        r["unit_code"] for r in _search(p))
    assert codes(_search(p, sort="code", descending=True)) == codes(by_code)[::-1]
    assert len(_search(p, limit=2)) == 2


def test_codes_sort_numerically():
    assert sorted(["C1.1.10", "C1.1.2", "C10.1.1", "C2.1.1"], key=model.code_key) == \
        ["C1.1.2", "C1.1.10", "C2.1.1", "C10.1.1"]


@pytest.mark.parametrize("kw, field", [({"sort": "colour"}, "sort"),
                                       ({"status": "done"}, "status"),
                                       ({"warning": "blue"}, "warning"),
                                       ({"unit_code": "NOPE"}, "unit"),
                                       ({"category": "C9"}, "category"),
                                       ({"stream": "other"}, "stream")])
def test_unknown_filter_values_are_refused_naming_the_field(p, kw, field):
    with pytest.raises(ValidationFailed) as info:
        _search(p, **kw)
    assert info.value.field == field


def test_tree_counts_issues_by_category_aspect_status_and_colour(p):
    tree = catalogue_views.catalogue_tree(p.db, p.actors["lead"], as_of=AS_OF, sort="amount")
    assert [c["code"] for c in tree] == ["C1", "C2"]
    c1, c2 = tree
    assert (c1["issues"], c1["status_closed"], c1["status_in_progress"],
            c1["status_not_started"]) == (4, 1, 1, 2)
    assert (c1["warning_red"], c1["warning_amber"], c1["warning_green"]) == (0, 1, 2)
    assert [(a["code"], a["issues"]) for a in c1["aspects"]] == [("C1.1", 2), ("C1.2", 2)]
    assert (c2["issues"], c2["warning_red"], c2["amount"]) == (1, 1, 5000)
    scoped = catalogue_views.catalogue_tree(p.db, p.actors["manager"], as_of=AS_OF)
    assert [c["code"] for c in scoped] == ["C1"]


def test_filter_choices_are_limited_to_the_scope(p):
    choices = catalogue_views.filter_choices(p.db, p.actors["manager"])
    assert {u["code"] for u in choices["units"]} == {"A", "A1"}
    assert {x["name"] for x in choices["people"]} == {"张三", "李四", "孙经理"}
    assert choices["years"] == [2025, 2024]
    assert len(choices["focus"]) == 5 and len(choices["streams"]) == 2
    everyone = catalogue_views.filter_choices(p.db, p.actors["lead"])
    assert [u["code"] for u in everyone["units"]][0] == "R"


def test_data_version_changes_with_every_write(p):
    before = history.data_version(p.db)
    issues.update_progress(p.db, p.actors["lead"], p.ids["green"],
                           version=p.version(p.ids["green"]), progress="推进中",
                           at=p.at("2026-11-20"))
    assert history.data_version(p.db) > before
    assert database_file(p.db) == str(p.path)


def test_a_sign_in_does_not_move_the_version_page_caches_are_keyed_on(p):
    from audit.model import LoginFailed
    from audit.store import history
    before, anchor = history.data_version(p.db), history.anchor(p.db)[0]
    login_service.login(p.db, "lead", programme.PASSWORD, p.at("2026-11-20"))
    with pytest.raises(LoginFailed):
        login_service.login(p.db, "lead", "wrong", p.at("2026-11-20"))
    assert history.anchor(p.db)[0] > anchor            # both sign-ins are recorded…
    assert history.data_version(p.db) == before      # …and change nothing a page shows
    issues.update_progress(p.db, p.actors["lead"], p.ids["green"],
                           version=p.version(p.ids["green"]), progress="推进中",
                           at=p.at("2026-11-20"))
    assert history.data_version(p.db) == history.anchor(p.db)[0] > anchor


def test_ledger_workbook_holds_exactly_the_filtered_issues(p):
    wanted = [r["id"] for r in _search(p, text="合同")]
    data = catalogue_views.ledger_workbook(p.db, p.actors["lead"], wanted, as_of=AS_OF, lang="zh",
                                     title="整改台账")
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    codes = [row[1] for row in ws.iter_rows(min_row=3, values_only=True) if row[1]]
    expected = {r["code"] for r in _search(p, text="合同")}
    assert set(codes) == expected and len(codes) == 2


def test_ledger_workbook_never_leaves_the_scope(p):
    data = catalogue_views.ledger_workbook(p.db, p.actors["rect_b"], list(p.ids.values()),
                                     as_of=AS_OF, lang="en", title="Ledger")
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    codes = [row[1] for row in ws.iter_rows(min_row=3, values_only=True) if row[1]]
    assert len(codes) == 1


@pytest.mark.parametrize("sort", catalogue_views.SORTS)
def test_search_summary_keeps_the_first_rows_all_ids_and_the_tree_of_every_issue(p, sort):
    found = _search(p, sort=sort)
    summary = catalogue_views.search_summary(p.db, p.actors["lead"], as_of=AS_OF, shown=2, sort=sort)
    assert summary.total == len(found) == 5
    assert list(summary.ids) == [r["id"] for r in found]
    assert summary.rows == found[:2]
    assert summary.tree == catalogue_views.tree_from_rows(found)


def test_search_summary_refuses_what_search_issues_refuses(p):
    with pytest.raises(ValidationFailed) as info:
        catalogue_views.search_summary(p.db, p.actors["lead"], as_of=AS_OF, shown=2, sort="colour")
    assert info.value.field == "sort"
