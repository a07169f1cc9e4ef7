"""The command `import FILE`: a field ledger, with --dry-run. Thin: the services decide, this
prints and picks the exit code (0 done, 1 refused with a message naming row, column and value,
2 usage)."""
from __future__ import annotations

import argparse
from pathlib import Path

from audit import cli, time_model
from audit.anchor_format import anchor_in_workbook
from audit.model import LedgerRowError
from audit.store.paths import max_upload_bytes
from audit.store.db import write_transaction
from issues import import_store, store, vocabulary_service
from issues.import_profile_service import find_profile, save_profile
from issues.import_service import apply_import, plan_import
from issues.ledger_format import Vocabulary, parse_mapping_arg, parse_streams
from issues.ledger_read_format import read_ledger


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the import command to the CLI."""
    p = subparsers.add_parser("import", parents=[common], help="import a field ledger (.xlsx/.csv)")
    p.add_argument("file")
    p.add_argument("--stream", help="work stream of rows that name none: cleanup/audit "
                                    "(or 外包专项整治 / 外包专项审计整改)")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="write nothing; report what would change")
    p.add_argument("--map", dest="mapping", default="",
                   help="column mapping 'header=field,…' (empty field: ignore the column)")
    p.add_argument("--answer", action="append", default=[], metavar="KEY=ID",
                   help="answer a question the plan asked (repeatable; ID -1 creates new)")
    p.add_argument("--value", action="append", default=[], metavar="FIELD:WORD=VALUE",
                   help="what a local word means, e.g. 'status:正在推进=in_progress' "
                        "(repeatable)")
    p.add_argument("--create-value", dest="create_value", action="append", default=[],
                   metavar="FIELD=NAME",
                   help="create a focus point or work stream the ledger names and the "
                        "programme lacks, e.g. 'focus=廉洁风险' or 'streams=专项督查' (an audit "
                        "lead only; created in the import's transaction; repeatable)")
    p.add_argument("--profile", default=None, metavar="NAME",
                   help="read with the mapping profile NAME; if none has that name, save "
                        "this import's mapping and answers under it")
    p.add_argument("--accept-rows", dest="accept_rows", default="", metavar="ROWS",
                   help="rows (e.g. 5,7) whose cells changed since the export take the file's "
                        "values (overwriting the newer change)")
    p.add_argument("--accept-cap", dest="accept_cap", default=None, metavar="REASON",
                   help="go past the cap on staged + continuous items that this import's new "
                        "issues and type changes would pass, with this reason (recorded); "
                        "without it such an import is refused")
    p.add_argument("--keep-newer", dest="keep_newer", action="store_true",
                   help="other rows with cells changed since the export keep the newer values "
                        "(the rest of each row is imported)")
    p.add_argument("--overwrite-newer", dest="overwrite_newer", action="store_true",
                   help="every row with cells changed since the export takes the file's values")
    p.set_defaults(func=cmd_import)


def _stream(value: str | None, vocabulary: Vocabulary) -> str | None:
    Refused = cli.Refused
    if not value:
        return None
    if value in vocabulary.stream_codes:
        return value
    try:
        found = parse_streams(value, 0, "--stream", vocabulary)
    except LedgerRowError:
        found = ()
    if len(found) != 1:
        raise Refused(f"--stream: {value!r} is not one work stream (cleanup or audit)")
    return found[0]


def _answers(items: list[str]) -> dict[str, int]:
    Refused = cli.Refused
    out: dict[str, int] = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        try:
            out[key] = int(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise Refused(f"--answer: expected KEY=ID, got {item!r}")
    return out


def _values(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        if not sep or ":" not in key or not value.strip():
            raise cli.Refused(f"--value: expected FIELD:WORD=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _created(items: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in items:
        fld, sep, name = item.partition("=")
        fld = {"stream": "streams", "focus_point": "focus"}.get(fld.strip(), fld.strip())
        if not sep or not name.strip():
            raise cli.Refused(f"--create-value: expected FIELD=NAME, got {item!r}")
        if not vocabulary_service.can_create(fld):
            raise cli.Refused(f"--create-value: {fld!r} cannot be created (only focus and "
                              "streams; statuses, rectification types, warnings and audit "
                              "levels are fixed: map the word with --value)")
        out.append((fld, name.strip()))
    return out


def _choices(args, plan) -> dict[int, str]:
    """Per-row choices for the rows with conflicts, from --accept-rows, --keep-newer and
    --overwrite-newer."""
    Refused = cli.Refused
    accepted: set[int] = set()
    for item in filter(None, (x.strip() for x in args.accept_rows.replace("，", ",").split(","))):
        if not item.isdigit():
            raise Refused(f"--accept-rows: {item!r} is not a row number")
        accepted.add(int(item))
    if args.keep_newer and args.overwrite_newer:
        raise Refused("--keep-newer and --overwrite-newer exclude each other")
    rows = {c.row for c in plan.conflicts}
    unknown = sorted(accepted - rows)
    if unknown:
        raise Refused(f"--accept-rows: row(s) {', '.join(map(str, unknown))} have no cell "
                      "changed since the export")
    default = "file" if args.overwrite_newer else "keep" if args.keep_newer else None
    out = {r: "file" for r in accepted}
    if default:
        out.update({r: default for r in rows - accepted})
    return out


def _conflict_lines(plan) -> str:
    lines = []
    for c in plan.conflicts:
        lines.append(f"row {c.row}, column {c.column!r}: file {c.file_value!r}, now "
                     f"{c.value_now!r} (changed by {c.changed_by} at {c.changed_at})"
                     + ("" if c.choice is None else f" — {c.choice}"))
    return "\n".join(lines)


def _where(parsed, row: int) -> dict:
    """A row's sheet and Excel row in that sheet, when the ledger joined several sheets."""
    sheet, own = parsed.where(row)
    return {"sheet": sheet, "sheet_row": own} if sheet else {}


