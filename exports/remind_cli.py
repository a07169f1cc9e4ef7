"""`python -m audit remind [--db PATH] [--as-of D] [--dry-run]`: run the reminders (meant for
cron or a systemd timer, every few minutes on every day: the tracker itself skips the
non-working days of its calendar). A thin shell over exports.remind_run_service: it reads the
clock and prints the outcome; another run in progress is refused (exit 1)."""
from __future__ import annotations

import argparse
import sys
import time

from audit import messages as i18n
from audit import time_model as clock
from audit.cli import _as_of, _print, acting_user, open_db
from exports import remind_run_service
from exports.remind_model import RemindBusy


def _now_ms() -> int:
    return int(time.time() * 1000)


def cmd_remind(args) -> int:
    """Plan and send what is due as of the date (or, with --dry-run, only print it)."""
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    as_of = _as_of(args.as_of)
    lang = args.lang
    try:
        result = remind_run_service.run_reminders(db, actor, as_of, at=clock.now_text(),
                                                  now_ms=_now_ms, dry_run=args.dry_run)
    except RemindBusy as ex:
        # A run still going when cron starts the next one: say so and leave it be.
        print(i18n.t("remind.cli.busy", lang, path=ex.params.get("path", "")), file=sys.stderr)
        return 1
    if not result["working_day"]:
        human = i18n.t("remind.cli.holiday", lang, date=result["as_of"])
    elif args.dry_run:
        lines = [i18n.t("remind.cli.dry", lang, date=result["as_of"],
                        n=len(result["messages"]))]
        lines += [f"  [{i18n.t('remind.kind.' + msg['channel'], lang) if msg['channel'] else '?'}]"
                  f" {msg['recipient']} — {msg['subject']}" for msg in result["messages"]]
        human = "\n".join(lines)
    else:
        human = i18n.t("remind.cli.done", lang, date=result["as_of"], planned=result["planned"],
                       sent=result["sent"], failed=result["failed"] + result["retry"],
                       unconfirmed=result["unconfirmed"])
    _print(args, result, human)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the `remind` command."""
    p = subparsers.add_parser("remind", parents=[common],
                              help="send the reminders due (e-mail, group robots)")
    p.add_argument("--as-of", dest="as_of", help="as of this date (default: today)")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="print what would go out; send and record nothing")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_remind)
