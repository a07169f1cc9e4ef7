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


def issue_records(db: sqlite_utils.Database, scope: Scope, as_of: dt.date,
                  on_progress: Progress | None = None) -> list[IssueRecord]:
    """Every issue in `scope` as of `as_of` (state from history, classification as now), ordered
    by category, aspect and code, with sources, streams, focus, causes, measures and
    accountability attached."""
    steps = 4
    states = issue_states(db, scope, as_of)
    if on_progress:
        on_progress("gather", 1, steps)
    people = dict(db.conn.execute("SELECT id, name FROM people"))
    audits = {r["id"]: r for r in rows(db, "SELECT id, name, year, level, report_no "
                                           "FROM audits")}
    causes = {r["id"]: r for r in rows(db, "SELECT id, code, title FROM causes")}
    streams = dict(db.conn.execute("SELECT id, code FROM streams"))
    focus = dict(db.conn.execute("SELECT id, code FROM focus_points"))
    everything = (scope.unit_ids is None and not scope.category_codes and not scope.stream
                  and not scope.focus)
    params = {"ids": json.dumps([s["id"] for s in states]),
              "end": f"{(as_of + dt.timedelta(days=1)).isoformat()}T00:00:00+08:00"}
    # One row per issue: its links and measures come aggregated as JSON by SQLite (index
    # lookups in C) instead of one Python row per link or measure (380,000 for the region).
    detail = {r[0]: r for r in db.conn.execute(f"""
        SELECT i.id, i.description, i.basis, i.recommendation, i.rectification_type,
               i.progress, i.severity, i.supervisor_person_id, a.code, a.name, c.name,
               u.code, u.name,
               json_array(
                 json((SELECT json_group_array(audit_id) FROM issue_sources
                       WHERE issue_id = i.id)),
                 json((SELECT json_group_array(stream_id) FROM issue_streams
                       WHERE issue_id = i.id)),
                 json((SELECT json_group_array(focus_id) FROM issue_focus
                       WHERE issue_id = i.id)),
                 json((SELECT json_group_array(cause_id) FROM issue_causes
                       WHERE issue_id = i.id)),
                 json((SELECT json_group_array(json_array(id, title, owner_person_id, deadline,
                                                          status))
                       FROM (SELECT * FROM measures WHERE issue_id = i.id AND created_at < :end
                             ORDER BY id))),
                 json((SELECT json_group_array(json_array(not_applicable, person_name, action,
                                                          reason))
                       FROM (SELECT * FROM accountability WHERE issue_id = i.id
                             ORDER BY id))))
        FROM issues i JOIN aspects a ON a.id = i.aspect_id
        JOIN categories c ON c.id = a.category_id JOIN units u ON u.id = i.unit_id
        {"" if everything else "WHERE i.id IN (SELECT value FROM json_each(:ids))"}""",
                                                 params)}
    if on_progress:
        on_progress("gather", 3, steps)
    loads = json.loads
    out: list[IssueRecord] = []
    for s in states:
        (_, description, basis, recommendation, rtype, progress, severity, supervisor,
         aspect_code, aspect_name, category_name, unit_code, unit_name,
         links) = detail[s["id"]]
        src, stm, foc, cau, mea, acc = loads(links)
        measures = [{"id": m[0], "title": m[1], "owner_person_id": m[2],
                     "owner": people.get(m[2], ""), "deadline": m[3], "status": m[4]}
                    for m in mea]
        sources = [audits[a] for a in src]
        sources.sort(key=lambda a: (a["year"], a["name"]))
        stream_codes = {streams[x] for x in stm}
        out.append(IssueRecord(
            id=s["id"], code=s["code"], title=s["title"], description=description,
            category_code=s["category_code"], category_name=category_name,
            aspect_code=aspect_code, aspect_name=aspect_name, unit_id=s["unit_id"],
            unit_code=unit_code, unit_name=unit_name, amount=s["amount"] or 0.0,
            basis=basis, recommendation=recommendation, rectification_type=rtype,
            progress=progress, severity=severity, status=s["status"], deadline=s["deadline"],
            original_deadline=s["original_deadline"], closed_on=s["closed_on"],
            created_on=s["created_on"], warning=s["warning"],
            responsible_person_id=s["responsible_person_id"],
            responsible=people.get(s["responsible_person_id"], ""),
            supervisor=people.get(supervisor, ""), sources=sources,
            streams=[c for c in ("cleanup", "audit") if c in stream_codes],
            focus=sorted(focus[x] for x in foc),
            causes=sorted((causes[x] for x in cau), key=lambda c: c["code"]),
            measures=measures,
            accountability=[{"not_applicable": a[0], "person_name": a[1], "action": a[2],
                             "reason": a[3]} for a in acc]))
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
    it, renamed over it). Returns {issues, path, anchor, truncated}, `truncated` counting the
    cells cut (visibly) to Excel's 32,767-character limit. Raises ExportFailed naming the step;
    the target is then untouched."""
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
                truncated = write_ledger(lrows, fh, lang=lang, title=title, as_of=as_of,
                                         anchor=anchor, on_progress=on_progress)
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
    return {"issues": len(lrows), "path": str(target), "anchor": anchor, "truncated": truncated}
