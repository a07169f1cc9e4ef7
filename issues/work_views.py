"""Read models for 我的任务 (my work) and 验收 (the verification queue): plain dicts, no
Streamlit. Lists are built on issues.catalogue.search_issues, so that scope, as-of state and
warning colours agree with the catalogue and the dashboard; the extra columns these pages need
(versions, progress notes, measures, what 三不放过 still misses) come in one grouped query each,
never one query per row."""
from __future__ import annotations

import json
from datetime import date

import sqlite_utils

from audit import model
from audit.model import Actor, Status
from audit.store.db import rows, scalar
from audit.views import amber_cutoff, scope_filter, scope_for
from issues import catalogue_views, store
from issues.model import (
    IssueFacts,
    MeasureFacts,
    may_strike_off,
    missing_for_closure,
    owns_measure,
    verification_level,
    warning_colour,
)

OPEN = ("not_started", "in_progress", "submitted")
WARNING_RANK = {"red": 0, "amber": 1, "green": 2, "none": 3}


def urgency_key(row: dict) -> tuple:
    """Red first, then amber, green, none; then the earliest deadline (none last); then code."""
    return (WARNING_RANK.get(row["warning"], 9), row["deadline"] or "9999-99-99",
            model.code_key(row["code"]))


def _ids_json(ids: list[int]) -> str:
    return json.dumps([int(i) for i in ids])


def my_issues(db: sqlite_utils.Database, actor: Actor, as_of: date) -> list[dict]:
    """Open issues the actor's person is responsible for, most urgent first: search_issues rows
    plus version and progress (the page passes the version back with every edit) and
    closure_missing (what 三不放过 still lacks, said before it is submitted)."""
    if actor.person_id is None:
        return []
    found = [r for r in catalogue_views.search_issues(db, actor, as_of=as_of, status=list(OPEN),
                                                owner_person_id=actor.person_id)
             if r["responsible_person_id"] == actor.person_id]
    if not found:
        return []
    extra = {r["id"]: r for r in rows(
        db, "SELECT id, version, progress FROM issues WHERE id IN "
            "(SELECT value FROM json_each(?))", (_ids_json([r["id"] for r in found]),))}
    facts = issue_facts(db, [r["id"] for r in found])
    for r in found:
        r["version"] = extra[r["id"]]["version"]
        r["progress"] = extra[r["id"]]["progress"] or ""
        r["closure_missing"] = missing_for_closure(facts[r["id"]])
    return sorted(found, key=urgency_key)


def my_measures(db: sqlite_utils.Database, actor: Actor, as_of: date) -> list[dict]:
    """Measures of the actor's work on open issues in scope, most urgent first: those the
    actor's person owns, and on the same issues (the ones it is responsible for or shares a
    measure of) those of its colleagues. Each: id, issue_id, code (the issue's), issue_title,
    issue_status, issue_version, title, status, deadline, completed_on, progress, version,
    owner_person_id, owner_name, mine (the actor may update it: issues.model.owns_measure),
    evidence (files attached to it), waiting_for (labels of unfinished measures it depends on),
    closure_missing (what 三不放过 still lacks on its issue) and warning (of the measure's own
    deadline; none when done)."""
    if actor.person_id is None:
        return []
    params: dict = {"person": actor.person_id}
    where = scope_filter(scope_for(db, actor), params)
    found = rows(db, f"""
        SELECT m.id, m.issue_id, i.code, i.title AS issue_title, i.status AS issue_status,
               i.version AS issue_version, i.responsible_person_id, m.title, m.status,
               m.deadline, m.completed_on, m.progress, m.version, m.owner_person_id,
               p.name AS owner_name,
               (SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) AS evidence,
               (SELECT group_concat(w.code || '/M' || d.depends_on_id, ' ')
                FROM measure_deps d JOIN measures dm ON dm.id = d.depends_on_id
                LEFT JOIN issues w ON w.id = dm.issue_id
                WHERE d.measure_id = m.id AND dm.status <> 'done') AS waiting_for
        FROM measures m JOIN issues i ON i.id = m.issue_id
        LEFT JOIN people p ON p.id = m.owner_person_id
        JOIN aspects a ON a.id = i.aspect_id JOIN categories c ON c.id = a.category_id
        WHERE (m.owner_person_id = :person OR i.responsible_person_id = :person
               OR EXISTS (SELECT 1 FROM measures o WHERE o.issue_id = i.id
                          AND o.owner_person_id = :person))
          AND i.merged_into_id IS NULL
          AND i.status IN ('not_started', 'in_progress', 'submitted') {where}""", params)
    today, cutoff = as_of.isoformat(), amber_cutoff(db, as_of).isoformat()
    facts = issue_facts(db, sorted({m["issue_id"] for m in found}))
    for m in found:
        # A done measure carries no warning, like a closed issue.
        status = Status.CLOSED if m["status"] == "done" else Status.IN_PROGRESS
        m["warning"] = warning_colour(status, m["deadline"], today, cutoff).value
        m["progress"] = m["progress"] or ""
        m["owner_name"] = m["owner_name"] or ""
        m["waiting_for"] = (m["waiting_for"] or "").split()
        m["mine"] = owns_measure(actor, m, m)
        m["closure_missing"] = missing_for_closure(facts[m["issue_id"]])
    # One's own measures first, then the colleagues' on the same issues.
    return sorted(found, key=lambda m: (not m["mine"], *urgency_key(m), m["id"]))


