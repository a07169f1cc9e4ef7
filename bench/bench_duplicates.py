"""Scale check of the duplicate finder on the 40,000-issue programme, run by hand or by
bench/run.py: find_duplicates within (category, city) and across units and categories, each
against the floor of any word-based method, reading the same texts with the same SQL and
cutting each with the bare word cutter (rjieba). A third case runs the pure model on 40,000
distinct wordings (the generated programme repeats 24 titles; real ledgers vary more).

    python -m bench.bench_duplicates [--db PATH] [--repeat N]

Prints wall-clock and CPU seconds, ratios and the target (wall seconds). `run()` returns the rows
for bench/run.py.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.store.db import open_database
from bench.bench_graphs import CACHE, database, timed  # noqa: E402
from issues import duplicates_model as model  # noqa: E402
from issues import duplicates_views as duplicates
from issues.graphs_cli import table  # noqa: E402

TARGET_S = 3.0
STRESS_ISSUES = 40_000


def texts(db) -> list[tuple[str, str]]:
    """The texts find_duplicates compares, read by the same SQL."""
    return db.conn.execute(
        "SELECT i.title, substr(i.description, 1, ?) FROM issues i JOIN aspects a "
        "ON a.id = i.aspect_id JOIN categories c ON c.id = a.category_id "
        "WHERE i.merged_into_id IS NULL ORDER BY i.id", (duplicates.TEXT_CHARS,)).fetchall()


def bare_cut(pairs: list[tuple[str, str]]) -> int:
    """The floor: every text cut into words by the bare cutter."""
    cutter = model._lexicon().cutter
    return sum(len(cutter.cut((t or "") + "\n" + (d or ""), True)) for t, d in pairs)


def varied_findings(n: int, seed: int = 1) -> list[tuple[str, str]]:
    """n findings reworded from the labelled set's: another unit and year in front, the
    clauses shuffled, a filler clause now and then, so that hardly two are worded alike."""
    from audit.demo import CITIES
    from tests.duplicate_pairs import corpus
    rng = random.Random(seed)
    base = [f.title for f in corpus()] + [f.title for f in corpus(True)]
    units = [name for _, name, _ in CITIES] + [c + "分公司" for _, _, cs in CITIES for c in cs]
    fillers = ["经抽查", "涉及金额较大", "部分单位", "个别网点", "整改不彻底", "存在类似情况"]
    out = []
    for _ in range(n):
        clauses = rng.choice(base).split("，")
        rng.shuffle(clauses)
        if rng.random() < 0.4:
            clauses.insert(rng.randrange(len(clauses) + 1), rng.choice(fillers))
        title = "，".join(clauses)
        description = (f"{rng.randint(2019, 2026)}年审计发现{rng.choice(units)}{title}。"
                       f"编号{rng.randint(1, 99999)}。")
        out.append((title, description))
    return out


def stress(findings: list[tuple[str, str]], places: model.Places) -> int:
    """The pure model on these findings, compared across all of them."""
    feats = [model.features(t, d, places) for t, d in findings]
    matrix = model.Matrix.weigh(feats, model.inverse_frequencies(feats))
    return len(model.similar_pairs(matrix, model.DEFAULT_THRESHOLD,
                                   neighbours=duplicates.NEIGHBOURS))


def run(db_path: Path | None = None, repeat: int = 3) -> list[dict]:
    """Rows {name, measured, baseline, ratio, target, measured_cpu, baseline_cpu}: wall-clock
    seconds (the target bounds `measured`) and CPU seconds."""
    db = open_database(database(db_path or CACHE))
    rows = texts(db)
    varied = varied_findings(STRESS_ISSUES)
    places = duplicates._places(db)
    cases = [
        ("duplicates within (category, city), 40,000 issues",
         lambda: duplicates.find_duplicates(db, with_issues=False), lambda: bare_cut(texts(db))),
        ("duplicates across units and categories, 40,000 issues",
         lambda: duplicates.find_duplicates(db, with_issues=False, across=True),
         lambda: bare_cut(texts(db))),
        ("model alone, 40,000 distinct wordings compared across",
         lambda: stress(varied, places), lambda: bare_cut(varied)),
    ]
    del rows
    out = []
    for name, measured, baseline in cases:
        measured()   # warm SQLite's page cache and the word cutter
        (m, mc), (b, bc) = timed(measured, repeat), timed(baseline, repeat)
        out.append({"name": name, "measured": round(m, 3), "baseline": round(b, 3),
                    "ratio": round(m / b, 2) if b else None, "target": TARGET_S,
                    "measured_cpu": round(mc, 3), "baseline_cpu": round(bc, 3)})
    db.conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=CACHE)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = database(args.db)
    db = open_database(path)
    n = db.conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0]
    clusters = duplicates.find_duplicates(db, with_issues=False)
    across = duplicates.find_duplicates(db, with_issues=False, across=True)
    db.conn.close()
    print(f"{path}: {n:,} issues; {len(clusters)} clusters within (category, city), "
          f"{len(across)} across; median of {args.repeat}; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
    rows = run(path, args.repeat)
    print(table(["case", "measured s", "baseline s", "ratio", "target s", "ok",
                 "measured cpu s", "baseline cpu s"],
                [(r["name"], f"{r['measured']:.3f}", f"{r['baseline']:.3f}",
                  f"{r['ratio']:.2f}", f"{r['target']:.1f}",
                  "yes" if r["measured"] < r["target"] else "NO",
                  f"{r['measured_cpu']:.3f}", f"{r['baseline_cpu']:.3f}") for r in rows]))
    print("baseline: the same texts read by the same SQL and cut into words by bare rjieba")
    with open("/proc/self/status") as f:
        peak = next((line.split()[1] for line in f if line.startswith("VmHWM")), "?")
    print(f"peak memory of this process: {int(peak) // 1024 if peak != '?' else '?'} MB")


if __name__ == "__main__":
    main()
