"""Graphs over issues, causes, measures and units, as pure functions over plain data (networkx).
Shared by the services, the app, the Word pack and the CLI.

Two analyses live here:
- root causes (问题根源): the bipartite issue–cause graph, causes ranked by the open issues they
  cause, the k causes whose fixing addresses the most open issues (greedy max-coverage), repeat
  findings (屡审屡犯) and causes fixed at the source (源头整改);
- measure dependencies (措施依赖): what a measure waits for, the earliest date it can finish, and
  the open issues whose deadline is lost because of what they wait for in other issues.

Inputs are dataclasses or plain dicts with the same keys (rows from the store); dates may be
`date` objects or ISO strings. Nothing here reads the clock: `as_of` is always an argument.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any, Iterable, Mapping, TypeVar

import networkx as nx

from audit.errors import DependencyCycle
from issues.model import OPEN_STATUSES

MEASURE_DONE = "done"  # measures.status: 'todo' | 'doing' | 'done'

# Defaults of the 屡审屡犯 rule (see is_recurring).
RECURRING_MIN_YEARS = 2
RECURRING_MIN_UNITS = 2

Edge = tuple[int, int]


# --- input shapes --------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueNode:
    """What the cause analysis needs of one issue. `overdue` is decided by the caller as of a
    date (DOMAIN.md: not closed and deadline before today); `audit_years` are the years of the
    audits that found it (one consolidated issue may come from several)."""

    id: int
    code: str
    title: str = ""
    status: str = "not_started"
    unit_id: int | None = None
    amount: float = 0.0
    overdue: bool = False
    audit_years: tuple[int, ...] = ()
    category: str = ""


@dataclass(frozen=True)
class CauseNode:
    """A root cause (问题根源)."""

    id: int
    code: str
    title: str = ""


@dataclass(frozen=True)
class SourceMeasure:
    """A measure attached to a cause rather than to an issue (a source-level measure)."""

    cause_id: int
    status: str
    id: int | None = None


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


T = TypeVar("T")


def _as_date(v: Any) -> date | None:
    """A date from a date, an ISO string (a datetime string keeps its date part) or None."""
    if v is None or v == "":
        return None
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


_DATE_FIELDS = {"deadline", "completed_on"}


def _coerce(cls: type[T], x: Any) -> T:
    """`x` as a `cls`: dataclasses pass through; dicts/rows are read by field name (extra keys
    ignored, missing keys take the default)."""
    if isinstance(x, cls):
        return x
    kw = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in x:
            v = x[f.name]
            if f.name in _DATE_FIELDS:
                v = _as_date(v)
            elif f.name == "audit_years":
                v = tuple(v or ())
            kw[f.name] = v
    return cls(**kw)


def _coerce_all(cls: type[T], xs: Iterable[Any]) -> list[T]:
    return [_coerce(cls, x) for x in xs]


def _pairs(links: Iterable[Any], a: str, b: str) -> list[Edge]:
    """(a, b) pairs from tuples or from dicts/rows keyed `a` and `b`."""
    out = []
    for x in links:
        if isinstance(x, tuple):  # the common case first: typing.Mapping checks are slow
            out.append(x if len(x) == 2 else (x[0], x[1]))  # reuse: fewer objects for the GC
        elif isinstance(x, Mapping):
            out.append((x[a], x[b]))
        else:
            out.append((x[0], x[1]))
    return out


def is_open(status: str) -> bool:
    """Is an issue with this status still open (not closed, not ended)?"""
    return status in OPEN_STATUSES


# --- root causes ---------------------------------------------------------------------------


def cause_graph(issues: Iterable[IssueNode | Mapping], links: Iterable[Edge | Mapping],
                causes: Iterable[CauseNode | Mapping]) -> nx.Graph:
    """The bipartite issue–cause graph: nodes ('issue', id) with bipartite=0 and ('cause', id)
    with bipartite=1, carrying code, title (and status, open, amount for issues); an edge per
    link. Links to issues or causes not given are left out, so passing a scope's issues gives
    that scope's graph."""
    g = nx.Graph()
    iss = _coerce_all(IssueNode, issues)
    cs = _coerce_all(CauseNode, causes)
    g.add_nodes_from((("issue", i.id), {"bipartite": 0, "code": i.code, "title": i.title,
                                        "status": i.status, "open": is_open(i.status),
                                        "amount": i.amount}) for i in iss)
    g.add_nodes_from((("cause", c.id), {"bipartite": 1, "code": c.code, "title": c.title})
                     for c in cs)
    g.add_edges_from((("issue", i), ("cause", c)) for i, c in _pairs(links, "issue_id", "cause_id")
                     if ("issue", i) in g and ("cause", c) in g)
    return g


