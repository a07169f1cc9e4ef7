"""The command line: `python -m audit COMMAND …`. A thin shell over the services: it reads the
clock, picks the acting user, and turns refusals into messages. Exit codes: 0 success,
1 refused input (the message names what is wrong), 2 usage."""
from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
from pathlib import Path

from audit import calendar_service, time_model
from audit.cli import (
    Refused,
    _as_of,
    _print,
    _progress_printer,
    acting_user,
    check_database_file,
    check_readable_file,
    open_database_arg,
    open_db,
)
from audit.model import AuditError, ValidationFailed
from audit.store import history, keys
from audit.store.paths import database_path, evidence_dir, history_key_path
from exports import cli as exports_cli
from exports import remind_cli
from issues import graphs_cli, import_cli, merge_cli

# Modules that add their own commands: each has register(subparsers, common) and the handlers
# it sets with set_defaults(func=...).
COMMAND_MODULES = (import_cli, merge_cli, graphs_cli, exports_cli, remind_cli)


# --- commands ---------------------------------------------------------------------------------


def _key_line(path: Path) -> str:
    """Where the new database's history key is, for init and generate to print."""
    if os.environ.get(keys.ENV):
        return f"历史密钥 / history key: ${keys.ENV} (keep it apart from the backups)"
    return (f"历史密钥 / history key: {history_key_path(path)} — keep a copy apart from the "
            "database and its backups (README, 'The history key')")


def _new_database(args):
    """Open --db for init: a new file, or an empty one; refused when it holds a programme."""
    path = database_path(args.db)
    db = open_database_arg(path, "--db", must_exist=False)
    if history.anchor(db)[0]:
        db.conn.close()
        raise Refused(f"--db: {path} already holds a programme; choose a new path")
    keys.use_key(db, keys.configured_key(path) or keys.ensure_key_file(path))
    return db, path


def cmd_init(args) -> int:
    as_of = _as_of(args.as_of)
    if args.demo:
        from audit.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, build_demo
        db, path = _new_database(args)
        summary = build_demo(db, as_of=as_of, seed=args.seed, evidence_root=evidence_dir(path))
        print(f"演示数据已创建 / demo programme created: {path} "
              f"({summary['issues']} issues)")
        print("演示账号 / demo accounts (password " + DEMO_PASSWORD + "):")
        for username, role, unit, display in DEMO_ACCOUNTS:
            print(f"  {username:<8} {role:<10} {unit or '全区 region':<10} {display}")
        print(_key_line(path))
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
    from owners import service as owners
    db, path = _new_database(args)
    at = time_model.now_text()
    today = time_model.today()
    accounts_service.create_user(db, None, args.admin, password, "admin", at=at)  # validates first
    calendar_service.seed_calendar(db, range(today.year - 3, today.year + 2), at=at)
    owners.create_unit(db, None, code=REGION[0], name=REGION[1], level="region", at=at)
    for code, name, _ in CITIES:
        owners.create_unit(db, None, code=code, name=name, level="city", parent_code=REGION[0],
                           at=at)
    print(f"已创建 / created {path}; administrator {args.admin!r}")
    print(_key_line(path))
    return 0


def cmd_summary(args) -> int:
    from audit.views import CURRENT, FIGURE_KEYS, RECORDED, classification_note, figures, scope_for
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    classification = CURRENT if args.current_classification else RECORDED
    scope = scope_for(db, actor, unit_code=args.unit,
                      category_codes=[args.category] if args.category else [],
                      stream=args.stream, focus=args.focus, classification=classification)
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
    note = classification_note(scope, "zh")
    if note:
        human += f"\n（{note}）"
        data = {**data, "classification": classification}
    _print(args, data, human)
    return 0


def _key_arg(args) -> bytes | None | object:
    """The history key --key-file names, else the configured one (history.CONFIGURED)."""
    if not getattr(args, "key_file", None):
        return history.CONFIGURED
    path = Path(args.key_file)
    check_readable_file(path, "--key-file")
    try:
        return keys.read_key_file(path)
    except keys.KeyUnusable:
        raise Refused(f"--key-file: {path} does not hold a history key (64 hexadecimal "
                      "characters)") from None


