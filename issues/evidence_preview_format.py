"""Evidence seen where it is checked: what of an evidence file can be shown in the page. PDFs as
page images (pypdfium2, rendered to a bounded width), images as they are, Word documents as their
text (paragraphs and table cells), Excel workbooks as the first rows of their first sheet.
Bytes in, plain data out; a file that cannot be read gives an empty preview, never an
exception (the download stays available)."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

PAGE_WIDTH = 1000          # pixels of a rendered page: readable on a screen, small on a phone
MAX_PAGES = 20             # pages offered one by one; the rest is in the download
MAX_TEXT = 6000            # characters of a Word document's text
MAX_ROWS, MAX_COLS = 40, 15
MAX_PAGE_PIXELS = 12_000_000   # a page whose image would exceed this is not rendered

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class Preview:
    """What the page shows of one file. kind: pdf (pages: how many can be shown, of
    total_pages), image, text (text), table (rows), none (only the download)."""
    kind: str
    pages: int = 0
    total_pages: int = 0
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False


def kind_of(mime: str) -> str:
    """The preview kind for a stored mime type."""
    if mime == PDF:
        return "pdf"
    if mime in IMAGES:
        return "image"
    if mime == DOCX:
        return "text"
    if mime == XLSX:
        return "table"
    return "none"


def _clean(value: object) -> str:
    text = "" if value is None else str(value)
    return "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF; 0 when it cannot be read."""
    import pypdfium2 as pdfium
    try:
        doc = pdfium.PdfDocument(data)
    except Exception:   # noqa: BLE001 - any unreadable PDF is "no preview"
        return 0
    try:
        return len(doc)
    finally:
        doc.close()


def pdf_page_png(data: bytes, index: int, width: int = PAGE_WIDTH) -> bytes | None:
    """Page `index` (0-based) of a PDF as a PNG `width` pixels wide; None when the page does not
    exist, cannot be rendered or would be too large."""
    import pypdfium2 as pdfium
    try:
        doc = pdfium.PdfDocument(data)
    except Exception:   # noqa: BLE001
        return None
    try:
        if not 0 <= index < min(len(doc), MAX_PAGES):
            return None
        page = doc[index]
        w, h = page.get_size()
        if w <= 0 or h <= 0:
            return None
        scale = width / w
        if (w * scale) * (h * scale) > MAX_PAGE_PIXELS:
            return None
        image = page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG", optimize=True)
        return out.getvalue()
    except Exception:   # noqa: BLE001
        return None
    finally:
        doc.close()


def docx_text(data: bytes, max_chars: int = MAX_TEXT) -> tuple[str, bool]:
    """A Word document's paragraphs and table rows as text (cells joined by ' | '), cut at
    `max_chars`; ('', False) when it cannot be read. Returns (text, truncated)."""
    from docx import Document
    try:
        doc = Document(io.BytesIO(data))
    except Exception:   # noqa: BLE001
        return "", False
    lines = [p.text for p in doc.paragraphs if p.text.strip()]
    for table in doc.tables:
        for row in table.rows:
            lines.append(" | ".join(c.text.strip() for c in row.cells))
    text = _clean("\n".join(lines))
    return (text[:max_chars], True) if len(text) > max_chars else (text, False)


def xlsx_rows(data: bytes, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS
              ) -> tuple[list[list[str]], bool]:
    """The first rows and columns of a workbook's first sheet as text; ([], False) when it cannot
    be read. Returns (rows, truncated)."""
    from openpyxl import load_workbook
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:   # noqa: BLE001
        return [], False
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()
        out: list[list[str]] = []
        truncated = False
        for n, row in enumerate(ws.iter_rows(values_only=True)):
            if n >= max_rows:
                truncated = True
                break
            cells = [_clean(v) for v in row[:max_cols]]
            truncated |= len(row) > max_cols
            out.append(cells)
        while out and not any(out[-1]):
            out.pop()
        width = max((len(r) for r in out), default=0)
        return [r + [""] * (width - len(r)) for r in out], truncated
    except Exception:   # noqa: BLE001
        return [], False
    finally:
        wb.close()


def preview(mime: str, data: bytes) -> Preview:
    """What can be shown of a file of this type."""
    kind = kind_of(mime)
    if kind == "pdf":
        total = pdf_page_count(data)
        if not total:
            return Preview("none")
        return Preview("pdf", pages=min(total, MAX_PAGES), total_pages=total,
                       truncated=total > MAX_PAGES)
    if kind == "image":
        return Preview("image")
    if kind == "text":
        text, cut = docx_text(data)
        return Preview("text", text=text, truncated=cut) if text else Preview("none")
    if kind == "table":
        rows, cut = xlsx_rows(data)
        return Preview("table", rows=rows, truncated=cut) if rows else Preview("none")
    return Preview("none")
