"""Exports built in the worker process (exports.export_worker via export_job_service): the
same file as built in process, progress reported step by step, refusals in both languages, and
the web process's memory not growing with the programme while it exports."""
from __future__ import annotations

import resource
import zipfile
from datetime import date
from pathlib import Path

import pytest

from audit import login_service
from audit.store.db import open_database
from audit.views import scope_for
from exports.export_job_service import WorkerRefused, run_export
from exports.pack_model import PackOptions
from exports.pack_service import build_pack
from exports.pack_views import scope_label
from tests.conftest import AS_OF, copy_database

# Parts that hold the time the file was written, not what it says.
TIMED_PARTS = {"docProps/core.xml"}


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n not in TIMED_PARTS}


def _request(db_path: Path, out: Path, kind: str, user_id: int, **more) -> dict:
    return {"db": str(db_path), "kind": kind, "user_id": user_id, "as_of": AS_OF.isoformat(),
            "since": date(2026, 11, 9).isoformat(), "unit_code": None, "category": None,
            "stream": None, "lang": "zh", "attachments": "auto", "out": str(out), **more}


def _user(db, name: str) -> int:
    return db.conn.execute("SELECT id FROM users WHERE username = ?", (name,)).fetchone()[0]


def test_the_pack_built_by_the_worker_equals_the_pack_built_in_process(demo_path, tmp_path):
    path = copy_database(demo_path, tmp_path / "demo.db")
    db = open_database(path)
    uid = _user(db, "manager")
    actor = login_service.actor_for(db, uid)
    scope = scope_for(db, actor)
    here = tmp_path / "here.docx"
    build_pack(db, scope, here, as_of=AS_OF, since=date(2026, 11, 9), lang="zh",
               label=scope_label(db, actor, "zh", unit_code=None, category_codes=[], stream=None),
               user=actor.username,
               options=PackOptions("auto"))
    steps = []
    there = tmp_path / "there.docx"
    summary = run_export(_request(path, there, "report", uid),
                         on_progress=lambda step, done, total: steps.append(step))
    assert _parts(there) == _parts(here)
    assert summary["issues"] > 0
    assert list(dict.fromkeys(steps)) == ["gather", "charts", "sections", "save"]


def test_the_ledger_built_by_the_worker_holds_the_same_sheets_as_in_process(demo_path, tmp_path):
    from audit import messages
    from issues.ledger_service import export_ledger
    path = copy_database(demo_path, tmp_path / "demo.db")
    db = open_database(path)
    uid = _user(db, "lead")
    actor = login_service.actor_for(db, uid)
    here = tmp_path / "here.xlsx"
    export_ledger(db, scope_for(db, actor), here, as_of=AS_OF, lang="zh",
                  title=messages.t("export.title", "zh"))
    there = tmp_path / "there.xlsx"
    run_export(_request(path, there, "export", uid))
    assert _parts(there) == _parts(here)


def test_a_refusal_in_the_worker_comes_back_in_both_languages(demo_path, tmp_path):
    path = copy_database(demo_path, tmp_path / "demo.db")
    db = open_database(path)
    with pytest.raises(WorkerRefused) as refused:
        run_export(_request(path, tmp_path / "x.docx", "report", _user(db, "lead"),
                            unit_code="NO-SUCH-UNIT"))
    assert set(refused.value.texts) == {"zh", "en"}
    assert "NO-SUCH-UNIT" in refused.value.texts["zh"]
    assert not (tmp_path / "x.docx").exists()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_exporting_a_large_programme_from_the_page_does_not_grow_the_web_process(
        tmp_path, make_app):
    """4,000 issues (~20,000 measures), the pack built from the page: the web process grows by
    less than the bound (the build runs in the worker)."""
    from audit.generate import generate
    from tests.conftest import open_page, sign_in
    from tests.programme import PASSWORD
    from audit import accounts_service
    from audit.store.paths import evidence_dir
    path = tmp_path / "big.db"
    db = open_database(path)
    generate(db, issues=4000, seed=3, as_of=AS_OF, evidence_root=evidence_dir(path))
    accounts_service.create_user(db, None, "bench_lead", PASSWORD, "lead",
                                 at="2026-11-23T08:00:00+08:00")
    db.conn.close()
    app = make_app(path)
    app.default_timeout = 600
    sign_in(app, "bench_lead", PASSWORD)
    open_page(app, "export")
    assert not app.exception
    before = _rss_mb()
    app.button(key="exports.io.report").click()
    app.run()
    assert not app.exception and not app.error
    downloads = [b for b in app.main.children.values() if type(b).__name__ == "DownloadButton"]
    assert len(downloads) == 1
    grown = _rss_mb() - before
    assert grown < 60, f"the web process grew by {grown:.0f} MB while exporting"