def cmd_verify(args) -> int:
    from audit.anchor_format import anchor_from_document, parse_anchor
    from audit.verify_views import verify_database
    anchors = [parse_anchor(text, "--anchor") for text in args.anchor]
    for doc in args.against:
        check_readable_file(Path(doc), "--against")
        anchors.append(anchor_from_document(Path(doc), "--against"))
    key = _key_arg(args)
    db, path = open_db(args, readonly=True)
    if args.evidence:
        root = Path(args.evidence)
        if not root.is_dir():
            raise Refused(f"--evidence: no folder at {root}")
    else:
        root = evidence_dir(path)
    report = verify_database(db, anchors=anchors, key=key, evidence_root=root,
                             quick=args.quick)
    data = report.as_dict()
    chain = report.chain
    if report.ok:
        parts = [f"integrity ok, {chain.records} history records chained"
                 + (f" (signed from record {chain.keyed_from}, key {chain.key_id})"
                    if chain.keyed_from else "")]
        if report.tables is not None:
            parts.append(f"live tables equal history ({report.tables.rows} rows, "
                         f"{report.tables.values} values)")
        if report.evidence is not None:
            parts.append(f"{report.evidence.files} evidence files match their SHA-256")
        elif args.quick:
            parts.append("evidence files not read (--quick)")
        if anchors:
            parts.append(f"{len(anchors)} anchor(s) held")
        human = "OK: " + "; ".join(parts) + f"; anchor {data['anchor']}"
        human += "".join(f"\nwarning: {w}" for w in chain.warnings)
        _print(args, data, human)
        return 0
    _print(args, data, f"FAILED: {report.problem}")
    return 1


def cmd_key(args) -> int:
    """Key the history of a database made before keys existed (or show its key's id)."""
    db, path = open_db(args)
    keyed = history.chain_key_id(db)
    if keyed is None:
        from audit.store.db import write_transaction
        with write_transaction(db):
            history.append(db, at=time_model.now_text(), actor_id=None, actor="system",
                           op=history.new_op(), action=history.KEY_ACTION, changes=[])
        keyed = history.chain_key_id(db)
        state = "keyed now"
    else:
        key = keys.key_for(db)
        if key is None:
            raise history.key_missing(db, keyed[1])
        if keys.key_id(key) != keyed[1]:
            raise Refused(f"history is signed with key {keyed[1]}, but the key configured is "
                          f"{keys.key_id(key)}")
        state = "already keyed"
    where = (f"${keys.ENV}" if os.environ.get(keys.ENV) else str(history_key_path(path)))
    data = {"keyed_from": keyed[0], "key_id": keyed[1], "key": where, "state": state}
    _print(args, data, f"{state}: history signed from record {keyed[0]} with key {keyed[1]} "
                       f"({where}); keep a copy of the key apart from the backups")
    return 0


def cmd_backup(args) -> int:
    from audit.backup_service import online_backup
    db, path = open_db(args)
    actor = acting_user(db, args.as_user)
    manifest = online_backup(db, actor, Path(args.out), evidence_root=evidence_dir(path),
                             at=time_model.now_text())
    _print(args, manifest, f"备份完成 / backup written: {args.out}\n"
                           f"anchor {manifest['anchor']}  ({manifest['history_records']} records"
                           f", key {manifest['history_key_id'] or 'none'}; the key is not in "
                           "the backup: keep it apart)")
    return 0


def cmd_restore(args) -> int:
    from audit.backup_service import restore_backup
    source, target = Path(args.source), database_path(args.db)
    if target.is_dir():
        raise Refused(f"--db: {target} is a folder; name the new database file")
    key = _key_arg(args)
    manifest = restore_backup(source, target, key=None if key is history.CONFIGURED else key,
                              no_manifest=args.no_manifest)
    human = (f"已恢复 / restored {source} → {target}; verified ("
             + ", ".join(manifest["checked"]) + f"), anchor {manifest['anchor']}")
    if manifest["not_checked"]:
        human += "\nnot checked: " + "; ".join(manifest["not_checked"])
    _print(args, manifest, human)
    return 0


