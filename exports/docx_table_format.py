"""The Word pack's tables as XML text: row templates filled with each cell's escaped text,
kept in a temporary file and spliced into document.xml when the document is saved (the
40,000-issue attachments' rows never become lxml elements), and the atomic save itself."""
from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from glob import escape as glob_escape
import zipfile
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence
from xml.sax.saxutils import escape

from docx.document import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import nsmap, qn
from lxml import etree

from audit.text_format import xml_safe

_W_T = qn("w:t")
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
TWIPS_PER_CM = 1440 / 2.54
# Rows whose longest cell is below this many characters are kept whole on one page; longer rows
# may be taller than a page, and a row that cannot split would then be clipped.
CANT_SPLIT_MAX_CHARS = 400
HEADER_FILL = "D9D9D9"
ZEBRA_FILL = "F2F2F2"
ROWS_BATCH = 2000  # rows encoded and written to the rows file at a time
# A table of at most this many rows moves to the next page whole rather than split; a longer
# one keeps its header with its first two rows and its last three rows together.
KEEP_WHOLE_ROWS = 20


def keeps_next(i: int, n: int, whole: bool = True) -> bool:
    """Does body row i (0-based) of n stay on the page of the row after it? `whole=False`: a
    table of tall rows (an attachment's) splits like a long one even when it has few rows, or
    it would leave its heading alone on a page."""
    if i >= n - 1:
        return False
    return (whole and n <= KEEP_WHOLE_ROWS) or i < 2 or i >= n - 3
COPY_BYTES = 4 << 20  # bytes copied from it at a time

RowWriter = Callable[[int, IO[bytes]], None]


def save_atomically(doc: Document, path: str | os.PathLike[str],
                    write_rows: RowWriter | None = None) -> Path:
    """Save next to the target then put it in place in one rename, so a failure never leaves a
    half-written file, nor (see `atomic_file`) a temporary one. `write_rows(k, part)`: writes
    the body rows of the table whose `<!--rows:k-->` marker the document holds
    (PackWriter.table leaves them; see `_save_spliced`)."""
    target = Path(path)
    with atomic_file(target) as fh:
        if write_rows is not None:
            _save_spliced(doc, fh, write_rows)
        else:
            doc.save(fh)
    return target


@contextmanager
def atomic_file(target: Path) -> Iterator[IO[bytes]]:
    """A file that appears at `target` (mode 0644) only once the block has finished; until then
    it is an unnamed file in the target's folder (O_TMPFILE), so a crash, a kill or a power cut
    leaves nothing behind. Where the file system has no unnamed files, a `.NAME.PID.tmp` beside
    the target, removed on any failure; those of processes no longer running are removed by
    the next write to the same target (issue 14)."""
    folder = target.parent
    _remove_stale(target)
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), 0o644)
            named = folder / f".{target.name}.{os.getpid()}.tmp"
            named.unlink(missing_ok=True)
            # linkat(AT_SYMLINK_FOLLOW), which os.link uses only when given a directory fd:
            # plain link() would link the /proc symlink itself.
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.link(f"/proc/self/fd/{fh.fileno()}", named.name, dst_dir_fd=dir_fd,
                        follow_symlinks=True)
            finally:
                os.close(dir_fd)
        try:
            os.replace(named, target)
        except BaseException:
            named.unlink(missing_ok=True)
            raise
        return
    named = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        with open(named, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        named.chmod(0o644)
        os.replace(named, target)
    except BaseException:
        named.unlink(missing_ok=True)
        raise


def _remove_stale(target: Path) -> None:
    """Remove `.NAME.PID.tmp` files beside `target` whose process is no longer running."""
    for tmp in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:-4]
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_DOCUMENT_PART = "word/document.xml"
# An XML comment cannot come from user text (its '<' is escaped), so the marker is unambiguous.
_SPLICE_MARKER = re.compile(rb"<!--rows:(\d+)-->")


def _save_spliced(doc: Document, fh: IO[bytes], write_rows: RowWriter) -> None:
    """Save through python-docx (every part as it writes it), then copy the package into `fh`
    with each `<!--rows:K-->` marker of the document part replaced by what write_rows(K, part)
    writes: the 40,000-issue appendix's 120,000 rows never become lxml elements."""
    staged = io.BytesIO()
    doc.save(staged)
    with zipfile.ZipFile(staged) as source, \
            zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != _DOCUMENT_PART:
                out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with out.open(entry, "w") as part:
                # split with a group: text, marker number, text, marker number, ..., text
                for i, piece in enumerate(_SPLICE_MARKER.split(data)):
                    if i % 2 == 0:
                        part.write(piece)
                    else:
                        write_rows(int(piece), part)



def column_widths(widths: Sequence[float] | None, n: int, available: float) -> list[float]:
    """Column widths in cm: as given, equal shares of the text area, or scaled down to fit it."""
    if widths is None:
        return [available / n] * n
    if len(widths) != n:
        raise ValueError(f"col_widths_cm has {len(widths)} entries for {n} columns")
    total = sum(widths)
    # A table wider than the text area runs off the page in LibreOffice and WPS.
    return [w * available / total for w in widths] if total > available else list(widths)


