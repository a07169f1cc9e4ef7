"""The data behind the dashboard and the Word review pack: every chart's rows, for a Scope and
as of a date, in the shapes the builders of audit/charts.py take. Plain data out, no Streamlit.

How it is computed. The state of every issue in scope as of the date (the live columns of
audit.figures.state_cte, then the rows changed after the date rewound from history) is
materialised ONCE into a temporary table, with its 四个到人 flag, its warning colour and a cube
key that packs what the tiles and four charts count by into one integer. The figures (the same
values as audit.figures.FIGURES_SQL) and those charts are rolled up in Python from one GROUP BY
of that key (a few thousand rows); the other charts are GROUP BYs over the table, each reading
the status and warning from the key, so the tiles and the charts always agree. The burn-up
replays the issue status records into or out of 'closed' in one pass (partial index
history_issue_closing), summed per day in SQL and added up into weeks. Only aggregated rows
reach Python (bench/bench_dashboard.py measures it against the bare GROUP BY of the cube).

Kept per unit. Every pass also groups by unit, so the result is the sum of one share per unit
(Partial: counts, amounts, a set of aspects, per-week burn-up steps). The shares are kept in
the process under each unit's data version (audit.store.versions); a read recomputes, in one
pass over those units alone, only the shares whose version moved (the units a write touched)
and adds the others up as kept, so a visit after a progress note costs about a warm visit and
a write in one city leaves the other cities' shares as they were.

Choices, documented here because the report repeats them:
- Units are shown one level below the top of the scope: for the whole region its cities (a
  county's issues are rolled up into its city; the region's own issues under the region), for a
  city the city itself and each county. `unit_groups` holds the mapping.
- Burn-up weeks end on Sunday; each row holds the counts as of the end of that Sunday, and the
  last row is the as-of date itself (a partial week). `week_start` is the week's Monday.
- The programme deadline is the setting 'programme.deadline' when an administrator set it, else
  the latest original deadline among the issues in scope.
- On-time rate by month groups 按期整改率's numerator and denominator by the month of the
  ORIGINAL deadline (a closed issue without a deadline: the month it was closed).
- Workload, ageing, warnings, causes and the heatmap count OPEN issues (not closed, not ended);
  status and focus charts count every issue in scope.
- As of a past date every field is as recorded then, classification (unit, category, streams,
  focus points, causes, amount) included, as in audit.views; Scope.classification = CURRENT
  reads the classification as it is now. Names (of units, categories, causes) are labels and are
  shown as they are now.
"""
from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import sqlite_utils

from audit import charts, progress_charts
from audit.messages import formatter, name_column, t
from audit.store import org, versions
from audit.store.db import database_file, rows, scalar
from audit.time_model import Calendar
from audit.views import (
    DEADLINE_WARNING_SQL,
    WARNING_SQL,
    Scope,
    figures_from_row,
    figures_params,
    is_live,
    link_rows_sql,
    measures_then_cte,
    scope_filter,
    state_cte,
)

OPEN = ("not_started", "in_progress", "submitted")
_OPEN_SQL = "('not_started', 'in_progress', 'submitted')"
CAUSE_ROWS = 20          # causes kept in the data (the chart shows its own top 10)
DEADLINE_SETTING = "programme.deadline"

# The keys of dashboard_data's result, in the order the page and the review pack use them.
DASHBOARD_KEYS = ("as_of", "compare_to", "lang", "data_version", "figures", "compare",
                  "deltas", "burnup", "status_by_category", "status_by_stream", "heatmap",
                  "warning_by_unit", "ageing", "on_time_by_month", "workload_by_owner",
                  "focus_progress", "cause_ranking")

# Figures whose change between two dates is reported (rates as a difference of fractions).
DELTA_KEYS = ("issues", "closed", "ended", "open", "overdue", "due_soon", "on_time",
              "on_time_due", "fully_assigned", "closure_rate", "on_time_rate",
              "fully_assigned_rate", "amount_involved", "amount_rectified")




# --- the materialised state ---------------------------------------------------------------------

# Narrow on purpose (no code or title): every chart is a pass over this table. `cube_key` packs
# what the tiles and four charts are counted by into one integer (see _cube_key_sql).
_STATE_COLUMNS = ("id INTEGER PRIMARY KEY, unit_id INTEGER, aspect_id INTEGER, "
                  "category_id INTEGER, amount REAL, created_on TEXT, status TEXT, "
                  "deadline TEXT, original_deadline TEXT, closed_on TEXT, "
                  "responsible_person_id INTEGER, assigned INTEGER, warning TEXT, "
                  "cube_key INTEGER")
_ROW_COLUMNS = ("id", "unit_id", "aspect_id", "category_id", "amount", "created_on", "status",
                "deadline", "original_deadline", "closed_on", "responsible_person_id")

# 四个到人 of a row of `st` (state_cte) as of today: a responsible person, a deadline, at least
# one measure and none without an owner or a deadline. Two index seeks per issue (the second in
# the partial index measures_incomplete, which holds only the incomplete measures) instead of
# counting every measure of the programme.
_ASSIGNED_LIVE_SQL = """CASE WHEN st.responsible_person_id IS NOT NULL
                     AND st.deadline IS NOT NULL
                     AND EXISTS (SELECT 1 FROM measures m WHERE m.issue_id = st.id)
                     AND NOT EXISTS (SELECT 1 FROM measures m INDEXED BY measures_incomplete
                                     WHERE m.issue_id = st.id AND (m.owner_person_id IS NULL
                                                                   OR m.deadline IS NULL))
                THEN 1 ELSE 0 END"""


# 四个到人 then, for a past date: the issues whose measures changed after :end (`aff`: the issue
# a changed measure belongs to now and the one it belonged to then) are counted from the
# measures as of :end (audit.views.measures_then_cte), every other issue as today.
_AFFECTED_CTE = """,
    aff AS MATERIALIZED (
        SELECT live_issue_id AS issue_id FROM mth WHERE live_issue_id IS NOT NULL
        UNION SELECT issue_id FROM mth WHERE issue_id IS NOT NULL AND created_at < :end),
    msa AS MATERIALIZED (
        SELECT issue_id, COUNT(*) AS n, SUM(inc) AS incomplete FROM (
            SELECT m.issue_id, (m.owner_person_id IS NULL OR m.deadline IS NULL) AS inc
            FROM aff JOIN measures m ON m.issue_id = aff.issue_id
            WHERE m.id NOT IN (SELECT id FROM chgm)
            UNION ALL
            SELECT issue_id, (owner_person_id IS NULL OR deadline IS NULL) FROM mth
            WHERE created_at < :end AND issue_id IS NOT NULL)
        GROUP BY issue_id)"""
