"""A batch of progress notes (issues.batch_service.update_progress) over 1,000 in-progress issues
of the 40,000-issue programme, side by side with the same 1,000 updates made as 1,000 single
service calls (issues.service.update_progress, each with its version), the way a person would
make them one after the other. The batch runs each item through the same service in its own
transaction, so the honest expectation is equal cost: target ratio batch / singles ≤ 1.10 (the
batch adds no overhead of its own). Also shown, as a floor: the same 1,000 notes written by one
plain UPDATE per row in one transaction, no checks and no history.

The same items are updated by both, alternately over ROUNDS rounds with a different note each
time (so every call really changes its row: one history record per item, as in the tests).
Times are wall-clock seconds (writes wait on the disk; CPU seconds are shown beside them).

    python -m bench.bench_batch                     # 40,000 issues, 1,000 items
    python -m bench.bench_batch --issues 4000 --items 300   # a small run (generated once)
    from bench.bench_batch import run               # rows {name, measured, baseline, ratio, target}
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audit import login_service  # noqa: E402
from audit.store.db import open_database  # noqa: E402
from issues import batch_service  # noqa: E402
from issues import service as issues  # noqa: E402
from issues.batch_service import Picked  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
ISSUES, ITEMS, ROUNDS = 40_000, 1_000, 4
TARGET = 1.10
AS_OF = date(2026, 11, 27)
AT = "2026-11-27T10:{:02d}:00+08:00"


def database(n_issues: int) -> Path:
    """A programme of its own for this benchmark (it writes): the 40k one copied from
    bench/.cache (bench.common.copy_40k), or a smaller one generated once."""
    from bench.common import copy_40k
    if n_issues == ISSUES:
        return copy_40k(CACHE / "g40k-batch.db")
    path = CACHE / f"g{n_issues}-batch.db"
    if not path.exists():
        from audit.generate import generate
        from audit.store.paths import evidence_dir
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        from audit.store import keys
        db = open_database(partial)
        keys.use_key(db, keys.configured_key(path) or keys.ensure_key_file(path))
        generate(db, issues=n_issues, seed=1, as_of=AS_OF, evidence_root=evidence_dir(path))
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
        partial.replace(path)
    return path


def _versions(db, ids: list[int]) -> dict[int, int]:
    found = db.conn.execute("SELECT id, version FROM issues WHERE id IN (%s)"
                            % ",".join("?" * len(ids)), ids).fetchall()
    return dict(found)


def run(n_issues: int = ISSUES, n_items: int = ITEMS) -> list[dict]:
    """Measure and return rows {name, measured, baseline, ratio, target} (seconds)."""
    path = database(n_issues)
    db = open_database(path)
    lead_id = db.conn.execute("SELECT id FROM users WHERE username = 'lead'").fetchone()[0]
    lead = login_service.actor_for(db, lead_id)
    ids = [r[0] for r in db.conn.execute(
        "SELECT id FROM issues WHERE status = 'in_progress' AND merged_into_id IS NULL "
        "ORDER BY id LIMIT ?", (n_items,))]
    if len(ids) < n_items:
        raise SystemExit(f"only {len(ids)} in-progress issues in {path}")
    codes = dict(db.conn.execute("SELECT id, code FROM issues WHERE id IN (%s)"
                                 % ",".join("?" * len(ids)), ids).fetchall())
    minute = iter(range(60))
    wall: dict[str, list[float]] = {"batch": [], "single": [], "floor": []}
    cpu: dict[str, list[float]] = {"batch": [], "single": [], "floor": []}

    def batch(note: str, at: str) -> None:
        v = _versions(db, ids)
        out = batch_service.update_progress(db, lead, [Picked(i, v[i], codes[i]) for i in ids],
                                            progress=note, at=at)
        assert all(o.done for o in out)

    def singles(note: str, at: str) -> None:
        v = _versions(db, ids)
        for i in ids:
            issues.update_progress(db, lead, i, version=v[i], progress=note, at=at)

    def floor(note: str, at: str) -> None:
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        for i in ids:
            conn.execute("UPDATE issues SET progress = ? WHERE id = ?", (note, i))
        conn.execute("ROLLBACK")     # the floor leaves no change that history would lack

    for r in range(ROUNDS):
        order = [("batch", batch), ("single", singles)]
        if r % 2:
            order.reverse()
        for name, fn in order + [("floor", floor)]:
            gc.collect()
            at = AT.format(next(minute))
            w, c = time.perf_counter(), time.process_time()
            fn(f"第{r + 1}轮{name}：合同补签推进中", at)
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    db.conn.close()
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    size = f"{n_items:,} items of {n_issues:,} issues"
    return [
        {"name": f"batch progress note vs {n_items:,} single calls ({size})",
         "measured": med["batch"], "baseline": med["single"],
         "ratio": med["batch"] / med["single"], "target": TARGET,
         "cpu": (med_cpu["batch"], med_cpu["single"])},
        {"name": f"batch progress note vs one plain UPDATE transaction, no history ({size})",
         "measured": med["batch"], "baseline": med["floor"],
         "ratio": med["batch"] / med["floor"], "target": None,
         "cpu": (med_cpu["batch"], med_cpu["floor"])},
    ]


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=ISSUES)
    parser.add_argument("--items", type=int, default=ITEMS)
    args = parser.parse_args()
    rows = run(args.issues, args.items)
    print(f"{'measure':<86} {'measured s':>10} {'base s':>8} {'ratio':>6}  cpu s")
    for r in rows:
        print(f"{r['name']:<86} {r['measured']:>10.2f} {r['baseline']:>8.2f} "
              f"{r['ratio']:>6.2f}  {r['cpu'][0]:.2f} / {r['cpu'][1]:.2f}")


if __name__ == "__main__":
    main()
