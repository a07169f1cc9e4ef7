"""Matching a ledger row's names to what the programme holds: units (by code, name or name
without 分公司/市…, created under a parent the row makes clear), people (in the row's unit, then
its ancestors and descendants), categories and aspects, audits and root causes. Pure: over the
Known rows; a question the user must answer is recorded (Ambiguity), never guessed; a row that
cannot be placed whatever the answer raises LedgerRowError. See issues.import_plan_model for
the rules of the whole plan."""
from __future__ import annotations

import re
from collections.abc import Collection

from audit.model import Actor, LedgerRowError
from issues.import_model import (
    AUDIT_SPLIT,
    NEW,
    Ambiguity,
    Known,
    NewEntity,
    Ref,
    norm,
    unit_core,
)
from issues.ledger_format import LedgerRow, ParsedLedger
from issues.model import highest_child_number

_PATH_SPLIT = re.compile(r"\s*[/／>＞|]\s*")
_CITY_STYLE = re.compile(r".+(市|盟)分公司$")
CODE_SHAPE = re.compile(r"^(C\d+)\.(\d+)\.(\d+)$")


class Matcher:
    """The names of a ledger's rows matched against Known, with the questions, the entities to
    create and the codes this import uses so far."""

    def __init__(self, known: Known, actor: Actor, parsed: ParsedLedger,
                 resolutions: dict[str, int]):
        self.actor = actor
        self.parsed = parsed
        self.resolutions = resolutions
        self.k = known
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
        m = CODE_SHAPE.match(r.code)
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
        names = [n for n in AUDIT_SPLIT.split(r.audit_name) if n]
        reports = [x for x in AUDIT_SPLIT.split(r.report_no) if x] if r.report_no else []
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

