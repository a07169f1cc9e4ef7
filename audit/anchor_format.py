"""History anchors as text and as documents carry them. An anchor names the last record of the
history chain when it was published: 'SEQ:HASH', written 'anchor:SEQ:HASH' in a document (the
core property `identifier` of a Word pack or an Excel ledger, a reminder digest, a backup
manifest's "anchor"). Reading one from a .docx or .xlsx needs only its docProps/core.xml."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from defusedxml import DefusedXmlException, ElementTree

from audit.model import ValidationFailed

PREFIX = "anchor:"
_ANCHOR = re.compile(r"(?:anchor:)?(\d{1,18}):([0-9a-f]{64})")
_CORE = "docProps/core.xml"
_DC_IDENTIFIER = "{http://purl.org/dc/elements/1.1/}identifier"
_CORE_MAX_BYTES = 1 << 20


def parse_anchor(text: str, field: str = "anchor") -> tuple[int, str]:
    """(seq, hash) from 'SEQ:HASH' or 'anchor:SEQ:HASH'; ValidationFailed naming `field` for
    anything else."""
    m = _ANCHOR.fullmatch(str(text).strip())
    if not m:
        shown = str(text)[:80]
        raise ValidationFailed(field, f"not an anchor (SEQ:HASH, the hash 64 hexadecimal "
                                      f"characters): {shown!r}")
    return int(m.group(1)), m.group(2)


def anchor_text(seq: int, digest: str) -> str:
    """The form documents carry: 'anchor:SEQ:HASH'."""
    return f"{PREFIX}{seq}:{digest}"


def anchor_from_document(path: str | Path, field: str = "against") -> tuple[int, str]:
    """The anchor a Word pack or Excel ledger carries in its core property `identifier`.
    ValidationFailed naming `field` when the file cannot be read, is not an Office document, or
    carries no anchor."""
    path = Path(path)
    if path.is_dir():
        raise ValidationFailed(field, f"{path} is a folder, not a .docx or .xlsx file")
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo(_CORE)
            except KeyError:
                raise ValidationFailed(field, f"{path} has no document properties "
                                              "(not a Word pack or Excel ledger)") from None
            if info.file_size > _CORE_MAX_BYTES:
                raise ValidationFailed(field, f"{path}: document properties too large")
            xml = zf.read(info)
    except FileNotFoundError:
        raise ValidationFailed(field, f"no file at {path}") from None
    except PermissionError:
        raise ValidationFailed(field, f"{path} cannot be read (permission denied)") from None
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError):
        raise ValidationFailed(field, f"{path} is not a .docx or .xlsx file") from None
    try:
        root = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException):
        raise ValidationFailed(field, f"{path}: its document properties are not valid XML"
                               ) from None
    node = root.find(_DC_IDENTIFIER)
    text = (node.text or "").strip() if node is not None else ""
    if not text:
        raise ValidationFailed(field, f"{path} carries no history anchor (core property "
                                      "identifier)")
    return parse_anchor(text, f"{field} ({path.name})")


def anchor_in_workbook(data: bytes) -> tuple[int, str] | None:
    """The anchor an .xlsx (as bytes) carries in its core property `identifier`, or None when it
    carries none or is not an Office file (a field ledger made by hand): the importer's
    baseline for telling a stale cell from a change (issues.import_conflict_model)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo(_CORE)
            if info.file_size > _CORE_MAX_BYTES:
                return None
            root = ElementTree.fromstring(zf.read(info))
    except (KeyError, zipfile.BadZipFile, OSError, RuntimeError, EOFError,
            ElementTree.ParseError, DefusedXmlException):
        return None
    node = root.find(_DC_IDENTIFIER)
    m = _ANCHOR.fullmatch((node.text or "").strip()) if node is not None else None
    return (int(m.group(1)), m.group(2)) if m else None
