"""The import, duplicates, merge and unmerge commands: forms, outputs and exit codes (0 done,
1 refused with a message naming row, column and value, 2 usage). Refusals and dry runs leave
the database file byte for byte unchanged."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.__main__ import main
from tests.ledger_factory import csv_bytes, row, table, xlsx_bytes
from tests.programme import build

ROOT = Path(__file__).resolve().parent.parent


def ledger_row(n: int, **over) -> list:
    base = {"问题类别": "外包合同管理", "问题方面": "合同签订", "责任单位": "甲市分公司"}
    base.update(over)
    return row(n, **base)


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p


def file_bytes(p) -> bytes:
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(p.path).read_bytes()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audit", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)


def test_import_as_a_lead_creates_the_rows_and_reports_counts(prog, tmp_path, capsys):
    f = write(tmp_path, "l.xlsx", xlsx_bytes(table(ledger_row(1), ledger_row(2))))
    code = main(["import", f, "--db", str(prog.path), "--as-user", "lead", "--stream", "audit",
                 "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["counts"]["create"], data["counts"]["rows"]) == (2, 2)
    assert data["history_records"] > 0


def test_dry_run_reports_what_would_change_and_writes_nothing(prog, tmp_path, capsys):
    f = write(tmp_path, "l.xlsx", xlsx_bytes(table(ledger_row(1, 整改状态="已销号"))))
    before = file_bytes(prog)
    assert main(["import", f, "--db", str(prog.path), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["create"] == 1
    [r] = data["rows"]
    assert (r["ledger_status"], r["status"]) == ("closed", "submitted")
    assert "root_cause" in r["missing"]
    assert file_bytes(prog) == before


def test_a_bad_cell_exits_1_naming_row_column_and_value(prog, tmp_path):
    f = write(tmp_path, "l.csv", csv_bytes(table(ledger_row(1), ledger_row(2, 整改时限="2026-02-30"))))
    before = file_bytes(prog)
    r = run("import", f, "--db", str(prog.path))
    assert r.returncode == 1
    assert "row 3" in r.stderr and "整改时限" in r.stderr and "2026-02-30" in r.stderr
    assert "Traceback" not in r.stderr
    assert file_bytes(prog) == before


def test_a_service_refusal_exits_1_naming_row_column_and_value(prog, tmp_path):
    f = write(tmp_path, "l.xlsx", xlsx_bytes(table(ledger_row(1), ledger_row(2, 整改措施="措" * 5001))))
    before = file_bytes(prog)
    r = run("import", f, "--db", str(prog.path), "--as-user", "lead")
    assert r.returncode == 1
    assert "row 3" in r.stderr and "整改措施" in r.stderr and "措措措" in r.stderr
    assert file_bytes(prog) == before


def test_an_ambiguous_unit_exits_1_with_the_question_and_an_answer_imports(prog, tmp_path):
    f = write(tmp_path, "l.xlsx", xlsx_bytes(table(ledger_row(1, 责任单位="甲"))))
    before = file_bytes(prog)
    r = run("import", f, "--db", str(prog.path))
    assert r.returncode == 1
    assert "row 2" in r.stderr and "责任单位" in r.stderr and "'甲'" in r.stderr
    assert "--answer 'unit:甲=ID'" in r.stderr
    assert file_bytes(prog) == before
    r = run("import", f, "--db", str(prog.path), "--as-user", "lead",
            "--answer", f"unit:甲={prog.units['A1']}")
    assert r.returncode == 0, r.stderr


def test_a_file_level_refusal_exits_1_with_the_reason(prog, tmp_path):
    f = write(tmp_path, "l.csv", b"name,age\nzhang,3\n")
    r = run("import", f, "--db", str(prog.path))
    assert r.returncode == 1 and "no header row" in r.stderr


def test_a_missing_file_exits_1(prog, tmp_path):
    r = run("import", str(tmp_path / "nope.xlsx"), "--db", str(prog.path))
    assert r.returncode == 1 and "no such file" in r.stderr


def test_an_oversized_file_exits_1_before_reading(prog, tmp_path, monkeypatch):
    f = write(tmp_path, "l.csv", b"x" * 4096)
    monkeypatch.setenv("AUDIT_MAX_UPLOAD_MB", "0.001")
    r = run("import", f, "--db", str(prog.path))
    assert r.returncode == 1 and "limit" in r.stderr


@pytest.mark.parametrize("args", [["import"], ["import", "x.xlsx", "--bogus"],
                                  ["merge", "--cluster", "one"], ["unmerge"]])
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.returncode == 2


def test_a_bad_mapping_exits_1_listing_valid_fields(prog, tmp_path):
    f = write(tmp_path, "l.xlsx", xlsx_bytes(table(ledger_row(1))))
    r = run("import", f, "--db", str(prog.path), "--map", "责任单位=nowhere")
    assert r.returncode == 1 and "valid fields" in r.stderr


def test_duplicates_merge_and_unmerge(prog, capsys):
    a = prog.new_issue("外包合同未经法律审核即签订", streams=("audit",))
    b = prog.new_issue("外包合同未经法审即签订", streams=("cleanup",))
    assert main(["duplicates", "--db", str(prog.path), "--json"]) == 0
    clusters = json.loads(capsys.readouterr().out)["clusters"]
    assert [sorted(i["id"] for i in c["issues"]) for c in clusters] == [[a, b]]
    assert clusters[0]["pairs"][0]["same_unit"] is True
    assert main(["merge", "--db", str(prog.path), "--cluster", "1", "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["survivor"] == "C1.1.1"
    assert main(["duplicates", "--db", str(prog.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"] == []
    assert main(["unmerge", "--db", str(prog.path), "--merge", str(merged["merges"][0])]) == 0
    capsys.readouterr()
    assert main(["merge", "--db", str(prog.path), "--cluster", "1", "--reject"]) == 0
    assert "rejected: 1 pairs" in capsys.readouterr().out
    assert main(["duplicates", "--db", str(prog.path)]) == 0
    assert "no likely duplicates" in capsys.readouterr().out


def test_duplicates_across_units_are_listed_only_when_asked(prog, capsys):
    a = prog.new_issue("外包合同未经法律审核即签订", unit="A")
    b = prog.new_issue("外包合同未经法律审核即签订", unit="B")
    assert main(["duplicates", "--db", str(prog.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"] == []
    assert main(["duplicates", "--db", str(prog.path), "--across", "--json"]) == 0
    [cluster] = json.loads(capsys.readouterr().out)["clusters"]
    assert sorted(i["id"] for i in cluster["issues"]) == [a, b]
    assert cluster["pairs"][0]["same_city"] is False
    assert main(["merge", "--db", str(prog.path), "--cluster", "1", "--across", "--reject"]) == 0
    assert "rejected: 1 pairs" in capsys.readouterr().out


def test_merge_by_codes(prog, capsys):
    prog.new_issue("甲")
    prog.new_issue("乙")
    assert main(["merge", "--db", str(prog.path), "--into", "C1.1.1", "--from", "C1.1.2"]) == 0
    assert "merged into C1.1.1" in capsys.readouterr().out


def test_merge_of_an_unknown_code_or_cluster_exits_1(prog):
    assert run("merge", "--db", str(prog.path), "--into", "C9.9.9", "--from",
               "C1.1.1").returncode == 1
    r = run("merge", "--db", str(prog.path), "--cluster", "5")
    assert r.returncode == 1 and "no cluster 5" in r.stderr


def test_unmerge_of_an_unknown_merge_exits_1(prog):
    assert run("unmerge", "--db", str(prog.path), "--merge", "99").returncode == 1
