"""Evidence uploads: refused with a clear message and nothing written when hostile; stored once
by hash; downloaded under the original name; tampered content refused."""
from __future__ import annotations

import io
import zipfile

import pytest

from audit.model import NotPermitted, UploadRefused
from audit.store.evidence_files import blob_path
from issues.evidence_format import check_upload, safe_filename
from issues.evidence_service import attach_evidence, read_evidence
from tests.programme import MAX_UPLOAD, PDF, build


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    p.iid = p.new_issue()
    p.assign(p.iid, deadline="2026-06-30")
    p.mid = p.measure(p.iid, deadline="2026-06-01")
    return p


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            # A fixed timestamp: the same bytes in every process, so xdist workers agree.
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data,
                        compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@pytest.mark.parametrize("name,data,reason", [
    ("big.pdf", b"%PDF-" + b"0" * (MAX_UPLOAD + 1), "size"),
    ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, "type"),
    ("report.pdf", b"MZ\x90\x00" + b"\x00" * 100, "content"),        # a renamed executable
    ("photo.png", b"\x7fELF" + b"\x00" * 100, "content"),
    ("empty.pdf", b"", "empty"),
    ("bomb.zip", zip_bytes({"a.txt": b"0" * 20_000_000}), "zip_bomb"),
    ("escape.zip", zip_bytes({"../../etc/passwd": b"x"}), "traversal"),
    ("fake.docx", zip_bytes({"hello.txt": b"x"}), "content"),
    ("noext", b"%PDF-1.4", "type"),
], ids=["oversize", "exe", "renamed-exe", "elf-as-png", "empty", "zip-bomb", "zip-traversal",
        "fake-docx", "no-extension"])
def test_hostile_uploads_are_refused_and_nothing_is_written(prog, name, data, reason):
    records = prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    with pytest.raises(UploadRefused) as err:
        attach_evidence(prog.db, prog.actors["rect"], prog.iid, filename=name, data=data,
                        evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                        measure_id=prog.mid, at=prog.at("2026-02-01"))
    assert err.value.params["reason"] == reason
    assert prog.db.conn.execute("SELECT COUNT(*) FROM evidence").fetchone()[0] == 0
    assert prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == records
    assert not prog.evidence_root.exists() or not any(prog.evidence_root.rglob("*"))


@pytest.mark.parametrize("given,cleaned", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Windows\\evil.pdf", "evil.pdf"),
    ("整改\u202e佐证.pdf", "整改佐证.pdf"),
    ("..hidden.pdf", "hidden.pdf"),
    ("a\x00b.pdf", "ab.pdf"),
])
def test_file_names_are_cleaned_of_paths_and_control_characters(given, cleaned):
    assert safe_filename(given) == cleaned


def test_the_same_content_is_stored_once_and_downloads_under_its_own_name(prog):
    rect = prog.actors["rect"]
    ids = [attach_evidence(prog.db, rect, prog.iid, filename=n, data=PDF,
                           evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                           measure_id=prog.mid, at=prog.at("2026-02-01"))
           for n in ("合同清理表.pdf", "../副本.pdf")]
    blobs = [f for f in prog.evidence_root.rglob("*") if f.is_file()]
    assert len(blobs) == 1
    name, mime, data = read_evidence(prog.db, prog.actors["manager"], ids[1], prog.evidence_root)
    assert (name, mime, data) == ("副本.pdf", "application/pdf", PDF)


def test_content_changed_on_disk_is_refused_on_download(prog):
    eid = attach_evidence(prog.db, prog.actors["rect"], prog.iid, filename="a.pdf", data=PDF,
                          evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                          at=prog.at("2026-02-01"))
    sha = prog.db.conn.execute("SELECT sha256 FROM evidence WHERE id = ?", (eid,)).fetchone()[0]
    blob_path(prog.evidence_root, sha).write_bytes(PDF + b"tampered")
    with pytest.raises(UploadRefused, match="does not match"):
        read_evidence(prog.db, prog.actors["lead"], eid, prog.evidence_root)


def test_a_file_missing_on_disk_is_refused_in_words_and_its_page_still_draws(prog):
    from audit.messages import error_text
    eid = attach_evidence(prog.db, prog.actors["rect"], prog.iid, filename="a.pdf", data=PDF,
                          evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                          at=prog.at("2026-02-01"))
    sha = prog.db.conn.execute("SELECT sha256 FROM evidence WHERE id = ?", (eid,)).fetchone()[0]
    blob_path(prog.evidence_root, sha).unlink()
    with pytest.raises(UploadRefused, match="missing") as refused:
        read_evidence(prog.db, prog.actors["lead"], eid, prog.evidence_root)
    assert "缺失" in error_text(refused.value, "zh")


def test_evidence_outside_the_scope_is_neither_attached_nor_read(prog):
    with pytest.raises(NotPermitted):
        attach_evidence(prog.db, prog.actors["rect_b"], prog.iid, filename="a.pdf", data=PDF,
                        evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                        at=prog.at("2026-02-01"))
    eid = attach_evidence(prog.db, prog.actors["lead"], prog.iid, filename="a.pdf", data=PDF,
                          evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                          at=prog.at("2026-02-01"))
    with pytest.raises(NotPermitted):
        read_evidence(prog.db, prog.actors["rect_b"], eid, prog.evidence_root)


def test_a_real_office_document_is_accepted(prog):
    docx = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert check_upload("说明.docx", docx, MAX_UPLOAD)[0] == "说明.docx"


POLYGLOTS = [
    # A PDF header, then an executable: refused though it starts like a PDF.
    ("polyglot.pdf", b"%PDF-1.7\n" + b"\x7fELF\x02\x01\x01" + b"\x00" * 64 + b"MZ\x90\x00"),
    # A PDF header on a PE file's bytes.
    ("report.pdf", b"%PDF-1.4\nMZ\x90\x00\x03\x00\x00\x00\x04" + b"\x00" * 200 + b"%%EOF"),
    # An image header on something else.
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>" * 10),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"MZ" + b"\x00" * 100),
    # A real PNG named as a JPEG.
    ("photo.jpeg", None),
]


@pytest.mark.parametrize("name, data", POLYGLOTS, ids=[n for n, _ in POLYGLOTS])
def test_a_file_must_be_what_its_name_says_through_its_whole_structure(name, data):
    if data is None:
        import io

        from PIL import Image
        out = io.BytesIO()
        Image.new("RGB", (4, 4), "white").save(out, "PNG")
        data = out.getvalue()
    with pytest.raises(UploadRefused) as err:
        check_upload(name, data, MAX_UPLOAD)
    assert err.value.params["reason"] == "content"


def test_a_real_pdf_and_a_real_photo_pass():
    import io

    from PIL import Image
    from audit.demo import evidence_pdf
    assert check_upload("佐证.pdf", evidence_pdf("ok"), MAX_UPLOAD)[1] == "application/pdf"
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "JPEG")
    assert check_upload("现场照片.jpg", out.getvalue(), MAX_UPLOAD)[1] == "image/jpeg"
