"""Scale check, run by hand: the three graph reads of the 根源与督办 page end to end from a
40,000-issue database (SQL + analysis), each against loading the same rows and building the
bare networkx graph from them (the baseline). Prints seconds, ratios and the 2 s target.

    python -m bench.bench_graphs [--db PATH] [--repeat N]

The database is bench/.cache/g40k.db: copied from /tmp/g40k.db when that exists, else
generated with audit.generate (40,000 issues, seed 1, as of 2026-11-27; takes minutes).
`run()` returns the rows for bench/run.py.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Callable

import networkx as nx

from audit.store.db import open_database
from audit.views import Scope, issue_states
from issues import dependency_model
from issues import graph_model as graphs
from issues import graph_views as gs
from issues.graphs_cli import table

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "g40k.db"
ISSUES, SEED, AS_OF = 40_000, 1, date(2026, 11, 27)
TARGET_S = 2.0


def database(path: Path = CACHE) -> Path:
    """The benchmark database: the cached copy, else a copy of the 40k programme."""
    from bench.common import copy_40k  # here: scripts add the root to sys.path first
    return path if path.exists() else copy_40k(path)


# --- baselines: the same rows, and a bare graph built from them -----------------------------


def cause_baseline(db, scope: Scope, as_of: date) -> nx.Graph:
    """The rows cause_ranking loads, as a bare bipartite graph."""
    inputs = gs.load_cause_inputs(db, scope, as_of)
    g = nx.Graph()
    g.add_nodes_from(("issue", i.id) for i in inputs.issues)
    g.add_nodes_from(("cause", c.id) for c in inputs.causes)
    g.add_edges_from((("issue", i), ("cause", c)) for i, c in inputs.links)
    return g


def blocked_baseline(db, scope: Scope, as_of: date) -> nx.DiGraph:
    """The rows blocked loads, as a bare dependency graph."""
    _states, _issues, ms, edges = gs._blocked_inputs(db, scope, as_of)
    g = nx.DiGraph()
    g.add_nodes_from(m["id"] for m in ms)
    g.add_edges_from(edges)
    return g


def escalation_baseline(db, scope: Scope, as_of: date) -> nx.DiGraph:
    """The rows escalations_due loads, as a bare graph: unit tree plus issue → unit."""
    states = gs.issue_rows(db, scope, as_of)
    units = db.conn.execute("SELECT id, parent_id, head_person_id FROM units").fetchall()
    calendar = db.conn.execute("SELECT day, is_working FROM calendar_days").fetchall()
    recorded = db.conn.execute("SELECT issue_id, step FROM escalations").fetchall()
    g = nx.DiGraph()
    g.add_edges_from((("unit", u), ("unit", p)) for u, p, _ in units if p is not None)
    g.add_edges_from((("issue", r["id"]), ("unit", r["unit_id"])) for r in states
                     if r["warning"] == "red")
    g.graph.update(calendar=len(calendar), recorded=len(recorded))
    return g


# --- timing ------------------------------------------------------------------------------


# --- floors with no project code: the same rows by bare SQL, the graph built and walked ------

def bare_causes(db, as_of: date) -> list:
    """Issue↔cause graph from bare SQL; walk: per cause, its open issues and their amount,
    ranked."""
    issues = {i: (s, a) for i, s, a in db.conn.execute(
        "SELECT id, status, amount_involved FROM issues WHERE merged_into_id IS NULL")}
    g = nx.Graph()
    g.add_nodes_from(("issue", i) for i in issues)
    for c, in db.conn.execute("SELECT id FROM causes"):
        g.add_node(("cause", c))
    g.add_edges_from((("issue", i), ("cause", c)) for i, c in db.conn.execute(
        "SELECT issue_id, cause_id FROM issue_causes") if i in issues)
    ranked = []
    for node in g:
        if node[0] != "cause":
            continue
        open_ = [n[1] for n in g[node] if issues[n[1]][0] not in ("closed", "ended")]
        ranked.append((len(open_), sum(issues[i][1] for i in open_), node[1]))
    ranked.sort(reverse=True)
    return ranked


def bare_blocked(db, as_of: date) -> list:
    """Measure dependency graph from bare SQL; walk: earliest finish of every measure in
    topological order (its deadline or what it waits for, whichever is later), then the issues
    whose measures finish after the issue's deadline."""
    ms = {m: (i, d, s) for m, i, d, s in db.conn.execute(
        "SELECT id, issue_id, deadline, status FROM measures")}
    g = nx.DiGraph()
    g.add_nodes_from(ms)
    g.add_edges_from((d, m) for m, d in db.conn.execute(
        "SELECT measure_id, depends_on_id FROM measure_deps"))
    finish: dict[int, str] = {}
    for m in nx.topological_sort(g):
        own = ms[m][1] or ""
        finish[m] = max([own] + [finish[p] for p in g.predecessors(m)])
    deadlines = dict(db.conn.execute("SELECT id, deadline FROM issues WHERE status NOT IN "
                                     "('closed', 'ended') AND merged_into_id IS NULL"))
    return [i for m, (i, _d, _s) in ms.items()
            if i in deadlines and deadlines[i] and finish[m] > deadlines[i]]


