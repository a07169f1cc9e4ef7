"""Commands: `duplicates` (likely duplicates across the work streams and years), `merge` (a
cluster, or --into CODE --from CODE…) and `unmerge --merge ID`. Thin: the services decide, this
prints and picks the exit code (0 done, 1 refused, 2 usage)."""
from __future__ import annotations

import argparse

from audit import cli, time_model


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the duplicates, merge and unmerge commands to the CLI."""
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
    from issues.duplicates_views import (
        DEFAULT_THRESHOLD,
        cluster_by_number,
        find_duplicates,
    )
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
    codes = store.codes_by_issue_id(db, ids)
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
