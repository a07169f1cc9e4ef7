"""Values in the office's words: a status, rectification type, warning colour, audit level, work
stream or focus point written in a ledger's local terms matched to the programme's by
similarity to its names, codes and common variants (issues.ledger_infer_model.match_value).
A sure match is taken and listed; an unsure one is a question with the nearest value proposed
(answered by read_ledger's `values`); a word near nothing is refused as before, naming row,
column and value. Also the audit's year and level read from its name. Pure.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from audit.model import LedgerRowError, Status
from issues.ledger_format import (
    _LIST_SPLIT,
    _STATUS_WORDS,
    _STREAM_WORDS,
    TYPE_WORDS,
    WARNING_WORDS,
    LedgerQuestion,
    Vocabulary,
    plain,
)
from issues.ledger_infer_model import match_value

TAKE = 0.8      # a local word this close to a programme value is taken
PROPOSE = 0.35  # …this close is asked with the value proposed; below, refused

# Common variants offices write, beyond the exact words the parsers know.
STATUS_VARIANTS = {
    Status.NOT_STARTED.value: ("未启动", "尚未启动", "未开展", "待整改", "未落实"),
    Status.IN_PROGRESS.value: ("整改中", "推进中", "正在推进", "持续推进", "落实中", "正在整改",
                               "按计划推进", "整改推进中"),
    Status.SUBMITTED.value: ("待验收", "待核验", "已报验收", "申请销号", "待审核"),
    Status.CLOSED.value: ("已销号", "已整改", "已完成", "整改到位", "已整改到位", "已落实",
                          "已办结", "办结"),
    Status.ENDED.value: ("特殊原因终结", "已终结"),
}
TYPE_VARIANTS = {"immediate": ("立行立改", "立即整改", "即知即改", "马上改"),
                  "staged": ("分阶段整改", "分步整改", "阶段整改"),
                  "continuous": ("持续整改", "长期整改", "限期整改", "常态化整改")}
_LEVEL_VARIANTS = {"group": ("集团公司", "集团", "总部", "集团审计", "集团公司审计部"),
                   "regional": ("区分公司", "省分公司", "自治区分公司", "区公司", "省公司",
                                "区分公司审计部", "本级", "区级")}
_LEVEL_NAME = re.compile(r"区分公司|自治区|省分公司|区公司|省公司")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_YEAR_NAME = re.compile(r"((?:19|20)\d{2})\s*(?:年|年度)")


def year_in_name(name: str) -> int | None:
    """The year an audit's name carries (2021年…审计, 2021年度…), or None."""
    m = _YEAR_NAME.search(name)
    return int(m.group(1)) if m else None


def level_in_name(name: str) -> str | None:
    """'group' for 集团…, 'regional' for 区分公司/省分公司…, from an audit's name; else None."""
    if "集团" in name:
        return "group"
    if _LEVEL_NAME.search(name):
        return "regional"
    return None


def _grouped(words: dict[str, Any], variants: dict[str, tuple[str, ...]]
             ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {k: list(v) for k, v in variants.items()}
    for word, target in words.items():
        key = target.value if isinstance(target, Status) else target
        out.setdefault(key, []).append(word)
    return out


def _focus_names(zh: str, en: str, code: str) -> list[str]:
    """A focus point's names and the parts offices write alone (外包单价与结算成本 → 单价,
    结算成本…)."""
    names = [zh, en, code]
    for part in re.split(r"[与和及、]", zh):
        part = part.strip()
        if len(part) >= 2:
            names.append(part)
            if part.startswith("外包") and len(part) >= 4:
                names.append(part[2:])
    return names


class LocalWords:
    """The local words of one reading: the matches taken (key → (target, confidence)) and the
    questions asked, keyed 'field:word'."""

    def __init__(self, vocabulary: Vocabulary, answers: dict[str, str]):
        self.answers = answers
        self.vocabulary = vocabulary
        self.matched: dict[str, tuple[str, float]] = {}
        self._asked: dict[str, dict] = {}
        self.choices: dict[str, list[tuple[str, list[str]]]] = {
            "status": list(_grouped(_STATUS_WORDS, STATUS_VARIANTS).items()),
            "rectification_type": list(_grouped(TYPE_WORDS, TYPE_VARIANTS).items()),
            "warning": list(_grouped(WARNING_WORDS, {}).items()),
            "audit_level": list(_LEVEL_VARIANTS.items()),
            "focus": [(c, _focus_names(zh, en, c)) for c, zh, en in vocabulary.focus],
            "streams": [(c, [zh, en, c, *_STREAM_WORDS.get(c, ())])
                        for c, zh, en in vocabulary.streams],
        }
        self.labels = {fld: {t: names[0] for t, names in ch} for fld, ch in self.choices.items()}

    def resolve(self, fld: str, value: Any, row: int, column: str, err: LedgerRowError) -> Any:
        """The target a word means: the user's answer, a sure match, or None while asked;
        raises `err` when nothing is near."""
        word = plain(value)
        if _CONTROL.search(word):
            raise err   # a word with control characters is damaged, not local
        key = f"{fld}:{word}"
        known = {t for t, _ in self.choices[fld]}
        if key in self.answers:
            if self.answers[key] in known:
                return self.answers[key]
            raise err
        m = match_value(word, self.choices[fld])
        if m.target is not None and m.confidence >= TAKE:
            self.matched[key] = (m.target, m.confidence)
            return m.target
        if m.target is None or m.confidence < PROPOSE:
            # The word near nothing: a focus point or work stream may still be new to the
            # programme, which an audit lead can create (the page offers it).
            err.params.update(word_field=fld, word=word)
            raise err
        q = self._asked.setdefault(key, {"field": fld, "column": column, "value": word,
                                         "rows": [], "proposal": m.target,
                                         "confidence": m.confidence})
        q["rows"].append(row)
        return None

    def resolve_list(self, fld: str, value: Any, row: int, column: str, err: LedgerRowError,
                     parse_list: Callable[..., tuple[str, ...]]) -> tuple[str, ...]:
        """The codes of a list cell (work streams, focus points), each token matched alone."""
        found: set[str] = set()
        order = [t for t, _ in self.choices[fld]]
        for token in _LIST_SPLIT.split(plain(value)):
            token = token.strip()
            if not token:
                continue
            try:
                found.update(parse_list(token, row, column, self.vocabulary))
                continue
            except LedgerRowError:
                pass
            target = self.resolve(fld, token, row, column, err)
            if target is not None:
                found.add(target)
        if fld == "focus":
            return tuple(sorted(found))
        return tuple(t for t in order if t in found)

    def questions(self) -> list[LedgerQuestion]:
        """The words asked, each with its rows and the nearest value proposed."""
        out = []
        for key, q in self._asked.items():
            fld = q["field"]
            out.append(LedgerQuestion(
                "value", key, fld, q["column"], q["value"], tuple(q["rows"]), q["proposal"],
                q["confidence"], tuple(self.labels[fld].items())))
        return out

