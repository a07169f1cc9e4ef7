"""The catalogue read model (问题台账): issues in the actor's scope, filtered, searched and
sorted, and the category → aspect tree with status and warning counts.

Built on audit.figures (state_cte, scope_for, WARNING_SQL), so that the list, the dashboard
and the exports agree on which issues are in scope, their state as of a date and their colour.
The actor's scope always applies: a unit asked for outside it narrows to nothing.

Search: each whitespace-separated term must match the code, title, description or progress
note. A term of 3+ characters goes through the FTS5 trigram index (issues_fts); shorter terms
(most Chinese words are two characters) cannot use trigrams and fall back to LIKE '%…%' with
% and _ escaped, so that they are matched literally."""
from __future__ import annotations

import io
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlite_utils

from audit.charts import STATUS_ORDER, WARNING_ORDER
from audit.model import Actor, ValidationFailed, code_key
from audit.store import history
from audit.store.db import rows, scalar
from audit.views import (
    WARNING_SQL,
    figures_params,
    is_live,
    link_rows_sql,
    scope_for,
    state_cte,
)
from issues import recurrence_views, store
from issues.ledger_views import issue_records, ledger_rows
from issues.ledger_write_format import write_ledger

SORTS: tuple[str, ...] = ("code", "deadline", "warning", "amount", "status", "unit")
STATUSES: tuple[str, ...] = STATUS_ORDER
WARNINGS: tuple[str, ...] = WARNING_ORDER
MIN_TRIGRAM = 3  # FTS5's trigram tokenizer cannot match fewer characters

_WARNING_RANK = {w: n for n, w in enumerate(WARNING_ORDER)}
_STATUS_RANK = {s: n for n, s in enumerate(STATUS_ORDER)}


