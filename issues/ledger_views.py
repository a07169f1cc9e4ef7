"""The issues of a scope as of a date, gathered for the 整改台账 and the Word pack: a read model.

`gather_issues` runs a handful of set-based queries for a scope (no query per issue: the
40,000-issue region export must take seconds). From what it gathers, `Gathered.summary` and
`Gathered.details` make what the Word pack shows of each issue, `issue_records` whole
IssueRecords, and `ledger_rows_for` the LedgerRows of the ledger, made one at a time while the
sheet is written (equal to `ledger_rows(issue_records(...))`). LedgerRows are
what `issues.ledger_read_format.read_ledger` reads back: the normalisations the reader applies (stripped
short texts, XML-forbidden characters as U+FFFD, money to the fen) are applied here, so
export → import changes nothing.

Conventions of the ledger form (documented for the import service):
- an issue found by several audits lists them all in 审计项目 and 报告文号 joined by '；', with the
  year and level of the earliest audit (the ledger has one year/level cell);
- a root cause whose title holds a separator (； ; or a line break) is written with '，' instead,
  and a measure owner holding a character the one-line form reserves (brackets, colons,
  semicolons) has it replaced by a space: the reader would otherwise split or misread them.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple, overload

import sqlite_utils

from audit.model import code_key
from audit.store.db import rows
from audit.text_format import has_xml_forbidden, xml_safe
from audit.views import (
    ISSUE_LINK_TABLES,
    Scope,
    is_live,
    issue_states,
    link_rows_sql,
    then_value_sql,
)
from issues.ledger_format import (
    REMARKS_HEADER,
    LedgerRow,
    MeasureLine,
    measure_line_text,
    number_measure_lines,
)

Progress = Callable[[str, int, int], None]

FIRST_DATA_ROW = 3  # write_ledger: title on row 1, header on row 2
_CAUSE_SEPARATORS = re.compile(r"[;；\r\n]+")
_OWNER_RESERVED = re.compile(r"[()（）;；:：\r\n]+")
_LINE_BREAKS = re.compile(r"[\r\n]+")


def _stream_rank(code: str) -> tuple[int, str]:
    """Work streams in the ledger's order: cleanup, audit, then those a lead created."""
    return ({"cleanup": 0, "audit": 1}.get(code, 2), code)


@dataclass
class IssueRecord:
    """One issue in scope as of a date, with everything the ledger and the appendix show."""

    id: int
    code: str
    title: str
    description: str
    category_code: str
    category_name: str
    aspect_code: str
    aspect_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    amount: float
    basis: str
    recommendation: str
    rectification_type: str
    progress: str
    severity: str
    status: str
    deadline: str | None
    original_deadline: str | None
    closed_on: str | None
    created_on: str
    warning: str
    responsible_person_id: int | None
    responsible: str
    supervisor: str
    sources: list[dict] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    causes: list[dict] = field(default_factory=list)
    measures: list[dict] = field(default_factory=list)
    accountability: list[dict] = field(default_factory=list)
    amount_corrected: float = 0.0
    amount_recovered: float = 0.0
    evidence: list[str] = field(default_factory=list)   # file names, in upload order
    remarks: str = ""                                     # the kept 备注 column


class IssueSummary(NamedTuple):
    """What the Word pack's figures and lists show of an issue (its appendix reads the rest
    from `Gathered.details`, one issue at a time)."""

    id: int
    code: str
    title: str
    category_code: str
    category_name: str
    unit_id: int
    unit_name: str
    responsible: str
    deadline: str | None
    status: str
    warning: str


class IssueDetails(NamedTuple):
    """The rest of what the Word pack's appendix prints of an issue: sources and causes as in
    IssueRecord, measures as (title, owner name, deadline, status) and accountability as
    (not_applicable, person_name, action, reason) tuples."""

    aspect_name: str
    description: str
    amount: float
    progress: str
    supervisor: str
    sources: tuple[dict, ...]
    causes: tuple[dict, ...]
    measures: tuple[tuple, ...]
    accountability: tuple[tuple, ...]


