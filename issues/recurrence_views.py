"""Read models for findings that come back and the check after closure: the per-issue flags
屡审屡犯 (found again in audits of different years, or confirmed as the recurrence of an earlier
item, or reopened at a check after closure) and 共性问题 (the same finding in several units:
its unit and the units of the findings merged into it); the checks after closure that are due;
the recurrence flags waiting for a person; and what matching a newer audit's findings against
earlier items needs. Plain dicts, no Streamlit."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

import numpy as np
import sqlite_utils

from audit.flags_views import (  # noqa: F401 (FLAGS, flag_counts read here too)
    FLAGS,
    flag_counts,
    flag_sql,
    issue_then_sql,
)
from audit.model import Actor
from audit.store.db import rows
from audit.time_model import end_of
from audit.views import is_live, scope_filter, scope_for
from issues import duplicates_model, duplicates_views
from issues import recurrence_model as model


def issue_flags(db: sqlite_utils.Database, ids: list[int], as_of: date | None = None
                ) -> dict[int, dict]:
    """issue id → {recurring, common, recurrence_pending, recurrences} for these issues, as they
    stand now (`as_of` None) or as they stood on `as_of` (audit.flags_views); an issue created
    after `as_of` is left out."""
    ids_json = json.dumps([int(i) for i in ids])
    params: dict = {"ids": ids_json}
    live = as_of is None or is_live(db, as_of)
    if as_of is not None:
        params["end"] = end_of(as_of)
    n = issue_then_sql("recurrences", live=live)
    return {r["id"]: {"recurring": bool(r["recurring"]), "common": bool(r["common"]),
                      "recurrence_pending": bool(r["pending"]),
                      "recurrences": int(r["recurrences"] or 0)}
            for r in rows(db, f"""
        SELECT i.id, {flag_sql('recurring', live=live)} AS recurring,
               {flag_sql('common', live=live)} AS common,
               {flag_sql('recurrence_pending', live=live)} AS pending,
               CAST(n.v AS INTEGER) AS recurrences
        FROM issues i JOIN {n} n ON n.id = i.id
        WHERE i.id IN (SELECT value FROM json_each(:ids))
          AND (:end IS NULL OR i.created_at < :end)""", {"end": None, **params})}


BADGES: tuple[str, ...] = ("recurring", "common", "recurrence_pending", "reopened")


def badges(flags: dict) -> list[str]:
    """The badges of one issue's issue_flags entry, in BADGES order: 屡审屡犯, 共性问题, a
    possible recurrence to confirm, reopened at a check after closure (回头看复发)."""
    on = {**flags, "reopened": bool(flags.get("recurrences"))}
    return [b for b in BADGES if on.get(b)]


def badge_counts(flags: Iterable[dict]) -> dict[str, int]:
    """How many of these issue_flags entries carry each badge (BADGES)."""
    out = dict.fromkeys(BADGES, 0)
    for f in flags:
        for b in badges(f):
            out[b] += 1
    return out


def rechecks(db: sqlite_utils.Database, actor: Actor, as_of: date, *, ahead_days: int = 0
             ) -> list[dict]:
    """Closed items in scope whose check after closure (回头看) falls on or before `as_of`
    (plus `ahead_days`), earliest first: id, code, title, unit_name, rectification_type,
    closed_at, recheck_due, version, recurrences, due (reached on `as_of`)."""
    params: dict = {"until": date.fromordinal(as_of.toordinal() + ahead_days).isoformat(),
                    "as_of": as_of.isoformat()}
    where = scope_filter(scope_for(db, actor), params)
    return rows(db, f"""
        SELECT i.id, i.code, i.title, u.name AS unit_name, i.rectification_type,
               i.closed_at, i.recheck_due, i.version, i.recurrences,
               i.recheck_due <= :as_of AS due
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id JOIN units u ON u.id = i.unit_id
        WHERE i.status = 'closed' AND i.recheck_due IS NOT NULL AND i.recheck_due <= :until
              AND i.merged_into_id IS NULL {where}
        ORDER BY i.recheck_due, i.code""", params)


def unscheduled_rechecks(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Struck-off items in scope that never had a check after closure scheduled (closed
    before the check existed): what service.schedule_missing_rechecks would schedule."""
    from issues import store
    return store.closed_without_recheck(db, scope_for(db, actor).unit_ids)


