"""Values of the programme an audit lead creates from the import preview: a focus point (关注点)
or a work stream (工作组) an office's ledger names and the programme does not have yet. The
other words a ledger uses (statuses, rectification types, warning colours, audit levels) are
the workflow's fixed states, checked by the schema: they can be mapped, never created."""
from __future__ import annotations

import re

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.model import text_value as _text
from audit.service import require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.store.rows import insert
from issues import store
from issues.import_model import norm

# field of a ledger word → (table, history entity, code prefix)
CREATABLE = {"focus": ("focus_points", "focus_point", "F"),
             "streams": ("streams", "stream", "S")}
FIXED = ("status", "rectification_type", "warning", "audit_level")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,19}$")


def can_create(fld: str) -> bool:
    """May a word of this field be created as a new programme value (not a fixed state)?"""
    return fld in CREATABLE


def create_value(db: sqlite_utils.Database, actor: Actor, fld: str, name: str, *, at: str,
                 name_en: str = "", code: str | None = None) -> str:
    """Create the focus point or work stream `name` (fld 'focus' or 'streams'), coded F6 / S3
    (the next free one) unless `code` is given; returns its code. Raises NotPermitted for
    anyone but an audit lead, ValidationFailed for a fixed field (statuses, rectification
    types, warnings, audit levels), a blank name, or a name or code the programme has."""
    require(actor, "vocabulary.create", what=fld)
    if fld in FIXED:
        raise ValidationFailed(fld, "is one of the workflow's fixed values: map the word to "
                               "one of them", rule="value_fixed")
    if fld not in CREATABLE:
        raise ValidationFailed("field", f"{fld!r} has no programme values to create")
    table, entity, prefix = CREATABLE[fld]
    name = _text(name, "name", required=True, max_len=100).strip()
    name_en = _text(name_en, "name_en", max_len=100).strip()
    with write_transaction(db):
        rows = store.vocabulary_rows(db, table)
        names = {norm(n) for _, zh, en in rows for n in (zh, en) if n}
        if norm(name) in names or (name_en and norm(name_en) in names):
            raise ValidationFailed("name", f"{name!r} exists already", rule="taken")
        codes = {c.upper() for c, _, _ in rows}
        if code:
            code = code.strip()
            if not _CODE.match(code):
                raise ValidationFailed("code", f"{code!r}: letters and digits, starting with "
                                       "a letter")
            if code.upper() in codes:
                raise ValidationFailed("code", f"{code} exists already", rule="taken")
        else:
            n = len(rows) + 1
            while f"{prefix}{n}" in codes:
                n += 1
            code = f"{prefix}{n}"
        rec = Recorder(db, actor, at, "vocabulary.create")
        insert(db, rec, table, entity, {"code": code, "name": name, "name_en": name_en})
        rec.flush()
    return code
