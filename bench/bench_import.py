"""Importing a 10,000-row field ledger into a fresh programme — reading it (read_ledger, with the
column and value inference on), planning and applying (one transaction, history included) — side
by side with the bare read of the same file (every cell) by the reader the import uses for
.xlsx, openpyxl read-only. Target: ratio ≤ 2.0. python-calamine (the import's reader for .xls
and .ods) reads .xlsx about ten times faster; the ratio against it is shown as a figure. Also shown, as figures only:
plan + apply without the reading, and re-importing the same file (nothing changes, nothing is
written).
Times are CPU seconds of this process (time.process_time): on a shared machine wall-clock
ratios swing with the neighbours' load, CPU time does not.

    python -m bench.bench_import [rows]
"""
from __future__ import annotations

import gc
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from audit import login_service

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # run as a script: python bench/bench_import.py
    sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache"
ROWS = 10_000
TARGET = 2.0
AT = "2026-11-27T10:00:00+08:00"
AS_OF = date(2026, 11, 27)


def ledger_path(n: int = ROWS, seed: int = 1) -> Path:
    """bench/.cache/ledger-<n>.xlsx, written once with write_ledger from generated rows."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"ledger-{n}-{seed}.xlsx"
    if not path.exists():
        from issues.ledger_write_format import write_ledger
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            write_ledger(generated_rows(n, seed), fh, vocabulary=vocabulary(),
                         title="外包专项审计整改台账", as_of=AS_OF)
        tmp.replace(path)
    return path


def vocabulary():
    """The work streams and focus points of a new programme (the migration's rows)."""
    from audit.store.db import open_database
    from issues.store import ledger_vocabulary
    return ledger_vocabulary(open_database(":memory:"))


def _units() -> list[tuple[str, str, str | None, str]]:
    """(code, name, parent code, level) of the demo's region, cities and counties."""
    from audit.demo import CITIES, REGION
    out = [(REGION[0], REGION[1], None, "region")]
    for code, name, counties in CITIES:
        out.append((code, name, REGION[0], "city"))
        for n, county in enumerate(counties, 1):
            out.append((f"{code}{n:02d}", f"{county}分公司", code, "county"))
    return out


def _people(unit_code: str) -> list[str]:
    rnd = random.Random(unit_code)
    from audit.demo import GIVEN, SURNAMES
    return sorted({rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN)
                   for _ in range(6)})


def generated_rows(n: int, seed: int):
    """n LedgerRows as a field office would fill them: catalogue, unit, people, measures with
    owners and deadlines, statuses across the workflow, sources, streams, focus points."""
    from audit.demo import CATALOGUE
    from issues.ledger_format import LedgerRow, MeasureLine
    rnd = random.Random(seed)
    units = [u for u in _units() if u[3] != "region"]
    audits = [("外包专项审计", 2024, "group", "集团审计〔2024〕12号"),
              ("成本费用审计", 2025, "regional", "区审计〔2025〕3号"),
              ("经济责任审计", 2023, "regional", "区审计〔2023〕8号")]
    statuses = ["not_started", "in_progress", "in_progress", "submitted", "closed"]
    counters: dict[str, int] = {}
    rows = []
    for i in range(n):
        ci = rnd.randrange(len(CATALOGUE))
        cat_code, cat_name, aspects = CATALOGUE[ci]
        ai = rnd.randrange(len(aspects))
        aspect_name, titles = aspects[ai]
        aspect_code = f"{cat_code}.{ai + 1}"
        counters[aspect_code] = counters.get(aspect_code, 0) + 1
        code = f"{aspect_code}.{counters[aspect_code]}"
        unit_code, unit_name, _, _ = rnd.choice(units)
        people = _people(unit_code)
        deadline = AS_OF + timedelta(days=rnd.randint(-200, 300))
        measures = tuple(
            MeasureLine(f"整改措施{k + 1}：{rnd.choice(titles)[:12]}", rnd.choice(people),
                        deadline - timedelta(days=10 * (k + 1)), rnd.random() < 0.4)
            for k in range(rnd.randint(1, 3)))
        audit = rnd.choice(audits)
        rows.append(LedgerRow(
            excel_row=i + 3, code=code, category=cat_name, aspect=aspect_name,
            title=f"{rnd.choice(titles)}（{unit_name}第{i + 1}项）",
            description=f"{unit_name}存在{rnd.choice(titles)}的问题，涉及承包商{rnd.randint(1, 9)}家。",
            audit_name=audit[0], audit_year=audit[1], audit_level=audit[2],
            report_no=audit[3], unit=unit_name, responsible=people[0],
            supervisor=people[-1], measures=measures, deadline=deadline,
            progress="已制定整改方案" if rnd.random() < 0.5 else "",
            status=rnd.choice(statuses), amount=round(rnd.random() * 100000, 2),
            rectification_type=rnd.choice(["immediate", "staged", "continuous"]),
            basis="《邮政业务外包管理办法》", recommendation="建立长效机制",
            streams=rnd.choice([("cleanup",), ("audit",), ("cleanup", "audit")]),
            focus=tuple(sorted(rnd.sample(["F1", "F2", "F3", "F4", "F5"], rnd.randint(0, 2)))),
            causes=(rnd.choice(["制度缺失", "监督不到位", "考核机制不健全"]),)))
    return rows


