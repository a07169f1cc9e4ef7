"""Chart builders: the Vega-Lite they produce, checked through `to_dict()` (no rendering)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import charts as c
from audit import progress_charts as pc

CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

CATEGORY_ROWS = [
    {"category": "C1 外包准入", "status": "not_started", "count": 2},
    {"category": "C1 外包准入", "status": "closed", "count": 5},
    {"category": "C2 外包结算", "status": "in_progress", "count": 3},
    {"category": "C2 外包结算", "status": "ended", "count": 1},
]
STREAM_ROWS = [
    {"stream": "外包专项整治", "status": "submitted", "count": 4},
    {"stream": "外包专项审计整改", "status": "closed", "count": 6},
]
HEAT_ROWS = [
    {"unit": "包头", "category": "C1", "open": 3, "overdue": 1},
    {"unit": "包头", "category": "C2", "open": 0, "overdue": 0},
    {"unit": "赤峰", "category": "C1", "open": 5, "overdue": 4},
]
WARNING_ROWS = [
    {"unit": "包头", "warning": "red", "count": 2},
    {"unit": "包头", "warning": "green", "count": 7},
    {"unit": "乌海", "warning": "amber", "count": 1},
]
MONTH_ROWS = [
    {"month": "2026-09", "on_time": 3, "due": 4},
    {"month": "2026-10", "on_time": 0, "due": 0},
    {"month": "2026-11", "on_time": 1, "due": 4},
]
OWNER_ROWS = [{"owner": f"张{i}（包头）", "open": i, "overdue": i % 3} for i in range(1, 21)]
FOCUS_ROWS = [
    {"focus": "外包单价与结算成本", "closed": 3, "total": 4},
    {"focus": "安全合规与风险防控", "closed": 0, "total": 0},
]
CAUSE_ROWS = [{"cause": f"根源{i}", "open_issues": i, "amount": 10_000.0 * i, "overdue": i % 2}
              for i in range(1, 13)]
WEEK_ROWS = [
    {"week": "2026-11-02", "in_scope": 20, "closed": 2},
    {"week": "2026-11-09", "in_scope": 20, "closed": 4},
    {"week": "2026-11-16", "in_scope": 20, "closed": 6},
    {"week": "2026-11-23", "in_scope": 20, "closed": 8},
]
AGEING_ROWS = [{"bucket": "0–30天", "count": 4}, {"bucket": "180天以上", "count": 1}]

# builder name → (call with rows and lang, the rows it was given)
BUILDERS: dict[str, tuple[Callable[[list[dict[str, Any]], str], Any], list[dict[str, Any]]]] = {
    "status_by_category": (lambda rows, lang: c.status_by_category(rows, lang), CATEGORY_ROWS),
    "status_by_stream": (lambda rows, lang: c.status_by_stream(rows, lang), STREAM_ROWS),
    "heatmap_unit_category": (lambda rows, lang: c.heatmap_unit_category(rows, "open", lang),
                              HEAT_ROWS),
    "warning_by_unit": (lambda rows, lang: c.warning_by_unit(rows, lang), WARNING_ROWS),
    "ageing": (lambda rows, lang: pc.ageing(rows, lang), AGEING_ROWS),
    "on_time_by_month": (lambda rows, lang: pc.on_time_by_month(rows, lang), MONTH_ROWS),
    "workload_by_owner": (lambda rows, lang: c.workload_by_owner(rows, lang=lang),
                          OWNER_ROWS[-15:]),
    "focus_progress": (lambda rows, lang: c.focus_progress(rows, lang), FOCUS_ROWS),
    "cause_ranking": (lambda rows, lang: c.cause_ranking(rows, lang=lang), CAUSE_ROWS[-10:]),
}
ALL_BUILDERS = {**BUILDERS, "burnup": (lambda rows, lang: pc.burnup(rows, lang=lang), WEEK_ROWS)}


@functools.cache
def spec_of(name: str, lang: str = "zh") -> dict[str, Any]:
    """The validated spec of a builder on its sample rows (cached: Altair validation is slow;
    callers must not modify it)."""
    build, rows = ALL_BUILDERS[name]
    return build(rows, lang).to_dict()


# --- spec walking -----------------------------------------------------------------------------

def views(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every unit view (a dict with a mark) in a spec, layers included."""
    if "mark" in spec:
        yield spec
    for child in spec.get("layer", []):
        yield from views(child)