def cmd_generate(args) -> int:
    from audit.generate import generate
    path = database_path(args.db)
    if path.exists() or path.is_symlink():
        raise Refused(f"--db: {path} exists; generate writes a new database")
    if args.issues < 1:
        raise Refused("--issues: must be at least 1")
    as_of = _as_of(args.as_of)
    db = open_database_arg(path, "--db", must_exist=False)
    keys.use_key(db, keys.configured_key(path) or keys.ensure_key_file(path))
    progress = _progress_printer("generate")
    result = generate(db, issues=args.issues, seed=args.seed, as_of=as_of,
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
    rows = [{k: u.get(k) for k in ("username", "role", "unit_code", "active")}
            for u in listing]
    _print(args, {"users": rows}, "\n".join(
        f"{u['username']:<12} {u['role']:<10} unit={u['unit_code'] or '—'} "
        f"active={u['active']}" for u in rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="database file (default: $AUDIT_DB, else data/tracker.db "
                                     "in the project folder)")
    common.add_argument("--as-user", dest="as_user",
                        help="act as this user (default: the first active administrator)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser = argparse.ArgumentParser(prog="python -m audit",
                                     description="审计整改台账系统 audit remediation tracker")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", parents=[common],
                       help="create a database (and its history key file beside it)")
    p.add_argument("--demo", action="store_true", help="fill it with the demo programme")
    p.add_argument("--seed", type=int, default=1, help="random seed of the demo (default 1)")
    p.add_argument("--as-of", dest="as_of", help="build the demo as of this date (YYYY-MM-DD; "
                                                 "default today)")
    p.add_argument("--admin", default="admin",
                   help="administrator name without --demo (default admin; password from "
                        "$AUDIT_ADMIN_PASSWORD or the terminal)")
    p.set_defaults(func=cmd_init, creates_db=True)

    p = sub.add_parser("summary", parents=[common], help="the figures as of a date")
    p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default today, Asia/Shanghai)")
    p.add_argument("--unit", help="unit code: that unit and the units below it")
    p.add_argument("--category", help="category code, e.g. C3")
    p.add_argument("--stream", choices=("cleanup", "audit"), help="work stream")
    p.add_argument("--focus", help="focus point code, F1…F5")
    p.add_argument("--current-classification", dest="current_classification",
                   action="store_true",
                   help="past figures with today's classification (unit, category, streams, "
                        "focus points, amount…) instead of the one recorded on the date")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("verify", parents=[common],
                       help="check integrity, the history chain, the live tables against "
                            "history and the evidence files")
    p.add_argument("--anchor", action="append", default=[], metavar="SEQ:HASH",
                   help="an anchor from a backup manifest, pack or ledger (repeatable)")
    p.add_argument("--against", action="append", default=[], metavar="FILE",
                   help="a Word pack (.docx) or Excel ledger (.xlsx): check against the anchor "
                        "it carries (repeatable)")
    p.add_argument("--evidence", metavar="DIR",
                   help="the evidence folder (default: <db stem>-evidence beside the database)")
    p.add_argument("--quick", action="store_true", help="leave the evidence files out")
    p.add_argument("--key-file", dest="key_file", metavar="FILE",
                   help="the history key file (default: $AUDIT_HISTORY_KEY, else "
                        "<db stem>.history-key beside the database)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("key", parents=[common],
                       help="key the history of a database made before keys existed")
    p.set_defaults(func=cmd_key)

    p = sub.add_parser("backup", parents=[common], help="online backup, safe while in use")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the backup file to write (must not exist); the manifest and the "
                        "evidence go beside it")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[common],
                       help="check a backup and restore it to a new --db path")
    p.add_argument("source", help="the backup file (its manifest beside it)")
    p.add_argument("--no-manifest", dest="no_manifest", action="store_true",
                   help="restore a backup that has no manifest (its checksum and anchor are "
                        "then not checked)")
    p.add_argument("--key-file", dest="key_file", metavar="FILE",
                   help="the backup's history key file (default: $AUDIT_HISTORY_KEY, else a "
                        "key file already beside the new --db); copied beside it")
    p.set_defaults(func=cmd_restore, creates_db=True)

    p = sub.add_parser("generate", parents=[common], help="synthetic programme for benchmarks")
    p.add_argument("--issues", type=int, required=True, help="how many issues")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--as-of", dest="as_of", help="the programme's today (default today)")
    p.set_defaults(func=cmd_generate, creates_db=True)

    p = sub.add_parser("users", help="user accounts")
    usub = p.add_subparsers(dest="users_command", required=True)
    q = usub.add_parser("add", parents=[common], help="add a user (password from "
                                                      "$AUDIT_NEW_PASSWORD or the terminal)")
    q.add_argument("name", help="the user name")
    q.add_argument("--role", required=True, choices=("admin", "lead", "rectifier", "manager"),
                   help="the role")
    q.add_argument("--unit", help="unit code of the user's scope (default: the whole region)")
    q.add_argument("--person", help="the person (by name) this account acts as")
    q.set_defaults(func=cmd_users_add)
    q = usub.add_parser("list", parents=[common], help="list users (name, role, unit code)")
    q.set_defaults(func=cmd_users_list)

    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def _argument_of(args, filename) -> str:
    """The command-line argument whose value is `filename` (for an OSError's message)."""
    if filename is None:
        return "file"
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and v and Path(v) == Path(str(filename)) for v in values):
            return name if name in ("source", "file") else "--" + name.replace("_", "-")
    return "file"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if "db" in vars(args) and not getattr(args, "creates_db", False):
            # Before any work (a ledger read, a progress bar): the database must be one.
            check_database_file(database_path(args.db))
        return int(args.func(args) or 0)
    except Refused as ex:
        message = str(ex)
    except ValidationFailed as ex:
        # A service's field named as the command line spells it.
        flag = {"source": "source", "db": "--db", "out": "--out", "manifest": "manifest"}
        message = str(ex)
        if ex.field in flag and not message.startswith(flag[ex.field]):
            message = f"{flag[ex.field]}: {message.split(': ', 1)[-1]}"
    except AuditError as ex:
        message = str(ex)
    except sqlite3.Error as ex:
        message = f"--db: {database_path(getattr(args, 'db', None))}: the database cannot be " \
                  f"used ({ex})"
    except OSError as ex:
        message = f"{_argument_of(args, ex.filename)}: {ex.filename}: {ex.strerror or ex}"
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"错误 / error: {' '.join(message.split())}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