def issue_records(db: sqlite_utils.Database, scope: Scope, as_of: dt.date,
                  on_progress: Progress | None = None) -> list[IssueRecord]:
    """Every issue in `scope` as of `as_of` (state from history, classification as now), ordered
    by category, aspect and code, with sources, streams, focus, causes, measures and
    accountability attached."""
    found = gather_issues(db, scope, as_of, on_progress)
    return [found.record(s) for s in found.states]


@dataclass
class Gathered:
    """What the queries for a scope found: the issues' states in ledger order and, by issue id,
    their details, link ids, measure rows and accountability rows. Records and ledger rows are
    made from it one issue at a time, on demand."""

    states: list[dict]
    detail: dict[int, tuple]
    people: dict[int, str]
    audits: dict[int, dict]
    causes: dict[int, dict]
    streams: dict[int, str]
    focus: dict[int, str]
    links: dict[str, dict[int, str]]
    measures: dict[int, tuple[tuple, ...]]
    accountability: dict[int, tuple[tuple, ...]]
    owners: dict[int, str | None] = field(default_factory=dict)  # person id → owner_line
    # amounts (corrected, recovered), evidence file names and the kept 备注, by issue id
    achieved: dict[int, tuple[float, float]] = field(default_factory=dict)
    evidence: dict[int, tuple[tuple, ...]] = field(default_factory=dict)
    remarks: dict[int, str] = field(default_factory=dict)
    # link table → {id list text → what _linked makes of it}: the same few combinations of
    # sources, streams, focus points and causes recur across thousands of issues.
    _resolved: dict[str, dict[str | None, tuple]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.owners = {pid: owner_line(name) for pid, name in self.people.items()}
        self._resolved = {table: {} for table in self.links}

    def record(self, s: dict) -> IssueRecord:
        """The IssueRecord of one state row."""
        iid = s["id"]
        (_, description, basis, recommendation, rtype, progress, severity, supervisor,
         aspect_code, aspect_name, category_name, unit_code, unit_name) = self.detail[iid]
        people = self.people
        sources, streams, focus, causes = map(list, self._linked(iid))  # the record's own lists
        corrected, recovered = self.achieved.get(iid, (0.0, 0.0))
        return IssueRecord(
            id=iid, code=s["code"], title=s["title"], description=description,
            category_code=s["category_code"], category_name=category_name,
            aspect_code=aspect_code, aspect_name=aspect_name, unit_id=s["unit_id"],
            unit_code=unit_code, unit_name=unit_name, amount=s["amount"] or 0.0,
            basis=basis, recommendation=recommendation, rectification_type=rtype,
            progress=progress, severity=severity, status=s["status"], deadline=s["deadline"],
            original_deadline=s["original_deadline"], closed_on=s["closed_on"],
            created_on=s["created_on"], warning=s["warning"],
            responsible_person_id=s["responsible_person_id"],
            responsible=people.get(s["responsible_person_id"], ""),
            supervisor=people.get(supervisor, ""), sources=sources, streams=streams,
            focus=focus, causes=causes,
            measures=[{"id": m[1], "title": m[2], "owner_person_id": m[3],
                       "owner": people.get(m[3], ""), "deadline": m[4], "status": m[5],
                       "completed_on": m[6]}
                      for m in self.measures.get(iid, ())],
            accountability=[{"not_applicable": a[1], "person_name": a[2], "action": a[3],
                             "reason": a[4], "penalty_amount": a[5]}
                            for a in self.accountability.get(iid, ())],
            amount_corrected=corrected, amount_recovered=recovered,
            evidence=[e[1] for e in self.evidence.get(iid, ())],
            remarks=self.remarks.get(iid, ""))

    def summary(self, s: dict) -> IssueSummary:
        """The IssueSummary of one state row (the same values as its IssueRecord)."""
        (*_, category_name, _, unit_name) = self.detail[s["id"]]
        return IssueSummary(s["id"], s["code"], s["title"], s["category_code"], category_name,
                            s["unit_id"], unit_name,
                            self.people.get(s["responsible_person_id"], ""), s["deadline"],
                            s["status"], s["warning"])

    def details(self, s: dict) -> IssueDetails:
        """The IssueDetails of one state row (the same values as its IssueRecord)."""
        iid = s["id"]
        (_, description, _, _, _, progress, _, supervisor, _, aspect_name, *_) = self.detail[iid]
        people = self.people
        sources, _, _, causes = self._linked(iid)
        return IssueDetails(
            aspect_name, description, s["amount"] or 0.0, progress, people.get(supervisor, ""),
            sources, causes,
            tuple((m[2], people.get(m[3], ""), m[4], m[5]) for m in self.measures.get(iid, ())),
            tuple(a[1:5] for a in self.accountability.get(iid, ())))

    def ledger_row(self, s: dict, excel_row: int) -> LedgerRow:
        """The LedgerRow of one state row, equal to ledger_row(self.record(s), excel_row)
        without making the record."""
        return LedgerRow(excel_row, *_fields(_measure_lines, *self._row_args(s)))

    def ledger_fields(self, s: dict) -> tuple:
        """The fields of the LedgerRow of one state row, in LedgerRow order without excel_row,
        but with the measures as their cell text (format_measures of the row's measures): what
        write_ledger takes from `GatheredRows.field_tuples`, without per-measure objects."""
        return _fields(_measures_text, *self._row_args(s))

    def _row_args(self, s: dict) -> tuple:
        """The arguments of _fields (after the measures maker) for one state row."""
        iid = s["id"]
        (_, description, basis, recommendation, rtype, progress, _, supervisor,
         _, aspect_name, category_name, _, unit_name) = self.detail[iid]
        people, owners = self.people, self.owners
        sources, streams, focus, causes = self._linked(iid)
        return (s["code"], category_name, aspect_name, s["title"], description,
                sources, unit_name, people.get(s["responsible_person_id"], ""),
                people.get(supervisor, ""),
                [(m[2], owners.get(m[3]), m[4], m[5], m[6]) for m in self.measures.get(iid, ())],
                s["deadline"], progress, s["status"], s["warning"], s["amount"] or 0.0,
                rtype, basis, recommendation, streams, focus,
                [c["title"] for c in causes], s["closed_on"],
                *self.achieved.get(iid, (0.0, 0.0)),
                [a[1:] for a in self.accountability.get(iid, ())],
                [e[1] for e in self.evidence.get(iid, ())], self.remarks.get(iid, ""))

    def _linked(self, iid: int) -> tuple[tuple[dict, ...], tuple[str, ...], tuple[str, ...],
                                         tuple[dict, ...]]:
        """An issue's sources (by year and name), work streams (cleanup before audit), focus
        codes (sorted) and causes (by code). Shared tuples: each distinct list of link ids is
        resolved once."""
        links, resolved = self.links, self._resolved
        out = []
        for table in ("issue_sources", "issue_streams", "issue_focus", "issue_causes"):
            text = links[table].get(iid)
            memo = resolved[table]
            found = memo.get(text)
            if found is None:
                found = memo[text] = self._resolve(table, _ids(text))
            out.append(found)
        return tuple(out)  # type: ignore[return-value]

    def _resolve(self, table: str, ids: list[int]) -> tuple:
        """What one link table's ids of an issue stand for (see _linked)."""
        if table == "issue_sources":
            sources = [self.audits[a] for a in ids]
            if len(sources) > 1:
                sources.sort(key=lambda a: (a["year"], a["name"]))
            return tuple(sources)
        if table == "issue_streams":
            return tuple(sorted((self.streams[x] for x in ids), key=_stream_rank))
        if table == "issue_focus":
            return tuple(sorted(self.focus[x] for x in ids))
        causes = [self.causes[x] for x in ids]
        if len(causes) > 1:
            causes.sort(key=lambda c: c["code"])
        return tuple(causes)


def _ids(text: str | None) -> list[int]:
    """The ids of a comma-separated list (see _id_lists)."""
    return [int(x) for x in text.split(",")] if text else []


def gather_issues(db: sqlite_utils.Database, scope: Scope, as_of: dt.date,
                  on_progress: Progress | None = None) -> Gathered:
    """The issues in `scope` as of `as_of` (`states` in ledger order), from which records,
    summaries, details and ledger rows are made one issue at a time. Runs every query for the issues in `scope` as of `as_of`, in a few set-based queries, each
    one pass over its table in issue order, grouped here (flat rows cost half of per-issue JSON
    aggregates built by SQLite and parsed again)."""
    steps = 4
    states = issue_states(db, scope, as_of)
    if on_progress:
        on_progress("gather", 1, steps)
    everything = (scope.unit_ids is None and not scope.category_codes and not scope.stream
                  and not scope.focus)
    params = {"ids": json.dumps([s["id"] for s in states]),
              "end": f"{(as_of + dt.timedelta(days=1)).isoformat()}T00:00:00+08:00"}
    in_scope = "1" if everything else "{} IN (SELECT value FROM json_each(:ids))"
    # The classification (unit, aspect and so category, severity, type, supervisor) comes from
    # the states, as recorded on `as_of` (or as now under Scope.classification CURRENT); the
    # long texts are read as they are.
    texts = {r[0]: r[1:] for r in db.conn.execute(f"""
        SELECT i.id, i.description, i.basis, i.recommendation, i.progress FROM issues i
        WHERE {in_scope.format("i.id")}""", params)}
    aspects = {r[0]: r[1:] for r in db.conn.execute("SELECT id, code, name FROM aspects")}
    categories = dict(db.conn.execute("SELECT id, name FROM categories"))
    units = {r[0]: r[1:] for r in db.conn.execute("SELECT id, code, name FROM units")}
    detail: dict[int, tuple] = {}
    for st in states:
        iid = st["id"]
        description, basis, recommendation, progress = texts[iid]
        aspect_code, aspect_name = aspects[int(st["aspect_id"])]
        unit_code, unit_name = units[int(st["unit_id"])]
        supervisor = st["supervisor_person_id"]
        detail[iid] = (iid, description, basis, recommendation, st["rectification_type"],
                       progress, st["severity"], int(supervisor) if supervisor else None,
                       aspect_code, aspect_name, categories[int(st["category_id"])],
                       unit_code, unit_name)
    live = is_live(db, as_of)
    links = {table: _id_lists(db, field_name, column, in_scope, params, live=live,
                              classification=scope.classification)
             for field_name, (table, column) in ISSUE_LINK_TABLES.items()}
    if on_progress:
        on_progress("gather", 2, steps)
    measures = _grouped(db, f"""
        SELECT issue_id, id, title, owner_person_id, deadline, status, completed_on FROM measures
        WHERE issue_id IS NOT NULL AND created_at < :end AND {in_scope.format("issue_id")}
        ORDER BY issue_id, id""", params)
    # Records and files as of the date by when they were made (they are never edited; a merge
    # moves them to the surviving issue, as it moves measures).
    accountability = _grouped(db, f"""
        SELECT issue_id, not_applicable, person_name, action, reason, penalty_amount
        FROM accountability
        WHERE recorded_at < :end AND {in_scope.format("issue_id")}
        ORDER BY issue_id, id""", params)
    evidence = _grouped(db, f"""
        SELECT issue_id, filename FROM evidence
        WHERE uploaded_at < :end AND {in_scope.format("issue_id")}
        ORDER BY issue_id, id""", params)
    achieved, remarks = _achieved(db, in_scope, params, live), _remarks(db, in_scope, params, live)
    if on_progress:
        on_progress("gather", 3, steps)
    keys: dict[str, tuple] = {}

    def key(code: str) -> tuple:
        k = keys.get(code)
        if k is None:
            k = keys[code] = code_key(code)
        return k
    states.sort(key=lambda s: (key(s["category_code"]), key(detail[s["id"]][8]),
                               code_key(s["code"])))
    found = Gathered(
        states=states, detail=detail,
        people=dict(db.conn.execute("SELECT id, name FROM people")),
        audits={r["id"]: r for r in rows(db, "SELECT id, name, year, level, report_no "
                                             "FROM audits")},
        causes={r["id"]: r for r in rows(db, "SELECT id, code, title FROM causes")},
        streams=dict(db.conn.execute("SELECT id, code FROM streams")),
        focus=dict(db.conn.execute("SELECT id, code FROM focus_points")),
        links=links, measures=measures, accountability=accountability, achieved=achieved,
        evidence=evidence, remarks=remarks)
    if on_progress:
        on_progress("gather", steps, steps)
    return found


def _achieved(db: sqlite_utils.Database, in_scope: str, params: dict, live: bool
              ) -> dict[int, tuple[float, float]]:
    """issue id → (amount corrected, amount recovered) as of :end: from history for the issues
    with a record after :end (audit.views.then_value_sql), as they are for the rest."""
    if live:
        values = "i.amount_corrected, i.amount_recovered"
        chg = ""
    else:
        def then(f: str) -> str:
            return (f"CASE WHEN i.id IN (SELECT id FROM chg) THEN "
                    f"CAST({then_value_sql('issue', 'i.id', f, f'i.{f}')} AS REAL) "
                    f"ELSE i.{f} END")
        values = f"{then('amount_corrected')}, {then('amount_recovered')}"
        chg = ("WITH chg AS MATERIALIZED (SELECT DISTINCT entity_id AS id FROM history "
               "WHERE at >= :end AND +entity = 'issue') ")
    return {r[0]: (r[1] or 0.0, r[2] or 0.0) for r in db.conn.execute(
        f"{chg}SELECT i.id, {values} FROM issues i WHERE {in_scope.format('i.id')}", params)}


def _remarks(db: sqlite_utils.Database, in_scope: str, params: dict, live: bool
             ) -> dict[int, str]:
    """issue id → its kept 备注 (the extra column REMARKS_HEADER) as of :end."""
    value = "x.value" if live else then_value_sql("issue_extra", "x.issue_id", REMARKS_HEADER,
                                                  "x.value")
    return {r[0]: r[1] for r in db.conn.execute(
        f"SELECT x.issue_id, {value} FROM issue_extras x WHERE x.header = :remarks "
        f"AND {in_scope.format('x.issue_id')}", {**params, "remarks": REMARKS_HEADER})
        if r[1]}


def _id_lists(db: sqlite_utils.Database, field_name: str, column: str, in_scope: str,
              params: dict, *, live: bool, classification: str) -> dict[int, str]:
    """issue id → the ids its link set `field_name` held as of :end (audit.views.link_rows_sql),
    comma-separated in id order (split when a record is made: 150,000 small lists held at once
    would keep the garbage collector busy)."""
    source = link_rows_sql(field_name, live=live, classification=classification)
    return dict(db.conn.execute(f"""
        SELECT issue_id, group_concat(target_id) FROM (
            SELECT issue_id, CAST(target_id AS INTEGER) AS target_id FROM {source}
            WHERE {in_scope.format("issue_id")} ORDER BY issue_id, target_id)
        GROUP BY issue_id""", params))


def _grouped(db: sqlite_utils.Database, sql: str, params: dict) -> dict[int, tuple[tuple, ...]]:
    """The rows of `sql` (issue id first, ordered by it) grouped by issue id. Tuples, not lists:
    the garbage collector stops tracking tuples of plain values, so 200,000 measure rows are not
    walked again by every full collection while the sheet is written."""
    return {k: tuple(g) for k, g in groupby(db.conn.execute(sql, params), itemgetter(0))}


# --- LedgerRows ---------------------------------------------------------------------------------


def _short(text: str | None) -> str:
    """A short ledger field as the reader gives it back: XML-safe, surrounding space stripped."""
    return xml_safe(text or "").strip()


def _long(text: str | None) -> str:
    """A long free-text field: kept exactly, except characters XML cannot hold."""
    return xml_safe(text or "")


def _stripped(text: str | None) -> str:
    """_short for text known to be XML-safe."""
    return text.strip() if text else ""


def _kept(text: str | None) -> str:
    """_long for text known to be XML-safe."""
    return text or ""


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text[:10]) if text else None


