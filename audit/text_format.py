"""Cleaning text at the export boundary (never in the stored value)."""
from __future__ import annotations

import re

# Characters XML 1.0 forbids (python-docx and openpyxl raise on them), and lone surrogates.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def xml_safe(text: object) -> str:
    """Text with XML-forbidden characters replaced by U+FFFD, so Word/Excel files still save."""
    if text is None:
        return ""
    return _XML_FORBIDDEN.sub("\ufffd", str(text))


def has_xml_forbidden(text: str) -> bool:
    """Does text hold a character xml_safe would replace? (One scan can clear many values.)"""
    return _XML_FORBIDDEN.search(text) is not None


def neutralise_formula(text: object) -> object:
    """A spreadsheet cell value that cannot execute: strings starting with = + - @ tab or CR get
    a leading apostrophe-like quote (OWASP CSV injection). Non-strings pass through."""
    if not isinstance(text, str):
        return text
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


# An Excel cell holds at most 32,767 characters; openpyxl would cut longer text without a word.
EXCEL_CELL_LIMIT = 32_767
TRUNCATION_MARK = "〔……已截断 truncated〕"


def fit_excel_cell(text: str) -> tuple[str, bool]:
    """Text that fits one Excel cell: longer text is cut with a visible TRUNCATION_MARK (the full
    text stays in the database). Returns (text, whether it was cut)."""
    if len(text) <= EXCEL_CELL_LIMIT:
        return text, False
    return text[: EXCEL_CELL_LIMIT - len(TRUNCATION_MARK)] + TRUNCATION_MARK, True


def is_truncated_from(cell: str, stored: str | None) -> bool:
    """Is a ledger cell the cut-down export of the stored text? (Then it must not overwrite it.)"""
    if not cell.endswith(TRUNCATION_MARK) or not stored:
        return False
    return stored.startswith(cell[: -len(TRUNCATION_MARK)])
