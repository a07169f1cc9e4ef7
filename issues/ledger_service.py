"""Exporting the 整改台账: the issues of a scope as of a date, gathered by issues.ledger_views and
written by issues.ledger_write_format, to a file that appears whole or not at all."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import sqlite_utils

from audit.model import ExportFailed
from audit.store import history
from audit.views import Scope
from issues import import_store, store
from issues.ledger_format import REMARKS_HEADER
from issues.ledger_views import Progress, ledger_rows_for
from issues.ledger_write_format import write_ledger


def export_ledger(db: sqlite_utils.Database, scope: Scope, out: str | os.PathLike[str], *,
                  as_of: dt.date, lang: str = "zh", title: str,
                  on_progress: Progress | None = None) -> dict:
    """Write the ledger of `scope` as of `as_of` to `out` atomically (a temporary file beside
    it, renamed over it). Returns {issues, path, anchor, truncated}, `truncated` counting the
    cells cut (visibly) to Excel's 32,767-character limit. Raises ExportFailed naming the step;
    the target is then untouched."""
    target = Path(out)
    step = "gather"
    try:
        anchor = history.anchor(db)
        vocabulary = store.ledger_vocabulary(db)
        lrows = ledger_rows_for(db, scope, as_of, on_progress)
        extra = _extra_columns(db, lrows.issue_ids())
        step = "writing"
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                truncated = write_ledger(lrows, fh, vocabulary=vocabulary, lang=lang,
                                         title=title, as_of=as_of, anchor=anchor,
                                         on_progress=on_progress, extra=extra)
                step = "save"
                fh.flush()
                os.fsync(fh.fileno())
            tmp.chmod(0o644)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except Exception as ex:
        raise ExportFailed("export", step, ex) from ex
    if on_progress:
        on_progress("save", 1, 1)
    return {"issues": len(lrows), "path": str(target), "anchor": anchor, "truncated": truncated}


def _extra_columns(db: sqlite_utils.Database, ids: list[int]
                   ) -> tuple[list[str], list[list[str | None]]] | None:
    """The office's own columns kept with these issues by imports (headers in first-seen
    order, one list of values per issue), or None when there are none."""
    kept = import_store.extras_of(db, ids)
    if not kept:
        return None
    headers: list[str] = []
    for iid in ids:
        for h in kept.get(iid, {}):
            # 备注 has a column of its own (LedgerRow.remarks)
            if h not in headers and h != REMARKS_HEADER:
                headers.append(h)
    if not headers:
        return None
    return headers, [[kept.get(iid, {}).get(h) for h in headers] for iid in ids]