def marks(spec: dict[str, Any]) -> list[str]:
    """The mark types of every view."""
    return [v["mark"]["type"] if isinstance(v["mark"], dict) else v["mark"] for v in views(spec)]


def dataset_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every data row a spec carries (consolidated datasets and inline values)."""
    rows = [r for values in spec.get("datasets", {}).values() for r in values]
    for v in [spec, *views(spec)]:
        rows.extend(v.get("data", {}).get("values", []))
    return rows


def carries(spec: dict[str, Any], row: dict[str, Any]) -> bool:
    """Does some data row of the spec hold every key/value of `row` exactly?"""
    return any(all(r.get(k) == v for k, v in row.items()) for r in dataset_rows(spec))


def params(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every parameter in a spec, wherever it is declared."""
    found = list(spec.get("params", []))
    for v in views(spec):
        if v is not spec:
            found.extend(v.get("params", []))
    return found


def encodings(spec: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    """The encoding of a channel in every view that has it."""
    return [v["encoding"][channel] for v in views(spec) if channel in v.get("encoding", {})]


def titles(spec: dict[str, Any]) -> list[str]:
    """Chart, axis, legend and tooltip titles (the words a reader sees besides the data)."""
    out: list[str] = []
    for v in [spec, *views(spec)]:
        if isinstance(v.get("title"), str):
            out.append(v["title"])
        for enc in v.get("encoding", {}).values():
            for e in enc if isinstance(enc, list) else [enc]:
                if isinstance(e, dict) and isinstance(e.get("title"), str):
                    out.append(e["title"])
    return out


# --- every builder ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_BUILDERS)
def test_every_input_row_is_in_the_specs_data_exactly(name: str) -> None:
    spec = spec_of(name)
    for row in ALL_BUILDERS[name][1]:
        assert carries(spec, row), row


@pytest.mark.parametrize("name", ALL_BUILDERS)
def test_chinese_charts_have_chinese_titles_everywhere(name: str) -> None:
    spec = spec_of(name)
    words = titles(spec)
    assert words
    assert all(CJK.search(w) for w in words), [w for w in words if not CJK.search(w)]


@pytest.mark.parametrize("name", ALL_BUILDERS)
def test_english_charts_contain_no_chinese_when_the_data_has_none(name: str) -> None:
    build, rows = ALL_BUILDERS[name]
    ascii_rows = [{k: (re.sub(CJK, "x", v) if isinstance(v, str) else v) for k, v in r.items()}
                  for r in rows]
    if name == "ageing":
        ascii_rows = pc.ageing_buckets([3, 40], "en")
    text = json.dumps(build(ascii_rows, "en").to_dict(), ensure_ascii=False)
    assert not CJK.search(text), CJK.findall(text)


@pytest.mark.parametrize("name", ALL_BUILDERS)
def test_every_builder_sets_the_cjk_font(name: str) -> None:
    assert spec_of(name)["config"]["font"] == "Noto Sans CJK SC"


@pytest.mark.parametrize("name", ALL_BUILDERS)
def test_nominal_x_labels_are_horizontal(name: str) -> None:
    spec = spec_of(name)
    for x in encodings(spec, "x"):
        if x.get("type") in ("nominal", "ordinal"):
            assert x["axis"]["labelAngle"] == 0, x


@pytest.mark.parametrize("name", BUILDERS)
def test_every_bar_builder_carries_its_named_selection(name: str) -> None:
    spec = spec_of(name)
    selection = c.SELECTIONS[name]
    found = [p for p in params(spec) if p["name"] == selection.name]
    assert len(found) == 1
    assert found[0]["select"]["type"] == "point"
    assert found[0]["select"]["fields"] == list(selection.fields)


@pytest.mark.parametrize("name", BUILDERS)
def test_selection_fields_exist_in_the_data(name: str) -> None:
    data = dataset_rows(spec_of(name))
    for field in c.SELECTIONS[name].fields:
        assert any(field in r for r in data)


@pytest.mark.parametrize("name", ALL_BUILDERS)
@pytest.mark.parametrize("lang, words", [("zh", "暂无数据"), ("en", "No data")])
def test_empty_input_gives_a_no_data_chart(name: str, lang: str, words: str) -> None:
    build, _ = ALL_BUILDERS[name]
    spec = build([], lang).to_dict()
    assert marks(spec) == ["text"]
    assert carries(spec, {"text": words})
    if name in c.SELECTIONS:
        # st.altair_chart(on_select=...) refuses a chart without a selection parameter.
        assert [p["name"] for p in params(spec)] == [c.SELECTIONS[name].name]


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="zh"):
        c.status_by_category(CATEGORY_ROWS, "fr")