def is_recurring(years: Iterable[int], units: Iterable[int | None],
                 min_years: int = RECURRING_MIN_YEARS, min_units: int = RECURRING_MIN_UNITS
                 ) -> bool:
    """屡审屡犯: a cause recurs when the issues it causes (open or not) were found by audits in at
    least `min_years` distinct years, or in at least `min_units` distinct units."""
    return (len(set(years)) >= min_years
            or len({u for u in units if u is not None}) >= min_units)


@dataclass(frozen=True)
class CauseRank:
    """One cause in the ranking. `overdue` counts open overdue issues; `amount_open` is the
    money involved (涉及金额, yuan) in its open issues."""

    cause_id: int
    code: str
    title: str
    open_issues: int
    total_issues: int
    amount_open: float
    overdue: int
    recurring: bool
    audit_years: tuple[int, ...]
    unit_ids: tuple[int, ...]
    source_measures_done: int
    source_measures_total: int
    issue_ids: tuple[int, ...]
    open_issue_ids: tuple[int, ...]

    @property
    def fixed_at_source(self) -> bool:
        """Has it source-level measures, all done?"""
        return self.source_measures_total > 0 \
            and self.source_measures_done == self.source_measures_total


def _source_counts(source_measures: Iterable[SourceMeasure | Mapping]
                   ) -> dict[int, tuple[int, int]]:
    """cause id → (done, total) source-level measures."""
    done: dict[int, int] = defaultdict(int)
    total: dict[int, int] = defaultdict(int)
    for m in _coerce_all(SourceMeasure, source_measures):
        total[m.cause_id] += 1
        if m.status == MEASURE_DONE:
            done[m.cause_id] += 1
    return {c: (done[c], total[c]) for c in total}


def _issues_by_cause(issues: dict[int, IssueNode], links: Iterable[Edge | Mapping],
                     cause_ids: set[int]) -> dict[int, list[int]]:
    """cause id → ids of the given issues linked to it (duplicate links counted once)."""
    by_cause: dict[int, set[int]] = defaultdict(set)
    for i, c in _pairs(links, "issue_id", "cause_id"):
        if i in issues and c in cause_ids:
            by_cause[c].add(i)
    return {c: sorted(s) for c, s in by_cause.items()}


def rank_causes(issues: Iterable[IssueNode | Mapping], links: Iterable[Edge | Mapping],
                causes: Iterable[CauseNode | Mapping],
                source_measures: Iterable[SourceMeasure | Mapping] = (), *,
                min_years: int = RECURRING_MIN_YEARS, min_units: int = RECURRING_MIN_UNITS
                ) -> list[CauseRank]:
    """Every cause, ranked by open issues caused, then money involved in those open issues, then
    open overdue issues (all descending), then code. Causes with no issue come last. O(links)."""
    iss = {i.id: i for i in _coerce_all(IssueNode, issues)}
    cs = _coerce_all(CauseNode, causes)
    by_cause = _issues_by_cause(iss, links, {c.id for c in cs})
    src = _source_counts(source_measures)
    out = []
    for c in cs:
        ids = by_cause.get(c.id, [])
        linked = [iss[i] for i in ids]
        open_ = [i for i in linked if is_open(i.status)]
        years = tuple(sorted({y for i in linked for y in i.audit_years}))
        units = tuple(sorted({i.unit_id for i in linked if i.unit_id is not None}))
        done, total = src.get(c.id, (0, 0))
        out.append(CauseRank(
            cause_id=c.id, code=c.code, title=c.title, open_issues=len(open_),
            total_issues=len(linked), amount_open=float(sum(i.amount or 0 for i in open_)),
            overdue=sum(1 for i in open_ if i.overdue),
            recurring=is_recurring(years, units, min_years, min_units),
            audit_years=years, unit_ids=units, source_measures_done=done,
            source_measures_total=total, issue_ids=tuple(ids),
            open_issue_ids=tuple(i.id for i in open_)))
    out.sort(key=lambda r: (-r.open_issues, -r.amount_open, -r.overdue, r.code))
    return out


