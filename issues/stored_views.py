"""The slow reads computed ahead of time: the cause ranking (with the cause inputs the page's
cover and graph draw), the blocked chains, the escalation steps due and the duplicate clusters.

Each read here returns the result stored for its arguments when it was computed at the current
data version of what it reads (audit.store.versions: the scope's units; for the duplicates,
their own version), and otherwise computes it, stores it and returns it. So a page view never
computes from scratch while a current result is stored, and `refresh` (run by
`python -m audit refresh` and by the app's background thread, audit.refresh_worker…) keeps the
results of the scopes people look at current after every write. Stored == fresh: the
functions are the same reads (issues.graph_views, issues.duplicates_views), stored as they
return them (tests/test_load_stored.py)."""
from __future__ import annotations

import dataclasses
import json
import time
from datetime import date
from typing import Any, Callable

import sqlite_utils

from audit.store import results, versions
from audit.store.db import rows
from audit.store.org import subtree_ids
from audit.views import Scope
from issues import duplicates_views, graph_views

# What the graphs page draws of the cause graph (issues.graphs_page): the cause inputs keep
# only the issue rows it can draw.
GRAPH_ISSUES_PER_CAUSE = 6
MAX_TOP = 30


def _scope_key(scope: Scope, as_of: date | None, **extra: Any) -> str:
    return json.dumps({"units": None if scope.unit_ids is None else sorted(scope.unit_ids),
                       "categories": list(scope.category_codes), "stream": scope.stream,
                       "focus": scope.focus, "classification": scope.classification,
                       "as_of": as_of.isoformat() if as_of else None, **extra},
                      sort_keys=True, separators=(",", ":"))


def _stored(db: sqlite_utils.Database, name: str, key: str, version: int,
            compute: Callable[[], Any], at: str | None) -> Any:
    found = results.load(db, name, key, version)
    if found is not results.MISSING:
        return found
    start = time.perf_counter()
    value = compute()
    # Stored only if nothing was written meanwhile (else it would be stored under a version
    # it may not match).
    if versions_now(db, name, key) == version:
        results.save(db, name, key, version, value, computed_at=at or "",
                     seconds=time.perf_counter() - start)
    return value


def versions_now(db: sqlite_utils.Database, name: str, key: str) -> int:
    """The current data version of what the stored result (name, key) reads."""
    if name == "clusters":
        return versions.duplicates_version(db)
    units = json.loads(key)["units"]
    return versions.version_of(db, units)


def duplicates_version(db: sqlite_utils.Database) -> int:
    """The version of what the duplicate clusters read (audit.store.versions)."""
    return versions.duplicates_version(db)


def is_current(db: sqlite_utils.Database, name: str, key: str) -> bool:
    """Is the result stored for (name, key) computed at the current data version?"""
    return results.stored_version(db, name, key) == versions_now(db, name, key)


# --- the reads --------------------------------------------------------------------------------

def _cause_inputs_fresh(db: sqlite_utils.Database, scope: Scope, as_of: date) -> tuple:
    inputs = graph_views.load_cause_inputs(db, scope, as_of)
    ranking = graph_views.cause_ranking(db, scope, as_of, inputs=inputs)
    drawable = graph_views.dot_issue_ids(ranking, MAX_TOP, GRAPH_ISSUES_PER_CAUSE)
    inputs = dataclasses.replace(inputs, states={i: dict(inputs.states[i]) for i in drawable
                                                 if i in inputs.states})
    return inputs, ranking


def cause_inputs(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                 at: str | None = None) -> tuple:
    """(cause inputs, cause ranking) as graph_views.load_cause_inputs and cause_ranking give
    them; of the issues' state rows only those the graph can draw are kept (all of them were
    most of the result's memory on 40,000 issues)."""
    key = _scope_key(scope, as_of)
    return _stored(db, "cause_inputs", key, versions.version_of(db, scope.unit_ids),
                   lambda: _cause_inputs_fresh(db, scope, as_of), at)


def blocked(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
            at: str | None = None) -> list[dict]:
    """graph_views.blocked."""
    return _stored(db, "blocked", _scope_key(scope, as_of),
                   versions.version_of(db, scope.unit_ids),
                   lambda: graph_views.blocked(db, scope, as_of), at)


def escalations_due(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                    at: str | None = None) -> list[dict]:
    """graph_views.escalations_due."""
    return _stored(db, "escalations_due", _scope_key(scope, as_of),
                   versions.version_of(db, scope.unit_ids),
                   lambda: graph_views.escalations_due(db, scope, as_of), at)


def clusters(db: sqlite_utils.Database, *, threshold: float | None = None,
             across: bool = False, at: str | None = None) -> list[duplicates_views.Cluster]:
    """duplicates_views.find_duplicates over the whole programme, without the issue rows."""
    threshold = duplicates_views.DEFAULT_THRESHOLD if threshold is None else threshold
    key = json.dumps({"threshold": threshold, "across": across}, sort_keys=True)
    return _stored(db, "clusters", key, versions.duplicates_version(db),
                   lambda: duplicates_views.find_duplicates(db, threshold=threshold,
                                                            across=across, with_issues=False),
                   at)


# --- refreshing ahead of time ------------------------------------------------------------------

def watched_scopes(db: sqlite_utils.Database) -> list[Scope]:
    """The scopes people look at by default: the whole programme and the subtree of every
    unit a user belongs to."""
    out = [Scope(None)]
    for r in rows(db, "SELECT DISTINCT unit_id FROM users WHERE unit_id IS NOT NULL "
                      "ORDER BY unit_id"):
        out.append(Scope(subtree_ids(db, r["unit_id"])))
    return out


def refresh(db: sqlite_utils.Database, as_of: date, *, at: str,
            scopes: list[Scope] | None = None) -> list[dict]:
    """Bring every stored result of `scopes` (default: watched_scopes) as of `as_of`, and the
    default duplicate clusters, up to the current data version; returns what was computed:
    [{name, key, seconds}]. Results already current are left alone."""
    done: list[dict] = []

    def run(name: str, key: str, read: Callable[[], Any]) -> None:
        if is_current(db, name, key):
            return
        start = time.perf_counter()
        read()
        done.append({"name": name, "key": key, "seconds": time.perf_counter() - start})

    run("clusters", json.dumps({"threshold": duplicates_views.DEFAULT_THRESHOLD,
                                "across": False}, sort_keys=True),
        lambda: clusters(db, at=at))
    for scope in scopes if scopes is not None else watched_scopes(db):
        key = _scope_key(scope, as_of)
        run("cause_inputs", key, lambda s=scope: cause_inputs(db, s, as_of, at=at))
        run("blocked", key, lambda s=scope: blocked(db, s, as_of, at=at))
        run("escalations_due", key, lambda s=scope: escalations_due(db, s, as_of, at=at))
    return done