def test_dataclass_rows_are_accepted() -> None:
    @dataclasses.dataclass
    class Row:
        category: str
        status: str
        count: int

    spec = c.status_by_category([Row("C1", "closed", 3)]).to_dict()
    assert carries(spec, {"category": "C1", "status": "closed", "count": 3})


def test_for_print_gives_a_fixed_size() -> None:
    spec = c.for_print(pc.ageing(AGEING_ROWS), 500, 300).to_dict()
    assert (spec["width"], spec["height"]) == (500, 300)
    assert c.status_by_category(CATEGORY_ROWS).to_dict()["width"] == "container"


# --- palette and labels -----------------------------------------------------------------------

def test_palette_covers_every_status_and_warning() -> None:
    from audit.model import Status
    from issues.model import Warning
    assert set(c.STATUS_COLOURS) == {s.value for s in Status} == set(c.STATUS_ORDER)
    assert set(c.WARNING_COLOURS) == {w.value for w in Warning} == set(c.WARNING_ORDER)
    colours = [*c.STATUS_COLOURS.values(), *c.WARNING_COLOURS.values()]
    assert all(re.fullmatch("#[0-9A-F]{6}", h) for h in colours)
    assert len(set(c.STATUS_COLOURS.values())) == len(c.STATUS_COLOURS)


def test_status_names_in_chinese_and_english() -> None:
    assert [c.status_label(s) for s in c.STATUS_ORDER] == [
        "未启动", "整改中", "待验收", "已销号", "特殊原因终结"]
    assert [c.warning_label(w) for w in ("red", "amber", "green")] == ["红灯", "黄灯", "绿灯"]
    assert c.status_label("closed", "en") == "Closed"


def test_status_bars_use_the_palette_in_workflow_order() -> None:
    spec = c.status_by_category(CATEGORY_ROWS).to_dict()
    (colour,) = encodings(spec, "color")
    assert colour["scale"]["domain"] == ["未启动", "整改中", "待验收", "已销号", "特殊原因终结"]
    assert colour["scale"]["range"] == [c.STATUS_COLOURS[s] for s in c.STATUS_ORDER]
    assert marks(spec) == ["bar"]
    assert spec["encoding"]["y"]["field"] == "category"
    assert spec["encoding"]["y"]["sort"] == ["C1 外包准入", "C2 外包结算"]
    assert spec["encoding"]["order"]["field"] == "status_rank"
    assert carries(spec, {"status": "ended", "status_label": "特殊原因终结", "status_rank": 4})


def test_status_by_stream_groups_by_stream() -> None:
    spec = c.status_by_stream(STREAM_ROWS, "en").to_dict()
    assert spec["encoding"]["y"]["field"] == "stream"
    assert carries(spec, {"status": "submitted", "status_label": "Awaiting verification"})


def test_warning_bars_use_the_warning_palette() -> None:
    spec = c.warning_by_unit(WARNING_ROWS).to_dict()
    (colour,) = encodings(spec, "color")
    assert colour["scale"]["domain"] == ["红灯", "黄灯", "绿灯"]
    assert colour["scale"]["range"] == [c.WARNING_COLOURS[w] for w in ("red", "amber", "green")]
    assert spec["encoding"]["y"]["sort"] == ["包头", "乌海"]


