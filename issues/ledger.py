"""Reading field ledgers (整改台账) from .xlsx and .csv into plain rows. Pure parsing: no
database. Every refusal names the Excel row as the user sees it, the column header and the
value (LedgerRowError), or says why the file as a whole cannot be read (LedgerFileError).

Design notes the import service relies on:
- Text written by exports.xlsx_ledger is neutralised against formula injection: a leading
  apostrophe is added before = + - @ tab CR (and before any run of apostrophes followed by one
  of those). The reader removes exactly one leading apostrophe when it is followed by
  apostrophes and then a formula prefix, so export → import is exact (`unneutralise`).
- Short identifying fields (code, names, units, people, report numbers…) are stripped of
  surrounding whitespace; long free text (description, progress, basis, recommendation) is kept
  exactly, control characters included.
- Merged cells are filled from their top-left cell in .xlsx. Blank category/aspect/audit cells
  inherit the value above only in .csv (where merges cannot be expressed), so an .xlsx
  round trip stays exact.
- Sheets stream row by row through openpyxl's sheet parser (what its read-only mode uses),
  which cannot see merged cells, so the merged ranges are read from the sheet XML directly;
  merges are filled, and a value hidden under a merge is dropped (as Excel shows the sheet).
- A formula without a saved result is refused only where its value is used (a data cell of a
  mapped column), naming row, column header and the formula.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

import openpyxl
import openpyxl.xml

from audit.model import LedgerFileError, LedgerRowError, Status

# openpyxl parses the sheet XML with defusedxml only when it is installed; without it a
# billion-laughs sheet would expand in memory.
assert openpyxl.xml.DEFUSEDXML is True, "defusedxml must be installed for ledger import"

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
# Whole zip, refused above this before openpyxl opens it. openpyxl writes CJK text as character
# references (&#21512;), so our own 100,000-row export expands to about 240 MB.
MAX_UNCOMPRESSED = 300 * 1024 * 1024
MAX_RATIO = 200                          # per member, for members above 1 MB uncompressed
HEADER_SCAN_ROWS = 30
ROW_SLACK = 50                           # title, header and footer rows allowed above max_rows

Progress = Callable[[str, int, int], None]

FOCUS_POINTS: dict[str, tuple[str, str]] = {
    # The five focus points as audit/migrations.py inserts them (code: Chinese, English).
    "F1": ("外包单价与结算成本", "Unit prices and settlement cost"),
    "F2": ("外包业务量与人均效能", "Volume and productivity per head"),
    "F3": ("自营与外包边界", "In-house versus outsourced boundary"),
    "F4": ("服务质量与考核扣罚", "Service quality and penalties"),
    "F5": ("安全合规与风险防控", "Safety, compliance and risk control"),
}
STREAMS: dict[str, tuple[str, str]] = {
    "cleanup": ("外包专项整治", "Outsourcing clean-up"),
    "audit": ("外包专项审计整改", "Special audit rectification"),
}


@dataclass(frozen=True)
class MeasureLine:
    """One corrective measure as a ledger cell line writes it."""

    title: str
    owner: str | None = None
    deadline: dt.date | None = None
    done: bool = False


@dataclass(frozen=True)
class LedgerRow:
    """One issue as a ledger row holds it, normalised. Text fields are '' when absent."""

    excel_row: int
    code: str = ""
    category: str = ""
    aspect: str = ""
    title: str = ""
    description: str = ""
    audit_name: str = ""
    audit_year: int | None = None
    audit_level: str | None = None          # 'group' | 'regional'
    report_no: str = ""
    unit: str = ""
    responsible: str = ""
    supervisor: str = ""
    measures: tuple[MeasureLine, ...] = ()
    deadline: dt.date | None = None
    progress: str = ""
    status: str | None = None               # a Status value
    warning: str | None = None              # 'red' | 'amber' | 'green' | 'blue' (informational)
    amount: float | None = None             # yuan
    rectification_type: str | None = None   # 'immediate' | 'staged' | 'continuous'
    basis: str = ""
    recommendation: str = ""
    streams: tuple[str, ...] = ()           # 'cleanup', 'audit' in that order
    focus: tuple[str, ...] = ()             # 'F1'..'F5', sorted
    causes: tuple[str, ...] = ()
    closed_on: dt.date | None = None


@dataclass
class ParsedLedger:
    """What read_ledger found: rows, how headers were understood, rows skipped, warnings."""

    rows: list[LedgerRow]
    header_map: dict[str, str]
    unmapped_headers: list[str]
    header_row: int
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Header synonyms. Keys are field names; a header matches after _norm_header (lower case, no
# whitespace, half-width brackets, unit suffix such as （万元） removed). Tier 0 beats tier 1 when
# two columns mean the same field (责任单位 beats 被审计单位).

_SYNONYMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "serial": (("序号", "no.", "no", "#", "seq", "serial"), ()),
    "code": (("问题编号", "编号", "台账编号", "问题代码", "code", "issuecode", "issueno."), ()),
    "category": (("问题类别", "类别", "问题大类", "大类", "问题分类", "category"), ()),
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
    "measures": (("整改措施", "具体整改措施", "整改措施及计划", "措施", "measures"), ()),
    "deadline": (("整改时限", "完成时限", "整改期限", "整改完成时限", "计划完成时间", "完成时间",
                  "时限", "deadline", "duedate", "due"), ()),
    "progress": (("整改进展", "整改进度", "进展情况", "整改完成情况", "progress"), ()),
    "status": (("整改状态", "状态", "当前状态", "完成状态", "status"), ()),
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
}

ROW_FIELDS = tuple(f for f in LedgerRow.__dataclass_fields__ if f != "excel_row")
# What a --map value may name: the row fields, plus 'struck_off' (是否销号) and 'serial' (ignored).
MAPPABLE_FIELDS = ROW_FIELDS + ("struck_off", "serial")
_FILL_DOWN_FIELDS = frozenset({"category", "aspect", "audit_name", "audit_year", "audit_level",
                               "report_no"})
_SHORT_TEXT = frozenset({"code", "category", "aspect", "title", "audit_name", "report_no", "unit",
                         "responsible", "supervisor"})
_LONG_TEXT = frozenset({"description", "progress", "basis", "recommendation"})

_HALF = str.maketrans({"（": "(", "）": ")", "：": ":", "，": ",", "【": "(", "】": ")",
                       "［": "(", "］": ")", "[": "(", "]": ")"})
_UNIT_SUFFIX = re.compile(r"\((?:单位:)?(万元|元|yuan|rmb|cny|¥|10k)\)$")


def _norm_header(text: str) -> tuple[str, bool]:
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
            _LOOKUP[_norm_header(_name)[0]] = (_field, _tier)


# ---------------------------------------------------------------------------------------------
# Value words.

_STATUS_WORDS: dict[str, Status] = {}
for _words, _status in (
    (("未启动", "未整改", "未开始", "not started", "not_started", "todo", "open"),
     Status.NOT_STARTED),
    (("整改中", "正在整改", "推进中", "部分整改", "进行中", "in progress", "in_progress", "ongoing"),
     Status.IN_PROGRESS),
    (("待验收", "已提交", "待销号", "submitted", "pending verification"), Status.SUBMITTED),
    (("已完成", "已整改", "已销号", "完成整改", "整改完成", "已整改完成", "closed", "done",
      "completed", "complete", "struck off"), Status.CLOSED),
    (("终结", "特殊原因终结", "已终结", "ended", "terminated"), Status.ENDED),
):
    for _w in _words:
        _STATUS_WORDS[_w] = _status

STATUS_LABELS: dict[str, dict[str, str]] = {
    "zh": {"not_started": "未启动", "in_progress": "整改中", "submitted": "待验收",
           "closed": "已销号", "ended": "特殊原因终结"},
    "en": {"not_started": "Not started", "in_progress": "In progress", "submitted": "Submitted",
           "closed": "Closed", "ended": "Ended"},
}
TYPE_LABELS = {
    "zh": {"immediate": "立行立改", "staged": "分阶段整改", "continuous": "持续整改"},
    "en": {"immediate": "Immediate", "staged": "Staged", "continuous": "Continuous"},
}
LEVEL_LABELS = {"zh": {"group": "集团公司", "regional": "区分公司"},
                "en": {"group": "Group", "regional": "Regional"}}
WARNING_LABELS = {"zh": {"red": "红", "amber": "黄", "green": "绿", "blue": "蓝"},
                  "en": {"red": "Red", "amber": "Amber", "green": "Green", "blue": "Blue"}}

_TYPE_WORDS = {"立行立改": "immediate", "立即整改": "immediate", "immediate": "immediate",
               "分阶段整改": "staged", "分阶段": "staged", "staged": "staged",
               "持续整改": "continuous", "限期整改": "continuous", "长期整改": "continuous",
               "continuous": "continuous"}
_WARNING_WORDS = {}
for _key, _words in (("red", ("红", "红灯", "红色", "red")),
                     ("amber", ("黄", "黄灯", "黄色", "amber", "yellow")),
                     ("green", ("绿", "绿灯", "绿色", "green")),
                     ("blue", ("蓝", "蓝灯", "蓝色", "blue"))):
    for _w in _words:
        _WARNING_WORDS[_w] = _key
_YES = {"是", "已销号", "yes", "y", "true", "√", "✓"}
_NO = {"否", "未销号", "no", "n", "false", "×"}

_SIGNATURE = re.compile(
    r"^(制表人|制表|填表人|填报人|审核人|审核|负责人|单位负责人|分管领导|填报日期|填表日期|制表日期|"
    r"记录锚点|prepared by|reviewed by|approved by|date|record anchor)\s*[:：]", re.I)
# 总计划… is not a totals row: the word must not run on into more Chinese.
_TOTALS = re.compile(r"^(?:(?:合|总|小|共)\s*计(?![\u4e00-\u9fff])|(?:total|totals|sum)\b)", re.I)


# ---------------------------------------------------------------------------------------------
# Formula neutralisation, undone exactly.

_FORMULA_PREFIXES = "=+-@\t\r"
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]", re.S)


def neutralise(text: str) -> str:
    """The exported form of a text: exports.sanitize.neutralise_formula, extended so that a text
    already starting with apostrophes before a formula prefix gets one more (making it undoable)."""
    from audit.text_format import neutralise_formula
    if _NEUTRALISED.match(text):
        return "'" + text
    return neutralise_formula(text)  # type: ignore[return-value]


def unneutralise(text: str) -> str:
    """Undo `neutralise`: drop one leading apostrophe only where export added one."""
    if _NEUTRALISED.match(text):
        return text[1:]
    return text


# ---------------------------------------------------------------------------------------------
# Value parsers. Each raises LedgerRowError naming row, column and value.

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MIN_YEAR, _MAX_YEAR = 1990, 2100


def parse_date(value: Any, row: int, column: str) -> dt.date | None:
    """A date from a datetime, an Excel serial number or text in the usual forms; None if blank."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        d = value.date()
    elif isinstance(value, dt.date):
        d = value
    elif isinstance(value, bool):
        raise LedgerRowError(row, column, value, "not a date")
    elif isinstance(value, (int, float)):
        if not math.isfinite(value) or not 1 <= value < 2958466:
            raise LedgerRowError(row, column, value, "not an Excel date serial number")
        d = _EXCEL_EPOCH + dt.timedelta(days=int(value))
    else:
        text = str(value).strip()
        if not text:
            return None
        m = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
        if m:
            try:
                d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise LedgerRowError(row, column, value, "no such date") from None
        elif re.fullmatch(r"\d{5}(\.\d+)?", text):
            d = _EXCEL_EPOCH + dt.timedelta(days=int(float(text)))
        else:
            raise LedgerRowError(row, column, value,
                                 "not a date (use 2026-12-31, 2026/12/31 or 2026年12月31日)")
    if not _MIN_YEAR <= d.year <= _MAX_YEAR:
        raise LedgerRowError(row, column, value,
                             f"date out of range ({_MIN_YEAR}–{_MAX_YEAR})")
    return d


