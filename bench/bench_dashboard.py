"""Dashboard data on a 40,000-issue programme, measured side by side with the bare GROUP BY of
the same cube: a visit after a write in one county (the page's case, target ≤ 2×), with no
write since, and from scratch; then against merely loading the issues table into pandas, plus
the burn-up from history alone.

    python -m bench.bench_dashboard            # prints a table
    from bench.bench_dashboard import run      # rows {name, measured, baseline, ratio, target}

Uses a copy of /tmp/g40k.db (never the original) or builds one with audit.generate into
bench/.cache/. A copy made before the dashboard's indexes existed gets them (the schema of
migration 1), so the measurement is of the code as released."""
from __future__ import annotations

import gc
import sqlite3
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audit import dashboard_views
from audit.store.db import open_database
from audit.store.migrations import MIGRATIONS
from audit.views import Scope

CACHE = Path(__file__).resolve().parent / ".cache"
AS_OF = date(2026, 11, 27)
ISSUES = 40_000
REPEAT = 5


def _database() -> Path:
    """A private copy of the 40k programme (indexes are added to it)."""
    from bench.common import copy_40k  # here: scripts add the root to sys.path first
    return copy_40k(CACHE / "dashboard_g40k.db")


def _add_missing_indexes(conn: sqlite3.Connection) -> list[str]:
    """Create migration 1's indexes a file made earlier lacks; returns their names."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    added = []
    for statement in MIGRATIONS[0]:
        words = statement.split()
        if words[:2] == ["CREATE", "INDEX"] and words[2] not in have:
            conn.execute(statement)
            added.append(words[2])
    return added


def _best(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    """The median of `repeat` timed calls (after one warm-up): robust on a shared machine."""
    fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved(a: Callable[[], object], b: Callable[[], object],
                 repeat: int = REPEAT, *, before_a: Callable[[], object] | None = None
                 ) -> tuple[float, float]:
    """Medians of `a` and `b` timed alternately, so that both see the same machine load;
    `before_a` runs (untimed) before each call of `a`."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeat):
        for fn, out in ((a, ta), (b, tb)):
            if fn is a and before_a is not None:
                before_a()
            gc.collect()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def _progress_writer(db) -> Callable[[], None]:
    """A function saving a progress note on the next of 50 in-progress issues of one county,
    through the service as a lead would (history, data versions and all)."""
    from audit import login_service
    from audit.store import keys
    from issues import service as issues
    keys.use_key(db, keys.configured_key(Path(db.conn.execute(
        "PRAGMA database_list").fetchone()[2])))
    conn = db.conn
    lead = login_service.actor_for(db, conn.execute(
        "SELECT id FROM users WHERE role = 'lead' ORDER BY id LIMIT 1").fetchone()[0])
    county = conn.execute("SELECT id FROM units WHERE level = 'county' ORDER BY id "
                          "LIMIT 1").fetchone()[0]
    targets = [r[0] for r in conn.execute(
        "SELECT id FROM issues WHERE unit_id = ? AND status = 'in_progress' "
        "AND merged_into_id IS NULL ORDER BY id LIMIT 50", (county,))]
    step = [0]

    def note() -> None:
        i = targets[step[0] % len(targets)]
        step[0] += 1
        version = conn.execute("SELECT version FROM issues WHERE id = ?", (i,)).fetchone()[0]
        # A text never saved before (the copy is kept between runs): an unchanged note
        # records nothing and would make nothing stale.
        issues.update_progress(db, lead, i, version=version,
                               progress=f"进展 {step[0]} {time.time_ns()}",
                               at="2026-11-27T10:00:00+08:00")
    return note


