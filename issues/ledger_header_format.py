"""Ledger headers: which field each column of a ledger means. Pure: a grid in, columns out.

A header matches after normalisation (lower case, no whitespace, half-width brackets, a unit
suffix such as （万元） removed and remembered). The header row is the one within the first rows
whose cells name the most fields; a two-level header (a parent such as 整改情况 over 整改措施 /
整改时限 / 整改进展) counts as one header of its combined columns, shown as "parent/child".
A user's mapping (header → field, '' to ignore) beats the synonyms.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from audit.model import LedgerFileError
from audit.messages import LANGS, t
from issues.ledger_format import (
    DERIVED_FIELDS,
    NO_WORDS,
    ROW_FIELDS,
    YES_WORDS,
    LedgerQuestion,
    plain,
    value_words,
)
from issues.ledger_grid_format import Grid
from issues.ledger_words_format import STATUS_VARIANTS, TYPE_VARIANTS
from issues.ledger_infer_model import (
    ACCEPT,
    ColumnEvidence,
    ColumnMapping,
    decide_columns,
    header_guess,
)

HEADER_SCAN_ROWS = 30
SAMPLE_ROWS = 200       # data rows whose values help decide a column
GUESSED = 2             # the "tier" of a header recognised by containment or similarity

# ---------------------------------------------------------------------------------------------
# Header synonyms. Keys are field names; a header matches after norm_header (lower case, no
# whitespace, half-width brackets, unit suffix such as （万元） removed). Tier 0 beats tier 1 when
# two columns mean the same field (责任单位 beats 被审计单位).

_SYNONYMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "serial": (("序号", "no.", "no", "#", "seq", "serial"), ()),
    "code": (("问题编号", "编号", "台账编号", "问题代码", "code", "issuecode", "issueno."), ()),
    "category": (("问题类别", "类别", "问题大类", "大类", "问题分类", "category"),
                 ("问题类型", "所属类别", "业务类别", "领域")),
    "aspect": (("问题方面", "方面", "问题小类", "小类", "问题子类", "子类", "aspect",
                "sub-category", "subcategory"), ()),
    "title": (("问题摘要", "问题标题", "问题概述", "摘要", "问题名称", "summary", "title"),
              ("问题", "issue")),
    "description": (("问题描述", "存在问题", "问题内容", "具体问题", "问题详情", "审计发现问题",
                     "审计发现的问题", "发现问题", "description", "finding", "details"), ()),
    "audit_name": (("审计项目", "审计项目名称", "审计事项", "audit", "auditproject", "auditname"),
                   ("项目名称",)),
    "audit_year": (("年度", "审计年度", "年份", "year", "audityear"), ()),
    "audit_level": (("审计层级", "审计级别", "层级", "审计主体", "auditlevel", "level"), ()),
    "report_no": (("报告文号", "审计报告文号", "文号", "报告编号", "reportno.", "reportno",
                   "reportnumber"), ()),
    "unit": (("责任单位", "整改责任单位", "整改单位", "unit", "responsibleunit"),
             ("被审计单位", "牵头单位", "责任部门", "auditedunit")),
    "responsible": (("责任人", "整改责任人", "具体责任人", "responsible", "owner",
                     "responsibleperson"), ("负责人",)),
    "supervisor": (("分管领导", "督导领导", "责任领导", "分管负责人", "supervisor",
                    "supervisingleader"), ()),
    "rectification_type": (("整改类型", "整改方式", "整改类别", "type", "rectificationtype"), ()),
    "measures": (("整改措施", "具体整改措施", "整改措施及计划", "措施", "measures"),
                 ("整改举措", "举措", "整改计划", "actions", "correctiveactions", "action")),
    "deadline": (("整改时限", "完成时限", "整改期限", "整改完成时限", "计划完成时间", "完成时间",
                  "时限", "deadline", "duedate", "due"),
                 ("期限", "完成期限", "计划完成日期", "整改截止日期", "截止日期", "targetdate")),
    "progress": (("整改进展", "整改进度", "进展情况", "整改完成情况", "progress"), ()),
    "status": (("整改状态", "状态", "当前状态", "完成状态", "status"),
               ("目前状态", "state")),
    "struck_off": (("是否销号", "是否已销号", "struckoff"), ()),
    "warning": (("预警", "预警等级", "预警状态", "红黄绿灯", "预警灯", "亮灯情况", "warning",
                 "warningcolour", "warningcolor", "rag"), ()),
    "amount": (("涉及金额", "金额", "问题金额", "涉及资金", "amount", "amountinvolved"), ()),
    "basis": (("审计依据", "定性依据", "依据", "basis"), ()),
    "recommendation": (("审计建议", "整改建议", "建议", "recommendation"), ()),
    "streams": (("工作组", "整改工作组", "所属工作组", "专项", "workstream", "workstreams",
                 "stream", "streams"), ()),
    "focus": (("关注点", "五大关注点", "涉及关注点", "focus", "focuspoints"), ()),
    "causes": (("问题根源", "原因分析", "问题原因", "根源", "根本原因", "rootcauses", "causes",
                "cause"), ()),
    "closed_on": (("销号日期", "销号时间", "完成销号日期", "closedon", "dateclosed"), ()),
    # Exact names first: 已整改金额 holds 金额 and would otherwise be taken for 涉及金额.
    "amount_corrected": (("已整改金额", "已纠正金额", "纠正金额", "amountcorrected",
                          "amountrectified", "correctedamount"), ()),
    "amount_recovered": (("追回金额", "已追回金额", "挽回金额", "收回金额", "追回资金",
                          "amountrecovered", "recoveredamount"), ()),
    "remarks": (("备注", "remarks", "remark"), ()),
}
# The columns the writer fills from an issue's records (ledger_format.DERIVED_FIELDS) are
# skipped only in a header that is this tool's own (every column of the exported ledger under
# its catalogue header, in one language): the export reads back without them becoming extra
# columns, while an office's own 佐证材料 or 责任追究 column is kept with the issue.
_OWN_FIELDS = ("serial", *ROW_FIELDS, *DERIVED_FIELDS)

_HALF = str.maketrans({"（": "(", "）": ")", "：": ":", "，": ",", "【": "(", "】": ")",
                       "［": "(", "］": ")", "[": "(", "]": ")"})
_UNIT_SUFFIX = re.compile(r"\((?:单位:)?(万元|元|yuan|rmb|cny|¥|10k)\)$")


def norm_header(text: str) -> tuple[str, bool]:
    """Header text for matching, and whether it declares amounts in 万元."""
    t = re.sub(r"\s+", "", text).translate(_HALF).lower().strip("*:")
    in_wan = False
    m = _UNIT_SUFFIX.search(t)
    if m:
        in_wan = m.group(1) in ("万元", "10k")
        t = t[: m.start()]
    return t, in_wan


_LOOKUP: dict[str, tuple[str, int]] = {}
for _field, _tiers in _SYNONYMS.items():
    for _tier, _names in enumerate(_tiers):
        for _name in _names:
            _LOOKUP[norm_header(_name)[0]] = (_field, _tier)


_OWN_HEADERS = tuple(frozenset(norm_header(t(f"ledger.col.{f}", lang))[0] for f in _OWN_FIELDS)
                     for lang in LANGS)
_DERIVED_BY_HEADER = {norm_header(t(f"ledger.col.{f}", lang))[0]: f
                      for f in DERIVED_FIELDS for lang in LANGS}


def _own_header(texts: list[str]) -> bool:
    """Is this header row the one this tool's ledger export writes?"""
    found = {norm_header(x)[0] for x in texts if x}
    return any(own <= found for own in _OWN_HEADERS)


