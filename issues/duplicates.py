"""Finding the same finding twice (并轨 of the two work streams, and 屡审屡犯 across years), and
merging, rejecting or undoing what was proposed.

Similarity: the cosine of the character-bigram sets of title + description (NFKC, lower case,
no spaces or punctuation: "外包合同未经法律审核" and "外包合同未经法审即签订" share 外包, 包合,
合同, 同未, 未经, 经法), plus SAME_UNIT_BONUS when both are of the same unit. Only issues of the
same category and the same city (a county counts with its city) are compared: findings of
different cities are different findings however alike the words, and the blocks keep the work
near-linear (the 40,000-issue programme: 96 blocks, overlaps counted by one matrix product per
block instead of Python loops over pairs). Pairs at or above the threshold are the edges of a
graph; its connected components are the proposed clusters. Pairs someone rejected are never
edges again. A cluster never crosses blocks, so each block is read, compared and clustered on
its own: the memory needed follows the largest block, not the programme (40,000 issues' bigram
sets at once took 300 MB).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import networkx as nx
import numpy as np
import sqlite_utils

from audit.model import OPEN_STATUSES, Actor
from audit.service import require
from audit.store.db import one, rows, write_transaction
from audit.store.history import Recorder
from audit.time_model import end_of
from audit.views import Scope, figures, scope_filter
from issues import merge_service
from issues.importer import norm

DEFAULT_THRESHOLD = 0.5
SAME_UNIT_BONUS = 0.1
SHOWN_NGRAMS = 12
MAX_PAIRS_SHOWN = 20
TEXT_CHARS = 300        # characters of the description compared
NEIGHBOURS = 8           # strongest links kept per issue (see _block_edges)
_ROWS_PER_SLICE = 1500   # rows of one block's overlap matrix computed at a time (memory bound)


@dataclass(frozen=True)
class Pair:
    """The evidence that two issues are one finding."""

    a: int
    b: int
    score: float          # text + same-unit bonus, at most 1
    text_score: float     # cosine of the bigram sets
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


def bigrams(text: str) -> frozenset[str]:
    """The character bigrams of a text after `norm` (a one-character text is its own gram)."""
    t = norm(text)
    if len(t) < 2:
        return frozenset([t]) if t else frozenset()
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))


def cosine(a: frozenset[str], b: frozenset[str]) -> float:
    """|A∩B| / sqrt(|A|·|B|) of two gram sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


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


def _blocks(db: sqlite_utils.Database, scope: Scope | None
            ) -> dict[tuple[int, int], list[int]]:
    """(category id, city id) → the ids of the issues that may be proposed (not merged, in
    scope): only ids and keys, so that the text of 40,000 issues is never held at once."""
    params: dict = {}
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

    cities: dict[int, int] = {}
    blocks: dict[tuple[int, int], list[int]] = defaultdict(list)
    for iid, unit_id, category_id in db.conn.execute(f"""
            SELECT i.id, i.unit_id, a.category_id
            FROM issues i JOIN aspects a ON a.id = i.aspect_id
            JOIN categories c ON c.id = a.category_id
            WHERE i.merged_into_id IS NULL {where} ORDER BY i.id""", params):
        city = cities.get(unit_id)
        if city is None:
            city = cities[unit_id] = city_of(unit_id)
        blocks[(category_id, city)].append(iid)
    return blocks


