"""Finding the same finding twice (并轨 of the two work streams, 屡审屡犯 across years, and 共性问题
in several units), and merging, rejecting or undoing what was proposed.

Similarity is issues.duplicates_model's (words cut with jieba, the domain's synonyms rewritten to
one word, words every finding uses weighing nothing, cosine plus coverage; chosen on a labelled
set, figures in docs/DUPLICATES.md) over title + the opening of the description, plus
SAME_UNIT_BONUS when both are of the same unit. Unit names, years and codes are taken out of the
texts first: the same finding in another unit or year is worded alike.

What is compared: by default only issues of the same category and the same city (a county counts
with its city), the merge proposals of 并轨: findings of different cities are different issues
to rectify however alike the words. `across=True` compares every issue with every other, across
units and categories (屡审屡犯 and 共性问题, or a finding filed under another category); the
pairs then say whether they share a unit, a city and a category. Neither way compares every pair:
duplicates_model.similar_pairs generates candidates from an index of each issue's heaviest
words, so the work grows with the number of issues, not its square.

Pairs at or above the threshold are the edges of a graph; its connected components are the
proposed clusters. Pairs someone rejected are never edges again. The texts are read once, in one
pass, and kept only as their weighted words (the word weights need every text of the scope);
the issues' details are read only for the members of clusters, group by group.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlite_utils

from audit.model import OPEN_STATUSES
from audit.store.db import one, rows
from audit.time_model import end_of
from audit.views import Scope, figures, scope_filter
from issues import duplicates_model as model
from issues.duplicates_model import bigrams, cosine  # noqa: F401  (the previous measure)
from issues.import_model import norm, unit_core

DEFAULT_THRESHOLD = model.DEFAULT_THRESHOLD
SAME_UNIT_BONUS = 0.1
SHOWN_NGRAMS = 12
MAX_PAIRS_SHOWN = 20
TEXT_CHARS = 300        # characters of the description compared
NEIGHBOURS = 8           # strongest links kept per issue (see duplicates_model.similar_pairs)


@dataclass(frozen=True)
class Pair:
    """The evidence that two issues are one finding."""

    a: int
    b: int
    score: float          # text + same-unit bonus, at most 1
    text_score: float     # duplicates_model.similarity of the two texts
    shared: tuple[str, ...]
    same_unit: bool
    same_city: bool
    same_category: bool


@dataclass
class Cluster:
    """Issues proposed as one finding, with the pairs that link them (strongest first)."""

    number: int
    issue_ids: list[int]
    issues: list[dict]
    pairs: list[Pair]
    key: str = ""
    suggested_survivor: int | None = None
    recurring: bool = False      # sources from different years: 屡审屡犯
    cross_stream: bool = False   # found by both work streams
    codes: tuple[str, ...] = ()  # the codes of issue_ids, in the same order

    @property
    def best(self) -> float:
        """The strongest link in the cluster."""
        return max((p.score for p in self.pairs), default=0.0)


def _has_rejections(db: sqlite_utils.Database) -> bool:
    # A file made before the table was added to migration 1 simply has no rejections.
    return one(db, "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND "
                   "name = 'duplicate_rejections'") is not None




def rejected_pairs(db: sqlite_utils.Database) -> set[tuple[int, int]]:
    """Pairs (smaller id, larger id) someone decided are not the same finding."""
    if not _has_rejections(db):
        return set()
    return {(r[0], r[1]) for r in db.conn.execute(
        "SELECT issue_a, issue_b FROM duplicate_rejections")}


def _places(db: sqlite_utils.Database) -> model.Places:
    """Unit names as texts write them (包头市分公司, 包头市, 包头), taken out before comparing."""
    names: set[str] = set()
    for (name,) in db.conn.execute("SELECT name FROM units"):
        n = norm(name)
        names.update(x for x in (n, n.removesuffix("分公司"), unit_core(name)) if len(x) >= 2)
    return model.Places(names)


@dataclass
class Weighed:
    """The weighted words of the issues compared: row `row_of[id]` of `matrix`."""

    matrix: model.Matrix
    row_of: dict[int, int]

    def rows(self, ids: list[int]) -> model.Matrix:
        """The matrix of these issues, in this order."""
        return self.matrix.take([self.row_of[i] for i in ids])


def _read(db: sqlite_utils.Database, scope: Scope | None) -> tuple[dict[int, dict], Weighed]:
    """The issues that may be proposed (not merged, in scope), in one pass: id → {id, unit_id,
    category_id, city_id}, and the weighted words of each one's title and the opening of its
    description (TEXT_CHARS characters). The texts themselves are not kept."""
    params: dict = {"chars": TEXT_CHARS}
    where = scope_filter(scope, params) if scope else ""
    units = {r[0]: (r[1], r[2]) for r in db.conn.execute(
        "SELECT id, parent_id, level FROM units")}

    def city_of(unit_id: int) -> int:
        u = unit_id
        seen = set()
        while units[u][1] == "county" and units[u][0] is not None and u not in seen:
            seen.add(u)
            u = units[u][0]
        return u

    places = _places(db)
    cities: dict[int, int] = {}
    keys: dict[int, dict] = {}
    feats: dict[int, dict[str, float]] = {}
    for iid, unit_id, category_id, title, description in db.conn.execute(f"""
            SELECT i.id, i.unit_id, a.category_id, i.title, substr(i.description, 1, :chars)
            FROM issues i JOIN aspects a ON a.id = i.aspect_id
            JOIN categories c ON c.id = a.category_id
            WHERE i.merged_into_id IS NULL {where} ORDER BY i.id""", params):
        city = cities.get(unit_id)
        if city is None:
            city = cities[unit_id] = city_of(unit_id)
        keys[iid] = {"id": iid, "unit_id": unit_id, "category_id": category_id,
                     "city_id": city}
        feats[iid] = model.features(title or "", description or "", places)
    idf = model.inverse_frequencies(feats.values())
    return keys, Weighed(model.Matrix.weigh(list(feats.values()), idf),
                         {iid: n for n, iid in enumerate(feats)})


def _blocks(keys: dict[int, dict]) -> dict[tuple[int, int], list[int]]:
    """(category id, city id) → the ids of its issues, in id order."""
    blocks: dict[tuple[int, int], list[int]] = defaultdict(list)
    for iid, k in keys.items():
        blocks[(k["category_id"], k["city_id"])].append(iid)
    return blocks


def _block_issues(db: sqlite_utils.Database, ids: list[int]) -> list[dict]:
    """The issues `ids` with what showing them and their evidence needs: the opening of the
    description (TEXT_CHARS characters), unit and category, work streams and audit years."""
    ids_json = json.dumps(ids)
    block = rows(db, """
        SELECT i.id, i.code, i.title, substr(i.description, 1, :chars) AS description,
               i.unit_id, i.status, i.created_at, i.version,
               a.category_id, c.code AS category_code, c.name AS category_name,
               u.name AS unit_name
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id JOIN units u ON u.id = i.unit_id
        WHERE i.id IN (SELECT value FROM json_each(:ids)) ORDER BY i.id""",
                 {"chars": TEXT_CHARS, "ids": ids_json})
    streams: dict[int, list[str]] = defaultdict(list)
    for iid, code in db.conn.execute(
            "SELECT s.issue_id, st.code FROM issue_streams s JOIN streams st "
            "ON st.id = s.stream_id WHERE s.issue_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY st.id", (ids_json,)):
        streams[iid].append(code)
    years: dict[int, set[int]] = defaultdict(set)
    for iid, year in db.conn.execute(
            "SELECT s.issue_id, au.year FROM issue_sources s JOIN audits au "
            "ON au.id = s.audit_id WHERE s.issue_id IN (SELECT value FROM json_each(?))",
            (ids_json,)):
        years[iid].add(year)
    for d in block:
        d["streams"] = streams.get(d["id"], [])
        d["years"] = sorted(years.get(d["id"], ()))
    return block


def _block_edges(block: list[dict], vectors: Weighed, threshold: float,
                 rejected: set[tuple[int, int]]) -> list[tuple[int, int, float, float]]:
    """(a, b, score, text score), a < b, for the pairs of the issues in `block` at or above the
    threshold (score = text score + SAME_UNIT_BONUS for the same unit, at most 1), rejected
    pairs left out, each issue keeping its NEIGHBOURS strongest links."""
    if len(block) < 2:
        return []
    ids = [d["id"] for d in block]
    index = {iid: i for i, iid in enumerate(ids)}
    excluded = [(min(index[a], index[b]), max(index[a], index[b])) for a, b in rejected
                if a in index and b in index]
    found = model.similar_pairs(vectors.rows(ids), threshold,
                                units=[d["unit_id"] for d in block],
                                unit_bonus=SAME_UNIT_BONUS, excluded=excluded,
                                neighbours=NEIGHBOURS, decimals=4)
    # ids are in id order, so i < j gives a < b.
    return [(ids[i], ids[j], score, text) for i, j, score, text in found]


def find_duplicates(db: sqlite_utils.Database, *, threshold: float = DEFAULT_THRESHOLD,
                    scope: Scope | None = None, with_issues: bool = True,
                    across: bool = False) -> list[Cluster]:
    """Clusters of likely duplicates, strongest first, numbered from 1 (the number the CLI and
    the page use while the database does not change). Only issues of one category and city
    are compared, unless `across` (see the module docstring). `with_issues=False` leaves each
    Cluster.issues empty: on 40,000 issues they are most of the result's memory, and a page
    showing one cluster at a time reads its issues with cluster_issues; only the issues of the
    pairs shown as evidence are then read in full."""
    rejected = rejected_pairs(db)
    keys, vectors = _read(db, scope)
    groups = [sorted(keys)] if across else list(_blocks(keys).values())
    shared_text: dict[str, str] = {}    # one copy of each unit name, category, status…
    clusters: list[Cluster] = []
    for ids in groups:
        if len(ids) < 2:
            continue
        edges = _block_edges([keys[i] for i in ids], vectors, threshold, rejected)
        if not edges:
            continue
        components = [(sorted({a for a, _, _, _ in c} | {b for _, b, _, _ in c}),
                       sorted(c, key=lambda e: (-e[2], e[0], e[1]))[:MAX_PAIRS_SHOWN])
                      for c in _components(edges)]
        members = sorted(i for m, _ in components for i in m)
        shown = sorted({i for _, pairs in components for a, b, _, _ in pairs for i in (a, b)})
        detail = {d["id"]: d for d in _block_issues(db, members if with_issues else shown)}
        facts = detail if with_issues else _facts(db, members)
        for d in list(detail.values()) + list(facts.values()):
            d["city_id"] = keys[d["id"]]["city_id"]
        clusters.extend(_block_clusters(components, facts, detail, shared_text, with_issues))
    clusters.sort(key=lambda c: (-c.best, min(c.codes)))
    for n, c in enumerate(clusters, 1):
        c.number = n
    return clusters


def _facts(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict]:
    """id → what a cluster needs of a member it does not show: code, status, registration,
    work streams and audit years."""
    ids_json = json.dumps(ids)
    out = {iid: {"id": iid, "code": code, "status": status, "created_at": created,
                 "streams": [], "years": set()}
           for iid, code, status, created in db.conn.execute(
               "SELECT id, code, status, created_at FROM issues WHERE id IN "
               "(SELECT value FROM json_each(?))", (ids_json,))}
    for iid, code in db.conn.execute(
            "SELECT s.issue_id, st.code FROM issue_streams s JOIN streams st "
            "ON st.id = s.stream_id WHERE s.issue_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY st.id", (ids_json,)):
        out[iid]["streams"].append(code)
    for iid, year in db.conn.execute(
            "SELECT s.issue_id, au.year FROM issue_sources s JOIN audits au "
            "ON au.id = s.audit_id WHERE s.issue_id IN (SELECT value FROM json_each(?))",
            (ids_json,)):
        out[iid]["years"].add(year)
    return out


def _components(edges: list[tuple[int, int, float, float]]) -> list[list[tuple]]:
    """The edges grouped by connected component of the similarity graph."""
    ends = np.array([e[:2] for e in edges], dtype=np.int64)
    component_of = {n: i for i, nodes in enumerate(model.components(ends)) for n in nodes}
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for e in edges:
        grouped[component_of[e[0]]].append(e)
    return list(grouped.values())


def _block_clusters(components: list[tuple[list[int], list[tuple]]], facts: dict[int, dict],
                    detail: dict[int, dict], shared_text: dict[str, str],
                    with_issues: bool = True) -> list[Cluster]:
    """The clusters (unnumbered) of one group: each component's members and strongest pairs,
    with `facts` on every member and `detail` (texts, unit, category) on every issue shown."""
    out = []
    for ids, strongest in components:
        pairs = []
        for a, b, score, text in strongest:
            da, db_ = detail[a], detail[b]
            shared = tuple(shared_text.setdefault(w, w) for w in model.shared_words(
                _text(da), _text(db_), SHOWN_NGRAMS))
            pairs.append(Pair(a, b, score, text, shared,
                              da["unit_id"] == db_["unit_id"], da["city_id"] == db_["city_id"],
                              da["category_id"] == db_["category_id"]))
        members = [facts[i] for i in ids]
        years = {y for m in members for y in m["years"]}
        streams = {s for m in members for s in m["streams"]}
        out.append(Cluster(0, ids, [_brief(m, shared_text) for m in members] if with_issues
                           else [], pairs,
                           key="-".join(map(str, ids)),
                           suggested_survivor=suggest_survivor(members),
                           recurring=len(years) > 1,
                           cross_stream=len(streams) > 1,
                           codes=tuple(m["code"] for m in members)))
    return out


def _text(d: dict) -> str:
    return (d["title"] or "") + "\n" + (d["description"] or "")


def cluster_issues(db: sqlite_utils.Database, issue_ids: list[int]) -> list[dict]:
    """The issues of a cluster as Cluster.issues holds them (by id), read afresh: for clusters
    found with `with_issues=False`."""
    shared_text: dict[str, str] = {}
    return [_brief(d, shared_text) for d in _block_issues(db, sorted(issue_ids))]


def _brief(d: dict, shared_text: dict[str, str]) -> dict:
    """What a cluster keeps of an issue; texts repeated across issues (unit and category
    names, status) are kept once."""
    brief = {k: d[k] for k in ("id", "code", "title", "unit_id", "unit_name", "category_code",
                               "category_name", "status", "streams", "years", "created_at")}
    brief["version"] = d.get("version")
    for k in ("unit_name", "category_code", "category_name", "status"):
        brief[k] = shared_text.setdefault(brief[k], brief[k])
    brief["streams"] = [shared_text.setdefault(x, x) for x in brief["streams"]]
    return brief


def suggest_survivor(members: list[dict]) -> int:
    """The issue to keep: an open one if any (an open finding cannot merge into a closed one),
    then the earliest registered."""
    open_values = {s.value for s in OPEN_STATUSES}
    return min(members, key=lambda m: (m["status"] not in open_values, m["created_at"],
                                       m["id"]))["id"]


def cluster_by_number(clusters: list[Cluster], number: int) -> Cluster:
    """The cluster with this number; ValidationFailed when there is none."""
    from audit.model import ValidationFailed
    for c in clusters:
        if c.number == number:
            return c
    raise ValidationFailed("cluster", f"no cluster {number} (there are {len(clusters)})")


def recent_merges(db: sqlite_utils.Database, limit: int = 50) -> list[dict]:
    """The latest merges with both codes, who merged, and whether each was undone."""
    return rows(db, """
        SELECT m.id, m.at, m.undone_at, s.code AS survivor_code, s.title AS survivor_title,
               a.code AS absorbed_code, a.title AS absorbed_title, u.username AS merged_by
        FROM merges m JOIN issues s ON s.id = m.survivor_id JOIN issues a ON a.id = m.absorbed_id
        JOIN users u ON u.id = m.merged_by ORDER BY m.id DESC LIMIT ?""", (limit,))


def merge_report(db: sqlite_utils.Database, scope: Scope, as_of: date) -> dict:
    """The 并轨 report as of a date: findings that came in (issues ever registered, by work
    stream), how many were merged into another, how many recur across audit years (屡审屡犯),
    and the final counts of the one track (categories, aspects, issues)."""
    params: dict = {"end": end_of(as_of)}
    where = scope_filter(scope, params)
    base = (f"FROM issues i JOIN aspects a ON a.id = i.aspect_id "
            f"JOIN categories c ON c.id = a.category_id WHERE i.created_at < :end {where}")
    r = one(db, f"""
        SELECT COUNT(*) AS findings_in,
               TOTAL(i.merged_at IS NOT NULL AND i.merged_at < :end) AS merged,
               TOTAL(EXISTS (SELECT 1 FROM issue_streams s JOIN streams st ON st.id = s.stream_id
                             WHERE s.issue_id = i.id AND st.code = 'cleanup')) AS from_cleanup,
               TOTAL(EXISTS (SELECT 1 FROM issue_streams s JOIN streams st ON st.id = s.stream_id
                             WHERE s.issue_id = i.id AND st.code = 'audit')) AS from_audit
        {base}""", params)
    recurring = one(db, f"""
        SELECT COUNT(*) AS n FROM (SELECT i.id {base}
            AND (i.merged_at IS NULL OR i.merged_at >= :end)
            AND (SELECT COUNT(DISTINCT au.year) FROM issue_sources s JOIN audits au
                 ON au.id = s.audit_id WHERE s.issue_id = i.id) > 1)""", params)
    final = figures(db, scope, as_of)
    return {"as_of": as_of.isoformat(), "findings_in": int(r["findings_in"] or 0),
            "from_cleanup": int(r["from_cleanup"] or 0), "from_audit": int(r["from_audit"] or 0),
            "merged": int(r["merged"] or 0), "recurring": int(recurring["n"] or 0),
            "categories": final["categories"], "aspects": final["aspects"],
            "issues": final["issues"]}