def _row_text(r: dict) -> str:
    return f"sheet {r['sheet']} row {r['sheet_row']}" if r.get("sheet") else f"row {r['row']}"


def plan_summary(plan) -> dict:
    """The plan as plain data (the --json output and the human report are made from it); a
    row of a workbook of several sheets carries its sheet and its Excel row there."""
    parsed = plan.parsed
    return {
        "file": plan.filename, "counts": plan.counts(),
        "columns": [{"header": m.header, "field": m.field, "confidence": m.confidence,
                     "reason": m.reason, "detail": m.detail} for m in parsed.mappings],
        "kept_columns": list(parsed.unmapped_headers),
        "values": {k: {"value": t, "confidence": c} for k, (t, c) in
                   parsed.value_matches.items()},
        "inferred": dict(parsed.inferred),
        "four_shortfalls": plan.four_shortfalls(),
        "new": [{"kind": n.kind, "label": n.label, "rows": n.rows} for n in plan.new],
        "rows": [{"row": r.excel_row, **_where(parsed, r.excel_row), "action": r.action, "code": r.code, "title": r.title,
                  "unit": r.unit_label,
                  "changes": [{"field": c.field, "old": c.old, "new": c.new}
                              for c in r.changes],
                  "ledger_status": r.ledger_status, "status": r.status_after,
                  "missing": r.missing, "notes": r.notes} for r in plan.rows
                 if r.action != "unchanged" or r.status_short or r.notes],
        "questions": [{"key": a.key, "kind": a.kind, "row": a.rows[0],
                       **_where(parsed, a.rows[0]), "rows": a.rows,
                       "column": a.column, "value": a.value, "reason": a.reason,
                       "choices": [{"id": c, "label": lbl} for c, lbl in a.choices]}
                      for a in plan.unresolved()],
        "skipped": [{"row": r, "reason": why} for r, why in plan.skipped],
        "warnings": plan.warnings,
        "conflicts": [{"row": c.row, "column": c.column, "field": c.field,
                       "file": c.file_value, "now": c.value_now, "changed_by": c.changed_by,
                       "changed_at": c.changed_at, "choice": c.choice}
                      for c in plan.conflicts],
        "anchor": plan.anchor_note or "checked",
        "cap": None if plan.cap is None else {
            "before": {"long": plan.cap[0].long, "total": plan.cap[0].total},
            "after": {"long": plan.cap[1].long, "total": plan.cap[1].total},
            "cap_percent": round(float(plan.cap[1].cap) * 100)},
        "deadline_misfits": [{"row": row, **_where(parsed, row), "code": code,
                              "measure": title, "deadline": day, "issue_deadline": due}
                             for row, code, title, day, due in plan.deadline_misfits()],
    }


