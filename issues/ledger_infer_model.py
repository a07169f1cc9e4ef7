"""Understanding an office's ledger: which field each column means, judged by its whole header
path (both levels of a two-level header) and by what its values look like, each answer with a
confidence and its reason; and which programme value a cell's local word means. Pure: header
texts, sample values and the programme's words in, decisions out.

How a column is decided (the preview shows the confidence and reason of every column):
- a user's mapping or a saved profile: certain;
- a header that is one of the field's synonyms: certain (the synonyms' tiers settle two columns
  meaning one field, as before);
- a header containing a synonym (审计年份 contains 年份), or like one (similarity of the
  normalised texts): 0.55–0.9, by how much of the header the synonym covers;
- the values: a column of four-digit years, C3.2.1-shape codes, status, level, type, warning
  or yes/no words supports the field they fit (+0.15) and, under a header that says nothing,
  proposes it (0.75, for those distinctive kinds only); values that cannot be
  the header's field (text under a year header) weaken it.
A column at ACCEPT or above is taken; between ASK and ACCEPT it is asked (never guessed); below
ASK it maps to no field and is kept with the issue as an extra column. Two columns wanting one
field: a synonym beats an inference, a clearly better inference beats a weaker one, otherwise
the weaker is asked.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Iterable, Mapping as TMapping

from issues.import_model import norm, unit_core

ACCEPT = 0.7
ASK = 0.5
# Synonyms too general to tell a field when found inside a longer header (问题具体描述 is not
# the title because it contains 问题).
GENERIC = frozenset({"问题", "issue", "情况", "项目名称", "no", "due", "type", "level", "unit",
                     "audit", "code", "year", "stream", "cause", "owner", "status"})
SAMPLE = 200

# Reasons (keys of the catalogue's imp.reason.* texts; the preview shows them translated).
USER, PROFILE, SYNONYM, CONTAINS, SIMILAR, VALUES, NONE = (
    "user", "profile", "synonym", "contains", "similar", "values", "none")
KNOWN_UNIT, KNOWN_PERSON = "known_unit", "known_person"   # values are the programme's names


@dataclass(frozen=True)
class ColumnMapping:
    """How one column was understood: the field (None: no field, kept as an extra column),
    the confidence 0–1, the reason key, the synonym or value kind behind it, and the
    runner-up field when another was close."""

    header: str
    field: str | None
    confidence: float
    reason: str
    detail: str = ""
    runner_up: str | None = None

    @property
    def asked(self) -> bool:
        """Is this mapping a question for the user (not confident enough to take)?"""
        return self.field is not None and self.confidence < ACCEPT


@dataclass
class ColumnEvidence:
    """What is known of one column before deciding: its header path, the synonym match the
    header format found (field, tier) and a sample of its values."""

    index: int
    shown: str
    path: tuple[str, ...]
    exact: tuple[str | None, int] | None = None
    values: list[Any] = field(default_factory=list)


# --- what values look like ----------------------------------------------------------------------

_YEAR = re.compile(r"^(19[9]\d|20\d\d|2100)\s*(年度|年)?$")
_CODE = re.compile(r"^[A-Za-z]{1,2}\d{1,3}(?:\.\d{1,3}){1,3}$")
_DATE = re.compile(r"^\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:[ T].*)?$|^\d{8}$")
_AMOUNT = re.compile(r"^[¥￥]?\s*\d[\d,，]*(?:\.\d+)?\s*(万元|万|元)?$")
_PERSON = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_UNIT = re.compile(r"(分公司|公司|中心|部|局|营业部|支局|县|旗|市|盟)$")
_LEVEL = re.compile(r"集团|区分公司|省分公司|自治区|省公司")

# The field a distinctive kind of value proposes under a header that says nothing.
KIND_FIELD = {"year": "audit_year", "code": "code", "status": "status", "level": "audit_level",
              "type": "rectification_type", "warning": "warning", "yesno": "struck_off",
              "date": "deadline", "person": "responsible", "unit": "unit", "amount": "amount"}
# Only distinctive kinds propose a field alone: a column of dates, names or numbers under a
# header that says nothing is kept as an extra column, not guessed.
KIND_STRENGTH = {"year": 0.75, "code": 0.75, "status": 0.75, "level": 0.75, "type": 0.75,
                 "warning": 0.75}
# The kinds each field's values may be (a field not listed accepts anything).
FIELD_KINDS = {"audit_year": {"year"}, "code": {"code", "text"}, "deadline": {"date"},
               "closed_on": {"date"}, "amount": {"amount", "year"},
               "amount_corrected": {"amount", "year"}, "amount_recovered": {"amount", "year"},
               "status": {"status"}, "audit_level": {"level"}, "rectification_type": {"type"},
               "warning": {"warning"}, "struck_off": {"yesno"},
               "responsible": {"person", "text"}, "supervisor": {"person", "text"},
               "unit": {"unit", "person", "text"}}


def value_kind(v: Any, words: TMapping[str, set[str]]) -> str | None:
    """The kind of one cell value: year, date, code, amount, status, level, type, warning,
    yesno, person, unit or text; None for a blank. `words` holds the lower-case value words of
    status, type, warning and yesno."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "yesno"
    if isinstance(v, (dt.date, dt.datetime)):
        return "date"
    if isinstance(v, (int, float)):
        if float(v).is_integer() and 1990 <= v <= 2100:
            return "year"
        return "amount"
    text = str(v).strip()
    if not text:
        return None
    low = text.lower()
    for kind in ("status", "type", "warning", "yesno"):
        if low in words.get(kind, ()):
            return kind
    if _YEAR.match(text):
        return "year"
    if _DATE.match(text):
        return "date"
    if _CODE.match(text):
        return "code"
    if _AMOUNT.match(text):
        return "amount"
    if len(text) <= 12 and _LEVEL.search(text) and not _UNIT.search(text.replace("公司", "")):
        return "level"
    if _PERSON.match(text) and not _UNIT.search(text):
        return "person"
    if len(text) <= 20 and _UNIT.search(text):
        return "unit"
    return "text"


