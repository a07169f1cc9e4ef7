"""Scale check, run by hand: the pure graph analyses on a provincial-size random data set
(40k issues, 200k measures, 60k dependency edges, 2k causes). Prints seconds per call.

    python -m bench.bench_graphs_pure [seed]
"""
from __future__ import annotations

import gc
import random
import sys
import time
from datetime import date, timedelta

from audit.time_model import Calendar
from issues.dependency_model import IssueDeadline, MeasureNode, blocked_issues, earliest_finish
from issues.graph_model import CauseNode, IssueNode, SourceMeasure, greedy_cover, rank_causes
from owners.escalation_model import IssueForEscalation, UnitNode, due_escalations

N_ISSUES, N_MEASURES, N_EDGES, N_CAUSES = 40_000, 200_000, 60_000, 2_000
AS_OF = date(2026, 11, 27)
STATUSES = ["not_started", "in_progress", "submitted", "closed", "ended"]


def generate(seed: int = 1):
    """Random issues, links, causes, measures, acyclic edges, units and a calendar."""
    rnd = random.Random(seed)
    units = [UnitNode(1, None, 1)]
    for c in range(12):  # 12 league/city branches, ~10 counties each
        cid = len(units) + 1
        units.append(UnitNode(cid, 1, cid))
        for _ in range(10):
            units.append(UnitNode(len(units) + 1, cid, len(units) + 1 if rnd.random() < .9
                                  else None))
    unit_ids = [u.id for u in units]

    def day(lo: int, hi: int) -> date:
        return AS_OF + timedelta(days=rnd.randint(lo, hi))

    issues, deadl, esc = [], [], []
    for i in range(1, N_ISSUES + 1):
        status = rnd.choices(STATUSES, [2, 5, 1, 4, .2])[0]
        dl = day(-400, 200)
        unit = rnd.choice(unit_ids)
        issues.append(IssueNode(i, f"C{i % 8}.{i % 22}.{i}", "t", status, unit,
                                rnd.random() * 1e5, status not in ("closed", "ended")
                                and dl < AS_OF, tuple({rnd.randint(2020, 2026)
                                                       for _ in range(rnd.randint(1, 2))})))
        deadl.append(IssueDeadline(i, f"I{i}", dl, status))
        esc.append(IssueForEscalation(i, f"I{i}", unit, 10_000 + i, dl, status))
    causes = [CauseNode(c, f"K{c:04d}", "cause") for c in range(1, N_CAUSES + 1)]
    # Skewed: a few causes are behind many issues, as in practice.
    links = {(i, min(N_CAUSES, int(rnd.paretovariate(1.0)) if rnd.random() < .5
                     else rnd.randint(1, N_CAUSES)))
             for i in range(1, N_ISSUES + 1) for _ in range(rnd.randint(0, 3))}
    source = [SourceMeasure(rnd.randint(1, N_CAUSES), rnd.choice(["todo", "doing", "done"]))
              for _ in range(3_000)]
    measures = []
    for m in range(1, N_MEASURES + 1):
        done = rnd.random() < .4
        measures.append(MeasureNode(m, rnd.randint(1, N_ISSUES), "m",
                                    None if rnd.random() < .02 else day(-200, 300),
                                    "done" if done else rnd.choice(["todo", "doing"]),
                                    day(-300, 0) if done else None))
    # Acyclic: a measure only waits for one with a smaller id.
    edges = set()
    while len(edges) < N_EDGES:
        a, b = rnd.randint(2, N_MEASURES), rnd.randint(1, N_MEASURES)
        if b < a:
            edges.add((a, b))
    hol = {date(2026, 10, d) for d in (1, 2, 5, 6, 7)} | {date(2026, 9, 25)}
    cal = Calendar(frozenset(hol), frozenset({date(2026, 9, 20), date(2026, 10, 10)}),
                   frozenset({2026}))
    return issues, list(links), causes, source, measures, list(edges), deadl, esc, units, cal


def timed(label: str, fn, repeat: int = 3):
    """Run `fn` `repeat` times; print the first run and the best. Each run starts after a full
    collection, so that no run pays for the garbage of the one before (or of the generator)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    print(f"{label:<28} first {times[0]:6.3f} s   best {min(times):6.3f} s")
    return out


def main(seed: int = 1) -> None:
    """Generate the data set and time each analysis."""
    t = time.perf_counter()
    issues, links, causes, source, measures, edges, deadl, esc, units, cal = generate(seed)
    print(f"generated in {time.perf_counter() - t:.1f} s: {len(issues)} issues, {len(links)} "
          f"links, {len(causes)} causes, {len(measures)} measures, {len(edges)} edges")
    ranks = timed("rank_causes", lambda: rank_causes(issues, links, causes, source))
    cover = timed("greedy_cover(k=10)", lambda: greedy_cover(issues, links, causes, 10))
    timed("earliest_finish", lambda: earliest_finish(measures, edges, AS_OF))
    blocked = timed("blocked_issues", lambda: blocked_issues(deadl, measures, edges, AS_OF))
    dues = timed("due_escalations", lambda: due_escalations(esc, units, cal, AS_OF))
    print(f"top cause {ranks[0].code}: {ranks[0].open_issues} open; cover share "
          f"{cover.share:.1%}; blocked {len(blocked)}; escalations due {len(dues)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
