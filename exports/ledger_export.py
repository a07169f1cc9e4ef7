"""Database → LedgerRows → the 整改台账 workbook, for the issues in a scope as of a date.

`issue_records` gathers everything the ledger and the Word pack's appendix show about each issue
in a handful of set-based queries (no query per issue: the 40,000-issue region export must take
seconds). `ledger_rows` turns the records into LedgerRows that `issues.ledger.read_ledger` reads
back equal: the normalisations the reader applies (stripped short texts, XML-forbidden
characters as U+FFFD, money to the fen) are applied here, so export → import changes nothing.

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
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import sqlite_utils

from audit import history
from audit.db import rows
from audit.errors import AuditError
from audit.figures import Scope, issue_states
from exports.sanitize import xml_safe
from exports.xlsx_ledger import write_ledger
from issues.ledger import LedgerRow, MeasureLine

Progress = Callable[[str, int, int], None]

FIRST_DATA_ROW = 3  # write_ledger: title on row 1, header on row 2
_CAUSE_SEPARATORS = re.compile(r"[;；\r\n]+")
_OWNER_RESERVED = re.compile(r"[()（）;；:：\r\n]+")
_LINE_BREAKS = re.compile(r"[\r\n]+")


class ExportFailed(AuditError):
    """Building an export failed at a named step (gather, charts, sections, writing, save);
    nothing was left at the target path. `step` is the step's name; the message names it."""

    key = "error.report_failed"

    def __init__(self, kind: str, step: str, cause: BaseException):
        reason = f"{type(cause).__name__}: {cause}"
        # The step parameter is a catalogue key, so error_text shows it in the reader's language.
        super().__init__(f"{kind} failed while {_STEP_WORDS.get(step, step)}: {reason}",
                         step=f"{kind}.step.{step}", reason=reason)
        self.step = step
        self.cause = cause


_STEP_WORDS = {"gather": "gathering figures", "charts": "drawing charts",
               "sections": "writing sections", "writing": "writing the sheet",
               "save": "saving"}


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


def _grouped(db: sqlite_utils.Database, sql: str, params: dict, wanted: set[int]
             ) -> dict[int, list[dict]]:
    """issue_id → rows (dicts) of a query whose first column is issue_id, in query order,
    keeping only the issues in `wanted`."""
    out: dict[int, list[dict]] = {}
    cur = db.conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    for r in cur:
        if r[0] in wanted:
            out.setdefault(r[0], []).append(dict(zip(cols, r)))
    return out


