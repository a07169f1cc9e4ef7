"""The Excel ledger (整改台账) as plain data: its rows, the words and forms of its values, and
the parsers that read each cell. Pure: no file, no database. Every refusal names the Excel row
as the user sees it, the column header and the value (LedgerRowError).

The round trip rests on these rules (the reader, issues.ledger_read_format, and the writer,
issues.ledger_write_format, both follow them):
- Text written by the writer is neutralised against formula injection: a leading apostrophe is
  added before = + - @ tab CR (and before any run of apostrophes followed by one of those). The
  reader removes exactly one leading apostrophe when it is followed by apostrophes and then a
  formula prefix, so export → import is exact (`unneutralise`).
- Short identifying fields (code, names, units, people, report numbers…) are stripped of
  surrounding whitespace; long free text (description, progress, basis, recommendation) is kept
  exactly, control characters included.
- Work streams and focus points are the programme's own rows (the migration seeds them): the
  reader and writer get them as a Vocabulary read from the database, never from a list here.
- The words a cell may use for a status, a rectification type, a warning colour or an audit
  level are recognised here; the words the writer prints are the catalogue's (`ledger.*` keys).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from audit.messages import LANGS, name_of, t
from audit.model import LedgerFileError, LedgerRowError, Status


@dataclass(frozen=True)
class Vocabulary:
    """The programme's work streams and focus points as (code, Chinese name, English name), in
    the programme's order: what a ledger's 工作组 and 关注点 cells may name. Read from the
    database (issues.store.ledger_vocabulary), where the migration's rows are their one
    definition."""

    streams: tuple[tuple[str, str, str], ...]
    focus: tuple[tuple[str, str, str], ...]

    @property
    def stream_codes(self) -> tuple[str, ...]:
        return tuple(s[0] for s in self.streams)

    @property
    def focus_codes(self) -> tuple[str, ...]:
        return tuple(f[0] for f in self.focus)

    def stream_name(self, code: str, lang: str) -> str:
        """A stream's name in `lang` (the code when unknown)."""
        for c, zh, en in self.streams:
            if c == code:
                return name_of({"name": zh, "name_en": en}, lang)
        return code

    def focus_name(self, code: str, lang: str) -> str:
        """A focus point's name in `lang` (the code when unknown)."""
        for c, zh, en in self.focus:
            if c == code:
                return name_of({"name": zh, "name_en": en}, lang)
        return code


@dataclass(frozen=True)
class MeasureLine:
    """One corrective measure as a ledger cell line writes it."""

    title: str
    owner: str | None = None
    deadline: dt.date | None = None
    done: bool = False
    # The day it was completed (written only for a done measure; a done mark read without a
    # date leaves it None: whoever takes the mark picks the day).
    completed_on: dt.date | None = None


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
    amount_corrected: float | None = None   # yuan rectified (已整改金额)
    amount_recovered: float | None = None   # yuan recovered (追回金额)
    # Derived from the records, written for the reader of the sheet and never read back
    # (they have forms of their own, with who and when): accountability records as
    # (not_applicable, person_name, action, reason, penalty yuan), evidence file names.
    accountability: tuple[tuple[bool, str, str, str, float], ...] = field(default=(),
                                                                          compare=False)
    evidence: tuple[str, ...] = field(default=(), compare=False)
    # The office's 备注, kept with the issue as its extra column 备注 (REMARKS_HEADER).
    remarks: str = ""
    # The office's columns that map to no field, (header, text) of the non-blank ones: kept
    # with the issue so nothing in the file is lost.
    extras: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LedgerQuestion:
    """Something the reader will not guess: which field a column means (kind 'column', value =
    the header) or which programme value a local word means (kind 'value', field = the field
    the word is for). `proposal` is the nearest choice, `choices` (target, label) all of them;
    the answer goes back into read_ledger's `mapping` or `values` (key → target)."""

    kind: str
    key: str
    field: str
    column: str
    value: str
    rows: tuple[int, ...]
    proposal: str | None
    confidence: float
    choices: tuple[tuple[str, str], ...]


