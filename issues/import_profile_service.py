"""An office's ledger as it is, kept: mapping profiles (a confirmed column mapping and the
answers about local words, saved under a name and found again by the ledger's header
signature, so the next monthly ledger of the same office imports with no questions) and the
office's extra columns (those that map to no field), kept with each imported issue. Each write
is recorded in history, in the caller's transaction or its own."""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.service import require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from issues import import_store
from issues.ledger_format import ParsedLedger


def find_profile(db: sqlite_utils.Database, *, name: str | None = None,
                 signature: str | None = None) -> dict | None:
    """The profile saved under `name`, else the latest for `signature`; None if none."""
    if name:
        return import_store.profile(db, name)
    if signature:
        return import_store.profile_for_signature(db, signature)
    return None


def profile_of(parsed: ParsedLedger, value_answers: dict[str, str] | None = None
               ) -> dict[str, Any]:
    """The mapping a reading settled (every column: its field, '' for none) and the local
    words it matched or was told, as a profile's contents."""
    mapping = {h: f for h, f in parsed.header_map.items()}
    mapping.update({h: "" for h in parsed.unmapped_headers})
    values = {k: target for k, (target, _) in parsed.value_matches.items()}
    values.update(value_answers or {})
    return {"signature": parsed.signature, "mapping": mapping, "value_answers": values}


def save_profile(db: sqlite_utils.Database, actor: Actor, name: str, parsed: ParsedLedger,
                 value_answers: dict[str, str] | None, at: str) -> dict:
    """Save the mapping and value answers of `parsed` under `name` (replacing one of that
    name); returns the profile. Raises NotPermitted, ValidationFailed for a blank name or a
    reading with open questions."""
    require(actor, "ledger.import")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name", "must not be blank")
    if parsed.questions:
        raise ValidationFailed("profile", "answer the open questions first")
    prof = profile_of(parsed, value_answers)
    with write_transaction(db):
        old = import_store.profile(db, name)
        import_store.save_profile(db, name, prof["signature"], prof["mapping"],
                                  prof["value_answers"], actor.user_id, at)
        rec = Recorder(db, actor, at, "ledger.profile")
        rec.add("ledger_profile", None, name, json.dumps(old, ensure_ascii=False,
                                                         sort_keys=True) if old else None,
                json.dumps(prof, ensure_ascii=False, sort_keys=True))
        rec.flush()
    return {"name": name, **prof}


def keep_extras(db: sqlite_utils.Database, actor: Actor, rows: list[tuple[int, tuple]],
                at: str) -> int:
    """Store the extra columns of imported rows ((issue id, ((header, text), …)) each), in the
    caller's transaction, recording each new or changed value in history; returns how many
    values were written (none when the same ledger comes again)."""
    wanted = {iid: dict(extras) for iid, extras in rows if extras}
    if not wanted:
        return 0
    have = import_store.extras_of(db, sorted(wanted))
    rec = Recorder(db, actor, at, "ledger.import")
    written = 0
    for iid, extras in wanted.items():
        changed = {h: v for h, v in extras.items() if have.get(iid, {}).get(h) != v}
        if not changed:
            continue
        import_store.put_extras(db, iid, changed)
        for h, v in changed.items():
            rec.add("issue_extra", iid, h, have.get(iid, {}).get(h), v)
            written += 1
    rec.flush()
    return written