def table_properties(tblPr, width_twips: int) -> None:
    """Fixed layout (fast to lay out, widths as given) and visible borders whatever the style."""
    tblW = tblPr.find(qn("w:tblW"))
    if tblW is None:
        tblW = OxmlElement("w:tblW")
        tblPr.append(tblW)
    tblW.set(qn("w:w"), str(width_twips))
    tblW.set(qn("w:type"), "dxa")
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        for key, value in (("val", "single"), ("sz", "4"), ("space", "0"), ("color", "000000")):
            el.set(qn(f"w:{key}"), value)
        borders.append(el)
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    # CT_TblPr order: tblStyle … tblW, jc, …, tblBorders, shd, tblLayout, tblCellMar, tblLook.
    look = tblPr.find(qn("w:tblLook"))
    for el in (borders, layout):
        if look is not None:
            look.addprevious(el)
        else:
            tblPr.append(el)


def row_template(twips: Sequence[int], style_id: str, jc: Sequence[str | None],
                  fill: str | None, header: bool, cant_split: bool, keep_next: bool = False,
                  bold: bool = False):
    """One w:tr with a cell per column and an empty w:t in each, ready to be copied and filled;
    `cant_split` keeps the row on one page, `keep_next` on the page of the row after it (so
    that a table never leaves its last rows, or its header, alone on a page); `bold` for a
    合计 row."""
    tr = OxmlElement("w:tr")
    trPr = OxmlElement("w:trPr")
    if cant_split:
        trPr.append(OxmlElement("w:cantSplit"))
    if header:
        trPr.append(OxmlElement("w:tblHeader"))
    tr.append(trPr)
    for w, j in zip(twips, jc):
        tc = OxmlElement("w:tc")
        tcPr = OxmlElement("w:tcPr")
        tcW = OxmlElement("w:tcW")
        tcW.set(qn("w:w"), str(w))
        tcW.set(qn("w:type"), "dxa")
        tcPr.append(tcW)
        if fill is not None:
            shd = OxmlElement("w:shd")
            shd.set(qn("w:val"), "clear")
            shd.set(qn("w:color"), "auto")
            shd.set(qn("w:fill"), fill)
            tcPr.append(shd)
        if header:
            v_align = OxmlElement("w:vAlign")
            v_align.set(qn("w:val"), "center")
            tcPr.append(v_align)
        tc.append(tcPr)
        p = OxmlElement("w:p")
        pPr = OxmlElement("w:pPr")
        pStyle = OxmlElement("w:pStyle")
        pStyle.set(qn("w:val"), style_id)
        pPr.append(pStyle)
        if keep_next:
            pPr.append(OxmlElement("w:keepNext"))
        if j is not None:
            jc_el = OxmlElement("w:jc")
            jc_el.set(qn("w:val"), j)
            pPr.append(jc_el)
        p.append(pPr)
        r = OxmlElement("w:r")
        if bold:
            rPr = OxmlElement("w:rPr")
            rPr.append(OxmlElement("w:b"))
            r.append(rPr)
        t = OxmlElement("w:t")
        t.set(_XML_SPACE, "preserve")
        r.append(t)
        p.append(r)
        tc.append(p)
        tr.append(tc)
    return tr


_W_NS_DECLARATION = f' xmlns:w="{nsmap["w"]}"'
_CELL = "\ue000"  # a private-use character standing for a cell's text in a row template
_BREAK_XML = {"\n": '</w:t><w:br/><w:t xml:space="preserve">',
              "\t": '</w:t><w:tab/><w:t xml:space="preserve">'}
_BREAKS = re.compile("[\n\t]")


def row_format(tr) -> str:
    """A row template as a str.format pattern with one {} per cell text, its w namespace left
    to the document it goes into."""
    for t in tr.iter(_W_T):
        t.text = _CELL
    xml = etree.tostring(tr, encoding="unicode").replace(_W_NS_DECLARATION, "", 1)
    return xml.replace("{", "{{").replace("}", "}}").replace(_CELL, "{}")


# What no cell text may hold as it is, apart from line breaks and tabs: characters XML
# forbids, and carriage returns (a line break is written as w:br, whatever its form).
_NEEDS_CLEANING = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff\ud800-\udfff]")


def cells_xml(texts: list[str]) -> list[str]:
    """The XML inside each cell's w:t (see _cell_xml). A row with nothing to clean (nearly
    every row) is escaped, and its breaks written, in one pass over the row's joined text."""
    if _NEEDS_CLEANING.search("".join(texts)) is not None:
        return [_cell_xml(t) for t in texts]
    # NUL is a character to clean, so it is in no cell here: it separates them.
    return _with_breaks(escape("\x00".join(texts))).split("\x00")


def _cell_xml(text: str) -> str:
    """A cell's text as the XML inside its w:t: XML-forbidden characters replaced, escaped, and
    line breaks and tabs as w:br / w:tab between runs of text (as Word writes them)."""
    return _with_breaks(escape(xml_safe(text).replace("\r\n", "\n").replace("\r", "\n")))


def _with_breaks(xml: str) -> str:
    """Escaped text with its line breaks and tabs as w:br / w:tab between runs of text."""
    if "\n" not in xml and "\t" not in xml:
        return xml
    return _BREAKS.sub(lambda m: _BREAK_XML[m.group()], xml)
