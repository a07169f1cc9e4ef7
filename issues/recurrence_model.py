"""Findings that come back: which earlier item a newly imported finding may repeat (屡审屡犯),
and what a person's decision on the flag writes. Pure: plain values in, values out."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from audit.model import TransitionNotAllowed, ValidationFailed

DECISIONS = ("confirmed", "rejected")
FINISHED = ("closed", "ended")


@dataclass(frozen=True)
class Earlier:
    """What matching needs of an item that was there before the import."""

    id: int
    status: str
    years: tuple[int, ...]


def may_recur(new_years: Iterable[int], earlier: Earlier) -> bool:
    """May a new finding repeat this earlier item? The earlier item was struck off or ended
    (found again after its rectification), or a later audit found the new one (found again in
    another year). A finding of the same audit year as an open item is a duplicate to merge
    (并轨), not a recurrence."""
    if earlier.status in FINISHED:
        return True
    new = max(new_years, default=None)
    old = max(earlier.years, default=None)
    return new is not None and old is not None and new > old


def best_matches(pairs: Iterable[tuple[int, int, float]], new_ids: Iterable[int],
                 earlier: Mapping[int, Earlier], new_years: Mapping[int, Iterable[int]]
                 ) -> dict[int, tuple[int, float]]:
    """new issue id → (earlier id, score) of its strongest match among `pairs` ((a, b, score),
    either order) that may recur (may_recur); ties go to the older (smaller id) item."""
    new = set(new_ids)
    best: dict[int, tuple[int, float]] = {}
    for a, b, score in pairs:
        for n, o in ((a, b), (b, a)):
            if n not in new or o in new or o not in earlier:
                continue
            if not may_recur(tuple(new_years.get(n, ())), earlier[o]):
                continue
            held = best.get(n)
            if held is None or score > held[1] or (score == held[1] and o < held[0]):
                best[n] = (o, score)
    return best


def decision_values(issue: dict, decision: str) -> dict:
    """The columns a person's decision on a recurrence flag writes; TransitionNotAllowed when
    no flag waits, ValidationFailed for an unknown decision."""
    if decision not in DECISIONS:
        raise ValidationFailed("decision", f"must be one of {', '.join(DECISIONS)}")
    if issue.get("recurrence_status") != "pending":
        raise TransitionNotAllowed(f"{issue['code']}: no recurrence flag waits for a decision",
                                   key="error.recurrence_none", code=issue["code"],
                                   move="recurrence", status=issue.get("recurrence_status") or "")
    return {"recurrence_status": decision}


MAX_CANDIDATES = 40     # earlier items scored per new finding (those sharing most heavy words)
COMMON_WORD_ROWS = 2000  # a heavy word held by more earlier items does not propose candidates


def candidates(new_signatures: Iterable[Iterable[int]],
               earlier_signatures: Iterable[Iterable[int]], *,
               limit: int = MAX_CANDIDATES, common: int = COMMON_WORD_ROWS
               ) -> list[tuple[int, int]]:
    """(new row, earlier row) pairs worth scoring: each new finding with at most `limit`
    earlier items sharing one of its heaviest words (signature word ids, -1 padding), those
    sharing most first (ties: earlier rows first). Bounded: never every pair."""
    index: dict[int, list[int]] = {}
    for row, sig in enumerate(earlier_signatures):
        for w in sig:
            if w >= 0:
                index.setdefault(int(w), []).append(row)
    out: list[tuple[int, int]] = []
    for row, sig in enumerate(new_signatures):
        shared: dict[int, int] = {}
        for w in sig:
            posting = index.get(int(w), ()) if w >= 0 else ()
            if len(posting) > common:
                continue
            for o in posting:
                shared[o] = shared.get(o, 0) + 1
        best = sorted(shared, key=lambda o: (-shared[o], o))[:limit]
        out.extend((row, o) for o in sorted(best))
    return out
