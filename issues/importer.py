"""Importing a field ledger (整改台账) into the programme: plan first (reads only), then apply in
one transaction through the services, which write the history: new issues in one batch
(issues.create_issues_bulk: each written in its final state under the rules the per-row services
enforce), changes to existing issues through the per-row services.

How rows are matched and what an import may do (the rules the plan, the CLI and the page show):
- A row is the issue with its code; else the (not merged) issue of the same unit whose
  normalised title (NFKC, no spaces or punctuation, lower case) is the same; else a new issue.
  A code that belongs to a merged issue means the issue it was merged into.
- Units match by code, by exact name, then by name without 分公司 and without a trailing 市/盟/
  县/旗/区 ("包头" is 包头市分公司). Several matches are an ambiguity the user resolves. An unknown
  unit is created only when the row makes its parent clear: "包头市分公司/固阳县分公司",
  "包头市固阳县分公司" (a known unit's name as prefix), or a city-style name (…市分公司, …盟分公司)
  which hangs off the region. Any other unknown unit is an ambiguity: the user maps it to an
  existing unit.
- People match by name in the row's unit, then in its ancestors and descendants; one match is
  taken, several are an ambiguity; none creates the person in the row's unit.
- Categories and aspects match by name (a new one takes the code the row's issue code implies,
  C3.2.1 → C3 / C3.2, when free). Audits match by name and year, else by name alone. Root causes
  by title. An issue's code is kept when it fits its aspect (C3.2.n) and is free; otherwise the
  issue gets the next code and later imports find it by title and unit.
- Blank ledger cells change nothing. Links (sources, work streams, focus points, root causes)
  and measures are only ever added: the two work streams send ledgers with their own sources,
  and an import must not drop the other stream's. A measure is matched by its normalised title.
- Status policy: each issue moves toward the ledger's status as far as the workflow allows and
  never backwards: 整改中 needs 四个到人; 已销号 needs 三不放过 and a verifier other than the
  submitter, so a ledger's closed item normally stops at 待验收, submitted by the importer, for
  an audit lead to strike off (对账销号). 特殊原因终结 needs a lead's reasoned approval and is
  never done by an import. The plan lists every row whose status is not reached and why.
- Authority: 'ledger.import' (admin or audit lead) lets the import register what the ledger
  records (units and people it names, catalogue entries, measures, causes, progress, moves up to
  待验收); striking off still needs the importer's own 'workflow.close'. History names the real
  user.
- Deadlines: set while not started; once started a later ledger deadline is recorded as an
  extension (延期) whose reason names the file and row; an earlier one is reported, not applied.
"""
from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable, Collection, Iterator

import sqlite_utils

from audit.model import Actor, AuditError, LedgerRowError, Role, Status, grant
from audit.service import require
from audit.store import history
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.text_format import is_truncated_from
from audit.time_model import day_of
from issues import bulk_service, model
from issues import service as issues
from issues.ledger import STREAMS, LedgerRow, ParsedLedger
from issues.model import (
    IssueFacts,
    MeasureFacts,
    Move,
    highest_child_number,
    may_strike_off,
    missing_for_assignment,
    missing_for_closure,
)
from owners import service as owners

Progress = Callable[[str, int, int], None]
Ref = Any   # an existing id (int) or a key (str) of something this import creates

_STATUS_ORDER = {Status.NOT_STARTED.value: 0, Status.IN_PROGRESS.value: 1,
                 Status.SUBMITTED.value: 2, Status.CLOSED.value: 3}
_NON_WORD = re.compile(r"[\W_]+", re.U)
_ADMIN_SUFFIX = "市盟县旗区"
_PATH_SPLIT = re.compile(r"\s*[/／>＞|]\s*")
_CITY_STYLE = re.compile(r".+(市|盟)分公司$")
_CODE = re.compile(r"^(C\d+)\.(\d+)\.(\d+)$")
_AUDIT_SPLIT = re.compile(r"\s*[；;]\s*")
NEW = -1   # the resolution choice "create a new one"
IMPORT_CACHE_KIB = 131_072


class ImportNeedsDecision(AuditError):
    """The plan holds ambiguities nobody resolved yet; `keys` names them."""

    key = "error.import_ambiguous"

    def __init__(self, ambiguities: list["Ambiguity"]):
        first = ambiguities[0]
        super().__init__(
            f"{len(ambiguities)} question(s) to answer before importing; first: row "
            f"{first.rows[0]}, column {first.column!r}, value {first.value!r}: {first.reason}",
            count=len(ambiguities), row=first.rows[0], column=first.column, value=first.value,
            reason=first.reason)
        self.keys = [a.key for a in ambiguities]


# --- normalisation ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1 << 16)
def norm(text: str | None) -> str:
    """Text for matching: NFKC, lower case, without spaces and punctuation (a pure function,
    cached: a ledger repeats its audit, cause and measure texts on many rows)."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def unit_core(name: str) -> str:
    """A unit name without 分公司 and one trailing 市/盟/县/旗/区: 包头市分公司 → 包头."""
    n = norm(name)
    n = n[:-3] if n.endswith("分公司") and len(n) > 3 else n
    if len(n) >= 2 and n[-1] in _ADMIN_SUFFIX:
        n = n[:-1]
    return n


# --- the plan --------------------------------------------------------------------------------

@dataclass
class Ambiguity:
    """A question the user must answer: which of `choices` (id, label) the ledger `value` means
    (NEW: create one)."""

    key: str
    kind: str                       # 'unit' | 'unit_unknown' | 'person' | 'issue' | 'audit'
    value: str
    column: str
    reason: str
    rows: list[int]
    choices: list[tuple[int, str]]


@dataclass
class FieldChange:
    """One field of one issue as the ledger would change it."""

    field: str
    old: Any
    new: Any


@dataclass
class NewEntity:
    """Something the import will create: `kind` (unit, person, category, aspect, audit, cause),
    its key (a Ref) and the values the service gets."""

    kind: str
    key: str
    label: str
    values: dict
    rows: list[int] = field(default_factory=list)


@dataclass
class MeasurePlan:
    """A measure to add (`measure_id` None) or to change."""

    title: str
    measure_id: int | None = None
    owner: Ref | None = None
    deadline: date | None = None
    done: bool = False
    edit: dict = field(default_factory=dict)


@dataclass
class RowPlan:
    """What the import does with one ledger row."""

    excel_row: int
    action: str                      # 'create' | 'update' | 'unchanged'
    issue: Ref
    code: str
    title: str
    unit_label: str
    create: dict | None = None
    edits: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)     # sources/streams/focus: full new lists
    assign: dict = field(default_factory=dict)
    extend_to: date | None = None
    measures: list[MeasurePlan] = field(default_factory=list)
    causes: list[Ref] = field(default_factory=list)
    progress: str | None = None
    moves: list[Move] = field(default_factory=list)
    changes: list[FieldChange] = field(default_factory=list)
    ledger_status: str | None = None
    status_before: str | None = None
    status_after: str | None = None
    missing: list[str] = field(default_factory=list)   # why the ledger status is not reached
    notes: list[str] = field(default_factory=list)      # ledger values not applied, and why
    merged_into: str | None = None

    @property
    def status_short(self) -> bool:
        """Is the ledger's status not reached?"""
        return bool(self.ledger_status) and self.action != "ask" \
            and self.ledger_status != self.status_after