def run() -> list[dict]:
    """Measure and return rows {name, measured, baseline, ratio, target} (seconds)."""
    path = _database()
    db = open_database(path)
    _add_missing_indexes(db.conn)
    conn = db.conn
    scope = Scope()
    compare = AS_OF - timedelta(days=14)

    def load_issues() -> None:
        pd.read_sql("SELECT * FROM issues", conn)

    from audit.views import amber_cutoff
    from audit import progress_charts
    cutoff = amber_cutoff(db, AS_OF).isoformat()
    ages = " ".join(f"WHEN substr(i.created_at, 1, 10) >= '{(AS_OF - timedelta(days=hi)).isoformat()}'"
                    f" THEN {n}" for n, hi in enumerate(progress_charts.AGEING_BOUNDS))
    cube_sql = f"""
        SELECT i.unit_id, a.category_id, i.status,
               CASE WHEN i.status IN ('closed', 'ended') THEN '' WHEN i.deadline IS NULL
                    THEN 'none' WHEN i.deadline < :today THEN 'red'
                    WHEN i.deadline <= :cutoff THEN 'amber' ELSE 'green' END,
               CASE {ages} ELSE 9 END,
               i.original_deadline < :today, substr(i.closed_at, 1, 10) <= i.original_deadline,
               COUNT(*), SUM(i.amount_involved)
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        WHERE i.merged_into_id IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7"""

    def bare_cube() -> None:
        conn.execute(cube_sql, {"today": AS_OF.isoformat(), "cutoff": cutoff}).fetchall()

    def today_only() -> None:
        # From scratch: no unit's share kept (dashboard_views.scope_partials).
        dashboard_views.forget_partials()
        dashboard_views.dashboard_data(db, scope, AS_OF)

    def with_compare() -> None:
        dashboard_views.forget_partials()
        dashboard_views.dashboard_data(db, scope, AS_OF, compare)

    def warm() -> None:
        dashboard_views.dashboard_data(db, scope, AS_OF)

    note = _progress_writer(db)

    def burnup() -> None:
        dashboard_views.burnup_weeks(db, scope, AS_OF, deadline="2027-06-30")

    out = []
    # The page's case: every visit follows someone's write somewhere. A progress note in one
    # county (not timed) makes that county's share stale; the read recomputes it alone.
    measured, baseline = _interleaved(warm, bare_cube, before_a=note)
    out.append({"name": "dashboard_data today after a progress note in one county (the shares of "
                        "the units it touches recomputed, the others as kept) vs the bare GROUP "
                        "BY of the same cube (unit, category, status, warning, age, due, on time)",
                "measured": measured, "baseline": baseline, "ratio": measured / baseline,
                "target": 2.0})
    measured, baseline = _interleaved(warm, bare_cube)
    out.append({"name": "dashboard_data today, no write since the last read, vs the same "
                        "GROUP BY", "measured": measured, "baseline": baseline,
                "ratio": measured / baseline, "target": None})
    measured, baseline = _interleaved(today_only, bare_cube)
    out.append({"name": "dashboard_data today from scratch (no share kept: a new process, or "
                        "after a change to reference data) vs the same GROUP BY",
                "measured": measured, "baseline": baseline, "ratio": measured / baseline,
                "target": None})
    measured, baseline = _interleaved(today_only, load_issues)
    out.append({"name": "dashboard_data today from scratch vs pd.read_sql(issues)",
                "measured": measured, "baseline": baseline, "ratio": measured / baseline,
                "target": 1.0})
    measured, baseline = _interleaved(with_compare, load_issues)
    out.append({"name": "dashboard_data today + 14-day comparison vs pd.read_sql(issues)",
                "measured": measured, "baseline": baseline, "ratio": measured / baseline,
                "target": None})
    measured = _best(burnup)
    out.append({"name": "burn-up from history alone (52 weeks) vs pd.read_sql(issues)",
                "measured": measured, "baseline": baseline, "ratio": measured / baseline,
                "target": None})
    conn.close()
    return out


def main() -> None:
    """Print the table."""
    rows = run()
    print(f"{'measure':<66} {'measured s':>10} {'baseline s':>10} {'ratio':>6} {'target':>6}")
    for r in rows:
        target = "" if r["target"] is None else f"≤{r['target']:.1f}"
        print(f"{r['name']:<66} {r['measured']:>10.3f} {r['baseline']:>10.3f} "
              f"{r['ratio']:>6.2f} {target:>6}")


if __name__ == "__main__":
    main()