def like_pattern(term: str) -> str:
    """A LIKE pattern matching `term` literally anywhere (ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(term: str) -> str:
    """An FTS5 query matching `term` as one phrase (double quotes doubled)."""
    return '"' + term.replace('"', '""') + '"'


def search_terms(text: str | None) -> list[str]:
    """The terms of a search box entry (whitespace-separated, full-width space included)."""
    return [t for t in re.split(r"\s+", (text or "").replace("\u3000", " ").strip()) if t]


def _choices(value: str | Sequence[str] | None, allowed: Sequence[str], field: str
             ) -> list[str]:
    """A filter value as a list of codes, each checked against `allowed`."""
    if value is None or value == "":
        return []
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in allowed:
            raise ValidationFailed(field, f"must be one of {', '.join(allowed)}")
    return values


def _in(column: str, values: list[str], params: dict, prefix: str) -> str:
    """` AND column IN (:p0, …)` with its parameters."""
    marks = []
    for n, v in enumerate(values):
        params[f"{prefix}{n}"] = v
        marks.append(f":{prefix}{n}")
    return f" AND {column} IN ({', '.join(marks)})"


def _text_filter(text: str | None, params: dict) -> str:
    """SQL conditions for the search terms (every term must match)."""
    sql = ""
    for n, term in enumerate(search_terms(text)):
        if len(term) >= MIN_TRIGRAM:
            params[f"fts{n}"] = fts_phrase(term)
            sql += (f" AND st.id IN (SELECT rowid FROM issues_fts "
                    f"WHERE issues_fts MATCH :fts{n})")
        else:
            params[f"like{n}"] = like_pattern(term)
            sql += (f" AND (i.code LIKE :like{n} ESCAPE '\\' OR i.title LIKE :like{n} "
                    f"ESCAPE '\\' OR i.description LIKE :like{n} ESCAPE '\\' "
                    f"OR i.progress LIKE :like{n} ESCAPE '\\')")
    return sql


# The columns of a search row, in the SELECT's order (rows are tuples until they are returned).
COLUMNS: tuple[str, ...] = (
    "id", "code", "title", "category_code", "category_name", "aspect_code", "aspect_name",
    "unit_id", "unit_code", "unit_name", "status", "warning", "deadline", "original_deadline",
    "closed_on", "amount", "severity", "rectification_type", "responsible_person_id",
    "responsible_name", "measures", "measures_done")
_C = {name: n for n, name in enumerate(COLUMNS)}
# Texts that repeat across rows: kept once per search instead of once per row.
_SHARED = tuple(_C[k] for k in ("category_code", "category_name", "aspect_code", "aspect_name",
                                "unit_code", "unit_name", "status", "warning", "deadline",
                                "original_deadline", "closed_on", "severity",
                                "rectification_type", "responsible_name"))


def _sorted(found: list[tuple], sort: str, descending: bool) -> list[tuple]:
    """Rows in the asked order; ties (and missing values, always last) by code."""
    code, deadline, warning = _C["code"], _C["deadline"], _C["warning"]
    amount, status, unit_code = _C["amount"], _C["status"], _C["unit_code"]
    found.sort(key=lambda r: code_key(r[code]))
    if sort == "code":
        return found[::-1] if descending else found
    if sort == "deadline":
        key = lambda r: r[deadline] or ""  # noqa: E731
    elif sort == "warning":
        key = lambda r: (_WARNING_RANK.get(r[warning], 9), r[deadline] or "9999")  # noqa
    elif sort == "amount":
        key = lambda r: r[amount] or 0.0  # noqa: E731
    elif sort == "status":
        key = lambda r: _STATUS_RANK.get(r[status], 9)  # noqa: E731
    else:
        key = lambda r: r[unit_code]  # noqa: E731
    present = [r for r in found if not (sort == "deadline" and r[deadline] is None)]
    missing = [r for r in found if sort == "deadline" and r[deadline] is None]
    # Amounts read largest first by default: that is the question people ask of them.
    reverse = descending != (sort == "amount")
    return sorted(present, key=key, reverse=reverse) + missing


def _search_rows(db: sqlite_utils.Database, actor: Actor, *, as_of: date,
                 unit_code: str | None = None, category: str | None = None,
                 aspect: str | None = None, stream: str | None = None,
                 focus: str | None = None, status: str | Sequence[str] | None = None,
                 warning: str | Sequence[str] | None = None,
                 owner_person_id: int | None = None, audit_id: int | None = None,
                 year: int | None = None, text: str | None = None, sort: str = "code",
                 descending: bool = False, flag: str | None = None) -> list[tuple]:
    """search_issues' rows as tuples of COLUMNS, sorted (see search_issues)."""
    if sort not in SORTS:
        raise ValidationFailed("sort", f"must be one of {', '.join(SORTS)}")
    statuses = _choices(status, STATUSES, "status")
    warnings = _choices(warning, WARNINGS, "warning")
    scope = scope_for(db, actor, unit_code=unit_code,
                      category_codes=(category,) if category else (), stream=stream,
                      focus=focus)
    params = figures_params(db, as_of)
    live = is_live(db, as_of)
    sql = state_cte(scope, as_of, params, live=live) + f"""
        , mc AS (SELECT m.issue_id, COUNT(*) AS n, SUM(m.status = 'done') AS done
                 FROM measures m WHERE m.issue_id IN (SELECT id FROM st)
                 GROUP BY m.issue_id)
        SELECT st.id, st.code, st.title, st.category_code, c.name AS category_name,
               a.code AS aspect_code, a.name AS aspect_name, st.unit_id,
               u.code AS unit_code, u.name AS unit_name, st.status, {WARNING_SQL} AS warning,
               st.deadline, st.original_deadline, st.closed_on, st.amount, st.severity,
               st.rectification_type, st.responsible_person_id, p.name AS responsible_name,
               COALESCE(mc.n, 0) AS measures, COALESCE(mc.done, 0) AS measures_done
        FROM st JOIN issues i ON i.id = st.id JOIN aspects a ON a.id = st.aspect_id
        JOIN categories c ON c.id = st.category_id JOIN units u ON u.id = st.unit_id
        LEFT JOIN people p ON p.id = st.responsible_person_id
        LEFT JOIN mc ON mc.issue_id = st.id
        WHERE 1 = 1"""
    if aspect:
        params["aspect"] = aspect
        sql += " AND a.code = :aspect"
    if statuses:
        sql += _in("st.status", statuses, params, "status")
    if warnings:
        sql += _in(f"({WARNING_SQL})", warnings, params, "warning")
    if owner_person_id is not None:
        params["owner"] = int(owner_person_id)
        # IN (list) is evaluated once through measures_owner; a correlated EXISTS per row
        # took 16 s on 40,000 issues.
        sql += (" AND (st.responsible_person_id = :owner OR st.id IN (SELECT om.issue_id "
                "FROM measures om WHERE om.owner_person_id = :owner))")
    # Sources as recorded on the date, as the rest of the row (audit.views.link_rows_sql).
    sources = link_rows_sql("sources", live=live, classification=scope.classification)
    if audit_id is not None:
        params["audit"] = int(audit_id)
        sql += f" AND st.id IN (SELECT s.issue_id FROM {sources} s WHERE s.target_id = :audit)"
    if year is not None:
        params["year"] = int(year)
        sql += (f" AND st.id IN (SELECT s.issue_id FROM {sources} s JOIN audits au ON au.id = "
                "s.target_id WHERE au.year = :year)")
    if flag:
        # 屡审屡犯 / 共性问题 / a recurrence to confirm: flags as they stood on as_of.
        sql += " AND " + recurrence_views.flag_sql(flag, "st", live=live)
    sql += _text_filter(text, params)
    shared: dict = {}
    found = []
    for r in db.conn.execute(sql, params):
        r = list(r)
        for n in _SHARED:
            r[n] = shared.setdefault(r[n], r[n])
        found.append(tuple(r))
    return _sorted(found, sort, descending)