def _human(summary: dict, dry_run: bool) -> str:
    c = summary["counts"]
    lines = [f"{'预演 / dry run' if dry_run else '导入 / import'} {summary['file']}: "
             f"{c['rows']} rows — create {c['create']}, update {c['update']}, "
             f"unchanged {c['unchanged']}"]
    for col in summary["columns"]:
        lines.append(f"  column {col['header']!r} → {col['field'] or '(kept as extra)'} "
                     f"({col['confidence']:.2f}, {col['reason']}{': ' + col['detail'] if col['detail'] else ''})")
    for key, v in summary["values"].items():
        lines.append(f"  value {key} → {v['value']} ({v['confidence']:.2f})")
    for what, n in summary["inferred"].items():
        lines.append(f"  inferred {what} on {n} rows")
    if "four_met" in c:
        lines.append(f"  四个到人: {c['four_met']} of {c['create']} new issues meet it"
                     + ("; missing " + ", ".join(f"{k} ×{n}" for k, n in
                                                 summary["four_shortfalls"].items())
                        if summary["four_shortfalls"] else ""))
    for n in summary["new"]:
        lines.append(f"  new {n['kind']}: {n['label']} (rows {', '.join(map(str, n['rows'][:5]))}"
                     f"{'…' if len(n['rows']) > 5 else ''})")
    for r in summary["rows"]:
        head = f"  {_row_text(r)} {r['action']} {r['code']} {r['title'][:30]}"
        lines.append(head)
        for ch in r["changes"][:12]:
            lines.append(f"      {ch['field']}: {ch['old']!r} → {ch['new']!r}")
        if r["missing"]:
            lines.append(f"      status: ledger {r['ledger_status']}, reaches {r['status']}; "
                         f"missing {', '.join(r['missing'])}")
        for note in r["notes"]:
            lines.append(f"      not applied: {note}")
    for w in summary["warnings"]:
        lines.append(f"  warning: {w}")
    for c in summary["conflicts"]:
        lines.append(f"  changed since the export: row {c['row']}, column {c['column']!r}: "
                     f"file {c['file']!r}, now {c['now']!r} (by {c['changed_by']} at "
                     f"{c['changed_at']})" + (f" — {c['choice']}" if c["choice"] else ""))
    if summary["cap"]:
        lines.append(f"  warning: {_cap_text(summary['cap'])}")
    for m in summary["deadline_misfits"]:
        lines.append(f"  warning: {_row_text(m)} {m['code']}: measure {m['measure'][:30]!r} is "
                     f"due {m['deadline']}, after the issue's deadline {m['issue_deadline']} "
                     "(importing accepts it, the row recorded as the reason)")
    if summary["anchor"] == "none":
        lines.append("  note: the file carries no export anchor; changes made since it was "
                     "filled in cannot be told apart")
    elif summary["anchor"] == "foreign":
        lines.append("  note: the file's export anchor is not of this database")
    return "\n".join(lines)


def _cap_text(cap: dict) -> str:
    b, a = cap["before"], cap["after"]
    return (f"staged + continuous items would go from {b['long']} of {b['total']} "
            f"({b['long'] / b['total'] if b['total'] else 0:.0%}) to {a['long']} of "
            f"{a['total']} ({a['long'] / a['total']:.0%}), above the cap of "
            f"{cap['cap_percent']}%")


def _question_lines(summary: dict) -> str:
    lines = []
    for q in summary["questions"]:
        if q["kind"] in ("column", "value"):
            lines.append(f"{_row_text(q)}, column {q['column']!r}, value {q['value']!r}: "
                         f"{q['reason']}")
            continue
        choices = "; ".join(f"{c['id']}={c['label']}" for c in q["choices"][:12])
        lines.append(f"{_row_text(q)}, column {q['column']!r}, value {q['value']!r}: "
                     f"{q['reason']} — answer with --answer '{q['key']}=ID' ({choices})")
    return "\n".join(lines)


