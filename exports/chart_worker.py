"""Renders Vega-Lite specs to PNG in a process of its own: `python -m exports.chart_worker`.

vl-convert holds the GIL while it renders (the region's ten charts take seconds), so rendering
on a thread stalls the Word pack's writing. In a child process it runs on the second core
instead. Reads one pickled request from stdin — {"font_dir", "vl_version", "scale", "specs"} —
and writes the pickled list of PNG bytes to stdout. A chart that fails to render exits 1 with
{"error": "chart N: <error>"} pickled on stdout; the parent (exports.chart_io.render_pngs)
raises that.
"""
from __future__ import annotations

import pickle
import sys


def main() -> int:
    import vl_convert

    request = pickle.load(sys.stdin.buffer)
    vl_convert.register_font_directory(request["font_dir"])
    pngs = []
    for i, spec in enumerate(request["specs"], 1):
        try:
            pngs.append(vl_convert.vegalite_to_png(spec, vl_version=request["vl_version"],
                                                   scale=request["scale"]))
        except Exception as ex:  # every failure is reported to the parent by number
            _reply({"error": f"chart {i}: {type(ex).__name__}: {ex}"})
            return 1
    _reply(pngs)
    return 0


def _reply(value: object) -> None:
    pickle.dump(value, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    sys.exit(main())
