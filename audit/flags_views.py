"""Flags of findings that come back, as counted on the dashboard and filtered in the
catalogue: 屡审屡犯 (found again in audits of different years, confirmed as the recurrence of an
earlier item, or reopened at a check after closure), 共性问题 (the same finding in several
units: its unit and the units of the findings merged into it), possible recurrences waiting
for a person, and checks after closure due. Each as of a chosen date, as the dashboard's other
figures: the columns and links they read are rewound from history (audit.views). Plain SQL,
plain dicts."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.store.db import rows
from audit.views import (
    ISSUE_LINK_TABLES,
    first_after_sql,
    is_live,
    link_rows_sql,
    scope_for,
    state_cte,
    then_value_sql,
)

# The thresholds of issues.graph_model (RECURRING_MIN_YEARS, RECURRING_MIN_UNITS), which the
# per-cause flags use; a test keeps them equal.
RECURRING_MIN_YEARS = 2
RECURRING_MIN_UNITS = 2
FLAGS = ("recurring", "common", "cause_recurring", "cause_common", "recurrence_pending")


def issue_then_sql(fld: str, *, live: bool, integer: bool = False) -> str:
    """A table expression (id, v): every issue created before :end with its column `fld` as
    of :end (audit.views.then_value_sql for the issues with a record of it after :end, the live
    value for the others); when `live` (nothing recorded after :end) the issues table itself."""
    if live:
        return f"(SELECT id, {fld} AS v FROM issues)"
    # One seek of the history_entity index per issue: cheaper than finding the issues with a
    # record after :end first (a scan of every record since, 200,000 on the 40k programme
    # half a year back).
    then = then_value_sql("issue", "i.id", fld, f"i.{fld}")
    if integer:
        then = f"CAST({then} AS INTEGER)"
    return f"(SELECT i.id, {then} AS v FROM issues i WHERE i.created_at < :end)"


def links_then_sql(fld: str, *, live: bool) -> str:
    """A table expression (issue_id, target_id): every issue's link set `fld` ('sources',
    'causes') as of :end, by one seek per issue (audit.views.first_after_sql), else the links
    now; when `live` the link table itself (audit.views.link_rows_sql)."""
    if live:
        return link_rows_sql(fld, live=True)
    table, column = ISSUE_LINK_TABLES[fld]
    return (f"(SELECT i.id AS issue_id, j.value AS target_id FROM issues i, json_each(COALESCE("
            f"{first_after_sql('issue', 'i.id', fld)}, (SELECT json_group_array({column}) "
            f"FROM {table} WHERE issue_id = i.id))) j WHERE i.created_at < :end)")


def flag_ids_sql(flag: str, *, live: bool) -> str:
    """A SELECT of the ids of the issues carrying `flag` as of :end (the caller's parameter,
    as audit.views.state_cte sets it; none is needed when `live`): 'recurring' (屡审屡犯),
    'common' (共性问题), 'cause_recurring' / 'cause_common' (linked to a root cause flagged
    so, as issues.graph_model.rank_causes flags causes) or 'recurrence_pending' (a possible
    recurrence waiting for a person). Every column and link is read as it was then."""
    sources = links_then_sql("sources", live=live)
    causes = links_then_sql("causes", live=live)
    standing = f"(SELECT id FROM {issue_then_sql('merged_into_id', live=live, integer=True)} " \
               f"WHERE v IS NULL)"
    years = (f"JOIN {sources} s ON s.issue_id = {{id}} JOIN audits au ON au.id = s.target_id")
    if flag == "recurring":
        return (f"SELECT r.id FROM {issue_then_sql('recurrence_status', live=live)} r "
                f"WHERE r.v = 'confirmed' "
                f"UNION SELECT n.id FROM {issue_then_sql('recurrences', live=live)} n "
                f"WHERE CAST(COALESCE(n.v, 0) AS INTEGER) > 0 "
                f"UNION SELECT s.issue_id FROM {sources} s JOIN audits au ON au.id = s.target_id "
                f"GROUP BY s.issue_id HAVING COUNT(DISTINCT au.year) >= "
                f"{int(RECURRING_MIN_YEARS)}")
    if flag == "common":
        unit = issue_then_sql("unit_id", live=live, integer=True)
        return (f"SELECT x.id FROM (SELECT u.id, u.v AS unit FROM {unit} u "
                f"UNION SELECT m.v, mu.v FROM {issue_then_sql('merged_into_id', live=live, integer=True)} "
                f"m JOIN {unit} mu ON mu.id = m.id WHERE m.v IS NOT NULL) x GROUP BY x.id "
                f"HAVING COUNT(DISTINCT x.unit) >= {int(RECURRING_MIN_UNITS)}")
    if flag == "cause_recurring":
        # A root cause whose (standing) issues were found by audits of different years.
        return (f"SELECT ic.issue_id FROM {causes} ic WHERE ic.target_id IN "
                f"(SELECT c2.target_id FROM {causes} c2 "
                f"{years.format(id='c2.issue_id')} WHERE c2.issue_id IN {standing} "
                f"GROUP BY c2.target_id HAVING COUNT(DISTINCT au.year) >= "
                f"{int(RECURRING_MIN_YEARS)})")
    if flag == "cause_common":
        # A root cause whose (standing) issues are in several units.
        unit = issue_then_sql("unit_id", live=live, integer=True)
        return (f"SELECT ic.issue_id FROM {causes} ic WHERE ic.target_id IN "
                f"(SELECT c2.target_id FROM {causes} c2 JOIN {unit} u2 ON u2.id = c2.issue_id "
                f"WHERE c2.issue_id IN {standing} GROUP BY c2.target_id "
                f"HAVING COUNT(DISTINCT u2.v) >= {int(RECURRING_MIN_UNITS)})")
    if flag == "recurrence_pending":
        return (f"SELECT r.id FROM {issue_then_sql('recurrence_status', live=live)} r "
                f"WHERE r.v = 'pending'")
    raise ValidationFailed("flag", f"must be one of {', '.join(FLAGS)}")


def flag_sql(flag: str, alias: str = "i", *, live: bool = True) -> str:
    """An SQL condition (no leading AND) true for the issues `alias` carrying `flag` (see
    flag_ids_sql): as they stand now when `live`, else as of :end."""
    return f"({alias}.id IN ({flag_ids_sql(flag, live=live)}))"


def flag_counts(db: sqlite_utils.Database, actor: Actor, as_of: date) -> dict[str, int]:
    """Counts in the actor's scope as of `as_of` (the issues standing then, every flag as it was
    then): recurring (屡审屡犯), common (共性问题), recurrence_pending (possible recurrences to
    confirm), recurrences (items reopened at a check after closure) and recheck_due (closed
    items whose check after closure was due by `as_of`)."""
    params: dict = {"as_of": as_of.isoformat()}
    live = is_live(db, as_of)
    sql = state_cte(scope_for(db, actor), as_of, params, live=live, category_code=False)
    [r] = rows(db, sql + f"""
        SELECT COALESCE(SUM({flag_sql('recurring', 'st', live=live)}), 0) AS recurring,
               COALESCE(SUM({flag_sql('common', 'st', live=live)}), 0) AS common,
               COALESCE(SUM({flag_sql('recurrence_pending', 'st', live=live)}), 0)
                   AS recurrence_pending,
               COALESCE(SUM(CAST(COALESCE(n.v, 0) AS INTEGER) > 0), 0) AS recurrences,
               COALESCE(SUM(st.status = 'closed' AND d.v IS NOT NULL AND d.v <= :as_of), 0)
                   AS recheck_due
        FROM st LEFT JOIN {issue_then_sql('recurrences', live=live)} n ON n.id = st.id
        LEFT JOIN {issue_then_sql('recheck_due', live=live)} d ON d.id = st.id""", params)
    return {k: int(v) for k, v in r.items()}