def parse_amount(value: Any, row: int, column: str, in_wan: bool = False) -> float | None:
    """An amount in yuan, rounded to fen; `in_wan` when the header says 万元. None if blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise LedgerRowError(row, column, value, "not an amount")
    scale = Decimal(10000) if in_wan else Decimal(1)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise LedgerRowError(row, column, value, "not an amount")
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = re.sub(r"[\s,，¥￥]", "", str(value)).replace("RMB", "").replace("rmb", "")
        if not text:
            return None
        if text.endswith("万元") or text.endswith("万"):
            text, scale = text.rstrip("元").rstrip("万"), Decimal(10000)
        elif text.endswith("元"):
            text, scale = text[:-1], Decimal(1)
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise LedgerRowError(row, column, value, "not an amount") from None
        if not number.is_finite():
            raise LedgerRowError(row, column, value, "not an amount")
    if number < 0:
        raise LedgerRowError(row, column, value, "amount must not be negative")
    return float(round(number * scale, 2))


def parse_status(value: Any, row: int, column: str) -> str | None:
    """A Status value from the words ledgers use; None if blank."""
    text = _plain(value).lower()
    if not text:
        return None
    status = _STATUS_WORDS.get(text)
    if status is None:
        raise LedgerRowError(row, column, value,
                             "unknown status (use 未启动, 整改中, 待验收, 已销号 or 特殊原因终结)")
    return status.value


def _word(table: dict[str, str], value: Any, row: int, column: str, hint: str) -> str | None:
    text = _plain(value).lower()
    if not text:
        return None
    try:
        return table[text]
    except KeyError:
        raise LedgerRowError(row, column, value, f"unknown value (use {hint})") from None


def parse_level(value: Any, row: int, column: str) -> str | None:
    """'group' or 'regional' from 集团公司 / 区分公司 / 省 / 区 words; None if blank."""
    text = _plain(value).lower()
    if not text:
        return None
    if "集团" in text or text == "group":
        return "group"
    if any(w in text for w in ("区分公司", "自治区", "省", "区", "regional", "region")):
        return "regional"
    raise LedgerRowError(row, column, value, "unknown audit level (use 集团公司 or 区分公司)")


def parse_year(value: Any, row: int, column: str) -> int | None:
    """A year 1990–2100 from a number or text like 2024 / 2024年 / 2024年度; None if blank."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        year = value
    else:
        text = _plain(value)
        if not text:
            return None
        m = re.fullmatch(r"(\d{4})\s*(年度|年)?", text)
        if not m:
            raise LedgerRowError(row, column, value, "not a year")
        year = int(m.group(1))
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise LedgerRowError(row, column, value, f"year out of range ({_MIN_YEAR}–{_MAX_YEAR})")
    return year