@dataclass
class ImportPlan:
    """What an import would do. `ambiguities` must all be resolved before apply."""

    filename: str
    rows: list[RowPlan]
    new: list[NewEntity]
    ambiguities: list[Ambiguity]
    warnings: list[str]
    skipped: list[tuple[int, str]]
    header_map: dict[str, str]
    parsed: ParsedLedger
    stream: str | None
    resolutions: dict[str, int]
    anchor: tuple[int, str]

    def counts(self) -> dict[str, int]:
        """How many issues are created, updated, unchanged, and new entities by kind."""
        out = {"rows": len(self.rows), "create": 0, "update": 0, "unchanged": 0, "ask": 0}
        for r in self.rows:
            out[r.action] += 1
        for n in self.new:
            out[f"new_{n.kind}"] = out.get(f"new_{n.kind}", 0) + 1
        out["status_short"] = sum(1 for r in self.rows if r.status_short)
        out["ambiguities"] = len(self.unresolved())
        return out

    def unresolved(self) -> list[Ambiguity]:
        """The ambiguities without an answer in `resolutions`."""
        return [a for a in self.ambiguities if a.key not in self.resolutions]

    @property
    def changes_anything(self) -> bool:
        """Would applying write anything?"""
        return any(r.action != "unchanged" for r in self.rows) or bool(self.new)


@dataclass
class ImportResult:
    """What apply_import did."""

    counts: dict[str, int]
    issue_ids: list[int]
    history_records: int
    plan: ImportPlan


# --- what the database holds, loaded once --------------------------------------------------

class _Known:
    """Units, people, catalogue, audits, causes and issues, indexed for matching: a handful of
    queries instead of several per row."""

    def __init__(self, db: sqlite_utils.Database):
        c = db.conn
        self.units = {r[0]: {"id": r[0], "code": r[1], "name": r[2], "parent_id": r[3],
                             "level": r[4]}
                      for r in c.execute("SELECT id, code, name, parent_id, level FROM units")}
        self.unit_by_code = {u["code"]: u["id"] for u in self.units.values()}
        self.unit_by_name: dict[str, list[int]] = defaultdict(list)
        self.unit_by_core: dict[str, list[int]] = defaultdict(list)
        for u in self.units.values():
            self.unit_by_name[norm(u["name"])].append(u["id"])
            self.unit_by_core[unit_core(u["name"])].append(u["id"])
        self.children: dict[int, list[int]] = defaultdict(list)
        for u in self.units.values():
            if u["parent_id"]:
                self.children[u["parent_id"]].append(u["id"])
        self.region = next((u["id"] for u in self.units.values() if u["parent_id"] is None),
                           None)
        self.people: dict[int, dict] = {}
        self.people_by_name: dict[str, list[int]] = defaultdict(list)
        for pid, name, unit_id, active in c.execute(
                "SELECT id, name, unit_id, active FROM people"):
            self.people[pid] = {"id": pid, "name": name, "unit_id": unit_id, "active": active}
            if active:
                self.people_by_name[name].append(pid)
        self.categories = {r[0]: {"id": r[0], "code": r[1], "name": r[2]}
                           for r in c.execute("SELECT id, code, name FROM categories")}
        self.category_by_name: dict[str, int] = {}
        for cat in sorted(self.categories.values(), key=lambda x: x["id"]):
            self.category_by_name.setdefault(norm(cat["name"]), cat["id"])
        self.aspects = {r[0]: {"id": r[0], "code": r[1], "category_id": r[2], "name": r[3]}
                        for r in c.execute("SELECT id, code, category_id, name FROM aspects")}
        self.aspect_by_name: dict[tuple[int, str], int] = {}
        self.aspect_by_plain: dict[str, list[int]] = defaultdict(list)
        for a in sorted(self.aspects.values(), key=lambda x: x["id"]):
            self.aspect_by_name.setdefault((a["category_id"], norm(a["name"])), a["id"])
            self.aspect_by_plain[norm(a["name"])].append(a["id"])
        self.aspect_by_code = {a["code"]: a["id"] for a in self.aspects.values()}
        self.codes: set[str] = {r[0] for r in c.execute("SELECT code FROM categories")}
        self.codes |= set(self.aspect_by_code)
        self.audits: dict[tuple[str, int], int] = {}
        self.audits_by_name: dict[str, list[int]] = defaultdict(list)
        self.audit_rows: dict[int, dict] = {}
        for aid, name, year in c.execute("SELECT id, name, year FROM audits ORDER BY id"):
            self.audits[(name, year)] = aid
            self.audits_by_name[name].append(aid)
            self.audit_rows[aid] = {"name": name, "year": year}
        self.causes: dict[str, int] = {}
        for cid, title in c.execute("SELECT id, title FROM causes ORDER BY id"):
            self.causes.setdefault(norm(title), cid)
        self.cause_codes = {r[0] for r in c.execute("SELECT code FROM causes")}
        self.issue_by_code: dict[str, int] = {}
        self.issue_by_title: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.issue_brief: dict[int, tuple[str, str, int | None]] = {}
        for iid, code, title, unit_id, merged_into in c.execute(
                "SELECT id, code, title, unit_id, merged_into_id FROM issues"):
            self.issue_by_code[code] = iid
            self.issue_brief[iid] = (code, title, merged_into)
            if merged_into is None:
                self.issue_by_title[(norm(title), unit_id)].append(iid)
        self.stream_ids = {r[0]: r[1] for r in c.execute("SELECT code, id FROM streams")}
        self.focus_ids = {r[0]: r[1] for r in c.execute("SELECT code, id FROM focus_points")}

    def ancestors(self, unit_id: int) -> list[int]:
        """The unit's parents up to the region, nearest first."""
        out, u = [], self.units[unit_id]["parent_id"]
        while u is not None and u not in out:
            out.append(u)
            u = self.units[u]["parent_id"]
        return out

    def subtree(self, unit_id: int) -> list[int]:
        """The unit and all its descendants."""
        out, todo = [], [unit_id]
        while todo:
            u = todo.pop()
            out.append(u)
            todo.extend(self.children.get(u, ()))
        return out


