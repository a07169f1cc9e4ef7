"""Measure dependencies (措施依赖), as pure functions over plain data (networkx): what a measure
waits for, refusing a dependency that closes a cycle, the earliest date a measure can finish,
and the open issues whose deadline is lost because of what they wait for in other issues.
Inputs are dataclasses or plain dicts with the same keys; `as_of` is always an argument."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Mapping

import networkx as nx

from audit.model import DependencyCycle
from issues.graph_model import MEASURE_DONE, Edge, _coerce_all, _pairs, is_open


@dataclass(frozen=True)
class MeasureNode:
    """What the dependency analysis needs of one measure. `issue_id` is None for a
    source-level measure (it belongs to a cause)."""

    id: int
    issue_id: int | None
    title: str = ""
    deadline: date | None = None
    status: str = "todo"
    completed_on: date | None = None


@dataclass(frozen=True)
class IssueDeadline:
    """What the blocked-issue check needs of one issue."""

    id: int
    code: str
    deadline: date | None
    status: str


def dependency_graph(edges: Iterable[tuple[int, int]]) -> nx.DiGraph:
    """Measure dependencies as a DiGraph with an edge measure → the measure it depends on."""
    g = nx.DiGraph()
    g.add_edges_from(edges)
    return g


def _dep_graph(edges: Iterable[Edge | Mapping] | nx.DiGraph) -> nx.DiGraph:
    """A DiGraph passes through (callers asking many questions build it once); else build it."""
    if isinstance(edges, nx.DiGraph):
        return edges
    return dependency_graph(_pairs(edges, "measure_id", "depends_on_id"))


def cycle_if_added(edges: Iterable[tuple[int, int]], measure_id: int, depends_on_id: int
                   ) -> list[int] | None:
    """The cycle (as a list of measure ids, first repeated at the end) that the dependency
    measure → depends_on would close, or None when it is safe."""
    if measure_id == depends_on_id:
        return [measure_id, measure_id]
    g = dependency_graph(edges)
    if depends_on_id in g and measure_id in g and nx.has_path(g, depends_on_id, measure_id):
        path = nx.shortest_path(g, depends_on_id, measure_id)
        return [measure_id, *path]
    return None


def refuse_cycle(edges: Iterable[tuple[int, int]], measure_id: int, depends_on_id: int) -> None:
    """Raises DependencyCycle, naming the cycle, when measure → depends_on would close one."""
    cycle = cycle_if_added(edges, measure_id, depends_on_id)
    if cycle:
        raise DependencyCycle([str(m) for m in cycle])


def find_cycle(edges: Iterable[Edge | Mapping] | nx.DiGraph) -> list[int] | None:
    """A cycle already among the dependencies, as measure ids with the first repeated at the end
    and the smallest id first (so the answer is stable), or None when there is none."""
    g = _dep_graph(edges)
    try:
        cyc = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    nodes = [u for u, _v in cyc]
    i = nodes.index(min(nodes))
    nodes = nodes[i:] + nodes[:i]
    return [*nodes, nodes[0]]


def waits_for(edges: Iterable[Edge | Mapping] | nx.DiGraph, measure_id: int,
              transitive: bool = False) -> set[int]:
    """The measures `measure_id` waits for: directly, or (transitive=True) at any depth."""
    g = _dep_graph(edges)
    if measure_id not in g:
        return set()
    return set(nx.descendants(g, measure_id)) if transitive else set(g.successors(measure_id))


def waited_by(edges: Iterable[Edge | Mapping] | nx.DiGraph, measure_id: int,
              transitive: bool = False) -> set[int]:
    """The measures that wait for `measure_id`: directly, or (transitive=True) at any depth."""
    g = _dep_graph(edges)
    if measure_id not in g:
        return set()
    return set(nx.ancestors(g, measure_id)) if transitive else set(g.predecessors(measure_id))


def own_finish(m: MeasureNode, as_of: date) -> date | None:
    """A measure's finish ignoring what it waits for: a done measure its completion date; an
    open one max(deadline, as_of) (past its deadline it cannot finish before today); an open
    undated one None (unknown)."""
    if m.status == MEASURE_DONE:
        # The schema requires completed_on for done; if a caller omits it, the measure finished
        # on or before as_of, and as_of is the safe (not earlier) guess.
        return m.completed_on or as_of
    if m.deadline is None:
        return None
    return max(m.deadline, as_of)


def _adjacency(edges: Iterable[Edge | Mapping] | nx.DiGraph) -> Mapping[int, Iterable[int]]:
    """measure id → the measures it waits for. A DiGraph's own adjacency is used as it is;
    plain edges go into dicts of lists, because building an nx.DiGraph of 60k edges costs more
    than the whole earliest-finish pass."""
    if isinstance(edges, nx.DiGraph):
        return edges._succ
    succ: dict[int, list[int]] = defaultdict(list)
    # Duplicate edges are harmless: the ordering counts them in and out alike.
    for m, d in _pairs(edges, "measure_id", "depends_on_id"):
        succ[m].append(d)
    return succ


def _dependencies_first(succ: Mapping[int, Iterable[int]]) -> list[int]:
    """Every measure of the adjacency, each after all it waits for (Kahn's algorithm, as
    nx.topological_sort does it, on plain dicts): O(V + E). Raises DependencyCycle naming a
    cycle when there is one."""
    left: dict[int, int] = {}  # measures still waiting for this many unplaced dependencies
    waiting: dict[int, list[int]] = defaultdict(list)
    for m, ds in succ.items():
        n = 0
        for d in ds:
            waiting[d].append(m)
            n += 1
        left[m] = n
    order = [m for m, n in left.items() if n == 0]
    order += [d for d in waiting if d not in left]  # dependencies that wait for nothing
    for v in order:  # grows while it is read
        for m in waiting.get(v, ()):
            left[m] -= 1
            if left[m] == 0:
                order.append(m)
    if len(order) < len(left) + sum(1 for d in waiting if d not in left):
        stuck = {m for m, n in left.items() if n > 0}
        g = nx.DiGraph((m, d) for m in stuck for d in succ[m] if d in stuck)
        raise DependencyCycle([str(m) for m in find_cycle(g) or []])
    return order


def _finish_and_driver(measures: dict[int, MeasureNode],
                       edges: Iterable[Edge | Mapping] | nx.DiGraph, as_of: date
                       ) -> tuple[dict[int, date | None], dict[int, date | None],
                                  dict[int, int | None]]:
    """Own finish and earliest finish of every measure, and the dependency that sets the latter
    (None when its own date sets it, or it is done, or unknown). One pass, dependencies first:
    O(V + E)."""
    own: dict[int, date | None] = {mid: own_finish(m, as_of) for mid, m in measures.items()}
    finish = dict(own)
    driver: dict[int, int | None] = dict.fromkeys(measures)
    succ = _adjacency(edges)
    order = _dependencies_first(succ)
    for mid in order:
        m = measures.get(mid)
        if m is None:
            finish[mid] = None  # a dependency we were not given: unknown, not "no wait"
            continue
        if m.status == MEASURE_DONE:
            continue  # a recorded fact: dependencies cannot move it
        best = finish[mid]
        if best is None or mid not in succ:
            continue
        best_dep = None
        for d in succ[mid]:
            fd = finish[d]
            if fd is None:
                best, best_dep = None, None
                break
            # Strictly later only: a tie with its own date means the delay is its own; between
            # dependencies that tie, the smaller id, so the chain does not depend on edge order.
            if fd > best or (fd == best and best_dep is not None and d < best_dep):
                best, best_dep = fd, d
        finish[mid] = best
        driver[mid] = best_dep
    for mid in order:
        if mid not in measures:
            del finish[mid]
            driver.pop(mid, None)
    return own, finish, driver


def earliest_finish(measures: Iterable[MeasureNode | Mapping],
                    edges: Iterable[Edge | Mapping] | nx.DiGraph, as_of: date
                    ) -> dict[int, date | None]:
    """measure id → the earliest date it can finish, as of `as_of`.

    - done: its completion date (a fact, whatever it waits for);
    - open: the latest of its own planned finish (max(deadline, as_of)) and the earliest finish
      of every measure it waits for;
    - None (unknown) when it is open and undated, or waits, at any depth, for such a measure or
      for a measure not given. Unknown propagates rather than being guessed, so a date shown is
      never an optimistic one.
    Raises DependencyCycle naming a cycle if the dependencies have one."""
    ms = {m.id: m for m in _coerce_all(MeasureNode, measures)}
    return _finish_and_driver(ms, edges, as_of)[1]


def _issue_max(ms: dict[int, MeasureNode], finish: dict[int, date | None]
               ) -> dict[int, date | None]:
    """issue id → the max finish over its measures (None if any is unknown)."""
    out: dict[int, date | None] = {}
    unknown: set[int] = set()
    for mid, m in ms.items():
        if m.issue_id is None:
            continue
        f = finish[mid]
        if f is None:
            unknown.add(m.issue_id)
            out[m.issue_id] = None
        elif m.issue_id not in unknown:
            cur = out.get(m.issue_id)
            if cur is None or f > cur:
                out[m.issue_id] = f
    return out


def issue_earliest_finish(measures: Iterable[MeasureNode | Mapping],
                          edges: Iterable[Edge | Mapping] | nx.DiGraph, as_of: date
                          ) -> dict[int, date | None]:
    """issue id → the earliest date all its measures can be finished (the max over them; None
    when any is unknown). Issues with no measure are absent."""
    ms = {m.id: m for m in _coerce_all(MeasureNode, measures)}
    finish = _finish_and_driver(ms, edges, as_of)[1]
    return _issue_max(ms, finish)


@dataclass(frozen=True)
class ChainLink:
    """One measure on the path that delays a blocked issue, with the date it can finish."""

    measure_id: int
    issue_id: int | None
    issue_code: str | None
    finish: date


@dataclass(frozen=True)
class Blocked:
    """An open issue whose deadline is lost because of what it waits for. `own_finish` is when
    its own measures would be done without any dependency (on or before the deadline);
    `chain` runs from the issue's latest measure back to `root`, the measure whose own date
    causes the delay (its last link), unless it was cut at `max_chain` links (`truncated`)."""

    issue_id: int
    code: str
    deadline: date
    earliest_finish: date
    own_finish: date
    days_late: int
    chain: list[ChainLink] = field(default_factory=list)
    root: ChainLink | None = None
    truncated: bool = False

    @property
    def chain_issue_codes(self) -> list[str | None]:
        """The issue codes along the chain, consecutive repeats removed."""
        out: list[str | None] = []
        for link in self.chain:
            if not out or out[-1] != link.issue_code:
                out.append(link.issue_code)
        return out


def blocked_issues(issues: Iterable[IssueDeadline | Mapping],
                   measures: Iterable[MeasureNode | Mapping],
                   edges: Iterable[Edge | Mapping] | nx.DiGraph, as_of: date,
                   max_chain: int = 50) -> list[Blocked]:
    """Open issues that will miss their deadline because of what they wait for: the earliest
    finish of their measures (dependencies included) is after the deadline, while their own
    measures alone (every own planned finish, no dependency) would meet it. An issue late by
    its own measures is not listed, even if dependencies make it later still; an issue with an
    unknown finish is not listed. Since an open measure cannot finish before as_of, such issues
    are always not yet overdue: this is the early warning. Sorted by deadline, then code."""
    ms = {m.id: m for m in _coerce_all(MeasureNode, measures)}
    own_m, finish, driver = _finish_and_driver(ms, edges, as_of)
    by_issue = _issue_max(ms, finish)
    own = _issue_max(ms, own_m)
    iss = {i.id: i for i in _coerce_all(IssueDeadline, issues)}
    by_issue_measures: dict[int, list[int]] = defaultdict(list)
    candidates = []
    for i in iss.values():
        ef, of = by_issue.get(i.id), own.get(i.id)
        if (is_open(i.status) and i.deadline is not None and ef is not None and of is not None
                and ef > i.deadline and of <= i.deadline):
            candidates.append(i)
    wanted = {i.id for i in candidates}
    for mid, m in ms.items():
        if m.issue_id in wanted:
            by_issue_measures[m.issue_id].append(mid)

    links: dict[int, ChainLink] = {}  # one per measure, shared by every chain through it

    def link(mid: int) -> ChainLink:
        if mid not in links:
            m = ms[mid]
            code = iss[m.issue_id].code if m.issue_id in iss else None
            links[mid] = ChainLink(mid, m.issue_id, code, finish[mid])  # type: ignore[arg-type]
        return links[mid]

    # Root of every chain, memoised with the path compressed, so that many issues behind one
    # long chain cost O(V) in all rather than a walk each.
    root: dict[int, int] = {}

    def root_of(mid: int) -> int:
        path = []
        while mid not in root and driver[mid] is not None:
            path.append(mid)
            mid = driver[mid]  # type: ignore[assignment]
        r = root.get(mid, mid)
        for p in path:
            root[p] = r
        return r

    out = []
    for i in candidates:
        ef = by_issue[i.id]
        # Start from a latest measure that is pushed by a dependency (one must exist, since
        # the own finish meets the deadline); smallest id for a stable answer.
        start = min(mid for mid in by_issue_measures[i.id]
                    if finish[mid] == ef and driver[mid] is not None)
        chain: list[ChainLink] = []
        cur: int | None = start
        while cur is not None and len(chain) < max_chain:
            chain.append(link(cur))
            cur = driver[cur]
        deadline: date = i.deadline  # type: ignore[assignment]  (filtered above)
        out.append(Blocked(issue_id=i.id, code=i.code, deadline=deadline, earliest_finish=ef,
                           own_finish=own[i.id], days_late=(ef - deadline).days,  # type: ignore
                           chain=chain, root=link(root_of(start)), truncated=cur is not None))
    out.sort(key=lambda b: (b.deadline, b.code))
    return out