# --- individual builders ----------------------------------------------------------------------

def test_heatmap_colours_the_chosen_measure() -> None:
    spec = c.heatmap_unit_category(HEAT_ROWS, "overdue").to_dict()
    assert sorted(marks(spec)) == ["rect", "text"]
    rect = next(v for v in views(spec) if v["mark"]["type"] == "rect")
    assert rect["encoding"]["color"]["field"] == "overdue"
    assert rect["encoding"]["y"]["field"] == "unit"
    assert rect["encoding"]["x"]["field"] == "category"
    assert spec["title"] == "各单位各大类逾期问题"


def test_heatmap_refuses_an_unknown_measure() -> None:
    with pytest.raises(ValueError, match="overdue"):
        c.heatmap_unit_category(HEAT_ROWS, "amount")


def test_on_time_rate_is_on_time_over_due() -> None:
    spec = pc.on_time_by_month(MONTH_ROWS).to_dict()
    assert carries(spec, {"month": "2026-09", "rate": 0.75})
    assert carries(spec, {"month": "2026-10", "rate": None})
    # Overall: (3 + 0 + 1) / (4 + 0 + 4) = 0.5
    assert carries(spec, {"rate": 0.5, "text": "总体 50%"})
    assert "bar" in marks(spec) and "rule" in marks(spec)


def test_workload_keeps_the_top_owners_by_open_items() -> None:
    spec = c.workload_by_owner(OWNER_ROWS, top=15).to_dict()
    bars = next(v for v in views(spec) if v["mark"]["type"] == "bar")
    assert bars["encoding"]["y"]["sort"] == [f"张{i}（包头）" for i in range(20, 5, -1)]
    assert not carries(spec, {"owner": "张5（包头）"})
    assert carries(spec, {"owner": "张20（包头）", "open": 20, "overdue": 2})
    assert bars["encoding"]["color"]["scale"]["range"] == [c.OPEN_COLOUR, c.OVERDUE_COLOUR]


def test_focus_progress_labels_closed_over_total() -> None:
    spec = c.focus_progress(FOCUS_ROWS).to_dict()
    assert carries(spec, {"focus": "外包单价与结算成本", "rate": 0.75, "label": "3/4（75%）"})
    assert carries(spec, {"focus": "安全合规与风险防控", "rate": None})


def test_cause_ranking_keeps_the_top_ten_and_shows_amounts_in_wan_yuan() -> None:
    spec = c.cause_ranking(CAUSE_ROWS).to_dict()
    assert not carries(spec, {"cause": "根源2"})
    assert carries(spec, {"cause": "根源12", "amount_10k": 12.0, "label": "12.0万元"})
    assert c.cause_ranking(CAUSE_ROWS, top=3).to_dict()["layer"][0]["encoding"]["y"]["sort"] \
        == ["根源12", "根源11", "根源10"]


def test_ageing_buckets_count_each_age_once() -> None:
    rows = pc.ageing_buckets([0, 30, 31, 60, 61, 90, 91, 180, 181, 1000])
    assert rows == [{"bucket": "0–30天", "count": 2}, {"bucket": "31–60天", "count": 2},
                    {"bucket": "61–90天", "count": 2}, {"bucket": "91–180天", "count": 2},
                    {"bucket": "180天以上", "count": 2}]
    assert pc.ageing_buckets([], "en")[-1] == {"bucket": "over 180 days", "count": 0}


def test_ageing_buckets_refuse_negative_ages() -> None:
    with pytest.raises(ValueError, match="as-of"):
        pc.ageing_buckets([-1])


def test_ageing_keeps_the_bucket_order_given() -> None:
    rows = pc.ageing_buckets([5, 400])
    spec = pc.ageing(rows).to_dict()
    bars = next(v for v in views(spec) if v["mark"]["type"] == "bar")
    assert bars["encoding"]["x"]["sort"] == [r["bucket"] for r in rows]