@dataclass
class ParsedLedger:
    """What read_ledger found: rows, how headers were understood (each column's mapping with
    its confidence and reason), rows skipped, warnings, the questions it will not guess, the
    local words it matched (key → (target, confidence)) and what it inferred (audit year and
    level from the audit's name, measures split from numbered text, owners and deadlines
    inherited from the row)."""

    rows: list[LedgerRow]
    header_map: dict[str, str]
    unmapped_headers: list[str]
    header_row: int
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mappings: list[Any] = field(default_factory=list)      # ledger_infer_model.ColumnMapping
    questions: list[LedgerQuestion] = field(default_factory=list)
    value_matches: dict[str, tuple[str, float]] = field(default_factory=dict)
    inferred: dict[str, int] = field(default_factory=dict)
    sheets: list[tuple[str, str]] = field(default_factory=list)   # (sheet, 'read' | why not)
    signature: str = ""
    # The history anchor the workbook was exported at (its core property `identifier`), or
    # None: what the import checks newer changes against (issues.import_conflict_model).
    anchor: tuple[int, str] | None = None
    # Several sheets joined: row (as numbered through the sheets) → (sheet, its own Excel row).
    origin: dict[int, tuple[str, int]] = field(default_factory=dict)

    def where(self, row: int) -> tuple[str, int]:
        """(sheet, Excel row in that sheet) of a row; ('', row) in a one-sheet ledger."""
        return self.origin.get(row, ("", row))

    def located(self, err: LedgerRowError) -> LedgerRowError:
        """The refusal naming the row's own sheet and Excel row (unchanged for one sheet)."""
        return located(err, self.origin)


# Columns the writer fills from the issue's own records and the reader recognises and skips.
DERIVED_FIELDS = ("accountability", "evidence")
ROW_FIELDS = tuple(f for f in LedgerRow.__dataclass_fields__
                   if f not in ("excel_row", "extras", *DERIVED_FIELDS))
# The header under which an issue keeps its 备注 among the extra columns (issue_extras): the
# office's remarks column, imported and exported as the ledger's own 备注.
REMARKS_HEADER = "备注"
# What a --map value may name: the row fields, plus 'struck_off' (是否销号) and 'serial' (ignored).
MAPPABLE_FIELDS = ROW_FIELDS + ("struck_off", "serial")
FILL_DOWN_FIELDS = frozenset({"category", "aspect", "audit_name", "audit_year", "audit_level",
                              "report_no"})
SHORT_TEXT = frozenset({"code", "category", "aspect", "title", "audit_name", "report_no", "unit",
                        "responsible", "supervisor", "remarks"})
LONG_TEXT = frozenset({"description", "progress", "basis", "recommendation"})

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

TYPE_WORDS = {"立行立改": "immediate", "立即整改": "immediate", "immediate": "immediate",
              "分阶段整改": "staged", "分阶段": "staged", "staged": "staged",
              "持续整改": "continuous", "限期整改": "continuous", "长期整改": "continuous",
              "continuous": "continuous"}
WARNING_WORDS: dict[str, str] = {}
for _key, _words in (("red", ("红", "红灯", "红色", "red")),
                     ("amber", ("黄", "黄灯", "黄色", "amber", "yellow")),
                     ("green", ("绿", "绿灯", "绿色", "green")),
                     ("blue", ("蓝", "蓝灯", "蓝色", "blue"))):
    for _w in _words:
        WARNING_WORDS[_w] = _key
YES_WORDS = {"是", "已销号", "yes", "y", "true", "√", "✓"}
NO_WORDS = {"否", "未销号", "no", "n", "false", "×"}
RECTIFICATION_TYPES = ("immediate", "staged", "continuous")
WARNING_KEYS = ("red", "amber", "green", "blue")
AUDIT_LEVELS = ("group", "regional")
# The words the writer prints (the catalogue's ledger.* labels, in every language) read back.
for _lang in LANGS:
    for _s in Status:
        _STATUS_WORDS.setdefault(t(f"ledger.status.{_s.value}", _lang).lower(), _s)
    for _k in RECTIFICATION_TYPES:
        TYPE_WORDS.setdefault(t(f"ledger.type.{_k}", _lang).lower(), _k)
    for _k in WARNING_KEYS:
        WARNING_WORDS.setdefault(t(f"ledger.warning.{_k}", _lang).lower(), _k)



def value_words() -> dict[str, set[str]]:
    """The lower-case words a status, type or warning cell may hold, by kind (for telling a
    column's kind from its values)."""
    return {"status": set(_STATUS_WORDS), "type": set(TYPE_WORDS),
            "warning": set(WARNING_WORDS)}


