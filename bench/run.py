"""Every benchmark in one table: each bench/bench_*.py module that exposes `run() -> list[dict]`
(rows {name, measured, baseline, ratio, target}) runs in its own process, side by side against
its baseline; then the app's peak memory on the 40,000-issue database is measured (target
< 500 MB): `streamlit run` on a copy, Chromium signs in and opens every page, and the server
process's VmHWM is read from /proc. The table is printed and written to docs/PERFORMANCE.md.

    python -m bench.run                    # everything
    python -m bench.run --only dashboard   # one module (name without bench_)
    python -m bench.run --no-memory        # skip the app's memory measurement
    python -m bench.run --memory-only      # only the app's memory measurement (printed, not
                                           # written to docs/PERFORMANCE.md)
    python -m bench.run --reuse            # the table again from the last measured rows

Databases: bench/.cache/g40k.db, a consistent copy of /tmp/g40k.db (never modified), or
generated with audit.generate (40,000 issues, seed 1, as of 2026-11-27; takes minutes).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
DB = CACHE / "g40k.db"
DOC = ROOT / "docs" / "PERFORMANCE.md"
MEMORY_TARGET_MB = 500
AS_OF = date(2026, 11, 27)
MARK = "@@ROWS@@"
LOAD_SECTION = "## Many users at once"


def database() -> Path:
    """The 40k database in bench/.cache."""
    from bench.common import copy_40k  # here: scripts add the root to sys.path first
    return copy_40k(DB)


def modules() -> list[str]:
    """bench_*.py module names, in name order."""
    return sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))


def run_module(name: str, timeout: float) -> tuple[list[dict], str]:
    """Run bench.<name>.run() in its own process; (rows, note)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    source = (ROOT / "bench" / f"{name}.py").read_text(encoding="utf-8")
    if spec is None or not re.search(r"^def run\(", source, re.M):
        return [], "no run(): a script run by hand"
    code = (f"import json, bench.{name} as m; rows = m.run(); "
            f"print({MARK!r} + json.dumps(rows, default=str))")
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), f"{seconds:.0f} s"
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return [], f"failed (exit {done.returncode}): {tail[0][:160]}"


# --- the app's peak memory ----------------------------------------------------------------------

def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _settle(page, settle_ms: int = 500, timeout_ms: int = 600_000) -> None:
    """tests.browser.conftest.wait_idle with room for a 40k page on a loaded machine: wait
    until the app has finished its run and stays idle for `settle_ms`."""
    from tests.browser.conftest import IDLE, RUNNING
    try:
        page.wait_for_selector(RUNNING, timeout=settle_ms)
    except Exception:
        pass
    for _ in range(20):
        page.wait_for_selector(IDLE, timeout=timeout_ms)
        page.wait_for_timeout(settle_ms)
        if page.locator(IDLE).count() == 1:
            return
    raise RuntimeError("the app kept rerunning")


def _sign_in(page, username: str, password: str) -> None:
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox").nth(0).fill(username)
    form.get_by_role("textbox").nth(1).fill(password)
    form.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    _settle(page)


def app_peak_memory(db_path: Path) -> dict:
    """Start the app on a copy of the 40k database, sign in as each role in Chromium, open
    every page it has; return {peak_mb, pages, seconds} (VmHWM of the streamlit process)."""
    from audit.demo import DEMO_PASSWORD
    from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, start_app
    if not CHROMIUM.exists():
        return {"error": f"{CHROMIUM} not found"}
    copy = CACHE / "g40k_app.db"
    for leftover in CACHE.glob("g40k_app.db*"):
        leftover.unlink()
    from bench.common import _backup
    _backup(db_path, copy)  # with the history key: the app signs each sign-in's record
    proc, url = start_app(copy, CACHE / "streamlit_memory.log")
    opened: list[str] = []
    started = time.perf_counter()
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            for user in ("admin", "lead", "team", "manager"):
                context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                              viewport={"width": 1280, "height": 860})
                page = context.new_page()
                page.set_default_timeout(600_000)
                page.goto(url)
                _settle(page)
                _sign_in(page, user, DEMO_PASSWORD)
                # The navigation is painted a moment after the sign-in rerun ends.
                page.wait_for_selector('[data-testid="stSidebarNavLink"]')
                _settle(page)
                links = page.locator('[data-testid="stSidebarNavLink"]')
                for i in range(links.count()):
                    link = links.nth(i)
                    label = link.inner_text().strip().splitlines()[-1]
                    link.click()
                    _settle(page)
                    # The peak so far after each page shows which page raised it.
                    opened.append(f"{user}:{label} ({_vm_hwm_mb(proc.pid):.0f} MB)")
                context.close()
            browser.close()
        peak = _vm_hwm_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        for leftover in CACHE.glob("g40k_app.db*"):
            leftover.unlink()
    return {"peak_mb": peak, "pages": opened, "seconds": time.perf_counter() - started}


