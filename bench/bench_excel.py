"""Side-by-side timing of the Excel ledger export on the 40,000-issue region against a baseline
that writes the same cells with no logic around them.

- measured: `issues.ledger_service.export_ledger` for the whole region: gather every issue with
  its sources, measures and causes (SQL → LedgerRows), neutralise and clean the texts, write the
  styled sheet (title, header, frozen panes, filter, status validation, warning fills, text
  codes, wrapped long text) and save it atomically.
- baseline: openpyxl's write-only workbook appending the same cell values raw (values computed
  beforehand, untimed; no styles, no validation, no title) and saving.

The database is bench.common.copy_40k() (a copy of /tmp/g40k.db in bench/.cache/, never
modified). The pair runs REPEAT times alternately (default 3) and the best time of each side is
kept, so that load from other processes on the machine hits both sides alike.

    python bench/bench_excel.py            # prints the table
    REPEAT=5 python bench/bench_excel.py
"""
from __future__ import annotations

import datetime as dt
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2026, 11, 27)
TARGET = 1.5
BASELINE_IS = "openpyxl write-only appending the same cell values raw, then save"


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def baseline_xlsx(values: list[list[Any]], out: Path) -> None:
    """openpyxl write-only, the same cell values appended raw, then save."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("ledger")
    for row in values:
        ws.append(row)
    wb.save(str(out))


def bench_excel(db, scope, work: Path, repeat: int) -> dict:
    """export_ledger against the raw baseline: one row {name, measured, baseline, ratio, …}."""
    from issues.ledger_service import export_ledger
    from issues.ledger_views import issue_records, ledger_rows
    from issues.ledger_write_format import Words, cell_values
    from issues.store import ledger_vocabulary
    rows = ledger_rows(issue_records(db, scope, AS_OF))
    words = Words(ledger_vocabulary(db), "zh")
    values = [cell_values(r, i, words) for i, r in enumerate(rows, 1)]
    del rows
    measured, baseline = [], []
    for _ in range(repeat):
        measured.append(_timed(lambda: export_ledger(db, scope, work / "ledger.xlsx",
                                                     as_of=AS_OF, title="整改台账")))
        baseline.append(_timed(lambda: baseline_xlsx(values, work / "raw.xlsx")))
    m, b = min(measured), min(baseline)
    return {"name": f"Excel ledger export, {len(values):,} rows × {len(values[0])} columns",
            "measured": round(m, 2), "baseline": round(b, 2), "ratio": round(m / b, 2),
            "target": TARGET, "baseline_is": BASELINE_IS}


def run() -> list[dict]:
    """The Excel benchmark: rows {name, measured, baseline, ratio, target, baseline_is}
    (seconds)."""
    from audit.store.db import open_database
    from audit.views import scope_for
    from bench.common import copy_40k  # here: scripts add the root to sys.path first
    repeat = int(os.environ.get("REPEAT", "3"))
    db = open_database(copy_40k())
    scope = scope_for(db, None)
    work = Path(tempfile.mkdtemp(prefix="bench-excel-"))
    try:
        return [bench_excel(db, scope, work, repeat)]
    finally:
        db.conn.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    rows = run()
    print(f"{'benchmark':<60} {'measured':>9} {'baseline':>9} {'ratio':>6} {'target':>6}")
    for r in rows:
        ok = "ok" if r["ratio"] <= r["target"] else "OVER"
        print(f"{r['name']:<60} {r['measured']:>8.2f}s {r['baseline']:>8.2f}s "
              f"{r['ratio']:>6.2f} {r['target']:>6.2f} {ok}")
        print(f"  baseline: {r['baseline_is']}")


if __name__ == "__main__":
    main()
