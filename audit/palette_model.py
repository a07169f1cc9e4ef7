"""The product's chart look as plain data: the CJK font, one palette for statuses, one for
warning lights, and the colours of other series. Shared by the dashboard (audit/charts.py,
audit/progress_charts.py), the Word pack's PNG charts (exports/chart_format.py) and the
catalogue page."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

FONT = "Noto Sans CJK SC"

# Two palettes that never share a colour, so that a colour means one thing in every chart of the
# app and the pack. Statuses are blues, light to dark as the work advances (未启动 grey,
# 整改中, 待验收, 已销号 navy), with 特殊原因终结 set apart in purple because it is counted apart
# from closed. Warning lights are the traffic colours (Okabe-Ito vermillion, orange, bluish
# green: distinguishable with the common colour-vision deficiencies).
STATUS_COLOURS: Mapping[str, str] = MappingProxyType({
    "not_started": "#BDBDBD",
    "in_progress": "#6BAED6",
    "submitted": "#2171B5",
    "closed": "#08306B",
    "ended": "#8E6BB8",
})
STATUS_ORDER: tuple[str, ...] = ("not_started", "in_progress", "submitted", "closed", "ended")

WARNING_COLOURS: Mapping[str, str] = MappingProxyType({
    "red": "#D55E00",
    "amber": "#E69F00",
    "green": "#009E73",
    "none": "#E0E0E0",
})
WARNING_ORDER: tuple[str, ...] = ("red", "amber", "green", "none")

# Colours for series that are neither: 未销号 (open, whatever its status) dark grey, the scope
# line black, the track behind a part light grey; closed and overdue as in the palettes above.
SCOPE_COLOUR = "#222222"
CLOSED_COLOUR = STATUS_COLOURS["closed"]
OVERDUE_COLOUR = WARNING_COLOURS["red"]
OPEN_COLOUR = "#737373"
TRACK_COLOUR = "#E8E8E8"
DEADLINE_COLOUR = "#8B0000"
