"""The product's chart look as plain data: the CJK font, one palette for statuses, one for
warning lights, and the colours of other series. Shared by the dashboard (audit/charts.py,
audit/progress_charts.py), the Word pack's PNG charts (exports/chart_format.py) and the
catalogue page."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

FONT = "Noto Sans CJK SC"

# Okabe-Ito based: distinguishable with the common colour-vision deficiencies and saturated
# enough for a washed-out projector. Statuses run grey → blues → green so "progress" reads as
# one direction; 'ended' is set apart (purple) because it is counted apart from closed.
STATUS_COLOURS: Mapping[str, str] = MappingProxyType({
    "not_started": "#999999",
    "in_progress": "#0072B2",
    "submitted": "#56B4E9",
    "closed": "#009E73",
    "ended": "#CC79A7",
})
STATUS_ORDER: tuple[str, ...] = ("not_started", "in_progress", "submitted", "closed", "ended")

# Vermillion rather than pure red so that red and green stay apart for red-green colour
# blindness; green is the same hue as 'closed' because both mean "fine".
WARNING_COLOURS: Mapping[str, str] = MappingProxyType({
    "red": "#D55E00",
    "amber": "#E69F00",
    "green": "#009E73",
    "none": "#BBBBBB",
})
WARNING_ORDER: tuple[str, ...] = ("red", "amber", "green", "none")

# Colours for series that are not statuses or warnings.
SCOPE_COLOUR = "#333333"
CLOSED_COLOUR = STATUS_COLOURS["closed"]
OVERDUE_COLOUR = WARNING_COLOURS["red"]
OPEN_COLOUR = "#56B4E9"
TRACK_COLOUR = "#DDDDDD"
DEADLINE_COLOUR = "#8B0000"