def measure_line(m: dict) -> MeasureLine:
    """A measure as one ledger line; text the one-line form cannot hold is made to fit."""
    (line,) = _measure_lines([(m["title"], owner_line(m.get("owner")), m["deadline"],
                               m["status"], m.get("completed_on"))],
                             has_xml_forbidden(m["title"] or ""))
    return line


def owner_line(name: str | None) -> str | None:
    """A measure owner's name as the one-line form can hold it: XML-safe, stripped, with the
    characters the form reserves (brackets, colons, semicolons, line breaks) as spaces."""
    return _OWNER_RESERVED.sub(" ", _short(name)).strip() or None


def _measure_lines(measures: list[tuple], dirty: bool) -> tuple[MeasureLine, ...]:
    """MeasureLines from (title, owner line, deadline, status, completed on) tuples (the
    completion date kept only for a done measure). Made to satisfy
    format_measure_line (which write_ledger calls): a non-empty stripped single-line title;
    owners come cleaned by owner_line. `dirty`: a title may hold XML-forbidden characters."""
    return tuple(MeasureLine(_measure_title(title, dirty), owner, _date(deadline),
                             status == "done", _date(completed) if status == "done" else None)
                 for title, owner, deadline, status, completed in measures)


def _measures_text(measures: list[tuple], dirty: bool) -> str:
    """format_measures(_measure_lines(measures, dirty)) without the MeasureLines: the same
    titles, owners, deadlines and completion dates, given to the one definition of the line
    text."""
    return number_measure_lines([
        measure_line_text(_measure_title(title, dirty), owner,
                          _deadline_text(deadline) if deadline else None, status == "done",
                          _deadline_text(completed) if completed and status == "done"
                          else None)
        for title, owner, deadline, status, completed in measures])


