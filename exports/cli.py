"""`python -m audit report` (the Word review pack) and `python -m audit export` (the Excel
ledger): thin shells over exports.pack_service and issues.ledger_service. The scope is always
narrowed to the acting user's; progress goes to stderr (a bar on a terminal, lines otherwise)."""
from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Callable

from audit import messages
from exports.pack_model import ATTACHMENTS


def _date_arg(text: str | None, flag: str) -> date | None:
    from audit.cli import Refused
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused(f"{flag}: not a date (YYYY-MM-DD): {text!r}") from None


def _progress(label: str) -> Callable[[str, int, int], None]:
    """on_progress(step, done, total) printing through audit's progress printer, one per step
    (so each step gets its own bar, or its own 0%…100% lines when stderr is not a terminal)."""
    from audit.cli import _progress_printer
    printers: dict[str, Callable[..., None]] = {}

    def show(step: str, done: int, total: int) -> None:
        if step not in printers:
            printers[step] = _progress_printer(label)
        printers[step](done, max(total, 1), step)
    return show


def _out_path(text: str, suffix: str) -> Path:
    """The output path: must end in `suffix` and its folder must exist (Refused otherwise)."""
    from audit.cli import Refused
    out = Path(text)
    if out.suffix.lower() != suffix:
        raise Refused(f"--out: the file name must end in {suffix}: {text!r}")
    if not out.parent.exists():
        raise Refused(f"--out: no folder {out.parent}")
    if out.is_dir():
        raise Refused(f"--out: {out} is a folder")
    return out


def _scope(db, args):
    """The acting user and the scope asked for, narrowed to that user's."""
    from audit.cli import acting_user
    from audit.views import scope_for
    from exports.pack_views import scope_label
    actor = acting_user(db, args.as_user)
    categories = [args.category] if args.category else []
    scope = scope_for(db, actor, unit_code=args.unit, category_codes=categories,
                      stream=args.stream)
    label = scope_label(db, actor, args.lang, unit_code=args.unit, category_codes=categories,
                        stream=args.stream)
    return actor, scope, label


def cmd_report(args) -> int:
    """Write the Word review pack."""
    from audit.cli import Refused, _as_of, _print, open_db
    from exports.pack_service import build_pack
    out = _out_path(args.out, ".docx")
    as_of = _as_of(args.as_of)
    since = _date_arg(args.since, "--since")
    if since is not None and since > as_of:
        raise Refused(f"--since {since} is after --as-of {as_of}")
    from exports.pack_model import PackOptions
    if args.attachments == "unit" and not args.attachment_unit:
        raise Refused("--attachments unit needs --attachment-unit CODE")
    db, _ = open_db(args)
    actor, scope, label = _scope(db, args)
    options = PackOptions(args.attachments, args.attachment_unit)
    result = build_pack(db, scope, out, as_of=as_of, since=since, lang=args.lang, label=label,
                        user=actor.username, on_progress=_progress("report"), options=options)
    data = {k: v for k, v in result.items() if k not in ("table_shapes",)}
    _print(args, data, messages.t("report.done", args.lang, path=result["path"],
                              issues=result["issues"], anchor=result["anchor"],
                              pages_hint=messages.t("report.pages_hint", args.lang,
                                                tables=result["tables"],
                                                pictures=result["pictures"])))
    return 0


def cmd_export(args) -> int:
    """Write the Excel ledger."""
    from audit.cli import _as_of, _print, open_db
    from issues.ledger_service import export_ledger
    out = _out_path(args.out, ".xlsx")
    as_of = _as_of(args.as_of)
    db, _ = open_db(args)
    actor, scope, _ = _scope(db, args)
    result = export_ledger(db, scope, out, as_of=as_of, lang=args.lang,
                           title=messages.t("export.title", args.lang),
                           on_progress=_progress("export"))
    seq, digest = result["anchor"]
    data = {"issues": result["issues"], "path": result["path"], "anchor": f"{seq}:{digest}",
            "truncated": result["truncated"]}
    human = messages.t("export.done", args.lang, n=result["issues"], path=result["path"],
                   anchor=data["anchor"])
    if result["truncated"]:
        human += "\n" + messages.t("export.truncated", args.lang, n=result["truncated"])
    _print(args, data, human)
    return 0


def _scope_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--as-of", dest="as_of", help="data as of this date (default: today)")
    p.add_argument("--unit", help="unit code (with its branches)")
    p.add_argument("--category", help="category code, e.g. C3")
    p.add_argument("--stream", choices=("cleanup", "audit"))
    p.add_argument("--lang", choices=("zh", "en"), default="zh")


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the `report` and `export` commands."""
    p = subparsers.add_parser("report", parents=[common],
                              help="the Word review pack (整改情况汇报) for a scope and date")
    _scope_arguments(p)
    p.add_argument("--since", help="count changes from this date (default: the last review "
                   "meeting before --as-of, else 14 days before)")
    p.add_argument("--attachments", choices=ATTACHMENTS, default="auto",
                   help="what 附件1–3 list: auto (every issue up to 300, else none), none, "
                        "open, overdue, unit (with --attachment-unit), all")
    p.add_argument("--attachment-unit", dest="attachment_unit",
                   help="unit code whose issues (with its branches) the attachments list")
    p.set_defaults(func=cmd_report)
    p = subparsers.add_parser("export", parents=[common],
                              help="the Excel remediation ledger (整改台账)")
    _scope_arguments(p)
    p.set_defaults(func=cmd_export)