def _issue_details(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict]:
    """Everything the comparison needs of the matched issues, in chunked set queries."""
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        cur = db.conn.execute(f"SELECT * FROM issues WHERE id IN ({marks})", chunk)
        cols = [c[0] for c in cur.description]
        for r in cur:
            d = dict(zip(cols, r))
            d.update(sources=[], streams=[], focus=[], causes=[], measures=[],
                     accountability=0)
            out[d["id"]] = d
        for table, column, key in (("issue_sources", "audit_id", "sources"),
                                   ("issue_streams", "stream_id", "streams"),
                                   ("issue_focus", "focus_id", "focus"),
                                   ("issue_causes", "cause_id", "causes")):
            for iid, other in db.conn.execute(
                    f"SELECT issue_id, {column} FROM {table} WHERE issue_id IN ({marks})",
                    chunk):
                out[iid][key].append(other)
        for row in db.conn.execute(
                f"SELECT m.issue_id, m.id, m.title, m.owner_person_id, m.deadline, m.status, "
                f"(SELECT COUNT(*) FROM evidence e WHERE e.measure_id = m.id) "
                f"FROM measures m WHERE m.issue_id IN ({marks}) ORDER BY m.id", chunk):
            out[row[0]]["measures"].append(
                {"id": row[1], "title": row[2], "owner_person_id": row[3], "deadline": row[4],
                 "status": row[5], "evidence": row[6]})
        for iid, n in db.conn.execute(
                f"SELECT issue_id, COUNT(*) FROM accountability WHERE issue_id IN ({marks}) "
                f"GROUP BY issue_id", chunk):
            out[iid]["accountability"] = n
    for d in out.values():
        for key in ("sources", "streams", "focus", "causes"):
            d[key].sort()
    return out


# --- planning ----------------------------------------------------------------------------------

