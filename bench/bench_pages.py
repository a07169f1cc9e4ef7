"""Every page's script run under AppTest on the 40,000-issue database, side by side with the
same page on the demo database. Target: after the first load (which warms the caches), each
run's server time on 40k stays under 1 second, and at most 3 times the demo's.

    python -m bench.bench_pages                       # lead and manager, every page they see
    python -m bench.bench_pages --roles lead --n 5    # fewer reruns
    from bench.bench_pages import run                 # rows {name, measured, baseline, ratio,
                                                      #       target}

Databases: bench/.cache/pages_g40k.db, a consistent copy of /tmp/g40k.db (never modified),
and bench/.cache/pages_demo.db built with audit.demo.build_demo. Sign-in is the test suite's
(tests/conftest.py sign_in). Runs alternate between the two databases so that both see the
same machine load; the figure per page is the median of N reruns."""
from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
BIG = CACHE / "pages_g40k.db"
DEMO = CACHE / "pages_demo.db"
APP = ROOT / "streamlit_app.py"
PASSWORD = "demo1234"
TARGET_RATIO = 3.0
TARGET_SECONDS = 1.0
AS_OF = date(2026, 11, 27)
RERUNS = 7

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def databases() -> tuple[Path, Path]:
    """(40k copy, demo) in bench/.cache/, created when missing."""
    from bench.common import copy_40k  # here: scripts add the root to sys.path first
    copy_40k(BIG)
    if not DEMO.exists():
        from audit.demo import build_demo
        from audit.store.db import open_database
        from audit.store.paths import evidence_dir
        db = open_database(DEMO)
        build_demo(db, as_of=AS_OF, seed=1, evidence_root=evidence_dir(DEMO))
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
    return BIG, DEMO


class Session:
    """One signed-in AppTest on one database; `page(url)` runs that page and returns seconds."""

    def __init__(self, path: Path, username: str):
        from streamlit.testing.v1 import AppTest

        from tests.conftest import sign_in
        self.path = path
        self.username = username
        os.environ["AUDIT_DB"] = str(path)
        self.app = AppTest.from_file(str(APP), default_timeout=600)
        sign_in(self.app, username, PASSWORD)
        if self.app.exception:
            raise RuntimeError(f"sign-in failed on {path}: {self.app.exception[0].value}")

    def pages(self) -> list[str]:
        """The url paths of the pages this user's navigation holds, in PAGES order."""
        # The default page (the dashboard) is registered under the empty path.
        return [i.get("url_pathname") or "" for i in self.app._registered_pages.values()]

    def page(self, url_path: str) -> float:
        """Run the page once; seconds of server time (the script run)."""
        from tests.conftest import open_page
        # AUDIT_DB is read on every run (session.database), so each session sets its own.
        os.environ["AUDIT_DB"] = str(self.path)
        gc.collect()
        started = time.perf_counter()
        open_page(self.app, url_path)
        seconds = time.perf_counter() - started
        if self.app.exception:
            raise RuntimeError(f"{self.username} {url_path} on {self.path.name}: "
                               f"{self.app.exception[0].value}")
        return seconds


def measure(username: str, reruns: int = RERUNS, only: list[str] | None = None
            ) -> list[dict]:
    """Rows for every page `username` sees: first load and median rerun on 40k and demo."""
    big_path, demo_path = databases()
    big, demo = Session(big_path, username), Session(demo_path, username)
    _quiet()
    out = []
    for url in big.pages():
        if only and (url or "dashboard") not in only:
            continue
        first_big, first_demo = big.page(url), demo.page(url)
        tb, td = [], []
        for _ in range(reruns):
            tb.append(big.page(url))
            td.append(demo.page(url))
        measured, baseline = statistics.median(tb), statistics.median(td)
        out.append({"name": f"{username} {url or 'dashboard'}", "measured": measured,
                    "baseline": baseline,
                    "ratio": measured / baseline if baseline else float("inf"),
                    "target": TARGET_RATIO, "first_load": first_big,
                    "first_load_demo": first_demo, "under_1s": measured < TARGET_SECONDS})
    return out


def _quiet() -> None:
    """Streamlit's deprecation notices would drown the table: errors only."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def run(roles: tuple[str, ...] = ("lead", "manager"), reruns: int = RERUNS,
        only: list[str] | None = None) -> list[dict]:
    """Measure every page of each role; rows {name, measured, baseline, ratio, target, ...}."""
    _quiet()
    rows: list[dict] = []
    for role in roles:
        rows.extend(measure(role, reruns, only))
    return rows


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", nargs="+", default=["lead", "manager"])
    parser.add_argument("--n", type=int, default=RERUNS, help="timed reruns per page")
    parser.add_argument("--pages", nargs="*", help="url paths (default: every page)")
    args = parser.parse_args()
    rows = run(tuple(args.roles), args.n, args.pages)
    print(f"{'page':<26} {'40k first':>9} {'40k med':>8} {'demo med':>8} {'ratio':>6} "
          f"{'target':>6} {'<1 s':>5}")
    for r in rows:
        print(f"{r['name']:<26} {r['first_load']:>9.3f} {r['measured']:>8.3f} "
              f"{r['baseline']:>8.3f} {r['ratio']:>6.2f} {'≤' + str(r['target']):>6} "
              f"{'yes' if r['under_1s'] else 'NO':>5}")


if __name__ == "__main__":
    main()
