"""`verify` on the 40,000-issue programme, each part side by side with a plain scan of what it
reads (the floor: every row fetched into Python and dropped, nothing computed):

- the history chain (every record's HMAC under the history key, every link) against a scan of
  the history table;
- history replayed against the live tables (audit.store.live_check) against a scan of the
  history table and of every table it compares;
- SQLite's integrity_check, and the whole `verify_database` (integrity, chain, live tables,
  evidence files) against the scan of all those tables.

    python -m bench.bench_verify               # prints a table
    from bench.bench_verify import run         # rows {name, measured, baseline, ratio, target}

Each is timed once per round, the floor and the measure alternately (a run is about a minute
on the 2-core machine: two rounds, the median kept)."""
from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audit.store import history, keys
from audit.store.db import open_readonly
from audit.store.live_check import ENTITIES, LINKS, check_live_tables
from audit.store.paths import evidence_dir
from audit.verify_views import verify_database

ROUNDS = 2
COMPARED = (list(ENTITIES.values()) + [t for links in LINKS.values() for t, _, _ in
                                       links.values()]
            + ["settings", "calendar_years", "calendar_days", "duplicate_rejections"])


def _database() -> Path:
    from bench.common import copy_40k  # here: scripts add the root to sys.path first
    return copy_40k()


def _timed(pairs: list[tuple[Callable[[], object], Callable[[], object]]]
           ) -> list[tuple[float, float]]:
    """(measured, floor) medians over ROUNDS, each pair timed alternately."""
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in pairs]
    for _ in range(ROUNDS):
        for (measure, floor), (tm, tf) in zip(pairs, times):
            for fn, out in ((floor, tf), (measure, tm)):
                gc.collect()
                start = time.perf_counter()
                fn()
                out.append(time.perf_counter() - start)
    return [(statistics.median(tm), statistics.median(tf)) for tm, tf in times]


def run() -> list[dict]:
    """Measure and return rows {name, measured, baseline, ratio, target} (seconds)."""
    path = _database()
    db = open_readonly(path)
    key = keys.configured_key(path)
    conn = db.conn

    def scan(tables: list[str]) -> Callable[[], None]:
        def go() -> None:
            for table in tables:
                for _ in conn.execute(f"SELECT * FROM {table}"):
                    pass
        return go

    def chain() -> None:
        assert history.verify(db, key=key, integrity=False).ok

    def live() -> None:
        assert check_live_tables(db).ok

    def integrity() -> None:
        conn.execute("PRAGMA integrity_check").fetchall()

    def whole() -> None:
        assert verify_database(db, key=key, evidence_root=evidence_dir(path)).ok

    history_only = scan(["history"])
    everything = scan(["history"] + COMPARED)
    results = _timed([(chain, history_only), (live, everything), (integrity, everything),
                      (whole, everything)])
    names = ["history chain (HMAC of every record) vs scanning history",
             "live tables replayed from history vs scanning history + those tables",
             "SQLite integrity_check vs scanning history + the tables",
             "verify (integrity, chain, live tables, evidence) vs the same scan"]
    records = conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    conn.close()
    out = [{"name": n, "measured": m, "baseline": b, "ratio": m / b, "target": None}
           for n, (m, b) in zip(names, results)]
    out[0]["name"] += f" ({records:,} records)"
    return out


def main() -> None:
    """Print the table."""
    rows = run()
    print(f"{'measure':<78} {'measured s':>10} {'floor s':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['name']:<78} {r['measured']:>10.2f} {r['baseline']:>8.2f} "
              f"{r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