_LIST_SPLIT = re.compile(r"[、;；\n,，/]+")


def parse_streams(value: Any, row: int, column: str) -> tuple[str, ...]:
    """The work streams ('cleanup', 'audit') a cell names."""
    text = _plain(value)
    found: set[str] = set()
    for token in _LIST_SPLIT.split(text):
        t = token.strip().lower()
        if not t:
            continue
        if t in ("both", "全部", "两者", "并轨", "两个工作组"):
            found.update(STREAMS)
            continue
        hit = False
        if "整治" in t or "清理" in t or "clean" in t:
            found.add("cleanup")
            hit = True
        if "审计" in t or "audit" in t:
            found.add("audit")
            hit = True
        if not hit:
            raise LedgerRowError(row, column, value,
                                 f"unknown work stream {token.strip()!r} "
                                 "(use 外包专项整治 or 外包专项审计整改)")
    return tuple(s for s in STREAMS if s in found)


def parse_focus(value: Any, row: int, column: str) -> tuple[str, ...]:
    """The focus point codes F1–F5 a cell names, by code or by name."""
    text = _plain(value)
    found: set[str] = set()
    # Full names first: the English ones contain commas.
    for code, names in FOCUS_POINTS.items():
        for name in names:
            if name in text:
                found.add(code)
                text = text.replace(name, " ")
    for token in _LIST_SPLIT.split(text):
        t = token.strip()
        if not t:
            continue
        m = re.fullmatch(r"[Ff]\s*([1-5])", t)
        if m:
            found.add("F" + m.group(1))
            continue
        if re.fullmatch(r"[Ff][1-5]\W*", t[:3]):
            found.add("F" + t[1])   # "F1 外包单价…" already stripped of its name above
            continue
        hits = [c for c, (zh, _) in FOCUS_POINTS.items() if len(t) >= 2 and (t in zh or zh in t)]
        if len(hits) != 1:
            raise LedgerRowError(row, column, value,
                                 f"unknown focus point {t!r} (use F1–F5 or their names)")
        found.add(hits[0])
    return tuple(sorted(found))


def parse_causes(value: Any) -> tuple[str, ...]:
    """Root causes, one per ；/;/line."""
    return tuple(p.strip() for p in re.split(r"[;；\n]", _plain(value)) if p.strip())


# ---------------------------------------------------------------------------------------------
# Measures: one per line, "标题（责任人：张三；时限：2026-12-31；已完成）".

_MEASURE_NUMBER = re.compile(r"^\s*(?:\d{1,3}\s*[.．、)）](?!\d)|[（(]\d{1,3}[）)])\s*")
_META_KEYS_OWNER = ("责任人", "负责人", "owner")
_META_KEYS_DEADLINE = ("时限", "完成时限", "整改时限", "deadline", "due")
_DONE_WORDS = {"已完成": True, "完成": True, "done": True, "未完成": False, "进行中": False,
               "todo": False}
_FORBIDDEN_IN_OWNER = re.compile(r"[()（）;；:：\n\r]")


def format_measure_line(m: MeasureLine) -> str:
    """The one-line text of a measure; parse_measure_line is its exact inverse.
    Raises ValueError for a title or owner that the line form cannot hold."""
    if not m.title or m.title != m.title.strip() or "\n" in m.title or "\r" in m.title:
        raise ValueError(f"measure title cannot be written on one line: {m.title!r}")
    if m.owner is not None:
        if not m.owner.strip() or m.owner != m.owner.strip() or _FORBIDDEN_IN_OWNER.search(m.owner):
            raise ValueError(f"measure owner cannot be written: {m.owner!r}")
    return measure_line_text(m.title, m.owner,
                             None if m.deadline is None else m.deadline.isoformat(), m.done)