def issue_facts(db: sqlite_utils.Database, issue_ids: list[int]) -> dict[int, IssueFacts]:
    """What the guards need to know of each issue (issues.model.IssueFacts), in one grouped
    query per table, never one per issue."""
    if not issue_ids:
        return {}
    ids = _ids_json(issue_ids)
    head = rows(db, """
        SELECT i.id, i.code, i.status, i.responsible_person_id, i.deadline, i.submitted_by,
               i.checked_by,
               (SELECT COUNT(*) FROM issue_causes ic WHERE ic.issue_id = i.id) AS causes,
               (SELECT COUNT(*) FROM accountability ac WHERE ac.issue_id = i.id) AS acc
        FROM issues i WHERE i.id IN (SELECT value FROM json_each(?))""", (ids,))
    measures: dict[int, list[MeasureFacts]] = {}
    for m in rows(db, """
            SELECT m.issue_id, m.id, m.owner_person_id, m.deadline, m.status,
                   (SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) AS ev
            FROM measures m WHERE m.issue_id IN (SELECT value FROM json_each(?))
            ORDER BY m.id""", (ids,)):
        measures.setdefault(m["issue_id"], []).append(
            MeasureFacts(m["id"], m["owner_person_id"], m["deadline"], m["status"], m["ev"]))
    return {h["id"]: IssueFacts(
        code=h["code"], status=Status(h["status"]),
        responsible_person_id=h["responsible_person_id"], deadline=h["deadline"],
        measures=tuple(measures.get(h["id"], ())), cause_count=h["causes"],
        accountability_recorded=bool(h["acc"]), submitted_by=h["submitted_by"],
        checked_by=h["checked_by"])
        for h in head}


def submitted_count(db: sqlite_utils.Database, actor: Actor) -> int:
    """How many items wait for verification (待验收) in the actor's scope."""
    params: dict = {}
    where = scope_filter(scope_for(db, actor), params)
    return int(scalar(db, f"""
        SELECT COUNT(*) FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id
        WHERE i.status = 'submitted' AND i.merged_into_id IS NULL {where}""", params) or 0)