def _measure_title(title: str, dirty: bool) -> str:
    """A measure's title as its ledger line holds it: stripped, on one line, never empty."""
    title = _short(title) if dirty else title.strip()
    if "\n" in title or "\r" in title:
        title = _LINE_BREAKS.sub(" ", title).strip()
    return title or "—"


@lru_cache(maxsize=4096)
def _deadline_text(deadline: str) -> str:
    """A stored date (a deadline or a completion date) as the measure line writes it:
    _date(deadline).isoformat() (a few hundred distinct dates are each converted once)."""
    return dt.date.fromisoformat(deadline[:10]).isoformat()


def ledger_row(rec: IssueRecord, excel_row: int) -> LedgerRow:
    """One issue as the ledger row the reader reads back from the exported file."""
    return _row(excel_row, rec.code, rec.category_name, rec.aspect_name, rec.title,
                rec.description, rec.sources, rec.unit_name, rec.responsible, rec.supervisor,
                [(m["title"], owner_line(m.get("owner")), m["deadline"], m["status"],
                  m.get("completed_on")) for m in rec.measures],
                rec.deadline, rec.progress, rec.status, rec.warning, rec.amount,
                rec.rectification_type, rec.basis, rec.recommendation, rec.streams, rec.focus,
                [c["title"] for c in rec.causes], rec.closed_on, rec.amount_corrected,
                rec.amount_recovered,
                [(a["not_applicable"], a["person_name"], a["action"], a["reason"],
                  a["penalty_amount"]) for a in rec.accountability],
                rec.evidence, rec.remarks)