def measure_line_text(title: str, owner: str | None, deadline: str | None, done: bool) -> str:
    """The one-line text of a measure from its parts, unchecked: the title non-empty, stripped
    and on one line, the owner as format_measure_line accepts it (or None), the deadline as ISO
    date text (or None). format_measure_line checks its measure and calls this; an export that
    already holds values in that form calls it directly, without making MeasureLines."""
    # The parts present, in the order 责任人；时限；已完成, each combination spelled out (no list
    # built and joined for each of the 200,000 measures of a region's ledger).
    if owner is not None:
        if deadline is not None:
            meta = (f"责任人：{owner}；时限：{deadline}；已完成" if done
                    else f"责任人：{owner}；时限：{deadline}")
        else:
            meta = f"责任人：{owner}；已完成" if done else f"责任人：{owner}"
    elif deadline is not None:
        meta = f"时限：{deadline}；已完成" if done else f"时限：{deadline}"
    elif done:
        meta = "已完成"
    # A title that itself ends in a bracket gets an (empty) group so it is not taken for one.
    elif title.endswith((")", "）")):
        return f"{title}（）"
    else:
        return title
    return f"{title}（{meta}）"


def parse_measure_line(text: str, excel_row: int, column: str) -> MeasureLine:
    """A measure from its one-line text (see format_measure_line). A trailing bracket that does
    not hold 责任人/时限/已完成 parts is part of the title."""
    line = text.strip()
    if not line:
        raise LedgerRowError(excel_row, column, text, "empty measure")
    if line.endswith((")", "）")):
        opens = max(line.rfind("（"), line.rfind("("))
        if opens >= 0:
            inner = line[opens + 1:-1]
            meta = _parse_measure_meta(inner, excel_row, column, text)
            if meta is not None and line[:opens].strip():
                owner, deadline, done = meta
                return MeasureLine(line[:opens].strip(), owner, deadline, done)
    return MeasureLine(line)


def _parse_measure_meta(inner: str, row: int, column: str, text: str
                        ) -> tuple[str | None, dt.date | None, bool] | None:
    if "(" in inner or "（" in inner:
        return None
    owner: str | None = None
    deadline: dt.date | None = None
    done = False
    if not inner.strip():
        return owner, deadline, done
    for part in re.split(r"[;；]", inner):
        p = part.strip()
        kv = re.split(r"\s*[:：]\s*", p, maxsplit=1)
        if len(kv) == 2 and kv[0].lower() in _META_KEYS_OWNER and kv[1]:
            owner = kv[1]
        elif len(kv) == 2 and kv[0].lower() in _META_KEYS_DEADLINE:
            deadline = parse_date(kv[1], row, column)
        elif p.lower() in _DONE_WORDS:
            done = _DONE_WORDS[p.lower()]
        else:
            return None
    return owner, deadline, done


def parse_measures(value: Any, row: int, column: str) -> tuple[MeasureLine, ...]:
    """The measures of a cell: one per line, optionally numbered 1. / 1、 / （1）."""
    out = []
    # Only CR/LF end a line: str.splitlines would also split on U+0085, U+2028 and friends.
    for line in re.split(r"\r\n|\r|\n", _plain_keep(value)):
        if not line.strip():
            continue
        out.append(parse_measure_line(_MEASURE_NUMBER.sub("", line, count=1), row, column))
    return tuple(out)


def format_measures(measures: Iterable[MeasureLine]) -> str:
    """The measures cell text: numbered lines "1. …"."""
    return number_measure_lines(format_measure_line(m) for m in measures)


def number_measure_lines(lines: Iterable[str]) -> str:
    """The measures cell text from the measures' one-line texts: numbered lines "1. …"."""
    return "\n".join([f"{i}. {line}" for i, line in enumerate(lines, 1)])


# ---------------------------------------------------------------------------------------------
# Cell text helpers.

def _plain(value: Any) -> str:
    """A cell as stripped text (numbers without a spurious .0)."""
    return _plain_keep(value).strip()