def search_issues(db: sqlite_utils.Database, actor: Actor, *, as_of: date,
                  limit: int | None = None, **filters) -> list[dict]:
    """Issues in the actor's scope as of `as_of` matching every filter given, sorted. Filters:
    unit_code, category, aspect, stream, focus, status, warning, owner_person_id, audit_id,
    year, text, flag (recurrence_views.FLAGS: 屡审屡犯, 共性问题, a recurrence to confirm);
    sort (one of SORTS) and descending. Each row: COLUMNS (id, code, title,
    category_code, category_name, aspect_code, aspect_name, unit_id, unit_code, unit_name,
    status, warning, deadline, original_deadline, closed_on, amount, severity,
    rectification_type, responsible_person_id, responsible_name, measures, measures_done).
    Every column but the names and the measure counts is as recorded on `as_of`.
    `owner_person_id` matches the responsible person or the owner of any measure.
    Raises ValidationFailed for an unknown unit, category, stream, focus, status, warning or
    sort."""
    found = _search_rows(db, actor, as_of=as_of, **filters)
    return [dict(zip(COLUMNS, r)) for r in (found[:limit] if limit is not None else found)]


@dataclass(frozen=True)
class SearchSummary:
    """What the catalogue page shows of a search: how many issues, the ids of all of them in
    order (for the ledger download), the first rows as search_issues gives them, and the
    category → aspect tree of all of them."""

    total: int
    ids: array
    rows: list[dict]
    tree: list[dict]
    # How many of all the issues found carry each badge (recurrence_views.BADGES), and the
    # badges of each shown row (id → badges), as of the search's date.
    flags: dict = field(default_factory=dict)
    badges: dict = field(default_factory=dict)


def search_summary(db: sqlite_utils.Database, actor: Actor, *, as_of: date, shown: int,
                   **filters) -> SearchSummary:
    """search_issues kept small: the first `shown` rows as dicts, the rest as ids and counts
    (40,000 rows as dicts take about 100 MB, and a page draws a couple of thousand). `badges`:
    each shown row's flags as of `as_of` (recurrence_views.badges: 屡审屡犯, 共性问题, a
    recurrence to confirm, reopened at a check); `flags` counts them over all found."""
    found = _search_rows(db, actor, as_of=as_of, **filters)
    ids = array("q", (r[_C["id"]] for r in found))
    flags = recurrence_views.issue_flags(db, list(ids), as_of)
    counts = recurrence_views.badge_counts(flags.values())
    shown_rows = [dict(zip(COLUMNS, r)) for r in found[:shown]]
    marked = {r["id"]: recurrence_views.badges(flags[r["id"]]) for r in shown_rows
              if r["id"] in flags}
    return SearchSummary(len(found), ids, shown_rows,
                         _tree((r[_C["aspect_code"]], r[_C["status"]], r[_C["warning"]],
                                r[_C["amount"]], r[_C["category_code"]],
                                r[_C["category_name"]], r[_C["aspect_name"]])
                               for r in found), counts,
                         {i: b for i, b in marked.items() if b})


def _counts() -> dict:
    return {"issues": 0, "amount": 0.0, **{f"status_{s}": 0 for s in STATUSES},
            **{f"warning_{w}": 0 for w in ("red", "amber", "green")}}


def tree_from_rows(found: Iterable[dict]) -> list[dict]:
    """The category → aspect tree of search_issues rows: [{code, name, issues, amount,
    status_<status>…, warning_red/amber/green, aspects: [{code, name, same counts}]}], by code."""
    return _tree((r["aspect_code"], r["status"], r["warning"], r["amount"], r["category_code"],
                  r["category_name"], r["aspect_name"]) for r in found)