def issue_records(db: sqlite_utils.Database, scope: Scope, as_of: dt.date,
                  on_progress: Progress | None = None) -> list[IssueRecord]:
    """Every issue in `scope` as of `as_of` (state from history, classification as now), ordered
    by category, aspect and code, with sources, streams, focus, causes, measures and
    accountability attached."""
    steps = 8
    states = issue_states(db, scope, as_of)
    if on_progress:
        on_progress("gather", 1, steps)
    wanted = {s["id"] for s in states}
    people = dict(db.conn.execute("SELECT id, name FROM people"))
    # A scope of everything reads whole tables in rowid order (no index lookups, no sort);
    # a narrower one hands SQLite the ids to keep.
    everything = (scope.unit_ids is None and not scope.category_codes and not scope.stream
                  and not scope.focus)
    params: dict = {"ids": json.dumps(sorted(wanted)),
                    "end": f"{(as_of + dt.timedelta(days=1)).isoformat()}T00:00:00+08:00"}

    def where(column: str) -> str:
        return "" if everything else f" AND {column} IN (SELECT value FROM json_each(:ids))"

    detail = {r["id"]: r for r in rows(db, f"""
        SELECT i.id, i.description, i.basis, i.recommendation, i.rectification_type,
               i.progress, i.severity, i.supervisor_person_id, a.code AS aspect_code,
               a.name AS aspect_name, c.name AS category_name, u.code AS unit_code,
               u.name AS unit_name
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id JOIN units u ON u.id = i.unit_id
        WHERE 1 = 1 {where("i.id")}""", params)}
    if on_progress:
        on_progress("gather", 2, steps)
    audits = {r["id"]: r for r in rows(db, "SELECT id, name, year, level, report_no FROM audits")}
    sources: dict[int, list[dict]] = {}
    for iid, aid in db.conn.execute(
            f"SELECT issue_id, audit_id FROM issue_sources WHERE 1 = 1 {where('issue_id')}",
            params):
        if iid in wanted:
            sources.setdefault(iid, []).append(audits[aid])
    for lst in sources.values():
        lst.sort(key=lambda a: (a["year"], a["name"]))
    stream_codes = dict(db.conn.execute("SELECT id, code FROM streams"))
    streams: dict[int, list[str]] = {}
    for iid, sid in db.conn.execute(
            f"SELECT issue_id, stream_id FROM issue_streams WHERE 1 = 1 {where('issue_id')}",
            params):
        if iid in wanted:
            streams.setdefault(iid, []).append(stream_codes[sid])
    focus_codes = dict(db.conn.execute("SELECT id, code FROM focus_points"))
    focus: dict[int, list[str]] = {}
    for iid, fid in db.conn.execute(
            f"SELECT issue_id, focus_id FROM issue_focus WHERE 1 = 1 {where('issue_id')}",
            params):
        if iid in wanted:
            focus.setdefault(iid, []).append(focus_codes[fid])
    if on_progress:
        on_progress("gather", 4, steps)
    cause_rows = {r["id"]: r for r in rows(db, "SELECT id, code, title FROM causes")}
    causes: dict[int, list[dict]] = {}
    for iid, cid in db.conn.execute(
            f"SELECT issue_id, cause_id FROM issue_causes WHERE 1 = 1 {where('issue_id')}",
            params):
        if iid in wanted:
            causes.setdefault(iid, []).append(cause_rows[cid])
    for lst in causes.values():
        lst.sort(key=lambda c: c["code"])
    measures = _grouped(db, f"""
        SELECT m.issue_id, m.id, m.title, m.owner_person_id, m.deadline, m.status
        FROM measures m WHERE m.issue_id IS NOT NULL AND m.created_at < :end
        {where("m.issue_id")}""", params, wanted)
    if on_progress:
        on_progress("gather", 6, steps)
    accountability = _grouped(db, f"""
        SELECT a.issue_id, a.not_applicable, a.person_name, a.action, a.reason
        FROM accountability a WHERE 1 = 1 {where("a.issue_id")}""", params, wanted)
    if on_progress:
        on_progress("gather", 7, steps)
    out: list[IssueRecord] = []
    for s in states:
        d = detail[s["id"]]
        ms = measures.get(s["id"], [])
        for m in ms:
            m["owner"] = people.get(m["owner_person_id"], "")
        out.append(IssueRecord(
            id=s["id"], code=s["code"], title=s["title"], description=d["description"],
            category_code=s["category_code"], category_name=d["category_name"],
            aspect_code=d["aspect_code"], aspect_name=d["aspect_name"], unit_id=s["unit_id"],
            unit_code=d["unit_code"], unit_name=d["unit_name"], amount=s["amount"] or 0.0,
            basis=d["basis"], recommendation=d["recommendation"],
            rectification_type=d["rectification_type"], progress=d["progress"],
            severity=d["severity"], status=s["status"], deadline=s["deadline"],
            original_deadline=s["original_deadline"], closed_on=s["closed_on"],
            created_on=s["created_on"], warning=s["warning"],
            responsible_person_id=s["responsible_person_id"],
            responsible=people.get(s["responsible_person_id"], ""),
            supervisor=people.get(d["supervisor_person_id"], ""),
            sources=sources.get(s["id"], []),
            streams=[c for c in ("cleanup", "audit") if c in streams.get(s["id"], ())],
            focus=sorted(focus.get(s["id"], ())),
            causes=causes.get(s["id"], []), measures=ms,
            accountability=accountability.get(s["id"], [])))
    keys: dict[str, tuple] = {}

    def key(code: str) -> tuple:
        k = keys.get(code)
        if k is None:
            k = keys[code] = _code_key(code)
        return k
    out.sort(key=lambda r: (key(r.category_code), key(r.aspect_code), _code_key(r.code)))
    if on_progress:
        on_progress("gather", steps, steps)
    return out