def verify_queue(db: sqlite_utils.Database, actor: Actor, as_of: date) -> list[dict]:
    """Items submitted for verification (待验收) in scope, oldest submission first: search_issues
    rows plus submitted_at, submitted_by_name, evidence (files), causes, accountability,
    closure_missing (三不放过 keys still missing) and may_strike_off (segregation of duties: not
    the submitter, not an owner of one of its measures); with two-level verification (逐级审核)
    `level` says where it waits ('first': 初审, 'second': 复核销号; 'single' otherwise),
    checked_by / checked_by_name / checked_at who passed its 初审, may_strike_off whether this
    lead may do the level it waits at and sod_reason why not ('submitted', 'owner', 'checked',
    'not_regional', or '')."""
    found = catalogue_views.search_issues(db, actor, as_of=as_of, status="submitted")
    if not found:
        return []
    two_level = store.two_level_verification(db)
    ids = _ids_json([r["id"] for r in found])
    head = {r["id"]: r for r in rows(db, """
        SELECT i.id, i.submitted_by, i.submitted_at, i.version, u.username AS submitted_by_name,
               i.checked_by, i.checked_at, cu.username AS checked_by_name,
               (SELECT COUNT(*) FROM issue_causes ic WHERE ic.issue_id = i.id) AS causes,
               (SELECT COUNT(*) FROM accountability ac WHERE ac.issue_id = i.id) AS acc,
               (SELECT COUNT(*) FROM evidence e WHERE e.issue_id = i.id) AS evidence
        FROM issues i LEFT JOIN users u ON u.id = i.submitted_by
        LEFT JOIN users cu ON cu.id = i.checked_by
        WHERE i.id IN (SELECT value FROM json_each(?))""", (ids,))}
    all_facts = issue_facts(db, [r["id"] for r in found])
    for r in found:
        h, facts = head[r["id"]], all_facts[r["id"]]
        level = verification_level(facts, two_level)
        segregated = may_strike_off(facts, actor.user_id, actor.person_id)
        if not segregated:
            sod = "submitted" if h["submitted_by"] == actor.user_id else "owner"
        elif level == "second" and h["checked_by"] == actor.user_id:
            sod = "checked"
        elif level == "second" and actor.scope_unit_ids is not None:
            sod = "not_regional"
        else:
            sod = ""
        r.update(submitted_at=h["submitted_at"], submitted_by=h["submitted_by"],
                 submitted_by_name=h["submitted_by_name"] or "", version=h["version"],
                 evidence=h["evidence"], causes=h["causes"], accountability=h["acc"],
                 closure_missing=missing_for_closure(facts),
                 may_strike_off=not sod, sod_reason=sod, level=level,
                 checked_by=h["checked_by"], checked_at=h["checked_at"],
                 checked_by_name=h["checked_by_name"] or "",
                 own_submission=h["submitted_by"] == actor.user_id)
    return sorted(found, key=lambda r: (r["submitted_at"] or "", model.code_key(r["code"])))


def open_measures_of(db: sqlite_utils.Database, actor: Actor, issue_ids: list[int]
                     ) -> list[dict]:
    """The measures not yet done of these issues that the actor may mark done (问题台账's
    batch: the picked issues' measures): issues in scope, not merged, still editable (未开始 /
    整改中); a rectifier's own measures only (issues.model.owns_measure, the service's rule), a
    lead's all. Each: id, issue_id, code (the issue's), title, version, in the issues' order."""
    grant = model.grant("measure.edit", actor.role)
    if not issue_ids or grant is None:
        return []
    found = rows(db, """
        SELECT m.id, m.issue_id, i.code, m.title, m.version, m.owner_person_id,
               i.responsible_person_id, i.unit_id
        FROM measures m JOIN issues i ON i.id = m.issue_id
        WHERE m.issue_id IN (SELECT value FROM json_each(?)) AND m.status <> 'done'
          AND i.merged_into_id IS NULL AND i.status IN ('not_started', 'in_progress')
        ORDER BY m.id""", (_ids_json(issue_ids),))
    every = grant == "all"
    order = {iid: n for n, iid in enumerate(issue_ids)}
    mine = [m for m in found if actor.in_scope(m["unit_id"])
            and (every or owns_measure(actor, m, m))]
    return sorted(mine, key=lambda m: (order[m["issue_id"]], m["id"]))


def issue_versions(db: sqlite_utils.Database, ids: list[int]) -> dict[int, int]:
    """The current version of each issue (id → version), for a list that shows none."""
    if not ids:
        return {}
    return {r["id"]: r["version"] for r in rows(
        db, "SELECT id, version FROM issues WHERE id IN (SELECT value FROM json_each(?))",
        (_ids_json(ids),))}
