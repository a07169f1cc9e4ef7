"""The Word pack's charts: the dashboard's builders (audit/charts.py,
audit/progress_charts.py) over the rows exports/pack_views.chart_rows gathers, at print size."""
from __future__ import annotations

from typing import Any

from audit import charts, progress_charts
from exports.pack_model import CAUSES_TOP, CHART_WIDTH_PX, WORKLOAD_TOP


def chart_specs(rows: dict[str, Any], lang: str) -> list[tuple[str, Any]]:
    """(caption, Altair chart) for each dashboard chart (rows: chart_rows), built by
    audit.charts' builders."""
    lab = charts.labels(lang)
    return [
        (lab["title_burnup"], progress_charts.burnup(rows["burnup"], rows.get("burnup_deadline"),
                                            rows.get("projection"), lang=lang)),
        (lab["title_status_by_category"], charts.status_by_category(rows["status_by_category"],
                                                                    lang)),
        (lab["title_status_by_stream"], charts.status_by_stream(rows["status_by_stream"], lang)),
        (lab["title_warning_by_unit"], charts.warning_by_unit(rows["warning_by_unit"], lang)),
        (lab["title_heatmap_open"], charts.heatmap_unit_category(rows["heatmap"], "open", lang)),
        (lab["title_ageing"], progress_charts.ageing(rows["ageing"], lang)),
        (lab["title_on_time_by_month"], progress_charts.on_time_by_month(rows["on_time_by_month"], lang)),
        (lab["title_workload_by_owner"], charts.workload_by_owner(rows["workload_by_owner"],
                                                                  WORKLOAD_TOP, lang)),
        (lab["title_focus_progress"], charts.focus_progress(rows["focus_progress"], lang)),
        (lab["title_cause_ranking"], charts.cause_ranking(rows["cause_ranking"], CAUSES_TOP,
                                                          lang)),
    ]


def chart_dicts(rows: dict[str, Any], lang: str) -> list[tuple[str, dict]]:
    """(caption, Vega-Lite dict at print size) per chart."""
    # The numbered caption under the picture carries the title; a second one inside the image
    # would repeat it. The builders' output is valid: skip Altair's schema validation.
    return [(caption, charts.for_print(chart, CHART_WIDTH_PX).properties(title="")
             .to_dict(validate=False)) for caption, chart in chart_specs(rows, lang)]