_ASSIGNED_THEN_SQL = f"""CASE WHEN st.id IN (SELECT issue_id FROM aff) THEN
                (st.responsible_person_id IS NOT NULL AND st.deadline IS NOT NULL
                 AND COALESCE(msa.n, 0) > 0 AND msa.incomplete = 0)
            ELSE {_ASSIGNED_LIVE_SQL} END"""


@contextmanager
def state_table(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                cal: Calendar | None = None) -> Iterator[tuple[str, dict]]:
    """A temporary table holding one row per issue in scope as of `as_of` (id, unit_id,
    aspect_id, category_id, amount, created_on, status, deadline, original_deadline, closed_on,
    responsible_person_id, assigned (1 when 四个到人 is complete), warning, cube_key); yields
    (table name, query parameters :today, :cutoff, :end and those of _age_params). The table is
    dropped on exit.

    The rows are audit.views.state_cte's: for a past date, the issues with no record after
    `as_of` are read from their live columns, the few others as recorded then (classification
    included, so an issue moved to another unit since counts where it was); 四个到人 is looked
    up in history only for the issues whose measures changed since: a date two weeks back costs
    about what today costs. The values are those of audit.views.state_cte and measures_cte."""
    params = {**figures_params(db, as_of, cal), **_age_params(as_of)}
    name = f"dash_state_{uuid.uuid4().hex[:12]}"
    conn = db.conn
    # A few MB of temporary tables stay in memory instead of spilling to a temp file (this
    # touches only the connection's temp schema, never the database file).
    conn.execute("PRAGMA temp.cache_size = -32000")
    conn.execute(f"CREATE TEMP TABLE {name} ({_STATE_COLUMNS})")
    try:
        live = is_live(db, as_of)
        head = state_cte(scope, as_of, params, live=live, category_code=False)
        if live:
            assigned, more, join = _ASSIGNED_LIVE_SQL, "", ""
        else:
            assigned, more = _ASSIGNED_THEN_SQL, measures_then_cte() + _AFFECTED_CTE
            join = "LEFT JOIN msa ON msa.issue_id = st.id"
        conn.execute(f"""INSERT INTO temp.{name} {head} {more}
            SELECT {", ".join(f"st.{c}" for c in _ROW_COLUMNS)}, {assigned},
                   {WARNING_SQL}, {_cube_key_sql()}
            FROM st {join}""", params)
        yield name, params
    finally:
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


def deltas(now: dict, then: dict | None) -> dict | None:
    """now − then for DELTA_KEYS (None where either side is None); None without `then`."""
    if then is None:
        return None
    out: dict = {}
    for key in DELTA_KEYS:
        a, b = now.get(key), then.get(key)
        out[key] = None if a is None or b is None else round(a - b, 10)
    return out


# --- units shown on the charts ------------------------------------------------------------------

def unit_groups(db: sqlite_utils.Database, scope: Scope) -> dict[int, tuple[int, str]]:
    """unit id → (id, name) of the unit it is shown under: one level below the top of the scope
    (see the module docstring). Covers every unit of the scope."""
    units = rows(db, "SELECT id, name, parent_id FROM units ORDER BY id")
    by_id = {u["id"]: u for u in units}
    inside = set(by_id) if scope.unit_ids is None else set(scope.unit_ids) & set(by_id)
    roots = [u for u in inside if by_id[u]["parent_id"] not in inside]
    children: dict[int, list[int]] = {}
    for u in units:
        if u["id"] in inside and u["parent_id"] in inside:
            children.setdefault(u["parent_id"], []).append(u["id"])
    out: dict[int, tuple[int, str]] = {}

    def mark(unit_id: int, group: int) -> None:
        stack = [unit_id]
        while stack:
            u = stack.pop()
            out[u] = (group, by_id[group]["name"])
            stack.extend(children.get(u, ()))

    for root in roots:
        # Several roots only for an unusual scope: each is then a group of its own.
        if len(roots) > 1:
            mark(root, root)
            continue
        out[root] = (root, by_id[root]["name"])
        for child in children.get(root, ()):
            mark(child, child)
    return out


# --- labels -------------------------------------------------------------------------------------

def category_label(code: str, name: str) -> str:
    """How a category is named on the charts: its code and name ('C1 外包合同管理')."""
    return f"{code} {name}"


def _label_code(label: str) -> str:
    """The code at the start of a chart label ('C1 外包合同管理' → 'C1')."""
    return str(label).split(" ", 1)[0]


def owner_label(name: str, unit: str, lang: str) -> str:
    """A responsible person on the charts, with their unit so that namesakes stay apart."""
    return t("common.name_in_unit", lang, name=name, unit=unit)


# --- the charts' rows ---------------------------------------------------------------------------

_STATUS_RANK = {k: n for n, k in enumerate(charts.STATUS_ORDER)}
_WARNING_RANK = {k: n for n, k in enumerate(charts.WARNING_ORDER)}


def _bucket_sql(age: str) -> str:
    """The index of progress_charts.AGEING_BOUNDS' bucket for an age in days."""
    whens = " ".join(f"WHEN {age} <= {hi} THEN {i}" for i, hi in enumerate(progress_charts.AGEING_BOUNDS))
    return f"CASE {whens} ELSE {len(progress_charts.AGEING_BOUNDS)} END"


_AGE = "CAST(julianday(:today) - julianday(s.created_on) AS INTEGER)"

# The cube key: the dimensions the tiles and four charts are rolled up from, packed into ONE
# integer per issue when the state table is built, because SQLite groups by one integer several
# times faster than by several columns, and the other passes read the status and the warning
# from it by bit arithmetic instead of comparing strings. From the lowest bit: status (3 bits:
# _STATUS_CODES, 5 for none), warning (2 bits: _WARNING_CODES), age bucket of an open issue
# (3 bits: progress_charts.AGEING_BOUNDS' index, 7 when not open), on time and due (按期整改率's numerator
# and denominator, 1 bit each), category id (20 bits), unit id (the rest).
_STATUS_CODES = ("not_started", "in_progress", "submitted", "closed", "ended")
_WARNING_CODES = ("red", "amber", "green", "none")
_NO_STATUS, _NOT_OPEN = 5, 7
_ON_TIME_FLAG, _DUE_FLAG = 1 << 8, 1 << 9
_CATEGORY_SHIFT, _UNIT_SHIFT = 11, 31


