"""Root causes (问题根源) as pure functions over plain data (networkx): the bipartite issue–cause
graph, causes ranked by the open issues they cause, the k causes whose fixing addresses the most
open issues (greedy max-coverage), repeat findings (屡审屡犯) and causes fixed at the source
(源头整改). The input shapes and their coercion are shared with issues.dependency_model.
Shared by the services, the app, the Word pack and the CLI.

Inputs are dataclasses or plain dicts with the same keys (rows from the store); dates may be
`date` objects or ISO strings. Nothing here reads the clock: `as_of` is always an argument.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Iterable, Mapping, TypeVar

import networkx as nx

from audit.model import OPEN_STATUSES

MEASURE_DONE = "done"  # measures.status: 'todo' | 'doing' | 'done'


# Defaults of the 屡审屡犯 rule (is_recurring: audit years) and the 共性问题 rule (is_common:
# units). Two ideas, flagged apart: found again year after year is a cause never fixed at the
# source; found in several units at once is a weakness shared across the organisation.
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


def is_recurring(years: Iterable[int], min_years: int = RECURRING_MIN_YEARS) -> bool:
    """屡审屡犯: found again in audits of different years. For an issue, the years of the audits
    that found it; for a cause, of the audits that found its issues (open or not): at least
    `min_years` distinct years."""
    return len(set(years)) >= min_years


def is_common(units: Iterable[int | None], min_units: int = RECURRING_MIN_UNITS) -> bool:
    """共性问题: the same finding in several units. For an issue, its unit and the units of the
    findings merged into it (并轨); for a cause, the units of its issues: at least `min_units`
    distinct units."""
    return len({u for u in units if u is not None}) >= min_units


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
    common: bool
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
            recurring=is_recurring(years, min_years), common=is_common(units, min_units),
            audit_years=years, unit_ids=units, source_measures_done=done,
            source_measures_total=total, issue_ids=tuple(ids),
            open_issue_ids=tuple(i.id for i in open_)))
    out.sort(key=lambda r: (-r.open_issues, -r.amount_open, -r.overdue, r.code))
    return out


def recurring_causes(issues: Iterable[IssueNode | Mapping], links: Iterable[Edge | Mapping],
                     causes: Iterable[CauseNode | Mapping], *,
                     min_years: int = RECURRING_MIN_YEARS, min_units: int = RECURRING_MIN_UNITS
                     ) -> set[int]:
    """The ids of the causes that recur (屡审屡犯, see is_recurring); `min_units` is kept for
    the callers of the former combined rule and has no effect on it."""
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


