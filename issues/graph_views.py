"""Root causes, measure dependencies and escalation for a scope and a date: the service layer
over the pure analyses of issues.graphs and owners.escalation.

Each read loads compact rows in a few SQL queries (no pandas), calls the pure functions and
returns plain data (dicts, lists, ISO dates) that the page, the CLI and JSON can use as they are.
The scope is always the one the caller built with `audit.figures.scope_for(db, actor, …)`, so
it is already narrowed to what the actor may see.

As of a past date, issue states come from history (audit.views.issue_states) and so do measure
states, dependencies and the links between issues and causes (as the figures read
classification: as recorded on the date unless the scope asks for today's); cause titles are
read as they are now.
"""
from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import sqlite_utils

from audit.model import OPEN_STATUSES, Actor
from audit.store import org
from audit.store.db import rows
from audit.time_model import end_of
from audit import rules_views
from audit.views import (
    WARNING_SQL,
    Scope,
    figures_params,
    is_live,
    link_rows_sql,
    scope_for,
    state_cte,
)
from issues import dependency_model
from issues import graph_model as graphs
from issues.dependency_model import IssueDeadline, MeasureNode
from issues.graph_model import CauseNode, Edge, IssueNode, SourceMeasure
from owners.escalation_model import (
    EscalationDue,
    IssueForEscalation,
    Thresholds,
    UnitNode,
    due_escalations,
    review_thresholds_from_settings,
    thresholds_from_settings,
)

# Warning colours of the issue nodes in the cause graph (fill, border): the dashboard's 红黄绿.
WARNING_COLOURS = {"red": ("#f8d0cf", "#c62828"), "amber": ("#fde7c2", "#e08a00"),
                   "green": ("#d5ecd4", "#2e7d32"), "none": ("#eeeeee", "#9e9e9e")}
DOT_FONT = "Noto Sans CJK SC"


def _plain(obj: Any) -> dict:
    """A dataclass's fields as a dict. Shallow on purpose: dataclasses.asdict deep-copies every
    tuple, which took 3 of the 4 seconds of a 20,000-step escalation list."""
    return dict(vars(obj))


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


# --- loading compact rows ------------------------------------------------------------------


def issue_rows(db: sqlite_utils.Database, scope: Scope, as_of: date,
               live: bool | None = None) -> list[sqlite3.Row]:
    """The issues in scope at `as_of` (rows read by name: id, code, title, status, unit_id,
    amount, deadline, responsible_person_id, category_code, warning), as
    audit.figures.issue_states gives them but without the columns, the ordering and the dicts
    the graphs do not need: a third of its time on 40,000 issues."""
    if live is None:
        live = is_live(db, as_of)
    params: dict = figures_params(db, as_of)
    # The warning colour as issue_states decides it.
    sql = state_cte(scope, as_of, params, live=live) + f"""
        SELECT st.id, st.code, st.title, st.status, st.unit_id, st.amount, st.deadline,
               st.responsible_person_id, st.category_code, {WARNING_SQL} AS warning
        FROM st"""
    cur = db.conn.cursor()
    cur.row_factory = sqlite3.Row  # by name, without building a dict per issue
    return cur.execute(sql, params).fetchall()


@dataclass
class CauseInputs:
    """What the cause analyses need for one scope and date: issues (as IssueNode), their state
    rows by id (code, title, warning, …), the links, the causes and the source-level measures."""

    as_of: date
    issues: list[IssueNode]
    states: dict[int, Mapping]
    links: list[tuple[int, int]]
    causes: list[CauseNode]
    source_measures: list[SourceMeasure]


def _audit_years(db: sqlite_utils.Database) -> dict[int, list[int]]:
    """issue id → the years of the audits that found it."""
    out: dict[int, list[int]] = defaultdict(list)
    for iid, year in db.conn.execute(
            "SELECT s.issue_id, a.year FROM issue_sources s JOIN audits a ON a.id = s.audit_id"):
        out[iid].append(year)
    return out