def cmd_import(args) -> int:
    Refused, _print, acting_user, open_db = cli.Refused, cli._print, cli.acting_user, cli.open_db
    _progress_printer = cli._progress_printer
    path = Path(args.file)
    if not path.is_file():
        raise Refused(f"{args.file}: no such file")
    limit = max_upload_bytes()
    if path.stat().st_size > limit:
        raise Refused(f"{args.file}: the file is {path.stat().st_size:,} bytes; the limit is "
                      f"{limit:,}")
    answers = _answers(args.answer)
    values = _values(args.value)
    mapping = parse_mapping_arg(args.mapping) if args.mapping else None
    creating = _created(args.create_value)
    db, _ = open_db(args)
    if creating:
        # The values are created in the import's own transaction: they stand or fall with it
        # (a refused row or an open question leaves the database as it was).
        at = time_model.now_text()
        actor = acting_user(db, args.as_user)
        try:
            with write_transaction(db):
                for fld, name in creating:
                    vocabulary_service.create_value(db, actor, fld, name, at=at)
                code = _import(args, db, answers, values, mapping, limit, path)
                if args.dry_run:
                    raise _DryRun(code)
        except _DryRun as done:
            return done.code
        return code
    return _import(args, db, answers, values, mapping, limit, path)


class _DryRun(Exception):
    """Rolls back the values a dry run created to plan with."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _import(args, db, answers: dict[str, int], values: dict[str, str],
            mapping: dict[str, str] | None, limit: int, path: Path) -> int:
    Refused, _print, acting_user = cli.Refused, cli._print, cli.acting_user
    _progress_printer = cli._progress_printer
    vocabulary = store.ledger_vocabulary(db)
    stream = _stream(args.stream, vocabulary)
    profile = find_profile(db, name=args.profile) if args.profile else None
    if profile:
        values = {**profile["value_answers"], **values}
    # Parse before anything writes: the write lock stays short.
    progress = _progress_printer("import")
    data = path.read_bytes()
    parsed = read_ledger(data, path.name, vocabulary=vocabulary, mapping=mapping,
                         names=import_store.known_names(db),
                         max_bytes=limit, values=values,
                         profile=profile["mapping"] if profile else None,
                         on_progress=lambda stage, done, total: progress(done, total, stage))
    actor = acting_user(db, args.as_user)
    parsed.anchor = anchor_in_workbook(data)
    plan = plan_import(db, actor, parsed, stream, filename=path.name, resolutions=answers)
    choices = _choices(args, plan)
    if choices:
        plan = plan_import(db, actor, parsed, stream, filename=path.name, resolutions=answers,
                           choices=choices)
    summary = plan_summary(plan)
    if plan.unresolved():
        _print(args, summary, _human(summary, True))
        raise Refused("the ledger leaves questions open:\n" + _question_lines(summary))
    if plan.undecided_conflicts() and not args.dry_run:
        _print(args, summary, _human(summary, True))
        raise Refused("the ledger would overwrite changes made after it was exported "
                      "(nothing imported):\n" + _conflict_lines(plan) + "\nchoose with "
                      "--accept-rows ROWS (take the file's values), --keep-newer or "
                      "--overwrite-newer")
    if args.dry_run:
        _print(args, summary, _human(summary, True))
        return 0
    accept_cap = (args.accept_cap or "").strip() or None
    if plan.cap is not None and accept_cap is None:
        _print(args, summary, _human(summary, True))
        raise Refused(f"the import passes the cap (nothing imported): {_cap_text(summary['cap'])}"
                      "\ngo past it with --accept-cap REASON (recorded)")
    at = time_model.now_text()
    result = apply_import(db, actor, plan, at, accept_cap=accept_cap,
                          on_progress=lambda stage, done, total: progress(done, total, stage))
    if args.profile and not profile:
        save_profile(db, actor, args.profile, parsed, values, at)
    summary = plan_summary(result.plan)
    summary["history_records"] = result.history_records
    codes = import_store.issue_codes_of(db, [i for pair in result.recurrences.items()
                                             for i in (pair[0], pair[1][0])])
    summary["recurrences"] = [{"issue": codes[new], "earlier": codes[earlier],
                               "score": round(score, 3)}
                              for new, (earlier, score) in sorted(result.recurrences.items())]
    flagged = "".join(f"\n  possible recurrence to confirm (验收): {r['issue']} repeats "
                      f"{r['earlier']} (score {r['score']:.2f})" for r in summary["recurrences"])
    _print(args, summary, _human(summary, False) + flagged
           + f"\n已导入 / imported: {result.history_records} history records written")
    return 0
