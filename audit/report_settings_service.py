"""The review pack's settings (the cover's full company name and issuing department, in both
languages, the compiler and contact printed at the end, the house style of body and table
type, the optional 密级, and the programme's 基本情况 text): one intent, saving the form the
administrator filled. Permission → validation of every field → one transaction → history."""
from __future__ import annotations

from typing import Mapping

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.model import text_value as _text
from audit.service import require
from audit.store import org
from audit.store.db import write_transaction
from audit.store.history import Recorder

# key → longest value accepted (characters)
REPORT_SETTINGS: dict[str, int] = {
    "report.company": 100, "report.company_en": 200,
    "report.department": 100, "report.department_en": 200,
    "report.compiler": 50, "report.compiler_en": 100, "report.contact": 100,
    "report.house_style": 20, "report.classification": 20,
    "report.background": 5000,
}
# Body and table type: 仿宋 (the 公文 habit, GB/T 9704) or 宋体.
HOUSE_STYLES: tuple[str, ...] = ("fangsong", "song")
# 密级: none, or one of the levels a company marks internal material with.
CLASSIFICATIONS: tuple[str, ...] = ("", "internal", "secret", "confidential")


def check_report_settings(values: Mapping[str, str]) -> dict[str, str]:
    """The values as they would be stored; ValidationFailed naming the first bad field."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if key not in REPORT_SETTINGS:
            raise ValidationFailed("key", f"unknown setting {key!r}")
        text = _text(value, key, max_len=REPORT_SETTINGS[key]).strip()
        if key == "report.house_style" and text not in HOUSE_STYLES:
            raise ValidationFailed(key, f"must be one of {', '.join(HOUSE_STYLES)}")
        if key == "report.classification" and text not in CLASSIFICATIONS:
            raise ValidationFailed(key, f"must be one of {', '.join(CLASSIFICATIONS[1:])} or empty")
        out[key] = text
    return out


def save_report_settings(db: sqlite_utils.Database, actor: Actor, values: Mapping[str, str], *,
                         at: str) -> dict[str, tuple[str, str]]:
    """Save the review pack's settings that changed; returns {key: (old, new)}. Raises
    NotPermitted for anyone but an administrator and ValidationFailed (nothing written) for
    an unknown key, a value too long or a house style / 密级 outside the lists."""
    require(actor, "settings.edit")
    checked = check_report_settings(values)
    rec = Recorder(db, actor, at, "report_settings.save")
    changed: dict[str, tuple[str, str]] = {}
    with write_transaction(db):
        for key, value in checked.items():
            old = org.setting(db, key)
            if old is None:
                raise ValidationFailed("key", f"unknown setting {key!r}")
            if old == value:
                continue
            org.set_setting_value(db, key, value)
            rec.add("setting", None, key, old, value)
            changed[key] = (old, value)
        rec.flush()
    return changed