class _Planner:
    """Works out, row by row, what the import would do; reads only."""

    def __init__(self, db: sqlite_utils.Database, actor: Actor, parsed: ParsedLedger,
                 filename: str, stream: str | None, resolutions: dict[str, int]):
        self.db = db
        self.actor = actor
        self.parsed = parsed
        self.filename = filename
        self.stream = stream
        self.resolutions = resolutions
        self.k = _Known(db)
        self.headers = {fld: shown for shown, fld in parsed.header_map.items() if fld}
        self.new: dict[str, NewEntity] = {}
        self.ambiguities: dict[str, Ambiguity] = {}
        self.claimed: dict[Ref, int] = {}          # issue → the row that claimed it
        self.child_codes: dict[str, int] = {}      # parent code → highest child number used
        self.unit_codes: set[str] = set(self.k.unit_by_code)

    # -- helpers --------------------------------------------------------------------------

    def col(self, fld: str) -> str:
        """The header the user sees for a field (for messages); a title made from the
        description is shown as the description's column."""
        if fld == "title" and fld not in self.headers:
            fld = "description"
        return self.headers.get(fld, fld)

    def ask(self, key: str, kind: str, value: str, fld: str, reason: str, row: int,
            choices: list[tuple[int, str]]) -> int | None:
        """The user's answer to a question, or None after recording the question."""
        if key in self.resolutions:
            choice = int(self.resolutions[key])
            if choice not in {c for c, _ in choices}:
                raise LedgerRowError(row, self.col(fld), value,
                                     f"the answer {choice} is not one of the choices")
            return choice
        amb = self.ambiguities.get(key)
        if amb is None:
            self.ambiguities[key] = Ambiguity(key, kind, value, self.col(fld), reason, [row],
                                              choices)
        elif row not in amb.rows:
            amb.rows.append(row)
        return None

    def add_new(self, kind: str, key: str, label: str, values: dict, row: int) -> str:
        ent = self.new.get(key)
        if ent is None:
            ent = self.new[key] = NewEntity(kind, key, label, values)
        if not ent.rows or ent.rows[-1] != row:   # rows are planned in order
            ent.rows.append(row)
        return key

    def unit_label(self, ref: Ref) -> str:
        if isinstance(ref, int):
            return self.k.units[ref]["name"]
        return self.new[ref].label

    def _highest(self, parent: str, existing: Collection[str]) -> int:
        n = self.child_codes.get(parent)
        if n is None:
            n = self.child_codes[parent] = highest_child_number(parent, existing)
        return n

    def next_code(self, parent: str, existing: Collection[str]) -> str:
        """The next free child code (C3 → C3.n, C3.2 → C3.2.n), remembering what this import
        already used (no LIKE scan per new issue)."""
        n = self._highest(parent, existing) + 1
        self.child_codes[parent] = n
        return f"{parent}.{n}"

    def use_code(self, parent: str, code: str, existing: Collection[str]) -> None:
        """Note a child code kept from the ledger."""
        tail = int(code[len(parent) + 1:])
        self.child_codes[parent] = max(self._highest(parent, existing), tail)

    # -- units and people ---------------------------------------------------------------------

    def unit(self, r: LedgerRow) -> Ref | None:
        text = r.unit
        row, fld = r.excel_row, "unit"
        if not text:
            return None
        k = self.k
        if text in k.unit_by_code:
            return k.unit_by_code[text]
        for index, key in ((k.unit_by_name, norm(text)), (k.unit_by_core, unit_core(text))):
            ids = sorted(index.get(key, ()))
            if len(ids) == 1:
                return ids[0]
            if len(ids) > 1:
                return self.ask(f"unit:{norm(text)}", "unit", text, fld,
                                "several units have this name", row,
                                [(u, f"{k.units[u]['name']} ({k.units[u]['code']})")
                                 for u in ids])
        new_key = f"unit:new:{norm(text)}"
        if new_key in self.new:
            self.new[new_key].rows.append(row)
            return new_key
        parent, child = self.unit_parent(text)
        if parent is not None and child:
            level = {"region": "city", "city": "county"}.get(k.units[parent]["level"])
            if level is not None:
                # The child may exist already under that parent.
                for u in k.children.get(parent, ()):
                    if unit_core(k.units[u]["name"]) == unit_core(child):
                        return u
                pcode = k.units[parent]["code"]
                n = 1
                while f"{pcode}{n:02d}" in self.unit_codes:
                    n += 1
                code = f"{pcode}{n:02d}"
                self.unit_codes.add(code)
                return self.add_new("unit", new_key, child,
                                    {"code": code, "name": child, "level": level,
                                     "parent_code": pcode}, row)
        choice = self.ask(f"unit:{norm(text)}", "unit_unknown", text, fld,
                          "no such unit, and the ledger does not say which unit it belongs "
                          "to (write 上级单位/单位, e.g. 包头市分公司/固阳县分公司)", row,
                          [(u["id"], f"{u['name']} ({u['code']})")
                           for u in sorted(k.units.values(), key=lambda x: x["code"])])
        return None if choice in (None, NEW) else choice

    def unit_parent(self, text: str) -> tuple[int | None, str]:
        """(parent unit, child name) when the text makes the parent clear, else (None, '')."""
        k = self.k
        parts = [p for p in _PATH_SPLIT.split(text) if p]
        if len(parts) >= 2:
            parent_text = parts[-2]
            ids = (k.unit_by_name.get(norm(parent_text)) or k.unit_by_core.get(
                unit_core(parent_text)) or ([k.unit_by_code[parent_text]]
                                            if parent_text in k.unit_by_code else []))
            if len(ids) == 1:
                return ids[0], parts[-1]
            return None, ""
        best: tuple[int, int] | None = None
        for u in k.units.values():
            for prefix in {u["name"], u["name"][:-3] if u["name"].endswith("分公司") else ""}:
                if len(prefix) >= 2 and text.startswith(prefix) and len(text) > len(prefix) + 1:
                    if best is None or len(prefix) > best[1]:
                        best = (u["id"], len(prefix))
        if best is not None:
            return best[0], text[best[1]:]
        if _CITY_STYLE.match(text) and k.region is not None:
            return k.region, text
        return None, ""

    def person(self, name: str, unit: Ref | None, r: LedgerRow, fld: str,
               current: int | None = None) -> Ref | None:
        if not name or unit is None:
            return None
        k = self.k
        if current is not None and current in k.people and k.people[current]["name"] == name:
            return current   # the person already assigned: a re-import never re-decides
        if isinstance(unit, int):
            here = [p for p in k.people_by_name.get(name, ()) if k.people[p]["unit_id"] == unit]
            if len(here) == 1:
                return here[0]
            near_units = set(k.ancestors(unit)) | set(k.subtree(unit))
            near = sorted(p for p in k.people_by_name.get(name, ())
                          if k.people[p]["unit_id"] in near_units)
            if len(near) == 1:
                return near[0]
            if len(near) > 1:
                choice = self.ask(
                    f"person:{unit}:{name}", "person", name, fld,
                    "people with this name work in several units", r.excel_row,
                    [(p, f"{name} ({k.units[k.people[p]['unit_id']]['name']})") for p in near]
                    + [(NEW, f"{name} ({k.units[unit]['name']})")])
                if choice is None:
                    return None
                if choice != NEW:
                    return choice
            elif k.people_by_name.get(name):
                far = sorted(k.people_by_name[name])
                choice = self.ask(
                    f"person:{unit}:{name}", "person", name, fld,
                    "a person with this name works in another unit", r.excel_row,
                    [(p, f"{name} ({k.units[k.people[p]['unit_id']]['name']})") for p in far]
                    + [(NEW, f"{name} ({k.units[unit]['name']})")])
                if choice is None:
                    return None
                if choice != NEW:
                    return choice
        elif unit in self.new:
            # A unit this import creates: its people may already work in its parent.
            parent = self.k.unit_by_code.get(self.new[unit].values["parent_code"])
            if parent is not None:
                near_units = {parent, *k.ancestors(parent)}
                near = sorted(p for p in k.people_by_name.get(name, ())
                              if k.people[p]["unit_id"] in near_units)
                if len(near) == 1:
                    return near[0]
        key = f"person:new:{unit}:{name}"
        return self.add_new("person", key, f"{name} ({self.unit_label(unit)})",
                            {"name": name, "unit": unit}, r.excel_row)

    # -- catalogue, audits, causes ---------------------------------------------------------------

    def aspect(self, r: LedgerRow) -> Ref | None:
        k = self.k
        m = _CODE.match(r.code)
        cat: Ref | None = None
        if r.category:
            cat = k.category_by_name.get(norm(r.category))
            if cat is None:
                key = f"category:new:{norm(r.category)}"
                if key not in self.new:
                    code = m.group(1) if m and m.group(1) not in k.codes else None
                    if code is None:
                        n = len(k.categories) + sum(1 for e in self.new.values()
                                                    if e.kind == "category") + 1
                        while f"C{n}" in k.codes:
                            n += 1
                        code = f"C{n}"
                    k.codes.add(code)
                    self.add_new("category", key, r.category, {"code": code,
                                                               "name": r.category}, r.excel_row)
                cat = key
        if r.aspect:
            if cat is None:
                ids = k.aspect_by_plain.get(norm(r.aspect), [])
                if len(ids) == 1:
                    return ids[0]
                raise LedgerRowError(r.excel_row, self.col("aspect"), r.aspect,
                                     "the category (问题类别) is needed to place this aspect"
                                     + (": several categories have it" if ids else ""))
            if isinstance(cat, int):
                found = k.aspect_by_name.get((cat, norm(r.aspect)))
                if found is not None:
                    return found
            key = f"aspect:new:{cat}:{norm(r.aspect)}"
            if key in self.new:
                self.new[key].rows.append(r.excel_row)
                return key
            cat_code = (k.categories[cat]["code"] if isinstance(cat, int)
                        else self.new[cat].values["code"])
            code = f"{cat_code}.{m.group(2)}" if m and m.group(1) == cat_code else None
            if code is None or code in k.codes:
                code = self.next_code(cat_code, k.codes)
            else:
                self.use_code(cat_code, code, k.codes)
            k.codes.add(code)
            return self.add_new("aspect", key, f"{r.category} / {r.aspect}",
                                {"category": cat, "code": code, "name": r.aspect}, r.excel_row)
        if m and m.group(1) + "." + m.group(2) in k.aspect_by_code:
            return k.aspect_by_code[m.group(1) + "." + m.group(2)]
        return None

    def audits(self, r: LedgerRow) -> list[Ref]:
        if not r.audit_name:
            return []
        k = self.k
        names = [n for n in _AUDIT_SPLIT.split(r.audit_name) if n]
        reports = [x for x in _AUDIT_SPLIT.split(r.report_no) if x] if r.report_no else []
        out: list[Ref] = []
        for i, name in enumerate(names):
            if r.audit_year is not None and (name, r.audit_year) in k.audits:
                out.append(k.audits[(name, r.audit_year)])
                continue
            same = k.audits_by_name.get(name, [])
            if len(same) == 1 and (i > 0 or r.audit_year is None):
                out.append(same[0])
                continue
            if len(same) > 1 and (i > 0 or r.audit_year is None):
                choice = self.ask(f"audit:{name}", "audit", name, "audit_name",
                                  "several audits have this name; the year is not given",
                                  r.excel_row,
                                  [(a, f"{name} ({k.audit_rows[a]['year']})") for a in same])
                if choice is not None:
                    out.append(choice)
                continue
            if r.audit_year is None:
                raise LedgerRowError(r.excel_row, self.col("audit_name"), name,
                                     "a new audit needs its year (年度)")
            level = r.audit_level or ("group" if "集团" in name else "regional")
            report = reports[i] if len(reports) == len(names) else (
                reports[0] if len(reports) == 1 and i == 0 else "")
            out.append(self.add_new("audit", f"audit:new:{name}:{r.audit_year}",
                                    f"{name} ({r.audit_year})",
                                    {"name": name, "year": r.audit_year, "level": level,
                                     "report_no": report}, r.excel_row))
        return list(dict.fromkeys(out))

    def causes(self, r: LedgerRow) -> list[Ref]:
        out: list[Ref] = []
        for title in r.causes:
            cid = self.k.causes.get(norm(title))
            out.append(cid if cid is not None else self.add_new(
                "cause", f"cause:new:{norm(title)}", title, {"title": title}, r.excel_row))
        return list(dict.fromkeys(out))

    # -- one row ----------------------------------------------------------------------------------

    def match(self, r: LedgerRow, unit: Ref | None) -> tuple[int | None, str | None]:
        """(existing issue id, code of the merged issue the row named) or (None, None)."""
        k = self.k
        if r.code and r.code in k.issue_by_code:
            iid = k.issue_by_code[r.code]
            merged = None
            seen = set()
            while k.issue_brief[iid][2] is not None and iid not in seen:
                seen.add(iid)
                merged = merged or r.code
                iid = k.issue_brief[iid][2]
            return iid, merged
        if isinstance(unit, int):
            ids = k.issue_by_title.get((norm(r.title), unit), [])
            if len(ids) == 1:
                return ids[0], None
            if len(ids) > 1:
                choice = self.ask(f"issue:{r.excel_row}", "issue", r.title, "title",
                                  "several issues of this unit have this title", r.excel_row,
                                  [(i, f"{k.issue_brief[i][0]} {k.issue_brief[i][1]}")
                                   for i in ids] + [(NEW, "new")])
                if choice not in (None, NEW):
                    return choice, None
        return None, None

    def plan_row(self, r: LedgerRow, detail: dict[int, dict]) -> RowPlan:
        asked = len(self.ambiguities)
        unit = self.unit(r)
        if unit is None and r.unit:
            # The unit is a question for the user: the rest of the row waits for the answer.
            return RowPlan(r.excel_row, "ask", f"issue:ask:{r.excel_row}", r.code, r.title,
                           r.unit)
        if isinstance(unit, int) and not self.actor.in_scope(unit):
            raise LedgerRowError(r.excel_row, self.col("unit"), r.unit,
                                 f"outside {self.actor.username}'s scope")
        issue_id, merged_code = self.match(r, unit)
        if issue_id is None and len(self.ambiguities) > asked:
            return RowPlan(r.excel_row, "ask", f"issue:ask:{r.excel_row}", r.code, r.title,
                           r.unit)
        key: Ref = issue_id if issue_id is not None else ("issue:new", norm(r.title), unit)
        if key in self.claimed:
            raise LedgerRowError(r.excel_row, self.col("code" if r.code else "title"),
                                 r.code or r.title,
                                 f"the same issue as row {self.claimed[key]}")
        self.claimed[key] = r.excel_row
        d = detail.get(issue_id) if issue_id is not None else None
        if unit is None and d is not None:
            unit = d["unit_id"]
        if unit is None:
            raise LedgerRowError(r.excel_row, self.col("unit"), "",
                                 "a new issue needs its unit (责任单位)")
        sources = self.audits(r)
        streams = list(r.streams) or ([self.stream] if self.stream else [])
        causes = self.causes(r)
        responsible = self.person(r.responsible, unit, r, "responsible",
                                  d["responsible_person_id"] if d else None)
        supervisor = self.person(r.supervisor, unit, r, "supervisor",
                                 d["supervisor_person_id"] if d else None)
        current_owner = {norm(m["title"]): m["owner_person_id"] for m in d["measures"]} \
            if d else {}
        owners_ = [self.person(m.owner, unit, r, "measures", current_owner.get(norm(m.title)))
                   if m.owner else None for m in r.measures]
        if d is None:
            return self.plan_new(r, unit, sources, streams, causes, responsible, supervisor,
                                 owners_)
        return self.plan_existing(r, d, unit, merged_code, sources, streams, causes,
                                  responsible, supervisor, owners_)

    def plan_new(self, r: LedgerRow, unit: Ref, sources: list[Ref], streams: list[str],
                 causes: list[Ref], responsible: Ref | None, supervisor: Ref | None,
                 owners_: list[Ref | None]) -> RowPlan:
        aspect = self.aspect(r)
        if aspect is None:
            raise LedgerRowError(r.excel_row, self.col("category"), r.category,
                                 "a new issue needs its category and aspect (问题类别/问题方面)")
        aspect_code = (self.k.aspects[aspect]["code"] if isinstance(aspect, int)
                       else self.new[aspect].values["code"])
        code = r.code
        tail = code[len(aspect_code) + 1:] if code.startswith(aspect_code + ".") else ""
        if not tail.isdigit() or code in self.k.issue_by_code or code in self.k.codes:
            code = self.next_code(aspect_code, self.k.issue_by_code)
        else:
            self.use_code(aspect_code, code, self.k.issue_by_code)
        self.k.codes.add(code)
        p = RowPlan(r.excel_row, "create", f"issue:new:{r.excel_row}", code, r.title,
                    self.unit_label(unit))
        p.create = {"aspect": aspect, "unit": unit, "code": code, "title": r.title,
                    "description": r.description, "amount_involved": r.amount or 0,
                    "basis": r.basis, "recommendation": r.recommendation,
                    "rectification_type": r.rectification_type or "immediate",
                    "sources": sources, "streams": [s for s in STREAMS if s in streams],
                    "focus": list(r.focus)}
        p.changes.append(FieldChange("issue", None, f"{code} {r.title}"))
        if responsible is not None or supervisor is not None or r.deadline:
            p.assign = {"responsible": responsible, "supervisor": supervisor,
                        "deadline": r.deadline}
        seen: set[str] = set()
        for m, owner in zip(r.measures, owners_):
            if norm(m.title) in seen:
                continue
            seen.add(norm(m.title))
            p.measures.append(MeasurePlan(m.title, None, owner, m.deadline, m.done))
        p.causes = causes
        p.progress = r.progress or None
        facts = IssueFacts(code, Status.NOT_STARTED, 1 if responsible is not None else None,
                           r.deadline.isoformat() if r.deadline else None,
                           tuple(MeasureFacts(0, 1 if mp.owner is not None else None,
                                              mp.deadline.isoformat() if mp.deadline else None,
                                              "done" if mp.done else "todo", 0)
                                 for mp in p.measures), len(causes), False, None)
        self.plan_status(p, r.status, facts, submitted_by=None)
        return p

    def plan_existing(self, r: LedgerRow, d: dict, unit: Ref | None, merged_code: str | None,
                      sources: list[Ref], streams: list[str], causes: list[Ref],
                      responsible: Ref | None, supervisor: Ref | None,
                      owners_: list[Ref | None]) -> RowPlan:
        k = self.k
        p = RowPlan(r.excel_row, "update", d["id"], d["code"], d["title"],
                    k.units[d["unit_id"]]["name"], merged_into=merged_code and d["code"])
        status = d["status"]
        closed = status in (Status.CLOSED.value, Status.ENDED.value)
        editable = status in model.EDITABLE_STATUSES

        def change(fld: str, old: Any, new: Any) -> None:
            p.changes.append(FieldChange(fld, old, new))

        if not merged_code:
            wanted = {"title": r.title, "description": r.description, "basis": r.basis,
                      "recommendation": r.recommendation,
                      "rectification_type": r.rectification_type,
                      "amount_involved": r.amount}
            if r.category or r.aspect:
                aspect = self.aspect(r)
                if aspect is not None and aspect != d["aspect_id"]:
                    p.edits["aspect_id"] = aspect
                    change("aspect", k.aspects[d["aspect_id"]]["name"],
                           r.aspect or r.category)
            for fld, new in wanted.items():
                if new in (None, ""):
                    continue   # a blank cell changes nothing
                old = d[fld]
                if isinstance(new, str) and is_truncated_from(new, old):
                    continue   # our own export cut this cell to Excel's limit: keep the whole text
                if fld == "amount_involved":
                    if round(float(old or 0), 2) == round(float(new), 2):
                        continue
                elif old == new:
                    continue
                p.edits[fld] = new
                change(fld, old, new)
        for fld, have, want, ids in (
                ("sources", d["sources"], sources, None),
                ("streams", d["streams"], streams, k.stream_ids),
                ("focus", d["focus"], list(r.focus), k.focus_ids)):
            wanted_ids = [ids[x] for x in want] if ids else want
            extra = [x for x, i in zip(want, wanted_ids) if i not in have]
            if extra:
                if ids:
                    names = {v: c for c, v in ids.items()}
                    p.links[fld] = sorted({names[i] for i in have} | set(want))
                else:
                    p.links[fld] = list(have) + extra
                change(fld, None, ", ".join(self.label_of(x) for x in extra))
        if isinstance(unit, int) and unit != d["unit_id"] and not merged_code:
            if closed:
                p.notes.append("unit: closed or ended issue is not reassigned")
            else:
                p.assign["unit"] = unit
                change("unit", k.units[d["unit_id"]]["name"], k.units[unit]["name"])
        for fld, ref in (("responsible_person_id", responsible),
                         ("supervisor_person_id", supervisor)):
            if ref is not None and ref != d[fld]:
                if closed:
                    p.notes.append(f"{fld}: closed or ended issue is not reassigned")
                    continue
                p.assign["responsible" if fld.startswith("resp") else "supervisor"] = ref
                change(fld, self.person_label(d[fld]), self.person_label(ref))
        if r.deadline and r.deadline.isoformat() != d["deadline"]:
            new_deadline = r.deadline.isoformat()
            if closed:
                p.notes.append("deadline: closed or ended issue keeps its deadline")
            elif d["original_deadline"] is None or status == Status.NOT_STARTED.value:
                p.assign["deadline"] = r.deadline
                change("deadline", d["deadline"], new_deadline)
            elif d["deadline"] and new_deadline > d["deadline"]:
                p.extend_to = r.deadline
                change("deadline", d["deadline"], new_deadline)
            else:
                p.notes.append(f"deadline: {new_deadline} is earlier than {d['deadline']} "
                               "after work started (only an extension moves it)")
        by_title = {norm(m["title"]): m for m in d["measures"]}
        measures = [dict(m) for m in d["measures"]]
        seen: set[str] = set()
        for m, owner in zip(r.measures, owners_):
            key = norm(m.title)
            if key in seen:
                continue
            seen.add(key)
            old = by_title.get(key)
            if old is None:
                mp = MeasurePlan(m.title, None, owner, m.deadline, m.done)
                measures.append({"id": 0, "owner_person_id": owner, "deadline": m.deadline,
                                 "status": "done" if m.done else "todo", "evidence": 0})
                change("measure", None, m.title)
            else:
                mp = MeasurePlan(m.title, old["id"])
                if owner is not None and owner != old["owner_person_id"]:
                    mp.edit["owner"] = owner
                    change(f"measure {m.title}: owner", self.person_label(
                        old["owner_person_id"]), self.person_label(owner))
                if m.deadline and m.deadline.isoformat() != old["deadline"]:
                    mp.edit["deadline"] = m.deadline
                    change(f"measure {m.title}: deadline", old["deadline"],
                           m.deadline.isoformat())
                if m.done and old["status"] != "done":
                    mp.done = True
                    change(f"measure {m.title}: status", old["status"], "done")
                if not mp.edit and not mp.done:
                    continue
                for mm in measures:
                    if mm["id"] == old["id"]:
                        mm.update(owner_person_id=mp.edit.get("owner", mm["owner_person_id"]),
                                  deadline=mp.edit.get("deadline", mm["deadline"]),
                                  status="done" if mp.done else mm["status"])
            p.measures.append(mp)
        new_causes = [c for c in causes if c not in d["causes"]]
        p.causes = new_causes
        if new_causes:
            change("causes", None, ", ".join(self.label_of(c) for c in new_causes))
        if r.progress and r.progress != d["progress"]:
            p.progress = r.progress
            change("progress", d["progress"], r.progress)
        if not editable and (p.measures or p.causes):
            p.notes.append(f"measures and causes: {d['code']} is {status}; they change only "
                           "before submission")
            p.changes = [c for c in p.changes if not c.field.startswith("measure")
                         and c.field != "causes"]
            p.measures, p.causes = [], []
            measures = [dict(m) for m in d["measures"]]
        deadline = p.extend_to or p.assign.get("deadline") or d["deadline"]
        facts = IssueFacts(
            d["code"], Status(status),
            p.assign.get("responsible", d["responsible_person_id"]),
            str(deadline) if deadline else None,
            tuple(MeasureFacts(m["id"], m["owner_person_id"],
                               str(m["deadline"]) if m["deadline"] else None, m["status"],
                               m["evidence"]) for m in measures),
            len(d["causes"]) + len(p.causes), bool(d["accountability"]), d["submitted_by"])
        self.plan_status(p, r.status, facts, submitted_by=d["submitted_by"])
        if not p.changes and not p.moves:
            p.action = "unchanged"
        return p

    def plan_status(self, p: RowPlan, target: str | None, facts: IssueFacts,
                    submitted_by: int | None) -> None:
        """The moves toward the ledger's status the rules allow, and what stops the rest."""
        current = facts.status.value
        p.ledger_status, p.status_before, p.status_after = target, current, current
        if not target or target == current:
            return
        if target == Status.ENDED.value:
            p.missing.append("ended_needs_approval")
            return
        if current == Status.ENDED.value or _STATUS_ORDER[target] < _STATUS_ORDER[current]:
            p.missing.append("no_step_back")
            return
        status = current
        while _STATUS_ORDER[status] < _STATUS_ORDER[target]:
            if status == Status.NOT_STARTED.value:
                missing = missing_for_assignment(facts)
                if missing:
                    p.missing.extend(missing)
                    break
                p.moves.append(Move.START)
                status = Status.IN_PROGRESS.value
            elif status == Status.IN_PROGRESS.value:
                p.moves.append(Move.SUBMIT)
                status = Status.SUBMITTED.value
                submitted_by = self.actor.user_id
            else:
                missing = missing_for_closure(facts)
                if grant("workflow.close", self.actor.role) is None:
                    missing = missing + ["close_permission"]
                elif not may_strike_off(replace(facts, submitted_by=submitted_by),
                                        self.actor.user_id, self.actor.person_id):
                    missing = missing + ["verifier"]
                if missing:
                    p.missing.extend(missing)
                    break
                p.moves.append(Move.CLOSE)
                status = Status.CLOSED.value
        p.status_after = status
        if p.moves:
            p.changes.append(FieldChange("status", current, status))

    def person_label(self, ref: Ref | None) -> str | None:
        if ref is None:
            return None
        if isinstance(ref, int):
            return self.k.people[ref]["name"]
        return self.new[ref].label

    def label_of(self, ref: Ref) -> str:
        if isinstance(ref, str) and ref in self.new:
            return self.new[ref].label
        if isinstance(ref, int) and ref in self.k.audit_rows:
            a = self.k.audit_rows[ref]
            return f"{a['name']} ({a['year']})"
        return str(ref)

    def run(self) -> ImportPlan:
        rows = self.parsed.rows
        # Only the issues the ledger can match are read in detail.
        wanted: set[int] = set()
        for r in rows:
            if r.code in self.k.issue_by_code:
                iid = self.k.issue_by_code[r.code]
                while self.k.issue_brief[iid][2] is not None and iid not in wanted:
                    wanted.add(iid)
                    iid = self.k.issue_brief[iid][2]
                wanted.add(iid)
        titles = {norm(r.title) for r in rows}
        for (title, _unit), ids in self.k.issue_by_title.items():
            if title in titles:
                wanted.update(ids)
        detail = _issue_details(self.db, sorted(wanted))
        plans = [self.plan_row(r, detail) for r in rows]
        return ImportPlan(self.filename, plans, list(self.new.values()),
                          list(self.ambiguities.values()),
                          list(self.parsed.warnings), list(self.parsed.skipped),
                          dict(self.parsed.header_map), self.parsed, self.stream,
                          dict(self.resolutions), history.anchor(self.db))


