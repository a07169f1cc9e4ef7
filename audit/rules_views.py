"""Read models for the rectification rules (audit.rules_model, docs/RULES.md): an issue's
milestones, the share of staged + continuous items against the cap, review meetings and the
repeated warnings they recorded. Plain dicts out."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from fractions import Fraction

import sqlite_utils

from audit.rules_model import RedCount, cap_value, red_count
from audit.store import org
from audit.store.db import one, rows
from audit.views import WARNING_SQL, Scope, figures_params, is_live, state_cte


def cap(db: sqlite_utils.Database) -> Fraction:
    """The cap on staged + continuous items (settings rectify.cap_percent, 30)."""
    return cap_value(org.setting(db, "rectify.cap_percent", "30"))


def immediate_days(db: sqlite_utils.Database) -> int:
    """Working days an immediate item (立行立改) is given by default (settings
    rectify.immediate_working_days, 10)."""
    return int(org.setting(db, "rectify.immediate_working_days", "10") or 10)


def cap_min_items(db: sqlite_utils.Database) -> int:
    """Below this many items the cap is not warned (settings rectify.cap_min_items, 10)."""
    return int(org.setting(db, "rectify.cap_min_items", "10") or 10)


def programme_types(db: sqlite_utils.Database) -> list[str]:
    """The rectification type of every issue of the programme now (merged ones left out):
    what the cap is checked against when an item's type is set."""
    return [r["rectification_type"] for r in rows(
        db, "SELECT rectification_type FROM issues WHERE merged_into_id IS NULL")]


def programme_types_by_id(db: sqlite_utils.Database) -> dict[int, str]:
    """Issue id → rectification type, for every issue of the programme now (merged ones left
    out): what an import's new issues and type changes are checked against."""
    return {r["id"]: r["rectification_type"] for r in rows(
        db, "SELECT id, rectification_type FROM issues WHERE merged_into_id IS NULL")}


def type_share(db: sqlite_utils.Database, scope: Scope, as_of: date) -> dict:
    """Staged + continuous items in `scope` as of `as_of` against the cap: {issues, staged,
    continuous, long, share (None without issues), cap (a float), over}."""
    params: dict = {}
    live = is_live(db, as_of)
    r = one(db, state_cte(scope, as_of, params, live=live, category_code=False) + """
        SELECT COUNT(*) AS issues, TOTAL(st.rectification_type = 'staged') AS staged,
               TOTAL(st.rectification_type = 'continuous') AS continuous FROM st""", params)
    n, staged, cont = int(r["issues"]), int(r["staged"]), int(r["continuous"])
    c = cap(db)
    long = staged + cont
    return {"issues": n, "staged": staged, "continuous": cont, "long": long,
            "share": long / n if n else None, "cap": float(c),
            "over": long * c.denominator > c.numerator * n}


def milestones_of(db: sqlite_utils.Database, issue_id: int, as_of: date) -> list[dict]:
    """An issue's milestones (all kinds), by date: {id, kind, due_on, deliverable, done_on,
    evidence, created_at, version, measures (ids of measures serving it), warning (its own
    colour as of `as_of`: red/amber/green/none)}."""
    from audit.rules_model import milestone_warning
    from audit.views import milestone_red_before
    red = milestone_red_before(db, as_of)
    out = rows(db, """SELECT m.*, (SELECT json_group_array(x.id) FROM measures x
                                   WHERE x.milestone_id = m.id) AS measures
                      FROM milestones m WHERE m.issue_id = ? ORDER BY m.due_on, m.id""",
               (issue_id,))
    for m in out:
        m["warning"] = milestone_warning(m["due_on"], m["done_on"], as_of, red)
    return out


def issue_warning(db: sqlite_utils.Database, issue_id: int, as_of: date) -> str:
    """The issue's warning colour on `as_of` from its live row and milestones (WARNING_SQL)."""
    params = figures_params(db, as_of)
    r = one(db, f"""SELECT {WARNING_SQL} AS warning FROM (SELECT id, status, deadline,
                    rectification_type FROM issues WHERE id = :iid) st""",
            {**params, "iid": issue_id})
    return r["warning"] if r else "none"


