"""Evidence seen where it is checked (issues.evidence_preview_format, evidence_service): PDFs page
by page as images, Word text, workbook rows; the same scope as a download (another unit's
rectifier, a disabled account: refused)."""
from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from docx import Document
from openpyxl import Workbook
from PIL import Image

from audit import accounts_service
from audit.model import NotFound, NotPermitted
from issues import evidence_preview_format as fmt
from issues import evidence_service
from tests.programme import MAX_UPLOAD, PDF, build


def pdf_of(pages: int) -> bytes:
    doc = pdfium.PdfDocument.new()
    for _ in range(pages):
        doc.new_page(595, 842)
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def docx_of() -> bytes:
    d = Document()
    d.add_paragraph("整改报告：外包合同已全部补签")
    t = d.add_table(rows=1, cols=2)
    t.rows[0].cells[0].text = "合同编号"
    t.rows[0].cells[1].text = "HT-2026-001"
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def xlsx_of() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["单位", "金额"])
    ws.append(["甲市分公司", 1200])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def png_of() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    iid = p.new_issue()
    p.assign(iid, deadline="2026-06-30")
    mid = p.measure(iid, deadline="2026-06-15")
    p.start(iid)
    p.issue_id, p.measure_id = iid, mid
    p.files = {}
    for name, data in (("三页.pdf", pdf_of(3)), ("报告.docx", docx_of()),
                       ("清单.xlsx", xlsx_of()), ("现场照片.png", png_of()), ("一页.pdf", PDF)):
        p.files[name] = evidence_service.attach_evidence(
            p.db, p.actors["rect"], iid, filename=name, data=data,
            evidence_root=p.evidence_root, max_bytes=MAX_UPLOAD, measure_id=mid,
            at=p.at("2026-02-01"))
    yield p
    p.db.conn.close()


def test_a_pdf_is_offered_page_by_page_and_each_page_is_drawn_as_an_image(prog):
    pv = evidence_service.preview_evidence(prog.db, prog.actors["lead"], prog.files["三页.pdf"],
                                           prog.evidence_root)
    assert (pv.kind, pv.pages, pv.total_pages) == ("pdf", 3, 3)
    uid = prog.actors["lead"].user_id
    for page in range(3):
        name, mime, png = evidence_service.evidence_page_for_view(
            prog.db, uid, prog.files["三页.pdf"], page, prog.evidence_root)
        assert mime == "image/png" and name == f"三页-{page + 1}.png"
        image = Image.open(io.BytesIO(png))
        assert image.width == fmt.PAGE_WIDTH
        assert abs(image.height - round(fmt.PAGE_WIDTH * 842 / 595)) <= 1
    with pytest.raises(NotFound):
        evidence_service.evidence_page_for_view(prog.db, uid, prog.files["三页.pdf"], 3,
                                                prog.evidence_root)


def test_word_text_workbook_rows_and_images_are_previewed(prog):
    lead = prog.actors["lead"]

    def pv(name):
        return evidence_service.preview_evidence(prog.db, lead, prog.files[name],
                                                 prog.evidence_root)
    text = pv("报告.docx")
    assert text.kind == "text"
    assert "外包合同已全部补签" in text.text and "合同编号 | HT-2026-001" in text.text
    table = pv("清单.xlsx")
    assert table.kind == "table" and table.rows == [["单位", "金额"], ["甲市分公司", "1200"]]
    assert pv("现场照片.png").kind == "image"
    assert pv("一页.pdf").pages == 1


def test_another_units_rectifier_sees_no_preview_and_no_page(prog):
    other = prog.actors["rect_b"]
    with pytest.raises(NotPermitted):
        evidence_service.preview_evidence(prog.db, other, prog.files["三页.pdf"],
                                          prog.evidence_root)
    with pytest.raises(NotPermitted):
        evidence_service.evidence_page_for_view(prog.db, other.user_id, prog.files["三页.pdf"],
                                                0, prog.evidence_root)


def test_a_disabled_account_gets_no_page_image(prog):
    rect = prog.actors["rect"]
    accounts_service.set_active(prog.db, prog.actors["admin"], rect.user_id, False,
                                at=prog.at("2026-02-02"))
    with pytest.raises(NotPermitted):
        evidence_service.evidence_page_for_view(prog.db, rect.user_id, prog.files["三页.pdf"],
                                                0, prog.evidence_root)


def test_an_unreadable_file_gives_no_preview_and_no_exception():
    assert fmt.preview(fmt.PDF, b"%PDF-1.4 nothing here").kind == "none"
    assert fmt.preview(fmt.DOCX, b"PK\x03\x04 broken").kind == "none"
    assert fmt.preview(fmt.XLSX, b"PK\x03\x04 broken").kind == "none"
    assert fmt.pdf_page_png(b"garbage", 0) is None
    assert fmt.preview("application/zip", b"PK\x05\x06").kind == "none"


def test_many_pages_are_offered_up_to_the_limit():
    pv = fmt.preview(fmt.PDF, pdf_of(fmt.MAX_PAGES + 2))
    assert (pv.pages, pv.total_pages, pv.truncated) == (fmt.MAX_PAGES, fmt.MAX_PAGES + 2, True)
    assert fmt.pdf_page_png(pdf_of(fmt.MAX_PAGES + 2), fmt.MAX_PAGES) is None