def fresh_database(folder: Path):
    """A new programme with the org (units and their people) and an audit lead: no issues."""
    from audit import accounts_service
    from audit.store.db import open_database
    from owners import service as owners
    db = open_database(folder / "fresh.db")
    at = "2026-01-01T08:00:00+08:00"
    for code, name, parent, level in _units():
        uid = owners.create_unit(db, None, code=code, name=name, level=level,
                                 parent_code=parent, at=at)
        if level != "region":
            for person in _people(code):
                owners.create_person(db, None, name=person, unit_id=uid, at=at)
    accounts_service.create_user(db, None, "lead", "bench password 1", "lead", at=at)
    return db, login_service.actor_for(db, db.conn.execute(
        "SELECT id FROM users WHERE username = 'lead'").fetchone()[0])


def read_only_baseline(path: Path) -> float:
    """Seconds for openpyxl to open the file read-only and touch every cell value."""
    import openpyxl
    gc.collect()
    t = time.process_time()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    ws.reset_dimensions()
    cells = 0
    for row in ws.iter_rows(values_only=True):
        cells += sum(1 for v in row if v is not None)
    wb.close()
    return time.process_time() - t


def calamine_baseline(path: Path) -> float:
    """Seconds for python-calamine (a Rust reader) to read the same file's first sheet and
    touch every cell value."""
    import python_calamine
    gc.collect()
    t = time.process_time()
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    cells = 0
    for row in book.get_sheet_by_index(0).to_python():
        cells += sum(1 for v in row if v != "")
    return time.process_time() - t


def bare_executemany(db, folder: Path) -> tuple[float, int]:
    """The write floor: every row the import wrote (each table of the programme that holds
    rows), written again by a bare executemany into plain tables of a fresh file in one
    transaction — no checks, no history chain, no indexes or full-text triggers. Returns
    (CPU seconds, rows)."""
    import sqlite3
    tables = [r[0] for r in db.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE '%_fts%' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
    data = {}
    for t in tables:
        rows = db.conn.execute(f'SELECT * FROM "{t}"').fetchall()
        if rows:
            data[t] = rows
    target = sqlite3.connect(str(folder / "bare.db"), isolation_level=None)
    target.execute("PRAGMA journal_mode = WAL")
    gc.collect()
    t = time.process_time()
    target.execute("BEGIN")
    for name, rows in data.items():
        width = len(rows[0])
        target.execute(f'CREATE TABLE "{name}" ({", ".join(f"c{i}" for i in range(width))})')
        target.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * width)})', rows)
    target.execute("COMMIT")
    seconds = time.process_time() - t
    target.close()
    return seconds, sum(map(len, data.values()))