def _cube_key_sql() -> str:
    """The cube key of a row `st` of state_cte; expects the parameters of figures_params and
    _age_params. The flags are FIGURES_SQL's expressions, worked out once per status."""
    warning = " ".join(f"WHEN '{c}' THEN {n << 3}" for n, c in enumerate(_WARNING_CODES))
    # age <= hi days ⇔ created on or after as_of − hi: a string comparison per bound.
    bucket = " ".join(f"WHEN st.created_on >= :age{i} THEN {i << 5}"
                      for i in range(len(progress_charts.AGEING_BOUNDS)))
    bucket = f"(CASE {bucket} ELSE {len(progress_charts.AGEING_BOUNDS) << 5} END)"
    # Open: due once the original deadline has passed, never on time. Closed: due; on time
    # unless closed after the original deadline. Ended: neither. Otherwise: as FIGURES_SQL.
    due_open = f"(CASE WHEN st.original_deadline < :today THEN {_DUE_FLAG} ELSE 0 END)"
    on_time = (f"(CASE WHEN st.original_deadline IS NULL OR st.closed_on <= st.original_deadline "
               f"THEN {_ON_TIME_FLAG} ELSE 0 END)")
    not_open = _NOT_OPEN << 5
    branches = " ".join(f"WHEN '{c}' THEN {n} + {bucket} + {due_open}"
                        for n, c in enumerate(_STATUS_CODES[:3]))
    return f"""(st.unit_id << {_UNIT_SHIFT}) + (st.category_id << {_CATEGORY_SHIFT})
        + (CASE {DEADLINE_WARNING_SQL} {warning} END)
        + (CASE st.status {branches}
           WHEN 'closed' THEN 3 + {not_open} + {_DUE_FLAG} + {on_time}
           WHEN 'ended' THEN 4 + {not_open}
           ELSE {_NO_STATUS} + {not_open} + (CASE WHEN {_due('st')} THEN {_DUE_FLAG} ELSE 0 END)
           END)"""


def _age_params(as_of: date) -> dict:
    """:age0… : the first day of each age bucket's range (as_of − its upper bound)."""
    return {f"age{i}": (as_of - timedelta(days=hi)).isoformat()
            for i, hi in enumerate(progress_charts.AGEING_BOUNDS)}


# Parts of a state row `s` read from its cube key.
_STATUS = "(s.cube_key & 7)"                      # index in _STATUS_CODES
_IS_OPEN = "(s.cube_key & 7) < 3"                 # not started, in progress or submitted
_CLOSED = "(s.cube_key & 7) = 3"
_RED = "((s.cube_key >> 3) & 3) = 0"              # overdue
_ON_TIME_BIT = f"((s.cube_key & {_ON_TIME_FLAG}) > 0)"
_DUE_BIT = f"(s.cube_key & {_DUE_FLAG})"


# --- one unit's share -------------------------------------------------------------------------

@dataclass
class Partial:
    """What one unit's issues contribute to the dashboard as of a date: counts that add up
    across units (a set for the distinct count), so that a scope's figures and charts are the
    sum of its units' and a write in one unit recomputes that unit's share alone.
    `full` False: only what the figures need (the 14-day comparison)."""
    cube: dict[int, int] = field(default_factory=dict)          # cube key → issues
    amount_involved: float = 0.0
    amount_rectified: float = 0.0
    fully_assigned: int = 0
    aspects: set[int] = field(default_factory=set)
    latest: str | None = None                                   # latest original deadline
    streams: dict[int, int] = field(default_factory=dict)       # stream × 8 + status → issues
    months: dict[str | None, list[int]] = field(default_factory=dict)  # month → [on time, due]
    owners: dict[int | None, list[int]] = field(default_factory=dict)  # person → [open, red]
    focus: dict[int, int] = field(default_factory=dict)         # focus × 2 + closed → issues
    causes: dict[int, list] = field(default_factory=dict)       # cause → [open, amount, red]
    # The burn-up's steps per week (the ISO date of the Sunday ending it):
    created: dict[str, int] = field(default_factory=dict)       # issues registered
    closed: dict[str, int] = field(default_factory=dict)        # net closings
    merged: dict[str, list[int]] = field(default_factory=dict)  # [merged, closed then]


def _add(target: dict, key, values: list) -> None:
    """Add `values` element-wise into target[key] (a new list when absent)."""
    have = target.get(key)
    if have is None:
        target[key] = list(values)
    else:
        for n, v in enumerate(values):
            have[n] += v


def merge_partials(parts: list[Partial]) -> Partial:
    """The sum of units' shares (in the order given: amounts are added in that order)."""
    out = Partial()
    for p in parts:
        for k, n in p.cube.items():
            out.cube[k] = out.cube.get(k, 0) + n
        out.amount_involved += p.amount_involved
        out.amount_rectified += p.amount_rectified
        out.fully_assigned += p.fully_assigned
        out.aspects |= p.aspects
        if p.latest is not None and (out.latest is None or p.latest > out.latest):
            out.latest = p.latest
        for mine, theirs in ((out.streams, p.streams), (out.focus, p.focus),
                             (out.created, p.created), (out.closed, p.closed)):
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        for mine, theirs in ((out.months, p.months), (out.owners, p.owners),
                             (out.causes, p.causes), (out.merged, p.merged)):
            for k, v in theirs.items():
                _add(mine, k, v)
    return out


# Below the unit id in a grouping key (unit << 32 + what is counted): SQLite groups by one
# integer several times faster than by two columns.
_LOW = (1 << 32) - 1