# --- the table ----------------------------------------------------------------------------------

def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"
    return "" if x is None else str(x)


# Modules whose numeric target bounds the measured seconds rather than the ratio.
SECONDS_TARGETS = {"graphs"}


def table(rows: list[dict]) -> list[str]:
    lines = ["| module | benchmark | measured (s) | baseline (s) | ratio | target | met |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        target = r.get("target")
        if isinstance(target, (int, float)) and r["module"] in SECONDS_TARGETS:
            target = f"≤ {target:g} s"
        elif isinstance(target, (int, float)):
            target = f"ratio ≤ {target:g}"
        met = _met(r.get("ratio"), target, r.get("measured"))
        shown = {True: "yes", False: "no", None: "–"}[met]
        lines.append(f"| {r['module']} | {r.get('name', '')} | {_fmt(r.get('measured'))} | "
                     f"{_fmt(r.get('baseline'))} | {_fmt(r.get('ratio'))} | "
                     f"{target or '(figure only)'} | {shown} |")
    return lines


def _met(ratio, target, measured=None) -> bool | None:
    """A numeric target is a bound on the ratio; a text target such as '<= 2 s' or
    'ratio <= 1.0' is read for its number and unit."""
    import re
    if target is None:
        return None
    if isinstance(target, (int, float)):
        return None if ratio is None else float(ratio) <= float(target)
    m = re.search(r"([<≤]=?|≤)\s*([\d.]+)\s*(s|ms)?", str(target))
    if not m:
        return None
    bound = float(m.group(2))
    if m.group(3) == "s" and measured is not None:
        return float(measured) <= bound
    if m.group(3) == "ms" and measured is not None:
        return float(measured) * 1000 <= bound
    return None if ratio is None else float(ratio) <= bound


def memory_only(db: Path) -> int:
    """Measure the app's peak memory alone, print the peak after each page view; exit status 1
    when the target is missed or the measurement failed."""
    memory = app_peak_memory(db)
    if "peak_mb" not in memory:
        print(f"not measured: {memory['error']}")
        return 1
    print("\n".join(memory["pages"]))
    ok = memory["peak_mb"] < MEMORY_TARGET_MB
    print(f"peak {memory['peak_mb']:.0f} MB ({'under' if ok else 'over'} the "
          f"{MEMORY_TARGET_MB} MB target), {len(memory['pages'])} page views in "
          f"{memory['seconds']:.0f} s")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run")
    ap.add_argument("--only", action="append", help="module name without bench_ (repeatable)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true",
                    help="measure only the app's peak memory and print it per page view")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--reuse", action="store_true",
                    help="use rows measured by an earlier run (bench/.cache/rows-*.json) "
                         "instead of measuring again")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    db = database()
    if args.memory_only:
        return memory_only(db)
    names = [n for n in modules()
             if not args.only or n.removeprefix("bench_") in args.only or n in args.only]
    rows: list[dict] = []
    notes: list[str] = []
    for name in names:
        cached = CACHE / f"rows-{name}.json"
        if args.reuse and cached.exists():
            saved = json.loads(cached.read_text(encoding="utf-8"))
            got, note = saved["rows"], f"{saved['note']} (measured {saved['at']})"
        else:
            print(f"running {name} …", file=sys.stderr, flush=True)
            got, note = run_module(name, args.timeout)
            if got:
                cached.write_text(json.dumps({"rows": got, "note": note,
                                              "at": time.strftime("%Y-%m-%d %H:%M")},
                                             ensure_ascii=False, default=str),
                                  encoding="utf-8")
        notes.append(f"- `{name}`: {note}" + (f", {len(got)} rows" if got else ""))
        rows.extend({"module": name.removeprefix("bench_"), **r} for r in got)
    expected = {"bench_dashboard", "bench_graphs", "bench_exports", "bench_import",
                "bench_pages"}
    for missing in sorted(expected - set(modules())):
        notes.append(f"- `{missing}`: not written yet (skipped)")
    memory = None
    memory_file = CACHE / "memory.json"
    if args.reuse and memory_file.exists():
        memory = json.loads(memory_file.read_text(encoding="utf-8"))
    elif not args.no_memory:
        print("measuring the app's peak memory …", file=sys.stderr, flush=True)
        try:
            memory = app_peak_memory(db)
            memory_file.write_text(json.dumps(memory, ensure_ascii=False), encoding="utf-8")
        except Exception as ex:  # a measurement that failed is reported, not hidden
            memory = {"error": f"{type(ex).__name__}: {ex}"}
    lines = table(rows)
    if memory and "peak_mb" in memory:
        ok = memory["peak_mb"] < MEMORY_TARGET_MB
        lines.append(f"| app | peak RSS (VmHWM) of `streamlit run` on 40k issues, "
                     f"{len(memory['pages'])} page views | {memory['peak_mb']:.0f} MB | | | "
                     f"< {MEMORY_TARGET_MB} MB | {'yes' if ok else 'no'} |")
    elif memory:
        notes.append(f"- app memory: not measured ({memory['error']})")
    print("\n".join(lines))
    print("\n".join(notes))
    if not args.no_write:
        write_doc(lines, notes, memory, time.perf_counter() - started, args.reuse)
    return 0