SIGNATURE_ROW = re.compile(
    r"^(制表人|制表|填表人|填报人|审核人|审核|负责人|单位负责人|分管领导|填报日期|填表日期|制表日期|"
    r"记录锚点|prepared by|reviewed by|approved by|date|record anchor)\s*[:：]", re.I)
# 总计划… is not a totals row: the word must not run on into more Chinese.
TOTALS_ROW = re.compile(r"^(?:(?:合|总|小|共)\s*计(?![\u4e00-\u9fff])|(?:total|totals|sum)\b)", re.I)


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
    text = plain(value).lower()
    if not text:
        return None
    status = _STATUS_WORDS.get(text)
    if status is None:
        raise LedgerRowError(row, column, value,
                             "unknown status (use 未启动, 整改中, 待验收, 已销号 or 特殊原因终结)")
    return status.value


def parse_word(table: dict[str, str], value: Any, row: int, column: str, hint: str) -> str | None:
    text = plain(value).lower()
    if not text:
        return None
    try:
        return table[text]
    except KeyError:
        raise LedgerRowError(row, column, value, f"unknown value (use {hint})") from None


def parse_level(value: Any, row: int, column: str) -> str | None:
    """'group' or 'regional' from 集团公司 / 区分公司 / 省 / 区 words; None if blank."""
    text = plain(value).lower()
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
        text = plain(value)
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


# Words a stream's cell may use besides its name and code (an office writes 整治组, 审计组…).
_STREAM_WORDS = {"cleanup": ("整治", "清理", "clean"), "audit": ("审计", "audit")}
_ALL_STREAMS = ("both", "全部", "两者", "并轨", "两个工作组")


def parse_streams(value: Any, row: int, column: str, vocabulary: Vocabulary
                  ) -> tuple[str, ...]:
    """The work stream codes a cell names (by name, code or a word of the stream), in the
    vocabulary's order."""
    text = plain(value)
    found: set[str] = set()
    for token in _LIST_SPLIT.split(text):
        t = token.strip().lower()
        if not t:
            continue
        if t in _ALL_STREAMS:
            found.update(vocabulary.stream_codes)
            continue
        hit = False
        for code, zh, en in vocabulary.streams:
            words = (code.lower(), zh, en.lower(), *_STREAM_WORDS.get(code, ()))
            if any(w and w in t for w in words):
                found.add(code)
                hit = True
        if not hit:
            raise LedgerRowError(row, column, value,
                                 f"unknown work stream {token.strip()!r} "
                                 f"(use {' or '.join(zh for _, zh, _ in vocabulary.streams)})")
    return tuple(s for s in vocabulary.stream_codes if s in found)


def parse_focus(value: Any, row: int, column: str, vocabulary: Vocabulary
                ) -> tuple[str, ...]:
    """The focus point codes a cell names, by code or by name, sorted."""
    text = plain(value)
    found: set[str] = set()
    # Full names first: the English ones contain commas.
    for code, zh, en in vocabulary.focus:
        for name in (zh, en):
            if name and name in text:
                found.add(code)
                text = text.replace(name, " ")
    codes = {c.upper(): c for c in vocabulary.focus_codes}
    for token in _LIST_SPLIT.split(text):
        t = token.strip()
        if not t:
            continue
        squeezed = re.sub(r"\s+", "", t).upper()
        if squeezed in codes:
            found.add(codes[squeezed])
            continue
        lead = re.match(r"([A-Za-z]+\d+)(?!\d)", t)
        if lead and lead.group(1).upper() in codes and (
                len(t) == len(lead.group(1)) or not t[len(lead.group(1))].isalnum()):
            found.add(codes[lead.group(1).upper()])   # "F1 外包单价…" stripped of its name above
            continue
        hits = [c for c, zh, _ in vocabulary.focus if len(t) >= 2 and (t in zh or zh in t)]
        if len(hits) != 1:
            raise LedgerRowError(row, column, value,
                                 f"unknown focus point {t!r} (use "
                                 f"{vocabulary.focus_codes[0]}–{vocabulary.focus_codes[-1]} "
                                 "or their names)")
        found.add(hits[0])
    return tuple(sorted(found))


def parse_causes(value: Any) -> tuple[str, ...]:
    """Root causes, one per ；/;/line."""
    return tuple(p.strip() for p in re.split(r"[;；\n]", plain(value)) if p.strip())


