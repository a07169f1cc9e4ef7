"""The Word pack's charts: the dashboard's builders (audit/charts.py, audit/progress_charts.py,
one palette for statuses and one for warning lights) over the rows
exports/pack_views.chart_rows gathers, at print size, with names instead of codes, and with a
caption note wherever a chart leaves something out or counts an issue twice."""
from __future__ import annotations

from typing import Any

from audit import charts, messages, progress_charts
from exports.pack_model import CAUSES_TOP, CHART_WIDTH_PX, WORKLOAD_TOP


def _named(rows: list[dict], field: str) -> list[dict]:
    """Rows whose label `field` ('C1 外包合同管理') loses its code prefix (row['code'])."""
    out = []
    for r in rows:
        r = dict(r)
        code, label = r.get("code"), r.get(field)
        if code and isinstance(label, str) and label.startswith(f"{code} "):
            r[field] = label[len(code) + 1:]
        out.append(r)
    return out


def chart_specs(rows: dict[str, Any], lang: str) -> list[tuple[str, str, str, Any]]:
    """(key, caption, note, Altair chart) for each chart of the pack (rows: chart_rows). The
    note says what a chart leaves out (top N) or counts twice (issues in both streams)."""
    t = lambda key, **p: messages.t(key, lang, **p)  # noqa: E731
    lab = charts.labels(lang)
    owners = rows["workload_by_owner"]
    causes = [c for c in rows["cause_ranking"] if c.get("open_issues")]
    owner_note = (t("pack.chart.top_owners", top=WORKLOAD_TOP, more=len(owners) - WORKLOAD_TOP,
                    total=len(owners)) if len(owners) > WORKLOAD_TOP else "")
    cause_note = (t("pack.chart.top_causes", top=CAUSES_TOP, more=len(causes) - CAUSES_TOP,
                    total=len(causes)) if len(causes) > CAUSES_TOP else "")
    # An issue in both work streams is counted in each: say so when the bars add up to more.
    counted = sum(r["count"] for r in rows["status_by_stream"])
    issues = (rows.get("figures") or {}).get("issues", counted)
    stream_note = (t("pack.chart.both_streams", counted=counted, issues=issues)
                   if counted > issues else "")
    # Likewise an issue under several focus points (47 bars' worth for 38 demo issues).
    in_focus = sum(r["total"] for r in rows["focus_progress"])
    focus_note = (t("pack.chart.several_focus", counted=in_focus, issues=issues)
                  if in_focus > issues else "")
    heat = _named(rows["heatmap"], "category")
    return [
        ("burnup", lab["title_burnup"], t("pack.chart.burnup_note"),
         progress_charts.burnup(rows["burnup"], rows.get("burnup_deadline"),
                                rows.get("projection"), lang=lang)),
        ("status_by_category", lab["title_status_by_category"], "",
         charts.status_by_category(_named(rows["status_by_category"], "category"), lang)),
        ("status_by_stream", lab["title_status_by_stream"], stream_note,
         charts.status_by_stream(rows["status_by_stream"], lang)),
        ("warning_by_unit", lab["title_warning_by_unit"], t("pack.chart.units_note"),
         charts.warning_by_unit(rows["warning_by_unit"], lang)),
        ("heatmap", lab["title_heatmap_open"], t("pack.chart.units_note"),
         charts.heatmap_unit_category(heat, "open", lang)),
        ("ageing", lab["title_ageing"], "", progress_charts.ageing(rows["ageing"], lang)),
        ("on_time_by_month", lab["title_on_time_by_month"], "",
         progress_charts.on_time_by_month(rows["on_time_by_month"], lang)),
        ("workload_by_owner", lab["title_workload_by_owner"], owner_note,
         charts.workload_by_owner(owners, WORKLOAD_TOP, lang)),
        ("focus_progress", lab["title_focus_progress"], focus_note,
         charts.focus_progress(_named(rows["focus_progress"], "focus"), lang)),
        ("cause_ranking", lab["title_cause_ranking"], cause_note,
         charts.cause_ranking(_named(rows["cause_ranking"], "cause"), CAUSES_TOP, lang)),
    ]


def chart_dicts(rows: dict[str, Any], lang: str) -> list[tuple[str, str, str, dict]]:
    """(key, caption, note, Vega-Lite dict at print size) per chart."""
    # The numbered caption under the picture carries the title; a second one inside the image
    # would repeat it. The builders' output is valid: skip Altair's schema validation.
    return [(key, caption, note, charts.for_print(chart, CHART_WIDTH_PX).properties(title="")
             .to_dict(validate=False))
            for key, caption, note, chart in chart_specs(rows, lang)]