def write_doc(lines: list[str], notes: list[str], memory: dict | None, seconds: float,
              reused: bool = False) -> None:
    cpu = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    when = ("rows measured at the times listed under Modules (`--reuse`)" if reused
            else f"{seconds / 60:.0f} min in all")
    text = [
        "# Performance",
        "",
        "Written by `python -m bench.run` (do not edit by hand; run it again). Each benchmark runs",
        "side by side with a baseline that does the same work with no logic around it (loading",
        "the rows into pandas, bare networkx, bare python-docx / openpyxl…), so the ratio says",
        "what the code costs on this machine whatever its speed. Database: 40,000 generated issues",
        "(`python -m audit generate --issues 40000 --seed 1 --as-of 2026-11-27`).",
        "",
        f"Run on {date.today().isoformat()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {cpu} CPU cores; {when}. Load average when written: "
        f"{load} (a shared machine slows both sides of a comparison alike, so ratios hold "
        "better than seconds).",
        "",
        *lines,
        "",
        "Modules:",
        *notes,
    ]
    if memory and "peak_mb" in memory:
        text += ["", "Peak memory: `streamlit run streamlit_app.py` with `AUDIT_DB` on a copy of "
                 "the 40k database; Chromium (Playwright) signed in as admin, lead, team "
                 "(rectifier) and manager and clicked every page in the navigation "
                 f"({len(memory['pages'])} page views in {memory['seconds']:.0f} s); the "
                 "figure is VmHWM of the server process from /proc/PID/status. Peak so far "
                 "after each page view:", "",
                 *(f"- {v}" for v in memory["pages"])]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    # The load benchmark's section (bench/bench_load.py --doc) is its own: kept as it is.
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    kept = old[old.index(LOAD_SECTION):] if LOAD_SECTION in old else ""
    DOC.write_text("\n".join(text) + "\n" + ("\n" + kept if kept else ""), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
