"""Read models of the administration page: one year of the working-day calendar, deadlines in
years without a published schedule, the editable settings, where backups go and the state of
the history chain. Plain dicts out; no Streamlit."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.store import history, org
from audit.store.db import rows
from audit.time_model import unpublished_years

SETTING_KEYS: tuple[str, ...] = ("escalation.reminder_days", "escalation.letter_days",
                                 "escalation.summons_days", "warning.amber_working_days",
                                 # the rectification rules (docs/RULES.md)
                                 "escalation.letter_reds", "escalation.summons_reds",
                                 "rectify.milestone_red_working_days",
                                 "rectify.immediate_working_days", "rectify.cap_percent")
# The review pack's settings (audit.report_settings_service), in the order the form shows them.
REPORT_SETTING_KEYS: tuple[str, ...] = (
    "report.company", "report.company_en", "report.department", "report.department_en",
    "report.compiler", "report.compiler_en", "report.contact", "report.house_style",
    "report.classification", "report.background")


def calendar_year(db: sqlite_utils.Database, year: int) -> dict:
    """One year of the working-day calendar: days (the days that differ from Monday–Friday:
    day, is_working, name, source), published (bool) and known_years (years with a row)."""
    days = rows(db, "SELECT day, is_working, name, source FROM calendar_days "
                    "WHERE day >= ? AND day < ? ORDER BY day",
                (f"{year:04d}-01-01", f"{year + 1:04d}-01-01"))
    years = {r["year"]: bool(r["published"])
             for r in rows(db, "SELECT year, published FROM calendar_years ORDER BY year")}
    return {"days": days, "published": years.get(year, False), "known_years": years}


def unpublished_deadlines(db: sqlite_utils.Database) -> dict[int, int]:
    """Deadlines of open issues and unfinished measures that fall in a year whose schedule is
    not published: {year: how many}. Working-day counts there lack the make-up days."""
    cal = org.load_calendar(db)
    found = rows(db, """
        SELECT deadline, COUNT(*) AS n FROM (
            SELECT deadline FROM issues WHERE deadline IS NOT NULL AND merged_into_id IS NULL
              AND status IN ('not_started', 'in_progress', 'submitted')
            UNION ALL
            SELECT m.deadline FROM measures m JOIN issues i ON i.id = m.issue_id
            WHERE m.deadline IS NOT NULL AND m.status <> 'done'
              AND i.status IN ('not_started', 'in_progress', 'submitted'))
        GROUP BY deadline""")
    by_day = {date.fromisoformat(r["deadline"]): r["n"] for r in found}
    years = set(unpublished_years(cal, list(by_day)))
    out: dict[int, int] = {}
    for d, n in by_day.items():
        if d.year in years:
            out[d.year] = out.get(d.year, 0) + n
    return dict(sorted(out.items()))


def settings(db: sqlite_utils.Database) -> dict[str, str]:
    """The editable settings (escalation thresholds, amber window) and their values."""
    return {k: org.setting(db, k, "") or "" for k in SETTING_KEYS}


VERIFICATION_SETTING_KEYS: tuple[str, ...] = (
    "verification.two_level", "recheck.months.immediate", "recheck.months.staged",
    "recheck.months.continuous")


def verification_settings(db: sqlite_utils.Database) -> dict[str, str]:
    """Two-level verification ('1' on, '0' off) and the months to the check after closure per
    rectification type, as stored ('' when unset)."""
    return {k: org.setting(db, k, "") or "" for k in VERIFICATION_SETTING_KEYS}


def report_settings(db: sqlite_utils.Database) -> dict[str, str]:
    """The review pack's settings and their values ('' when unset)."""
    return {k: org.setting(db, k, "") or "" for k in REPORT_SETTING_KEYS}


def chain_anchor(db: sqlite_utils.Database) -> tuple[int, str]:
    """The history chain's anchor now: (last seq, last hash)."""
    return history.anchor(db)


def verify_chain(db: sqlite_utils.Database) -> history.VerifyResult:
    """SQLite's integrity and the whole hash chain checked now."""
    return history.verify(db)
