"""Building the Word review pack (整改情况汇报) for a scope as of a date, in Chinese or
English: `build_pack`.

Built in four named steps — gather (figures and rows), charts (PNG images), sections (the
document), save (atomic) — each reported through `on_progress(step, done, total)`. The charts
render in a child process from the moment their rows are gathered, while the rest is gathered
and the sections are written (placeholders are filled at the end), so the charts step
finishes after the sections. A failure raises ExportFailed naming the step and leaves no file
behind. Every label comes from the message catalogue; user data (titles, names) is printed as
entered and cleaned of XML-forbidden characters at the document boundary.

Sources: exports/pack_views.py (what the pack reads), exports/pack_charts.py (the dashboard's
charts at print size), exports/pack_format.py (the document).
"""
from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator

import sqlite_utils

from audit.model import NotFound
from audit.store import org
from audit.views import Scope
from exports import chart_io
from audit.model import ExportFailed
from exports.pack_charts import chart_dicts
from exports.pack_format import write_pack
from exports.pack_model import DEFAULT_SINCE_DAYS, PackOptions, Progress, _t
from exports.pack_views import chart_rows, gather


def start_charts(rows: dict[str, Any], lang: str, pool: ThreadPoolExecutor
                 ) -> list[tuple[str, str, str, Future]]:
    """Start rendering every chart; (key, caption, note, future PNG bytes) in order. They
    render in a
    child process (exports.chart_io.render_pngs), waited for on one of `pool`'s threads:
    vl-convert holds the GIL while it renders, so on a thread of this process the region's
    charts would stall the writing of the sections for seconds."""
    made = chart_dicts(rows, lang)
    batch = pool.submit(chart_io.render_pngs, [spec for *_, spec in made], scale=2)
    return [(key, caption, note, _nth(batch, i))
            for i, (key, caption, note, _) in enumerate(made)]


def _nth(batch: Future, i: int) -> Future:
    """A future of the i-th item of a future list."""
    item: Future = Future()

    def settle(done: Future) -> None:
        if done.exception() is not None:
            item.set_exception(done.exception())
        else:
            item.set_result(done.result()[i])
    batch.add_done_callback(settle)
    return item


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Run one step; any failure becomes ExportFailed naming it."""
    try:
        yield
    except ExportFailed:
        raise
    except Exception as ex:
        raise ExportFailed("report", name, ex) from ex


def default_since(db: sqlite_utils.Database, as_of: dt.date) -> dt.date:
    """Where the pack counts changes from by default: the date of the last review meeting
    (推进会) held before `as_of`, else DEFAULT_SINCE_DAYS (14) days before `as_of`."""
    from audit.rules_views import last_meeting_date
    return last_meeting_date(db, as_of - dt.timedelta(days=1)) \
        or as_of - dt.timedelta(days=DEFAULT_SINCE_DAYS)


def build_pack(db: sqlite_utils.Database, scope: Scope, out: str | os.PathLike[str], *,
               as_of: dt.date, since: dt.date | None = None, lang: str = "zh", label: str = "",
               user: str = "", on_progress: Progress | None = None,
               options: PackOptions | None = None) -> dict:
    """Build the review pack (整改情况汇报) for `scope` (already narrowed to the actor) and save
    it to `out` atomically. `since` defaults to the last review meeting before `as_of`
    (default_since), else 14 days before; `options` says what the
    attachments list (default: every issue up to pack_model.AUTO_ALL of them, none beyond).
    Returns {path, issues, tables, rows, pictures, contents, attachments, attachment_issues,
    anchor}. Raises ExportFailed naming the failed step (no file is left), NotFound for an
    unknown attachment unit and ValueError for a `since` after `as_of` or an unknown
    language."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    since = since or default_since(db, as_of)
    if since > as_of:
        raise ValueError(f"since ({since}) is after as_of ({as_of})")
    if options is not None and options.attachments == "unit" \
            and org.unit_by_code(db, options.attachment_unit or "") is None:
        raise NotFound(f"unit {options.attachment_unit} not found", entity="unit",
                       id=options.attachment_unit)
    pool = ThreadPoolExecutor(max_workers=1)  # waits for the chart process
    try:
        # The charts' rows first, so that they render in their own process while the rest is
        # gathered and the sections are written.
        with _step("gather"):
            rows_for_charts = chart_rows(db, scope, as_of, lang)
        with _step("charts"):
            pending = start_charts(rows_for_charts, lang, pool)
        with _step("gather"):
            data = gather(db, scope, as_of=as_of, since=since, lang=lang,
                          label=label or _t(lang, "report.scope_all"), user=user,
                          on_progress=on_progress, rows_for_charts=rows_for_charts,
                          options=options)
        if on_progress:
            on_progress("charts", 0, len(pending))
        with _step("sections"):
            writer, stats, pack = write_pack(data, pending, on_progress)
        with _step("charts"):
            pack.place_pictures(on_progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    with _step("save"):
        if on_progress:
            on_progress("save", 0, 1)
        path = writer.save(out)
        if on_progress:
            on_progress("save", 1, 1)
    seq, digest = data.anchor
    return {"path": str(path), "issues": len(data.records), "tables": len(stats.tables),
            "rows": stats.rows, "table_shapes": stats.tables, "pictures": stats.pictures,
            "contents": stats.contents, "attachments": data.attachments,
            "attachment_issues": len(data.attachment_ids),
            "anchor": f"{seq}:{digest}", "figures": data.figures}

