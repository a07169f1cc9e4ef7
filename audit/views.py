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

As of D means as recorded on D, for every field: the state (status, deadlines, closing, people)
and the classification (unit, aspect and so category, code, title, amount, severity, type, and
the link sets: streams, focus points, causes, sources); so figures and lists asked for a past
date give the same answer whatever was changed later. A field's value at D is the old value
of its first record after D (history holds every change, old and new: `verify` checks that each
record's old value is the value before it), or the live column when it has no record after D;
so only the rows changed after D are looked up, and a row created in bulk (one ROW record) needs
no expanding. Scope.classification = CURRENT keeps the state as of D but reads the
classification as it is now (past figures with today's corrected classification): an explicit
choice, labelled wherever it is shown (`classification_note`).
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


RECORDED, CURRENT = "recorded", "current"   # Scope.classification


@dataclass(frozen=True)
class Scope:
    """What a figure covers. `unit_ids` is already expanded with descendants (None: all).
    `classification`: RECORDED (past dates as recorded then) or CURRENT (past state with
    today's classification; see the module docstring)."""

    unit_ids: frozenset[int] | None = None
    category_codes: tuple[str, ...] = ()
    stream: str | None = None
    focus: str | None = None
    label: str = field(default="", compare=False)
    classification: str = RECORDED


def classification_note(scope: Scope, lang: str) -> str | None:
    """The label a screen or a pack shows when past figures use today's classification (None
    otherwise)."""
    from audit.messages import t
    return t("asof.current_classification", lang) if scope.classification == CURRENT else None


def scope_for(db: sqlite_utils.Database, actor: Actor | None = None, *,
              unit_code: str | None = None, category_codes: tuple[str, ...] | list[str] = (),
              stream: str | None = None, focus: str | None = None,
              classification: str = RECORDED) -> Scope:
    """The scope a user asked for, narrowed to what the actor may see. Raises
    ValidationFailed for an unknown unit, category, stream or focus code, or a classification
    other than RECORDED and CURRENT."""
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
    if classification not in (RECORDED, CURRENT):
        raise ValidationFailed("classification", f"must be {RECORDED} or {CURRENT}")
    return Scope(unit_ids, tuple(category_codes), stream or None, focus or None,
                 classification=classification)


# The link sets of an issue: field → (link table, target column).
ISSUE_LINK_TABLES = {"sources": ("issue_sources", "audit_id"),
                     "streams": ("issue_streams", "stream_id"),
                     "focus": ("issue_focus", "focus_id"),
                     "causes": ("issue_causes", "cause_id")}
# The issue columns that classify an issue (read as they are now under CURRENT) and the ones
# that make its state; both rewound from history for a past date.
CLASSIFICATION_FIELDS = ("code", "title", "unit_id", "aspect_id", "amount_involved",
                         "severity", "rectification_type")
STATE_FIELDS = ("status", "deadline", "original_deadline", "closed_at",
                "responsible_person_id", "supervisor_person_id", "merged_at")
_INTEGER_FIELDS = {"unit_id", "aspect_id", "responsible_person_id", "supervisor_person_id",
                   "issue_id", "owner_person_id"}


def scope_filter(scope: Scope, params: dict, alias: str = "i", *,
                 links: str = "live") -> str:
    """SQL conditions (AND-joined, starting with AND) restricting issues `alias` to a scope;
    expects aspects `a` and categories `c` joined. Adds its parameters to `params`. `links`:
    'live' reads streams and focus points from the link tables, 'then' as of :end
    (link_ids_then_sql)."""
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
    for value, name, table, key in ((scope.stream, "stream", "streams", "streams"),
                                    (scope.focus, "focus", "focus_points", "focus")):
        if not value:
            continue
        params[name] = value
        if links == "live":
            link_table, column = ISSUE_LINK_TABLES[key]
            sql += (f" AND EXISTS (SELECT 1 FROM {link_table} x JOIN {table} r ON r.id = "
                    f"x.{column} WHERE x.issue_id = {alias}.id AND r.code = :{name})")
        else:
            sql += (f" AND (SELECT id FROM {table} WHERE code = :{name}) IN "
                    f"({link_ids_then_sql(key, f'{alias}.id')})")
    return sql


def first_after_sql(entity: str, id_expr: str, field_name: str, value: str = "h.old") -> str:
    """SQL for `value` (an expression on the record `h`) of the first history record of
    `field_name` of row `id_expr` of `entity` at or after :end (NULL without one)."""
    return (f"(SELECT {value} FROM history h WHERE h.entity = '{entity}' AND h.entity_id = "
            f"{id_expr} AND h.field = '{field_name}' AND h.at >= :end "
            f"ORDER BY h.seq LIMIT 1)")


def then_value_sql(entity: str, id_expr: str, field_name: str, live_expr: str) -> str:
    """SQL for the value of `field_name` of row `id_expr` of `entity` as of :end: the old value
    of its first record at or after :end, else the live value `live_expr` (the module
    docstring). Ids come back as integers; other values as history text."""
    # json_array tells "no record" (NULL) from "a record whose old value is NULL" ([null]) in
    # one lookup.
    found = first_after_sql(entity, id_expr, field_name, "json_array(h.old)")
    value = f"(IFNULL({found}, json_array({live_expr})) ->> 0)"
    return f"CAST({value} AS INTEGER)" if field_name in _INTEGER_FIELDS else value


def link_ids_then_sql(field_name: str, id_expr: str) -> str:
    """SQL (a SELECT of ids) for issue `id_expr`'s link set `field_name` (ISSUE_LINK_TABLES) as
    of :end: the old list of its first record after :end, else the live links."""
    table, column = ISSUE_LINK_TABLES[field_name]
    first = first_after_sql("issue", id_expr, field_name)
    return (f"SELECT value FROM json_each({first}) UNION ALL SELECT {column} FROM {table} "
            f"WHERE issue_id = {id_expr} AND NOT EXISTS "
            f"{first_after_sql('issue', id_expr, field_name, '1')}")


def link_rows_sql(field_name: str, *, live: bool, classification: str = RECORDED) -> str:
    """SQL (a table expression with columns issue_id, target_id) of every issue's link set
    `field_name` as of :end: the link table itself when `live` or under CURRENT, else the live
    links of the issues whose set has no record after :end plus, for the others, the old list
    of their first record after :end."""
    table, column = ISSUE_LINK_TABLES[field_name]
    plain = f"(SELECT issue_id, {column} AS target_id FROM {table})"
    if live or classification == CURRENT:
        return plain
    changed = (f"SELECT entity_id, old, MIN(seq) FROM history WHERE at >= :end "
               f"AND +entity = 'issue' AND field = '{field_name}' GROUP BY entity_id")
    return f"""(SELECT issue_id, {column} AS target_id FROM {table}
            WHERE issue_id NOT IN (SELECT entity_id FROM history WHERE at >= :end
                                   AND +entity = 'issue' AND field = '{field_name}')
        UNION ALL SELECT f.entity_id, j.value FROM ({changed}) f, json_each(f.old) j)"""


def _changed_cte(name: str, entity: str) -> str:
    """A CTE of the ids of `entity` rows with a history record after :end (history_at index;
    the unary + keeps the planner off the entity index, which would scan every record)."""
    return (f"{name} AS MATERIALIZED (SELECT DISTINCT entity_id AS id FROM history "
            f"WHERE at >= :end AND +entity = '{entity}')")


def is_live(db: sqlite_utils.Database, as_of: date) -> bool:
    """True when nothing was recorded after `as_of`: the live columns are the state at as_of."""
    return one(db, "SELECT 1 AS x FROM history WHERE at >= ? LIMIT 1", (end_of(as_of),)) is None


# The columns of `st` (state_cte), from a row of issues `i` (live) or of `past` `p`.
_ST_COLUMNS = ("id", "code", "title", "unit_id", "aspect_id", "amount", "severity",
               "rectification_type", "responsible_person_id", "supervisor_person_id",
               "status", "deadline", "original_deadline", "closed_on", "created_on")


def _past_cte(classification: str) -> str:
    """`past`: the issues with a record after :end and created before it, every column of
    _ST_COLUMNS as of :end (classification as now under CURRENT), and merged_at then."""
    def then(f: str, *, classifies: bool = False) -> str:
        if classifies and classification == CURRENT:
            return f"i.{f}"
        return then_value_sql("issue", "i.id", f, f"i.{f}")
    cols = ", ".join([f"{then(f, classifies=True)} AS {f}" for f in CLASSIFICATION_FIELDS]
                     + [f"{then(f)} AS {f}" for f in STATE_FIELDS])
    return f"""past AS MATERIALIZED (
        SELECT i.id, substr(i.created_at, 1, 10) AS created_on, {cols}
        FROM chg JOIN issues i ON i.id = chg.id WHERE i.created_at < :end)"""


def state_cte(scope: Scope, as_of: date, params: dict, *, live: bool,
              category_code: bool = True) -> str:
    """A `WITH st AS (…)` clause: one row per issue in scope at `as_of`, with columns id, code,
    title, unit_id, aspect_id, category_id, category_code (unless `category_code` is False),
    amount, severity, rectification_type, responsible_person_id, supervisor_person_id, status,
    deadline, original_deadline, closed_on, created_on: every one as recorded on `as_of` (the
    module docstring). `live`: nothing was recorded after `as_of` (is_live), so the live columns
    are read as they are. Otherwise the clause also defines `chg` (ids of the issues with a
    record after :end) and `past` (their values then)."""
    params.update(end=end_of(as_of))
    # Without a category filter or the code, the categories are not joined: a lookup less
    # per issue.
    join = category_code or bool(scope.category_codes)
    code = ", c.code AS category_code" if category_code else ""
    categories = "JOIN categories c ON c.id = a.category_id" if join else ""

    def select(alias: str, where: str) -> str:
        cols = {c: f"{alias}.{c}" for c in _ST_COLUMNS}
        if alias == "i":
            cols.update(amount="i.amount_involved", closed_on="substr(i.closed_at, 1, 10)",
                        created_on="substr(i.created_at, 1, 10)")
        else:
            cols.update(amount=f"CAST({alias}.amount_involved AS REAL)",
                        closed_on=f"substr({alias}.closed_at, 1, 10)")
        listed = ", ".join(f"{expr} AS {name}" for name, expr in cols.items())
        return f"""SELECT {listed}, a.category_id{code}
            FROM {'issues i' if alias == 'i' else 'past p'}
            JOIN aspects a ON a.id = {alias}.aspect_id {categories}
            WHERE {where}"""

    if live:
        where = ("i.created_at < :end AND (i.merged_at IS NULL OR i.merged_at >= :end)"
                 + scope_filter(scope, params))
        return f"WITH st AS ({select('i', where)})"
    unchanged = ("i.created_at < :end AND (i.merged_at IS NULL OR i.merged_at >= :end) "
                 "AND i.id NOT IN (SELECT id FROM chg)" + scope_filter(scope, params))
    links = "live" if scope.classification == CURRENT else "then"
    changed = ("(p.merged_at IS NULL OR p.merged_at >= :end)"
               + scope_filter(scope, params, "p", links=links))
    # Past state is materialised: flattened, each use of a column would repeat its lookups.
    return f"""WITH {_changed_cte("chg", "issue")}, {_past_cte(scope.classification)},
    st AS MATERIALIZED ({select('i', unchanged)}
        UNION ALL {select('p', changed)})"""


def measures_then_cte() -> str:
    """`, chgm …, mth …, msr …` to follow state_cte for a past date: `chgm` the ids of the
    measures with a record after :end; `mth` those measures as of :end (id, issue_id,
    live_issue_id, owner_person_id, deadline, status, created_at); `msr` every measure that
    existed at :end with those columns (the unchanged ones as they are)."""
    def then(f: str) -> str:
        return then_value_sql("measure", "m.id", f, f"m.{f}")
    return f""", {_changed_cte("chgm", "measure")},
    mth AS MATERIALIZED (
        SELECT m.id, {then('issue_id')} AS issue_id, m.issue_id AS live_issue_id,
               {then('owner_person_id')} AS owner_person_id, {then('deadline')} AS deadline,
               {then('status')} AS status, m.created_at
        FROM chgm JOIN measures m ON m.id = chgm.id),
    msr AS (
        SELECT m.id, m.issue_id, m.owner_person_id, m.deadline, m.status, m.created_at
        FROM measures m WHERE m.id NOT IN (SELECT id FROM chgm)
        UNION ALL SELECT id, issue_id, owner_person_id, deadline, status, created_at FROM mth
        WHERE created_at < :end)"""


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
    # changed after :end, the only ones looked up in history: each taken off the issue it
    # belongs to now and, if it existed then, counted on the one it belonged to then (a merge
    # moves measures).
    incomplete = "(m.owner_person_id IS NULL OR m.deadline IS NULL)"
    return measures_then_cte() + f""", ms0 AS (
        SELECT m.issue_id, COUNT(*) AS n, SUM({incomplete}) AS incomplete
        FROM measures m WHERE m.issue_id IS NOT NULL GROUP BY m.issue_id),
    dm AS (
        SELECT issue_id, SUM(dn) AS dn, SUM(dinc) AS dinc FROM (
            SELECT m.issue_id, -1 AS dn, -{incomplete} AS dinc
            FROM chgm JOIN measures m ON m.id = chgm.id WHERE m.issue_id IS NOT NULL
            UNION ALL
            SELECT m.issue_id, 1, {incomplete} FROM mth m
            WHERE m.created_at < :end AND m.issue_id IS NOT NULL)
        GROUP BY issue_id),
    ms AS (
        SELECT COALESCE(ms0.issue_id, dm.issue_id) AS issue_id,
               COALESCE(ms0.n, 0) + COALESCE(dm.dn, 0) AS n,
               COALESCE(ms0.incomplete, 0) + COALESCE(dm.dinc, 0) AS incomplete
        FROM ms0 FULL JOIN dm ON dm.issue_id = ms0.issue_id)"""


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

# The colour of a row of `st` by its deadline alone: what the figures 逾期 (overdue, red) and
# due soon (amber) count, and what the dashboard's tiles and charts are rolled up from.
DEADLINE_WARNING_SQL = """CASE
            WHEN st.status IN ('closed', 'ended') THEN 'none'
            WHEN st.deadline IS NULL THEN 'green'
            WHEN st.deadline < :today THEN 'red'
            WHEN st.deadline <= :cutoff THEN 'amber'
            ELSE 'green' END"""

# The warning colour of a row of `st` as of :today (amber up to :cutoff). A staged or
# continuous item is also amber while a milestone of its is late (due before :today, not done by
# then, existing then) and red once one is due on or before :ms_red (audit.rules_model).
WARNING_SQL = """CASE
            WHEN st.status IN ('closed', 'ended') THEN 'none'
            WHEN st.deadline < :today THEN 'red'
            WHEN st.rectification_type = 'immediate' THEN CASE
                WHEN st.deadline <= :cutoff THEN 'amber' ELSE 'green' END
            ELSE (SELECT CASE
                WHEN MIN(ml.due_on) <= :ms_red THEN 'red'
                WHEN MIN(ml.due_on) < :today OR st.deadline <= :cutoff THEN 'amber'
                ELSE 'green' END
                FROM milestones ml WHERE ml.issue_id = st.id AND ml.due_on < :today
                AND ml.created_at < :ms_end AND (ml.done_on IS NULL OR ml.done_on > :today))
            END"""


def milestone_red_before(db: sqlite_utils.Database, as_of: date,
                         cal: Calendar | None = None) -> date:
    """The latest due date of an open milestone that is red on `as_of` (the working days from
    settings rectify.milestone_red_working_days, 5)."""
    from audit.rules_model import milestone_red_before as red_before
    cal = cal or org.load_calendar(db)
    n = int(org.setting(db, "rectify.milestone_red_working_days", "5") or 5)
    return red_before(cal, as_of, n)


def figures_params(db: sqlite_utils.Database, as_of: date, cal: Calendar | None = None) -> dict:
    """The :today, :cutoff, :ms_red and :ms_end parameters of FIGURES_SQL and WARNING_SQL."""
    cal = cal or org.load_calendar(db)
    return {"today": as_of.isoformat(), "cutoff": amber_cutoff(db, as_of, cal).isoformat(),
            "ms_red": milestone_red_before(db, as_of, cal).isoformat(),
            "ms_end": end_of(as_of)}


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
