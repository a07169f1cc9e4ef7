"""Gaps found by rendering the review pack and the Excel ledger (issue 22, audit22): each test
asserts what a reader of the printed page sees."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import openpyxl
from openpyxl.utils import get_column_letter

from audit import messages
from issues.ledger_write_format import COLUMNS
from tests.ledger_factory import write_ledger
from tests.test_exports_xlsx_ledger import AS_OF, sample_rows

ACCOUNTABILITY = ((True, "", "", "属于制度缺陷，经集体研究不涉及个人责任", 0.0),
                  (False, "王五", "通报批评", "", 1000.0),
                  (False, "赵六", "诫勉谈话", "", 0.0))


def _cell(tmp_path, lang: str, header_key: str) -> str:
    rows = [replace(sample_rows(1)[0], accountability=ACCOUNTABILITY)]
    path = tmp_path / f"ledger-{lang}.xlsx"
    write_ledger(rows, path, title="台账", as_of=AS_OF, lang=lang)
    ws = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).worksheets[0]
    header = [c.value for c in ws[2]]
    return ws.cell(3, header.index(messages.t(header_key, lang)) + 1).value


def test_the_ledger_accountability_cell_names_reason_person_action_and_penalty(tmp_path):
    # The templates were looked up without their fields, which blanked them: every record
    # printed as 不适用： or ：, whatever was recorded.
    assert "accountability" in [c[0] for c in COLUMNS]
    assert _cell(tmp_path, "zh", "ledger.col.accountability").split("\n") == [
        "不适用：属于制度缺陷，经集体研究不涉及个人责任",
        "王五：通报批评（经济处罚1,000.00元）",
        "赵六：诫勉谈话"]
    assert _cell(tmp_path, "en", "ledger.col.accountability").split("\n") == [
        "Not applicable: 属于制度缺陷，经集体研究不涉及个人责任",
        "王五: 通报批评 (penalty 1,000.00 yuan)",
        "赵六: 诫勉谈话"]


def test_charts_name_each_status_as_the_prose_and_tables_do():
    # The English pack's legend said Submitted where its prose said awaiting verification.
    from audit.model import Status
    for lang in messages.LANGS:
        for status in (s.value for s in Status):
            assert messages.t(f"chart.status.{status}", lang) == messages.t(f"status.{status}",
                                                                           lang), (lang, status)


def test_the_ledger_header_row_is_tall_enough_for_a_wrapped_header(tmp_path):
    # 已整改金额（元） wraps in its column; at one line's height its second line printed over
    # the border.
    from issues.ledger_write_format import _LINE_POINTS, _lines
    path = tmp_path / "ledger.xlsx"
    write_ledger(sample_rows(2), path, title="台账", as_of=AS_OF)
    ws = openpyxl.load_workbook(path).worksheets[0]
    header = [c.value for c in ws[2]]
    widths = [ws.column_dimensions[get_column_letter(i)].width
              for i in range(1, len(header) + 1)]
    wrapped = _lines("已整改金额（元）", widths[header.index("已整改金额（元）")])
    assert wrapped >= 2
    assert ws.row_dimensions[2].height >= wrapped * _LINE_POINTS
    assert ws.row_dimensions[1].height >= 16 * 1.4  # the 16-point title