def _measure_states(db: sqlite_utils.Database, as_of: date, live: bool, where: str = "1 = 1",
                    params: tuple = ()) -> list[dict]:
    """The measures matching `where` (SQL on alias m, with `params`) that existed at `as_of`:
    id, issue_id, cause_id, deadline, status, completed_on (from history when something was
    recorded after as_of)."""
    end = end_of(as_of)
    ms = rows(db, "SELECT m.id, m.issue_id, m.cause_id, m.deadline, m.status, m.completed_on "
                  f"FROM measures m WHERE ({where}) AND m.created_at < ?", (*params, end))
    if live or not ms:
        return ms
    # One pass over these measures' history instead of a correlated subquery per field and row.
    past: dict[int, dict[str, Any]] = defaultdict(dict)
    ids = json.dumps([m["id"] for m in ms])
    for mid, fld, new in db.conn.execute(
            "SELECT entity_id, field, new FROM history WHERE entity = 'measure' AND entity_id IN "
            "(SELECT value FROM json_each(?)) AND field IN ('status', 'deadline', "
            "'completed_on') AND at < ? ORDER BY seq", (ids, end)):
        past[mid][fld] = new
    for m in ms:
        m.update(past.get(m["id"], {}))
    return ms


def _dependency_edges(db: sqlite_utils.Database, as_of: date, live: bool
                      ) -> list[tuple[int, int]]:
    """Measure dependencies (measure, depends_on) as they stood at `as_of`."""
    if live:
        return [(a, b) for a, b in db.conn.execute(
            "SELECT measure_id, depends_on_id FROM measure_deps")]
    last: dict[int, str] = {}
    for mid, new in db.conn.execute(
            "SELECT entity_id, new FROM history WHERE entity = 'measure' AND field = "
            "'depends_on' AND at < ? ORDER BY seq", (end_of(as_of),)):
        last[mid] = new
    return [(m, d) for m, text in last.items() for d in json.loads(text or "[]")]


def load_cause_inputs(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                      rows: Sequence[Mapping] | None = None) -> CauseInputs:
    """The issues in scope at `as_of` with their causes, in four queries. `rows`: the issue
    rows of this scope and date when the caller has read them already (issue_rows, or
    audit.figures.issue_states, which has the same columns and more)."""
    live = is_live(db, as_of)
    states = {r["id"]: r for r in (issue_rows(db, scope, as_of, live) if rows is None
                                   else rows)}
    years = _audit_years(db)
    issues = [IssueNode(id=i, code=r["code"], title=r["title"], status=r["status"],
                        unit_id=r["unit_id"], amount=r["amount"] or 0.0,
                        overdue=r["warning"] == "red", audit_years=tuple(years.get(i, ())),
                        category=r["category_code"])
              for i, r in states.items()]
    links = [(i, c) for i, c in db.conn.execute(
        "SELECT issue_id, target_id FROM " + link_rows_sql(
            "causes", live=live, classification=scope.classification), {"end": end_of(as_of)})
        if i in states]
    linked = {c for _, c in links}
    # Only the causes behind issues in scope: a city manager has no use for the region's others.
    causes = [CauseNode(c, code, title) for c, code, title in
              db.conn.execute("SELECT id, code, title FROM causes") if c in linked]
    source = [SourceMeasure(m["cause_id"], m["status"], m["id"])
              for m in _measure_states(db, as_of, live, "m.cause_id IS NOT NULL")
              if m["cause_id"] in linked]
    return CauseInputs(as_of, issues, states, links, causes, source)


# --- root causes ---------------------------------------------------------------------------


def _rank_dict(r: graphs.CauseRank) -> dict:
    d = _plain(r)
    d["fixed_at_source"] = r.fixed_at_source
    d["audit_years"] = list(r.audit_years)
    d["unit_ids"] = list(r.unit_ids)
    d["issue_ids"] = list(r.issue_ids)
    d["open_issue_ids"] = list(r.open_issue_ids)
    return d


def cause_ranking(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                  inputs: CauseInputs | None = None) -> list[dict]:
    """The causes behind issues in scope, ranked by open issues, money involved in them, then
    open overdue issues (see graphs.rank_causes); each with its 屡审屡犯 flag (`recurring`: found
    in audits of different years), its 共性问题 flag (`common`: found in several units) and
    whether it is fixed at the source. Pass `inputs` to reuse rows already loaded."""
    inputs = inputs or load_cause_inputs(db, scope, as_of)
    return [_rank_dict(r) for r in graphs.rank_causes(inputs.issues, inputs.links,
                                                       inputs.causes, inputs.source_measures)]


