"""Flags of findings that come back, as counted on the dashboard and filtered in the
catalogue: 屡审屡犯 (found again in audits of different years, confirmed as the recurrence of an
earlier item, or reopened at a check after closure), 共性问题 (the same finding in several
units: its unit and the units of the findings merged into it), possible recurrences waiting
for a person, and checks after closure due. Plain SQL, plain dicts."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.store.db import rows
from audit.views import scope_filter, scope_for

# The thresholds of issues.graph_model (RECURRING_MIN_YEARS, RECURRING_MIN_UNITS), which the
# per-cause flags use; a test keeps them equal.
RECURRING_MIN_YEARS = 2
RECURRING_MIN_UNITS = 2
FLAGS = ("recurring", "common", "cause_recurring", "cause_common", "recurrence_pending")


def flag_sql(flag: str, alias: str = "i") -> str:
    """An SQL condition (no leading AND) true for the issues `alias` carrying `flag` today:
    'recurring' (屡审屡犯), 'common' (共性问题), 'cause_recurring' / 'cause_common' (linked to a
    root cause flagged so, as issues.graph_model.rank_causes flags causes) or
    'recurrence_pending' (a possible recurrence waiting for a person)."""
    if flag == "recurring":
        return (f"({alias}.recurrence_status = 'confirmed' OR "
                f"COALESCE({alias}.recurrences, 0) > 0 OR "
                f"{alias}.id IN (SELECT s.issue_id FROM issue_sources s JOIN audits au ON "
                f"au.id = s.audit_id GROUP BY s.issue_id HAVING COUNT(DISTINCT au.year) >= "
                f"{int(RECURRING_MIN_YEARS)}))")
    if flag == "common":
        return (f"({alias}.id IN (SELECT x.id FROM (SELECT i0.id, i0.unit_id AS u FROM issues i0 "
                f"UNION SELECT m.merged_into_id, m.unit_id FROM issues m "
                f"WHERE m.merged_into_id IS NOT NULL) x GROUP BY x.id "
                f"HAVING COUNT(DISTINCT x.u) >= {int(RECURRING_MIN_UNITS)}))")
    if flag == "cause_recurring":
        # A root cause whose (standing) issues were found by audits of different years.
        return (f"({alias}.id IN (SELECT ic.issue_id FROM issue_causes ic WHERE ic.cause_id IN "
                f"(SELECT c2.cause_id FROM issue_causes c2 JOIN issues i2 ON i2.id = c2.issue_id "
                f"AND i2.merged_into_id IS NULL JOIN issue_sources s ON s.issue_id = i2.id "
                f"JOIN audits au ON au.id = s.audit_id GROUP BY c2.cause_id "
                f"HAVING COUNT(DISTINCT au.year) >= {int(RECURRING_MIN_YEARS)})))")
    if flag == "cause_common":
        # A root cause whose (standing) issues are in several units.
        return (f"({alias}.id IN (SELECT ic.issue_id FROM issue_causes ic WHERE ic.cause_id IN "
                f"(SELECT c2.cause_id FROM issue_causes c2 JOIN issues i2 ON i2.id = c2.issue_id "
                f"AND i2.merged_into_id IS NULL GROUP BY c2.cause_id "
                f"HAVING COUNT(DISTINCT i2.unit_id) >= {int(RECURRING_MIN_UNITS)})))")
    if flag == "recurrence_pending":
        return f"({alias}.recurrence_status = 'pending')"
    raise ValidationFailed("flag", f"must be one of {', '.join(FLAGS)}")


def flag_counts(db: sqlite_utils.Database, actor: Actor, as_of: date) -> dict[str, int]:
    """Counts in the actor's scope (merged issues left out): recurring (屡审屡犯), common
    (共性问题), recurrence_pending (possible recurrences to confirm), recurrences (items reopened
    at a check after closure) and recheck_due (checks after closure due on `as_of`)."""
    params: dict = {"as_of": as_of.isoformat()}
    where = scope_filter(scope_for(db, actor), params)
    [r] = rows(db, f"""
        SELECT COALESCE(SUM({flag_sql('recurring')}), 0) AS recurring,
               COALESCE(SUM({flag_sql('common')}), 0) AS common,
               COALESCE(SUM({flag_sql('recurrence_pending')}), 0) AS recurrence_pending,
               COALESCE(SUM(COALESCE(i.recurrences, 0) > 0), 0) AS recurrences,
               COALESCE(SUM(i.status = 'closed' AND i.recheck_due IS NOT NULL
                            AND i.recheck_due <= :as_of), 0) AS recheck_due
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id
        WHERE i.merged_into_id IS NULL {where}""", params)
    return {k: int(v) for k, v in r.items()}