# --- projection and burn-up -------------------------------------------------------------------

def test_two_a_week_with_twelve_remaining_is_six_weeks_out() -> None:
    p = pc.project_completion(WEEK_ROWS, dt.date(2026, 11, 27))
    # 20 in scope - 8 closed = 12 remaining; closings 2, 2, 2 → 2/week, no spread → 6 weeks.
    assert p["at_this_rate"] and not p["done"]
    assert (p["remaining"], p["rate"], p["rate_sd"]) == (12, 2.0, 0.0)
    assert p["date"] == p["low"] == p["high"] == "2027-01-04"  # 2026-11-23 + 42 days


def test_spread_gives_the_range() -> None:
    weeks = [{"week": "2026-11-09", "in_scope": 20, "closed": 0},
             {"week": "2026-11-16", "in_scope": 20, "closed": 1},
             {"week": "2026-11-23", "in_scope": 20, "closed": 4}]
    p = pc.project_completion(weeks, "2026-11-23")
    # closings 1, 3: mean 2, sd √2; 16 remaining = 112 issue-days:
    # 112/2 = 56 days, 112/3.414 = 32.8 → 33, 112/0.586 = 191.2 → 192
    assert p["rate"] == 2.0 and math.isclose(p["rate_sd"], math.sqrt(2))
    assert p["date"] == "2027-01-18"
    assert p["low"] == "2026-12-26"
    assert p["high"] == "2027-06-03"


def test_no_latest_date_when_the_slow_pace_is_zero() -> None:
    weeks = [{"week": "2026-11-09", "in_scope": 20, "closed": 0},
             {"week": "2026-11-16", "in_scope": 20, "closed": 0},
             {"week": "2026-11-23", "in_scope": 20, "closed": 4}]
    p = pc.project_completion(weeks, "2026-11-23")
    # closings 0, 4: mean 2, sd 2.83 → the slow pace is below zero; 16 remaining → 56 days
    assert p["at_this_rate"] and p["high"] is None and p["date"] == "2027-01-18"


def test_only_the_window_counts() -> None:
    closed = [0, 10, 20, 30, 32, 34, 36, 38, 40, 42]
    start = dt.date(2026, 9, 7)
    weeks = [{"week": start + dt.timedelta(weeks=i), "in_scope": 52, "closed": n}
             for i, n in enumerate(closed)]
    p = pc.project_completion(weeks, "2026-12-31", window_weeks=6)
    assert p["rate"] == 2.0 and p["remaining"] == 10
    assert p["date"] == (start + dt.timedelta(weeks=9, days=35)).isoformat()


def test_a_two_week_gap_counts_as_two_weeks() -> None:
    weeks = [{"week": "2026-11-09", "in_scope": 10, "closed": 0},
             {"week": "2026-11-23", "in_scope": 10, "closed": 4}]
    assert pc.project_completion(weeks, "2026-11-23")["rate"] == 2.0


def test_weeks_after_as_of_are_ignored() -> None:
    later = [*WEEK_ROWS, {"week": "2026-11-30", "in_scope": 20, "closed": 20}]
    assert pc.project_completion(later, "2026-11-27")["remaining"] == 12


def test_no_closings_is_not_at_this_rate() -> None:
    weeks = [{"week": "2026-11-16", "in_scope": 20, "closed": 5},
             {"week": "2026-11-23", "in_scope": 20, "closed": 5}]
    p = pc.project_completion(weeks, "2026-11-23")
    assert p == {**p, "at_this_rate": False, "reason": "no_progress", "remaining": 15}


def test_nothing_remaining_is_done() -> None:
    weeks = [{"week": "2026-11-23", "in_scope": 20, "closed": 20}]
    p = pc.project_completion(weeks, "2026-11-23")
    assert p["done"] and p["at_this_rate"] and p["date"] == "2026-11-23"