def recurring_causes(issues: Iterable[IssueNode | Mapping], links: Iterable[Edge | Mapping],
                     causes: Iterable[CauseNode | Mapping], *,
                     min_years: int = RECURRING_MIN_YEARS, min_units: int = RECURRING_MIN_UNITS
                     ) -> set[int]:
    """The ids of the causes that recur (屡审屡犯, see is_recurring)."""
    return {r.cause_id for r in rank_causes(issues, links, causes,
                                            min_years=min_years, min_units=min_units)
            if r.recurring}


@dataclass(frozen=True)
class CoverStep:
    """One cause chosen by greedy_cover: how many more open issues it addresses, and the total
    addressed once it is added."""

    cause_id: int
    code: str
    title: str
    gain: int
    covered_after: int


@dataclass(frozen=True)
class CoverResult:
    """The causes to fix first. `share` = covered / open_total, where `open_total` counts every
    open issue given, including those with no recorded cause (they cannot be covered, and
    hiding them would flatter the figure); 0.0 when there is no open issue."""

    chosen: list[CoverStep]
    covered: int
    open_total: int
    share: float
    covered_issue_ids: tuple[int, ...]

    @property
    def gains(self) -> list[int]:
        """The marginal gain of each chosen cause, in the order chosen."""
        return [s.gain for s in self.chosen]


def greedy_cover(issues: Iterable[IssueNode | Mapping], links: Iterable[Edge | Mapping],
                 causes: Iterable[CauseNode | Mapping], k: int) -> CoverResult:
    """The k causes which, fixed, address the most open issues: greedy max-coverage (within
    1 - 1/e of the best), each step taking the cause with the largest marginal gain, ties broken
    by the smaller code. An open issue counts as addressed when any one of its causes is chosen.
    Stops early when no cause adds anything, so fewer than k may be chosen."""
    if k < 0:
        raise ValueError("k must be >= 0")
    iss = {i.id: i for i in _coerce_all(IssueNode, issues)}
    open_ids = {i for i, x in iss.items() if is_open(x.status)}
    cs = {c.id: c for c in _coerce_all(CauseNode, causes)}
    sets = {c: set(ids) & open_ids
            for c, ids in _issues_by_cause(iss, links, set(cs)).items()}
    # Lazy greedy (CELF): marginal gains only shrink as coverage grows, so a stale gain is an
    # upper bound; a cause whose gain is fresh and still on top of the heap is the true best.
    # The heap key (-gain, code) gives the same choice as the naive scan, ties included.
    heap = [(-len(s), cs[c].code, c, 0) for c, s in sets.items() if s]
    heapq.heapify(heap)
    covered: set[int] = set()
    chosen: list[CoverStep] = []
    while heap and len(chosen) < k:
        neg, code, c, stamp = heapq.heappop(heap)
        if stamp == len(chosen):
            covered |= sets[c]
            chosen.append(CoverStep(c, code, cs[c].title, -neg, len(covered)))
            continue
        gain = len(sets[c] - covered)
        if gain:
            heapq.heappush(heap, (-gain, code, c, len(chosen)))
    total = len(open_ids)
    return CoverResult(chosen=chosen, covered=len(covered), open_total=total,
                       share=len(covered) / total if total else 0.0,
                       covered_issue_ids=tuple(sorted(covered)))


def causes_fixed_at_source(source_measures: Iterable[SourceMeasure | Mapping]) -> set[int]:
    """Causes fixed at the source: at least one source-level measure, and every one done."""
    return {c for c, (done, total) in _source_counts(source_measures).items()
            if total and done == total}


def issue_causes_fixed_at_source(links: Iterable[Edge | Mapping],
                                 source_measures: Iterable[SourceMeasure | Mapping]
                                 ) -> dict[int, list[int]]:
    """issue id → the ids (sorted) of its causes that are fixed at the source. Issues with none
    are absent: read with `.get(issue_id, [])`."""
    fixed = causes_fixed_at_source(source_measures)
    out: dict[int, set[int]] = defaultdict(set)
    for i, c in _pairs(links, "issue_id", "cause_id"):
        if c in fixed:
            out[i].add(c)
    return {i: sorted(cs) for i, cs in out.items()}


# --- measure dependencies ------------------------------------------------------------------


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
