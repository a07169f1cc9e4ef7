"""Builds an export (the Word review pack or the Excel ledger) in a process of its own:
`python -m exports.export_worker`, started by exports.export_job_service for the export page.

At 160,000 issues each export takes about a gigabyte and a minute of CPU: in the web process
that memory stays with the process (the allocator keeps it) and the work holds the GIL that
every session's script run needs. In a child process the memory goes back to the system when
it exits and the work runs on another core.

Reads one JSON request from stdin — {"db", "kind" ("report" | "export"), "user_id", "as_of",
"since", "unit_code", "category", "stream", "lang", "attachments", "out"} — opens the database
itself, acts as that user (their scope as the database has it now), and writes JSON lines to
stdout: {"progress": [step, done, total]} as the build goes, then {"result": {...}} (the
service's summary) or {"refused": {"zh": text, "en": text}} for a refusal (exit 1)."""
from __future__ import annotations

import datetime as dt
import json
import sys


def _say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def build(request: dict, on_progress=None) -> dict:
    """Build the file the request asks for at request["out"]; returns the service's summary.
    Raises AuditError for a refusal (the same the page showed when it built in process)."""
    from audit import login_service, messages
    from audit.store.db import open_database
    from audit.views import scope_for
    from exports.pack_model import PackOptions
    from exports.pack_service import build_pack
    from exports.pack_views import scope_label
    from issues.ledger_service import export_ledger

    db = open_database(request["db"], migrate=False)
    try:
        actor = login_service.actor_for(db, int(request["user_id"]))
        categories = [request["category"]] if request.get("category") else []
        scope = scope_for(db, actor, unit_code=request.get("unit_code"),
                          category_codes=categories, stream=request.get("stream"))
        as_of = dt.date.fromisoformat(request["as_of"])
        lang = request.get("lang") or "zh"
        if request["kind"] == "report":
            label = scope_label(db, actor, lang, unit_code=request.get("unit_code"),
                                category_codes=categories, stream=request.get("stream"))
            since = dt.date.fromisoformat(request["since"]) if request.get("since") else None
            return build_pack(db, scope, request["out"], as_of=as_of, since=since, lang=lang,
                              label=label, user=actor.username, on_progress=on_progress,
                              options=PackOptions(request.get("attachments") or "auto"))
        return export_ledger(db, scope, request["out"], as_of=as_of, lang=lang,
                             title=messages.t("export.title", lang), on_progress=on_progress)
    finally:
        db.conn.close()


def main() -> int:
    from audit import messages
    from audit.model import AuditError

    request = json.loads(sys.stdin.read())
    try:
        result = build(request, on_progress=lambda step, done, total: _say(
            {"progress": [step, done, total]}))
    except AuditError as exc:
        _say({"refused": {lang: messages.error_text(exc, lang) for lang in messages.LANGS}})
        return 1
    _say({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
