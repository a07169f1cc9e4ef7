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


def neutralise_formula(text: object) -> object:
    """A spreadsheet cell value that cannot execute: strings starting with = + - @ tab or CR get
    a leading apostrophe-like quote (OWASP CSV injection). Non-strings pass through."""
    if not isinstance(text, str):
        return text
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text
