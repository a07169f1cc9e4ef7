"""The figures people report (DOMAIN.md), for a scope and as of a date, computed in SQL.

An issue's state as of day D is rebuilt from history (the last value of each field recorded
before the end of D); when nothing was recorded after D, the live columns give the same answer
and are read instead. Definitions, as used here:
- in scope at D: created on or before D, not merged into another issue by D, and matching the
  scope (units with their descendants, categories, work stream, focus point);
- 整改率 closure rate = closed / issues in scope (ended items count in scope, apart from closed);
- 按期整改率 on-time rate = closed on or before the ORIGINAL deadline / (closed, or not ended and
  original deadline before D); a closed item with no deadline counts as on time;
- overdue = not closed, not ended, current deadline before D;
- due soon (amber) = not closed, not ended, D <= deadline <= D + 10 working days;
- 四个到人 rate = issues with a responsible person, an issue deadline, at least one measure, and
  an owner and deadline on every measure / issues in scope;
- amount rectified = amount involved of the issues closed at D.
Classification (unit, category, streams, focus, amount) is read as it is now.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlite_utils

from audit.model import Actor
from audit.store import org
from audit.store.db import one, rows
from audit.time_model import Calendar, add_working_days, end_of

FIGURE_KEYS = ("as_of", "issues", "categories", "aspects", "closed", "ended", "closure_rate",
               "on_time_rate", "overdue", "due_soon", "fully_assigned_rate",
               "amount_involved", "amount_rectified")


@dataclass(frozen=True)
class Scope:
    """What a figure covers. `unit_ids` is already expanded with descendants (None: all)."""

    unit_ids: frozenset[int] | None = None
    category_codes: tuple[str, ...] = ()
    stream: str | None = None
    focus: str | None = None
    label: str = field(default="", compare=False)


def scope_for(db: sqlite_utils.Database, actor: Actor | None = None, *,
              unit_code: str | None = None, category_codes: tuple[str, ...] | list[str] = (),
              stream: str | None = None, focus: str | None = None) -> Scope:
    """The scope a user asked for, narrowed to what the actor may see. Raises
    ValidationFailed for an unknown unit, category, stream or focus code."""
    from audit.model import ValidationFailed
    unit_ids = None
    if unit_code:
        unit = org.unit_by_code(db, unit_code)
        if unit is None:
            raise ValidationFailed("unit", f"no unit with code {unit_code!r}")
        unit_ids = org.subtree_ids(db, unit["id"])
    if actor is not None and actor.scope_unit_ids is not None:
        unit_ids = actor.scope_unit_ids if unit_ids is None else unit_ids & actor.scope_unit_ids
    for code in category_codes:
        if one(db, "SELECT id FROM categories WHERE code = ?", (code,)) is None:
            raise ValidationFailed("category", f"no category with code {code!r}")
    if stream and one(db, "SELECT id FROM streams WHERE code = ?", (stream,)) is None:
        raise ValidationFailed("stream", f"no work stream {stream!r} (cleanup, audit)")
    if focus and one(db, "SELECT id FROM focus_points WHERE code = ?", (focus,)) is None:
        raise ValidationFailed("focus", f"no focus point {focus!r} (F1–F5)")
    return Scope(unit_ids, tuple(category_codes), stream or None, focus or None)


def scope_filter(scope: Scope, params: dict, alias: str = "i") -> str:
    """SQL conditions (AND-joined, starting with AND) restricting issues `alias` to a scope;
    expects aspects `a` and categories `c` joined. Adds its parameters to `params`."""
    sql = ""
    if scope.unit_ids is not None:
        ids = ",".join(str(int(u)) for u in sorted(scope.unit_ids)) or "NULL"
        sql += f" AND {alias}.unit_id IN ({ids})"
    if scope.category_codes:
        marks = []
        for n, code in enumerate(scope.category_codes):
            params[f"cat{n}"] = code
            marks.append(f":cat{n}")
        sql += f" AND c.code IN ({', '.join(marks)})"
    if scope.stream:
        params["stream"] = scope.stream
        sql += (f" AND EXISTS (SELECT 1 FROM issue_streams s JOIN streams st ON st.id = "
                f"s.stream_id WHERE s.issue_id = {alias}.id AND st.code = :stream)")
    if scope.focus:
        params["focus"] = scope.focus
        sql += (f" AND EXISTS (SELECT 1 FROM issue_focus f JOIN focus_points fp ON fp.id = "
                f"f.focus_id WHERE f.issue_id = {alias}.id AND fp.code = :focus)")
    return sql


def asof_value_sql(entity: str, id_expr: str, field_name: str) -> str:
    """SQL for the value of `field_name` of row `id_expr` of `entity` as of :end: the last
    history record of it before :end (NULL without one)."""
    return (f"(SELECT h.new FROM history h WHERE h.entity = '{entity}' AND h.entity_id = "
            f"{id_expr} AND h.field = '{field_name}' AND h.at < :end "
            f"ORDER BY h.seq DESC LIMIT 1)")


def _asof_or_live(entity: str, id_expr: str, field_name: str, live_expr: str,
                  changed: str) -> str:
    """The value as of :end from history for a row changed after :end (its id in CTE
    `changed`); the live column otherwise, which is the same value (history holds every
    change) read without a lookup: a date two weeks back then costs what today costs."""
    return (f"(CASE WHEN {id_expr} IN (SELECT id FROM {changed}) "
            f"THEN {asof_value_sql(entity, id_expr, field_name)} ELSE {live_expr} END)")


def _changed_cte(name: str, entity: str) -> str:
    """A CTE of the ids of `entity` rows with a history record after :end (history_at index;
    the unary + keeps the planner off the entity index, which would scan every record)."""
    return (f"{name} AS MATERIALIZED (SELECT DISTINCT entity_id AS id FROM history "
            f"WHERE at >= :end AND +entity = '{entity}')")


def is_live(db: sqlite_utils.Database, as_of: date) -> bool:
    """True when nothing was recorded after `as_of`: the live columns are the state at as_of."""
    return one(db, "SELECT 1 AS x FROM history WHERE at >= ? LIMIT 1", (end_of(as_of),)) is None


def state_cte(scope: Scope, as_of: date, params: dict, *, live: bool,
              category_code: bool = True) -> str:
    """A `WITH st AS (…)` clause: one row per issue in scope at `as_of`, with columns id, code,
    title, unit_id, aspect_id, category_id, category_code (unless `category_code` is False),
    amount, responsible_person_id, status, deadline, original_deadline, closed_on,
    created_on."""
    params.update(end=end_of(as_of))
    where = scope_filter(scope, params)
    if live:
        cols = ("i.status AS status, i.deadline AS deadline, "
                "i.original_deadline AS original_deadline, "
                "substr(i.closed_at, 1, 10) AS closed_on, "
                "i.responsible_person_id AS responsible_person_id")
    else:
        def col(field_name: str) -> str:
            return _asof_or_live("issue", "i.id", field_name, f"i.{field_name}", "chg")
        cols = (f"{col('status')} AS status, "
                f"{col('deadline')} AS deadline, "
                f"{col('original_deadline')} AS original_deadline, "
                f"substr({col('closed_at')}, 1, 10) AS closed_on, "
                f"CAST({col('responsible_person_id')} AS INTEGER) "
                "AS responsible_person_id")
    # Past state is materialised: flattened, each use of a column would repeat its lookups.
    first = "" if live else _changed_cte("chg", "issue") + ", "
    hint = "" if live else "MATERIALIZED "
    # Without a category filter or the code, the categories are not joined: a lookup less
    # per issue.
    join = category_code or bool(scope.category_codes)
    code = "c.code AS category_code, " if category_code else ""
    categories = "JOIN categories c ON c.id = a.category_id" if join else ""
    return f"""WITH {first}st AS {hint}(
        SELECT i.id, i.code, i.title, i.unit_id, i.aspect_id, a.category_id, {code}
               i.amount_involved AS amount, substr(i.created_at, 1, 10) AS created_on, {cols}
        FROM issues i JOIN aspects a ON a.id = i.aspect_id {categories}
        WHERE i.created_at < :end AND (i.merged_at IS NULL OR i.merged_at >= :end) {where})"""


def measures_cte(live: bool) -> str:
    """A `, ms AS (…)` clause to follow state_cte: per issue, its measures as of :end (n) and
    how many lack an owner or a deadline (incomplete)."""
    # Every issue's measures, not joined to st: one pass over the covering index
    # measures_issue_assigned beats a lookup per measure; the LEFT JOIN keeps the scope.
    if live:
        return """, ms AS (
            SELECT m.issue_id, COUNT(*) AS n,
                   SUM(m.owner_person_id IS NULL OR m.deadline IS NULL) AS incomplete
            FROM measures m WHERE m.issue_id IS NOT NULL GROUP BY m.issue_id)"""
    # The live counts (one ordered pass over the covering index), corrected by the measures
    # changed after :end, the only ones looked up in history (created after :end: removed).
    live_incomplete = "(m.owner_person_id IS NULL OR m.deadline IS NULL)"
    asof_incomplete = (f"({asof_value_sql('measure', 'm.id', 'owner_person_id')} IS NULL "
                       f"OR {asof_value_sql('measure', 'm.id', 'deadline')} IS NULL)")
    return f""", {_changed_cte("chgm", "measure")}, ms0 AS (
        SELECT m.issue_id, COUNT(*) AS n, SUM({live_incomplete}) AS incomplete
        FROM measures m WHERE m.issue_id IS NOT NULL GROUP BY m.issue_id),
    dm AS (
        SELECT m.issue_id, SUM((m.created_at < :end) - 1) AS dn,
               SUM(CASE WHEN m.created_at < :end THEN {asof_incomplete} ELSE 0 END
                   - {live_incomplete}) AS dinc
        FROM chgm JOIN measures m ON m.id = chgm.id
        WHERE m.issue_id IS NOT NULL GROUP BY m.issue_id),
    ms AS (
        SELECT ms0.issue_id, ms0.n + COALESCE(dm.dn, 0) AS n,
               ms0.incomplete + COALESCE(dm.dinc, 0) AS incomplete
        FROM ms0 LEFT JOIN dm ON dm.issue_id = ms0.issue_id)"""


def amber_cutoff(db: sqlite_utils.Database, as_of: date, cal: Calendar | None = None) -> date:
    """The last day of the amber window: `as_of` + N working days (N from settings, 10)."""
    cal = cal or org.load_calendar(db)
    n = int(org.setting(db, "warning.amber_working_days", "10"))
    return add_working_days(cal, as_of, n)


def _rate(num: int | None, den: int | None) -> float | None:
    return None if not den else (num or 0) / den


# The aggregate over `st` (state_cte) and `ms` (measures per issue); shared with the dashboard,
# which runs it over its own materialised state so that the figures and its charts agree.
FIGURES_SQL = """
        SELECT COUNT(*) AS issues,
               COUNT(DISTINCT st.category_id) AS categories,
               COUNT(DISTINCT st.aspect_id) AS aspects,
               TOTAL(st.status = 'closed') AS closed,
               TOTAL(st.status = 'ended') AS ended,
               TOTAL(st.status = 'not_started') AS not_started,
               TOTAL(st.status = 'in_progress') AS in_progress,
               TOTAL(st.status = 'submitted') AS submitted,
               TOTAL(st.status NOT IN ('closed', 'ended') AND st.deadline < :today) AS overdue,
               TOTAL(st.status NOT IN ('closed', 'ended') AND st.deadline >= :today
                     AND st.deadline <= :cutoff) AS due_soon,
               TOTAL(st.status = 'closed' AND (st.original_deadline IS NULL
                     OR st.closed_on <= st.original_deadline)) AS on_time,
               TOTAL(st.status = 'closed' OR (st.status <> 'ended'
                     AND st.original_deadline < :today)) AS on_time_due,
               TOTAL(st.responsible_person_id IS NOT NULL AND st.deadline IS NOT NULL
                     AND COALESCE(ms.n, 0) > 0 AND ms.incomplete = 0) AS fully_assigned,
               TOTAL(st.amount) AS amount_involved,
               TOTAL(CASE WHEN st.status = 'closed' THEN st.amount ELSE 0 END)
                   AS amount_rectified
        FROM st LEFT JOIN ms ON ms.issue_id = st.id"""

# The warning colour of a row of `st` as of :today (amber up to :cutoff).
WARNING_SQL = """CASE
            WHEN st.status IN ('closed', 'ended') THEN 'none'
            WHEN st.deadline IS NULL THEN 'green'
            WHEN st.deadline < :today THEN 'red'
            WHEN st.deadline <= :cutoff THEN 'amber'
            ELSE 'green' END"""


def figures_params(db: sqlite_utils.Database, as_of: date, cal: Calendar | None = None) -> dict:
    """The :today and :cutoff parameters of FIGURES_SQL and WARNING_SQL."""
    return {"today": as_of.isoformat(), "cutoff": amber_cutoff(db, as_of, cal).isoformat()}


def figures_from_row(r: dict, as_of: date) -> dict:
    """The figures dict from one row of FIGURES_SQL."""
    counts = {k: int(r[k] or 0) for k in ("issues", "categories", "aspects", "closed", "ended",
                                            "not_started", "in_progress", "submitted",
                                            "overdue", "due_soon", "on_time", "on_time_due",
                                            "fully_assigned")}
    return {"as_of": as_of.isoformat(), **counts,
            "open": counts["not_started"] + counts["in_progress"] + counts["submitted"],
            "closure_rate": _rate(counts["closed"], counts["issues"]),
            "on_time_rate": _rate(counts["on_time"], counts["on_time_due"]),
            "fully_assigned_rate": _rate(counts["fully_assigned"], counts["issues"]),
            "amount_involved": round(float(r["amount_involved"] or 0), 2),
            "amount_rectified": round(float(r["amount_rectified"] or 0), 2)}


def figures(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
            cal: Calendar | None = None, live: bool | None = None) -> dict:
    """Every figure of DOMAIN.md for `scope` as of `as_of` (keys: FIGURE_KEYS plus open,
    not_started, in_progress, submitted, fully_assigned, on_time, on_time_due)."""
    if live is None:
        live = is_live(db, as_of)
    params = figures_params(db, as_of, cal)
    sql = state_cte(scope, as_of, params, live=live) + measures_cte(live) + FIGURES_SQL
    return figures_from_row(one(db, sql, params), as_of)


def issue_states(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                 cal: Calendar | None = None, live: bool | None = None) -> list[dict]:
    """One row per issue in scope at `as_of` with its state then and its warning colour
    (red/amber/green/none): the compact rows that lists and charts are drawn from."""
    if live is None:
        live = is_live(db, as_of)
    params = figures_params(db, as_of, cal)
    sql = state_cte(scope, as_of, params, live=live) + f"""
        SELECT st.*, {WARNING_SQL} AS warning
        FROM st ORDER BY st.code"""
    return rows(db, sql, params)
