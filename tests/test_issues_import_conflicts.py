"""An import never silently reverts a newer change: a ledger exported by the system carries its
history anchor; a cell changed in the app after that is a conflict listed by row and column and
applied only for a row the user chose. A cell cut to Excel's limit, and U+FFFD standing in for
control characters, never overwrite the stored text."""
from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

from audit.__main__ import main
from audit.model import LedgerRowError
from audit.store import history
from audit.text_format import TRUNCATION_MARK
from audit.views import scope_for
from issues import import_service
from issues import service as issues
from issues.import_conflict_model import FILE, KEEP, ImportConflicts
from issues.ledger_service import export_ledger
from issues.ledger_write_format import COLUMNS
from tests import programme
from tests.conftest import AS_OF

TITLE = "外包专项审计整改台账"


def column(name: str) -> int:
    return next(i for i, c in enumerate(COLUMNS, 1) if c[0] == name)


@pytest.fixture
def prog(tmp_path: Path) -> programme.Programme:
    p = programme.build(tmp_path)
    first = p.new_issue("合同未经法律审核", unit="A")
    p.assign(first, deadline="2026-11-30")
    p.measure(first, deadline="2026-11-30")
    p.start(first)
    issues.update_progress(p.db, p.actors["rect"], first, version=None, progress="已起草制度",
                           at=p.at("2026-01-08"))
    second = p.new_issue("结算业务量未核对", unit="A", aspect="C1.2", day="2026-01-09")
    p.assign(second, deadline="2026-12-31", day="2026-01-09")
    return p


def exported(p: programme.Programme, tmp_path: Path) -> Path:
    out = tmp_path / "ledger.xlsx"
    export_ledger(p.db, scope_for(p.db, None), out, as_of=AS_OF, title=TITLE)
    return out


