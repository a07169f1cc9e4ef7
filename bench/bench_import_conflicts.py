"""The cost of the stale-ledger check: planning the import of an exported ledger whose anchor
the database has moved past (K issues edited in the app after the export), with the conflict
check (the anchor read, history after it looked up, conflicts held back) side by side with
planning the same parsed file without its anchor (no check: what planning cost before).
Target: ratio ≤ 1.3. Also checks that exactly the K edits are found as conflicts.
Times are CPU seconds of this process (time.process_time).

    python -m bench.bench_import_conflicts [rows] [edits]
"""
from __future__ import annotations

import gc
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_import import AS_OF, AT, fresh_database, generated_rows, vocabulary  # noqa: E402

ROWS, EDITS, TARGET = 2_000, 200, 1.3


def _best_of(fns, repeat: int = 5) -> list[float]:
    """The best CPU time of each function, run in turns (so that a neighbour's burst of load
    does not fall on one side only)."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            t = time.process_time()
            fn()
            best[i] = min(best[i], time.process_time() - t)
    return best


def run(n: int = ROWS, edits: int = EDITS) -> list[dict]:
    """Rows {name, measured, baseline, ratio, target} for the benchmark table."""
    import io

    from audit.views import scope_for
    from issues import service as issues
    from issues.import_service import apply_import, plan_import, read_file
    from issues.ledger_service import export_ledger
    from issues.ledger_write_format import write_ledger
    with tempfile.TemporaryDirectory() as folder:
        db, actor = fresh_database(Path(folder))
        buf = io.BytesIO()
        write_ledger(generated_rows(n, 1), buf, vocabulary=vocabulary(),
                     title="外包专项审计整改台账", as_of=AS_OF)
        first = read_file(db, buf.getvalue(), "ledger.xlsx")
        apply_import(db, actor, plan_import(db, actor, first, filename="ledger.xlsx"), AT,
                     accept_cap="bench: mixed types")
        out = Path(folder) / "exported.xlsx"
        export_ledger(db, scope_for(db, None), out, as_of=AS_OF, title="台账")
        # Issues with a progress note (a blank ledger cell changes nothing, so cannot revert).
        ids = [r[0] for r in db.conn.execute(
            "SELECT id FROM issues WHERE progress <> '' ORDER BY id")]
        step = max(1, len(ids) // edits)
        for iid in ids[::step][:edits]:
            issues.update_progress(db, actor, iid, version=None, progress=f"会后更新 {iid}",
                                   at="2026-11-28T09:00:00+08:00")
        parsed = read_file(db, out.read_bytes(), out.name)
        bare = replace(parsed, anchor=None)
        plan = plan_import(db, actor, parsed, filename=out.name)
        assert len(plan.conflicts) == min(edits, len(ids)), len(plan.conflicts)
        assert plan_import(db, actor, bare, filename=out.name).anchor_note == "none"
        checked, floor = _best_of([lambda: plan_import(db, actor, parsed, filename=out.name),
                                   lambda: plan_import(db, actor, bare, filename=out.name)])
        db.conn.close()
    return [{"name": f"plan the import of an exported {n:,}-row ledger with {edits} cells "
                     "changed since: with the conflict check vs without it",
             "measured": round(checked, 3), "baseline": round(floor, 3),
             "ratio": round(checked / floor, 2), "target": TARGET}]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    edits = int(sys.argv[2]) if len(sys.argv) > 2 else EDITS
    for r in run(n, edits):
        print(f"{r['name']}: {r['measured']}s vs {r['baseline']}s → ×{r['ratio']} "
              f"(target ≤ {r['target']})")


if __name__ == "__main__":
    main()
