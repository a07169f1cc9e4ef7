"""Commands: `import FILE` (a field ledger, with --dry-run), `duplicates` (likely duplicates
across the work streams and years), `merge` (a cluster, or --into CODE --from CODE…) and
`unmerge --merge ID`. Thin: the services decide, this prints and picks the exit code
(0 done, 1 refused with a message naming row, column and value, 2 usage)."""
from __future__ import annotations

import argparse
from pathlib import Path

from audit import cli, time_model
from audit.model import LedgerRowError
from audit.store.paths import max_upload_bytes


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the import and merge commands to the CLI."""
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
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("duplicates", parents=[common],
                              help="list likely duplicate clusters")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--across", action="store_true",
                   help="compare across units and categories (屡审屡犯, 共性问题), not only "
                        "within one category and city")
    p.set_defaults(func=cmd_duplicates)

    p = subparsers.add_parser("merge", parents=[common],
                              help="merge a duplicate cluster, or issues by code")
    p.add_argument("--cluster", type=int, help="cluster number from `duplicates`")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--across", action="store_true",
                   help="the cluster number is from `duplicates --across`")
    p.add_argument("--into", help="code of the issue to keep")
    p.add_argument("--from", dest="from_codes", nargs="+", default=[],
                   help="codes of the issues merged into it")
    p.add_argument("--reject", action="store_true",
                   help="record that the cluster is NOT one finding (never proposed again)")
    p.set_defaults(func=cmd_merge)

    p = subparsers.add_parser("unmerge", parents=[common], help="undo a merge")
    p.add_argument("--merge", dest="merge_id", type=int, required=True)
    p.set_defaults(func=cmd_unmerge)


def _stream(value: str | None) -> str | None:
    Refused = cli.Refused
    from issues.ledger import STREAMS, parse_streams
    if not value:
        return None
    if value in STREAMS:
        return value
    try:
        found = parse_streams(value, 0, "--stream")
    except LedgerRowError:
        found = ()
    if len(found) != 1:
        raise Refused(f"--stream: {value!r} is not one work stream (cleanup or audit)")
    return found[0]


def _answers(items: list[str]) -> dict[str, int]:
    Refused = cli.Refused
    out = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        try:
            out[key] = int(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise Refused(f"--answer: expected KEY=ID, got {item!r}")
    return out


def plan_summary(plan) -> dict:
    """The plan as plain data (the --json output and the human report are made from it)."""
    return {
        "file": plan.filename, "counts": plan.counts(),
        "new": [{"kind": n.kind, "label": n.label, "rows": n.rows} for n in plan.new],
        "rows": [{"row": r.excel_row, "action": r.action, "code": r.code, "title": r.title,
                  "unit": r.unit_label,
                  "changes": [{"field": c.field, "old": c.old, "new": c.new}
                              for c in r.changes],
                  "ledger_status": r.ledger_status, "status": r.status_after,
                  "missing": r.missing, "notes": r.notes} for r in plan.rows
                 if r.action != "unchanged" or r.status_short or r.notes],
        "questions": [{"key": a.key, "kind": a.kind, "row": a.rows[0], "rows": a.rows,
                       "column": a.column, "value": a.value, "reason": a.reason,
                       "choices": [{"id": c, "label": lbl} for c, lbl in a.choices]}
                      for a in plan.unresolved()],
        "skipped": [{"row": r, "reason": why} for r, why in plan.skipped],
        "warnings": plan.warnings,
    }


def _human(summary: dict, dry_run: bool) -> str:
    c = summary["counts"]
    lines = [f"{'预演 / dry run' if dry_run else '导入 / import'} {summary['file']}: "
             f"{c['rows']} rows — create {c['create']}, update {c['update']}, "
             f"unchanged {c['unchanged']}"]
    for n in summary["new"]:
        lines.append(f"  new {n['kind']}: {n['label']} (rows {', '.join(map(str, n['rows'][:5]))}"
                     f"{'…' if len(n['rows']) > 5 else ''})")
    for r in summary["rows"]:
        head = f"  row {r['row']} {r['action']} {r['code']} {r['title'][:30]}"
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
    return "\n".join(lines)


def _question_lines(summary: dict) -> str:
    lines = []
    for q in summary["questions"]:
        choices = "; ".join(f"{c['id']}={c['label']}" for c in q["choices"][:12])
        lines.append(f"row {q['row']}, column {q['column']!r}, value {q['value']!r}: "
                     f"{q['reason']} — answer with --answer '{q['key']}=ID' ({choices})")
    return "\n".join(lines)


def cmd_import(args) -> int:
    Refused, _print, acting_user, open_db = cli.Refused, cli._print, cli.acting_user, cli.open_db
    _progress_printer = cli._progress_printer
    from issues.importer import apply_import, plan_import
    from issues.ledger import parse_mapping_arg, read_ledger
    path = Path(args.file)
    if not path.is_file():
        raise Refused(f"{args.file}: no such file")
    limit = max_upload_bytes()
    if path.stat().st_size > limit:
        raise Refused(f"{args.file}: the file is {path.stat().st_size:,} bytes; the limit is "
                      f"{limit:,}")
    stream = _stream(args.stream)
    answers = _answers(args.answer)
    mapping = parse_mapping_arg(args.mapping) if args.mapping else None
    # Parse before opening the database for writing: the write lock stays short.
    progress = _progress_printer("import")
    parsed = read_ledger(path.read_bytes(), path.name, mapping=mapping, max_bytes=limit,
                         on_progress=lambda stage, done, total: progress(done, total, stage))
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    plan = plan_import(db, actor, parsed, stream, filename=path.name, resolutions=answers)
    summary = plan_summary(plan)
    if plan.unresolved():
        _print(args, summary, _human(summary, True))
        raise Refused("the ledger leaves questions open:\n" + _question_lines(summary))
    if args.dry_run:
        _print(args, summary, _human(summary, True))
        return 0
    result = apply_import(db, actor, plan, time_model.now_text(),
                          on_progress=lambda stage, done, total: progress(done, total, stage))
    summary = plan_summary(result.plan)
    summary["history_records"] = result.history_records
    _print(args, summary, _human(summary, False)
           + f"\n已导入 / imported: {result.history_records} history records written")
    return 0


def _cluster_data(c) -> dict:
    return {"number": c.number, "issues": [{k: i[k] for k in ("id", "code", "title",
                                                               "unit_name", "status",
                                                               "streams", "years")}
                                           for i in c.issues],
            "suggested_survivor": c.suggested_survivor, "recurring": c.recurring,
            "cross_stream": c.cross_stream,
            "pairs": [{"a": p.a, "b": p.b, "score": p.score, "text_score": p.text_score,
                       "shared": list(p.shared), "same_unit": p.same_unit,
                       "same_city": p.same_city, "same_category": p.same_category}
                      for p in c.pairs]}


def cmd_duplicates(args) -> int:
    _print, open_db = cli._print, cli.open_db
    from issues.duplicates_views import DEFAULT_THRESHOLD, find_duplicates
    db, _ = open_db(args)
    clusters = find_duplicates(db, threshold=args.threshold or DEFAULT_THRESHOLD,
                               across=args.across)
    lines = []
    for c in clusters:
        flags = (" 屡审屡犯" if c.recurring else "") + (" 两组均发现" if c.cross_stream else "")
        lines.append(f"[{c.number}] best {c.best:.2f}{flags}")
        for i in c.issues:
            mark = "*" if i["id"] == c.suggested_survivor else " "
            lines.append(f"   {mark} {i['code']} {i['title'][:40]} · {i['unit_name']} · "
                         f"{i['status']} · {'/'.join(i['streams'])} · "
                         f"{','.join(map(str, i['years']))}")
        for p in c.pairs[:3]:
            where = "".join(("" if p.same_unit else " 跨单位",
                             "" if p.same_category else " 跨大类"))
            lines.append(f"     {p.a}~{p.b} {p.score:.2f}{where} shared "
                         f"{' '.join(p.shared[:8])}")
    _print(args, {"clusters": [_cluster_data(c) for c in clusters]},
           "\n".join(lines) or "没有疑似重复 / no likely duplicates")
    return 0


def cmd_merge(args) -> int:
    Refused, _print, acting_user, open_db = cli.Refused, cli._print, cli.acting_user, cli.open_db
    from issues import store
    from issues.duplicates_views import DEFAULT_THRESHOLD, cluster_by_number, find_duplicates
    from issues.merge_service import confirm_cluster, reject_cluster
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    at = time_model.now_text()

    def issue_id(code: str) -> int:
        row = store.issue_by_code(db, code)
        if row is None:
            raise Refused(f"no issue with code {code!r}")
        return row["id"]

    if args.cluster is not None:
        if args.from_codes:
            raise Refused("--cluster and --from exclude each other")
        cluster = cluster_by_number(find_duplicates(
            db, threshold=args.threshold or DEFAULT_THRESHOLD, across=args.across), args.cluster)
        if args.reject:
            n = reject_cluster(db, actor, cluster, at)
            _print(args, {"rejected_pairs": n}, f"已记录不是重复 / rejected: {n} pairs")
            return 0
        survivor = issue_id(args.into) if args.into else cluster.suggested_survivor
        ids = cluster.issue_ids
    else:
        if not args.into or not args.from_codes:
            raise Refused("name --cluster N, or --into CODE with --from CODE …")
        if args.reject:
            raise Refused("--reject needs --cluster")
        survivor = issue_id(args.into)
        ids = [survivor] + [issue_id(c) for c in args.from_codes]
    merge_ids = confirm_cluster(db, actor, ids, survivor, at)
    codes = {r[0]: r[1] for r in db.conn.execute(
        f"SELECT id, code FROM issues WHERE id IN ({','.join('?' * len(ids))})", ids)}
    _print(args, {"survivor": codes[survivor], "merges": merge_ids},
           f"已合并 / merged into {codes[survivor]}: "
           + ", ".join(f"{codes[i]} (merge {m})" for i, m in
                       zip([i for i in sorted(ids) if i != survivor], merge_ids)))
    return 0


def cmd_unmerge(args) -> int:
    _print, acting_user, open_db = cli._print, cli.acting_user, cli.open_db
    from issues.merge_service import undo_merge
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    undo_merge(db, actor, args.merge_id, at=time_model.now_text())
    _print(args, {"undone": args.merge_id}, f"已撤销合并 / merge {args.merge_id} undone")
    return 0