def compute_partials(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                     cal: Calendar | None = None, full: bool = True) -> dict[int, Partial]:
    """unit id → Partial of every unit with issues in `scope` as of `as_of`, from one state
    table: each pass is one GROUP BY that also groups by unit. Units without issues are left
    out (their share is empty)."""
    out: dict[int, Partial] = {}

    def part(unit_id: int) -> Partial:
        p = out.get(unit_id)
        if p is None:
            p = out[unit_id] = Partial()
        return p

    conn = db.conn
    live = is_live(db, as_of)
    links = {f: link_rows_sql(f, live=live, classification=scope.classification)
             for f in ("streams", "focus", "causes")}
    # A few units (the shares a write made stale): each issue finds its links and status
    # records by index; the whole programme: one pass over the link tables and history.
    few = scope.unit_ids is not None
    with state_table(db, scope, as_of, cal=cal) as (table, params):
        def joined(link: str, alias: str) -> str:
            if few and live:
                return f"temp.{table} s CROSS JOIN {links[link]} {alias} ON {alias}.issue_id = s.id"
            return f"{links[link]} {alias} JOIN temp.{table} s ON s.id = {alias}.issue_id"

        for key, n in conn.execute(f"SELECT cube_key, COUNT(*) FROM temp.{table} "
                                   "GROUP BY cube_key"):
            part(key >> _UNIT_SHIFT).cube[key] = n
        for u, involved, rectified, assigned, latest in conn.execute(f"""
                SELECT s.unit_id, TOTAL(s.amount),
                       TOTAL(CASE WHEN {_CLOSED} THEN s.amount ELSE 0 END),
                       TOTAL(s.assigned), MAX(s.original_deadline)
                FROM temp.{table} s GROUP BY s.unit_id"""):
            p = part(u)
            p.amount_involved, p.amount_rectified = involved, rectified
            p.fully_assigned, p.latest = int(assigned), latest
        for u, aspect in conn.execute(f"SELECT DISTINCT unit_id, aspect_id FROM temp.{table}"):
            part(u).aspects.add(aspect)
        if not full:
            return out
        # Grouped by one integer (stream × 8 + status code; focus point × 2 + closed): several
        # times faster than grouping by the stream and the status text.
        for k, n in conn.execute(f"""
                SELECT (s.unit_id << 32) + x.target_id * 8 + {_STATUS} AS k, COUNT(*)
                FROM {joined('streams', 'x')} GROUP BY k""", params):
            part(k >> 32).streams[k & _LOW] = n
        for k, n in conn.execute(f"""
                SELECT (s.unit_id << 32) + f.target_id * 2 + ({_CLOSED}) AS k, COUNT(*)
                FROM {joined('focus', 'f')} GROUP BY k""", params):
            part(k >> 32).focus[k & _LOW] = n
        for u, month, on_time, due in conn.execute(f"""
                SELECT s.unit_id, {_month('s')} AS month, TOTAL({_ON_TIME_BIT}), COUNT(*)
                FROM temp.{table} s WHERE {_DUE_BIT} GROUP BY s.unit_id, month"""):
            part(u).months[month] = [int(on_time), due]
        # A person id + 1 (0: no one responsible).
        for k, n, red in conn.execute(f"""
                SELECT (s.unit_id << 32) + COALESCE(s.responsible_person_id + 1, 0) AS k,
                       COUNT(*), TOTAL({_RED})
                FROM temp.{table} s WHERE {_IS_OPEN} GROUP BY k"""):
            part(k >> 32).owners[(k & _LOW) - 1 if k & _LOW else None] = [n, int(red)]
        # The ranking of issues.graphs.rank_causes, counted in SQL: one cause often has most
        # of a large programme's issues, and shipping them all to Python to count them cost
        # more than the rest of the dashboard (tests/test_audit_dashboard.py checks that both
        # give the same rows).
        for k, n, amount, red in conn.execute(f"""
                SELECT (s.unit_id << 32) + x.target_id AS k, COUNT(*), TOTAL(s.amount),
                       TOTAL({_RED})
                FROM {joined('causes', 'x')} WHERE {_IS_OPEN} GROUP BY k""", params):
            part(k >> 32).causes[k & _LOW] = [n, amount, int(red)]
        _burnup_partials(db, scope, table, as_of, part, few=few)
    return out


def _burnup_partials(db: sqlite_utils.Database, scope: Scope, table: str, as_of: date,
                     part, *, few: bool) -> None:
    """The burn-up's per-day steps of each unit (created, closed, merged) into its Partial."""
    params: dict = {"end": (as_of + timedelta(days=1)).isoformat() + "T00:00:00+08:00"}
    sc, n_merged = _merged_table(db, scope, params, state=table)
    try:
        steps = [_burnup_steps(db, table, params, merged=False, few=few, by_unit=True)]
        if n_merged:
            steps.append(_burnup_steps(db, sc, params, merged=True, few=True, by_unit=True))
    finally:
        db.conn.execute(f"DROP TABLE IF EXISTS temp.{sc}")
    for created, closed, merged in steps:
        for r in created:
            p = part(r["unit_id"]).created
            p[r["day"]] = p.get(r["day"], 0) + r["n"]
        for r in closed:
            p = part(r["unit_id"]).closed
            p[r["day"]] = p.get(r["day"], 0) + int(r["n"])
        for r in merged:
            _add(part(r["unit_id"]).merged, r["day"], [r["n"], int(r["closed"])])


# --- the charts' rows from a scope's sum ------------------------------------------------------

def _status_of(code: int) -> str | None:
    return None if code == _NO_STATUS else _STATUS_CODES[code]


def _cube_rows(cube: dict[int, int]) -> list[dict]:
    """Counts per cube key, unpacked (unit_id, category_id, status, warning, bucket of an open
    issue, on_time, due, n): what the tiles and four charts are rolled up from (a few thousand
    rows at most, whatever the programme's size)."""
    out = []
    for key in sorted(cube):
        status, bucket = key & 7, (key >> 5) & 7
        out.append({"unit_id": key >> _UNIT_SHIFT,
                    "category_id": (key >> _CATEGORY_SHIFT) & ((1 << 20) - 1),
                    "status": _status_of(status),
                    "warning": _WARNING_CODES[(key >> 3) & 3],
                    "bucket": None if bucket == _NOT_OPEN else bucket,
                    "on_time": int(key & _ON_TIME_FLAG > 0), "due": int(key & _DUE_FLAG > 0),
                    "n": cube[key]})
    return out


def _figures_from_cube(cube: list[dict], totals: Partial, as_of: date) -> dict:
    """audit.figures' figures (the same dict as figures()) from the cube and the totals."""
    r = {k: 0 for k in ("issues", "closed", "ended", "not_started", "in_progress", "submitted",
                        "overdue", "due_soon", "on_time", "on_time_due", "fully_assigned")}
    categories = set()
    for c in cube:
        n, status = c["n"], c["status"]
        categories.add(c["category_id"])
        r["issues"] += n
        if status in r:
            r[status] += n
        if status in OPEN:
            r["overdue"] += n if c["warning"] == "red" else 0
            r["due_soon"] += n if c["warning"] == "amber" else 0
        r["on_time"] += n * c["on_time"]
        r["on_time_due"] += n * c["due"]
    r.update(categories=len(categories), aspects=len(totals.aspects),
             fully_assigned=totals.fully_assigned,
             amount_involved=totals.amount_involved,
             amount_rectified=totals.amount_rectified)
    return figures_from_row(r, as_of)


def _category_names(db) -> dict[int, tuple[str, str]]:
    """category id → (code, name), in catalogue order (C2 before C10)."""
    return {r["id"]: (r["code"], r["name"]) for r in rows(
        db, "SELECT id, code, name FROM categories ORDER BY CAST(substr(code, 2) AS INTEGER), "
            "code")}


