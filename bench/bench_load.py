"""Many users at once: 1, 5, 10 and 20 signed-in sessions on the 40,000-issue programme, each
cycling through the dashboard, the catalogue and 根源与督办 with one progress save (a write in
its own unit) per cycle. Records each page's server script run (p50 / p95), the server's CPU per
visit, its peak memory, and a visit after a write against a warm visit.

    python -m bench.bench_load [--db PATH] [--levels 1,5,10,20] [--cycles 3]

How the sessions are driven: Streamlit's AppTest, one per session, each on its own thread in
one process that plays the server; their script runs take turns (AppTest keeps per-run state
in globals and breaks when runs overlap), so a page's time is its script run alone and the
wait for a turn is reported apart (what queueing behind the other sessions costs). An AppTest runs the app's script through Streamlit's own
script runner with the process-wide caches, exactly the work a server does for a rerun; what
it leaves out (the websocket and protobuf framing of the page sent) is small beside the
script. Real browsers were the issue's first measurement, but twenty Chromiums on two cores
measure the browsers more than the server; websocket clients would need Streamlit's private
protocol. Each level runs in a fresh process (a fresh server, cold caches), on its own copy of
the database. The times are wall-clock script runs with every session competing for the same
two cores (and, on the shared machine, other work): CPU seconds per visit is the fairer figure.

Who: a fifth of the sessions are audit leads (the whole programme), the others managers of one
city each (cities in turn). The write: an audit lead's progress note on an issue of the
session's own city (leads: of a city in turn). Targets: at 20 sessions every page's p95 ≤ 2 s,
peak RSS < 500 MB, a visit after a write ≤ 1.5 × a warm visit."""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "bench load 2026"
PAGES = ("dashboard", "catalogue", "causes")
MARK = "@@LOAD@@"
TARGETS = {"p95_s": 2.0, "rss_mb": 500.0, "after_write_ratio": 1.5}


def _rss_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def prepare(db_path: Path, sessions: int) -> list[dict]:
    """Accounts for `sessions` sessions (created once per database file): [{username, role,
    unit_code}]."""
    from audit import accounts_service
    from audit.store.db import open_database
    db = open_database(db_path)
    cities = [r[0] for r in db.conn.execute(
        "SELECT code FROM units WHERE level = 'city' ORDER BY code")]
    out = []
    for n in range(sessions):
        lead = n % 5 == 0
        unit = None if lead else cities[n % len(cities)]
        name = f"load{n:02d}"
        if db.conn.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone() is None:
            accounts_service.create_user(db, None, name, PASSWORD, "lead" if lead else "manager",
                                         unit_code=unit, at="2026-11-27T08:00:00+08:00")
        out.append({"username": name, "role": "lead" if lead else "manager",
                    "unit_code": unit or cities[n % len(cities)]})
    if db.conn.execute("SELECT 1 FROM users WHERE username = 'load_writer'").fetchone() is None:
        accounts_service.create_user(db, None, "load_writer", PASSWORD, "lead",
                                     at="2026-11-27T08:00:00+08:00")
    db.conn.close()
    return out