_NORM_SYNONYMS: dict[str, tuple[str, ...]] = {
    f: tuple(norm_header(n)[0] for tier in tiers for n in tier) for f, tiers in _SYNONYMS.items()}
_VALUE_WORDS = {**value_words(), "yesno": set(YES_WORDS) | set(NO_WORDS)}
_VALUE_WORDS["status"] |= {w for ws in STATUS_VARIANTS.values() for w in ws}
_VALUE_WORDS["type"] |= {w for ws in TYPE_VARIANTS.values() for w in ws}


@functools.lru_cache(maxsize=4096)
def _guess(norm: str) -> tuple[str, int] | None:
    """A confident field for a header that is no synonym (containment or similarity), to find
    the header row; None when the header says nothing sure."""
    if not norm or len(norm) > 20:
        return None
    found = header_guess((norm,), _NORM_SYNONYMS)
    if found and found[0][0] >= ACCEPT and (len(found) == 1 or found[1][0] < found[0][0] - 0.05):
        return found[0][1], GUESSED
    return None


# ---------------------------------------------------------------------------------------------
# Header detection.

@dataclass
class Column:
    """A column of the header: its index, the header as shown, the field it means (None to
    ignore, '?' unknown) and whether its amounts are in 万元."""

    index: int
    shown: str
    field: str | None
    in_wan: bool = False
    tier: int = 0        # -1: the user's mapping; 0/1: the synonym's tier