def cover(db: sqlite_utils.Database, scope: Scope, as_of: date, k: int, *,
          inputs: CauseInputs | None = None) -> dict:
    """The k causes whose fixing addresses the most open issues in scope (greedy max-coverage):
    {k, chosen: [{cause_id, code, title, gain, covered_after}], covered, open_total, share,
    covered_issue_ids}. `share` counts open issues with no recorded cause in the total.
    Raises ValueError for k < 0."""
    inputs = inputs or load_cause_inputs(db, scope, as_of)
    res = graphs.greedy_cover(inputs.issues, inputs.links, inputs.causes, k)
    return {"k": k, "chosen": [_plain(s) for s in res.chosen], "covered": res.covered,
            "open_total": res.open_total, "share": res.share,
            "covered_issue_ids": list(res.covered_issue_ids)}


def dot_issue_ids(ranking: list[Mapping], top: int, max_issues_per_cause: int) -> list[int]:
    """The open issues cause_dot draws for these arguments, in drawing order, each once."""
    out: dict[int, None] = {}
    for r in [r for r in ranking if r["open_issues"]][:top]:
        out.update(dict.fromkeys(list(r["open_issue_ids"])[:max_issues_per_cause]))
    return list(out)


def _label_inches(text: str, fontsize: int = 11) -> float:
    """The width a one-line label needs, in inches. Graphviz underestimates CJK text (it
    measures with Latin metrics), so labels overflow their boxes unless the width is given."""
    units = sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6 for ch in text)
    return round(units * fontsize / 72 + 0.3, 2)