# ---------------------------------------------------------------------------------------------
# Measures: one per line, "标题（责任人：张三；时限：2026-12-31；已完成：2026-11-20）" (the
# completion date after 已完成 is optional on reading: a bare 已完成 is a done mark without one).

_MEASURE_NUMBER = re.compile(r"^\s*(?:\d{1,3}\s*[.．、)）](?!\d)|[（(]\d{1,3}[）)])\s*")
_META_KEYS_OWNER = ("责任人", "负责人", "owner")
_META_KEYS_DEADLINE = ("时限", "完成时限", "整改时限", "deadline", "due")
_META_KEYS_COMPLETED = ("已完成", "完成", "完成日期", "done", "completed", "completed on")
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
    if m.completed_on is not None and not m.done:
        raise ValueError(f"a measure not done has no completion date: {m.title!r}")
    return measure_line_text(m.title, m.owner,
                             None if m.deadline is None else m.deadline.isoformat(), m.done,
                             None if m.completed_on is None else m.completed_on.isoformat())


def measure_line_text(title: str, owner: str | None, deadline: str | None, done: bool,
                      completed_on: str | None = None) -> str:
    """The one-line text of a measure from its parts, unchecked: the title non-empty, stripped
    and on one line, the owner as format_measure_line accepts it (or None), the deadline and
    the completion date (of a done measure) as ISO date text (or None). format_measure_line
    checks its measure and calls this; an export that already holds values in that form calls
    it directly, without making MeasureLines."""
    mark = (f"已完成：{completed_on}" if completed_on is not None else "已完成") if done else ""
    # The parts present, in the order 责任人；时限；已完成, each combination spelled out (no list
    # built and joined for each of the 200,000 measures of a region's ledger).
    if owner is not None:
        if deadline is not None:
            meta = (f"责任人：{owner}；时限：{deadline}；{mark}" if done
                    else f"责任人：{owner}；时限：{deadline}")
        else:
            meta = f"责任人：{owner}；{mark}" if done else f"责任人：{owner}"
    elif deadline is not None:
        meta = f"时限：{deadline}；{mark}" if done else f"时限：{deadline}"
    elif done:
        meta = mark
    # A title that itself ends in a bracket gets an (empty) group so it is not taken for one.
    elif title.endswith((")", "）")):
        return f"{title}（）"
    else:
        return title
    return f"{title}（{meta}）"


def parse_measure_line(text: str, excel_row: int, column: str) -> MeasureLine:
    """A measure from its one-line text (see format_measure_line). A trailing bracket that does
    not hold 责任人/时限/已完成 parts is part of the title. Raises LedgerRowError naming the row
    and column for a deadline or completion date that is not a date."""
    line = text.strip()
    if not line:
        raise LedgerRowError(excel_row, column, text, "empty measure")
    if line.endswith((")", "）")):
        opens = max(line.rfind("（"), line.rfind("("))
        if opens >= 0:
            inner = line[opens + 1:-1]
            meta = _parse_measure_meta(inner, excel_row, column, text)
            if meta is not None and line[:opens].strip():
                owner, deadline, done, completed_on = meta
                return MeasureLine(line[:opens].strip(), owner, deadline, done, completed_on)
    return MeasureLine(line)


def _parse_measure_meta(inner: str, row: int, column: str, text: str
                        ) -> tuple[str | None, dt.date | None, bool, dt.date | None] | None:
    if "(" in inner or "（" in inner:
        return None
    owner: str | None = None
    deadline: dt.date | None = None
    done = False
    completed_on: dt.date | None = None
    if not inner.strip():
        return owner, deadline, done, completed_on
    for part in re.split(r"[;；]", inner):
        p = part.strip()
        kv = re.split(r"\s*[:：]\s*", p, maxsplit=1)
        if len(kv) == 2 and kv[0].lower() in _META_KEYS_OWNER and kv[1]:
            owner = kv[1]
        elif len(kv) == 2 and kv[0].lower() in _META_KEYS_DEADLINE:
            deadline = parse_date(kv[1], row, column)
        elif len(kv) == 2 and kv[0].lower() in _META_KEYS_COMPLETED and kv[1]:
            done, completed_on = True, _completion_date(kv[1], row, column, text)
        elif p.lower() in _DONE_WORDS:
            done = _DONE_WORDS[p.lower()]
        else:
            return None
    if completed_on is not None and not done:
        raise LedgerRowError(row, column, text, "ledger_row.completed_not_done")
    return owner, deadline, done, completed_on