def plan_import(db: sqlite_utils.Database, actor: Actor, parsed: ParsedLedger,
                stream: str | None = None, *, filename: str = "",
                resolutions: dict[str, int] | None = None) -> ImportPlan:
    """What importing `parsed` would create, update and ask (reads only). `stream` is the work
    stream ('cleanup' or 'audit') of rows that name none. Raises NotPermitted, and
    LedgerRowError for a row that cannot be imported whatever the user answers."""
    require(actor, "ledger.import")
    if stream is not None and stream not in STREAMS:
        from audit.model import ValidationFailed
        raise ValidationFailed("stream", f"must be one of {', '.join(STREAMS)}")
    return _Planner(db, actor, parsed, filename, stream, dict(resolutions or {})).run()


# --- applying ------------------------------------------------------------------------------------

def _as_role(actor: Actor, role: Role) -> Actor:
    """The importing user acting with the rights a ledger import carries (see the module
    docstring); history still names the real user."""
    return replace(actor, role=role)


class _Applier:
    """Executes a plan through the services, inside the caller's transaction."""

    def __init__(self, db: sqlite_utils.Database, actor: Actor, plan: ImportPlan, at: str):
        self.db = db
        self.actor = actor
        self.org = _as_role(actor, Role.ADMIN)
        self.lead = _as_role(actor, Role.LEAD)
        self.plan = plan
        self.at = at
        self.ids: dict[str, int] = {}
        self.headers = {fld: shown for shown, fld in plan.header_map.items() if fld}
        self.deadline_day = day_of(at)

    def ref(self, ref: Ref | None) -> int | None:
        if ref is None or isinstance(ref, int):
            return ref
        return self.ids[ref]

    def version(self, issue_id: int) -> int:
        return self.db.conn.execute("SELECT version FROM issues WHERE id = ?",
                                    (issue_id,)).fetchone()[0]

    @staticmethod
    def _value(row: int, fld: str, plan: ImportPlan) -> Any:
        for r in plan.parsed.rows:
            if r.excel_row == row:
                v = getattr(r, fld, "")
                return v if not isinstance(v, tuple) else "; ".join(map(str, v))
        return ""

    def step(self, row: int, fld: str) -> "_Step":
        return _Step(self, row, fld)

    def create_entities(self) -> None:
        for ent in self.plan.new:
            row = ent.rows[0]
            v = ent.values
            if ent.kind == "unit":
                with self.step(row, "unit"):
                    self.ids[ent.key] = owners.create_unit(
                        self.db, self.org, code=v["code"], name=v["name"], level=v["level"],
                        parent_code=v["parent_code"], at=self.at)
            elif ent.kind == "person":
                with self.step(row, "responsible"):
                    self.ids[ent.key] = owners.create_person(
                        self.db, self.org, name=v["name"], unit_id=self.ref(v["unit"]),
                        at=self.at)
            elif ent.kind == "category":
                with self.step(row, "category"):
                    self.ids[ent.key] = issues.create_category(
                        self.db, self.lead, code=v["code"], name=v["name"], at=self.at)
            elif ent.kind == "aspect":
                with self.step(row, "aspect"):
                    self.ids[ent.key] = issues.create_aspect(
                        self.db, self.lead, category_id=self.ref(v["category"]),
                        name=v["name"], code=v["code"], at=self.at)
            elif ent.kind == "audit":
                with self.step(row, "audit_name"):
                    self.ids[ent.key] = issues.ensure_audit(
                        self.db, self.lead, name=v["name"], year=v["year"], level=v["level"],
                        report_no=v["report_no"], at=self.at)
            elif ent.kind == "cause":
                with self.step(row, "causes"):
                    self.ids[ent.key] = issues.create_cause(
                        self.db, self.lead, title=v["title"], at=self.at)

    def create_issues(self, plans: list[RowPlan]) -> None:
        """The new issues, in one batch through issues.create_issues_bulk: each written in the
        state the per-row services would leave it in, under the same rules."""
        items = []
        for p in plans:
            c, a = p.create, p.assign
            items.append(bulk_service.NewIssue(
                aspect_id=self.ref(c["aspect"]), unit_id=self.ref(c["unit"]), title=c["title"],
                code=c["code"], description=c["description"],
                amount_involved=c["amount_involved"], basis=c["basis"],
                recommendation=c["recommendation"], rectification_type=c["rectification_type"],
                sources=tuple(self.ref(s) for s in c["sources"]), streams=tuple(c["streams"]),
                focus=tuple(c["focus"]), responsible_person_id=self.ref(a.get("responsible")),
                supervisor_person_id=self.ref(a.get("supervisor")), deadline=a.get("deadline"),
                measures=tuple(bulk_service.NewMeasure(m.title, self.ref(m.owner), m.deadline, m.done)
                               for m in p.measures),
                causes=tuple(self.ref(x) for x in p.causes), progress=p.progress,
                moves=tuple(p.moves)))
        try:
            # Striking off is the importer's own act: its real role must allow it.
            ids = bulk_service.create_issues_bulk(self.db, self.lead, items, at=self.at,
                                            closer=self.actor)
        except AuditError as ex:
            p = plans[getattr(ex, "item", 0)]
            step = getattr(ex, "step", "create")
            fld = {"create": "title", "assign": "responsible" if "responsible" in p.assign
                   else "deadline"}.get(step, step)
            with self.step(p.excel_row, fld):
                raise
        for p, iid in zip(plans, ids):
            self.ids[p.issue] = iid

    def apply_row(self, p: RowPlan) -> int:
        """An existing issue's changes, through the services."""
        db, lead, at, row = self.db, self.lead, self.at, p.excel_row
        iid = p.issue
        if p.edits or p.links:
            fields = dict(p.edits)
            if "aspect_id" in fields:
                fields["aspect_id"] = self.ref(fields["aspect_id"])
            links = dict(p.links)
            if "sources" in links:
                links["sources"] = [self.ref(s) for s in links["sources"]]
            with self.step(row, next(iter(p.edits), "title")):
                issues.edit_issue(db, lead, iid, version=None, at=at, **links, **fields)
        if p.assign:
            a = p.assign
            with self.step(row, "responsible" if "responsible" in a else "deadline"):
                owners.assign_issue(db, lead, iid, version=None,
                                    responsible_person_id=self.ref(a.get("responsible")),
                                    supervisor_person_id=self.ref(a.get("supervisor")),
                                    unit_id=self.ref(a.get("unit")), deadline=a.get("deadline"),
                                    at=at)
        if p.extend_to is not None:
            with self.step(row, "deadline"):
                owners.extend_deadline(db, lead, iid, version=None, new_deadline=p.extend_to,
                                       reason=f"台账导入 {self.plan.filename} 第{row}行",
                                       at=at)
        for m in p.measures:
            with self.step(row, "measures"):
                mid = m.measure_id
                if mid is None:
                    mid = issues.add_measure(db, lead, iid, title=m.title,
                                             owner_person_id=self.ref(m.owner),
                                             deadline=m.deadline, at=at)
                elif m.edit:
                    issues.edit_measure(db, lead, mid, version=None, at=at,
                                        owner_person_id=self.ref(m.edit.get("owner")),
                                        deadline=m.edit.get("deadline"))
                if m.done:
                    issues.set_measure_status(db, lead, mid, version=None, status="done",
                                              at=at)
        for cause in p.causes:
            with self.step(row, "causes"):
                issues.record_root_cause(db, lead, iid, cause_id=self.ref(cause), at=at)
        if p.progress is not None:
            with self.step(row, "progress"):
                issues.update_progress(db, lead, iid, version=None, progress=p.progress, at=at)
        for move in p.moves:
            with self.step(row, "status"):
                # Striking off is the importer's own act: its real role must allow it.
                issues.move_issue(db, self.actor if move == Move.CLOSE else lead, iid, move,
                                  version=None, at=at)
        return iid