def _cell_text(v: Any) -> str:
    return "" if v is None else plain(v)


def _match(text: str, mapping: dict[str, str]) -> tuple[str | None, int, bool] | None:
    """(field or None to ignore, tier, in 万元) for a header text, or None if unknown."""
    norm, in_wan = norm_header(text)
    for key, fld in mapping.items():
        if norm_header(key)[0] == norm or key.strip() == text.strip():
            return (fld or None), -1, in_wan
    hit = _LOOKUP.get(norm) or _guess(norm)
    if hit:
        return hit[0], hit[1], in_wan
    return None


def _header_values(grid: Grid, r: int, width: int) -> list[str]:
    row = grid.rows[r] if r < len(grid.rows) else []
    out = []
    for c in range(width):
        v = row[c] if c < len(row) else None
        if v is None and (r, c) in grid.merged:
            v = grid.merged[(r, c)][0]
        out.append(_cell_text(v))
    return out


def find_header(grid: Grid, mapping: dict[str, str]) -> tuple[int, int, list[Column]]:
    """(header row index, first data row index, columns). A two-level header (a parent such as
    整改情况 over 整改措施 / 整改时限 / 整改进展) counts as one header of its combined columns."""
    scan = min(len(grid.rows), HEADER_SCAN_ROWS)
    width = max((len(r) for r in grid.rows[:scan + 1]), default=0)
    texts = [_header_values(grid, r, width) for r in range(min(len(grid.rows), scan + 1))]
    matches = [[_match(t, mapping) if t else None for t in row] for row in texts]
    best: tuple[int, int, bool] = (0, -1, False)   # score, row, two-level
    for r in range(scan):
        single = {m[0] for m in matches[r] if m}
        score, two = len(single), False
        if r + 1 < len(texts):
            # The next row is a child row when it names fields of its own under the parents.
            hits = [c for c, m in enumerate(matches[r + 1]) if m and texts[r + 1][c] != texts[r][c]]
            # A blank or title-only row above a header is not a parent row.
            if len(hits) >= 2 and single and any(texts[r][c] for c in hits):
                combined = {(matches[r + 1][c] if c in hits else matches[r][c])
                            for c in range(width)}
                fields = {m[0] for m in combined if m}
                if len(fields) > score:
                    score, two = len(fields), True
        if score > best[0]:
            best = (score, r, two)
    score, best_r, two_level = best
    if score < 2:
        raise LedgerFileError(
            "no header row found in the first rows: expected column headers such as "
            "问题编号, 问题类别, 问题描述, 责任单位, 整改时限, 整改状态 (or Code, Category, "
            "Description, Unit, Deadline, Status); use --map header=field for others",
            reason="no_header")
    parent = texts[best_r]
    child = texts[best_r + 1] if two_level else [""] * width
    own = not two_level and _own_header(parent)
    columns: list[Column] = []
    for c in range(width):
        p, ch = parent[c], child[c]
        m = matches[best_r][c]
        shown = p
        if two_level and ch and ch != p:
            shown = f"{p}/{ch}" if p else ch
            m = matches[best_r + 1][c]
            over = _match(shown, mapping)
            if over and over[1] == -1:
                m = over
        elif two_level and not p:
            shown = ch
        if not shown:
            continue
        derived = _DERIVED_BY_HEADER.get(norm_header(shown)[0]) if own and not m else None
        if derived:
            columns.append(Column(c, shown, derived))
        elif not m:
            # An unknown header may still declare its amounts in 万元.
            in_wan = norm_header(shown.split("/")[-1])[1] or norm_header(p)[1]
            columns.append(Column(c, shown, "?", in_wan))
        else:
            columns.append(Column(c, shown, m[0], bool(m[2]), m[1]))
    return best_r, best_r + (2 if two_level else 1), columns


