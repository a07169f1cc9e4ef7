"""The Excel ledger export: database → LedgerRows → workbook, checked by reopening the file with
openpyxl and by reading it back with issues.ledger_read_format.read_ledger (export → import changes nothing)."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from audit.model import ExportFailed
from audit.store import history
from audit.views import figures, scope_for
from issues import ledger_service
from issues import ledger_views as ledger_export
from issues import service as issues
from issues.ledger_service import export_ledger
from issues.ledger_views import issue_records, ledger_rows
from issues.ledger_write_format import COLUMNS
from owners import service as owners
from tests import programme
from tests.conftest import AS_OF
from tests.ledger_factory import read_ledger

TITLE = "外包专项审计整改台账"


def column(name: str) -> int:
    """1-based column of a ledger field."""
    return next(i for i, c in enumerate(COLUMNS, 1) if c[0] == name)


@pytest.fixture
def prog(tmp_path: Path) -> programme.Programme:
    """The hand-built programme with issues that exercise every ledger field and trap."""
    p = programme.build(tmp_path)
    lead = p.actors["lead"]
    first = p.new_issue("=1+1", unit="A", amount=1234.5, sources=("AUD2024", "AUD2025"),
                        streams=("audit", "cleanup"), focus=("F1", "F3"))
    p.full_cycle(first, deadline="2026-03-31", done="2026-03-20", closed="2026-03-25")
    second = p.new_issue("外包单价高于市场价\x0b（控制字符）", unit="A1", aspect="C1.2",
                         day="2026-02-01")
    p.assign(second, deadline="2026-11-30", day="2026-02-02")
    p.measure(second, deadline="2026-11-15", title="@开展比价", day="2026-02-02")
    p.measure(second, deadline="2026-11-30", title="重新测算单价（含运费）", day="2026-02-03")
    p.start(second, day="2026-02-04")
    issues.record_root_cause(p.db, lead, second, new_cause_title="结算依据不足；缺少校验",
                             at=p.at("2026-02-05"))
    third = p.new_issue("结算业务量未核对", unit="B", aspect="C2.1", day="2026-03-01",
                        streams=("cleanup",), focus=())
    p.assign(third, deadline="2026-06-30", responsible="rect_b", day="2026-03-02")
    p.measure(third, deadline="2026-06-30", owner="rect_b", day="2026-03-02")
    p.start(third, day="2026-03-03")
    return p


def export(db, tmp_path: Path, actor=None, lang: str = "zh", **scope) -> tuple[Path, list]:
    """Export a scope to a file; return the path and the rows that went into it."""
    sc = scope_for(db, actor, **scope)
    out = tmp_path / f"ledger-{lang}.xlsx"
    export_ledger(db, sc, out, as_of=AS_OF, lang=lang, title=TITLE)
    return out, ledger_rows(issue_records(db, sc, AS_OF))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_exported_demo_ledger_reads_back_equal_to_the_rows_exported(demo_path, tmp_path, lang):
    from audit.store.db import open_database
    db = open_database(demo_path)
    out, rows = export(db, tmp_path, lang=lang)
    parsed = read_ledger(out.read_bytes(), out.name)
    assert len(rows) == 38
    assert parsed.rows == rows
    assert parsed.skipped == []  # the record anchor is in the properties, not a row
    assert openpyxl.load_workbook(out).properties.identifier.startswith("anchor:")


def test_programme_ledger_round_trip_keeps_sources_streams_focus_causes_and_measures(prog,
                                                                                    tmp_path):
    out, rows = export(prog.db, tmp_path)
    parsed = read_ledger(out.read_bytes(), out.name)
    assert parsed.rows == rows
    by_title = {r.title: r for r in parsed.rows}
    first = by_title["=1+1"]
    assert first.audit_name == "外包专项审计；成本费用审计"
    assert (first.audit_year, first.audit_level) == (2024, "group")
    assert first.streams == ("cleanup", "audit") and first.focus == ("F1", "F3")
    assert first.status == "closed" and first.closed_on == dt.date(2026, 3, 25)
    assert first.amount == 1234.5 and first.responsible == "张三"
    second = next(r for r in parsed.rows if r.title.startswith("外包单价"))
    assert second.title == "外包单价高于市场价\ufffd（控制字符）"
    assert [m.title for m in second.measures] == ["@开展比价", "重新测算单价（含运费）"]
    assert second.measures[0].owner == "张三"
    assert second.measures[0].deadline == dt.date(2026, 11, 15)
    # a separator inside a cause title would split it into two causes on import
    assert second.causes == ("结算依据不足，缺少校验",)
    assert second.warning == "amber" and second.status == "in_progress"
    third = by_title["结算业务量未核对"]
    assert third.warning == "red" and third.unit == "乙市分公司"


def test_formula_title_is_neutralised_in_the_cell_and_reads_back_unchanged(prog, tmp_path):
    out, _ = export(prog.db, tmp_path)
    ws = openpyxl.load_workbook(out).worksheets[0]
    titles = [ws.cell(r, column("title")) for r in range(3, ws.max_row + 1)]
    formula = next(c for c in titles if c.value and "1+1" in c.value)
    assert formula.value == "'=1+1" and formula.data_type == "s"
    measures = [ws.cell(r, column("measures")).value or "" for r in range(3, ws.max_row + 1)]
    assert any("1. @开展比价" in m for m in measures)  # numbered: no leading @ left to run
    parsed = read_ledger(out.read_bytes(), out.name)
    assert "=1+1" in {r.title for r in parsed.rows}


def test_ledger_sheet_has_title_header_text_codes_status_validation_and_warning_fills(
        prog, tmp_path):
    out, rows = export(prog.db, tmp_path)
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    assert ws["A1"].value == f"{TITLE}（截至2026年11月23日）"
    assert [c.value for c in ws[2]] == [c[1] for c in COLUMNS]
    assert ws.max_row == 2 + len(rows)  # title, header, one row per issue (anchor: properties)
    assert wb.properties.identifier.startswith("anchor:")
    code = ws.cell(3, column("code"))
    assert code.data_type == "s" and code.number_format == "@"
    validations = ws.data_validations.dataValidation
    assert any(v.type == "list" for v in validations)
    warnings = {ws.cell(r, column("warning")).value: ws.cell(r, column("warning")).fill.fgColor.rgb
                for r in range(3, 3 + len(rows))}
    assert warnings["红"].endswith("FFC7CE") and warnings["黄"].endswith("FFEB9C")
    seq, digest = history.anchor(prog.db)
    assert wb.properties.identifier == f"anchor:{seq}:{digest}"


def test_english_ledger_has_english_headers_and_reads_back(prog, tmp_path):
    out, rows = export(prog.db, tmp_path, lang="en")
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert [c.value for c in ws[2]][:3] == ["No.", "Code", "Category"]
    assert read_ledger(out.read_bytes(), out.name).rows == rows


def test_export_holds_one_row_per_issue_in_the_acting_users_scope(prog, tmp_path):
    manager = prog.actors["manager"]  # unit A and its county A1
    out, rows = export(prog.db, tmp_path, actor=manager)
    assert len(rows) == figures(prog.db, scope_for(prog.db, manager), AS_OF)["issues"] == 2
    assert {r.unit for r in read_ledger(out.read_bytes(), out.name).rows} == {"甲市分公司",
                                                                                "甲县分公司"}
    # asking for another unit does not widen the manager's scope
    _, other = export(prog.db, tmp_path, actor=manager, unit_code="B")
    assert other == []


def test_category_and_stream_narrow_the_export(prog, tmp_path):
    _, rows = export(prog.db, tmp_path, category_codes=["C2"])
    assert [r.title for r in rows] == ["结算业务量未核对"]
    _, rows = export(prog.db, tmp_path, stream="audit")
    assert {r.title for r in rows} == {"=1+1", "外包单价高于市场价\ufffd（控制字符）"}


def test_measure_owner_with_reserved_characters_is_written_so_it_reads_back(prog, tmp_path):
    prog.db.conn.execute("UPDATE people SET name = '张三（副）' WHERE id = ?",
                         (prog.people["rect_a"],))
    out, rows = export(prog.db, tmp_path)
    assert read_ledger(out.read_bytes(), out.name).rows == rows
    assert any(m.owner == "张三 副" for r in rows for m in r.measures)


def test_failed_export_names_the_step_and_leaves_no_file(prog, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(ledger_service, "write_ledger", broken)
    out = tmp_path / "ledger.xlsx"
    with pytest.raises(ExportFailed) as caught:
        export_ledger(prog.db, scope_for(prog.db, None), out, as_of=AS_OF, title=TITLE)
    assert caught.value.step == "writing"
    assert "disk full" in str(caught.value)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ledger.xlsx")]


def test_failed_export_keeps_the_previous_file_untouched(prog, tmp_path, monkeypatch):
    out = tmp_path / "ledger.xlsx"
    out.write_bytes(b"previous")
    monkeypatch.setattr(ledger_service, "ledger_rows_for",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(ExportFailed) as caught:
        export_ledger(prog.db, scope_for(prog.db, None), out, as_of=AS_OF, title=TITLE)
    assert caught.value.step == "gather"
    assert out.read_bytes() == b"previous"


def test_export_reports_progress_through_every_step(prog, tmp_path):
    seen: list[tuple[str, int, int]] = []
    export_ledger(prog.db, scope_for(prog.db, None), tmp_path / "l.xlsx", as_of=AS_OF,
                  title=TITLE, on_progress=lambda *a: seen.append(a))
    steps = [s for s, _, _ in seen]
    assert steps[0] == "gather" and steps[-1] == "save" and "writing" in steps
    assert ("gather", 4, 4) in seen


def test_past_as_of_exports_the_state_then(prog, tmp_path):
    sc = scope_for(prog.db, None)
    before = {r.title: r for r in ledger_rows(issue_records(prog.db, sc, dt.date(2026, 3, 22)))}
    # closed on 2026-03-25: submitted, not yet struck off, on the 22nd
    assert before["=1+1"].status == "submitted" and before["=1+1"].closed_on is None
    assert "结算业务量未核对" in before


def test_workbook_bytes_open_in_openpyxl(prog, tmp_path):
    out, _ = export(prog.db, tmp_path)
    assert openpyxl.load_workbook(io.BytesIO(out.read_bytes())).sheetnames == ["台账", "lists"]


def test_rows_gathered_for_a_scope_equal_the_rows_of_its_records(prog):
    sc = scope_for(prog.db, None)
    gathered = ledger_export.ledger_rows_for(prog.db, sc, AS_OF)
    expected = ledger_rows(issue_records(prog.db, sc, AS_OF))
    assert len(gathered) == len(expected) == 3
    assert list(gathered) == expected
    assert gathered[-1] == expected[-1] and gathered[1:] == expected[1:]
    with pytest.raises(IndexError):
        gathered[3]


def test_summaries_and_details_hold_what_the_records_hold(prog):
    # The Word pack reads these instead of IssueRecords: every value must be the record's.
    third = max(prog.db.conn.execute("SELECT id FROM issues"))[0]
    owners.assign_issue(prog.db, prog.actors["lead"], third, version=prog.version(third),
                        supervisor_person_id=prog.people["head_a"], at=prog.at("2026-03-04"))
    issues.update_progress(prog.db, prog.actors["lead"], third, version=prog.version(third),
                           progress="已完成业务量核对", at=prog.at("2026-03-05"))
    sc = scope_for(prog.db, None)
    found = ledger_export.gather_issues(prog.db, sc, AS_OF)
    records = issue_records(prog.db, sc, AS_OF)
    assert [r.id for r in records] == [s["id"] for s in found.states]
    for rec, s in zip(records, found.states):
        summary, details = found.summary(s), found.details(s)
        assert summary._asdict() == {k: getattr(rec, k) for k in summary._fields}
        assert (details.aspect_name, details.description, details.amount, details.progress,
                details.supervisor) == (rec.aspect_name, rec.description, rec.amount,
                                        rec.progress, rec.supervisor)
        assert (list(details.sources), list(details.causes)) == (rec.sources, rec.causes)
        assert list(details.measures) == [(m["title"], m["owner"], m["deadline"], m["status"])
                                          for m in rec.measures]
        assert list(details.accountability) == [
            (a["not_applicable"], a["person_name"], a["action"], a["reason"])
            for a in rec.accountability]
    by_id = {r.id: r for r in records}
    assert by_id[third].supervisor and by_id[third].progress == "已完成业务量核对"
    assert any(r.accountability for r in records) and any(r.causes for r in records)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rows_written_from_their_fields_give_the_same_sheet_as_the_ledger_rows(prog, lang):
    """write_ledger takes GatheredRows through field_tuples (measures as cell text, no
    LedgerRow per issue): cells, styles and cut count equal those of the LedgerRows."""
    from tests.ledger_factory import write_ledger
    sc = scope_for(prog.db, None)
    gathered = ledger_export.ledger_rows_for(prog.db, sc, AS_OF)
    assert hasattr(gathered, "field_tuples")
    sheets = []
    for rows in (gathered, list(gathered)):
        buf = io.BytesIO()
        cut = write_ledger(rows, buf, lang=lang, title=TITLE, as_of=AS_OF, anchor=(7, "ab"))
        ws = openpyxl.load_workbook(io.BytesIO(buf.getvalue())).worksheets[0]
        sheets.append((cut, [[(c.value, c.number_format, c.style_id, c.fill.fgColor.rgb)
                              for c in r] for r in ws.iter_rows()]))
    assert sheets[0] == sheets[1]
    assert any("1. " in str(v) for row in sheets[0][1] for v, *_ in row)


def record(**fields) -> ledger_export.IssueRecord:
    """An IssueRecord with plain defaults."""
    base = dict(id=1, code="C1.1.1", title="问题", description="", category_code="C1",
                category_name="类别", aspect_code="C1.1", aspect_name="方面", unit_id=1,
                unit_code="A", unit_name="单位", amount=0.0, basis="", recommendation="",
                rectification_type="immediate", progress="", severity="general",
                status="in_progress", deadline=None, original_deadline=None, closed_on=None,
                created_on="2026-01-01", warning="none", responsible_person_id=None,
                responsible="", supervisor="")
    return ledger_export.IssueRecord(**{**base, **fields})


def test_a_forbidden_character_anywhere_in_an_issue_is_replaced_where_it_is():
    measure = {"title": " 核对\x01台账 ", "owner": "张\x0b三", "deadline": None,
               "status": "todo"}
    row = ledger_export.ledger_row(record(
        title=" 标题 ", description=" 描述\x02 ", measures=[measure],
        sources=[{"name": "审计\x1f", "year": 2025, "level": "group", "report_no": None}]), 3)
    assert (row.title, row.description, row.audit_name) == ("标题", " 描述\ufffd ", "审计\ufffd")
    assert row.measures[0].title == "核对\ufffd台账" and row.measures[0].owner == "张\ufffd三"


def test_a_clean_issue_is_stripped_and_kept_like_any_other():
    row = ledger_export.ledger_row(record(
        title=" 标题 ", description=" 描述 ", progress="\n进展\n",
        measures=[{"title": "a\r\nb", "owner": "李（四）", "deadline": "2026-05-01",
                   "status": "done"}]), 3)
    assert (row.title, row.description, row.progress) == ("标题", " 描述 ", "\n进展\n")
    (m,) = row.measures
    assert (m.title, m.owner, m.deadline, m.done) == ("a b", "李 四", dt.date(2026, 5, 1), True)