def _dot_text(s: str, limit: int = 0) -> str:
    """A string safe inside a DOT double-quoted attribute, cut to `limit` characters."""
    if limit and len(s) > limit:
        s = s[:limit - 1] + "…"
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def cause_dot(ranking: list[Mapping], states: Mapping[int, Mapping], *, top: int = 8,
              max_issues_per_cause: int = 12, lang: str = "zh",
              more_label: str = "+{n}", open_label: str = "{n}",
              recurring_label: str = "屡审屡犯", fixed_label: str = "源头已整改",
              common_label: str = "共性问题", links: bool = True) -> str:
    """The bipartite issue↔cause graph as a DOT string: the `top` causes of `ranking` (boxes,
    red border when recurring, green fill when fixed at the source) on the left, their open
    issues (ellipses filled by warning colour; with `links`, each linking to its issue page) on
    the right. In the app, pass links=False: following an SVG link loads the page afresh, which
    starts a new Streamlit session and so asks the user to sign in again.
    At most `max_issues_per_cause` issues are drawn per cause; the rest become one "+N" node,
    so that a cause behind hundreds of issues still draws a legible graph. Pure."""
    lines = ["graph causes {", "  rankdir=LR; ranksep=1.2; nodesep=0.12; splines=true;",
             f'  node [fontname="{DOT_FONT}", fontsize=11];',
             '  edge [color="#9e9e9e", penwidth=0.8];']
    drawn: set[int] = set()
    shown = [r for r in ranking if r["open_issues"]][:top]
    for r in shown:
        tags = []
        if r["recurring"]:
            tags.append(recurring_label)
        if r.get("common"):
            tags.append(common_label)
        if r["fixed_at_source"]:
            tags.append(fixed_label)
        first = f'{r["code"]} {_dot_text(r["title"], 14)}'
        second = " · ".join([open_label.format(n=r["open_issues"]), *tags])
        label = f"{first}\\n{second}"
        style = ['shape=box', 'style="rounded,filled"',
                 f"width={max(_label_inches(first), _label_inches(second))}",
                 f'fillcolor="{"#d5ecd4" if r["fixed_at_source"] else "#e8eef7"}"',
                 f'color="{"#c62828" if r["recurring"] else "#4a6fa5"}"',
                 f'penwidth={2.2 if r["recurring"] else 1.0}',
                 f'tooltip="{_dot_text(r["code"] + " " + r["title"])}"']
        lines.append(f'  c{r["cause_id"]} [label="{label}", {", ".join(style)}];')
        open_ids = list(r["open_issue_ids"])
        for iid in open_ids[:max_issues_per_cause]:
            if iid not in drawn and iid in states:
                s = states[iid]
                fill, border = WARNING_COLOURS.get(s["warning"] or "none",
                                                   WARNING_COLOURS["none"])
                attrs = [f'label="{_dot_text(s["code"])}"', "shape=ellipse", "style=filled",
                         f'width={_label_inches(s["code"]) + 0.2}', f'fillcolor="{fill}"',
                         f'color="{border}"',
                         f'tooltip="{_dot_text(s["code"] + " " + (s["title"] or ""))}"']
                if links:
                    attrs += [f'URL="issue?id={iid}&lang={lang}"', 'target="_self"']
                lines.append(f'  i{iid} [{", ".join(attrs)}];')
                drawn.add(iid)
            if iid in drawn:
                lines.append(f'  c{r["cause_id"]} -- i{iid};')
        rest = len(open_ids) - max_issues_per_cause
        if rest > 0:
            lines.append(f'  more{r["cause_id"]} [label="{_dot_text(more_label.format(n=rest))}",'
                         f' shape=plaintext, fontcolor="#666666"];')
            lines.append(f'  c{r["cause_id"]} -- more{r["cause_id"]} [style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def issue_source_fixes(db: sqlite_utils.Database, issue_id: int) -> list[dict]:
    """The causes of an issue that are fixed at the source (every source-level measure done):
    [{cause_id, code, title, measures: [{id, title, completed_on}]}], by cause code."""
    links = [(issue_id, c) for (c,) in db.conn.execute(
        "SELECT cause_id FROM issue_causes WHERE issue_id = ?", (issue_id,))]
    if not links:
        return []
    ids = ",".join(str(c) for _, c in links)
    ms = rows(db, f"SELECT id, cause_id, title, status, completed_on FROM measures "
                  f"WHERE cause_id IN ({ids}) ORDER BY id")
    fixed = graphs.issue_causes_fixed_at_source(links, ms).get(issue_id, [])
    if not fixed:
        return []
    marks = ",".join(str(c) for c in fixed)
    causes = rows(db, f"SELECT id, code, title FROM causes WHERE id IN ({marks}) ORDER BY code")
    return [{"cause_id": c["id"], "code": c["code"], "title": c["title"],
             "measures": [{"id": m["id"], "title": m["title"],
                           "completed_on": m["completed_on"]}
                          for m in ms if m["cause_id"] == c["id"]]} for c in causes]


# --- measure dependencies ------------------------------------------------------------------


def _link_dict(link: dependency_model.ChainLink, in_scope: Mapping[int, str], cause_codes: dict[int, str],
               measure_cause: dict[int, int]) -> dict:
    """A chain link as shown: the issue code when the issue is in scope, the cause code for a
    source-level measure, else only the fact that it lies outside the scope."""
    out = {"measure_id": link.measure_id, "issue_id": None, "issue_code": None,
           "cause_code": None, "outside_scope": False, "finish": _iso(link.finish)}
    if link.issue_id is None:
        out["cause_code"] = cause_codes.get(measure_cause.get(link.measure_id, -1))
    elif link.issue_id in in_scope:
        out["issue_id"], out["issue_code"] = link.issue_id, in_scope[link.issue_id]
    else:
        out["outside_scope"] = True
    return out


def _link_label(d: Mapping) -> str:
    if d["issue_code"]:
        return d["issue_code"]
    if d["cause_code"]:
        return d["cause_code"]
    return "*"


def _reachable(edges: list[tuple[int, int]], start: Iterable[int]) -> set[int]:
    """Every measure that one of `start` waits for, at any depth (one search from all of them
    at once, over plain dicts: cheaper than a DiGraph and a search per measure)."""
    succ: dict[int, list[int]] = defaultdict(list)
    for m, d in edges:
        succ[m].append(d)
    seen: set[int] = set()
    todo = [m for m in start if m in succ]
    while todo:
        for d in succ.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def _blocked_inputs(db: sqlite_utils.Database, scope: Scope, as_of: date
                    ) -> tuple[list[sqlite3.Row], list[IssueDeadline], list[dict], list[Edge]]:
    """The rows the blocked-issue check needs: issue states in scope, the candidate issues,
    their measures with everything those wait for, and the dependencies.

    Only some issues can be blocked (graphs.blocked_issues): open, with an open measure (a done
    one ignores what it waits for, and with every measure done the issue's finish is its own),
    so with a deadline on or after as_of (an open measure cannot finish before as_of); and
    with at least one measure that waits for something. An issue's earliest finish depends
    only on its own measures and what they wait for, at any depth. Loading just those gives the
    same answer as loading every measure, at a fraction of the cost on a provincial programme."""
    live = is_live(db, as_of)
    states = issue_rows(db, scope, as_of, live)
    edges = _dependency_edges(db, as_of, live)
    day = as_of.isoformat()
    maybe = {r["id"] for r in states if r["status"] in OPEN_STATUSES
             and r["deadline"] is not None and r["deadline"] >= day}
    if not edges or not maybe:
        return states, [], [], edges
    with_deps = {i for (i,) in db.conn.execute(
        "SELECT DISTINCT issue_id FROM measures WHERE issue_id IS NOT NULL AND id IN "
        "(SELECT value FROM json_each(?))", (json.dumps(sorted({m for m, _ in edges})),))}
    issues = [IssueDeadline(r["id"], r["code"], date.fromisoformat(r["deadline"][:10]),
                            r["status"])
              for r in states if r["id"] in maybe and r["id"] in with_deps]
    if not issues:
        return states, [], [], edges
    own = _measure_states(db, as_of, live, "m.issue_id IN (SELECT value FROM json_each(?))",
                          (json.dumps([i.id for i in issues]),))
    reach = _reachable(edges, (m["id"] for m in own)) - {m["id"] for m in own}
    more = _measure_states(db, as_of, live, "m.id IN (SELECT value FROM json_each(?))",
                           (json.dumps(sorted(reach)),)) if reach else []
    return states, issues, own + more, edges


def blocked(db: sqlite_utils.Database, scope: Scope, as_of: date) -> list[dict]:
    """Open issues in scope that will miss their deadline only because of what they wait for
    (graphs.blocked_issues): {issue_id, code, deadline, earliest_finish, own_finish, days_late,
    chain: [labels], links: [{measure_id, issue_id, issue_code, cause_code, outside_scope,
    finish}], root, truncated}, by deadline. Dependencies outside the scope count (a wait is
    real wherever it is), but only their measure ids are shown; the chain label of such a link
    is "*", of a source-level measure its cause code."""
    states, issues, ms, edges = _blocked_inputs(db, scope, as_of)
    if not issues:
        return []
    days: dict[str | None, date | None] = {None: None, "": None}

    def day(text: str | None) -> date | None:
        # Few distinct dates among many measures: parse each once.
        if text not in days:
            days[text] = date.fromisoformat(text[:10])  # type: ignore[index]
        return days[text]
    measures = [MeasureNode(m["id"], m["issue_id"], "", day(m["deadline"]), m["status"],
                            day(m["completed_on"])) for m in ms]
    found = dependency_model.blocked_issues(issues, measures, edges, as_of)
    in_scope = {r["id"]: r["code"] for r in states}
    measure_cause = {m["id"]: m["cause_id"] for m in ms if m["cause_id"] is not None}
    cause_codes = dict(db.conn.execute("SELECT id, code FROM causes")) if measure_cause else {}
    out = []
    for b in found:
        links = [_link_dict(x, in_scope, cause_codes, measure_cause) for x in b.chain]
        labels: list[str] = []
        for d in links:
            lab = _link_label(d)
            if not labels or labels[-1] != lab:
                labels.append(lab)
        out.append({"issue_id": b.issue_id, "code": b.code, "deadline": _iso(b.deadline),
                    "earliest_finish": _iso(b.earliest_finish), "own_finish": _iso(b.own_finish),
                    "days_late": b.days_late, "chain": labels, "links": links,
                    "root": _link_dict(b.root, in_scope, cause_codes, measure_cause)
                    if b.root else None, "truncated": b.truncated})
    return out


def measure_dependencies(db: sqlite_utils.Database, issue_id: int, *,
                         as_of: date | None = None) -> list[dict]:
    """For each measure of an issue, what it waits for and what waits for it, directly and at
    any depth: [{id, title, status, deadline, waits_for, waits_for_all, waited_by,
    waited_by_all}], each list of {id, title, status, deadline, issue_id, issue_code,
    cause_code} sorted by id. With `as_of`, each measure also gets `earliest_finish` (ISO date,
    or None when unknown). The caller checks that the issue is visible to the actor."""
    own = rows(db, "SELECT id, title, status, deadline FROM measures WHERE issue_id = ? "
                   "ORDER BY id", (issue_id,))
    if not own:
        return []
    g = dependency_model.dependency_graph(graphs._pairs(rows(db, "SELECT measure_id, depends_on_id "
                                                       "FROM measure_deps"),
                                              "measure_id", "depends_on_id"))
    related: dict[int, dict[str, set[int]]] = {}
    wanted: set[int] = set()
    for m in own:
        r = {"waits_for": dependency_model.waits_for(g, m["id"]),
             "waits_for_all": dependency_model.waits_for(g, m["id"], transitive=True),
             "waited_by": dependency_model.waited_by(g, m["id"]),
             "waited_by_all": dependency_model.waited_by(g, m["id"], transitive=True)}
        related[m["id"]] = r
        wanted |= r["waits_for_all"] | r["waited_by_all"]
    info: dict[int, dict] = {}
    if wanted:
        marks = ",".join(str(i) for i in sorted(wanted))
        for r in rows(db, f"SELECT m.id, m.title, m.status, m.deadline, m.issue_id, "
                          f"i.code AS issue_code, c.code AS cause_code FROM measures m "
                          f"LEFT JOIN issues i ON i.id = m.issue_id "
                          f"LEFT JOIN causes c ON c.id = m.cause_id WHERE m.id IN ({marks})"):
            info[r["id"]] = r
    finish: dict[int, date | None] = {}
    if as_of is not None:
        # Earliest finish needs every measure the issue's measures wait for, at any depth.
        need = {m["id"] for m in own}.union(*(r["waits_for_all"] for r in related.values()))
        marks = ",".join(str(i) for i in sorted(need))
        ms = rows(db, f"SELECT id, issue_id, deadline, status, completed_on FROM measures "
                      f"WHERE id IN ({marks})")
        sub = g.subgraph(need)
        finish = dependency_model.earliest_finish(ms, nx.DiGraph(sub), as_of)
    out = []
    for m in own:
        d = dict(m)
        for key, ids in related[m["id"]].items():
            d[key] = [info[i] for i in sorted(ids) if i in info]
        if as_of is not None:
            d["earliest_finish"] = _iso(finish.get(m["id"]))
        out.append(d)
    return out


def units_in_scope(db: sqlite_utils.Database, actor: Actor) -> list[dict]:
    """The units an actor may filter by (id, code, name, level): region first, then by code, so
    that each city is followed by its counties."""
    found = rows(db, "SELECT id, code, name, level FROM units ORDER BY level <> 'region', code")
    return [u for u in found if actor.in_scope(u["id"])]


# --- escalation ----------------------------------------------------------------------------


def thresholds(db: sqlite_utils.Database) -> Thresholds:
    """The escalation thresholds from the settings table."""
    return thresholds_from_settings(dict(db.conn.execute(
        "SELECT key, value FROM settings WHERE key LIKE 'escalation.%'")))


def _recorded_steps(db: sqlite_utils.Database, as_of: date) -> set[tuple[int, str]]:
    """(issue id, step) already recorded for an as-of date on or before `as_of`."""
    return {(i, s) for i, s in db.conn.execute(
        "SELECT issue_id, step FROM escalations WHERE as_of <= ?", (as_of.isoformat(),))}


def _due_dict(e: EscalationDue, names: Mapping[str, Mapping[int, str]]) -> dict:
    d = _plain(e)
    d["deadline"] = _iso(e.deadline)
    d["skipped"] = list(e.skipped)
    d["target_person"] = names["people"].get(e.target_person_id) \
        if e.target_person_id is not None else None
    d["target_unit"] = names["units"].get(e.target_unit_id)
    d["unit"] = names["units"].get(e.unit_id)
    return d


def _names(db: sqlite_utils.Database) -> dict[str, dict[int, str]]:
    return {"people": dict(db.conn.execute("SELECT id, name FROM people")),
            "units": dict(db.conn.execute("SELECT id, name FROM units"))}


def escalations_due(db: sqlite_utils.Database, scope: Scope, as_of: date, *,
                    rows: Sequence[Mapping] | None = None) -> list[dict]:
    """The escalation step each overdue open issue in scope has reached as of `as_of` and that
    is not yet recorded (owners.escalation.due_escalations, thresholds from settings, working
    days on the stored calendar): {issue_id, code, step, overdue_working_days, deadline,
    target_person_id, target_person, target_unit_id, target_unit, unit_id, unit, skipped}, most
    overdue first. `rows` as for load_cause_inputs. Raises UnitTreeBroken when the unit tree is
    broken."""
    issues = [IssueForEscalation(r["id"], r["code"], r["unit_id"], r["responsible_person_id"],
                                 graphs._as_date(r["deadline"]), r["status"])
              for r in (issue_rows(db, scope, as_of) if rows is None else rows)
              if r["warning"] == "red"]
    units = [UnitNode(*r) for r in db.conn.execute(
        "SELECT id, parent_id, head_person_id FROM units")]
    settings = dict(db.conn.execute(
        "SELECT key, value FROM settings WHERE key LIKE 'escalation.%'"))
    reds = {iid: c.consecutive for iid, c in rules_views.red_counts(db, as_of).items()
            if c.consecutive}
    dues = due_escalations(issues, units, org.load_calendar(db), as_of,
                           thresholds(db), _recorded_steps(db, as_of), consecutive_reds=reds,
                           review=review_thresholds_from_settings(settings))
    names = _names(db) if dues else {"people": {}, "units": {}}
    return [_due_dict(e, names) for e in dues]


def chase_list_for(db: sqlite_utils.Database, actor: Actor, as_of: date) -> list[dict]:
    """"What I must chase": the due escalations (in the actor's scope) whose target is the
    actor's own person, most overdue first; empty for a user who is no person."""
    if actor.person_id is None:
        return []
    return [d for d in escalations_due(db, scope_for(db, actor), as_of)
            if d["target_person_id"] == actor.person_id]


def _key(d: EscalationDue | Mapping) -> tuple[int, str]:
    if isinstance(d, EscalationDue):
        return d.issue_id, d.step
    return int(d["issue_id"]), str(d["step"])


def escalation_history(db: sqlite_utils.Database, scope: Scope) -> list[dict]:
    """The steps recorded for issues in scope, newest first: {issue_id, code, step, as_of,
    target_person, target_unit, recorded_by, at, note}."""
    from audit.views import scope_filter
    params: dict = {}
    where = scope_filter(scope, params)
    return rows(db, f"""
        SELECT e.issue_id, i.code, e.step, e.as_of, p.name AS target_person,
               u.name AS target_unit, us.username AS recorded_by, e.at, e.note
        FROM escalations e JOIN issues i ON i.id = e.issue_id
        JOIN aspects a ON a.id = i.aspect_id JOIN categories c ON c.id = a.category_id
        LEFT JOIN people p ON p.id = e.target_person_id
        LEFT JOIN units u ON u.id = e.target_unit_id
        LEFT JOIN users us ON us.id = e.recorded_by
        WHERE 1 = 1 {where} ORDER BY e.at DESC, i.code""", params)


__all__ = ["CauseInputs", "load_cause_inputs", "cause_ranking", "cover", "cause_dot",
           "dot_issue_ids", "units_in_scope", "issue_source_fixes", "blocked",
           "measure_dependencies", "thresholds", "escalations_due", "chase_list_for",
           "escalation_history"]