def _from_cube(cube: list[dict], groups: dict[int, tuple[int, str]],
               cats: dict[int, tuple[str, str]], lang: str) -> dict[str, list[dict]]:
    """status_by_category, heatmap, warning_by_unit and ageing, rolled up from the cube."""
    cat_order = {cid: n for n, cid in enumerate(cats)}
    by_cat: dict[tuple[int, str], int] = {}
    heat: dict[tuple[int, int], list[int]] = {}
    warn: dict[tuple[int, str], int] = {}
    ages: dict[int, int] = {}
    names: dict[int, str] = {}
    for r in cube:
        gid, gname = groups.get(r["unit_id"], (r["unit_id"], str(r["unit_id"])))
        names[gid] = gname
        n, is_open = r["n"], r["status"] in OPEN
        by_cat[(r["category_id"], r["status"])] = by_cat.get((r["category_id"], r["status"]),
                                                             0) + n
        cell = heat.setdefault((gid, r["category_id"]), [0, 0])
        if is_open:
            cell[0] += n
            cell[1] += n if r["warning"] == "red" else 0
            warn[(gid, r["warning"])] = warn.get((gid, r["warning"]), 0) + n
            ages[r["bucket"]] = ages.get(r["bucket"], 0) + n
    status_rows = [{"category": category_label(*cats[c]), "code": cats[c][0], "status": st,
                    "count": n}
                   for (c, st), n in sorted(by_cat.items(), key=lambda kv: (
                       cat_order.get(kv[0][0], 0), _STATUS_RANK.get(kv[0][1], 9)))]
    # The full grid of the units and categories that have issues (zeros included): the
    # builder orders both axes by first appearance, and a gap would also read as "no data".
    units_seen = sorted({g for g, _ in heat})
    cats_seen = sorted({c for _, c in heat}, key=lambda c: cat_order.get(c, 0))
    heat_rows = [{"unit": names[g], "unit_id": g, "category": category_label(*cats[c]),
                  "code": cats[c][0], "open": heat.get((g, c), [0, 0])[0],
                  "overdue": heat.get((g, c), [0, 0])[1]}
                 for g in units_seen for c in cats_seen]
    warn_rows = [{"unit": names[g], "unit_id": g, "warning": w, "count": n}
                 for (g, w), n in sorted(warn.items(), key=lambda kv: (
                     kv[0][0], _WARNING_RANK.get(kv[0][1], 9)))]
    bucket_names = [r["bucket"] for r in progress_charts.ageing_buckets([], lang)]
    age_rows = [{"bucket": name, "count": ages.get(i, 0)} for i, name in enumerate(bucket_names)]
    return {"status_by_category": status_rows, "heatmap": heat_rows,
            "warning_by_unit": warn_rows, "ageing": age_rows}


def _sql_order(value: str | None) -> tuple:
    """A text's place in SQL's ascending order: NULL first, then by text (code points, which
    is UTF-8's byte order, SQLite's BINARY collation)."""
    return (value is not None, value or "")


def _status_by_stream(db, total: Partial, lang: str) -> list[dict]:
    name = name_column(lang)
    streams = {r["id"]: r for r in rows(db, f"SELECT id, code, {name} AS name FROM streams")}
    counts = [(k >> 3, _status_of(k & 7), n) for k, n in total.streams.items()
              if k >> 3 in streams]
    counts.sort(key=lambda c: (c[0], _sql_order(c[1])))
    return [{"stream": streams[sid]["name"], "code": streams[sid]["code"], "status": status,
             "count": n} for sid, status, n in counts]


def _due(a: str) -> str:
    """按期整改率's denominator for a row of alias `a` (as in FIGURES_SQL)."""
    return f"({a}.status = 'closed' OR ({a}.status <> 'ended' AND {a}.original_deadline < :today))"


def _month(a: str) -> str:
    """The month an issue counts in for the on-time rate: its original deadline's (else the
    month it was closed)."""
    return f"substr(COALESCE({a}.original_deadline, {a}.closed_on), 1, 7)"


def _on_time_by_month(total: Partial) -> list[dict]:
    return [{"month": m, "on_time": v[0], "due": v[1]}
            for m, v in sorted(total.months.items(), key=lambda kv: _sql_order(kv[0]))]


def _workload(db, total: Partial, lang: str) -> list[dict]:
    # Counted per person first, then named: the names are looked up once per person. Ordered
    # by open, then overdue (both descending), then name (a person id after, for namesakes).
    people = {r["id"]: (r["name"], r["unit"]) for r in rows(
        db, "SELECT p.id, p.name, u.name AS unit FROM people p "
            "LEFT JOIN units u ON u.id = p.unit_id")}
    label_of = formatter("common.name_in_unit", lang)
    out = []
    for pid, (n, red) in total.owners.items():
        name, unit = people.get(pid, (None, None))
        label = (label_of(name=name, unit=unit) if pid is not None
                 else t("dashboard.no_owner", lang))
        out.append(((-n, -red, _sql_order(name), pid is not None, pid or 0),
                    {"owner": label, "person_id": pid, "open": n, "overdue": red}))
    out.sort(key=lambda x: x[0])
    return [r for _, r in out]


def _focus_progress(db, total: Partial, lang: str) -> list[dict]:
    name = name_column(lang)
    out = []
    for r in rows(db, f"SELECT id, code, {name} AS name FROM focus_points ORDER BY code"):
        closed = total.focus.get(r["id"] * 2 + 1, 0)
        out.append({"focus": f"{r['code']} {r['name']}", "code": r["code"], "closed": closed,
                    "total": closed + total.focus.get(r["id"] * 2, 0)})
    return out


def _cause_ranking(db, total: Partial) -> list[dict]:
    # issues.graphs.rank_causes' order: open issues, then their amount, then open overdue
    # issues (all descending), then code.
    causes = {r["id"]: (r["code"], r["title"]) for r in rows(
        db, "SELECT id, code, title FROM causes")}
    ranked = sorted(((cid, v) for cid, v in total.causes.items() if cid in causes),
                    key=lambda kv: (-kv[1][0], -kv[1][1], -kv[1][2], causes[kv[0]][0]))
    return [{"cause": f"{causes[cid][0]} {causes[cid][1]}", "cause_id": cid,
             "code": causes[cid][0], "open_issues": n, "amount": amount, "overdue": red}
            for cid, (n, amount, red) in ranked[:CAUSE_ROWS]]


def _burnup_from(total: Partial, as_of: date, deadline: str | None, ended: int = 0) -> dict:
    """burnup_weeks' result from the scope's per-day steps; `ended`: issues ended as of
    `as_of`, which the projection does not wait for."""
    weeks = _weeks_from_steps(
        [{"day": d, "n": n} for d, n in total.created.items()],
        [{"day": d, "n": n} for d, n in total.closed.items()],
        [{"day": d, "n": v[0], "closed": v[1]} for d, v in total.merged.items()],
        as_of, None)
    return {"weeks": weeks, "deadline": deadline,
            "projection": progress_charts.project_completion(weeks, as_of, settled=ended)}


# --- burn-up ------------------------------------------------------------------------------------

def _week_end(day: date) -> date:
    """The Sunday that ends the week of `day`."""
    return day + timedelta(days=6 - day.weekday())


