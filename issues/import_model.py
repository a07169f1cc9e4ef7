"""The ledger import as plain data: the plan (what each row would create, change or ask), the
answers it waits for, what the database holds that a ledger can match (Known), and the text
normalisation matching uses. Pure: standard library and the packages' models only."""
from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

from audit.model import AuditError, Status
from issues.ledger_format import ParsedLedger
from issues.model import Move

Ref = Any   # an existing id (int) or a key (str) of something this import creates

STATUS_ORDER = {Status.NOT_STARTED.value: 0, Status.IN_PROGRESS.value: 1,
                Status.SUBMITTED.value: 2, Status.CLOSED.value: 3}
_NON_WORD = re.compile(r"[\W_]+", re.U)
_ADMIN_SUFFIX = "市盟县旗区"
AUDIT_SPLIT = re.compile(r"\s*[；;]\s*")   # several audits in one cell
NEW = -1   # the resolution choice "create a new one"

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
    # Deadlines that fit (audit.rules_model): the measures this row adds or moves, or whose
    # issue deadline it sets, that fall after the issue's deadline: [(title, measure
    # deadline, issue deadline)], ISO dates. Applying records each as accepted (the row).
    deadline_misfits: list[tuple[str, str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # why the ledger status is not reached
    notes: list[str] = field(default_factory=list)      # ledger values not applied, and why
    merged_into: str | None = None
    four_missing: list[str] | None = None   # a new issue: what 四个到人 lacks ([] when met)

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
    # Cells changed in the database after the file's anchor (issues.import_conflict_model),
    # the per-row choices made for them (row → 'file' | 'keep'), and why none could be looked
    # for: 'none' (the file carries no anchor) or 'foreign' (another database's anchor).
    conflicts: list = field(default_factory=list)
    choices: dict[int, str] = field(default_factory=dict)
    anchor_note: str | None = None
    # The cap on staged + continuous items passed by the whole import: (before, after) as
    # audit.rules_model.CapCheck, or None; apply then needs the lead's reason (accept_cap).
    cap: tuple | None = None

    def undecided_conflicts(self) -> list:
        """The conflicts whose row has no choice yet (apply refuses while there are any)."""
        return [c for c in self.conflicts if c.choice is None]

    def counts(self) -> dict[str, int]:
        """How many issues are created, updated, unchanged, and new entities by kind."""
        out = {"rows": len(self.rows), "create": 0, "update": 0, "unchanged": 0, "ask": 0}
        for r in self.rows:
            out[r.action] += 1
        for n in self.new:
            out[f"new_{n.kind}"] = out.get(f"new_{n.kind}", 0) + 1
        out["status_short"] = sum(1 for r in self.rows if r.status_short)
        created = [r for r in self.rows if r.four_missing is not None]
        if created:
            out["four_met"] = sum(1 for r in created if not r.four_missing)
        out["ambiguities"] = len(self.unresolved())
        return out

    def deadline_misfits(self) -> list[tuple[int, str, str, str, str]]:
        """Every measure the import leaves due after its issue's deadline: (excel row, issue
        code, measure title, measure deadline, issue deadline)."""
        return [(r.excel_row, r.code, *m) for r in self.rows if r.action != "ask"
                for m in r.deadline_misfits]

    def unresolved(self) -> list[Ambiguity]:
        """The ambiguities without an answer in `resolutions`."""
        return [a for a in self.ambiguities if a.key not in self.resolutions]

    def four_shortfalls(self) -> dict[str, int]:
        """Of the new issues that do not meet 四个到人: how many lack each part."""
        out: dict[str, int] = {}
        for r in self.rows:
            for m in r.four_missing or ():
                out[m] = out.get(m, 0) + 1
        return out

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
    # Findings that come back: new issue id → (the earlier item it may repeat, the score),
    # flagged for a lead to confirm on the 验收 page.
    recurrences: dict[int, tuple[int, float]] = field(default_factory=dict)


# --- what the database holds that a ledger can match ---------------------------------------

class Known:
    """Units, people, catalogue, audits, causes and issues a ledger can match, indexed: rows as
    issues.import_store reads them (only what the ledger names, besides the small tables of
    units, categories and aspects). `issue_codes_under(parent)` gives the issue codes below an
    aspect code, for the next free code."""

    def __init__(self, *, units: Iterable[tuple], people: Iterable[tuple],
                 categories: Iterable[tuple], aspects: Iterable[tuple], audits: Iterable[tuple],
                 causes: Iterable[tuple], issues: Iterable[tuple], streams: Iterable[tuple],
                 focus: Iterable[tuple], issue_codes_under: Callable[[str], set[str]]):
        self.units = {r[0]: {"id": r[0], "code": r[1], "name": r[2], "parent_id": r[3],
                             "level": r[4]} for r in units}
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
        self.add_people(people)
        self.categories = {r[0]: {"id": r[0], "code": r[1], "name": r[2]} for r in categories}
        self.category_by_name: dict[str, int] = {}
        for cat in sorted(self.categories.values(), key=lambda x: x["id"]):
            self.category_by_name.setdefault(norm(cat["name"]), cat["id"])
        self.aspects = {r[0]: {"id": r[0], "code": r[1], "category_id": r[2], "name": r[3]}
                        for r in aspects}
        self.aspect_by_name: dict[tuple[int, str], int] = {}
        self.aspect_by_plain: dict[str, list[int]] = defaultdict(list)
        for a in sorted(self.aspects.values(), key=lambda x: x["id"]):
            self.aspect_by_name.setdefault((a["category_id"], norm(a["name"])), a["id"])
            self.aspect_by_plain[norm(a["name"])].append(a["id"])
        self.aspect_by_code = {a["code"]: a["id"] for a in self.aspects.values()}
        self.codes: set[str] = {c["code"] for c in self.categories.values()}
        self.codes |= set(self.aspect_by_code)
        self.audits: dict[tuple[str, int], int] = {}
        self.audits_by_name: dict[str, list[int]] = defaultdict(list)
        self.audit_rows: dict[int, dict] = {}
        for aid, name, year in sorted(audits):
            self.audits[(name, year)] = aid
            self.audits_by_name[name].append(aid)
            self.audit_rows[aid] = {"name": name, "year": year}
        self.causes: dict[str, int] = {}
        for cid, title in sorted(causes):
            self.causes.setdefault(norm(title), cid)
        self.issue_by_code: dict[str, int] = {}
        self.issue_by_title: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.issue_brief: dict[int, tuple[str, str, int | None]] = {}
        for iid, code, title, unit_id, merged_into in sorted(issues):
            self.issue_by_code[code] = iid
            self.issue_brief[iid] = (code, title, merged_into)
            if merged_into is None:
                self.issue_by_title[(norm(title), unit_id)].append(iid)
        streams = list(streams)
        self.stream_ids = {code: sid for code, sid in streams}
        self.stream_order = tuple(code for code, _ in streams)
        self.focus_ids = {code: fid for code, fid in focus}
        self._codes_under = issue_codes_under
        self._issue_codes: dict[str, set[str]] = {}

    def add_people(self, people: Iterable[tuple]) -> None:
        """Add people rows (id, name, unit id, active); only active ones match by name."""
        for pid, name, unit_id, active in people:
            if pid in self.people:
                continue
            self.people[pid] = {"id": pid, "name": name, "unit_id": unit_id, "active": active}
            if active:
                self.people_by_name[name].append(pid)

    def issue_codes_under(self, parent: str) -> set[str]:
        """The issue codes below an aspect code (C3.2 → C3.2.*), read once per aspect."""
        found = self._issue_codes.get(parent)
        if found is None:
            found = self._issue_codes[parent] = set(self._codes_under(parent))
        return found

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

    def issues_to_read(self, parsed: ParsedLedger) -> list[int]:
        """The issues a ledger can match (by code, following merges, or by title), the only ones
        the planner reads in detail."""
        wanted: set[int] = set()
        for r in parsed.rows:
            if r.code in self.issue_by_code:
                iid = self.issue_by_code[r.code]
                while self.issue_brief[iid][2] is not None and iid not in wanted:
                    wanted.add(iid)
                    iid = self.issue_brief[iid][2]
                wanted.add(iid)
        titles = {norm(r.title) for r in parsed.rows}
        for (title, _unit), ids in self.issue_by_title.items():
            if title in titles:
                wanted.update(ids)
        return sorted(wanted)


def ledger_names(parsed: ParsedLedger) -> dict[str, set[str]]:
    """What a ledger names, for reading only the matching rows: issue codes, normalised titles,
    people, audit names and normalised cause titles."""
    people: set[str] = set()
    audits: set[str] = set()
    for r in parsed.rows:
        people.update(n for n in (r.responsible, r.supervisor) if n)
        people.update(m.owner for m in r.measures if m.owner)
        if r.audit_name:
            audits.update(n for n in AUDIT_SPLIT.split(r.audit_name) if n)
    return {"codes": {r.code for r in parsed.rows if r.code},
            "titles": {norm(r.title) for r in parsed.rows},
            "people": people, "audits": audits,
            "causes": {norm(c) for r in parsed.rows for c in r.causes}}

