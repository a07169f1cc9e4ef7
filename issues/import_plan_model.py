"""Planning a ledger import: what each row would create, change, move and ask, worked out over
the Known rows and the matched issues' details. Pure; issues.import_service reads the database,
plans, and applies the plan in one transaction through the services.

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

from dataclasses import replace
from datetime import date
from typing import Any

from audit.model import Actor, LedgerRowError, Status, grant
from audit.rules_model import measures_after
from audit.text_format import is_truncated_from
from issues import model
from issues.import_match_model import Matcher
from issues.import_model import (
    NEW,
    Ambiguity,
    STATUS_ORDER,
    FieldChange,
    ImportPlan,
    Known,
    MeasurePlan,
    Ref,
    RowPlan,
    norm,
)
from issues.ledger_format import LedgerRow, ParsedLedger
from issues.model import (
    IssueFacts,
    MeasureFacts,
    Move,
    may_strike_off,
    missing_for_assignment,
    missing_for_closure,
)


def late_measures(facts: IssueFacts, touched: set[str],
                  measures: list[tuple[str, Any, bool]]) -> list[tuple[str, str, str]]:
    """Of `measures` (title, deadline as a date or ISO text, done), those named in `touched`
    that are open and due after the issue's deadline in `facts`: [(title, deadline, issue
    deadline)] (audit.rules_model.measures_after, the rule the services warn with)."""
    if not facts.deadline:
        return []
    late = measures_after(facts.deadline, [
        (n, str(day) if day else None, "done" if done else "todo")
        for n, (title, day, done) in enumerate(measures) if title in touched])
    return [(measures[n][0], day, facts.deadline) for n, day in late]


class Planner(Matcher):
    """Works out, row by row, what the import would do, from what the database holds (Known)
    and the details of the issues the ledger can match."""

    def __init__(self, known: Known, details: dict[int, dict], actor: Actor,
                 parsed: ParsedLedger, filename: str, stream: str | None,
                 resolutions: dict[str, int], anchor: tuple[int, str], *,
                 two_level: bool = False):
        super().__init__(known, actor, parsed, resolutions)
        self.details = details
        # Two-level verification (逐级审核): striking off needs the 初审 done first.
        self.two_level = two_level
        self.filename = filename
        self.stream = stream
        self.anchor = anchor

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
            code = self.next_code(aspect_code, self.k.issue_codes_under(aspect_code))
        else:
            self.use_code(aspect_code, code, self.k.issue_codes_under(aspect_code))
        self.k.codes.add(code)
        p = RowPlan(r.excel_row, "create", f"issue:new:{r.excel_row}", code, r.title,
                    self.unit_label(unit))
        p.create = {"aspect": aspect, "unit": unit, "code": code, "title": r.title,
                    "description": r.description, "amount_involved": r.amount or 0,
                    "amount_corrected": r.amount_corrected or 0,
                    "amount_recovered": r.amount_recovered or 0,
                    "basis": r.basis, "recommendation": r.recommendation,
                    "rectification_type": r.rectification_type or "immediate",
                    "sources": sources, "streams": [s for s in self.k.stream_order if s in streams],
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
            # A measure that names no owner or deadline takes the row's 责任人 and 整改时限.
            p.measures.append(MeasurePlan(m.title, None, owner if owner is not None
                                          else responsible, m.deadline or r.deadline, m.done))
        p.causes = causes
        p.progress = r.progress or None
        facts = IssueFacts(code, Status.NOT_STARTED, 1 if responsible is not None else None,
                           r.deadline.isoformat() if r.deadline else None,
                           tuple(MeasureFacts(0, 1 if mp.owner is not None else None,
                                              mp.deadline.isoformat() if mp.deadline else None,
                                              "done" if mp.done else "todo", 0)
                                 for mp in p.measures), len(causes), False, None)
        p.four_missing = missing_for_assignment(facts)
        p.deadline_misfits = late_measures(facts, {mp.title for mp in p.measures},
                                           [(mp.title, mp.deadline, mp.done)
                                            for mp in p.measures])
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
                      "amount_involved": r.amount, "amount_corrected": r.amount_corrected,
                      "amount_recovered": r.amount_recovered}
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
                if fld in ("amount_involved", "amount_corrected", "amount_recovered"):
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
                # A new measure that names no owner or deadline takes the issue's.
                owner = owner if owner is not None else (
                    responsible if responsible is not None else d["responsible_person_id"])
                deadline = m.deadline or r.deadline or (
                    date.fromisoformat(d["deadline"]) if d["deadline"] else None)
                mp = MeasurePlan(m.title, None, owner, deadline, m.done)
                measures.append({"id": 0, "owner_person_id": owner, "deadline": deadline,
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
            len(d["causes"]) + len(p.causes), bool(d["accountability"]), d["submitted_by"],
            d.get("checked_by"))
        # Deadlines that fit: the measures this row adds or moves, and all of them when it sets
        # the issue's deadline (an extension only moves it later).
        by_id = {m["id"]: m for m in d["measures"]}
        after = [(m["title"], m["deadline"], m["status"] == "done") for m in d["measures"]
                 if not any(mp.measure_id == m["id"] for mp in p.measures)]
        touched: set[str] = set()
        for mp in p.measures:
            old = by_id.get(mp.measure_id, {})
            after.append((mp.title, mp.edit.get("deadline") or mp.deadline or old.get("deadline"),
                          mp.done or old.get("status") == "done"))
            if mp.measure_id is None or "deadline" in mp.edit:
                touched.add(mp.title)
        if "deadline" in p.assign:
            touched = {title for title, _, _ in after}
        p.deadline_misfits = late_measures(facts, touched, after)
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
        if current == Status.ENDED.value or STATUS_ORDER[target] < STATUS_ORDER[current]:
            p.missing.append("no_step_back")
            return
        status = current
        while STATUS_ORDER[status] < STATUS_ORDER[target]:
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
                elif self.two_level:
                    missing = missing + self.second_level_missing(facts, submitted_by)
                if missing:
                    p.missing.extend(missing)
                    break
                p.moves.append(Move.CLOSE)
                status = Status.CLOSED.value
        p.status_after = status
        if p.moves:
            p.changes.append(FieldChange("status", current, status))

    def second_level_missing(self, facts: IssueFacts, submitted_by: int | None) -> list[str]:
        """With two-level verification, what stops the importer's 复核销号 (the rule of
        issues.model.may_second_check): the 初审 not done (an item submitted by this import
        has none), not a regional lead, or the importer did the 初审."""
        if facts.checked_by is None or submitted_by == self.actor.user_id:
            return ["first_check"]
        if self.actor.scope_unit_ids is not None:
            return ["second_level"]
        if facts.checked_by == self.actor.user_id:
            return ["verifier"]
        return []

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

    def reading_questions(self) -> None:
        """The reader's questions (a column's field, a local word's value) as ambiguities: they
        are answered by reading again with the answer (a mapping or a value answer), so an
        answer in `resolutions` does not close them."""
        for q in self.parsed.questions:
            self.resolutions.pop(q.key, None)
            if q.kind == "column":
                reason = (f"column {q.column!r}: is it {q.proposal or 'no field'}? "
                          f"(confidence {q.confidence:.2f}); answer with --map "
                          f"'{q.column}=FIELD' (empty FIELD: keep it as an extra column)")
            else:
                reason = (f"{q.field}: {q.value!r} is not a known value; nearest "
                          f"{q.proposal} (confidence {q.confidence:.2f}); answer with --value "
                          f"'{q.key}=VALUE'")
            self.ambiguities[q.key] = Ambiguity(
                q.key, q.kind, q.value, q.column, reason, list(q.rows),
                [(i, f"{target} {label}".strip()) for i, (target, label) in
                 enumerate(q.choices)])

    def run(self) -> ImportPlan:
        """The plan of every row."""
        self.reading_questions()
        plans = [self.plan_row(r, self.details) for r in self.parsed.rows]
        return ImportPlan(self.filename, plans, list(self.new.values()),
                          list(self.ambiguities.values()),
                          list(self.parsed.warnings), list(self.parsed.skipped),
                          dict(self.parsed.header_map), self.parsed, self.stream,
                          dict(self.resolutions), self.anchor)