def _row(excel_row: int, *args: Any) -> LedgerRow:
    """ledger_row from an issue's values (the arguments of _fields after its first)."""
    return LedgerRow(excel_row, *_fields(_measure_lines, *args))


def _fields(measures_as: Callable[[list[tuple], bool], Any], code: str, category: str,
            aspect: str, title: str, description: str, sources: list[dict], unit: str,
            responsible: str, supervisor: str, measures: list[tuple], deadline: str | None,
            progress: str, status: str, warning: str | None, amount: float | None,
            rectification_type: str, basis: str, recommendation: str, streams: list[str],
            focus: list[str], causes: list[str], closed_on: str | None,
            amount_corrected: float, amount_recovered: float, accountability: list[tuple],
            evidence: list[str], remarks: str) -> tuple:
    """The fields of an issue's LedgerRow in LedgerRow order (without excel_row), from its
    values: measures as (title, owner line, deadline, status, completed on), given to `measures_as` with
    whether a text may hold XML-forbidden characters (_measure_lines for the LedgerRow's
    MeasureLines, _measures_text for the cell text); causes as titles; accountability as
    (not_applicable, person name, action, reason, penalty); evidence as file names."""
    texts = [code, category, aspect, title, description, unit, responsible, supervisor,
             progress, basis, recommendation, remarks, *causes, *evidence]
    texts += [x for a in accountability for x in a[1:4]]
    texts += [s["name"] for s in sources]
    texts += [s["report_no"] for s in sources]
    texts += [m[0] for m in measures]
    # One scan of all the texts: nearly every issue is clean and skips the per-field
    # replacement of XML-forbidden characters.
    try:
        dirty = has_xml_forbidden("\n".join(filter(None, texts)))
    except TypeError:  # a value that is not text: the per-field path converts it
        dirty = True
    short, long = (_short, _long) if dirty else (_stripped, _kept)
    first = sources[0] if sources else None
    return (  # the order of LedgerRow's fields
        short(code), short(category), short(aspect), short(title), long(description),
        "；".join(short(s["name"]) for s in sources),                      # audit_name
        first["year"] if first else None, first["level"] if first else None,
        "；".join(r for r in (short(s["report_no"]) for s in sources) if r),  # report_no
        short(unit), short(responsible), short(supervisor),
        measures_as(measures, dirty),
        _date(deadline), long(progress), status,
        None if warning in (None, "none") else warning,
        round(float(amount or 0), 2),
        rectification_type, long(basis), long(recommendation),
        tuple(sorted(streams, key=_stream_rank)),
        tuple(sorted(focus)),
        tuple(c for c in (_CAUSE_SEPARATORS.sub("，", short(c)).strip("，").strip()
                          for c in causes) if c),
        _date(closed_on) if status == "closed" else None,
        round(float(amount_corrected or 0), 2), round(float(amount_recovered or 0), 2),
        tuple((bool(na), short(person), long(action), long(reason), round(float(penalty or 0), 2))
              for na, person, action, reason, penalty in accountability),
        tuple(short(f) for f in evidence),
        short(remarks))