def pending_recurrences(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """Possible recurrences waiting for a person, in scope: id, code, title, unit_name,
    version, score, earlier_id, earlier_code, earlier_title, earlier_status, earlier_unit."""
    params: dict = {}
    where = scope_filter(scope_for(db, actor), params)
    return rows(db, f"""
        SELECT i.id, i.code, i.title, u.name AS unit_name, i.version,
               i.recurrence_score AS score, e.id AS earlier_id, e.code AS earlier_code,
               e.title AS earlier_title, e.status AS earlier_status,
               eu.name AS earlier_unit
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id JOIN units u ON u.id = i.unit_id
        JOIN issues e ON e.id = i.recurrence_of_id JOIN units eu ON eu.id = e.unit_id
        WHERE i.recurrence_status = 'pending' AND i.merged_into_id IS NULL {where}
        ORDER BY i.code""", params)


def recurrence_matches(db: sqlite_utils.Database, new_ids: list[int],
                       threshold: float = duplicates_model.DEFAULT_THRESHOLD
                       ) -> dict[int, tuple[int, float]]:
    """new issue id → (earlier issue id, text score) of the earlier item each new finding most
    likely repeats (recurrence_model.best_matches), scored as the duplicate finder scores
    (across units and categories), at most MAX_CANDIDATES earlier items per new finding. Only
    the items that may recur are read (struck off, ended, or found by an audit of a year before
    the newest of the new findings): an import into a programme with none costs one query."""
    new_ids = sorted({int(i) for i in new_ids})
    if not new_ids:
        return {}
    new_json = json.dumps(new_ids)
    years: dict[int, set[int]] = {}
    for iid, year in db.conn.execute(
            "SELECT s.issue_id, au.year FROM issue_sources s JOIN audits au "
            "ON au.id = s.audit_id WHERE s.issue_id IN (SELECT value FROM json_each(?))",
            (new_json,)):
        years.setdefault(iid, set()).add(year)
    newest = max((y for ys in years.values() for y in ys), default=None)
    earlier_rows = rows(db, """
        SELECT i.id, i.status FROM issues i
        WHERE i.merged_into_id IS NULL AND i.id NOT IN (SELECT value FROM json_each(:new))
          AND (i.status IN ('closed', 'ended') OR i.id IN (
               SELECT s.issue_id FROM issue_sources s JOIN audits au ON au.id = s.audit_id
               WHERE au.year < :newest))
        ORDER BY i.id""", {"new": new_json, "newest": newest if newest is not None else -1})
    if not earlier_rows:
        return {}
    old = [r["id"] for r in earlier_rows]
    old_json = json.dumps(old)
    for iid, year in db.conn.execute(
            "SELECT s.issue_id, au.year FROM issue_sources s JOIN audits au "
            "ON au.id = s.audit_id WHERE s.issue_id IN (SELECT value FROM json_each(?))",
            (old_json,)):
        years.setdefault(iid, set()).add(year)
    earlier = {r["id"]: model.Earlier(r["id"], r["status"], tuple(sorted(years.get(r["id"], ()))))
               for r in earlier_rows}
    places = duplicates_views._places(db)
    feats: dict[int, dict[str, float]] = {}
    for iid, title, description in db.conn.execute(
            "SELECT id, title, substr(description, 1, ?) FROM issues "
            "WHERE id IN (SELECT value FROM json_each(?)) OR id IN (SELECT value FROM "
            "json_each(?)) ORDER BY id", (duplicates_views.TEXT_CHARS, new_json, old_json)):
        feats[iid] = duplicates_model.features(title or "", description or "", places)
    new = [i for i in new_ids if i in feats]
    order = new + old
    idf = duplicates_model.inverse_frequencies(feats.values())
    both = duplicates_model.Matrix.weigh([feats[i] for i in order], idf)
    sigs = both.signatures().tolist()
    pairs = model.candidates(sigs[:len(new)], sigs[len(new):])
    if not pairs:
        return {}
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([len(new) + p[1] for p in pairs], dtype=np.int64)
    scores = both.scores(a, b)
    scored = [(new[x], old[y], round(float(s), 3))
              for (x, y), s in zip(pairs, scores.tolist()) if s >= threshold - 1e-9]
    return model.best_matches(scored, new, earlier,
                              {i: tuple(years.get(i, ())) for i in new})
