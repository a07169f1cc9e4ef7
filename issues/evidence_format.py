"""What an evidence file may be (佐证材料): its name cleaned, its size, its type by extension and
by content, archives checked for bombs and paths outside them. Pure: bytes in, a verdict out
(UploadRefused naming the file and the reason)."""
from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile

from audit.model import UploadRefused

# extension → mime

ALLOWED = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
}


MAX_ZIP_UNCOMPRESSED = 500 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 10_000
MAX_IMAGE_PIXELS = 80_000_000       # a photo of a document is ~12 MP; more is a bomb
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF",
                 ".webp": "WEBP"}


def _magic_ok(ext: str, data: bytes) -> bool:
    if ext == ".pdf":
        return data.startswith(b"%PDF-")
    if ext == ".png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if ext in (".jpg", ".jpeg"):
        return data.startswith(b"\xff\xd8\xff")
    if ext == ".gif":
        return data.startswith((b"GIF87a", b"GIF89a"))
    if ext == ".webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if ext in (".docx", ".xlsx", ".zip"):
        return data.startswith(b"PK\x03\x04") or (ext == ".zip" and data.startswith(b"PK\x05\x06"))
    return False


def safe_filename(name: str) -> str:
    """A file name with any directory part, control and reserved characters removed."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", name)
    name = name.strip().lstrip(".")
    return name[:200]


def check_upload(filename: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    """Refuse an upload that is too big, of a type not allowed, not what its name says, or a
    hostile archive. Returns (safe file name, mime type). Raises UploadRefused."""
    name = safe_filename(filename)
    if not name:
        raise UploadRefused(f"file name {filename!r} is empty once cleaned", field="filename",
                            reason="name")
    if len(data) == 0:
        raise UploadRefused(f"{name}: the file is empty", field="file", reason="empty")
    if len(data) > max_bytes:
        raise UploadRefused(f"{name}: {len(data)} bytes is over the limit of {max_bytes} bytes",
                            field="file", reason="size", limit=max_bytes)
    ext = os.path.splitext(name)[1].lower()
    if ext not in ALLOWED:
        raise UploadRefused(f"{name}: type {ext or '(none)'} is not allowed; allowed: "
                            f"{', '.join(sorted(ALLOWED))}", field="file", reason="type")
    if not _magic_ok(ext, data):
        raise UploadRefused(f"{name}: the content is not a {ext} file", field="file",
                            reason="content")
    if ext in (".docx", ".xlsx", ".zip"):
        _check_archive(name, ext, data)
    elif ext == ".pdf":
        _check_pdf(name, data)
    else:
        _check_image(name, ext, data)
    return name, ALLOWED[ext]


def _check_pdf(name: str, data: bytes) -> None:
    """A PDF must parse as one, with at least one page: a file that only starts with %PDF-
    (a polyglot carrying something else) is refused."""
    import pypdf
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        pages = len(reader.pages)
    except Exception as ex:   # pypdf raises many kinds for a broken file; all mean "not a PDF"
        raise UploadRefused(f"{name}: not a readable PDF ({type(ex).__name__})", field="file",
                            reason="content") from None
    if pages < 1:
        raise UploadRefused(f"{name}: the PDF has no page", field="file", reason="content")


def _check_image(name: str, ext: str, data: bytes) -> None:
    """An image must decode as the type its name says, within a sane size."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind, size = img.format, img.size
            img.verify()
    except Exception as ex:   # Pillow raises many kinds for a broken file
        raise UploadRefused(f"{name}: not a readable image ({type(ex).__name__})",
                            field="file", reason="content") from None
    if kind != IMAGE_FORMATS[ext]:
        raise UploadRefused(f"{name}: the content is a {kind}, not a {ext} image",
                            field="file", reason="content")
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise UploadRefused(f"{name}: {size[0]}×{size[1]} pixels is too large", field="file",
                            reason="size")


def _check_archive(name: str, ext: str, data: bytes) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as ex:
        raise UploadRefused(f"{name}: not a readable archive ({ex})", field="file",
                            reason="content") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadRefused(f"{name}: too many entries ({len(infos)})", field="file",
                            reason="zip_bomb")
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_ZIP_UNCOMPRESSED or total / packed > MAX_ZIP_RATIO:
        raise UploadRefused(f"{name}: unpacks to {total} bytes from {packed} "
                            "(looks like a zip bomb)", field="file", reason="zip_bomb")
    for i in infos:
        n = i.filename.replace("\\", "/")
        if n.startswith("/") or ".." in n.split("/") or re.match(r"^[A-Za-z]:", n):
            raise UploadRefused(f"{name}: entry {i.filename!r} points outside the archive",
                                field="file", reason="traversal")
    names = {i.filename for i in infos}
    if ext == ".docx" and not ("[Content_Types].xml" in names and
                               any(n.startswith("word/") for n in names)):
        raise UploadRefused(f"{name}: not a Word document", field="file", reason="content")
    if ext == ".xlsx" and not ("[Content_Types].xml" in names and
                               any(n.startswith("xl/") for n in names)):
        raise UploadRefused(f"{name}: not an Excel workbook", field="file", reason="content")