def programme_deadline(db: sqlite_utils.Database, table: str | None = None, *,
                       latest: str | None = None) -> str | None:
    """The setting 'programme.deadline' when set, else the latest original deadline in the state
    table (or `latest`, that deadline already known; None without one)."""
    setting = org.setting(db, DEADLINE_SETTING)
    if setting:
        try:
            return date.fromisoformat(setting.strip()).isoformat()
        except ValueError:
            pass  # a malformed setting falls back to the issues' own deadlines
    if table is None:
        return latest
    return scalar(db, f"SELECT MAX(original_deadline) FROM temp.{table}")


def _burnup_steps(db: sqlite_utils.Database, table: str, params: dict, *,
                  merged: bool, few: bool = False, by_unit: bool = False
                  ) -> tuple[list, list, list]:
    """(created, closed, merged) per day for the issues of temp table `table` (id, unit_id,
    created_on, and merged_at when `merged`): issues created; status records into (+1) or out
    of (−1) 'closed' before :end (and before the issue's merge); issues merged, with their
    closed count then. `few`: the table is small, so each issue looks up its own records.
    `by_unit`: per unit and week instead (rows carry unit_id; `day` is the Sunday ending the
    week: a seventh of the rows to add up)."""
    unit, group = ("s.unit_id AS unit_id, ", "s.unit_id, ") if by_unit else ("", "")

    def day(expr: str) -> str:
        return f"date({expr}, 'weekday 0')" if by_unit else expr
    created = rows(db, f"SELECT {unit}{day('s.created_on')} AS day, COUNT(*) AS n "
                       f"FROM temp.{table} s GROUP BY {group}day", params)
    # Otherwise a CROSS JOIN keeps history outside: one pass over its status records (partial
    # index history_issue_closing), each finding its issue by primary key.
    join = (f"temp.{table} s JOIN history h ON h.entity_id = s.id" if few
            else f"history h CROSS JOIN temp.{table} s ON s.id = h.entity_id")
    before_merge = "AND (s.merged_at IS NULL OR h.at < s.merged_at)" if merged else ""
    closed = rows(db, f"""
        SELECT {unit}{day('substr(h.at, 1, 10)')} AS day,
               SUM((h.new = 'closed') - (h.old IS 'closed')) AS n
        FROM {join}
        WHERE h.entity = 'issue' AND h.field = 'status'
          AND (h.new = 'closed' OR h.old = 'closed') AND h.at < :end {before_merge}
        GROUP BY {group}day""", params)
    if not merged:
        return created, closed, []
    # A merged issue leaves the scope, and the closed count with the status it had then.
    gone = rows(db, f"""
        SELECT {unit}{day('substr(s.merged_at, 1, 10)')} AS day, COUNT(*) AS n,
               TOTAL((SELECT TOTAL((h.new = 'closed') - (h.old IS 'closed')) FROM history h
                      WHERE h.entity = 'issue' AND h.entity_id = s.id
                        AND h.field = 'status' AND h.at < s.merged_at)) AS closed
        FROM temp.{table} s WHERE s.merged_at IS NOT NULL AND s.merged_at < :end
        GROUP BY {group}day""", params)
    return created, closed, gone


def _merged_table(db: sqlite_utils.Database, scope: Scope, params: dict, *,
                  state: str | None) -> tuple[str, int]:
    """A temporary table (id, unit_id, created_on, merged_at) of the scope's issues created by
    :end, merged ones included (in scope until merged), keyed by id so that each status record
    finds its issue by one lookup; with a state table, only the issues merged by the date (not
    in the state, and few). Returns (name, rows); the caller drops it."""
    where = scope_filter(scope, params)
    sc = f"dash_scope_{uuid.uuid4().hex[:12]}"
    db.conn.execute(f"CREATE TEMP TABLE {sc} (id INTEGER PRIMARY KEY, unit_id INTEGER, "
                    "created_on TEXT, merged_at TEXT)")
    issues, merged_only = ("issues i", "") if state is None else (
        "issues i INDEXED BY issues_merged",
        "AND i.merged_into_id IS NOT NULL AND i.merged_at < :end")
    n = db.conn.execute(f"""INSERT INTO temp.{sc} SELECT i.id, i.unit_id,
            substr(i.created_at, 1, 10), i.merged_at FROM {issues}
        JOIN aspects a ON a.id = i.aspect_id JOIN categories c ON c.id = a.category_id
        WHERE i.created_at < :end {merged_only} {where}""", params).rowcount
    return sc, n


def _weeks_from_steps(created: list[dict], closed: list[dict], merged: list[dict],
                      as_of: date, start: date | None) -> list[dict]:
    """Burn-up rows from the per-day steps of _burnup_steps, added up into weeks."""
    if not created:
        return []
    steps: dict[date, list[int]] = {}

    def add(day: str, d_scope: float, d_closed: float) -> None:
        week = min(_week_end(date.fromisoformat(day)), as_of)
        step = steps.setdefault(week, [0, 0])
        step[0] += int(d_scope)
        step[1] += int(d_closed)

    for r in created:
        add(r["day"], r["n"], 0)
    for r in closed:
        add(r["day"], 0, r["n"])
    for r in merged:
        add(r["day"], -r["n"], -r["closed"])
    out, in_scope, n_closed = [], 0, 0
    week_end = _week_end(min(date.fromisoformat(r["day"]) for r in created))
    while True:
        point = min(week_end, as_of)
        d_scope, d_closed = steps.get(point, (0, 0))
        in_scope, n_closed = in_scope + d_scope, n_closed + d_closed
        if start is None or point >= start:
            out.append({"week": point.isoformat(),
                        "week_start": (week_end - timedelta(days=6)).isoformat(),
                        "in_scope": in_scope, "closed": n_closed})
        if point >= as_of:
            break
        week_end += timedelta(days=7)
    return out


def _burnup_weeks(db: sqlite_utils.Database, scope: Scope, as_of: date, start: date | None,
                  state: str | None = None) -> list[dict]:
    """Burn-up rows from history: every issue status record replayed once, summed per day in
    SQL, the days then added up into weeks. `state`: a state_table of (scope, as_of) to take
    the scope's issues from instead of scanning the issues table again."""
    params: dict = {"end": (as_of + timedelta(days=1)).isoformat() + "T00:00:00+08:00"}
    sc, n_merged = _merged_table(db, scope, params, state=state)
    try:
        if state is None:
            created, closed, merged = _burnup_steps(db, sc, params, merged=True)
        else:
            created, closed, merged = _burnup_steps(db, state, params, merged=False)
            if n_merged:
                more = _burnup_steps(db, sc, params, merged=True, few=True)
                created, closed, merged = created + more[0], closed + more[1], more[2]
    finally:
        db.conn.execute(f"DROP TABLE IF EXISTS temp.{sc}")
    return _weeks_from_steps(created, closed, merged, as_of, start)


