"""Rendering many charts to PNG in a child process (exports/chart_worker.py), so that the
caller's process keeps its core while vl-convert holds the GIL."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import altair as alt

from exports.chart_format import VL_VERSION, cjk_font_dir, print_spec


class ChartRenderError(RuntimeError):
    """The chart process failed; the message is its own (which chart, what error)."""


_ROOT = Path(__file__).resolve().parent.parent


def render_pngs(charts: list[alt.TopLevelMixin | dict[str, Any]], *, scale: float = 2,
                timeout_s: float = 300.0) -> list[bytes]:
    """PNG bytes of each chart as exports.chart_format.chart_png makes them, rendered in a child process
    (exports/chart_worker.py) so that the caller's process keeps its core. Raises
    CJKFontMissing before starting, and ChartRenderError when a chart fails, the process dies
    or it runs longer than `timeout_s`."""
    request = {"font_dir": cjk_font_dir(), "vl_version": VL_VERSION, "scale": scale,
               "specs": [print_spec(chart, None, None) for chart in charts]}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run([sys.executable, "-m", "exports.chart_worker"],
                              input=pickle.dumps(request), capture_output=True, cwd=_ROOT,
                              env=env, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as ex:
        raise ChartRenderError(f"the chart process took longer than {timeout_s:.0f} s") from ex
    try:
        reply = pickle.loads(done.stdout)
    except Exception:  # it died before replying (a crash, a kill): stderr says what it could
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ChartRenderError(f"the chart process exited with code {done.returncode}"
                               + (f": {said[-1]}" if said else "")) from None
    if isinstance(reply, dict):
        raise ChartRenderError(reply["error"])
    pngs = reply
    if len(pngs) != len(charts):
        raise ChartRenderError(f"the chart process returned {len(pngs)} of {len(charts)} images")
    return pngs