def infer_columns(grid: Grid, data_start: int, columns: list[Column],
                  profile: dict[str, str] | None = None,
                  names: dict[str, frozenset[str]] | None = None) -> list[ColumnMapping]:
    """How each column is understood (issues.ledger_infer_model.decide_columns): its header
    path, its synonym match and a sample of its values below the header."""
    evidence = []
    end = min(len(grid.rows), data_start + SAMPLE_ROWS)
    for col in columns:
        values = []
        for r in range(data_start, end):
            row = grid.rows[r]
            v = row[col.index] if col.index < len(row) else None
            if v is not None and not (isinstance(v, str) and not v.strip()):
                values.append(v)
        exact = (col.field, col.tier) if col.field != "?" and col.tier != GUESSED else None
        path = tuple(norm_header(p)[0] for p in col.shown.split("/"))
        evidence.append(ColumnEvidence(col.index, col.shown, path, exact, values))
    user = {c.shown: (c.field or "") for c in columns if c.tier == -1}
    return decide_columns(evidence, _NORM_SYNONYMS, _VALUE_WORDS, user, profile or {},
                          names or {})


def resolve_columns(columns: list[Column], mappings: list[ColumnMapping],
                    mapping: dict[str, str], warnings: list[str]
                    ) -> tuple[dict[str, Column], dict[str, str], list[str]]:
    """(field → column, header → field ('' none), headers kept as extra columns) from the
    decided mappings. Two columns that are synonyms of one field at the same tier are refused
    by name; an asked column is neither mapped nor kept until answered."""
    by_field: dict[str, Column] = {}
    header_map: dict[str, str] = {}
    unmapped: list[str] = []
    for col, m in zip(columns, mappings):
        if m.asked:
            continue
        if m.field is None or m.field == "serial" or m.field in DERIVED_FIELDS:
            if m.reason in ("user", "profile", "synonym") and m.runner_up is None:
                header_map[col.shown] = ""
            else:
                unmapped.append(col.shown)
            continue
        if m.field in by_field:
            other = by_field[m.field]
            raise LedgerFileError(
                f"columns {other.shown!r} and {col.shown!r} both mean {m.field}; "
                f"use --map '{col.shown}=' to ignore one", field=m.field,
                headers=[other.shown, col.shown])
        by_field[m.field] = col
        header_map[col.shown] = m.field
    shown_norm = {norm_header(c.shown)[0] for c in columns} | {c.shown for c in columns}
    for key in mapping:
        if key not in shown_norm and norm_header(key)[0] not in shown_norm:
            warnings.append(f"--map header {key!r} is not in the file")
    return by_field, header_map, unmapped


def column_questions(columns: list[Column], mappings: list[ColumnMapping], header_row: int
                     ) -> list[LedgerQuestion]:
    """A question for each column decided with too little confidence: the field proposed, the
    runner-up, or no field ('')."""
    out = []
    for col, m in zip(columns, mappings):
        if not m.asked:
            continue
        out.append(LedgerQuestion(
            "column", f"column:{col.shown}", m.field or "", col.shown, col.shown,
            (header_row,), m.field, m.confidence,
            tuple((f, f) for f in (m.field, m.runner_up, "") if f is not None)))
    return out


def header_signature(columns: list[Column]) -> str:
    """The header's columns as normalised text joined by |: the same office's monthly ledger
    has the same signature (for finding its mapping profile)."""
    return "|".join(norm_header(c.shown)[0] for c in columns)