class _Step:
    """Turns a service's refusal into a LedgerRowError naming row, column and value."""

    def __init__(self, applier: _Applier, row: int, fld: str):
        self.a, self.row, self.fld = applier, row, fld

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, LedgerRowError) or not isinstance(exc, AuditError):
            return False
        column = self.a.headers.get(self.fld, self.fld)
        value = _Applier._value(self.row, self.fld, self.a.plan)
        raise LedgerRowError(self.row, column, value, str(exc)) from exc


def apply_import(db: sqlite_utils.Database, actor: Actor, plan: ImportPlan, at: str,
                 resolutions: dict[str, int] | None = None,
                 on_progress: Progress | None = None) -> ImportResult:
    """Apply a plan in ONE transaction through the services (all or nothing). Answers to the
    plan's questions come in `resolutions` (ambiguity key → chosen id, or NEW). The plan is
    worked out again inside the transaction when answers were added or the database changed
    since planning. Raises ImportNeedsDecision while a question is open, LedgerRowError naming
    row, column and value when a row cannot be applied, NotPermitted."""
    require(actor, "ledger.import")
    answers = dict(plan.resolutions)
    answers.update(resolutions or {})
    # A large import touches many pages: a bigger page cache for this transaction keeps them
    # in memory instead of spilling to the WAL half-way (about 12% faster at 2,000 rows).
    cache = db.conn.execute("PRAGMA cache_size").fetchone()[0]
    db.conn.execute(f"PRAGMA cache_size = {min(int(cache), -IMPORT_CACHE_KIB)}")
    try:
        return _apply(db, actor, plan, at, answers, on_progress)
    finally:
        db.conn.execute(f"PRAGMA cache_size = {int(cache)}")