def run(n: int = ROWS) -> list[dict]:
    """Rows {name, measured, baseline, ratio, target} for the benchmark table."""
    from issues.import_service import apply_import, plan_import
    from issues.ledger_read_format import read_ledger
    path = ledger_path(n)
    data = path.read_bytes()
    # The floor: the bare read of the file by the reader the import uses for .xlsx (openpyxl's
    # streaming parser: it alone gives the formulas without a saved result that the reader
    # refuses by cell). python-calamine, which the import uses for .xls/.ods, reads .xlsx far
    # faster: its ratio is printed too, as a figure.
    floors = {"openpyxl read-only": read_only_baseline(path),
              "python-calamine": calamine_baseline(path)}
    fastest = "openpyxl read-only"
    baseline = floors[fastest]
    gc.collect()
    t = time.process_time()
    parsed = read_ledger(data, path.name, vocabulary=vocabulary(), max_rows=max(n, 100_000))
    t_read = time.process_time() - t
    with tempfile.TemporaryDirectory() as folder:
        db, actor = fresh_database(Path(folder))
        gc.collect()
        t = time.process_time()
        plan = plan_import(db, actor, parsed, filename=path.name)
        t_plan = time.process_time() - t
        t = time.process_time()
        # A third of each type: the import passes the 30% cap, accepted as a lead would.
        result = apply_import(db, actor, plan, AT, accept_cap="bench: mixed types")
        t_apply = time.process_time() - t
        assert result.counts["create"] == n, result.counts
        gc.collect()
        t = time.process_time()
        again = apply_import(db, actor, plan_import(db, actor, parsed, filename=path.name),
                             "2026-11-28T10:00:00+08:00")
        t_again = time.process_time() - t
        assert again.history_records == 0
        t_bare, bare_rows = bare_executemany(db, Path(folder))
        db.conn.close()
    measured = t_read + t_plan + t_apply
    out = [
        {"name": f"import {n:,} rows: read_ledger (column and value inference on) + plan + "
                 f"apply (fresh db) vs the bare read by {fastest} (the import's .xlsx reader)",
         "measured": round(measured, 2), "baseline": round(baseline, 2),
         "ratio": round(measured / baseline, 2), "target": TARGET},
        {"name": f"import {n:,} rows: plan + apply only (figure) vs {fastest} read",
         "measured": round(t_plan + t_apply, 2), "baseline": round(baseline, 2),
         "ratio": round((t_plan + t_apply) / baseline, 2), "target": None},
        {"name": f"import {n:,} rows: read_ledger + plan + apply (figure) vs python-calamine "
                 "bare read (.xlsx)",
         "measured": round(measured, 2), "baseline": round(floors["python-calamine"], 2),
         "ratio": round(measured / floors["python-calamine"], 2), "target": None},


        {"name": f"import {n:,} rows: plan + apply vs a bare executemany of the {bare_rows:,} "
                 "rows it wrote",
         "measured": round(t_plan + t_apply, 2), "baseline": round(t_bare, 2),
         "ratio": round((t_plan + t_apply) / t_bare, 2), "target": None},
        {"name": f"re-import {n:,} unchanged rows: plan + apply (no writes)",
         "measured": round(t_again, 2), "baseline": round(baseline, 2),
         "ratio": round(t_again / baseline, 2), "target": None},
    ]
    print(f"  read_ledger {t_read:.2f}s, plan {t_plan:.2f}s, apply {t_apply:.2f}s "
          f"({result.history_records:,} history records); bare reads: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in floors.items()), file=sys.stderr)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    for r in run(n):
        target = f" (target ≤ {r['target']})" if r["target"] else ""
        print(f"{r['name']}: {r['measured']}s vs {r['baseline']}s → ×{r['ratio']}{target}")


if __name__ == "__main__":
    main()
