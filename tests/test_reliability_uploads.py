"""Hostile uploads, evidence and ledgers alike: over-size, wrong type, a renamed executable,
path-traversal names, a zip bomb, an XML entity bomb. Each is refused with a message that says
what is wrong, and nothing is written: no rows, no history, no files."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from audit.model import AuditError, LedgerFileError, UploadRefused
from issues.evidence_service import attach_evidence
from tests import ledger_factory as lf
from tests.ledger_factory import read_ledger
from tests.programme import MAX_UPLOAD, PDF, Programme, build

AT = "2026-11-23T09:00:00+08:00"
EXE = lf.renamed_exe()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def nested_bomb() -> bytes:
    inner = zip_of({"inner.bin": b"\0" * 30_000_000})
    return zip_of({f"layer{i}.zip": inner for i in range(3)})


def snapshot(p: Programme) -> tuple:
    """Row counts of every table, the history anchor, and every file under the folder."""
    tables = [r[0] for r in p.db.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    counts = tuple(p.db.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)
    files = sorted(str(f.relative_to(p.path.parent)) for f in p.path.parent.rglob("*")
                   if f.is_file() and not f.name.startswith("programme.db"))
    return counts, files


@pytest.fixture
def prog(tmp_path: Path) -> Programme:
    p = build(tmp_path)
    p.iid = p.new_issue()
    p.assign(p.iid, deadline="2026-06-30")
    p.mid = p.measure(p.iid, deadline="2026-06-01")
    return p


EVIDENCE_CASES = [
    ("over-size", "big.pdf", b"%PDF-" + b"0" * (MAX_UPLOAD + 1), "size"),
    ("wrong type", "page.html", b"<html><script>alert(1)</script></html>", "type"),
    ("wrong type", "logo.svg", b"<svg onload='alert(1)'/>", "type"),
    ("wrong type", "run.exe", EXE, "type"),
    ("double extension", "report.pdf.exe", EXE, "type"),
    ("NUL in name", "report.pdf\x00.exe", EXE, "type"),
    ("renamed executable", "report.pdf", EXE, "content"),
    ("renamed executable", "photo.jpg", EXE, "content"),
    ("renamed executable", "minutes.docx", EXE, "content"),
    ("zip bomb", "bomb.zip", zip_of({"a.bin": b"\0" * 50_000_000}), "zip_bomb"),
    ("nested zip bomb", "nested.zip", nested_bomb(), "zip_bomb"),
    ("traversal in archive", "escape.zip", zip_of({"../../etc/cron.d/x": b"x"}), "traversal"),
    ("absolute path in archive", "abs.zip", zip_of({"/etc/passwd": b"x"}), "traversal"),
    ("name empty once cleaned", "../../", PDF, "name"),
]


def test_hostile_evidence_is_refused_with_a_reason_and_nothing_is_written(prog: Programme
                                                                          ) -> None:
    before = snapshot(prog)
    reasons = []
    for label, name, data, reason in EVIDENCE_CASES:
        with pytest.raises(UploadRefused) as err:
            attach_evidence(prog.db, prog.actors["rect"], prog.iid, filename=name, data=data,
                            evidence_root=prog.evidence_root, max_bytes=MAX_UPLOAD,
                            measure_id=prog.mid, at=AT)
        assert err.value.params["reason"] == reason, (label, err.value)
        assert len(str(err.value)) > 20, label  # says what is wrong, not just "refused"
        assert snapshot(prog) == before, label
        reasons.append(reason)
    print(f"\nUPLOADS evidence: {len(EVIDENCE_CASES)} hostile files refused "
          f"({', '.join(sorted(set(reasons)))}); rows, history and files unchanged")


@pytest.mark.parametrize("name", ["../../../../tmp/evil.pdf", "..\\..\\windows\\evil.pdf",
                                  "/etc/evil.pdf", "C:\\evil.pdf", "evil\u202efdp.exe.pdf"])
def test_a_traversal_name_never_writes_outside_the_evidence_folder(prog: Programme, name: str
                                                                   ) -> None:
    outside = {f for f in Path("/tmp").glob("evil*")}
    eid = attach_evidence(prog.db, prog.actors["rect"], prog.iid, filename=name,
                          data=PDF + name.encode(), evidence_root=prog.evidence_root,
                          max_bytes=MAX_UPLOAD, measure_id=prog.mid, at=AT)
    stored = prog.db.conn.execute("SELECT filename FROM evidence WHERE id = ?",
                                  (eid,)).fetchone()[0]
    assert "/" not in stored and "\\" not in stored and ".." not in stored
    assert "\u202e" not in stored
    files = [f for f in prog.path.parent.rglob("*") if f.is_file()]
    assert all(prog.evidence_root in f.parents or f.name.startswith("programme.db")
               for f in files)
    assert {f for f in Path("/tmp").glob("evil*")} == outside


LEDGER_CASES = [
    ("over-size", "big.xlsx", b"PK\x03\x04" + b"0" * (lf_limit := 2 * 1024 * 1024)),
    ("wrong type", "ledger.pdf", lf.renamed_pdf()),
    ("wrong type", "ledger.exe", EXE),
    ("old Excel", "ledger.xls", EXE),
    ("renamed executable", "ledger.xlsx", EXE),
    ("renamed executable", "ledger.csv", EXE),
    ("renamed PDF", "ledger.xlsx", lf.renamed_pdf()),
    ("zip bomb", "bomb.xlsx", lf.zip_bomb_xlsx(64 * 1024 * 1024)),
    ("entity bomb", "lol.xlsx", lf.billion_laughs_xlsx()),
    ("traversal name", "../../../etc/ledger.exe", EXE),
    ("zip named as CSV", "ledger.csv", lf.xlsx_bytes(lf.table(lf.row(1)))),
    ("empty", "ledger.xlsx", b""),
]


def upload_ledger(p: Programme, name: str, data: bytes) -> None:
    """What the import page does with an uploaded ledger: read, plan, apply."""
    from issues import import_service as importer
    parsed = read_ledger(data, name, max_bytes=lf_limit)
    plan = importer.plan_import(p.db, p.actors["lead"], parsed, "audit", filename=name)
    importer.apply_import(p.db, p.actors["lead"], plan, AT)


def test_hostile_ledgers_are_refused_with_a_message_and_nothing_is_imported(prog: Programme
                                                                            ) -> None:
    before = snapshot(prog)
    seen = []
    for label, name, data in LEDGER_CASES:
        with pytest.raises(AuditError) as err:
            upload_ledger(prog, name, data)
        assert isinstance(err.value, (LedgerFileError, UploadRefused)), (label, err.value)
        assert len(str(err.value)) > 15, (label, str(err.value))
        assert snapshot(prog) == before, label
        seen.append(f"{label}: {str(err.value)[:60]}")
    # The same pipeline does import a good ledger (so the refusals are not an empty pipeline).
    good = lf.xlsx_bytes(lf.table(lf.row(1, 责任单位="甲市分公司", 责任人="张三", 问题编号="")))
    upload_ledger(prog, "good.xlsx", good)
    print(f"\nUPLOADS ledgers: {len(LEDGER_CASES)} hostile files refused, nothing written")
    for line in seen:
        print("  " + line)