def _apply(db: sqlite_utils.Database, actor: Actor, plan: ImportPlan, at: str,
           answers: dict[str, int], on_progress: Progress | None) -> ImportResult:
    with write_transaction(db):
        if answers != plan.resolutions or history.anchor(db) != plan.anchor:
            plan = plan_import(db, actor, plan.parsed, plan.stream, filename=plan.filename,
                               resolutions=answers)
        open_questions = plan.unresolved()
        if open_questions:
            raise ImportNeedsDecision(open_questions)
        before = history.anchor(db)[0]
        applier = _Applier(db, actor, plan, at)
        total = len(plan.rows)
        applier.create_entities()
        created = [p for p in plan.rows if p.action == "create"]
        applier.create_issues(created)
        done = len(created)
        if on_progress and created:
            on_progress("writing", done, total)
        ids: list[int] = []
        for p in plan.rows:
            if p.action == "create":
                ids.append(applier.ids[p.issue])
            elif p.action == "update":
                ids.append(applier.apply_row(p))
                done += 1
                if on_progress and (done % 200 == 0 or done == total):
                    on_progress("writing", done, total)
        if on_progress and done < total:
            on_progress("writing", total, total)
        counts = plan.counts()
        if history.anchor(db)[0] > before:
            rec = Recorder(db, actor, at, "ledger.import")
            rec.add("import", None, "file", None, json.dumps(
                {"file": plan.filename, "rows": len(plan.parsed.rows), **counts},
                ensure_ascii=False, sort_keys=True))
            rec.flush()
        written = history.anchor(db)[0] - before
    return ImportResult(counts, ids, written, plan)


def iter_status_shortfalls(plan: ImportPlan) -> Iterator[RowPlan]:
    """Rows whose ledger status the import cannot reach (with `missing` saying why)."""
    return (r for r in plan.rows if r.status_short)