def edit_cells(path: Path, edits: dict[tuple[int, str], str]) -> bytes:
    """The workbook with cells (excel row, field) set, saved as bytes (as Excel would)."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    for (r, fld), value in edits.items():
        ws.cell(row=r, column=column(fld)).value = value
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def row_of(path: Path, code: str) -> int:
    ws = openpyxl.load_workbook(path).worksheets[0]
    return next(r for r in range(3, ws.max_row + 1)
                if ws.cell(row=r, column=column("code")).value == code)


def plan(p, data: bytes, choices=None):
    parsed = import_service.read_file(p.db, data, "ledger.xlsx")
    return import_service.plan_import(p.db, p.actors["lead"], parsed, filename="ledger.xlsx",
                                      choices=choices)


def code_of(p, issue_id: int) -> str:
    return p.db.conn.execute("SELECT code FROM issues WHERE id = ?", (issue_id,)).fetchone()[0]


def progress_of(p, issue_id: int) -> str:
    return p.db.conn.execute("SELECT progress FROM issues WHERE id = ?",
                             (issue_id,)).fetchone()[0]


def test_a_stale_ledger_lists_the_newer_edit_as_a_conflict_and_writes_nothing(prog, tmp_path):
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    before = history.anchor(prog.db)
    pl = plan(prog, path.read_bytes())
    [c] = pl.conflicts
    assert (c.row, c.column, c.file_value, c.value_now, c.changed_by, c.choice) == (
        row_of(path, code_of(prog, 1)), "整改进展", "已起草制度", "制度已印发", "rect", None)
    assert c.changed_at == prog.at("2026-02-01")
    with pytest.raises(ImportConflicts) as err:
        import_service.apply_import(prog.db, prog.actors["lead"], pl, prog.at("2026-02-02"))
    assert "row" in str(err.value) and "整改进展" in str(err.value)
    assert history.anchor(prog.db) == before
    assert progress_of(prog, 1) == "制度已印发"


def test_keeping_the_newer_value_applies_the_rest_of_the_row(prog, tmp_path):
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    r = row_of(path, code_of(prog, 1))
    data = edit_cells(path, {(r, "description"): "补充说明"})
    result = import_service.apply_import(prog.db, prog.actors["lead"],
                                         plan(prog, data, {r: KEEP}), prog.at("2026-02-02"))
    assert result.counts["update"] == 1
    assert progress_of(prog, 1) == "制度已印发"
    assert prog.db.conn.execute("SELECT description FROM issues WHERE id = 1").fetchone()[0] \
        == "补充说明"


def test_a_row_chosen_for_the_file_overwrites_the_newer_value(prog, tmp_path):
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    r = row_of(path, code_of(prog, 1))
    import_service.apply_import(prog.db, prog.actors["lead"],
                                plan(prog, path.read_bytes(), {r: FILE}), prog.at("2026-02-02"))
    assert progress_of(prog, 1) == "已起草制度"


def test_a_deadline_changed_after_the_export_is_a_conflict_too(prog, tmp_path):
    path = exported(prog, tmp_path)
    from owners import service as owners
    owners.assign_issue(prog.db, prog.actors["lead2"], 2, version=None,
                        deadline="2027-01-31", at=prog.at("2026-02-01"))
    [c] = plan(prog, path.read_bytes()).conflicts
    assert (c.column, c.changed_by, c.value_now) == ("整改时限", "lead2", "2027-01-31")


def test_an_unchanged_export_imports_nothing_and_has_no_conflicts(prog, tmp_path):
    pl = plan(prog, exported(prog, tmp_path).read_bytes())
    assert pl.conflicts == [] and not pl.changes_anything and pl.anchor_note is None


def test_the_cli_refuses_a_stale_ledger_with_the_list_and_accept_rows_imports(
        prog, tmp_path, capsys):
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    r = row_of(path, code_of(prog, 1))
    code = main(["import", str(path), "--db", str(prog.path), "--as-user", "lead"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"row {r}, column '整改进展'" in err and "rect" in err and "--accept-rows" in err
    assert progress_of(prog, 1) == "制度已印发"
    code = main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--accept-rows", str(r), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["conflicts"][0]["choice"] == "file"
    assert progress_of(prog, 1) == "已起草制度"


def test_the_cli_keep_newer_keeps_the_edit(prog, tmp_path, capsys):
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--keep-newer"]) == 0
    assert progress_of(prog, 1) == "制度已印发"


def test_a_100_kb_progress_note_survives_the_roundtrip(prog, tmp_path):
    note = ("整改进展记录。" * 15_000)[:100_000]
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None, progress=note,
                           at=prog.at("2026-01-20"))
    path = exported(prog, tmp_path)
    cell = openpyxl.load_workbook(path).worksheets[0].cell(
        row=row_of(path, code_of(prog, 1)), column=column("progress")).value
    assert cell.endswith(TRUNCATION_MARK) and len(cell) <= 32_767
    pl = plan(prog, path.read_bytes())
    assert not pl.changes_anything
    import_service.apply_import(prog.db, prog.actors["lead"], pl, prog.at("2026-01-21"))
    assert progress_of(prog, 1) == note


def test_an_edited_cut_cell_is_refused_naming_row_and_column(prog, tmp_path):
    note = "长" * 40_000
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None, progress=note,
                           at=prog.at("2026-01-20"))
    path = exported(prog, tmp_path)
    r = row_of(path, code_of(prog, 1))
    data = edit_cells(path, {(r, "progress"): "改过" + "长" * 100 + TRUNCATION_MARK})
    with pytest.raises(LedgerRowError) as err:
        plan(prog, data)
    assert (err.value.row, err.value.column) == (r, "整改进展")
    assert progress_of(prog, 1) == note


def test_control_characters_survive_the_roundtrip(prog, tmp_path):
    text = "第一段\x07响铃\x0b竖排\x1f单元"
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None, progress=text,
                           at=prog.at("2026-01-20"))
    path = exported(prog, tmp_path)
    pl = plan(prog, path.read_bytes())
    assert not pl.changes_anything
    import_service.apply_import(prog.db, prog.actors["lead"], pl, prog.at("2026-01-21"))
    assert progress_of(prog, 1) == text


def test_an_edited_cell_that_would_replace_control_characters_is_refused(prog, tmp_path):
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="响铃\x07之后", at=prog.at("2026-01-20"))
    path = exported(prog, tmp_path)
    r = row_of(path, code_of(prog, 1))
    with pytest.raises(LedgerRowError) as err:
        plan(prog, edit_cells(path, {(r, "progress"): "响铃\ufffd之后，已完成"}))
    assert (err.value.row, err.value.column) == (r, "整改进展")
    assert "U+FFFD" in err.value.reason


def test_a_ledger_without_an_anchor_says_so(prog, tmp_path):
    path = exported(prog, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb.properties.identifier = None
    buf = io.BytesIO()
    wb.save(buf)
    assert plan(prog, buf.getvalue()).anchor_note == "none"


def test_the_import_page_lists_the_conflict_and_keeps_the_newer_value_by_default(
        prog, tmp_path, make_app):
    from tests.conftest import open_page, sign_in
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    r = row_of(path, code_of(prog, 1))
    data = edit_cells(path, {(r, "description"): "补充说明"})
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = open_page(sign_in(make_app(prog.path), "lead", programme.PASSWORD), "import")
    app.file_uploader(key="issues.import.file.0").set_value(
        ("台账.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    app.run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader if "导出后" in s.value]
    table = next(d.value for d in app.dataframe if "修改人" in d.value.columns)
    assert list(table["列"]) == ["整改进展"] and list(table["修改人"]) == ["rect"]
    assert app.radio(key=f"issues.import.conflict.{r}").value == "keep"
    app.button(key="issues.import.confirm").click()
    app.run()
    assert not app.exception, app.exception
    assert progress_of(prog, 1) == "制度已印发"
    assert prog.db.conn.execute("SELECT description FROM issues WHERE id = 1").fetchone()[0] \
        == "补充说明"


@pytest.mark.parametrize("lang, words", [("zh", "压缩炸弹"), ("en", "zip bomb")])
def test_a_file_refusal_shows_the_reason_in_words_and_the_cli_s_full_message(lang, words):
    from audit.messages import error_text
    from audit.model import LedgerFileError
    exc = LedgerFileError("xl/worksheets/sheet1.xml expands to 2,000,000,000 bytes",
                          reason="zip_bomb")
    text = error_text(exc, lang)
    assert words in text and str(exc) in text and "zip_bomb" not in text


def test_an_item_returned_after_the_export_is_not_submitted_again_by_the_stale_file(
        prog, tmp_path):
    from issues.model import Move
    p = prog
    p.make_closable(1, day="2026-01-20")
    p.submit(1, "2026-01-20")
    path = exported(p, tmp_path)
    issues.move_issue(p.db, p.actors["lead"], 1, Move.RETURN, version=None,
                      at=p.at("2026-01-22"), reason="佐证不全")
    pl = plan(p, path.read_bytes())
    assert [(c.column, c.value_now, c.file_value) for c in pl.conflicts] == [
        ("整改状态", "in_progress", "submitted")]
    result = import_service.apply_import(p.db, p.actors["lead"],
                                         plan(p, path.read_bytes(), {pl.conflicts[0].row: KEEP}),
                                         p.at("2026-01-23"))
    assert p.status(1) == "in_progress" and result.history_records == 0


def test_a_dry_run_lists_the_conflicts_and_exits_0(prog, tmp_path, capsys):
    path = exported(prog, tmp_path)
    issues.update_progress(prog.db, prog.actors["rect"], 1, version=None,
                           progress="制度已印发", at=prog.at("2026-02-01"))
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "changed since the export" in out and "整改进展" in out
    assert progress_of(prog, 1) == "制度已印发"