def _plain_keep(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return unneutralise(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_mapping_arg(s: str) -> dict[str, str]:
    """A --map argument 'header=field,header2=' as a dict (empty field: ignore that column).
    Raises LedgerFileError on bad syntax or an unknown field name."""
    mapping: dict[str, str] = {}
    for item in re.split(r"[,，]", s):
        if not item.strip():
            continue
        if "=" not in item:
            raise LedgerFileError(f"--map item {item.strip()!r} is not header=field",
                                  item=item.strip())
        header, _, fld = item.partition("=")
        header, fld = header.strip(), fld.strip()
        if not header:
            raise LedgerFileError(f"--map item {item.strip()!r} has no header", item=item.strip())
        if fld and fld not in MAPPABLE_FIELDS:
            raise LedgerFileError(
                f"--map: unknown field {fld!r} for header {header!r}; valid fields: "
                + ", ".join(MAPPABLE_FIELDS), field=fld)
        mapping[header] = fld
    return mapping


# ---------------------------------------------------------------------------------------------
# Files to grids. A grid is a list of rows (lists of raw cell values), row 0 = Excel row 1, and
# a dict of merged-cell fills {(r, c): (value, range)}.

@dataclass
class _Grid:
    rows: list[list[Any]]
    merged: dict[tuple[int, int], tuple[Any, str]]
    merge_ranges: list[tuple[int, int, int, int, str]]   # r0, c0, r1, c1 (0-based, inclusive)
    is_csv: bool
    warnings: list[str]
    uncached: dict[tuple[int, int], str] = field(default_factory=dict)


def _check_size(data: bytes, max_bytes: int) -> None:
    if not data:
        raise LedgerFileError("the file is empty", reason="empty")
    if len(data) > max_bytes:
        raise LedgerFileError(
            f"the file is {len(data):,} bytes; the limit is {max_bytes:,}", size=len(data),
            limit=max_bytes)


def _read_csv(data: bytes, max_rows: int, on_progress: Progress | None) -> _Grid:
    text = _decode(data)
    if "\x00" in text:
        raise LedgerFileError("the file is not a text CSV (it holds NUL bytes)", reason="binary")
    lines = text.splitlines()
    sample = [ln for ln in lines[:40] if ln.strip()]
    best, best_cols = ",", 0
    for delim in (",", "\t", ";"):
        cols = max((len(r) for r in csv.reader(sample, delimiter=delim)), default=0)
        if cols > best_cols:
            best, best_cols = delim, cols
    rows: list[list[Any]] = []
    try:
        for rec in csv.reader(io.StringIO(text, newline=""), delimiter=best):
            rows.append([c if c != "" else None for c in rec])
            if len(rows) > max_rows + ROW_SLACK:
                raise _too_many(max_rows)
            if on_progress and len(rows) % 5000 == 0:
                on_progress("reading", len(rows), 0)
    except csv.Error as ex:
        raise LedgerFileError(f"the CSV cannot be read near line {len(rows) + 1}: {ex}",
                              line=len(rows) + 1) from None
    return _Grid(rows, {}, [], True, [])


def _decode(data: bytes) -> str:
    # UTF-8 first: UTF-8 bytes decode silently (as nonsense) in GB18030, not the other way.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as ex:
        raise LedgerFileError(
            f"the CSV is neither UTF-8 nor GB18030/GBK (undecodable bytes at offset {ex.start}); "
            "save it as UTF-8 CSV", reason="encoding", offset=ex.start) from None


def _too_many(max_rows: int) -> LedgerFileError:
    return LedgerFileError(f"the ledger has more than {max_rows:,} rows; split it",
                           limit=max_rows, reason="rows")


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_MERGE_TAG = re.compile(
    rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3}[0-9]+(?::[A-Z]{1,3}[0-9]+)?)"')
_CELL = re.compile(rb"<c\b([^>]*?)(?<!/)>(.*?)</c>", re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_CELL_TYPE = re.compile(rb'\bt="([a-zA-Z]+)"')
_CACHED = re.compile(rb"<(?:\w+:)?v>[^<]")
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*>(.*?)</(?:\w+:)?f>", re.S)


def _open_xlsx_zip(data: bytes) -> tuple[zipfile.ZipFile, int]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise LedgerFileError("the file is not an Excel .xlsx workbook", reason="type") from None
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise LedgerFileError("the file is not an Excel .xlsx workbook (a zip without a "
                              "workbook)", reason="type")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise LedgerFileError(
                f"member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
                "-fold: refused as a zip bomb", reason="zip_bomb", member=info.filename)
    if total > MAX_UNCOMPRESSED:
        raise LedgerFileError(f"the workbook expands to {total:,} bytes; the limit is "
                              f"{MAX_UNCOMPRESSED:,}", reason="zip_bomb", size=total)
    return zf, total


def _sheet_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → zip member of its XML, from workbook.xml and its relationships."""
    from defusedxml import ElementTree as SafeET
    try:
        book = SafeET.fromstring(zf.read("xl/workbook.xml"))
        rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception as ex:  # a damaged or hostile workbook part
        raise LedgerFileError(f"the workbook cannot be opened: {type(ex).__name__}: {ex}",
                              reason="corrupt") from None
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out: dict[str, str] = {}
    for sheet in book.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"):
        rid = sheet.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        target = targets.get(rid, "")
        out[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") \
            else "xl/" + target
    return out


def _scan_sheet(zf: zipfile.ZipFile, member: str) -> tuple[bool, list[str]]:
    """(has formulas, merged ranges) of a sheet, streamed: read-only mode cannot see merges."""
    has_formulas = False
    merges: set[str] = set()
    tail = b""
    try:
        with zf.open(member) as f:
            while chunk := f.read(1 << 20):
                buf = tail + chunk
                has_formulas = has_formulas or bool(_FORMULA_TAG.search(buf))
                merges.update(m.decode() for m in _MERGE_TAG.findall(buf))
                tail = buf[-256:]
    except KeyError:
        raise LedgerFileError(f"the workbook lacks its sheet {member!r}",
                              reason="corrupt") from None
    except (zipfile.BadZipFile, OSError, EOFError) as ex:
        raise LedgerFileError(f"the workbook is damaged: {ex}", reason="corrupt") from None
    return has_formulas, sorted(merges)


MAX_MERGE_CELLS = 1_000_000


def _check_merge_area(coord: str) -> None:
    from openpyxl.worksheet.cell_range import CellRange
    rng = CellRange(coord)
    area = (rng.max_row - rng.min_row + 1) * (rng.max_col - rng.min_col + 1)
    if area > MAX_MERGE_CELLS:
        raise LedgerFileError(f"merged cells {coord} cover {area:,} cells; unmerge them",
                              reason="merge", range=coord)


def _uncached_formulas(xml: bytes) -> dict[tuple[int, int], str]:
    """Formula cells whose result was never saved: {(row, col) 0-based: formula}. A cached
    empty string (t="str" with an empty <v>) is a result, not a missing one."""
    from openpyxl.utils import column_index_from_string
    out: dict[tuple[int, int], str] = {}
    for attrs, body in _CELL.findall(xml):
        if not _FORMULA_TAG.search(body) or _CACHED.search(body):
            continue
        t = _CELL_TYPE.search(attrs)
        if t and t.group(1) == b"str":
            continue
        ref = _CELL_REF.search(attrs)
        if not ref:
            continue
        text = _FORMULA_TEXT.search(body)
        formula = "=" + (text.group(1).decode("utf-8", "replace") if text else "")
        out[(int(ref.group(2)) - 1, column_index_from_string(ref.group(1).decode()) - 1)] = \
            formula
    return out


def _read_xlsx(data: bytes, max_rows: int, on_progress: Progress | None) -> _Grid:
    zf, _ = _open_xlsx_zip(data)
    paths = _sheet_paths(zf)
    # Scan before openpyxl parses any sheet: the merged ranges come from this scan (openpyxl's
    # streaming reader cannot see them), and a merge such as A1:XFD1048576 is refused here.
    scans = {name: _scan_sheet(zf, member) for name, member in paths.items()}
    for has_f, coords in scans.values():
        for coord in coords:
            _check_merge_area(coord)
    book = _Book(data)
    name, member = book.pick_sheet()
    has_formulas, coords = scans.get(name, (False, []))
    rows = book.rows(member, max_rows, on_progress)
    merged: dict[tuple[int, int], tuple[Any, str]] = {}
    ranges: list[tuple[int, int, int, int, str]] = []
    from openpyxl.worksheet.cell_range import CellRange
    # Clip to the cells that exist: a garbage merge such as A1:XFD1048576 must not explode.
    width = max((len(r) for r in rows), default=0)
    for coord in coords:
        rng = CellRange(coord)
        r0, c0, r1, c1 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
        ranges.append((r0, c0, r1, c1, coord))
        top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            for c in range(c0, min(c1, width - 1) + 1):
                if (r, c) != (r0, c0):
                    merged[(r, c)] = (top, coord)
                    if c < len(row):
                        row[c] = None   # hidden under the merge, as Excel shows it
    uncached = _uncached_formulas(zf.read(member)) if has_formulas else {}
    return _Grid(rows, merged, ranges, False, [], uncached)


class _Book:
    """An .xlsx opened with openpyxl's parts (shared strings, styles for dates, sheet list)
    and its sheets streamed row by row, as openpyxl's read-only mode does, but without
    load_workbook's first pass over every sheet to size it (a whole extra parse when the file
    has no <dimension>, as openpyxl-written files do not)."""

    def __init__(self, data: bytes):
        from openpyxl.reader.excel import ExcelReader
        from openpyxl.styles.stylesheet import apply_stylesheet
        try:
            reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            # (name, state, member, is a worksheet) in the workbook's order.
            self.sheets = [(sheet.name, sheet.state or "visible", rel.target,
                            "chartsheet" not in rel.Type)
                           for sheet, rel in reader.parser.find_sheets()
                           if rel.target in reader.valid_files]
        except Exception as ex:  # openpyxl raises many types on malformed or hostile parts
            raise LedgerFileError(f"the workbook cannot be opened: {type(ex).__name__}: {ex}",
                                  reason="corrupt") from None
        self.reader = reader
        self.wb = reader.wb

    def pick_sheet(self) -> tuple[str, str]:
        """(name, zip member) of the active worksheet if visible, else the first visible one."""
        candidates = [s for s in self.sheets if s[3] and s[1] == "visible"]
        if not candidates:
            raise LedgerFileError("the workbook has no visible worksheet", reason="no_sheet")
        index = self.wb._active_sheet_index
        active = self.sheets[index] if 0 <= index < len(self.sheets) else None
        name, _, member, _ = active if active in candidates else candidates[0]
        return name, member

    def rows(self, member: str, max_rows: int, on_progress: Progress | None
             ) -> list[list[Any]]:
        """The sheet's cell values, row 0 = Excel row 1, each row as long as its last cell."""
        WorkSheetParser = _sheet_parser()
        wb = self.wb
        rows: list[list[Any]] = []
        limit = max_rows + ROW_SLACK
        try:
            with self.reader.archive.open(member) as src:
                parser = WorkSheetParser(src, self.reader.shared_strings, data_only=True,
                                         epoch=wb.epoch, date_formats=wb._date_formats,
                                         timedelta_formats=wb._timedelta_formats)
                for idx, cells in parser.parse():
                    if idx > limit:
                        raise _too_many(max_rows)
                    while len(rows) < idx - 1:
                        rows.append([])          # rows missing from the file
                    values: list[Any] = [None] * (cells[-1]["column"] if cells else 0)
                    for cell in cells:
                        values[cell["column"] - 1] = cell["value"]
                    rows.append(values)
                    if on_progress and len(rows) % 5000 == 0:
                        on_progress("reading", len(rows), 0)
        except LedgerFileError:
            raise
        except Exception as ex:  # a damaged or hostile sheet part
            raise LedgerFileError(f"the workbook cannot be opened: {type(ex).__name__}: {ex}",
                                  reason="corrupt") from None
        return rows


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def inline_text(node: Any) -> str:
    """The text of an inline string element (<is>) exactly as openpyxl gives it
    (Text.from_tree(node).content: the plain <t>, then each run's <t>; phonetic runs left out),
    without building openpyxl's rich-text objects: a third of the reading time of a sheet
    written by openpyxl, which writes all its text inline."""
    plain, runs = None, []
    for el in node:
        tag = _local(el.tag)
        if tag == "t":
            plain = el.text
        elif tag == "r":
            t = None
            for sub in el:
                if _local(sub.tag) == "t":
                    t = sub.text
            if t is not None:
                runs.append(t)
    return "".join(runs) if plain is None else plain + "".join(runs)


_PARSER: list[type] = []


def _sheet_parser() -> type:
    """openpyxl's sheet parser with inline strings read by `inline_text`."""
    if _PARSER:
        return _PARSER[0]
    from openpyxl.utils import coordinate_to_tuple
    from openpyxl.worksheet._reader import FORMULA_TAG, INLINE_STRING, WorkSheetParser

    class _Parser(WorkSheetParser):
        def parse_cell(self, element):  # noqa: D102 (openpyxl's, for t="inlineStr")
            if element.get("t") != "inlineStr" or (
                    not self.data_only and element.find(FORMULA_TAG) is not None):
                return super().parse_cell(element)
            style_id = element.get("s", 0)
            if style_id:
                style_id = int(style_id)
            coordinate = element.get("r")
            if coordinate:
                row, column = coordinate_to_tuple(coordinate)
                self.col_counter = column
            else:
                self.col_counter += 1
                row, column = self.row_counter, self.col_counter
            value, data_type = None, "inlineStr"
            child = element.find(INLINE_STRING)
            if child is not None:
                value, data_type = inline_text(child), "s"
            return {"row": row, "column": column, "value": value, "data_type": data_type,
                    "style_id": style_id}

    _PARSER.append(_Parser)
    return _Parser


# ---------------------------------------------------------------------------------------------
# Header detection.

@dataclass
class _Column:
    index: int
    shown: str
    field: str | None
    in_wan: bool = False


def _cell_text(v: Any) -> str:
    return "" if v is None else _plain(v)


def _match(text: str, mapping: dict[str, str]) -> tuple[str | None, int, bool] | None:
    """(field or None to ignore, tier, in 万元) for a header text, or None if unknown."""
    norm, in_wan = _norm_header(text)
    for key, fld in mapping.items():
        if _norm_header(key)[0] == norm or key.strip() == text.strip():
            return (fld or None), -1, in_wan
    hit = _LOOKUP.get(norm)
    if hit:
        return hit[0], hit[1], in_wan
    return None


def _header_values(grid: _Grid, r: int, width: int) -> list[str]:
    row = grid.rows[r] if r < len(grid.rows) else []
    out = []
    for c in range(width):
        v = row[c] if c < len(row) else None
        if v is None and (r, c) in grid.merged:
            v = grid.merged[(r, c)][0]
        out.append(_cell_text(v))
    return out


def _find_header(grid: _Grid, mapping: dict[str, str]) -> tuple[int, int, list[_Column]]:
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
    columns: list[_Column] = []
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
        columns.append(_Column(c, shown, m[0] if m else "?", bool(m and m[2])))
    return best_r, best_r + (2 if two_level else 1), columns


def _resolve_columns(columns: list[_Column], mapping: dict[str, str], warnings: list[str]
                     ) -> tuple[dict[str, _Column], dict[str, str], list[str]]:
    by_field: dict[str, _Column] = {}
    tiers: dict[str, int] = {}
    header_map: dict[str, str] = {}
    unmapped: list[str] = []
    for col in columns:
        if col.field == "?":
            unmapped.append(col.shown)
            continue
        if col.field is None or col.field == "serial":
            header_map[col.shown] = ""
            continue
        tier = _match(col.shown.split("/")[-1], mapping)
        t = tier[1] if tier else 0
        over = _match(col.shown, mapping)
        if over and over[1] == -1:
            t = -1
        if col.field in by_field:
            other = by_field[col.field]
            if tiers[col.field] == t:
                raise LedgerFileError(
                    f"columns {other.shown!r} and {col.shown!r} both mean {col.field}; "
                    f"use --map '{col.shown}=' to ignore one", field=col.field,
                    headers=[other.shown, col.shown])
            if t > tiers[col.field]:
                unmapped.append(col.shown)
                continue
            unmapped.append(other.shown)
            header_map.pop(other.shown, None)
        by_field[col.field] = col
        tiers[col.field] = t
        header_map[col.shown] = col.field
    shown_norm = {_norm_header(c.shown)[0] for c in columns} | {c.shown for c in columns}
    for key in mapping:
        if key not in shown_norm and _norm_header(key)[0] not in shown_norm:
            warnings.append(f"--map header {key!r} is not in the file")
    return by_field, header_map, unmapped


# ---------------------------------------------------------------------------------------------
# The reader.

def read_ledger(data: bytes, filename: str, *, mapping: dict[str, str] | None = None,
                max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
                on_progress: Progress | None = None) -> ParsedLedger:
    """Parse a ledger (.xlsx or .csv). Raises LedgerFileError for the file as a whole and
    LedgerRowError for the first bad cell (row, column header and value)."""
    mapping = dict(mapping or {})
    for fld in mapping.values():
        if fld and fld not in MAPPABLE_FIELDS:
            raise LedgerFileError(f"unknown field {fld!r}; valid fields: "
                                  + ", ".join(MAPPABLE_FIELDS), field=fld)
    _check_size(data, max_bytes)
    ext = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if ext == "xlsx" or ext == "xlsm":
        grid = _read_xlsx(data, max_rows, on_progress)
    elif ext in ("csv", "txt", "tsv"):
        if data[:4] == b"PK\x03\x04":
            raise LedgerFileError("the file is a zip (Excel?) named as CSV", reason="type")
        grid = _read_csv(data, max_rows, on_progress)
    elif ext == "xls":
        raise LedgerFileError("old .xls workbooks are not supported: save as .xlsx",
                              reason="type")
    else:
        raise LedgerFileError(f"unsupported file type {filename!r}: use .xlsx or .csv",
                              reason="type")
    while grid.rows and all(_is_blank(v) for v in grid.rows[-1]):
        grid.rows.pop()
    if not grid.rows:
        raise LedgerFileError("the ledger holds no rows", reason="empty")
    if on_progress:
        on_progress("reading", len(grid.rows), len(grid.rows))
    header_r, data_start, columns = _find_header(grid, mapping)
    warnings = list(grid.warnings)
    by_field, header_map, unmapped = _resolve_columns(columns, mapping, warnings)
    if "title" not in by_field and "description" not in by_field:
        raise LedgerFileError("no issue text column (问题摘要 or 问题描述 / Summary or "
                              "Description) in the header row", reason="no_text_column",
                              headers=[c.shown for c in columns])
    for r0, c0, r1, c1, coord in grid.merge_ranges:
        if r0 < data_start <= r1:
            raise LedgerFileError(f"merged cells {coord} span the header and the data; "
                                  "unmerge them", reason="merge", range=coord)
    n_data = len(grid.rows) - data_start
    if n_data <= 0:
        raise LedgerFileError("the ledger has a header but no rows", reason="no_rows")
    if n_data > max_rows:
        raise _too_many(max_rows)
    parser = _RowParser(grid, by_field, data_start)
    rows: list[LedgerRow] = []
    skipped: list[tuple[int, str]] = []
    seen_codes: dict[str, int] = {}
    for r in range(data_start, len(grid.rows)):
        excel_row = r + 1
        reason = parser.skip_reason(r)
        if reason:
            skipped.append((excel_row, reason))
            continue
        row = parser.parse(r)
        if row.code:
            if row.code in seen_codes:
                raise LedgerRowError(excel_row, by_field["code"].shown, row.code,
                                     f"duplicate code: also on row {seen_codes[row.code]}")
            seen_codes[row.code] = excel_row
        rows.append(row)
        if on_progress and len(rows) % 1000 == 0:
            on_progress("checking", r - data_start + 1, n_data)
    if on_progress:
        on_progress("checking", n_data, n_data)
    if not rows:
        raise LedgerFileError("the ledger has a header but no issue rows", reason="no_rows")
    return ParsedLedger(rows, header_map, unmapped, header_r + 1, skipped, warnings)


class _RowParser:
    """Turns grid rows into LedgerRows with the columns found in the header."""

    def __init__(self, grid: _Grid, by_field: dict[str, _Column], data_start: int):
        self.grid = grid
        self.cols = by_field
        self.data_start = data_start
        self.above: dict[str, Any] = {}   # CSV fill-down of category/aspect/audit cells
        self.wide: dict[int, list[tuple[int, int, str]]] = {}
        for r0, c0, r1, c1, coord in grid.merge_ranges:
            if c1 > c0:
                for rr in range(max(r0, data_start), r1 + 1):
                    self.wide.setdefault(rr, []).append((c0, c1, coord))

    def raw(self, r: int, c: int) -> Any:
        row = self.grid.rows[r]
        v = row[c] if c < len(row) else None
        if v is None and (r, c) in self.grid.merged:
            v = self.grid.merged[(r, c)][0]
        return v

    def skip_reason(self, r: int) -> str | None:
        row = self.grid.rows[r]
        first = next((v for v in row if not _is_blank(v)), None)
        if first is None:
            return "blank"
        text = _plain(first)
        if _TOTALS.match(text):
            return "totals"
        if _SIGNATURE.match(text):
            return "signature"
        return None

    def value(self, r: int, fld: str) -> tuple[Any, str]:
        col = self.cols.get(fld)
        if col is None:
            return None, ""
        v = self.raw(r, col.index)
        if (r, col.index) in self.grid.uncached:
            from openpyxl.utils import get_column_letter
            raise LedgerRowError(r + 1, col.shown, self.grid.uncached[(r, col.index)],
                                 f"cell {get_column_letter(col.index + 1)}{r + 1} is a formula "
                                 "without a saved result; open the file in Excel, save it, and "
                                 "import again")
        if self.grid.is_csv and fld in _FILL_DOWN_FIELDS:
            if _is_blank(v):
                v = self.above.get(fld)
            else:
                self.above[fld] = v
        return v, col.shown

    def text(self, r: int, fld: str) -> str:
        v, _ = self.value(r, fld)
        if fld in _LONG_TEXT:
            return _plain_keep(v)
        return _plain(v)

    def parse(self, r: int) -> LedgerRow:
        row = r + 1
        self._check_cross_merges(r)
        f: dict[str, Any] = {}
        for name in _SHORT_TEXT | _LONG_TEXT:
            f[name] = self.text(r, name)
        if "title" not in self.cols or "description" not in self.cols or not f["title"]:
            source = f["description"] or f["title"]
            if "description" not in self.cols:
                f["description"] = source
            if not f["title"]:
                f["title"] = _summary(source)
        if not f["title"] and not f["description"]:
            col = self.cols.get("description") or self.cols["title"]
            raise LedgerRowError(row, col.shown, "", "the issue text is empty")
        v, h = self.value(r, "audit_year")
        f["audit_year"] = parse_year(v, row, h)
        if "audit_level" in self.cols:
            v, h = self.value(r, "audit_level")
            f["audit_level"] = parse_level(v, row, h)
        else:
            # No level column: the audit's name usually says who ran it.
            name = f["audit_name"]
            f["audit_level"] = ("group" if "集团" in name else
                                "regional" if re.search(r"区分公司|自治区|省分公司", name) else None)
        v, h = self.value(r, "measures")
        f["measures"] = parse_measures(v, row, h)
        v, h = self.value(r, "deadline")
        f["deadline"] = parse_date(v, row, h)
        v, h = self.value(r, "closed_on")
        f["closed_on"] = parse_date(v, row, h)
        v, h = self.value(r, "status")
        f["status"] = parse_status(v, row, h)
        v, h = self.value(r, "struck_off")
        if not _is_blank(v):
            yes = _plain(v).lower()
            if yes in _YES:
                if f["status"] not in (None, "closed"):
                    raise LedgerRowError(row, h, v, f"struck off, but the status is "
                                         f"{f['status']}")
                f["status"] = "closed"
            elif yes not in _NO:
                raise LedgerRowError(row, h, v, "use 是 or 否")
        v, h = self.value(r, "warning")
        f["warning"] = _word(_WARNING_WORDS, v, row, h, "红, 黄, 绿 or 蓝")
        v, h = self.value(r, "amount")
        col = self.cols.get("amount")
        f["amount"] = parse_amount(v, row, h, bool(col and col.in_wan))
        v, h = self.value(r, "rectification_type")
        f["rectification_type"] = _word(_TYPE_WORDS, v, row, h, "立行立改, 分阶段整改 or 持续整改")
        v, h = self.value(r, "streams")
        f["streams"] = parse_streams(v, row, h)
        v, h = self.value(r, "focus")
        f["focus"] = parse_focus(v, row, h)
        v, h = self.value(r, "causes")
        f["causes"] = parse_causes(v)
        return LedgerRow(excel_row=row, **f)

    def _check_cross_merges(self, r: int) -> None:
        # A merge across columns that mean different fields would copy one value into both.
        for c0, c1, coord in self.wide.get(r, ()):
            fields = {col.shown: f for f, col in self.cols.items() if c0 <= col.index <= c1}
            if len(set(fields.values())) > 1:
                shown = next(iter(fields))
                raise LedgerRowError(r + 1, shown, self.raw(r, c0),
                                     f"cells {coord} are merged across the columns "
                                     f"{', '.join(fields)}; unmerge them")


def _summary(text: str, limit: int = 40) -> str:
    """A title from a description: its first sentence, at most `limit` characters."""
    first = re.split(r"[。！？!?；;\n]", text.strip(), maxsplit=1)[0].strip()
    return first[:limit]