def _code_key(code: str) -> tuple:
    """Sort C10 after C9 and C3.2.10 after C3.2.9: numeric parts compare as numbers."""
    head, _, rest = code.partition(".")
    if head[:1] == "C" and head[1:].isdigit():
        parts = rest.split(".") if rest else []
        if all(p.isdigit() for p in parts):  # the catalogue's own codes: the common, fast case
            key: list[tuple] = [(1, "C"), (0, int(head[1:]))]
            for p in parts:
                key += [(1, "."), (0, int(p))]
            return tuple(key)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", code) if p)


# --- LedgerRows ---------------------------------------------------------------------------------


def _short(text: str | None) -> str:
    """A short ledger field as the reader gives it back: XML-safe, surrounding space stripped."""
    return xml_safe(text or "").strip()


def _long(text: str | None) -> str:
    """A long free-text field: kept exactly, except characters XML cannot hold."""
    return xml_safe(text or "")


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text[:10]) if text else None


def measure_line(m: dict) -> MeasureLine:
    """A measure as one ledger line; text the one-line form cannot hold is made to fit."""
    title = _LINE_BREAKS.sub(" ", _short(m["title"])).strip() or "—"
    owner = _short(m.get("owner")) or None
    if owner is not None:
        owner = _OWNER_RESERVED.sub(" ", owner).strip() or None
    # Made to satisfy format_measure_line (which write_ledger calls): a non-empty stripped
    # single-line title, an owner without reserved characters.
    return MeasureLine(title, owner, _date(m["deadline"]), m["status"] == "done")


def ledger_row(rec: IssueRecord, excel_row: int) -> LedgerRow:
    """One issue as the ledger row the reader reads back from the exported file."""
    first = rec.sources[0] if rec.sources else None
    causes = tuple(c for c in (_CAUSE_SEPARATORS.sub("，", _short(c["title"])).strip("，").strip()
                               for c in rec.causes) if c)
    return LedgerRow(
        excel_row=excel_row, code=_short(rec.code), category=_short(rec.category_name),
        aspect=_short(rec.aspect_name), title=_short(rec.title),
        description=_long(rec.description),
        audit_name="；".join(_short(s["name"]) for s in rec.sources),
        audit_year=first["year"] if first else None,
        audit_level=first["level"] if first else None,
        report_no="；".join(r for r in (_short(s["report_no"]) for s in rec.sources) if r),
        unit=_short(rec.unit_name), responsible=_short(rec.responsible),
        supervisor=_short(rec.supervisor),
        measures=tuple(measure_line(m) for m in rec.measures),
        deadline=_date(rec.deadline), progress=_long(rec.progress), status=rec.status,
        warning=None if rec.warning in (None, "none") else rec.warning,
        amount=round(float(rec.amount or 0), 2),
        rectification_type=rec.rectification_type, basis=_long(rec.basis),
        recommendation=_long(rec.recommendation),
        streams=tuple(s for s in ("cleanup", "audit") if s in rec.streams),
        focus=tuple(sorted(rec.focus)), causes=causes,
        closed_on=_date(rec.closed_on) if rec.status == "closed" else None)


def ledger_rows(records: list[IssueRecord]) -> list[LedgerRow]:
    """LedgerRows for records, numbered from the first data row of the sheet."""
    return [ledger_row(r, FIRST_DATA_ROW + i) for i, r in enumerate(records)]


# --- the export ---------------------------------------------------------------------------------


def export_ledger(db: sqlite_utils.Database, scope: Scope, out: str | os.PathLike[str], *,
                  as_of: dt.date, lang: str = "zh", title: str,
                  on_progress: Progress | None = None) -> dict:
    """Write the ledger of `scope` as of `as_of` to `out` atomically (a temporary file beside
    it, renamed over it). Returns {issues, path, anchor}. Raises ExportFailed naming
    the step; the target is then untouched."""
    target = Path(out)
    step = "gather"
    try:
        anchor = history.anchor(db)
        records = issue_records(db, scope, as_of, on_progress)
        lrows = ledger_rows(records)
        step = "writing"
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                write_ledger(lrows, fh, lang=lang, title=title, as_of=as_of, anchor=anchor,
                             on_progress=on_progress)
                step = "save"
                fh.flush()
                os.fsync(fh.fileno())
            tmp.chmod(0o644)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except Exception as ex:
        raise ExportFailed("export", step, ex) from ex
    if on_progress:
        on_progress("save", 1, 1)
    return {"issues": len(lrows), "path": str(target), "anchor": anchor}