def dominant_kind(values: Iterable[Any], words: TMapping[str, set[str]]
                  ) -> tuple[str | None, float]:
    """The commonest kind among the non-blank sample values and its share (None, 0 if blank)."""
    counts: dict[str, int] = {}
    n = 0
    for v in values:
        k = value_kind(v, words)
        if k is None:
            continue
        counts[k] = counts.get(k, 0) + 1
        n += 1
    if not n:
        return None, 0.0
    kind = max(counts, key=lambda k: (counts[k], k))
    return kind, counts[kind] / n


# --- similarity -----------------------------------------------------------------------------------

def similarity(a: str, b: str) -> float:
    """How alike two normalised texts are, 0–1 (difflib's ratio)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def header_guess(path: Iterable[str], synonyms: TMapping[str, Iterable[str]]
                 ) -> list[tuple[float, str, str, str]]:
    """(score, field, reason, synonym) for a header path without an exact synonym, best first:
    the child header first, then the whole path joined; containment, then similarity."""
    best: dict[str, tuple[float, str, str, str]] = {}
    texts = [t for t in path if t]
    if len(texts) > 1:
        texts = [texts[-1], "".join(texts)]
    for weight, text in zip((1.0, 0.95), texts):
        for fld, names in synonyms.items():
            for name in names:
                if not name or name == text:
                    continue
                score, reason = 0.0, ""
                if len(name) >= 2 and name in text and name not in GENERIC:
                    score, reason = 0.6 + 0.3 * len(name) / len(text), CONTAINS
                elif len(text) >= 2 and text in name and len(text) * 2 >= len(name):
                    score, reason = 0.55 + 0.3 * len(text) / len(name), CONTAINS
                else:
                    r = similarity(text, name)
                    if r >= 0.6:
                        score, reason = 0.5 + 0.4 * (r - 0.6) / 0.4, SIMILAR
                score *= weight
                if score and score > best.get(fld, (0.0,))[0]:
                    best[fld] = (round(score, 3), fld, reason, name)
    order = {f: i for i, f in enumerate(synonyms)}   # ties: the field listed first
    return sorted(best.values(), key=lambda x: (-x[0], order[x[1]]))


# --- deciding every column -------------------------------------------------------------------------

def decide_columns(columns: list[ColumnEvidence], synonyms: TMapping[str, Iterable[str]],
                   words: TMapping[str, set[str]], user: TMapping[str, str],
                   profile: TMapping[str, str] = {},
                   names: TMapping[str, frozenset[str]] = {}) -> list[ColumnMapping]:
    """A ColumnMapping per column, contests settled (see the module docstring). `user` and
    `profile` map a header as shown to a field ('' for none); `names` holds the programme's
    unit and person names, normalised ('unit', 'person')."""
    proposals: list[tuple[ColumnEvidence, ColumnMapping, int]] = []
    for col in columns:
        proposals.append((col, *_propose(col, synonyms, words, user, profile, names)))
    # Settle two columns wanting one field.
    by_field: dict[str, list[int]] = {}
    for i, (_, m, _) in enumerate(proposals):
        if m.field and m.field not in ("serial", "accountability", "evidence"):
            by_field.setdefault(m.field, []).append(i)
    out = [m for _, m, _ in proposals]
    for fld, idx in by_field.items():
        if len(idx) < 2:
            continue
        ranked = sorted(idx, key=lambda i: (-_rank(out[i], proposals[i][2]), i))
        top, top_tier = out[ranked[0]], proposals[ranked[0]][2]
        for i in ranked[1:]:
            m = out[i]
            sure = (USER, PROFILE, SYNONYM)
            certain = top.reason in sure and (m.reason not in sure or top_tier < proposals[i][2])
            if certain or top.confidence - m.confidence >= 0.15:
                out[i] = ColumnMapping(m.header, None, m.confidence, m.reason, m.detail, fld)
            elif m.reason in (USER, PROFILE, SYNONYM):
                continue   # two synonyms of one tier: the header format refuses them by name
            else:
                out[i] = ColumnMapping(m.header, fld, min(m.confidence, ACCEPT - 0.01),
                                       m.reason, m.detail, top.header)
    return out


KNOWN_SHARE = 0.6   # "mostly": this share of a column's values being known names
KNOWN_FIELD = {"unit": ("unit", KNOWN_UNIT), "person": ("responsible", KNOWN_PERSON)}


def known_names_field(values: Iterable[Any], names: TMapping[str, frozenset[str]]
                      ) -> ColumnMapping | None:
    """The field a column's values name when mostly the programme's units ('unit') or people
    ('responsible'): confidence 0.85–0.95 by the share, the detail 'hits/values'; else None."""
    texts = [str(v).strip() for v in values if isinstance(v, str) and str(v).strip()]
    if not texts or not names:
        return None
    for kind, (fld, reason) in KNOWN_FIELD.items():
        known = names.get(kind) or frozenset()
        if not known:
            continue
        if kind == "unit":
            hits = sum(1 for t in texts if norm(t) in known or unit_core(t) in known)
        else:
            hits = sum(1 for t in texts if norm(t) in known)
        share = hits / len(texts)
        if share >= KNOWN_SHARE:
            return ColumnMapping("", fld, round(0.7 + 0.25 * share, 2), reason,
                                 f"{hits}/{len(texts)}")
    return None


def _rank(m: ColumnMapping, tier: int) -> float:
    base = {USER: 3.0, PROFILE: 3.0, SYNONYM: 2.0}.get(m.reason, 0.0)
    return base - 0.1 * tier + m.confidence


def _propose(col: ColumnEvidence, synonyms: TMapping[str, Iterable[str]],
             words: TMapping[str, set[str]], user: TMapping[str, str],
             profile: TMapping[str, str], names: TMapping[str, frozenset[str]] = {}
             ) -> tuple[ColumnMapping, int]:
    for source, reason in ((user, USER), (profile, PROFILE)):
        if col.shown in source:
            return ColumnMapping(col.shown, source[col.shown] or None, 1.0, reason), -1
    kind, share = dominant_kind(col.values[:SAMPLE], words)
    strong = kind is not None and share >= 0.8
    if col.exact is not None:
        fld, tier = col.exact
        return ColumnMapping(col.shown, fld, 1.0, SYNONYM, col.shown), tier
    guesses = header_guess(col.path, synonyms)
    named = known_names_field(col.values[:SAMPLE], names)
    if named is not None and (not guesses or guesses[0][1] == named.field
                              or guesses[0][0] < ACCEPT):
        # Values that are the programme's own units or people say more than a header that
        # names no field (落实单位, 牵头人).
        return ColumnMapping(col.shown, named.field, named.confidence, named.reason,
                             named.detail), 1
    if guesses:
        score, fld, reason, name = guesses[0]
        runner = guesses[1][1] if len(guesses) > 1 and guesses[1][0] >= score - 0.05 else None
        if strong and kind in KIND_STRENGTH and KIND_FIELD[kind] != fld:
            # The header names two things (整改进度状态); distinctive values say which.
            other = next((g for g in guesses if g[1] == KIND_FIELD[kind]), None)
            if other is not None:
                score, fld, reason, name = other
                runner = None
        allowed = FIELD_KINDS.get(fld)
        if strong and allowed is not None:
            if kind in allowed:
                score = min(score + 0.15, 0.95)
                if runner is not None and kind not in FIELD_KINDS.get(runner, {kind}):
                    runner = None   # the values rule the runner-up out
            else:
                score -= 0.3
        elif strong and kind is not None and kind != "text" and KIND_FIELD.get(kind) == fld:
            score = min(score + 0.15, 0.95)
        if runner is not None and runner != fld:
            score = min(score, ACCEPT - 0.01)
        if score >= ASK:
            return ColumnMapping(col.shown, fld, round(score, 2), reason, name, runner), 1
    if strong and kind in KIND_STRENGTH:
        fld = KIND_FIELD[kind]
        return ColumnMapping(col.shown, fld, KIND_STRENGTH[kind], VALUES, kind), 1
    return ColumnMapping(col.shown, None, 0.0, NONE), 1


# --- values in the office's words --------------------------------------------------------------------

@dataclass(frozen=True)
class ValueMatch:
    """Which programme value a local word means: the target (None when nothing is near), the
    confidence 0–1 and the name it was matched to."""

    word: str
    target: str | None
    confidence: float
    matched: str = ""


def match_value(word: str, choices: Iterable[tuple[str, Iterable[str]]]) -> ValueMatch:
    """The choice (target, its names and variants) a local word means: exact name → 1.0; a
    name contained in the word or the word in a name → 0.8–0.95; else similarity (0–0.8).
    Two targets within 0.05 of each other halve the confidence (contested)."""
    w = _squeeze(word)
    scored: list[tuple[float, str, str]] = []
    for target, names in choices:
        best = (0.0, "")
        for name in names:
            n = _squeeze(name)
            if not n:
                continue
            if n == w:
                s = 1.0
            elif len(n) >= 2 and n in w:
                s = 0.8 + 0.15 * len(n) / len(w)
            elif len(w) >= 2 and w in n:
                s = 0.8 + 0.15 * len(w) / len(n)
            else:
                s = 0.8 * similarity(w, n)
            if s > best[0]:
                best = (s, name)
        scored.append((best[0], target, best[1]))
    if not scored:
        return ValueMatch(word, None, 0.0)
    scored.sort(key=lambda x: (-x[0], x[1]))
    s, target, name = scored[0]
    if s < 1.0 and len(scored) > 1 and scored[1][0] >= s - 0.05 and scored[1][1] != target:
        s = s / 2
    if s <= 0.0:
        return ValueMatch(word, None, 0.0)
    return ValueMatch(word, target, round(s, 2), name)


_SQUEEZE = re.compile(r"[\s\W_]+", re.U)


def _squeeze(text: str) -> str:
    return _SQUEEZE.sub("", text or "").lower()
