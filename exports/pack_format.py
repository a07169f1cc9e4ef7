"""The Word review pack's document, in the form of a 整改情况汇报: cover, contents, 一、基本情况,
二、整改进展, 三、整改成效, 四、存在的主要问题和困难, 五、下一步工作安排, the compiler, date and
contact, then 附件1 问题清单, 附件2 任务清单, 附件3 责任清单 as three separate lists. Written onto a
PackWriter (exports/docx_format.py) from PackData (exports/pack_model.py). Charts still
rendering are futures: a placeholder now, the picture once it is there (`place_pictures`).

The body stays short at any scale: each list shows the top items with "另有 M 项，详见…"; the
attachments list what PackData.attachments says. No hash, command or login name is printed:
the history anchor goes into the document's core properties (`identifier`)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Sequence

from docx.shared import Pt

from audit import messages
from audit.palette_model import STATUS_ORDER
from exports.docx_format import PackWriter, format_date
from exports.docx_parts_format import formal_date, set_core_properties
from exports.pack_model import (
    CHART_WIDTH_CM,
    LIST_TOP,
    PackData,
    PackStats,
    Progress,
    _pct,
    _t,
    background_paragraphs,
    changes_paragraph,
    figure_rows,
    next_paragraphs,
    outcome_paragraphs,
    problem_paragraphs,
    progress_paragraphs,
    rest_note,
    totals,
)

_PROGRESS_CHARS = 60  # an overdue item's progress note, as the body quotes it


class _Pack:
    """Writes the parts of one pack onto a PackWriter."""

    def __init__(self, data: PackData, writer: PackWriter) -> None:
        self.d = data
        self.w = writer
        self.lang = data.lang
        self.tables = 0
        self.figures = 0
        self.stats = PackStats()
        self.by_id = {r.id: r for r in data.records}
        self._fixed: dict[str, str] = {}
        self.pending: list[tuple[Any, Future, float, float]] = []
        self.images: dict[str, tuple[str, str, bytes | Future]] = {}
        self._measure_line = messages.MESSAGES[self.lang]["report.v.measure"]
        self._statuses = {st: messages.label("status", st, data.lang) for st in STATUS_ORDER}
        self._attached = set(data.attachment_ids)

    def t(self, key: str, **params: Any) -> str:
        if params:
            return _t(self.lang, key, **params)
        # Fixed labels are asked for once per row of a 40,000-issue attachment: look them up
        # once.
        try:
            return self._fixed[key]
        except KeyError:
            text = self._fixed[key] = _t(self.lang, key)
            return text

    def c(self, *keys: str) -> list[str]:
        return [self.t(f"report.c.{k}") for k in keys]

    def status(self, s: str) -> str:
        return self._statuses.get(s) or messages.label("status", s, self.lang)

    def date(self, iso: str | None) -> str:
        return iso[:10] if iso else self.t("report.v.none")

    def table(self, title: str, headers: Sequence[str], rows: list[Sequence[object]],
              widths: Sequence[float], align: Sequence[str] | None = None,
              empty_key: str = "report.p.none", total: Sequence[object] | None = None,
              keep_whole: bool = True, **empty: Any) -> None:
        """A numbered caption and a table, or a sentence saying there is nothing to list."""
        if not rows:
            self.w.paragraph(self.t(empty_key, **empty))
            return
        self.tables += 1
        self.w.caption(self.t("report.caption.table", n=self.tables, title=title))
        self.w.table(headers, rows, widths, align=align, total=total,  # type: ignore[arg-type]
                     keep_whole=keep_whole)
        self.stats.tables.append((len(headers), len(rows) + (total is not None)))

    def top(self, items: list) -> list:
        """The first LIST_TOP items; the note under the table (`rest`) says where the rest
        is."""
        return items[:LIST_TOP]

    def rest(self, items: list, in_attachment: bool = True) -> None:
        """'另有 M 项，详见…' under a list cut to LIST_TOP."""
        note = rest_note(self.lang, LIST_TOP, len(items), self.d.attachments, in_attachment)
        if note:
            self.w.paragraph(note, style="Table Text")

    def figure(self, key: str) -> None:
        """The chart `key` with its numbered caption and note."""
        if key not in self.images:
            return
        caption, note, png = self.images[key]
        self.figures += 1
        text = self.t("report.caption.figure", n=self.figures, title=caption)
        if note:
            text = self.t("pack.caption.note", caption=text, note=note)
        if isinstance(png, bytes):
            self.w.picture(png, CHART_WIDTH_CM, caption=text)
        else:
            p, max_width, max_height = self.w.picture_slot(text)
            self.pending.append((p, png, max_width, min(max_height, 11.0)))
        self.stats.pictures += 1

    def place_pictures(self, on_progress: Progress | None) -> None:
        """Wait for each chart and put it in its placeholder, sized as PackWriter.picture does:
        the requested width, within the text area, short enough to leave room for the caption."""
        for i, (p, future, max_width, max_height) in enumerate(self.pending, 1):
            self.w.place_picture(p, future.result(), CHART_WIDTH_CM, max_width, max_height)
            if on_progress:
                on_progress("charts", i, len(self.pending))

    # --- cover and contents -------------------------------------------------------------

    def cover(self) -> None:
        d, s = self.d, self.d.settings
        company = (s.get(self.t("pack.setting.company")) or s.get("report.company")
                   or d.organisation)
        issuer = s.get(self.t("pack.setting.department")) or s.get("report.department") or ""
        level = s.get("report.classification") or ""
        self.w.formal_cover(
            company=company, title=self.t("pack.title"),
            lines=[self.t("report.cover_scope", scope=d.scope_label),
                   self.t("pack.cover_as_of", date=formal_date(d.as_of, self.lang))],
            issuer=issuer, date_text=formal_date(d.as_of, self.lang),
            classification=self.t(f"report_settings.level.{level}") if level else "")
        self.w.contents_here(self.t("pack.contents"))

    # --- 一、基本情况 ---------------------------------------------------------------------

    def background(self) -> None:
        self.w.heading(self.t("pack.h.background"), 1, contents=True)
        for p in background_paragraphs(self.d):
            self.w.paragraph(p)
        if self.d.figures["issues"]:
            self.table(self.t("report.t.figures"), self.c("figure", "value", "note"),
                       figure_rows(self.d), [4.2, 3.0, 8.6], align=["left", "right", "left"])

    # --- 二、整改进展 ---------------------------------------------------------------------

    def progress(self) -> None:
        d = self.d
        self.w.heading(self.t("pack.h.progress"), 1, contents=True)
        self.w.heading(self.t("pack.h.overall"), 2, contents=True)
        for p in progress_paragraphs(d):
            self.w.paragraph(p)
        self.figure("burnup")
        self.figure("status_by_stream")
        keys = ("issues", "closed", "ended", "open", "overdue", "due_soon")
        align = ["left"] + ["right"] * (len(keys) + 1)
        widths = [4.2] + [1.55] * len(keys) + [1.9]

        def rows(items: list[dict]) -> list[list[object]]:
            return [[r["name"], *(r[k] for k in keys), _pct(r["closure_rate"])] for r in items]

        def total(items: list[dict]) -> list[object]:
            tot = totals(items)
            return [self.t("pack.v.total"), *(tot[k] for k in keys), _pct(tot["closure_rate"])]
        self.w.heading(self.t("pack.h.by_category"), 2, contents=True)
        self.table(self.t("report.t.by_category"), self.c("category", *keys, "closure_rate"),
                   rows(d.by_category), widths, align, total=total(d.by_category))
        self.figure("status_by_category")
        self.figure("focus_progress")
        self.w.heading(self.t("pack.h.by_unit"), 2, contents=True)
        self.w.paragraph(d.unit_note)
        self.table(self.t("report.t.by_unit"), self.c("unit", *keys, "closure_rate"),
                   rows(d.by_unit), widths, align, total=total(d.by_unit))
        self.figure("warning_by_unit")
        self.figure("heatmap")
        self.by_type()
        self.w.heading(self.t("pack.h.changes", since=format_date(d.since, self.lang)), 2,
                       contents=True)
        self.w.paragraph(changes_paragraph(d))
        self.changes()

    def by_type(self) -> None:
        rows = []
        for r in self.d.by_type:
            if not r["issues"]:
                continue
            name = self.t(f"{'rectification_type' if r['kind'] == 'type' else 'severity'}"
                          f".{r['key']}")
            if r["kind"] == "severity":
                name = self.t("pack.v.severity", level=name)
            rows.append([name, r["issues"], r["closed"], r["open"], r["overdue"],
                         _pct(r["closure_rate"])])
        self.table(self.t("pack.t.by_type"),
                   self.c("type", "issues", "closed", "open", "overdue", "closure_rate"), rows,
                   [4.6, 2.2, 2.2, 2.2, 2.2, 2.4], ["left"] + ["right"] * 5)

    def changes(self) -> None:
        d, r_ = self.d, self.by_id
        c = d.changes
        if c["returned"]:
            items = c["returned"]
            self.table(self.t("report.t.returned"),
                       self.c("title", "unit", "returned_on", "reason"),
                       [[r_[x["issue_id"]].title, r_[x["issue_id"]].unit_name, x["at"][:10],
                         x["reason"]] for x in self.top(items)], [5.2, 3.2, 2.4, 5.0])
            self.rest(items)
        if c["extended"]:
            items = c["extended"]
            self.table(self.t("report.t.extended"),
                       self.c("title", "original_deadline", "new_deadline", "approved_by",
                              "reason"),
                       [[r_[x["issue_id"]].title, self.date(x["original_deadline"]),
                         self.date(x["new_deadline"]), x["approved_by"], x["reason"]]
                        for x in self.top(items)], [4.6, 2.3, 2.3, 1.8, 4.8])
            self.rest(items)

    # --- 三、整改成效 ---------------------------------------------------------------------

    def outcomes(self) -> None:
        o = self.d.outcomes
        self.w.heading(self.t("pack.h.outcomes"), 1, contents=True)
        for p in outcome_paragraphs(self.d):
            self.w.paragraph(p)
        rules = o["rules"]
        if rules:
            self.table(self.t("pack.t.rules"),
                       self.c("rule", "rule_kind", "unit", "issued_on"),
                       [[r["title"], self.t(f"pack.v.rule_{r['kind']}"), r["unit"],
                         r["issued_on"]] for r in self.top(rules)], [7.0, 1.4, 4.0, 3.2])
            self.rest(rules, in_attachment=False)

    # --- 四、存在的主要问题和困难 -------------------------------------------------------

    def problems(self) -> None:
        d, r_ = self.d, self.by_id
        words = problem_paragraphs(d)
        self.w.heading(self.t("pack.h.problems"), 1, contents=True)
        self.w.heading(self.t("pack.h.overdue"), 2, contents=True)
        for p in words["overdue"]:
            self.w.paragraph(p)
        if d.overdue:
            rows = []
            for o in self.top(d.overdue):
                rec = r_[o["issue_id"]]
                note = d.facts[rec.id]["progress"].strip().replace("\n", " ")
                if len(note) > _PROGRESS_CHARS:
                    note = note[:_PROGRESS_CHARS - 1] + "…"
                rows.append([rec.title, rec.unit_name,
                             rec.responsible or self.t("report.v.nobody"),
                             self.date(rec.deadline), o["working_days"],
                             note or self.t("pack.v.no_note")])
            self.table(self.t("report.t.overdue"),
                       self.c("title", "unit", "responsible", "deadline",
                              "overdue_working_days", "progress"), rows,
                       [4.2, 2.6, 1.5, 2.1, 1.6, 3.6],
                       ["left", "left", "left", "left", "right", "left"])
            self.rest(d.overdue, in_attachment=d.attachments in ("all", "open", "overdue"))
        self.figure("ageing")
        self.figure("on_time_by_month")
        self.w.heading(self.t("pack.h.projection"), 2, contents=True)
        for p in words["projection"]:
            self.w.paragraph(p)
        self.w.heading(self.t("pack.h.causes"), 2, contents=True)
        for p in words["causes"]:
            self.w.paragraph(p)
        yes, no = self.t("report.v.yes"), self.t("report.v.no")
        unfixed = [c for c in d.causes if c["open_issues"] and not c["fixed_at_source"]]
        rows = [[i, c["title"], c["open_issues"], c["overdue"],
                 yes if c["recurring"] else no, yes if c["common"] else no,
                 self.t("pack.v.source_measures", done=c["source_measures_done"],
                        total=c["source_measures_total"]) if c["source_measures_total"]
                 else self.t("pack.v.no_source_measure")]
                for i, c in enumerate(self.top(unfixed), 1)]
        self.table(self.t("report.t.causes"),
                   self.c("rank", "cause", "open_issues", "overdue", "recurring", "common",
                          "source_measures"), rows,
                   [1.0, 6.6, 1.6, 1.3, 1.6, 1.6, 2.2],
                   ["right", "left", "right", "right", "center", "center", "center"],
                   "report.p.none_causes")
        self.rest(unfixed, in_attachment=False)
        self.figure("cause_ranking")
        self.w.heading(self.t("pack.h.flags"), 2, contents=True)
        for p in words["flags"]:
            self.w.paragraph(p)

    # --- 五、下一步工作安排 ---------------------------------------------------------------

    def next_steps(self) -> None:
        d, r_ = self.d, self.by_id
        words = next_paragraphs(d)
        self.w.heading(self.t("pack.h.next"), 1, contents=True)
        self.w.heading(self.t("pack.h.due", days=d.window), 2, contents=True)
        for p in words["due"]:
            self.w.paragraph(p)
        if d.due_soon:
            self.table(self.t("report.t.due_soon"),
                       self.c("title", "unit", "responsible", "deadline", "working_days_left",
                              "status"),
                       [[r_[o["issue_id"]].title, r_[o["issue_id"]].unit_name,
                         r_[o["issue_id"]].responsible or self.t("report.v.nobody"),
                         self.date(r_[o["issue_id"]].deadline), o["working_days"],
                         self.status(r_[o["issue_id"]].status)] for o in self.top(d.due_soon)],
                       [5.0, 3.0, 1.8, 2.2, 1.6, 2.2], ["left"] * 4 + ["right", "left"])
            self.rest(d.due_soon, in_attachment=d.attachments in ("all", "open"))
        self.w.heading(self.t("pack.h.escalations"), 2, contents=True)
        for p in words["escalations"]:
            self.w.paragraph(p)
        if d.escalations:
            rows = []
            for e in self.top(d.escalations):
                rec = r_.get(e["issue_id"])
                target = (self.t("report.v.owner_unit", person=e["target_person"],
                                 unit=e["target_unit"] or "")
                          if e["target_person"] else (e["target_unit"]
                                                      or self.t("report.v.nobody")))
                rows.append([rec.title if rec else "", e["unit"] or "",
                             e["overdue_working_days"], self.t(f"report.step.{e['step']}"),
                             target])
            self.table(self.t("report.t.escalations"),
                       self.c("title", "unit", "overdue_working_days", "step", "target"), rows,
                       [5.4, 3.0, 1.6, 1.8, 4.0], ["left", "left", "right", "left", "left"])
            self.rest(d.escalations,
                      in_attachment=d.attachments in ("all", "open", "overdue"))
        self.figure("workload_by_owner")
        self.w.heading(self.t("pack.h.plan"), 2, contents=True)
        for p in words["plan"]:
            self.w.paragraph(p)

    def closing(self) -> None:
        """Compiled by, date and contact, right-aligned under the body."""
        s = self.d.settings
        compiler = s.get("report.compiler") or s.get("report.department") or ""
        lines = [self.t("pack.closing.compiler", compiler=compiler)] if compiler else []
        lines.append(self.t("pack.closing.date", date=formal_date(self.d.as_of, self.lang)))
        if s.get("report.contact"):
            lines.append(self.t("pack.closing.contact", contact=s["report.contact"]))
        for i, line in enumerate(lines):
            p = self.w.paragraph(line, align="right")
            if i == 0:
                p.paragraph_format.space_before = Pt(18)
            p.paragraph_format.keep_with_next = i < len(lines) - 1

    # --- 附件 ------------------------------------------------------------------------------

    def attachments(self, on_progress: Progress | None, done: int, total: int) -> None:
        d = self.d
        if d.attachments == "none" or not d.attachment_ids:
            self.w.paragraph(self.t("pack.p.no_attachments", issues=len(d.records)))
            return
        self.w.landscape_section()
        wanted = self._attached
        pairs = [(r, s) for r, s in zip(d.records, d.found.states) if r.id in wanted]
        scope = self.t(f"pack.attachments.{d.attachments}", n=len(pairs))
        sep = self.t("report.scope_sep")
        none, nobody = self.t("report.v.none"), self.t("report.v.nobody")
        owners_sep = self.t("report.list_sep")
        for n, key in enumerate(("problems", "tasks", "responsibilities"), 1):
            self.w.heading(self.t(f"pack.h.attachment_{key}", n=n), 1, new_page=n > 1,
                           contents=True)
            # The heading, this line, the caption and the first rows stay together; the rows
            # are tall, so a list of a few issues splits rather than moving whole and leaving
            # its heading alone on a landscape page.
            self.w.paragraph(self.t("pack.p.attachment_scope", scope=scope), style="Table Text",
                             keep_with_next=True)
            if key == "problems":
                rows = []
                for r, s in pairs:
                    x, fa = d.found.details(s), d.facts[r.id]
                    flags = [self.t("report.c.recurring")] if fa["recurring"] else []
                    if fa["common"]:
                        flags.append(self.t("report.c.common"))
                    rows.append([r.code, x.aspect_name, r.title,
                                 r.unit_name, self.t(f"severity.{fa['severity']}"),
                                 self.t(f"rectification_type.{fa['type']}"),
                                 f"{x.amount:,.2f}",
                                 "\n".join(f"{a['year']} {a['name']}" for a in x.sources)
                                 or none, owners_sep.join(flags) or none,
                                 self.status(r.status), self.date(r.deadline)])
                self.table(self.t("pack.t.problems"),
                           self.c("code", "aspect", "title", "unit", "severity", "type",
                                  "amount", "sources", "flags", "status", "deadline"), rows,
                           [1.6, 2.2, 5.6, 2.6, 1.2, 1.9, 2.0, 4.6, 1.8, 1.5, 2.2],
                           ["left"] * 6 + ["right"] + ["left"] * 4, keep_whole=False)
            elif key == "tasks":
                rows = []
                for r, s in pairs:
                    x = d.found.details(s)
                    rows.append([r.code, r.title, "\n".join(
                        self._measure(i, m) for i, m in enumerate(x.measures, 1)) or none,
                        self.date(r.deadline), x.progress or none])
                self.table(self.t("pack.t.tasks"),
                           self.c("code", "title", "measures", "deadline", "progress"), rows,
                           [1.8, 5.0, 10.2, 2.0, 5.8], keep_whole=False)
            else:
                rows = []
                for r, s in pairs:
                    x = d.found.details(s)
                    rows.append([r.code, r.unit_name, r.responsible or nobody,
                                 x.supervisor or none,
                                 owners_sep.join(dict.fromkeys(m[1] for m in x.measures
                                                               if m[1])) or none,
                                 sep.join(c["title"] for c in x.causes) or none,
                                 sep.join(self._accountability(*a) for a in x.accountability)
                                 or none])
                self.table(self.t("pack.t.responsibilities"),
                           self.c("code", "unit", "responsible", "supervisor",
                                  "measure_owners", "causes", "accountability"), rows,
                           [1.8, 3.0, 2.0, 2.0, 3.4, 6.0, 6.6], keep_whole=False)
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
                        reason: str, *rest: Any) -> str:
        if not_applicable:
            return self.t("report.v.not_applicable", reason=reason)
        return self.t("report.v.accountability", person=person_name, action=action)


def write_pack(data: PackData, images: Sequence[tuple[str, str, str, bytes | Future]],
               on_progress: Progress | None = None) -> tuple[PackWriter, PackStats, _Pack]:
    """The whole document, not yet saved: the portrait body, then a landscape section for the
    attachments. Charts still rendering (futures) get placeholders that
    `_Pack.place_pictures` fills. The history anchor and the issuer go into the document's
    properties."""
    lang = data.lang
    writer = PackWriter(lang, header_text=_t(lang, "pack.header",
                                              date=format_date(data.as_of, lang)),
                        house_style=data.settings.get("report.house_style") or "fangsong")
    pack = _Pack(data, writer)
    pack.images = {key: (caption, note, png) for key, caption, note, png in images}
    total = 9
    steps: list[Callable[[], None]] = [pack.cover, pack.background, pack.progress,
                                       pack.outcomes, pack.problems, pack.next_steps,
                                       pack.closing]
    for i, step in enumerate(steps, 1):
        step()
        if on_progress:
            on_progress("sections", i, total)
    pack.attachments(on_progress, len(steps) - 1, total)
    pack.stats.contents = writer.finish_contents()
    seq, digest = data.anchor
    s = data.settings
    set_core_properties(
        writer.doc, title=_t(lang, "pack.title"),
        author=s.get("report.department") or s.get("report.company") or data.organisation,
        identifier=f"anchor:{seq}:{digest}",
        created=dt.datetime.combine(data.as_of, dt.time(0, 0)),
        subject=data.scope_label, language={"zh": "zh-CN", "en": "en-GB"}.get(lang, lang))
    if on_progress:
        on_progress("sections", total, total)
    return writer, pack.stats, pack
