"""The message catalogue: every user-facing text, one flat table per language
(audit/messages_zh.py, audit/messages_en.py), and the functions that fill them in.

Keys are flat and dotted (`<area>.<name>`): `error.*` for exceptions (the `key` of each
AuditError), `missing.*` for the unmet conditions of 四个到人 / 三不放过, `rule.*` for the reason
a field was refused, `field.*` for field labels, `status.*`, `move.*`, `role.*`, `warning.*`,
`severity.*`, `rectification_type.*`, `page.*`, `nav.*`, `common.*`, `login.*`, `admin.*`.
To add text for a new page, add the same key to both tables (a test checks that the two
languages have the same keys and the same {placeholders})."""
from __future__ import annotations

import string
from typing import Any, Callable, Iterable, Mapping

from audit import messages_en, messages_zh
from audit.model import (
    AssignmentIncomplete,
    AuditError,
    ClosureBlocked,
    DependencyCycle,
    LedgerFileError,
    UploadRefused,
    ValidationFailed,
)

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_NAMES: dict[str, str] = {"zh": "中文", "en": "English"}

MESSAGES: dict[str, dict[str, str]] = {"zh": messages_zh.TEXTS, "en": messages_en.TEXTS}

# How a list is joined in running text, and which column holds a stored name, per language.
_LIST_SEPARATOR = {"zh": "、", "en": "; "}
_NAME_COLUMN = {"zh": "name", "en": "name_en"}


class _Blank(dict):
    """Format parameters where an absent placeholder renders as nothing, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def normalise_lang(lang: str | None) -> str:
    """A supported language code; anything else falls back to Chinese."""
    if not lang:
        return DEFAULT_LANG
    code = str(lang).strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGS else DEFAULT_LANG


def has(key: str) -> bool:
    """Is `key` in the catalogue?"""
    return key in MESSAGES[DEFAULT_LANG]


def t(key: str, lang: str | None = DEFAULT_LANG, **params: Any) -> str:
    """The text for `key` in `lang` with {placeholders} filled; falls back to Chinese, then to
    the key itself (so a missing text is visible, never a crash)."""
    lang = normalise_lang(lang)
    template = MESSAGES[lang].get(key) or MESSAGES[DEFAULT_LANG].get(key)
    if template is None:
        return key
    return string.Formatter().vformat(template, (), _Blank(params))


def formatter(key: str, lang: str | None = DEFAULT_LANG) -> Callable[..., str]:
    """t(key, lang, **params) as a function of the params alone, the template looked up once:
    for a text repeated per row (a chart's thousand labels)."""
    lang = normalise_lang(lang)
    template = MESSAGES[lang].get(key) or MESSAGES[DEFAULT_LANG].get(key)
    if template is None:
        return lambda **params: key
    return lambda **params: template.format_map(_Blank(params))


def placeholders(template: str) -> set[str]:
    """The {placeholder} names used in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def label(prefix: str, value: Any, lang: str | None = DEFAULT_LANG) -> str:
    """The label of an enum-like value (`label('status', 'closed', 'zh')` → 已销号); the raw value
    when the catalogue has none."""
    raw = getattr(value, "value", value)
    key = f"{prefix}.{raw}"
    return t(key, lang) if has(key) else str(raw)


def _param_text(value: Any, lang: str) -> Any:
    """A parameter value as shown: catalogue keys are translated, None shows as '?'."""
    if value is None:
        return "?"
    if isinstance(value, str) and has(value):
        return t(value, lang)
    return value


def error_text(exc: AuditError, lang: str | None = DEFAULT_LANG) -> str:
    """The message for a refusal, in `lang`, built from its key and parameters.

    Conventions the services may rely on: a parameter whose value is a catalogue key is
    translated (e.g. `reason="rule.too_short"`); ValidationFailed may carry `rule` (a `rule.*`
    name or key) with its own parameters (e.g. `min=8`), else its English message is shown."""
    lang = normalise_lang(lang)
    params: dict[str, Any] = {k: _param_text(v, lang) for k, v in exc.params.items()}
    sep = _LIST_SEPARATOR[lang]
    if isinstance(exc, (AssignmentIncomplete, ClosureBlocked)):
        params["missing"] = sep.join(label("missing", m, lang) for m in exc.missing)
    elif isinstance(exc, DependencyCycle):
        params["cycle"] = " → ".join(str(c) for c in exc.cycle)
    elif isinstance(exc, ValidationFailed):
        field_key = f"field.{exc.field}"
        params["field"] = t(field_key, lang) if has(field_key) else exc.field
        rule = exc.params.get("rule")
        if rule:
            rule_key = rule if str(rule).startswith("rule.") else f"rule.{rule}"
            rule_params = {k: v for k, v in exc.params.items() if k not in ("rule", "field")}
            params["reason"] = (t(rule_key, lang, **rule_params) if has(rule_key)
                                else str(rule))
        else:
            params.setdefault("reason", exc.message)
    if isinstance(exc, LedgerFileError):
        # The reason is a short code (zip_bomb, type…): named in words, with the full message
        # the CLI prints (sizes, cells, headers), so the page says as much as the CLI.
        code = str(exc.params.get("reason") or "")
        params["reason"] = t(f"ledger_file.{code}", lang) if has(f"ledger_file.{code}") \
            else (code or t("ledger_file.other", lang))
        params["detail"] = exc.message
    if isinstance(exc, UploadRefused) and has(f"issue.upload.{params.get('reason')}"):
        # An upload's or a stored file's reason code (type, tampered, missing…) in words.
        params["reason"] = t(f"issue.upload.{params['reason']}", lang)
    key = exc.key if has(exc.key) else "error.generic"
    return t(key, lang, **params)


def catalogue_problems(messages: Mapping[str, Mapping[str, str]] = MESSAGES) -> list[str]:
    """Differences between the languages (keys or placeholders); empty when consistent."""
    problems: list[str] = []
    base = messages[DEFAULT_LANG]
    for lang, table in messages.items():
        for key in sorted(set(base) ^ set(table)):
            problems.append(f"{lang}: key {key} is in only one language")
        for key in sorted(set(base) & set(table)):
            if placeholders(base[key]) != placeholders(table[key]):
                problems.append(f"{lang}: {key} placeholders differ")
    return problems


def join_list(items: Iterable[Any], lang: str | None = DEFAULT_LANG) -> str:
    """Items joined as running text in `lang` (、 in Chinese, ; in English)."""
    return _LIST_SEPARATOR[normalise_lang(lang)].join(str(i) for i in items)


def name_of(row: Mapping[str, Any], lang: str | None = DEFAULT_LANG) -> str:
    """A stored name in `lang`: the row's `name_en` in English where it has one, else `name`
    (work streams and focus points carry both)."""
    return row.get(_NAME_COLUMN[normalise_lang(lang)]) or row["name"]


def name_column(lang: str | None = DEFAULT_LANG) -> str:
    """The column of a table with names in both languages that holds `lang`'s."""
    return _NAME_COLUMN[normalise_lang(lang)]
