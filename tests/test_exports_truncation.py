"""Text longer than an Excel cell holds is never lost silently: the export cuts it visibly and
says how many cells it cut, and importing that export back never overwrites the full text."""
from __future__ import annotations

from datetime import date

import openpyxl

from audit.text_format import EXCEL_CELL_LIMIT, TRUNCATION_MARK
from audit.views import scope_for
from issues import service as issues
from issues.import_service import apply_import, plan_import
from issues.ledger_service import export_ledger
from tests.ledger_factory import read_ledger
from tests.programme import build

LONG = "外包合同审核记录缺失。" * 4000  # 44,000 characters


def test_an_over_long_cell_is_cut_visibly_counted_and_never_imported_back_over_the_text(
        tmp_path):
    p = build(tmp_path)
    iid = p.new_issue("合同未经法律审核")
    issues.edit_issue(p.db, p.actors["lead"], iid, version=p.version(iid), description=LONG,
                      at=p.at("2026-01-10"))
    out = tmp_path / "ledger.xlsx"
    result = export_ledger(p.db, scope_for(p.db), out, as_of=date(2026, 1, 31), title="台账")
    assert result["truncated"] == 1
    cells = [c for row in openpyxl.load_workbook(out).active.iter_rows(values_only=True)
             for c in row if isinstance(c, str) and c.endswith(TRUNCATION_MARK)]
    assert len(cells) == 1 and len(cells[0]) == EXCEL_CELL_LIMIT
    assert LONG.startswith(cells[0][: -len(TRUNCATION_MARK)])

    records = p.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    parsed = read_ledger(out.read_bytes(), "ledger.xlsx")
    plan = plan_import(p.db, p.actors["lead"], parsed, filename="ledger.xlsx")
    assert plan.counts()["update"] == 0
    apply_import(p.db, p.actors["lead"], plan, p.at("2026-02-01"))
    stored = p.db.conn.execute("SELECT description FROM issues WHERE id = ?", (iid,)).fetchone()
    assert stored[0] == LONG
    assert p.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == records