def burnup_weeks(db: sqlite_utils.Database, scope: Scope, as_of: date,
                 start: date | None = None, *, deadline: str | None = None,
                 state: str | None = None) -> dict:
    """The burn-up: {'weeks': [{week (the week's end, or as_of for the last), week_start
    (Monday), in_scope, closed}], 'deadline': ISO or None, 'projection':
    progress_charts.project_completion(...)}, from the scope's first issue (or `start`) to `as_of`;
    counts as of the end of each week, recomputed from the status records of history."""
    weeks = _burnup_weeks(db, scope, as_of, start, state)
    ended_sql = "SELECT COUNT(*) FROM {} WHERE status = 'ended'"
    if state is not None:
        ended = db.conn.execute(ended_sql.format(state)).fetchone()[0]
    if deadline is None or state is None:
        with state_table(db, scope, as_of) as (table, _):
            if deadline is None:
                deadline = programme_deadline(db) or programme_deadline(db, table)
            if state is None:
                ended = db.conn.execute(ended_sql.format(table)).fetchone()[0]
    return {"weeks": weeks, "deadline": deadline,
            "projection": progress_charts.project_completion(weeks, as_of, settled=ended)}


# --- the units' shares, kept per data version --------------------------------------------------

# (database file, its inode, the scope's filters but its units, date, full) → unit id →
# (that unit's data version, its Partial). A write moves the versions of the units it touched
# (audit.store.versions), so the next read recomputes those units' shares alone and adds up
# the others as kept: a visit after a write costs about what a warm visit costs. Bounded to
# KEPT_KEYS combinations (the newest used kept), each at most a share per unit.
_KEPT: OrderedDict[tuple, dict[int, tuple[int, Partial]]] = OrderedDict()
_KEPT_LOCK = threading.Lock()
KEPT_KEYS = 8


def _kept_key(db: sqlite_utils.Database, scope: Scope, as_of: date, full: bool) -> tuple | None:
    """The key of a scope's kept shares; None for a database without a file (not kept)."""
    path = database_file(db)
    if not path:
        return None
    try:
        # The inode tells a file restored or recreated at the same path from the one read.
        inode = os.stat(path).st_ino
    except OSError:
        return None
    return (path, inode, scope.category_codes, scope.stream, scope.focus,
            scope.classification, as_of.isoformat(), full)


def forget_partials() -> None:
    """Drop every kept share (the next read computes from scratch)."""
    with _KEPT_LOCK:
        _KEPT.clear()


def scope_partials(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                   cal: Calendar | None = None, full: bool = True) -> list[Partial]:
    """The Partial of every unit of `scope` as of `as_of`, in unit order: those kept at the
    unit's current data version as they are, the others recomputed together in one pass and
    kept. With `cal` (a calendar other than the database's) nothing is kept."""
    unit_ids = (sorted(scope.unit_ids) if scope.unit_ids is not None
                else [r["id"] for r in rows(db, "SELECT id FROM units ORDER BY id")])
    key = None if cal is not None else _kept_key(db, scope, as_of, full)
    if key is None:
        parts = compute_partials(db, scope, as_of, cal=cal, full=full)
        return [parts[u] for u in unit_ids if u in parts]
    # The versions are read before the data: a share computed from data newer than its
    # version is recomputed at the next read, never served for data older than it.
    everything, own = versions.unit_versions(db)
    now = {u: max(everything, own.get(u, 0)) for u in unit_ids}
    with _KEPT_LOCK:
        kept = _KEPT.setdefault(key, {})
        _KEPT.move_to_end(key)
        while len(_KEPT) > KEPT_KEYS:
            _KEPT.popitem(last=False)
        stale = [u for u in unit_ids if u not in kept or kept[u][0] != now[u]]
    if stale:
        whole = scope.unit_ids is None and len(stale) == len(unit_ids)
        fresh = compute_partials(db, replace(scope, unit_ids=None if whole
                                             else frozenset(stale)), as_of, full=full)
        with _KEPT_LOCK:
            for u in stale:
                kept[u] = (now[u], fresh.get(u) or Partial())
    return [kept[u][1] for u in unit_ids]


# --- the bundle ---------------------------------------------------------------------------------

def dashboard_data(db: sqlite_utils.Database, scope: Scope, as_of: date,
                   compare_to: date | None = None, *, lang: str = "zh",
                   cal: Calendar | None = None) -> dict:
    """Everything the dashboard and the review pack show, as plain data (keys DASHBOARD_KEYS):
    - as_of, compare_to: ISO dates (compare_to None when not asked); lang; data_version (of
      the scope's units, audit.store.versions: what the page's cache keys on);
    - figures: audit.figures' figures at as_of; compare: the same at compare_to (or None);
      deltas: figures − compare for DELTA_KEYS (or None);
    - burnup: {weeks: [{week, week_start, in_scope, closed}], deadline, projection};
    - status_by_category: [{category, code, status, count}]; status_by_stream: [{stream, code,
      status, count}]; heatmap: [{unit, unit_id, category, code, open, overdue}];
      warning_by_unit: [{unit, unit_id, warning, count}] (open issues); ageing: [{bucket,
      count}] (open issues, every bucket); on_time_by_month: [{month, on_time, due}];
      workload_by_owner: [{owner, person_id, open, overdue}]; focus_progress: [{focus, code,
      closed, total}] (all five); cause_ranking: [{cause, cause_id, code, open_issues, amount,
      overdue}] (top CAUSE_ROWS with open issues).
    Labels (streams, focus points, age buckets, 'no owner') are in `lang`. Computed as the sum
    of the scope's units' shares (scope_partials): only the units a write touched since the
    last read are counted again."""
    out: dict = {"as_of": as_of.isoformat(),
                 "compare_to": compare_to.isoformat() if compare_to else None,
                 "lang": lang, "data_version": versions.version_of(db, scope.unit_ids)}
    total = merge_partials(scope_partials(db, scope, as_of, cal=cal))
    cube = _cube_rows(total.cube)
    out["figures"] = _figures_from_cube(cube, total, as_of)
    out.update(_from_cube(cube, unit_groups(db, scope), _category_names(db), lang))
    out["status_by_stream"] = _status_by_stream(db, total, lang)
    out["on_time_by_month"] = _on_time_by_month(total)
    out["workload_by_owner"] = _workload(db, total, lang)
    out["focus_progress"] = _focus_progress(db, total, lang)
    out["cause_ranking"] = _cause_ranking(db, total)
    out["burnup"] = _burnup_from(total, as_of, programme_deadline(db, latest=total.latest),
                                 out["figures"]["ended"])
    if compare_to is not None:
        then = merge_partials(scope_partials(db, scope, compare_to, cal=cal, full=False))
        out["compare"] = _figures_from_cube(_cube_rows(then.cube), then, compare_to)
    else:
        out["compare"] = None
    out["deltas"] = deltas(out["figures"], out["compare"])
    return {k: out[k] for k in DASHBOARD_KEYS}


