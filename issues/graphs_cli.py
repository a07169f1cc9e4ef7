"""Commands `causes`, `blocked` and `escalations`: a thin shell over issues.graph_service.
Human output is Chinese lines in aligned columns; --json prints the service's plain data.
Exit codes as for every command: 0 ok, 1 refused input, 2 usage."""
from __future__ import annotations

import argparse
import unicodedata
from typing import Any, Iterable, Sequence

from audit import time_model
from audit.cli import Refused, _as_of, _print, acting_user, open_db
from audit.messages import label, t
from audit.model import can
from audit.views import scope_for
from issues import graph_views, stored_views
from issues import escalation_service

ZH = "zh"




def _width(s: str) -> int:
    """Columns a string takes on a terminal: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def table(header: Sequence[str], body: Iterable[Sequence[Any]]) -> str:
    """Lines in aligned columns (padding counts CJK characters as two columns)."""
    lines = [[str(c) for c in header]] + [["" if c is None else str(c) for c in r] for r in body]
    widths = [max(_width(r[i]) for r in lines) for i in range(len(header))]
    return "\n".join("  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths)).rstrip()
                     for r in lines)


def _context(args) -> tuple:
    """The database, the acting user, the as-of date and the scope named by the arguments."""
    db, _ = open_db(args)
    actor = acting_user(db, args.as_user)
    as_of = _as_of(args.as_of)
    scope = scope_for(db, actor, unit_code=args.unit)
    return db, actor, as_of, scope


def _unit_note(args) -> str:
    return f"（{args.unit}）" if args.unit else ""


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def cmd_causes(args) -> int:
    """Root causes ranked, with the greedy cover of the first k."""
    if args.k < 0:
        raise Refused("--k: must be 0 or more")
    db, _actor, as_of, scope = _context(args)
    inputs = graph_views.load_cause_inputs(db, scope, as_of)
    ranking = graph_views.cause_ranking(db, scope, as_of, inputs=inputs)
    cov = graph_views.cover(db, scope, as_of, args.k, inputs=inputs)
    # Id lists run to tens of thousands on a provincial programme: counts are what people read.
    slim = [{k: v for k, v in r.items() if k not in ("issue_ids", "open_issue_ids")}
            for r in ranking]
    data = {"as_of": as_of.isoformat(), "unit": args.unit, "causes": slim,
            "cover": {k: v for k, v in cov.items() if k != "covered_issue_ids"}}
    head = [t("graphs.col.cause", ZH), t("graphs.col.open", ZH), t("graphs.col.total", ZH),
            t("graphs.col.amount", ZH), t("graphs.col.overdue", ZH),
            t("graphs.col.recurring", ZH), t("graphs.col.source", ZH), t("graphs.col.title", ZH)]
    body = [(r["code"], r["open_issues"], r["total_issues"], f"{r['amount_open'] / 1e4:,.2f}",
             r["overdue"], "是" if r["recurring"] else "",
             f"{r['source_measures_done']}/{r['source_measures_total']}"
             if r["source_measures_total"] else "", r["title"])
            for r in slim[:args.top] if r["total_issues"]]
    human = "\n".join([
        t("graphs.cli.causes_title", ZH, as_of=as_of.isoformat(), unit=_unit_note(args),
          n=len(ranking)),
        table(head, body),
        t("graphs.cli.cover", ZH, k=len(cov["chosen"]), covered=cov["covered"],
          total=cov["open_total"], share=_pct(cov["share"]),
          codes="、".join(s["code"] for s in cov["chosen"]) or "—")])
    _print(args, data, human)
    return 0


def cmd_blocked(args) -> int:
    """Open issues that their dependencies will make late."""
    db, _actor, as_of, scope = _context(args)
    found = graph_views.blocked(db, scope, as_of)
    data = {"as_of": as_of.isoformat(), "unit": args.unit, "blocked": found}
    head = [t("graphs.col.issue", ZH), t("graphs.col.deadline", ZH),
            t("graphs.col.earliest", ZH), t("graphs.col.days_late", ZH),
            t("graphs.col.chain", ZH)]
    body = [(b["code"], b["deadline"], b["earliest_finish"], b["days_late"],
             " → ".join(b["chain"]) + (" …" if b["truncated"] else "")) for b in found]
    human = t("graphs.cli.blocked_title", ZH, as_of=as_of.isoformat(), unit=_unit_note(args),
              n=len(found))
    if found:
        human += "\n" + table(head, body)
    _print(args, data, human)
    return 0


def _esc_lines(dues: list[dict]) -> str:
    head = [t("graphs.col.issue", ZH), t("graphs.col.step", ZH),
            t("graphs.col.overdue_days", ZH), t("graphs.col.deadline", ZH),
            t("graphs.col.target_person", ZH), t("graphs.col.target_unit", ZH),
            t("graphs.col.unit", ZH)]
    return table(head, [(d["code"], label("escalation", d["step"], ZH),
                         d["overdue_working_days"], d["deadline"],
                         d["target_person"] or t("graphs.esc.nobody", ZH), d["target_unit"],
                         d["unit"]) for d in dues])


def cmd_escalations(args) -> int:
    """The escalation steps due, and with --record, record them as the acting lead."""
    db, actor, as_of, scope = _context(args)
    if args.record and not can("escalation.record", actor.role):
        msg = {lang: t("graphs.cli.record_needs_lead", lang, user=actor.username,
                       role=label("role", actor.role, lang)) for lang in ("zh", "en")}
        raise Refused(f"{msg['zh']} / {msg['en']}")
    dues = graph_views.escalations_due(db, scope, as_of)
    th = graph_views.thresholds(db)
    data: dict[str, Any] = {"as_of": as_of.isoformat(), "unit": args.unit,
                            "thresholds": {"reminder": th.reminder, "letter": th.letter,
                                           "summons": th.summons}, "due": dues}
    human = t("graphs.cli.esc_title", ZH, as_of=as_of.isoformat(), unit=_unit_note(args),
              n=len(dues))
    if dues:
        human += "\n" + _esc_lines(dues)
    if args.record:
        # Only the steps listed (in the --unit scope): the service re-checks each is still due.
        written = escalation_service.record_escalations(db, actor, as_of, time_model.now_text(), dues)
        data["recorded"] = written
        human += "\n" + t("graphs.cli.recorded", ZH, n=len(written), user=actor.username)
    _print(args, data, human)
    return 0


def cmd_refresh(args) -> int:
    """Bring the stored results (cause ranking, blocked chains, escalations due, duplicate
    clusters of the scopes people look at) up to the current data version."""
    db, _ = open_db(args)
    as_of = _as_of(args.as_of)
    done = stored_views.refresh(db, as_of, at=time_model.now_text())
    data = {"as_of": as_of.isoformat(), "computed": done}
    human = (f"已刷新 {len(done)} 项预计算结果（{as_of.isoformat()}）/ refreshed {len(done)} "
             "stored results\n" + "\n".join(f"  {d['name']}  {d['seconds']:.2f} s  {d['key'][:60]}"
                                             for d in done))
    _print(args, data, human.rstrip())
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the causes, blocked and escalations commands."""
    def add(name: str, help_text: str, func) -> argparse.ArgumentParser:
        p = subparsers.add_parser(name, parents=[common], help=help_text)
        p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: today, Asia/Shanghai)")
        p.add_argument("--unit", help="unit code: that unit and the units below it")
        p.set_defaults(func=func)
        return p

    p = add("causes", "root causes ranked; the k causes to fix first (根源排名)", cmd_causes)
    p.add_argument("--k", type=int, default=3, help="causes to choose for the cover (default 3)")
    p.add_argument("--top", type=int, default=20, help="causes listed in the table (default 20)")
    add("blocked", "issues their measure dependencies will make late (受阻问题)", cmd_blocked)
    p = subparsers.add_parser("refresh", parents=[common],
                              help="recompute the stored results that are not current")
    p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: today, Asia/Shanghai)")
    p.set_defaults(func=cmd_refresh)
    p = add("escalations", "escalation steps due (督办清单)", cmd_escalations)
    p.add_argument("--record", action="store_true",
                   help="record the due steps in history (needs --as-user naming a lead)")