def bare_escalation(db, as_of: date) -> list:
    """Unit tree from bare SQL; walk: for every overdue open issue, the chain from its unit to
    the root."""
    today = as_of.isoformat()
    tree = nx.DiGraph()
    tree.add_edges_from((u, p) for u, p in db.conn.execute(
        "SELECT id, parent_id FROM units WHERE parent_id IS NOT NULL"))
    chains = {}
    out = []
    for iid, unit in db.conn.execute(
            "SELECT id, unit_id FROM issues WHERE status NOT IN ('closed', 'ended') "
            "AND merged_into_id IS NULL AND deadline < ?", (today,)):
        if unit not in chains:
            chains[unit] = [unit] + list(nx.dfs_preorder_nodes(tree, unit))[1:] \
                if unit in tree else [unit]
        out.append((iid, chains[unit]))
    return out


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The median wall-clock and CPU seconds of `repeat` runs, each after a full collection (so
    that no run pays for the garbage of the one before). CPU time is printed too because on a
    shared machine the wall clock also counts the time spent waiting for a core."""
    wall, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def same_blocked_as_loading_everything(db, as_of: date) -> bool:
    """blocked() loads only candidate measures; check it finds what loading all of them finds."""
    states = issue_states(db, Scope(), as_of)
    issues = [dependency_model.IssueDeadline(r["id"], r["code"], graphs._as_date(r["deadline"]),
                                   r["status"]) for r in states]
    cur = db.conn.execute("SELECT id, issue_id, deadline, status, completed_on FROM measures")
    ms = [dependency_model.MeasureNode(m, i, "", graphs._as_date(d), s, graphs._as_date(c))
          for m, i, d, s, c in cur]
    edges = db.conn.execute("SELECT measure_id, depends_on_id FROM measure_deps").fetchall()
    full = dependency_model.blocked_issues(issues, ms, edges, as_of)
    return [(b.issue_id, b.days_late) for b in full] \
        == [(b["issue_id"], b["days_late"]) for b in gs.blocked(db, Scope(), as_of)]


def run(db_path: Path | None = None, repeat: int = 3) -> list[dict]:
    """Measure the three reads against their baselines: rows {name, measured, baseline, ratio,
    target} in wall-clock seconds (target is the bound on `measured`), plus measured_cpu and
    baseline_cpu (CPU seconds)."""
    db = open_database(database(db_path or CACHE))
    scope = Scope()
    cases = [
        ("cause ranking 根源排名", lambda: gs.cause_ranking(db, scope, AS_OF),
         lambda: cause_baseline(db, scope, AS_OF)),
        ("blocked chains 受阻链", lambda: gs.blocked(db, scope, AS_OF),
         lambda: blocked_baseline(db, scope, AS_OF)),
        ("escalation list 督办清单", lambda: gs.escalations_due(db, scope, AS_OF),
         lambda: escalation_baseline(db, scope, AS_OF)),
    ]
    bare = {"cause ranking 根源排名": lambda: bare_causes(db, AS_OF),
             "blocked chains 受阻链": lambda: bare_blocked(db, AS_OF),
             "escalation list 督办清单": lambda: bare_escalation(db, AS_OF)}
    from issues import stored_views
    stored = {"cause ranking 根源排名": lambda: stored_views.cause_inputs(db, scope, AS_OF, at=""),
              "blocked chains 受阻链": lambda: stored_views.blocked(db, scope, AS_OF, at=""),
              "escalation list 督办清单": lambda: stored_views.escalations_due(db, scope, AS_OF,
                                                                         at="")}
    out = []
    for name, measured, _ in cases:
        measured()
        (m, mc), (b, bc) = timed(measured, repeat), timed(bare[name], repeat)
        out.append({"name": f"{name} vs bare SQL + networkx build and walk (no project code)",
                    "measured": round(m, 3), "baseline": round(b, 3),
                    "ratio": round(m / b, 2) if b else None, "target": TARGET_S,
                    "measured_cpu": round(mc, 3), "baseline_cpu": round(bc, 3)})
        stored[name]()      # computed and stored once: what a page view then reads
        (m, mc) = timed(stored[name], repeat)
        out.append({"name": f"{name}, stored result (current) vs the same floor",
                    "measured": round(m, 3), "baseline": round(b, 3),
                    "ratio": round(m / b, 2) if b else None, "target": 1.0,
                    "measured_cpu": round(mc, 3), "baseline_cpu": round(bc, 3)})
    for name, measured, baseline in cases:
        measured()  # warm SQLite's page cache, so the first case is not charged for it
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
    counts = {t: db.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("issues", "measures", "measure_deps", "causes", "issue_causes")}
    same = same_blocked_as_loading_everything(db, AS_OF)
    db.conn.close()
    print(f"{path}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
          + f"; as of {AS_OF}; median of {args.repeat}; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
    rows = run(path, args.repeat)
    print(table(["read", "measured s", "baseline s", "ratio", "target s", "ok",
                 "measured cpu s", "baseline cpu s"],
                [(r["name"], f"{r['measured']:.3f}", f"{r['baseline']:.3f}",
                  f"{r['ratio']:.2f}", f"{r['target']:.1f}",
                  "yes" if r["measured"] < r["target"] else "NO",
                  f"{r['measured_cpu']:.3f}", f"{r['baseline_cpu']:.3f}") for r in rows]))
    print("baseline: the same rows loaded by the same SQL, built into a bare networkx graph")
    print(f"blocked chains equal to loading every measure: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
