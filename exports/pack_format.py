"""The Word review pack's document: its sections written onto a PackWriter
(exports/docx_format.py) from PackData (exports/pack_model.py). Charts still rendering are
futures: a placeholder now, the picture once it is there (`_Pack.place_pictures`)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future
from itertools import groupby
from typing import Any, Sequence

from audit import messages
from audit.palette_model import STATUS_ORDER
from exports.docx_format import PackWriter, format_date
from exports.pack_model import (
    CHART_WIDTH_CM,
    LIST_LIMIT,
    PackData,
    PackStats,
    Progress,
    _pct,
    _t,
    figure_rows,
    summary_paragraphs,
)


class _Numbering:
    """Running numbers of tables and figures for captions."""

    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0



class _Pack:
    """Writes the sections of one pack onto a PackWriter."""

    def __init__(self, data: PackData, writer: PackWriter) -> None:
        self.d = data
        self.w = writer
        self.lang = data.lang
        self.n = _Numbering()
        self.stats = PackStats()
        self.by_id = {r.id: r for r in data.records}
        self._fixed: dict[str, str] = {}
        self.pending: list[tuple[Any, Future, float, float]] = []
        self._measure_line = messages.MESSAGES[self.lang]["report.v.measure"]
        self._statuses = {st: messages.label("status", st, data.lang) for st in STATUS_ORDER}

    def t(self, key: str, **params: Any) -> str:
        if params:
            return _t(self.lang, key, **params)
        # Fixed labels are asked for once per row of a 40,000-issue appendix: look them up once.
        try:
            return self._fixed[key]
        except KeyError:
            text = self._fixed[key] = _t(self.lang, key)
            return text

    def table(self, title: str, headers: Sequence[str], rows: list[Sequence[object]],
              widths: Sequence[float], align: Sequence[str] | None = None,
              empty_key: str = "report.p.none", **empty: Any) -> None:
        """A numbered caption and a table, or a sentence saying there is nothing to list."""
        if not rows:
            self.w.paragraph(self.t(empty_key, **empty))
            return
        self.n.tables += 1
        self.w.caption(self.t("report.caption.table", n=self.n.tables, title=title))
        self.w.table(headers, rows, widths, align=align)  # type: ignore[arg-type]
        self.stats.tables.append((len(headers), len(rows)))

    def limited(self, items: list[dict]) -> list[dict]:
        """The first LIST_LIMIT items; a note says when more exist."""
        if len(items) > LIST_LIMIT:
            self.w.paragraph(self.t("report.p.truncated", shown=LIST_LIMIT, total=len(items)))
        return items[:LIST_LIMIT]

    def c(self, *keys: str) -> list[str]:
        return [self.t(f"report.c.{k}") for k in keys]

    def status(self, s: str) -> str:
        return self._statuses.get(s) or messages.label("status", s, self.lang)

    def date(self, iso: str | None) -> str:
        return iso[:10] if iso else self.t("report.v.none")

    # sections

    def cover(self) -> None:
        d = self.d
        lines = [self.t("report.cover_scope", scope=d.scope_label),
                 self.t("report.cover_period", since=format_date(d.since, self.lang),
                        as_of=format_date(d.as_of, self.lang))]
        self.w.cover(self.t("report.title"), lines, as_of=d.as_of, organisation=d.organisation)

    def summary(self) -> None:
        self.w.heading(self.t("report.h.summary"), 1)
        for p in summary_paragraphs(self.d):
            self.w.paragraph(p)
        self.table(self.t("report.t.figures"), self.c("figure", "value", "note"),
                   figure_rows(self.d), [4.6, 2.6, 8.4], align=["left", "right", "left"])

    def charts(self, images: Sequence[tuple[str, bytes | Future]]) -> None:
        self.w.heading(self.t("report.h.charts"), 1)
        self.w.paragraph(self.t("report.p.charts_intro", date=format_date(self.d.as_of,
                                                                          self.lang)))
        for caption, png in images:
            self.n.figures += 1
            text = self.t("report.caption.figure", n=self.n.figures, title=caption)
            if isinstance(png, bytes):
                self.w.picture(png, CHART_WIDTH_CM, caption=text)
            else:
                # A placeholder paragraph now, the picture once rendered (place_pictures).
                p, max_width, max_height = self.w.picture_slot(text)
                self.pending.append((p, png, max_width, max_height))
            self.stats.pictures += 1

    def place_pictures(self, on_progress: Progress | None) -> None:
        """Wait for each chart and put it in its placeholder, sized as PackWriter.picture does:
        the requested width, within the text area, short enough to leave room for the caption."""
        for i, (p, future, max_width, max_height) in enumerate(self.pending, 1):
            self.w.place_picture(p, future.result(), CHART_WIDTH_CM, max_width, max_height)
            if on_progress:
                on_progress("charts", i, len(self.pending))

    def breakdown(self) -> None:
        self.w.heading(self.t("report.h.breakdown"), 1)
        keys = ("issues", "closed", "ended", "in_progress", "submitted", "not_started",
                "overdue", "due_soon")
        align = ["left"] + ["right"] * (len(keys) + 1)
        widths = [3.6] + [1.3] * len(keys) + [1.6]

        def rows(items: list[dict]) -> list[list[object]]:
            return [[r["name"], *(r[k] for k in keys), _pct(r["closure_rate"])] for r in items]
        self.table(self.t("report.t.by_category"), self.c("category", *keys, "closure_rate"),
                   rows(self.d.by_category), widths, align)
        self.table(self.t("report.t.by_unit"), self.c("unit", *keys, "closure_rate"),
                   rows(self.d.by_unit), widths, align)

    def lists(self) -> None:
        d, r_ = self.d, self.by_id
        self.w.heading(self.t("report.h.lists"), 1)
        self.w.heading(self.t("report.h.overdue"), 2)
        rows = [[r_[o["issue_id"]].code, r_[o["issue_id"]].title, r_[o["issue_id"]].unit_name,
                 r_[o["issue_id"]].responsible or self.t("report.v.nobody"),
                 self.date(r_[o["issue_id"]].deadline), o["days"],
                 self.status(r_[o["issue_id"]].status)] for o in self.limited(d.overdue)]
        self.table(self.t("report.t.overdue"),
                   self.c("code", "title", "unit", "responsible", "deadline", "days_overdue",
                          "status"), rows, [2.4, 8.6, 3.6, 2.6, 2.4, 1.8, 2.0],
                   ["left"] * 5 + ["right", "left"], "report.p.none_overdue",
                   date=format_date(d.as_of, self.lang))
        self.w.heading(self.t("report.h.due_soon", days=d.window), 2)
        rows = [[r_[o["issue_id"]].code, r_[o["issue_id"]].title, r_[o["issue_id"]].unit_name,
                 r_[o["issue_id"]].responsible or self.t("report.v.nobody"),
                 self.date(r_[o["issue_id"]].deadline), o["working_days"],
                 self.status(r_[o["issue_id"]].status)] for o in self.limited(d.due_soon)]
        self.table(self.t("report.t.due_soon"),
                   self.c("code", "title", "unit", "responsible", "deadline",
                          "working_days_left", "status"), rows,
                   [2.4, 8.6, 3.6, 2.6, 2.4, 1.8, 2.0], ["left"] * 5 + ["right", "left"],
                   "report.p.none_due_soon", window=d.window)

    def changes(self) -> None:
        d, r_ = self.d, self.by_id
        c = d.changes
        self.w.heading(self.t("report.h.changes", since=format_date(d.since, self.lang)), 1)
        self.w.heading(self.t("report.h.struck_off"), 2)
        self.table(self.t("report.t.struck_off"),
                   self.c("code", "title", "unit", "closed_on", "closed_by"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     r_[x["issue_id"]].unit_name, x["at"][:10], x["actor"]]
                    for x in self.limited(c["struck_off"])], [2.4, 11, 4, 2.6, 3])
        self.w.heading(self.t("report.h.newly_overdue"), 2)
        self.table(self.t("report.t.newly_overdue"),
                   self.c("code", "title", "unit", "responsible", "deadline", "days_overdue"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     r_[x["issue_id"]].unit_name,
                     r_[x["issue_id"]].responsible or self.t("report.v.nobody"),
                     self.date(r_[x["issue_id"]].deadline),
                     (d.as_of - dt.date.fromisoformat(r_[x["issue_id"]].deadline)).days]
                    for x in self.limited(c["newly_overdue"])],
                   [2.4, 9.6, 3.8, 2.6, 2.4, 1.8], ["left"] * 5 + ["right"])
        self.w.heading(self.t("report.h.returned"), 2)
        self.table(self.t("report.t.returned"),
                   self.c("code", "title", "unit", "returned_on", "reason"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     r_[x["issue_id"]].unit_name, x["at"][:10], x["reason"]]
                    for x in self.limited(c["returned"])], [2.4, 7, 3.6, 2.4, 8])
        self.w.heading(self.t("report.h.extended"), 2)
        self.table(self.t("report.t.extended"),
                   self.c("code", "title", "original_deadline", "new_deadline", "approved_by",
                          "reason"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     self.date(x["original_deadline"]), self.date(x["new_deadline"]),
                     x["approved_by"], x["reason"]] for x in self.limited(c["extended"])],
                   [2.4, 6.4, 2.4, 2.4, 2.4, 8])

    def causes(self) -> None:
        self.w.heading(self.t("report.h.causes"), 1)
        yes, no = self.t("report.v.yes"), self.t("report.v.no")
        rows = [[i, f"{c['code']} {c['title']}", c["open_issues"], c["total_issues"],
                 c["overdue"], self.t("report.v.amount_open", amount=c["amount_open"] / float(
                     self.t("report.v.amount_open_divisor"))),
                 yes if c["recurring"] else no,
                 f"{c['source_measures_done']}/{c['source_measures_total']}"]
                for i, c in enumerate(self.limited(self.d.causes), 1)]
        self.table(self.t("report.t.causes"),
                   self.c("rank", "cause", "open_issues", "total_issues", "overdue",
                          "amount_open", "recurring", "source_measures"), rows,
                   [1.2, 10, 2, 2, 1.6, 2.8, 1.8, 2.6],
                   ["right", "left", "right", "right", "right", "right", "center", "center"],
                   "report.p.none_causes")

    def escalations(self) -> None:
        self.w.heading(self.t("report.h.escalations"), 1)
        r_ = self.by_id
        rows = []
        for e in self.limited(self.d.escalations):
            rec = r_.get(e["issue_id"])
            target = (self.t("report.v.owner_unit", person=e["target_person"],
                             unit=e["target_unit"] or "")
                      if e["target_person"] else (e["target_unit"] or self.t("report.v.nobody")))
            rows.append([e["code"], rec.title if rec else "", e["unit"] or "",
                         self.date(e["deadline"]), e["overdue_working_days"],
                         self.t(f"report.step.{e['step']}"), target])
        self.table(self.t("report.t.escalations"),
                   self.c("code", "title", "unit", "deadline", "overdue_working_days", "step",
                          "target"), rows, [2.4, 7.4, 3.4, 2.4, 2, 2.2, 4.4],
                   ["left"] * 4 + ["right", "left", "left"], "report.p.none_escalations")

    def appendix(self, on_progress: Progress | None, done: int, total: int) -> None:
        d = self.d
        self.w.page_break()
        self.w.heading(self.t("report.h.appendix"), 1)
        self.w.paragraph(self.t("report.p.appendix_intro", issues=len(d.records)))
        # Records are in ledger order, so each category's issues are one run of them: only
        # one category's details are held at a time.
        runs = groupby(zip(d.records, d.found.states), key=lambda rs: rs[0].category_code)
        sep = self.t("report.scope_sep")
        none, nobody = self.t("report.v.none"), self.t("report.v.nobody")
        owners_sep = self.t("report.list_sep")
        for n, (code, run) in enumerate(runs, 1):
            items: list[tuple[Any, Any]] = [  # (IssueSummary, IssueDetails)
                (r, d.found.details(s)) for r, s in run]
            if n > 1:
                self.w.page_break()  # each category starts a page: they are read one by one
            self.w.heading(self.t("report.h.appendix_category", n=n, code=code,
                                  name=items[0][0].category_name), 2)
            self.w.heading(self.t("report.h.problems"), 3)
            self.table(self.t("report.t.problems", code=code),
                       self.c("code", "aspect", "title", "description", "sources", "amount",
                              "status"),
                       [[r.code, x.aspect_name, r.title, x.description,
                         sep.join(f"{s['year']} {s['name']}" for s in x.sources) or none,
                         f"{x.amount:,.2f}", self.status(r.status)] for r, x in items],
                       [2.2, 2.4, 4.4, 7.4, 3.8, 2.4, 1.7],
                       ["left"] * 5 + ["right", "left"])
            self.w.heading(self.t("report.h.tasks"), 3)
            self.table(self.t("report.t.tasks", code=code),
                       self.c("code", "title", "measures", "deadline", "progress"),
                       [[r.code, r.title, "\n".join(self._measure(i, m) for i, m in
                                                    enumerate(x.measures, 1)) or none,
                         self.date(r.deadline), x.progress or none] for r, x in items],
                       [2.4, 5, 10, 2.2, 5])
            self.w.heading(self.t("report.h.responsibilities"), 3)
            self.table(self.t("report.t.responsibilities", code=code),
                       self.c("code", "unit", "responsible", "supervisor", "measure_owners",
                              "causes", "accountability"),
                       [[r.code, r.unit_name, r.responsible or nobody, x.supervisor or none,
                         owners_sep.join(dict.fromkeys(m[1] for m in x.measures if m[1]))
                         or none,
                         sep.join(c["title"] for c in x.causes) or none,
                         sep.join(self._accountability(*a) for a in x.accountability) or none]
                        for r, x in items],
                       [2.4, 3.4, 2.2, 2.2, 3.4, 5.4, 6])
            if on_progress:
                on_progress("sections", done + n, total)

    def _measure(self, i: int, m: tuple) -> str:
        # Called for each of the region's 200,000 measures: labels come from the fixed cache.
        title, owner, deadline, status = m
        t = self.t
        owner = owner or t("report.v.nobody")
        state = t("report.measure_status." + status)
        deadline = deadline[:10] if deadline else t("report.v.none")
        # The template is formatted directly: messages.t's formatter is slow at this count.
        return self._measure_line.format(i=i, title=title, owner=owner, deadline=deadline,
                                         state=state)

    def _accountability(self, not_applicable: bool, person_name: str, action: str,
                        reason: str) -> str:
        if not_applicable:
            return self.t("report.v.not_applicable", reason=reason)
        return self.t("report.v.accountability", person=person_name, action=action)

    def anchor(self) -> None:
        seq, digest = self.d.anchor
        self.w.heading(self.t("report.h.anchor"), 1)
        self.w.paragraph(self.t("report.p.anchor", anchor=f"{seq}:{digest}"))
        self.w.paragraph(self.t("report.p.generated", user=self.d.user,
                                date=format_date(self.d.as_of, self.lang)))


def write_pack(data: PackData, images: Sequence[tuple[str, bytes | Future]],
               on_progress: Progress | None = None) -> tuple[PackWriter, PackStats, _Pack]:
    """The whole document, not yet saved: portrait front matter, then a landscape section for
    the wide lists and the appendix. Charts still rendering (futures) get placeholders that
    `_Pack.place_pictures` fills."""
    lang = data.lang
    writer = PackWriter(lang, header_text=_t(lang, "report.header",
                                              date=format_date(data.as_of, lang)))
    pack = _Pack(data, writer)
    n_categories = len({r.category_code for r in data.records})
    total = 6 + n_categories
    steps: list[Callable[[], None]] = [
        pack.cover, pack.summary, lambda: pack.charts(images), pack.breakdown,
        lambda: (writer.landscape_section(), pack.lists(), pack.changes()),
        lambda: (pack.causes(), pack.escalations())]
    for i, step in enumerate(steps, 1):
        step()
        if on_progress:
            on_progress("sections", i, total)
    pack.appendix(on_progress, len(steps), total)
    pack.anchor()
    if on_progress:
        on_progress("sections", total, total)
    return writer, pack.stats, pack
