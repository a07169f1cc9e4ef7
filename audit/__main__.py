"""The command line: `python -m audit COMMAND …`. A thin shell over the services: it reads the
clock, picks the acting user, and turns refusals into messages. Exit codes: 0 success,
1 refused input (the message names what is wrong), 2 usage."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from audit import calendar_service, time_model
from audit.cli import Refused, _as_of, _print, _progress_printer, acting_user, open_db
from audit.model import AuditError
from audit.store import history
from audit.store.paths import database_path, evidence_dir
from exports import cli as exports_cli
from exports import remind_cli
from issues import graphs_cli, import_cli, merge_cli

# Modules that add their own commands: each has register(subparsers, common) and the handlers
# it sets with set_defaults(func=...).
COMMAND_MODULES = (import_cli, merge_cli, graphs_cli, exports_cli, remind_cli)


# --- commands ---------------------------------------------------------------------------------


def cmd_init(args) -> int:
    path = database_path(args.db)
    if path.exists() and path.stat().st_size > 0:
        from audit.store.db import open_database
        db = open_database(path)
        if db.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
            raise Refused(f"--db: {path} already holds a programme; choose a new path")
    if args.demo:
        from audit.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, build_demo
        from audit.store.db import open_database
        db = open_database(path)
        summary = build_demo(db, as_of=_as_of(args.as_of), seed=args.seed,
                             evidence_root=evidence_dir(path))
        print(f"演示数据已创建 / demo programme created: {path} "
              f"({summary['issues']} issues)")
        print("演示账号 / demo accounts (password " + DEMO_PASSWORD + "):")
        for username, role, unit, display in DEMO_ACCOUNTS:
            print(f"  {username:<8} {role:<10} {unit or '全区 region':<10} {display}")
        return 0
    password = os.environ.get("AUDIT_ADMIN_PASSWORD")
    if not password:
        if sys.stdin.isatty():
            password = getpass.getpass("管理员密码 / admin password: ")
            if password != getpass.getpass("再次输入 / again: "):
                raise Refused("the two passwords differ")
        else:
            raise Refused("no admin password: set AUDIT_ADMIN_PASSWORD or run at a terminal")
    from audit import accounts_service
    from audit.demo import CITIES, REGION
    from audit.store.db import open_database
    from owners import service as owners
    db = open_database(path)
    at = time_model.now_text()
    today = time_model.today()
    accounts_service.create_user(db, None, args.admin, password, "admin", at=at)  # validates first
    calendar_service.seed_calendar(db, range(today.year - 3, today.year + 2), at=at)
    owners.create_unit(db, None, code=REGION[0], name=REGION[1], level="region", at=at)
    for code, name, _ in CITIES:
        owners.create_unit(db, None, code=code, name=name, level="city", parent_code=REGION[0],
                           at=at)
    print(f"已创建 / created {path}; administrator {args.admin!r}")
    return 0


def cmd_summary(args) -> int:
    from audit.views import FIGURE_KEYS, figures, scope_for
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    scope = scope_for(db, actor, unit_code=args.unit,
                      category_codes=[args.category] if args.category else [],
                      stream=args.stream, focus=args.focus)
    figs = figures(db, scope, _as_of(args.as_of))
    data = {k: figs[k] for k in FIGURE_KEYS}

    def pct(x):
        return "—" if x is None else f"{x * 100:.1f}%"
    human = (f"截至 {data['as_of']}{'（' + args.unit + '）' if args.unit else ''}：问题 "
             f"{data['issues']} 个（{data['categories']} 大类 {data['aspects']} 方面），"
             f"已销号 {data['closed']}，特殊原因终结 {data['ended']}，整改率 "
             f"{pct(data['closure_rate'])}，按期整改率 {pct(data['on_time_rate'])}，逾期 "
             f"{data['overdue']}，临期 {data['due_soon']}，四个到人 "
             f"{pct(data['fully_assigned_rate'])}，涉及金额 {data['amount_involved']:,.2f} 元，"
             f"已整改金额 {data['amount_rectified']:,.2f} 元")
    _print(args, data, human)
    return 0


def cmd_verify(args) -> int:
    db, path = open_db(args)
    expected = None
    if args.anchor:
        try:
            seq, digest = args.anchor.split(":", 1)
            expected = (int(seq), digest)
        except ValueError:
            raise Refused("--anchor: expected SEQ:HASH") from None
    result = history.verify(db, expected)
    data = {"ok": result.ok, "records": result.records, "integrity": result.integrity,
            "first_bad_seq": result.first_bad_seq, "problem": result.problem,
            "anchor": f"{result.anchor[0]}:{result.anchor[1]}" if result.anchor else None}
    if result.ok:
        _print(args, data, f"OK: integrity ok, {result.records} history records chained; "
                           f"anchor {data['anchor']}")
        return 0
    _print(args, data, f"FAILED: {result.problem}")
    return 1


def cmd_backup(args) -> int:
    from audit.backup_service import online_backup
    db, path = open_db(args)
    actor = acting_user(db, args.as_user)
    manifest = online_backup(db, actor, Path(args.out), evidence_root=evidence_dir(path),
                             at=time_model.now_text())
    _print(args, manifest, f"备份完成 / backup written: {args.out}\n"
                           f"anchor {manifest['anchor']}  ({manifest['history_records']} records)")
    return 0


def cmd_restore(args) -> int:
    from audit.backup_service import restore_backup
    manifest = restore_backup(Path(args.source), database_path(args.db))
    _print(args, manifest, f"已恢复 / restored {args.source} → {database_path(args.db)}; "
                           f"verified, anchor {manifest['anchor']}")
    return 0


def cmd_generate(args) -> int:
    from audit.generate import generate
    path = database_path(args.db)
    if path.exists():
        raise Refused(f"--db: {path} exists; generate writes a new database")
    if args.issues < 1:
        raise Refused("--issues: must be at least 1")
    from audit.store.db import open_database
    db = open_database(path)
    progress = _progress_printer("generate")
    result = generate(db, issues=args.issues, seed=args.seed, as_of=_as_of(args.as_of),
                      evidence_root=evidence_dir(path), on_progress=progress)
    _print(args, result, f"generated {result['issues']} issues, {result['measures']} measures "
                         f"into {path}")
    return 0


def cmd_users_add(args) -> int:
    from audit import accounts_service
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    password = os.environ.get("AUDIT_NEW_PASSWORD")
    if not password:
        if sys.stdin.isatty():
            password = getpass.getpass(f"{args.name} 的密码 / password: ")
        else:
            raise Refused("no password: set AUDIT_NEW_PASSWORD or run at a terminal")
    person_id = None
    if args.person:
        found = db.conn.execute("SELECT id FROM people WHERE name = ?", (args.person,)).fetchall()
        if len(found) != 1:
            raise Refused(f"--person: {len(found)} people named {args.person!r}; need exactly one")
        person_id = found[0][0]
    uid = accounts_service.create_user(db, actor, args.name, password, args.role, unit_code=args.unit,
                            person_id=person_id, at=time_model.now_text())
    print(f"已创建用户 / user created: {args.name} (id {uid}, {args.role})")
    return 0


def cmd_users_list(args) -> int:
    from audit import accounts_service
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    listing = accounts_service.list_users(db, actor)
    rows = [{k: u.get(k) for k in ("username", "role", "unit_id", "active")} for u in listing]
    _print(args, {"users": rows}, "\n".join(
        f"{u['username']:<12} {u['role']:<10} unit={u['unit_id']} active={u['active']}"
        for u in rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="database file (default: $AUDIT_DB or data/tracker.db)")
    common.add_argument("--as-user", dest="as_user", help="act as this user (default: admin)")
    common.add_argument("--json", action="store_true", help="print JSON")
    parser = argparse.ArgumentParser(prog="python -m audit",
                                     description="审计整改台账系统 audit remediation tracker")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", parents=[common], help="create a database")
    p.add_argument("--demo", action="store_true", help="fill it with the demo programme")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--as-of", dest="as_of", help="build the demo as of this date")
    p.add_argument("--admin", default="admin", help="administrator name (without --demo)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("summary", parents=[common], help="the figures as of a date")
    p.add_argument("--as-of", dest="as_of")
    p.add_argument("--unit")
    p.add_argument("--category")
    p.add_argument("--stream", choices=("cleanup", "audit"))
    p.add_argument("--focus")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("verify", parents=[common], help="check integrity and the history chain")
    p.add_argument("--anchor", help="SEQ:HASH from an export or backup manifest")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("backup", parents=[common], help="online backup, safe while in use")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[common], help="restore a verified backup")
    p.add_argument("source")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("generate", parents=[common], help="synthetic programme for benchmarks")
    p.add_argument("--issues", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--as-of", dest="as_of")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("users", help="user accounts")
    usub = p.add_subparsers(dest="users_command", required=True)
    q = usub.add_parser("add", parents=[common], help="add a user (password from "
                                                      "$AUDIT_NEW_PASSWORD or the terminal)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("admin", "lead", "rectifier", "manager"))
    q.add_argument("--unit", help="unit code of the user's scope")
    q.add_argument("--person", help="the person (by name) this account acts as")
    q.set_defaults(func=cmd_users_add)
    q = usub.add_parser("list", parents=[common], help="list users")
    q.set_defaults(func=cmd_users_list)

    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Refused as ex:
        print(f"错误 / error: {ex}", file=sys.stderr)
        return 1
    except AuditError as ex:
        print(f"错误 / error: {ex}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
