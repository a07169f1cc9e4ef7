"""PNG images of charts for the Word review pack, rendered with vl-convert (no browser): the
CJK font, the spec at a fixed size, one chart to PNG bytes. Many charts render in a child
process through exports/chart_io.py.

Chinese text needs a CJK font on the machine: Debian's `fonts-noto-cjk`. Without it vl-convert
silently draws boxes (tofu), so rendering refuses to start instead.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

from audit.palette_model import FONT
from audit.text_format import xml_safe

# Where Debian's fonts-noto-cjk puts the faces; used when fc-list is not available.
_KNOWN_FONT_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/share/fonts/truetype/noto",
)
_DEFAULT_WIDTH = 640
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
# The Vega-Lite version Altair writes its specs for, e.g. 'v6_4'.
VL_VERSION = "_".join(alt.SCHEMA_VERSION.split(".")[:2])


class CJKFontMissing(RuntimeError):
    """No CJK font is installed, so Chinese text would render as boxes."""


def find_cjk_font_dir() -> str | None:
    """The directory holding the Noto Sans CJK SC font file, or None when not installed."""
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", f":family={FONT}", "file"], capture_output=True,
                                 text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            path = line.split(":", 1)[0].strip()
            if path and os.path.isfile(path):
                return str(Path(path).parent)
    for directory in _KNOWN_FONT_DIRS:
        d = Path(directory)
        if d.is_dir() and any(p.name.startswith("NotoSansCJK") for p in d.iterdir()):
            return str(d)
    return None


@functools.cache
def cjk_font_dir() -> str:
    """The CJK font directory (looked for once per process). Raises CJKFontMissing (naming the
    package to install) when there is none."""
    directory = find_cjk_font_dir()
    if directory is None:
        raise CJKFontMissing(
            f"no CJK font found ({FONT}); Chinese chart text would render as boxes. "
            "Install it, e.g. `apt-get install -y fonts-noto-cjk` on Debian/Ubuntu.")
    return directory


@functools.cache
def ensure_cjk_font() -> str:
    """Register the CJK font directory with vl-convert once per process; return the directory.
    Raises CJKFontMissing when there is none."""
    directory = cjk_font_dir()
    vl_convert.register_font_directory(directory)
    return directory


def _xml_safe_strings(value: Any) -> Any:
    """Every string inside a spec with XML-forbidden characters replaced: vl-convert renders
    text through SVG, and a NUL in a label makes it panic and abort the whole process. Characters
    beyond the BMP (emoji) become U+FFFD too: Vega's label truncation can cut one in half, and
    vl-convert's text measuring then fails on the lone surrogate."""
    if isinstance(value, str):
        return _ASTRAL.sub("\ufffd", xml_safe(value))
    if isinstance(value, dict):
        return {k: _xml_safe_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe_strings(v) for v in value]
    return value


def print_spec(chart: alt.TopLevelMixin | dict[str, Any], width: int | None,
          height: int | None) -> dict[str, Any]:
    """The Vega-Lite dict with a fixed pixel size ('container' means nothing off screen)."""
    spec = chart.to_dict() if hasattr(chart, "to_dict") else dict(chart)
    spec = _xml_safe_strings(spec)
    if width is not None:
        spec["width"] = width
    elif spec.get("width") == "container" or "width" not in spec:
        spec["width"] = _DEFAULT_WIDTH
    if height is not None:
        spec["height"] = height
    elif spec.get("height") == "container":
        spec["height"] = 320
    return spec


def chart_png(chart: alt.TopLevelMixin | dict[str, Any], *, scale: float = 2,
              width: int | None = None, height: int | None = None) -> bytes:
    """PNG bytes of a chart (an Altair chart or a Vega-Lite dict), `scale` × its pixel size.
    `width`/`height` override the chart's size; a 'container' width becomes 640 px.
    Raises CJKFontMissing when no CJK font is installed."""
    ensure_cjk_font()
    return vl_convert.vegalite_to_png(print_spec(chart, width, height), vl_version=VL_VERSION,
                                      scale=scale)
