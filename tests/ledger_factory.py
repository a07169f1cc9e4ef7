"""Ledgers built in code, quirks included, for the reader's tests: field ledgers as offices send
them (title rows, two-level headers, merged categories, mixed dates, 万元, totals and signature
rows) and hostile or broken files (zip bombs, entity bombs, renamed binaries…)."""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import zipfile
from typing import Any, Iterable, Sequence

import openpyxl

from audit.store.db import open_database
from issues import ledger_read_format, ledger_write_format, store
from issues.ledger_format import Vocabulary


@functools.cache
def vocabulary() -> Vocabulary:
    """The work streams and focus points of a new programme (the migration's rows)."""
    return store.ledger_vocabulary(open_database(":memory:"))


def read_ledger(data: bytes, filename: str, **kw: Any):
    """issues.ledger_read_format.read_ledger with a new programme's vocabulary."""
    kw.setdefault("vocabulary", vocabulary())
    return ledger_read_format.read_ledger(data, filename, **kw)


def write_ledger(rows: Any, out: Any, **kw: Any) -> int:
    """issues.ledger_write_format.write_ledger with a new programme's vocabulary."""
    kw.setdefault("vocabulary", vocabulary())
    return ledger_write_format.write_ledger(rows, out, **kw)


HEADER = ["序号", "问题编号", "问题类别", "问题方面", "问题描述", "责任单位", "责任人",
          "整改措施", "整改时限", "整改状态", "涉及金额"]


def row(n: int = 1, **over: Any) -> list[Any]:
    """A plain data row for HEADER; keyword arguments replace cells by header name."""
    values = {"序号": n, "问题编号": f"C1.1.{n}", "问题类别": "合同管理", "问题方面": "合同签订",
              "问题描述": f"外包合同未按规定签订第{n}项。后续说明", "责任单位": "包头",
              "责任人": "张三", "整改措施": "1. 完成合同清理（责任人：张三；时限：2026-12-31）",
              "整改时限": "2026-12-31", "整改状态": "整改中", "涉及金额": "1200"}
    values.update(over)
    return [values[h] for h in HEADER]


def table(*rows: Sequence[Any], header: Sequence[str] = HEADER, title: str | None = None
          ) -> list[list[Any]]:
    """A header plus rows, with an optional title row above."""
    out: list[list[Any]] = [[title]] if title else []
    out.append(list(header))
    out.extend(list(r) for r in rows)
    return out


def xlsx_bytes(rows: Iterable[Sequence[Any]], merges: Iterable[str] = (),
               extra_sheet_first: bool = False, number_formats: dict[str, str] | None = None
               ) -> bytes:
    """An .xlsx holding `rows` from A1, with merged ranges (values only in the top-left)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    for r in rows:
        ws.append(list(r))
    for rng in merges:
        ws.merge_cells(rng)
    for coord, fmt in (number_formats or {}).items():
        ws[coord].number_format = fmt
    if extra_sheet_first:
        other = wb.create_sheet("说明", 0)
        other.sheet_state = "hidden"
        other["A1"] = "填表说明"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: Iterable[Sequence[Any]], encoding: str = "utf-8", delimiter: str = ",",
              bom: bool = False) -> bytes:
    """A CSV of `rows` in an encoding, optionally with a UTF-8 BOM."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for r in rows:
        writer.writerow(["" if v is None else v for v in r])
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def field_ledger_xlsx() -> bytes:
    """A ledger the way a branch office sends it: two title rows, a two-level header (整改情况
    over 整改措施/整改时限/整改进展, other headers merged down two rows), the category merged
    down three rows, dates in every form, amounts in 万元, a totals row and a signature footer."""
    rows: list[list[Any]] = [
        ["内蒙古区分公司外包专项审计整改台账"],
        ["填报单位：包头市分公司", None, None, None, None, None, "单位：万元"],
        ["序号", "问题编号", "问题类别", "问题方面", "存在问题", "涉及金额（万元）", "整改情况",
         None, None, "整改状态", "责任单位"],
        [None, None, None, None, None, None, "整改措施", "整改时限", "整改进展", None, None],
        [1, "C1.1.1", "合同管理", "合同签订", "外包合同未签订。涉及三家承包商", 1.2,
         "1、补签合同\n2、建立台账（责任人：李四；时限：2026年12月31日）",
         dt.datetime(2026, 12, 31), "已补签两份", "整改中", "包头"],
        [2, "C1.1.2", None, "合同履行", "结算未按合同执行", "0.5万",
         "（1）追回多付款项", 45473, "", "未启动", "包头"],
        [3, "C1.2.1", None, "合同履行", "外包单价高于市场价", None,
         "重新招标", "2026/12/31", "", "已销号", "包头"],
        [4, "C2.1.1", "安全管理", "安全培训", "外包人员未经安全培训", "¥1,200元",
         "开展培训", "2026.12.31", "", "待验收", "包头"],
        [5, "C2.1.2", None, "安全培训", "培训记录缺失", "12.5万元",
         "补全记录", "2026-12-31 00:00:00", "", "已完成", "包头"],
        ["合计", None, None, None, None, 14.2],
        [None],
        ["制表人：王五", None, None, None, "审核人：赵六", None, "填报日期：2026-11-27"],
    ]
    merges = ["A1:K1", "A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:E4", "F3:F4", "G3:I3",
              "J3:J4", "K3:K4", "C5:C7", "C8:C9", "A10:E10"]
    return xlsx_bytes(rows, merges)


def with_sheet_xml(xlsx: bytes, sheet_xml: bytes, member: str = "xl/worksheets/sheet1.xml"
                   ) -> bytes:
    """A copy of an .xlsx with one member replaced."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = sheet_xml if info.filename == member else src.read(info)
            dst.writestr(info.filename, data)
    return out.getvalue()


def billion_laughs_xlsx() -> bytes:
    """An .xlsx whose sheet declares nested entities (the billion-laughs attack)."""
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">'
                      % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
           b"</sheetData></worksheet>")
    return with_sheet_xml(xlsx_bytes(table(row(1))), lol)


def zip_bomb_xlsx(size: int = 8 * 1024 * 1024) -> bytes:
    """A small .xlsx-looking zip with one hugely compressible member."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes(table(row(1)))))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in base.infolist():
            dst.writestr(info.filename, base.read(info))
        with dst.open("xl/media/padding.bin", "w") as f:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                f.write(chunk)
    return out.getvalue()


def formula_without_cache_xlsx() -> bytes:
    """An .xlsx with a formula cell that was never calculated (openpyxl saves no result)."""
    return xlsx_bytes(table(row(1, 涉及金额="=100*12")))


def renamed_exe() -> bytes:
    """The start of a Windows executable, as someone might rename to .xlsx or .csv."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4


def renamed_pdf() -> bytes:
    """A PDF renamed to .xlsx."""
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def latin1_csv() -> bytes:
    """A CSV saved as Latin-1: é (0xE9) followed by a space is invalid in UTF-8 and GB18030."""
    return ("问题描述,责任单位\n".encode("utf-8").decode("utf-8").encode("gb18030")
            + "Caf\xe9 r\xe9sum\xe9,Unit\xff\n".encode("latin-1"))


def formula_with_cache_xlsx() -> bytes:
    """The same formula cell, with the result Excel would have saved (1200)."""
    data = formula_without_cache_xlsx()
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    return with_sheet_xml(data, xml.replace(b"<f>100*12</f><v></v>", b"<f>100*12</f><v>1200</v>"))