def _block_issues(db: sqlite_utils.Database, ids: list[int]) -> list[dict]:
    """The issues of one block with what comparing and showing them needs: the opening of the
    description (TEXT_CHARS characters), unit and category, work streams and audit years."""
    ids_json = json.dumps(ids)
    block = rows(db, """
        SELECT i.id, i.code, i.title, substr(i.description, 1, :chars) AS description,
               i.unit_id, i.status, i.created_at,
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


def _block_edges(block: list[dict], grams: dict[int, frozenset[str]], threshold: float,
                 rejected: set[tuple[int, int]]) -> list[tuple[int, int, float, float]]:
    """(a, b, score, text score) for the pairs of one block at or above the threshold, each
    issue keeping its NEIGHBOURS strongest links: the graph then has the same clusters as with
    every pair (a cluster of near-identical findings is linked many times over) at a bounded
    size, where templated wording would otherwise give n² edges."""
    n = len(block)
    if n < 2:
        return []
    # Grams of a single issue cannot be shared: only the others become matrix columns (the
    # norms still count every gram), which keeps the product small.
    df: dict[str, int] = defaultdict(int)
    for d in block:
        for g in grams[d["id"]]:
            df[g] += 1
    vocab = {g: i for i, g in enumerate(g for g, c in df.items() if c > 1)}
    coords_r: list[int] = []
    coords_c: list[int] = []
    for i, d in enumerate(block):
        for g in grams[d["id"]]:
            c = vocab.get(g)
            if c is not None:
                coords_r.append(i)
                coords_c.append(c)
    x = np.zeros((n, max(len(vocab), 1)), dtype=np.float32)
    x[coords_r, coords_c] = 1.0
    norms = np.sqrt(np.maximum(np.array([len(grams[d["id"]]) for d in block],
                                        dtype=np.float32), 1.0))
    units = np.array([d["unit_id"] for d in block])
    ids = [d["id"] for d in block]
    index = {iid: i for i, iid in enumerate(ids)}
    blocked = [(index[a], index[b]) for a, b in rejected if a in index and b in index]
    k = min(NEIGHBOURS, n - 1)
    out: dict[tuple[int, int], tuple[float, float]] = {}
    for start in range(0, n, _ROWS_PER_SLICE):
        stop = min(n, start + _ROWS_PER_SLICE)
        text = (x[start:stop] @ x.T) / (norms[start:stop, None] * norms[None, :])
        score = np.minimum(text + SAME_UNIT_BONUS * (units[start:stop, None] == units[None, :]),
                           1.0)
        score[np.arange(stop - start), np.arange(start, stop)] = 0.0   # not with itself
        for i, j in blocked:
            if start <= i < stop:
                score[i - start, j] = 0.0
            if start <= j < stop:
                score[j - start, i] = 0.0
        score[score < threshold - 1e-9] = 0.0
        top = np.argpartition(-score, k - 1, axis=1)[:, :k] if k < n else \
            np.tile(np.arange(n), (stop - start, 1))
        rows_ = np.repeat(np.arange(stop - start), top.shape[1])
        cols = top.ravel()
        keep = score[rows_, cols] > 0.0
        rows_, cols = rows_[keep], cols[keep]
        for i_local, j, s, t in zip(rows_.tolist(), cols.tolist(),
                                    np.round(score[rows_, cols], 4).tolist(),
                                    np.round(text[rows_, cols], 4).tolist()):
            a, b = ids[start + i_local], ids[j]
            out[(a, b) if a < b else (b, a)] = (s, t)
    return [(a, b, s, t) for (a, b), (s, t) in out.items()]


def find_duplicates(db: sqlite_utils.Database, *, threshold: float = DEFAULT_THRESHOLD,
                    scope: Scope | None = None, with_issues: bool = True) -> list[Cluster]:
    """Clusters of likely duplicates, strongest first, numbered from 1 (the number the CLI and
    the page use while the database does not change). `with_issues=False` leaves each
    Cluster.issues empty: on 40,000 issues they are most of the result's memory, and a page
    showing one cluster at a time reads its issues with cluster_issues.

    Edges join only issues of one block, so every cluster lies inside one block: each block is
    read, compared and turned into clusters on its own, and its texts and gram sets are
    released before the next (the memory needed is that of the largest block, not of the
    programme)."""
    rejected = rejected_pairs(db)
    shared_text: dict[str, str] = {}    # one copy of each unit name, category, status…
    clusters: list[Cluster] = []
    for (_, city), ids in _blocks(db, scope).items():
        if len(ids) < 2:
            continue
        block = _block_issues(db, ids)
        for d in block:
            d["city_id"] = city
        # The opening of a description carries the finding; long tails add noise and time.
        grams = {d["id"]: bigrams(d["title"] + "\n" + d["description"]) for d in block}
        edges = _block_edges(block, grams, threshold, rejected)
        if edges:
            clusters.extend(_block_clusters(block, grams, edges, shared_text, with_issues))
    clusters.sort(key=lambda c: (-c.best, min(c.codes)))
    for n, c in enumerate(clusters, 1):
        c.number = n
    return clusters


def _components(edges: list[tuple[int, int, float, float]]) -> list[list[tuple]]:
    """The edges grouped by connected component of the block's similarity graph (networkx;
    one block's graph is small, so building it costs little memory)."""
    graph = nx.Graph()
    for a, b, score, text in edges:
        graph.add_edge(a, b)
    component_of = {n: i for i, nodes in enumerate(nx.connected_components(graph)) for n in nodes}
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for e in edges:
        grouped[component_of[e[0]]].append(e)
    return list(grouped.values())


def _block_clusters(block: list[dict], grams: dict[int, frozenset[str]],
                    edges: list[tuple[int, int, float, float]],
                    shared_text: dict[str, str], with_issues: bool = True) -> list[Cluster]:
    """The clusters (unnumbered) of one block's edges, with their evidence."""
    by_id = {d["id"]: d for d in block}
    out = []
    for component in _components(edges):
        ids = sorted({a for a, _, _, _ in component} | {b for _, b, _, _ in component})
        strongest = sorted(component, key=lambda e: (-e[2], e[0], e[1]))[:MAX_PAIRS_SHOWN]
        pairs = []
        for a, b, score, text in strongest:
            da, db_ = by_id[a], by_id[b]
            shared = tuple(shared_text.setdefault(g, g)
                           for g in sorted(grams[a] & grams[b])[:SHOWN_NGRAMS])
            pairs.append(Pair(a, b, score, text, shared,
                              da["unit_id"] == db_["unit_id"], da["city_id"] == db_["city_id"],
                              da["category_id"] == db_["category_id"]))
        members = [by_id[i] for i in ids]
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


def confirm_cluster(db: sqlite_utils.Database, actor: Actor, cluster: Cluster | list[int],
                    survivor_id: int, at: str) -> list[int]:
    """Merge every other issue of the cluster into `survivor_id` through merge_issues, in one
    transaction (all or nothing). Returns the merge ids."""
    from audit.model import ValidationFailed
    ids = cluster.issue_ids if isinstance(cluster, Cluster) else list(cluster)
    if survivor_id not in ids:
        raise ValidationFailed("survivor_id", "the issue to keep must be one of the cluster")
    require(actor, "issue.merge")
    merge_ids = []
    with write_transaction(db):
        for other in sorted(ids):
            if other != survivor_id:
                merge_ids.append(merge_service.merge_issues(db, actor, survivor_id, other,
                                                     survivor_version=None,
                                                     absorbed_version=None, at=at))
    return merge_ids


def reject_cluster(db: sqlite_utils.Database, actor: Actor, cluster: Cluster | list[int],
                   at: str) -> int:
    """Record that the issues of the cluster are different findings, so that none of its pairs
    is proposed again. Returns the number of pairs recorded."""
    from audit.model import ValidationFailed
    ids = sorted(cluster.issue_ids if isinstance(cluster, Cluster) else cluster)
    if len(ids) < 2:
        raise ValidationFailed("cluster", "a cluster has at least two issues")
    require(actor, "issue.merge")
    for iid in ids:
        unit = one(db, "SELECT unit_id FROM issues WHERE id = ?", (iid,))
        if unit is None:
            from audit.model import NotFound
            raise NotFound(f"issue {iid} not found", entity="issue", id=iid)
        require(actor, "issue.merge", unit_id=unit["unit_id"], what=str(iid))
    existing = rejected_pairs(db)
    new = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if (a, b) not in existing]
    if not new:
        return 0
    rec = Recorder(db, actor, at, "duplicate.reject")
    with write_transaction(db):
        db.conn.executemany("INSERT INTO duplicate_rejections (issue_a, issue_b, rejected_by, "
                            "at) VALUES (?, ?, ?, ?)",
                            [(a, b, actor.user_id, at) for a, b in new])
        rec.add("duplicate", ids[0], "rejected", None, ids)
        rec.flush()
    return len(new)


def undo_merge(db: sqlite_utils.Database, actor: Actor, merge_id: int, at: str) -> None:
    """Undo one merge (until the kept issue next changes): issues.service.undo_merge."""
    merge_service.undo_merge(db, actor, merge_id, at=at)


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