def _tree(found: Iterable[tuple]) -> list[dict]:
    """tree_from_rows of (aspect code, status, warning, amount, category code, category name,
    aspect name) tuples."""
    # Tally distinct (aspect, status, warning) first: 40,000 rows fold into a few hundred keys.
    tally: dict[tuple, list] = {}
    names: dict[str, tuple[str, str, str, str]] = {}
    for aspect_code, status, warning, amount, cat_code, cat_name, aspect_name in found:
        key = (aspect_code, status, warning)
        slot = tally.get(key)
        if slot is None:
            slot = tally[key] = [0, 0.0]
            names.setdefault(aspect_code, (cat_code, cat_name, aspect_name, aspect_code))
        slot[0] += 1
        slot[1] += amount or 0.0
    cats: dict[str, dict] = {}
    for (aspect_code, status, warning), (n, amount) in tally.items():
        cat_code, cat_name, aspect_name, _ = names[aspect_code]
        cat = cats.get(cat_code)
        if cat is None:
            cat = cats[cat_code] = {"code": cat_code, "name": cat_name, **_counts(),
                                    "aspects": {}}
        asp = cat["aspects"].get(aspect_code)
        if asp is None:
            asp = cat["aspects"][aspect_code] = {"code": aspect_code, "name": aspect_name,
                                                 **_counts()}
        for node in (cat, asp):
            node["issues"] += n
            node["amount"] += amount
            node[f"status_{status}"] += n
            if warning in ("red", "amber", "green"):
                node[f"warning_{warning}"] += n
    out = []
    for code in sorted(cats, key=code_key):
        cat = cats[code]
        cat["aspects"] = [cat["aspects"][a] for a in sorted(cat["aspects"], key=code_key)]
        out.append(cat)
    return out


def catalogue_tree(db: sqlite_utils.Database, actor: Actor, *, as_of: date,
                   **filters) -> list[dict]:
    """The category → aspect tree with issue counts by status and red/amber/green counts, for
    the issues search_issues finds with the same filters (see tree_from_rows)."""
    filters.pop("sort", None)
    filters.pop("limit", None)
    return tree_from_rows(search_issues(db, actor, as_of=as_of, **filters))


def filter_choices(db: sqlite_utils.Database, actor: Actor) -> dict[str, list[dict]]:
    """What the catalogue's filters offer this actor: units (in scope, region first), categories,
    aspects, streams, focus points, source audits, audit years, and people (in scope)."""
    units = [u for u in rows(db, "SELECT id, code, name, level FROM units "
                                 "ORDER BY level <> 'region', code") if actor.in_scope(u["id"])]
    people = [p for p in rows(db, "SELECT p.id, p.name, p.unit_id, u.name AS unit_name "
                                  "FROM people p JOIN units u ON u.id = p.unit_id "
                                  "ORDER BY u.level <> 'region', u.code, p.name")
              if actor.in_scope(p["unit_id"])]
    categories = rows(db, "SELECT code, name FROM categories")
    aspects = rows(db, "SELECT a.code, a.name, c.code AS category_code FROM aspects a "
                       "JOIN categories c ON c.id = a.category_id")
    return {
        "units": units,
        "categories": sorted(categories, key=lambda r: code_key(r["code"])),
        "aspects": sorted(aspects, key=lambda r: code_key(r["code"])),
        "streams": rows(db, "SELECT code, name, name_en FROM streams ORDER BY id"),
        "focus": rows(db, "SELECT code, name, name_en FROM focus_points ORDER BY code"),
        "audits": rows(db, "SELECT id, name, year, level, report_no FROM audits "
                           "ORDER BY year DESC, name"),
        "years": [r["year"] for r in rows(db, "SELECT DISTINCT year FROM audits "
                                              "ORDER BY year DESC")],
        "people": people,
    }


def issue_count(db: sqlite_utils.Database) -> int:
    """How many issues the file holds (merged included): to tell an empty programme apart."""
    return int(scalar(db, "SELECT COUNT(*) FROM issues") or 0)


def stream_names(db: sqlite_utils.Database, lang: str) -> dict[str, str]:
    """Work stream code → its name in `lang`, in the programme's order."""
    vocabulary = store.ledger_vocabulary(db)
    return {code: vocabulary.stream_name(code, lang) for code in vocabulary.stream_codes}


def ledger_workbook(db: sqlite_utils.Database, actor: Actor, issue_ids: Iterable[int], *,
                    as_of: date, lang: str, title: str, unit_code: str | None = None,
                    category: str | None = None, stream: str | None = None,
                    focus: str | None = None) -> bytes:
    """The 整改台账 workbook (.xlsx bytes) of the given issues in the actor's scope as of
    `as_of`. The classification filters narrow what is gathered before the ids are picked."""
    wanted = set(int(i) for i in issue_ids)
    scope = scope_for(db, actor, unit_code=unit_code,
                      category_codes=(category,) if category else (), stream=stream,
                      focus=focus)
    records = [r for r in issue_records(db, scope, as_of) if r.id in wanted]
    out = io.BytesIO()
    write_ledger(ledger_rows(records), out, vocabulary=store.ledger_vocabulary(db), lang=lang,
                 title=title, as_of=as_of, anchor=history.anchor(db))
    return out.getvalue()
