"""The ledger sent out and returned (下发—填报—回收): a lead exports a unit's ledger, the unit's
rectifier fills in progress and measure completion and uploads it back. Only the progress of
items and measures assigned to the uploader is taken; any other difference is refused by row
and column, and the whole upload with it."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from audit.__main__ import main
from audit.model import LedgerRowError
from audit.store import history
from audit.views import scope_for
from issues import return_service
from issues import service as issues
from issues.ledger_format import format_measures, parse_measures
from issues.ledger_service import export_ledger
from issues.ledger_write_format import COLUMNS
from issues.return_model import ReturnChanged, ReturnRefused
from tests import programme
from tests.conftest import AS_OF

TITLE = "外包专项审计整改台账"
UPLOAD_AT = "2026-02-10T10:00:00+08:00"


def column(name: str) -> int:
    return next(i for i, c in enumerate(COLUMNS, 1) if c[0] == name)


@pytest.fixture
def prog(tmp_path: Path) -> programme.Programme:
    """Unit A: two items of rect (张三), one of 李四 (owner_a); unit B: one of rect_b."""
    p = programme.build(tmp_path)
    for title, day in (("合同未经法律审核", "2026-01-05"), ("结算业务量未核对", "2026-01-06")):
        iid = p.new_issue(title, unit="A", day=day)
        p.assign(iid, deadline="2026-11-30", day=day)
        p.measure(iid, deadline="2026-11-30", day=day, title="补充法律审核")
        p.measure(iid, deadline="2026-10-31", day=day, title="开展比价")
        p.start(iid, day="2026-01-07")
    other = p.new_issue("外包人员未签保密协议", unit="A", aspect="C1.2", day="2026-01-08")
    p.assign(other, deadline="2026-12-31", responsible="owner_a", day="2026-01-08")
    p.measure(other, deadline="2026-12-31", owner="owner_a", day="2026-01-08")
    far = p.new_issue("费用结算无依据", unit="B", aspect="C2.1", day="2026-01-09")
    p.assign(far, deadline="2026-12-31", responsible="rect_b", day="2026-01-09")
    return p


def unit_ledger(p: programme.Programme, tmp_path: Path, unit: str | None = "A") -> Path:
    """What the lead sends out: the ledger of one unit (the export's --unit scope)."""
    out = tmp_path / f"ledger-{unit}.xlsx"
    export_ledger(p.db, scope_for(p.db, p.actors["lead"], unit_code=unit), out, as_of=AS_OF,
                  title=TITLE)
    return out


class Filled:
    """The sent-out workbook as the rectifier fills it in."""

    def __init__(self, path: Path):
        self.wb = openpyxl.load_workbook(path)
        self.ws = self.wb.worksheets[0]

    def row(self, title: str) -> int:
        return next(r for r in range(3, self.ws.max_row + 1)
                    if self.ws.cell(row=r, column=column("title")).value == title)

    def set(self, title: str, fld: str, value) -> int:
        r = self.row(title)
        self.ws.cell(row=r, column=column(fld)).value = value
        return r

    def mark_done(self, title: str, measure: int, on: dt.date | None = None) -> int:
        """Mark a measure 已完成 (with the completion date `on` written after it, if given)."""
        r = self.row(title)
        cell = self.ws.cell(row=r, column=column("measures"))
        lines = list(parse_measures(cell.value, r, "measures"))
        lines[measure] = replace(lines[measure], done=True, completed_on=on)
        cell.value = format_measures(lines)
        return r

    def measures_text(self, title: str) -> str:
        return self.ws.cell(row=self.row(title), column=column("measures")).value

    def bytes(self) -> bytes:
        buf = io.BytesIO()
        self.wb.save(buf)
        return buf.getvalue()


def preview(p, data: bytes, who: str = "rect", at: str = UPLOAD_AT):
    return return_service.preview_return(p.db, p.actors[who], data, "回收.xlsx", at=at)


def snapshot(p) -> tuple:
    return (history.anchor(p.db),
            p.db.conn.execute("SELECT id, progress, status, version FROM issues ORDER BY id"
                              ).fetchall(),
            p.db.conn.execute("SELECT id, status, completed_on, version FROM measures "
                              "ORDER BY id").fetchall())


def test_a_forbidden_cell_is_refused_by_row_and_column_and_nothing_is_written(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.set("合同未经法律审核", "progress", "已完成法律审核制度修订")
    f.mark_done("合同未经法律审核", 0)
    r = f.set("结算业务量未核对", "deadline", "2027-03-31")
    before = snapshot(prog)
    pv = preview(prog, f.bytes())
    [refusal] = pv.diff.refusals
    assert (refusal.row, refusal.column, refusal.why) == (r, "整改时限", "not_progress")
    assert (refusal.file_value, refusal.value_now) == ("2027-03-31", "2026-11-30")
    with pytest.raises(ReturnRefused) as err:
        return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    assert f"row {r}" in str(err.value) and "整改时限" in str(err.value)
    assert snapshot(prog) == before


def test_without_it_exactly_the_progress_changes_are_applied_one_record_each(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    r1 = f.set("合同未经法律审核", "progress", "已完成法律审核制度修订")
    f.mark_done("合同未经法律审核", 0)
    r2 = f.mark_done("结算业务量未核对", 1)
    before = snapshot(prog)
    pv = preview(prog, f.bytes())
    assert pv.diff.refusals == []
    assert [(c.row, c.kind, c.measure_title) for c in pv.diff.changes] == [
        (r1, "progress", ""), (r1, "measure_done", "补充法律审核"), (r2, "measure_done", "开展比价")]
    # A done mark without a date: completed on the day of the upload, as the preview says.
    assert [c.completed_on for c in pv.diff.changes] == [None, "2026-02-10", "2026-02-10"]
    seq = history.anchor(prog.db)[0]
    result = return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    records = prog.db.conn.execute(
        "SELECT entity, entity_id, field, old, new, actor FROM history WHERE seq > ? "
        "ORDER BY seq", (seq,)).fetchall()
    m = {title: mid for mid, title, iid in prog.db.conn.execute(
        "SELECT id, title, issue_id FROM measures") if iid == 1}
    m2 = prog.db.conn.execute("SELECT id FROM measures WHERE issue_id = 2 AND title = '开展比价'"
                              ).fetchone()[0]
    assert [r[:5] for r in records[:-1]] == [
        ("issue", 1, "progress", "", "已完成法律审核制度修订"),
        ("measure", m["补充法律审核"], "status", "todo", "done"),
        ("measure", m["补充法律审核"], "completed_on", None, "2026-02-10"),
        ("measure", m2, "status", "todo", "done"),
        ("measure", m2, "completed_on", None, "2026-02-10")]
    assert all(r[5] == "rect" for r in records)
    assert records[-1][:3] == ("import", None, "file")     # the upload itself, as the import
    assert result.history_records == len(records)
    after = snapshot(prog)
    changed_issues = [a for a, b in zip(after[1], before[1]) if a != b]
    assert [i[0] for i in changed_issues] == [1]
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert main(["verify", "--db", str(prog.path)]) == 0


def test_another_persons_item_is_refused_even_within_the_unit(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    r = f.set("外包人员未签保密协议", "progress", "已签订")
    [refusal] = preview(prog, f.bytes()).diff.refusals
    assert (refusal.row, refusal.column, refusal.why) == (r, "整改进展", "not_assigned")


def test_another_units_row_is_refused(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path, unit=None))
    r = f.row("费用结算无依据")
    refusals = preview(prog, f.bytes()).diff.refusals
    assert [(x.row, x.column, x.why) for x in refusals] == [(r, "问题编号", "out_of_scope")]


def test_a_title_and_a_measure_deadline_are_refused(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    r = f.set("合同未经法律审核", "title", "合同审核")
    cell = f.ws.cell(row=r, column=column("measures"))
    cell.value = cell.value.replace("2026-10-31", "2027-10-31")
    refusals = preview(prog, f.bytes()).diff.refusals
    assert sorted((x.column, x.why) for x in refusals) == [
        ("整改措施", "measures_changed"), ("问题摘要", "not_progress")]


def test_a_progress_note_changed_in_the_app_after_the_export_is_refused(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    issues.update_progress(prog.db, prog.actors["lead"], 1, version=None,
                           progress="牵头人补充说明", at="2026-02-01T09:00:00+08:00")
    r = f.set("合同未经法律审核", "progress", "已完成")
    [refusal] = preview(prog, f.bytes()).diff.refusals
    assert (refusal.row, refusal.why, refusal.who) == (r, "newer", "lead")


def test_a_change_between_preview_and_apply_refuses_the_apply(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.set("合同未经法律审核", "progress", "已完成")
    pv = preview(prog, f.bytes())
    issues.update_progress(prog.db, prog.actors["lead"], 1, version=None,
                           progress="牵头人补充说明", at="2026-02-09T09:00:00+08:00")
    before = snapshot(prog)
    with pytest.raises(ReturnRefused) as err:
        return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    assert err.value.refusals[0].why == "newer"
    assert snapshot(prog) == before


def test_without_an_anchor_a_change_since_the_preview_still_refuses_the_apply(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.wb.properties.identifier = None
    f.mark_done("合同未经法律审核", 0)
    pv = preview(prog, f.bytes())
    assert pv.parsed.anchor is None and len(pv.diff.changes) == 1
    mid = pv.diff.changes[0].measure_id
    issues.set_measure_status(prog.db, prog.actors["rect"], mid, version=None, status="doing",
                              at="2026-02-09T09:00:00+08:00")
    before = snapshot(prog)
    with pytest.raises(ReturnChanged):
        return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    assert snapshot(prog) == before


def test_an_unchanged_ledger_changes_nothing(prog, tmp_path):
    pv = preview(prog, unit_ledger(prog, tmp_path).read_bytes())
    assert pv.diff.refusals == [] and pv.diff.changes == [] and not pv.diff.acceptable


def measure_history(p, seq: int) -> list[tuple]:
    return p.db.conn.execute(
        "SELECT entity, entity_id, field, old, new, actor FROM history WHERE seq > ? "
        "AND entity = 'measure' ORDER BY seq", (seq,)).fetchall()


def test_a_measure_marked_done_with_a_date_records_that_date(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    r = f.mark_done("合同未经法律审核", 0, on=dt.date(2026, 1, 20))
    assert "已完成：2026-01-20" in f.measures_text("合同未经法律审核")
    pv = preview(prog, f.bytes())
    assert pv.diff.refusals == []
    [change] = pv.diff.changes
    assert (change.row, change.kind, change.new, change.completed_on) == (
        r, "measure_done", "done", "2026-01-20")
    seq = history.anchor(prog.db)[0]
    return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    mid = change.measure_id
    assert measure_history(prog, seq) == [
        ("measure", mid, "status", "todo", "done", "rect"),
        ("measure", mid, "completed_on", None, "2026-01-20", "rect")]
    assert prog.db.conn.execute("SELECT status, completed_on FROM measures WHERE id = ?",
                                (mid,)).fetchone() == ("done", "2026-01-20")
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert main(["verify", "--db", str(prog.path)]) == 0


def test_the_next_export_shows_the_completion_date_and_returns_unchanged(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.mark_done("合同未经法律审核", 1, on=dt.date(2026, 2, 3))
    f.mark_done("结算业务量未核对", 0)
    return_service.apply_return(prog.db, prog.actors["rect"], preview(prog, f.bytes()),
                                at=UPLOAD_AT)
    again = Filled(unit_ledger(prog, tmp_path))
    assert "开展比价（责任人：张三；时限：2026-10-31；已完成：2026-02-03）" in again.measures_text("合同未经法律审核")
    assert "补充法律审核（责任人：张三；时限：2026-11-30；已完成：2026-02-10）" in again.measures_text("结算业务量未核对")
    pv = preview(prog, again.bytes())
    assert pv.diff.refusals == [] and pv.diff.changes == []


def test_a_done_measures_date_corrected_in_the_file_is_a_change_of_its_date(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.mark_done("合同未经法律审核", 0)
    first = "2026-02-05T10:00:00+08:00"
    return_service.apply_return(prog.db, prog.actors["rect"], preview(prog, f.bytes(), at=first),
                                at=first)
    again = Filled(unit_ledger(prog, tmp_path))
    r = again.mark_done("合同未经法律审核", 0, on=dt.date(2026, 2, 1))
    pv = preview(prog, again.bytes())
    [change] = pv.diff.changes
    assert (change.row, change.kind, change.old, change.new) == (
        r, "measure_date", "2026-02-05", "2026-02-01")
    seq = history.anchor(prog.db)[0]
    return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    assert measure_history(prog, seq) == [
        ("measure", change.measure_id, "completed_on", "2026-02-05", "2026-02-01", "rect")]


def test_a_completion_date_after_the_upload_day_is_refused_by_row_and_column(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.set("合同未经法律审核", "progress", "已完成法律审核制度修订")
    r = f.mark_done("结算业务量未核对", 1, on=dt.date(2026, 2, 11))
    before = snapshot(prog)
    pv = preview(prog, f.bytes())
    [refusal] = pv.diff.refusals
    assert (refusal.row, refusal.column, refusal.why) == (r, "整改措施", "completed_future")
    assert "2026-02-11" in refusal.file_value
    with pytest.raises(ReturnRefused):
        return_service.apply_return(prog.db, prog.actors["rect"], pv, at=UPLOAD_AT)
    assert snapshot(prog) == before


def test_a_completion_date_that_is_no_date_is_an_error_naming_row_and_column(prog, tmp_path):
    f = Filled(unit_ledger(prog, tmp_path))
    f.set("合同未经法律审核", "progress", "已完成法律审核制度修订")
    r = f.row("结算业务量未核对")
    cell = f.ws.cell(row=r, column=column("measures"))
    cell.value = cell.value.replace("时限：2026-10-31）", "时限：2026-10-31；已完成：2026-02-30）")
    assert "2026-02-30" in cell.value
    before = snapshot(prog)
    with pytest.raises(LedgerRowError) as err:
        preview(prog, f.bytes())
    assert (err.value.row, err.value.column) == (r, "整改措施")
    assert snapshot(prog) == before


# --- the page (AppTest) ---------------------------------------------------------------------


@pytest.mark.parametrize("lang, texts", [
    ("zh", {"title": "台账回收", "refusals": "不能由本次上传修改的单元格", "done": "已写入",
            "why": "只能填写整改进展", "column": "列", "done_on": "已完成（2026-01-20）"}),
    ("en", {"title": "Ledger return", "refusals": "Cells this upload may not change",
            "done": "change(s) written", "why": "only the progress note", "column": "Column",
            "done_on": "Done (2026-01-20)"})])
def test_the_return_page_uploads_previews_and_applies(prog, tmp_path, make_app, lang, texts):
    from tests.conftest import open_page, shown, sign_in
    path = unit_ledger(prog, tmp_path)
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = sign_in(make_app(prog.path), "rect", programme.PASSWORD)
    if lang == "en":
        app.session_state["audit.lang"] = "en"
    app = open_page(app, "ledger-return")
    assert not app.exception, app.exception
    assert any(texts["title"] in t.value for t in app.title)
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    bad = Filled(path)
    bad.set("合同未经法律审核", "progress", "已完成法律审核制度修订")
    r = bad.set("结算业务量未核对", "deadline", "2027-03-31")
    app.file_uploader(key="issues.return.file").set_value(("回收.xlsx", bad.bytes(), mime))
    app.run()
    assert not app.exception, app.exception
    assert any(texts["refusals"] in s.value for s in app.subheader)
    table = next(d.value for d in app.dataframe if texts["column"] in d.value.columns
                 and len(d.value.columns) == 7)
    assert list(table.iloc[:, 0]) == [r] and texts["why"] in table.iloc[0, 2]
    assert not [b for b in app.button if b.key == "issues.return.confirm"]
    good = Filled(path)
    good.set("合同未经法律审核", "progress", "已完成法律审核制度修订")
    good.mark_done("合同未经法律审核", 0, on=dt.date(2026, 1, 20))
    app.file_uploader(key="issues.return.file").set_value(("回收.xlsx", good.bytes(), mime))
    app.run()
    assert not app.exception, app.exception
    assert {m.label: m.value for m in app.metric}.values() and not app.error
    changes = next(d.value for d in app.dataframe if len(d.value.columns) == 6)
    assert texts["done_on"] in list(changes.iloc[:, 5])     # the date that will be recorded
    app.button(key="issues.return.confirm").click()
    app.run()
    assert not app.exception, app.exception
    assert any(texts["done"] in shown(s.value) for s in app.success)
    assert prog.db.conn.execute("SELECT progress FROM issues WHERE id = 1").fetchone()[0] \
        == "已完成法律审核制度修订"


def test_a_deadline_moved_in_the_app_after_the_export_is_named_as_newer_not_as_the_uploaders(
        prog, tmp_path):
    from owners import service as owners
    f = Filled(unit_ledger(prog, tmp_path))
    owners.extend_deadline(prog.db, prog.actors["lead2"], 2, version=None,
                           new_deadline="2026-12-15", reason="会议决定",
                           at="2026-02-01T09:00:00+08:00")
    r = f.set("合同未经法律审核", "progress", "已完成")
    [refusal] = preview(prog, f.bytes()).diff.refusals
    assert (refusal.row, refusal.column, refusal.why, refusal.who) == (
        f.row("结算业务量未核对"), "整改时限", "newer", "lead2")
    assert r != refusal.row


def test_a_file_that_is_not_a_workbook_is_refused_in_words_on_the_page(prog, make_app):
    from tests.conftest import open_page, shown, sign_in
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = open_page(sign_in(make_app(prog.path), "rect", programme.PASSWORD), "ledger-return")
    app.file_uploader(key="issues.return.file").set_value(
        ("回收.xlsx", b"not a workbook at all", "application/octet-stream"))
    app.run()
    assert not app.exception, app.exception
    [error] = app.error
    assert "台账文件无法读取" in shown(error.value) and "详情" in shown(error.value)