def meetings(db: sqlite_utils.Database, *, until: date | None = None) -> list[dict]:
    """Recorded review meetings, newest first (held on or before `until`): {id, held_on, title,
    scope_unit_id, scope_label, attendees, decisions, items, reds, recorded_by (login),
    recorded_at}."""
    return rows(db, """SELECT m.*, u.username AS recorded_by_name FROM meetings m
                       LEFT JOIN users u ON u.id = m.recorded_by
                       WHERE (:until IS NULL OR m.held_on <= :until)
                       ORDER BY m.held_on DESC, m.id DESC""",
                {"until": until.isoformat() if until else None})


def last_meeting_date(db: sqlite_utils.Database, until: date | None = None) -> date | None:
    """The date of the latest meeting held on or before `until` (None without one)."""
    r = one(db, "SELECT MAX(held_on) AS d FROM meetings WHERE (:u IS NULL OR held_on <= :u)",
            {"u": until.isoformat() if until else None})
    return date.fromisoformat(r["d"]) if r and r["d"] else None


def red_counts(db: sqlite_utils.Database, as_of: date | None = None,
               issue_ids: list[int] | None = None) -> dict[int, RedCount]:
    """issue id → its repeated warnings over the meetings held on or before `as_of`
    (audit.rules_model.red_count); issues never seen at a meeting are left out."""
    params: dict = {"until": as_of.isoformat() if as_of else None}
    where = ""
    if issue_ids is not None:
        where = f" AND w.issue_id IN ({','.join(str(int(i)) for i in issue_ids) or 'NULL'})"
    colours: dict[int, list[str]] = defaultdict(list)
    for r in rows(db, f"""SELECT w.issue_id, w.warning FROM meeting_warnings w
                          JOIN meetings m ON m.id = w.meeting_id
                          WHERE (:until IS NULL OR m.held_on <= :until) {where}
                          ORDER BY w.issue_id, m.held_on, m.id""", params):
        colours[r["issue_id"]].append(r["warning"])
    return {iid: red_count(c) for iid, c in colours.items()}


def consecutive_reds_now(db: sqlite_utils.Database, as_of: date) -> dict[int, int]:
    """issue id → how many of the latest meetings held on or before `as_of` in a row saw it
    red, for the items still red on `as_of` (from their live rows and milestones, as
    issue_warning): what the escalation ladder counts by meetings (owners.escalation_model
    step_for_reds), the same rule as the escalation list (issues.graph_views)."""
    counts = {iid: c.consecutive for iid, c in red_counts(db, as_of).items() if c.consecutive}
    if not counts:
        return {}
    ids = ",".join(str(int(i)) for i in counts)
    red = rows(db, f"""SELECT st.id FROM (SELECT id, status, deadline, rectification_type
                                          FROM issues WHERE id IN ({ids})) st
                       WHERE {WARNING_SQL} = 'red'""", figures_params(db, as_of))
    return {r["id"]: counts[r["id"]] for r in red}


def repeated_reds(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                  limit: int = 20) -> list[dict]:
    """The items in scope red at two or more meetings, most consecutive reds first: {id, code,
    title, unit_id, reds, consecutive, meetings}."""
    counts = red_counts(db, as_of)
    if not counts:
        return []
    params: dict = {}
    live = is_live(db, as_of)
    listed = rows(db, state_cte(scope, as_of, params, live=live, category_code=False)
                  + " SELECT st.id, st.code, st.title, st.unit_id FROM st", params)
    out = []
    for r in listed:
        c = counts.get(r["id"])
        if c is not None and c.reds >= 2:
            out.append({**r, "reds": c.reds, "consecutive": c.consecutive,
                        "meetings": c.meetings})
    out.sort(key=lambda r: (-r["consecutive"], -r["reds"], r["code"]))
    return out[:limit]