def _level(db_path: Path, sessions: int, cycles: int) -> dict:
    """One level, in this process (the server): every session signed in, then `cycles`
    cycles of the pages and a write each."""
    os.environ["AUDIT_DB"] = str(db_path)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from audit import login_service
    from audit.store import versions
    from audit.store.db import open_database
    from audit.store.org import subtree_ids
    from audit.time_model import now_text
    from issues import service as issues

    people = prepare(db_path, sessions)
    db = open_database(db_path)
    writer = login_service.actor_for(db, db.conn.execute(
        "SELECT id FROM users WHERE username = 'load_writer'").fetchone()[0])
    unit_ids = {r[0]: r[1] for r in db.conn.execute("SELECT code, id FROM units")}
    targets = {}
    for p in people:
        uid = unit_ids[p["unit_code"]]
        targets[p["username"]] = [r[0] for r in db.conn.execute(
            "SELECT id FROM issues WHERE unit_id IN (SELECT value FROM json_each(?)) "
            "AND merged_into_id IS NULL AND status IN ('not_started', 'in_progress') "
            "ORDER BY id LIMIT 50", (json.dumps(sorted(subtree_ids(db, uid))),))]
    scopes = {p["username"]: None if p["role"] == "lead"
              else subtree_ids(db, unit_ids[p["unit_code"]]) for p in people}
    db.conn.close()
    st.cache_data.clear()
    # AppTest gives every instance the same session id, so session-scoped resources (each
    # session's own connection, audit.ui) would be shared by all: give each its own, as a
    # server does for each browser.
    from streamlit.testing.v1 import local_script_runner as lsr
    local = threading.local()
    original_init = lsr.LocalScriptRunner.__init__

    def init(self, *a, **k):
        original_init(self, *a, **k)
        self._session_id = getattr(local, "sid", self._session_id)

    lsr.LocalScriptRunner.__init__ = init
    # AppTest sets a mock Runtime for each run and clears it when the run ends, which would
    # pull it from under the other sessions' runs: keep the last one for them.
    from streamlit.runtime import Runtime
    last: dict = {}
    original_instance = Runtime.instance.__func__

    def instance(cls):
        if cls._instance is not None:
            last["runtime"] = cls._instance
            return cls._instance
        return last["runtime"] if "runtime" in last else original_instance(cls)

    Runtime.instance = classmethod(instance)
    lock = threading.Lock()
    visits: list[dict] = []
    writes: list[float] = []
    errors: list[str] = []
    start_cpu, start = _cpu(), time.perf_counter()

    harness = threading.Lock()
    waits: list[float] = []

    def run(app):
        """One script run. AppTest keeps per-run state in globals (its mock runtime, the
        widgets' format functions), so runs of different sessions overlapping in one process
        break it beyond a few sessions: runs take turns here. The time returned is the script
        run alone; the wait for the turn is kept apart (the queue a single server thread
        would have), and the process's CPU and memory are those of all sessions."""
        t = time.perf_counter()
        with harness:
            started = time.perf_counter()
            app.run()
            took = time.perf_counter() - started
        with lock:
            waits.append(started - t)
        return took

    def open_page(app, hashes: dict, url_path: str) -> float:
        # The page hashes as registered at sign-in (AppTest's own registry is one per process
        # and is overwritten by the other sessions' runs).
        app._page_hash = hashes["" if url_path == "dashboard" else url_path]
        return run(app)

    def session(person: dict) -> None:
        local.sid = f"load session {person['username']}"
        own = open_database(db_path, migrate=False)
        try:
            app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
            run(app)
            app.text_input(key="audit.login_username").input(person["username"])
            app.text_input(key="audit.login_password").input(PASSWORD)
            app.button(key="FormSubmitter:audit.login_form-" + app.button[0].label).click()
            sign_in = run(app)
            hashes = {info.get("url_pathname"): h for h, info in app._registered_pages.items()}
            if not all(("" if p == "dashboard" else p) in hashes for p in PAGES):
                raise RuntimeError(f"sign-in failed: {[e.value for e in app.error]} "
                                   f"{[e.message for e in app.exception]}")
            seen: dict[str, int] = {}
            for cycle in range(cycles):
                for page in PAGES + PAGES:     # the second visit: warm unless someone wrote
                    version = versions.version_of(own, scopes[person["username"]])
                    kind = ("first" if page not in seen else
                            "after_write" if seen[page] != version else "warm")
                    took = open_page(app, hashes, page)
                    seen[page] = version
                    if app.exception:
                        with lock:
                            errors.append(f"{person['username']} {page}: "
                                          f"{app.exception[0].message[:200]} "
                                          f"{''.join(app.exception[0].stack_trace)[-600:]}")
                        continue            # a failed run is not a visit
                    with lock:
                        visits.append({"page": page, "seconds": took, "kind": kind,
                                       "cycle": cycle, "user": person["username"]})
                issue_ids = targets[person["username"]]
                if issue_ids:
                    iid = issue_ids[cycle % len(issue_ids)]
                    t = time.perf_counter()
                    for attempt in range(5):
                        try:
                            v = own.conn.execute("SELECT version FROM issues WHERE id = ?",
                                                 (iid,)).fetchone()[0]
                            issues.update_progress(own, writer, iid, version=v,
                                                   progress=f"负载测试进展 {person['username']} "
                                                            f"第{cycle}轮",
                                                   at=now_text())
                            break
                        except Exception as exc:        # a lost race: re-read and retry
                            if attempt == 4:
                                with lock:
                                    errors.append(f"write: {type(exc).__name__}: {exc}")
                    with lock:
                        writes.append(time.perf_counter() - t)
            with lock:
                visits.append({"page": "sign_in", "seconds": sign_in, "kind": "first",
                               "cycle": -1, "user": person["username"]})
        except Exception as exc:                         # reported in the results
            import traceback
            with lock:
                errors.append(f"{person['username']}: {type(exc).__name__}: {exc} "
                              f"{traceback.format_exc(limit=-2)[-400:]}")
        finally:
            own.conn.close()

    threads = [threading.Thread(target=session, args=(p,)) for p in people]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall, cpu = time.perf_counter() - start, _cpu() - start_cpu
    page_visits = [v for v in visits if v["page"] in PAGES]
    out: dict = {"sessions": sessions, "cycles": cycles, "wall_s": wall, "cpu_s": cpu,
                 "visits": len(page_visits), "cpu_per_visit_s": cpu / max(len(page_visits), 1),
                 "rss_peak_mb": _rss_peak_mb(), "errors": errors[:10],
                 "failed_runs": len(errors),
                 "wait_p50_s": statistics.median(waits) if waits else None,
                 "wait_p95_s": sorted(waits)[int(0.95 * (len(waits) - 1))] if waits else None,
                 "writes": len(writes),
                 "write_p50_s": statistics.median(writes) if writes else None,
                 "pages": {}}
    for page in PAGES + ("sign_in",):
        times = sorted(v["seconds"] for v in visits if v["page"] == page)
        if not times:
            continue
        by_kind = {k: [v["seconds"] for v in visits if v["page"] == page and v["kind"] == k]
                   for k in ("first", "warm", "after_write")}
        out["pages"][page] = {
            "n": len(times), "p50_s": statistics.median(times),
            "p95_s": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))],
            **{f"{k}_median_s": statistics.median(x) if x else None for k, x in by_kind.items()},
            **{f"{k}_n": len(x) for k, x in by_kind.items()}}
    return out


