"""Read models for 责任人与单位 and the admin's calendar and settings sections: the org tree,
people per unit, workload per person and per unit (within the viewer's scope), the calendar of
one year and the deadlines that fall in years without a published schedule. Plain dicts out;
no Streamlit. Workload counts use audit.figures' state and warning rules, so that "overdue"
here is the dashboard's red."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.db import rows
from audit.figures import WARNING_SQL, figures_params, is_live, scope_for, state_cte
from audit.model import Actor
from owners import store
from owners.service import deadline_warnings

SETTING_KEYS: tuple[str, ...] = ("escalation.reminder_days", "escalation.letter_days",
                                 "escalation.summons_days", "warning.amber_working_days")


def org_tree(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Units in the actor's scope in tree order (each parent followed by its children), with
    depth, head_name and people (active people count): id, code, name, level, parent_id."""
    units = [u for u in store.all_units(db) if actor.in_scope(u["id"])]
    heads = {p["id"]: p["name"] for p in store.people_in(db, None)}
    count: dict[int, int] = {}
    for p in store.people_in(db, actor.scope_unit_ids):
        if p["active"]:
            count[p["unit_id"]] = count.get(p["unit_id"], 0) + 1
    ids = {u["id"] for u in units}
    children: dict[int | None, list[dict]] = {}
    for u in units:
        # A unit whose parent is out of scope is a root of what this viewer sees.
        parent = u["parent_id"] if u["parent_id"] in ids else None
        children.setdefault(parent, []).append(u)
    out: list[dict] = []

    def walk(parent: int | None, depth: int) -> None:
        for u in children.get(parent, []):
            out.append({**u, "depth": depth, "head_name": heads.get(u["head_person_id"]),
                        "people": count.get(u["id"], 0)})
            walk(u["id"], depth + 1)

    walk(None, 0)
    return out


def people(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """People in the actor's scope: id, name, title, phone, active, unit_id, unit_name,
    unit_code, is_head."""
    heads = {u["head_person_id"] for u in store.all_units(db) if u["head_person_id"]}
    return [{**p, "is_head": p["id"] in heads}
            for p in store.people_in(db, actor.scope_unit_ids)]


def workload(db: sqlite_utils.Database, actor: Actor, as_of: date) -> dict[str, dict]:
    """Open and overdue work in the actor's scope as of `as_of`: {"people": {person_id: {open,
    overdue, measures_open, measures_overdue}}, "units": {unit_id: {open, overdue}}}. An issue
    counts for its responsible person and its unit; a measure (not done, on an open issue) for
    its owner, overdue when its own deadline has passed."""
    params = figures_params(db, as_of)
    base = state_cte(scope_for(db, actor), as_of, params, live=is_live(db, as_of))
    by_person: dict[int, dict] = {}
    by_unit: dict[int, dict] = {}
    for r in rows(db, base + f""", w AS (SELECT st.*, {WARNING_SQL} AS warning FROM st
                                         WHERE st.status NOT IN ('closed', 'ended'))
            SELECT responsible_person_id AS person, unit_id AS unit, COUNT(*) AS n,
                   TOTAL(warning = 'red') AS red
            FROM w GROUP BY responsible_person_id, unit_id""", params):
        if r["person"] is not None:
            slot = by_person.setdefault(r["person"], {"open": 0, "overdue": 0,
                                                      "measures_open": 0, "measures_overdue": 0})
            slot["open"] += r["n"]
            slot["overdue"] += int(r["red"])
        unit = by_unit.setdefault(r["unit"], {"open": 0, "overdue": 0})
        unit["open"] += r["n"]
        unit["overdue"] += int(r["red"])
    for r in rows(db, base + """
            SELECT m.owner_person_id AS person, COUNT(*) AS n,
                   TOTAL(m.deadline < :today) AS late
            FROM measures m JOIN st ON st.id = m.issue_id
            WHERE m.status <> 'done' AND st.status NOT IN ('closed', 'ended')
              AND m.owner_person_id IS NOT NULL
            GROUP BY m.owner_person_id""", params):
        slot = by_person.setdefault(r["person"], {"open": 0, "overdue": 0, "measures_open": 0,
                                                  "measures_overdue": 0})
        slot["measures_open"] += r["n"]
        slot["measures_overdue"] += int(r["late"])
    return {"people": by_person, "units": by_unit}


def rolled_up(tree: list[dict], per_unit: dict[int, dict]) -> dict[int, dict]:
    """Per unit, its own open/overdue counts plus those of every unit below it (tree order as
    org_tree returns it)."""
    total = {u["id"]: dict(per_unit.get(u["id"], {"open": 0, "overdue": 0})) for u in tree}
    for u in reversed(tree):
        parent = u["parent_id"]
        if parent in total:
            for k in ("open", "overdue"):
                total[parent][k] = total[parent].get(k, 0) + total[u["id"]].get(k, 0)
    return total


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
    cal = store.load_calendar(db)
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
    years = set(deadline_warnings(cal, list(by_day)))
    out: dict[int, int] = {}
    for d, n in by_day.items():
        if d.year in years:
            out[d.year] = out.get(d.year, 0) + n
    return dict(sorted(out.items()))


def settings(db: sqlite_utils.Database) -> dict[str, str]:
    """The editable settings (escalation thresholds, amber window) and their values."""
    return {k: store.setting(db, k, "") or "" for k in SETTING_KEYS}


def unit_choices(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Units the actor may add people and units under: id, code, name, level."""
    return [u for u in store.all_units(db) if actor.in_scope(u["id"])]
