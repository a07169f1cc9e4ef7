"""Read models for 责任人与单位 and the admin's calendar and settings sections: the org tree,
people per unit, workload per person and per unit (within the viewer's scope), the calendar of
one year and the deadlines that fall in years without a published schedule. Plain dicts out;
no Streamlit. Workload counts use audit.views' state and warning rules, so that "overdue"
here is the dashboard's red; for a past date the issues and their measures (owner, deadline,
status) are as recorded then."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.charts import WARNING_ORDER
from audit.model import Actor, code_key
from audit.store import org
from audit.store.db import rows
from audit.views import (
    WARNING_SQL,
    figures_params,
    is_live,
    measures_then_cte,
    scope_for,
    state_cte,
)
from owners import store


def org_tree(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Units in the actor's scope in tree order (each parent followed by its children), with
    depth, head_name and people (active people count): id, code, name, level, parent_id."""
    units = [u for u in org.all_units(db) if actor.in_scope(u["id"])]
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
    heads = {u["head_person_id"] for u in org.all_units(db) if u["head_person_id"]}
    return [{**p, "is_head": p["id"] in heads}
            for p in store.people_in(db, actor.scope_unit_ids)]


def workload(db: sqlite_utils.Database, actor: Actor, as_of: date) -> dict[str, dict]:
    """Open and overdue work in the actor's scope as of `as_of`: {"people": {person_id: {open,
    overdue, measures_open, measures_overdue}}, "units": {unit_id: {open, overdue}}}. An issue
    counts for its responsible person and its unit; a measure (not done, on an open issue) for
    its owner, overdue when its own deadline has passed."""
    params = figures_params(db, as_of)
    live = is_live(db, as_of)
    base = state_cte(scope_for(db, actor), as_of, params, live=live)
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
    # Measures as they were on the date (audit.views.measures_then_cte) for a past one.
    measures = "measures" if live else "msr"
    for r in rows(db, base + ("" if live else measures_then_cte()) + f"""
            SELECT m.owner_person_id AS person, COUNT(*) AS n,
                   TOTAL(m.deadline < :today) AS late
            FROM {measures} m JOIN st ON st.id = m.issue_id
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


def unit_choices(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Units the actor may add people and units under: id, code, name, level."""
    return [u for u in org.all_units(db) if actor.in_scope(u["id"])]


_WARNING_RANK = {w: n for n, w in enumerate(WARNING_ORDER)}


def person_open_issues(db: sqlite_utils.Database, actor: Actor, person_id: int, as_of: date
                       ) -> list[dict]:
    """A person's open issues in the actor's scope as of `as_of` (responsible for the issue or
    owning one of its measures), red first then by deadline: id, code, title, status, warning,
    deadline. The same state and warning colours as the catalogue and the dashboard."""
    params = figures_params(db, as_of)
    params["owner"] = int(person_id)
    live = is_live(db, as_of)
    measures = "measures" if live else "msr"
    sql = state_cte(scope_for(db, actor), as_of, params, live=live) + (
        "" if live else measures_then_cte()) + f"""
        , w AS (SELECT st.id, st.code, st.title, st.status, st.deadline,
                       {WARNING_SQL} AS warning FROM st
                WHERE st.status IN ('not_started', 'in_progress', 'submitted')
                  AND (st.responsible_person_id = :owner OR st.id IN (
                       SELECT om.issue_id FROM {measures} om WHERE om.owner_person_id = :owner)))
        SELECT * FROM w"""
    found = sorted(rows(db, sql, params), key=lambda r: code_key(r["code"]))
    return sorted(found, key=lambda r: (_WARNING_RANK.get(r["warning"], 9),
                                        r["deadline"] or "9999"))
