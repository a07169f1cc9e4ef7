"""Workbooks as offices make them: an .ods ledger (LibreOffice / WPS) imports like an .xlsx, and
in a workbook of several sheets every refusal and every preview row names the row's own sheet
and its Excel row there, not a number running on through the sheets."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from audit.__main__ import main
from audit.messages import error_text
from audit.model import LedgerRowError
from issues import import_service
from issues.import_service import apply_import, plan_import
from tests.ledger_corpus import xlsx
from tests.programme import build

AT = "2026-11-25T10:00:00+08:00"
HEADER = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限", "审计项目"]


def body(prefix: str, unit: str, person: str, n: int, audit: str = "2024年外包专项审计"):
    return [["外包合同管理", "合同签订", f"{prefix}合同未签订第{i}项", unit, person, "1.补签合同 2.法律审核",
             "2026-12-31", audit] for i in range(1, n + 1)]


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p


def two_sheets(bad: dict[int, str] | None = None) -> bytes:
    """呼和浩特 (title row, header on row 2, rows 3–5) and 包头 (title, blank, header on row 3,
    rows 4–8); `bad` puts a column's value on 包头's Excel row given."""
    first = [["甲市整改台账"], HEADER] + body("甲", "甲市分公司", "张三", 3)
    second = [["乙市整改台账"], [], HEADER] + body("乙", "乙市分公司", "王五", 5)
    for row, (col, value) in (bad or {}).items():
        second[row - 1][HEADER.index(col)] = value
    return xlsx([("呼和浩特", first, []), ("包头", second, [])])


def test_a_bad_cell_on_the_second_sheet_is_named_by_that_sheet_and_its_own_row(prog):
    before = Path(prog.path).read_bytes()
    with pytest.raises(LedgerRowError) as ex:
        import_service.read_file(prog.db, two_sheets({7: ("整改时限", "2026-02-30")}), "l.xlsx")
    err = ex.value
    assert (err.sheet, err.row, err.column, err.value) == ("包头", 7, "整改时限", "2026-02-30")
    assert str(err).startswith("sheet 包头 row 7, column '整改时限'")
    assert "“包头”第 7 行“整改时限”" in error_text(err, "zh")
    assert "sheet “包头”, row 7" in error_text(err, "en")
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(prog.path).read_bytes() == before


def test_a_row_the_plan_refuses_on_the_second_sheet_is_named_by_that_sheet(prog, tmp_path,
                                                                            capsys):
    data = two_sheets({5: ("审计项目", "外包专项审计复查")})   # a new audit without its year
    parsed = import_service.read_file(prog.db, data, "l.xlsx")
    with pytest.raises(LedgerRowError) as ex:
        plan_import(prog.db, prog.actors["lead"], parsed, filename="l.xlsx")
    assert (ex.value.sheet, ex.value.row, ex.value.column) == ("包头", 5, "审计项目")
    path = tmp_path / "l.xlsx"
    path.write_bytes(data)
    before = Path(prog.path).read_bytes()
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead"]) == 1
    assert "sheet 包头 row 5, column '审计项目'" in capsys.readouterr().err
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(prog.path).read_bytes() == before


def test_preview_rows_of_each_sheet_carry_the_sheet_and_its_own_excel_row(prog, tmp_path,
                                                                           capsys):
    parsed = import_service.read_file(prog.db, two_sheets(), "l.xlsx")
    plan = plan_import(prog.db, prog.actors["lead"], parsed, filename="l.xlsx")
    where = [parsed.where(r.excel_row) for r in plan.rows]
    assert where == [("呼和浩特", 3), ("呼和浩特", 4), ("呼和浩特", 5), ("包头", 4), ("包头", 5),
                     ("包头", 6), ("包头", 7), ("包头", 8)]
    path = tmp_path / "l.xlsx"
    path.write_bytes(two_sheets())
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--dry-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["sheet"], r["sheet_row"]) for r in rows] == where


# --- .ods ------------------------------------------------------------------------------------------

def ods_bytes(sheets: list[tuple[str, list[list]]]) -> bytes:
    """A minimal OpenDocument spreadsheet written by hand: the mimetype first and stored, the
    manifest, and content.xml with one table per sheet (strings and floats)."""
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    tables = []
    for name, rows in sheets:
        out = [f'<table:table table:name="{escape(name)}">']
        for r in rows:
            cells = []
            for v in r:
                if v is None:
                    cells.append("<table:table-cell/>")
                elif isinstance(v, (int, float)):
                    cells.append(f'<table:table-cell office:value-type="float" '
                                 f'office:value="{v}"><text:p>{v}</text:p></table:table-cell>')
                else:
                    cells.append(f'<table:table-cell office:value-type="string"><text:p>'
                                 f'{escape(str(v))}</text:p></table:table-cell>')
            out.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
        tables.append("".join(out) + "</table:table>")
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
               f'office:version="1.2"><office:body><office:spreadsheet>{"".join(tables)}'
               '</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type='
                '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content)
    return buf.getvalue()


def _imported(prog) -> list[tuple]:
    return prog.db.conn.execute(
        "SELECT i.title, u.name, p.name, i.deadline, (SELECT COUNT(*) FROM measures m "
        "WHERE m.issue_id = i.id) FROM issues i JOIN units u ON u.id = i.unit_id "
        "JOIN people p ON p.id = i.responsible_person_id ORDER BY i.title").fetchall()


def _import(prog, data: bytes, name: str) -> dict:
    lead = prog.actors["lead"]
    parsed = import_service.read_file(prog.db, data, name)
    assert parsed.questions == []
    return apply_import(prog.db, lead, plan_import(prog.db, lead, parsed, filename=name),
                        AT).counts


def test_an_ods_ledger_written_by_hand_imports_its_sheets_and_a_second_import_changes_nothing(
        prog):
    data = ods_bytes([("填表说明", [["请按列填写"]]),
                      ("呼和浩特", [HEADER] + body("甲", "甲市分公司", "张三", 2)),
                      ("包头", [HEADER] + body("乙", "乙市分公司", "王五", 3))])
    counts = _import(prog, data, "台账.ods")
    assert (counts["create"], counts["four_met"]) == (5, 5)
    got = _imported(prog)
    assert sorted((g[0][0], g[1], g[2]) for g in got) == sorted(
        [("甲", "甲市分公司", "张三")] * 2 + [("乙", "乙市分公司", "王五")] * 3)
    assert {(g[3], g[4]) for g in got} == {("2026-12-31", 2)}
    assert _import(prog, data, "台账.ods")["create"] == 0
    assert _imported(prog) == got


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not "
                    "installed: the .ods made by an office suite cannot be written")
def test_an_ods_ledger_saved_by_libreoffice_imports_as_its_xlsx_does(prog, tmp_path):
    src = tmp_path / "台账.xlsx"
    src.write_bytes(xlsx([("台账", [HEADER] + body("甲", "甲市分公司", "张三", 3), [])]))
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'lo'}", "--headless",
                    "--convert-to", "ods", "--outdir", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=120)
    counts = _import(prog, (tmp_path / "台账.ods").read_bytes(), "台账.ods")
    assert (counts["create"], counts["four_met"]) == (3, 3)
    assert [g[2] for g in _imported(prog)] == ["张三"] * 3