def run_level(db: Path, sessions: int, cycles: int, work: Path) -> dict:
    """One level in a fresh process, on a fresh copy of the database."""
    copy = work / f"load{sessions}.db"
    from bench.common import _backup
    _backup(db, copy)
    code = (f"import json, bench.bench_load as m; from pathlib import Path; "
            f"r = m._level(Path({str(copy)!r}), {sessions}, {cycles}); "
            f"print({MARK!r} + json.dumps(r))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"sessions": sessions, "failed": (done.stderr or done.stdout)[-1500:]}


def table(levels: list[dict]) -> str:
    """The results as a Markdown table."""
    lines = ["| sessions | page | p50 / p95 script run (s) | warm / after a write (median s) "
             "| server CPU per visit (s) | server peak RSS (MB) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for lv in levels:
        if "failed" in lv:
            lines.append(f"| {lv['sessions']} | failed: {lv['failed'][-120:]!r} | | | | |")
            continue
        label = str(lv["sessions"]) + (f" (turn wait p50/p95 {lv['wait_p50_s']:.1f}/"
                                        f"{lv['wait_p95_s']:.1f} s)" if lv.get("wait_p95_s")
                                        else "") + (f" ({lv['failed_runs']} runs failed in the AppTest "
                                        "harness, left out)" if lv.get("failed_runs") else "")
        for page, p in lv["pages"].items():
            warm, after = p.get("warm_median_s"), p.get("after_write_median_s")
            pair = " / ".join("—" if x is None else f"{x:.2f}" for x in (warm, after))
            lines.append(f"| {label} | {page} | {p['p50_s']:.2f} / {p['p95_s']:.2f} "
                         f"| {pair} | {lv['cpu_per_visit_s']:.2f} | {lv['rss_peak_mb']:.0f} |")
    return "\n".join(lines)


def write_doc(levels: list[dict], db: Path) -> None:
    """Put the table in docs/PERFORMANCE.md's load section (replacing an earlier one)."""
    import platform
    from datetime import date
    from bench.run import DOC, LOAD_SECTION
    issues = "?"
    try:
        import sqlite3
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        issues = f"{conn.execute('SELECT COUNT(*) FROM issues').fetchone()[0]:,}"
        conn.close()
    except Exception:          # the count is a label only
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    section = [
        LOAD_SECTION, "",
        "Written by `python -m bench.bench_load --doc` (see its docstring for how sessions are "
        f"driven and why). Programme: {issues} issues. Run on {date.today().isoformat()}, "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} "
        f"CPU cores, load average {load} when written. **The machine is shared and was loaded "
        "by other agents' work while this ran**: wall-clock script runs include waiting for a "
        "core; CPU seconds per visit and peak RSS are the server's own.", "",
        "Each session: sign-in, then per cycle the dashboard, the catalogue and 根源与督办 "
        "twice each and one progress save in its own city. *warm*: a visit whose scope had no "
        "write since the session's last visit of that page; *after a write*: one whose scope "
        "had (its own save, or another session's in the same city or, for a lead, anywhere). "
        f"Targets: p95 ≤ {TARGETS['p95_s']} s at 20 sessions, peak RSS < "
        f"{TARGETS['rss_mb']:.0f} MB, after a write ≤ {TARGETS['after_write_ratio']} × warm.",
        "", table(levels), ""]
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    head = old[:old.index(LOAD_SECTION)] if LOAD_SECTION in old else old + "\n"
    DOC.write_text(head + "\n".join(section), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, help="programme to copy (default: the 40k of bench/.cache)")
    ap.add_argument("--levels", default="1,5,10,20")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--doc", action="store_true",
                    help="write the table to docs/PERFORMANCE.md's load section")
    args = ap.parse_args()
    if args.db is None:
        from bench.common import copy_40k
        args.db = copy_40k()
    work = ROOT / "bench" / ".cache" / "load"
    work.mkdir(parents=True, exist_ok=True)
    # Accounts once, on a copy every level copies from (argon2 hashing is deliberately slow).
    base = work / "base.db"
    from bench.common import _backup
    _backup(args.db, base)
    levels_n = [int(x) for x in args.levels.split(",")]
    prepare(base, max(levels_n))
    results = []
    for n in levels_n:
        r = run_level(base, n, args.cycles, work)
        results.append(r)
        print(table([r]), flush=True)
        if r.get("errors"):
            print("  errors:", r["errors"][:3], flush=True)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.doc:
        write_doc(results, args.db)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