def ledger_rows(records: list[IssueRecord]) -> list[LedgerRow]:
    """LedgerRows for records, numbered from the first data row of the sheet."""
    return [ledger_row(r, FIRST_DATA_ROW + i) for i, r in enumerate(records)]


class GatheredRows(Sequence[LedgerRow]):
    """The LedgerRows of gathered issues, numbered from the first data row, each made when it
    is read. Streaming them into the sheet keeps one issue's objects alive at a time: holding
    40,000 records and rows made Python's garbage collector walk them over and over."""

    def __init__(self, found: Gathered):
        self._found = found

    def __len__(self) -> int:
        return len(self._found.states)

    def issue_ids(self) -> list[int]:
        """The issues' ids, in row order."""
        return [s["id"] for s in self._found.states]

    @overload
    def __getitem__(self, index: int) -> LedgerRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[LedgerRow]: ...

    def __getitem__(self, index: int | slice) -> LedgerRow | list[LedgerRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # IndexError as for a list
        return self._found.ledger_row(self._found.states[i], FIRST_DATA_ROW + i)

    def __iter__(self) -> Iterator[LedgerRow]:
        row = self._found.ledger_row
        for i, s in enumerate(self._found.states):
            yield row(s, FIRST_DATA_ROW + i)

    def field_tuples(self) -> Iterator[tuple]:
        """The rows as write_ledger takes them fastest: each row's fields in LedgerRow order
        without excel_row, the measures as their cell text, every text XML-safe (see
        Gathered.ledger_fields)."""
        return map(self._found.ledger_fields, self._found.states)


def ledger_rows_for(db: sqlite_utils.Database, scope: Scope, as_of: dt.date,
                    on_progress: Progress | None = None) -> GatheredRows:
    """The ledger rows of `scope` as of `as_of`, equal to ledger_rows(issue_records(...)): every
    query runs now, each row is made when it is read."""
    return GatheredRows(gather_issues(db, scope, as_of, on_progress))