# --- what the page's filters offer ------------------------------------------------------------



def units_in_scope(db: sqlite_utils.Database, unit_ids: frozenset[int] | None) -> list[dict]:
    """The units an actor may see (all when None), parents before their children
    (depth-first), each with its depth below the top of what is shown."""
    units = org.all_units(db)
    kids: dict[int | None, list[dict]] = {}
    for u in sorted(units, key=lambda u: u["id"]):
        kids.setdefault(u["parent_id"], []).append(u)
    ids = {u["id"] for u in units}
    out: list[dict] = []

    def walk(u: dict, depth: int) -> None:
        if unit_ids is None or u["id"] in unit_ids:
            out.append({"id": u["id"], "code": u["code"], "name": u["name"], "depth": depth})
            depth += 1
        for child in kids.get(u["id"], []):
            walk(child, depth)

    for root in [u for u in units if u["parent_id"] not in ids]:
        walk(root, 0)
    return out


def filter_options(db: sqlite_utils.Database, lang: str) -> dict[str, dict[str, str]]:
    """code → label of the categories, work streams and focus points, in display order."""
    name = name_column(lang)
    return {
        "categories": {r["code"]: category_label(r["code"], r["name"]) for r in rows(
            db, "SELECT code, name FROM categories "
                "ORDER BY CAST(substr(code, 2) AS INTEGER), code")},
        "streams": {r["code"]: r["n"] for r in rows(
            db, f"SELECT code, {name} AS n FROM streams ORDER BY id")},
        "focus": {r["code"]: f"{r['code']} {r['n']}" for r in rows(
            db, f"SELECT code, {name} AS n FROM focus_points ORDER BY code")},
    }


def unit_name(db: sqlite_utils.Database, unit_id: int | None) -> str | None:
    """A unit's name, or None."""
    return None if unit_id is None else scalar(db, "SELECT name FROM units WHERE id = ?",
                                               (unit_id,))


def amber_days(db: sqlite_utils.Database) -> str:
    """The amber window in working days (the setting the figures use)."""
    return org.setting(db, "warning.amber_working_days", "10") or "10"


# --- drill-down ---------------------------------------------------------------------------------

class UnknownSelection(ValueError):
    """A drill-down selection names a field or a value no chart produces."""


def drill_down(db: sqlite_utils.Database, scope: Scope, as_of: date, selection: dict, *,
               lang: str = "zh", limit: int | None = None) -> list[dict]:
    """The issues behind a clicked bar or cell, given the SELECTIONS field values of one point
    (e.g. {'category': 'C1 外包合同管理', 'status': 'closed'}): rows {id, code, title, unit,
    status, deadline, warning}, by code. Labels are matched as the charts show them (either
    language); codes are accepted too. `measure` ('open'/'overdue') tells the heatmap apart.
    Raises UnknownSelection for an unknown field or value."""
    live = is_live(db, as_of)
    params = figures_params(db, as_of)
    conds: list[str] = []

    def link(field_name: str) -> str:
        return link_rows_sql(field_name, live=live, classification=scope.classification)
    sel = {k: v for k, v in selection.items() if v is not None}
    open_only = bool({"warning", "bucket", "owner", "cause"} & set(sel)) or (
        "unit" in sel and "category" in sel)
    for key, value in sel.items():
        value = str(value)
        if key == "status":
            params["f_status"] = value
            conds.append("st.status = :f_status")
        elif key == "category":
            params["f_cat"] = _label_code(value)
            conds.append("st.category_code = :f_cat")
        elif key == "stream":
            params["f_stream"] = value
            conds.append(f"st.id IN (SELECT x.issue_id FROM {link('streams')} x JOIN streams sm "
                         "ON sm.id = x.target_id WHERE sm.code = :f_stream OR "
                         "sm.name = :f_stream OR sm.name_en = :f_stream)")
        elif key == "focus":
            params["f_focus"] = _label_code(value)
            conds.append(f"st.id IN (SELECT x.issue_id FROM {link('focus')} x JOIN focus_points "
                         "fp ON fp.id = x.target_id WHERE fp.code = :f_focus)")
        elif key == "cause":
            params["f_cause"] = _label_code(value)
            conds.append(f"st.id IN (SELECT x.issue_id FROM {link('causes')} x JOIN causes cs "
                         "ON cs.id = x.target_id WHERE cs.code = :f_cause)")
        elif key == "unit":
            groups = unit_groups(db, scope)
            ids = sorted(u for u, (g, name) in groups.items() if name == value or str(g) == value)
            if not ids:
                raise UnknownSelection(f"no unit {value!r} in this scope")
            conds.append(f"st.unit_id IN ({','.join(str(int(i)) for i in ids)})")
        elif key == "warning":
            params["f_warning"] = value
            conds.append(f"({WARNING_SQL}) = :f_warning")
        elif key == "measure":
            if value not in ("open", "overdue"):
                raise UnknownSelection(f"measure must be open or overdue, not {value!r}")
            if value == "overdue":
                conds.append(f"({WARNING_SQL}) = 'red'")
        elif key == "bucket":
            names = {r["bucket"]: i for lg in ("zh", "en")
                     for i, r in enumerate(progress_charts.ageing_buckets([], lg))}
            if value not in names:
                raise UnknownSelection(f"no age bucket {value!r}")
            params["f_bucket"] = names[value]
            age = "CAST(julianday(:today) - julianday(st.created_on) AS INTEGER)"
            conds.append(f"({_bucket_sql(age)}) = :f_bucket")
        elif key == "month":
            params["f_month"] = value
            conds.append(f"{_month('st')} = :f_month AND {_due('st')}")
        elif key == "owner":
            if value == t("dashboard.no_owner", "zh") or value == t("dashboard.no_owner", "en"):
                conds.append("st.responsible_person_id IS NULL")
            else:
                params["f_owner"] = value
                conds.append("EXISTS (SELECT 1 FROM people p JOIN units u ON u.id = p.unit_id "
                             "WHERE p.id = st.responsible_person_id AND (p.name || '（' || "
                             "u.name || '）' = :f_owner OR p.name || ' (' || u.name || ')' = "
                             ":f_owner))")
        else:
            raise UnknownSelection(f"no chart selects by {key!r}")
    if open_only:
        conds.append(f"st.status IN {_OPEN_SQL}")
    where = "".join(f" AND {c}" for c in conds)
    sql = state_cte(scope, as_of, params, live=live) + f"""
        SELECT st.id, st.code, st.title, u.name AS unit, st.status, st.deadline,
               {WARNING_SQL} AS warning
        FROM st JOIN units u ON u.id = st.unit_id WHERE 1 = 1 {where}
        ORDER BY st.code""" + (f" LIMIT {int(limit)}" if limit else "")
    return rows(db, sql, params)