def test_too_little_data_is_not_projected() -> None:
    assert pc.project_completion([], "2026-11-23")["reason"] == "no_data"
    one = pc.project_completion(WEEK_ROWS[:1], "2026-11-23")
    assert (one["at_this_rate"], one["reason"]) == (False, "too_few_weeks")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=10),
       st.integers(min_value=1, max_value=40))
def test_projection_range_brackets_the_date(closings: list[int], extra: int) -> None:
    cumulative = [0]
    for n in closings:
        cumulative.append(cumulative[-1] + n)
    start = dt.date(2026, 1, 5)
    weeks = [{"week": start + dt.timedelta(weeks=i), "in_scope": cumulative[-1] + extra,
              "closed": n} for i, n in enumerate(cumulative)]
    p = pc.project_completion(weeks, "2027-01-01")
    if p["at_this_rate"]:
        assert p["low"] <= p["date"] and (p["high"] is None or p["date"] <= p["high"])
        assert p["date"] > weeks[-1]["week"].isoformat()
    else:
        assert p["reason"] == "no_progress"


def test_burnup_draws_scope_closed_deadline_and_projection() -> None:
    projection = pc.project_completion(WEEK_ROWS, "2026-11-23")
    spec = pc.burnup(WEEK_ROWS, dt.date(2027, 3, 31), projection).to_dict()
    kinds = marks(spec)
    assert kinds.count("line") == 2 and "rule" in kinds and "point" in kinds
    line = next(views(spec))
    assert line["transform"][0] == {"fold": ["in_scope", "closed"], "as": ["key", "value"]}
    assert line["encoding"]["color"]["scale"]["range"] == [c.SCOPE_COLOUR, c.CLOSED_COLOUR]
    assert line["encoding"]["color"]["scale"]["domain"] == ["纳入整改", "已销号"]
    assert carries(spec, {"deadline": "2027-03-31"})
    assert carries(spec, {"date": "2027-01-04", "low": "2027-01-04", "high": "2027-01-04"})
    assert not carries(spec, {"text": "按当前速度无法完成"})


def test_burnup_says_not_at_this_rate() -> None:
    stalled = {"at_this_rate": False, "reason": "no_progress"}
    assert carries(pc.burnup(WEEK_ROWS, None, stalled).to_dict(), {"text": "按当前速度无法完成"})
    assert carries(pc.burnup(WEEK_ROWS, None, stalled, "en").to_dict(),
                   {"text": "Not at this rate"})


def test_burnup_without_a_latest_date_says_so() -> None:
    projection = {"at_this_rate": True, "date": "2027-01-25", "low": "2026-12-20", "high": None}
    spec = pc.burnup(WEEK_ROWS, None, projection).to_dict()
    assert carries(spec, {"date": "2027-01-25", "low": "2026-12-20"})
    assert "慢速下无法估计最晚日期" in json.dumps(spec, ensure_ascii=False)


def test_burnup_accepts_date_objects() -> None:
    weeks = [{**w, "week": dt.date.fromisoformat(w["week"])} for w in WEEK_ROWS]
    spec = pc.burnup(weeks).to_dict()
    for w in WEEK_ROWS:
        assert carries(spec, w)


def test_a_projection_after_the_deadline_is_drawn_in_the_warning_colour() -> None:
    projection = pc.project_completion(WEEK_ROWS, "2026-11-23")  # 2027-01-04
    def point_colour(deadline: str) -> str:
        spec = pc.burnup(WEEK_ROWS, deadline, projection).to_dict()
        return next(v for v in views(spec) if v["mark"]["type"] == "point")["mark"]["color"]
    assert point_colour("2026-12-31") == c.OVERDUE_COLOUR
    assert point_colour("2027-01-04") == c.CLOSED_COLOUR


def test_null_sums_from_sql_count_as_zero() -> None:
    c.workload_by_owner([{"owner": "a", "open": 2, "overdue": None},
                         {"owner": "b", "open": None, "overdue": 1}]).to_dict()
    pc.on_time_by_month([{"month": "2026-09", "on_time": None, "due": None}]).to_dict()
    c.cause_ranking([{"cause": "x", "open_issues": None, "amount": None, "overdue": 0}]).to_dict()