def _completion_date(value: str, row: int, column: str, text: str) -> dt.date | None:
    """The date after a measure's 已完成: (parse_date's forms); LedgerRowError naming the row,
    the column and the measure's line otherwise."""
    try:
        return parse_date(value, row, column)
    except LedgerRowError:
        raise LedgerRowError(row, column, text.strip(), "ledger_row.completed_on") from None


def parse_measures(value: Any, row: int, column: str) -> tuple[MeasureLine, ...]:
    """The measures of a cell: one per line, optionally numbered 1. / 1、 / （1）; a line that
    numbers several measures in a run (1.… 2.… / （1）…（2）… / ①…② / 一是…二是…) is split."""
    out = []
    # Only CR/LF end a line: str.splitlines would also split on U+0085, U+2028 and friends.
    for line in re.split(r"\r\n|\r|\n", plain_keep(value)):
        if not line.strip():
            continue
        for part in split_numbered(line):
            out.append(parse_measure_line(_MEASURE_NUMBER.sub("", part, count=1), row, column))
    return tuple(out)


_CN_DIGITS = "一二三四五六七八九十"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_INLINE_MARKS = (
    # (pattern of a marker, its number from the match)
    (re.compile(r"(?:^|(?<=[\s。；;，,:：]))(\d{1,2})\s*[.．、)）](?!\d)"), lambda m: int(m.group(1))),
    (re.compile(r"[（(](\d{1,2})[）)]"), lambda m: int(m.group(1))),
    (re.compile(f"[{_CIRCLED}]"), lambda m: _CIRCLED.index(m.group(0)) + 1),
    (re.compile(f"(?:^|(?<=[\\s。；;，,:：]))([{_CN_DIGITS}])是"),
     lambda m: _CN_DIGITS.index(m.group(1)) + 1),
)
_PIECE_END = "；;，,。 \t"


def split_numbered(line: str) -> list[str]:
    """A line holding several numbered measures in a run, split at its markers (numbered 1, 2,
    3… in order from the first); any other line as it is. Text before the first marker is a
    lead-in and is dropped only when it ends in a colon (整改措施：1.…)."""
    for pattern, number in _INLINE_MARKS:
        marks = list(pattern.finditer(line))
        if len(marks) < 2:
            continue
        seq = [number(m) for m in marks]
        # The run of markers numbered 1, 2, 3… (markers out of order are text).
        picked, want = [], 1
        for m, n in zip(marks, seq):
            if n == want:
                picked.append(m)
                want += 1
        if len(picked) < 2:
            continue
        head = line[:picked[0].start()].strip()
        if head and not head.endswith((":", "：")):
            continue
        parts = []
        for i, m in enumerate(picked):
            end = picked[i + 1].start() if i + 1 < len(picked) else len(line)
            text = line[m.end():end].strip().rstrip(_PIECE_END).strip()
            if text:
                parts.append(text)
        if len(parts) >= 2:
            return parts
    return [line]


def format_measures(measures: Iterable[MeasureLine]) -> str:
    """The measures cell text: numbered lines "1. …"."""
    return number_measure_lines(format_measure_line(m) for m in measures)


def number_measure_lines(lines: Iterable[str]) -> str:
    """The measures cell text from the measures' one-line texts: numbered lines "1. …"."""
    return "\n".join([f"{i}. {line}" for i, line in enumerate(lines, 1)])


# ---------------------------------------------------------------------------------------------
# Cell text helpers.

def located(err: LedgerRowError, origin: dict[int, tuple[str, int]]) -> LedgerRowError:
    """`err` naming its row's sheet and that sheet's Excel row, when sheets were joined."""
    if err.sheet or err.row not in origin:
        return err
    sheet, row = origin[err.row]
    out = LedgerRowError(row, err.column, err.value, err.reason, sheet=sheet)
    out.params.update({k: v for k, v in err.params.items() if k not in out.params})
    return out


def plain(value: Any) -> str:
    """A cell as stripped text (numbers without a spurious .0)."""
    return plain_keep(value).strip()


def plain_keep(value: Any) -> str:
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


def is_blank(value: Any) -> bool:
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
