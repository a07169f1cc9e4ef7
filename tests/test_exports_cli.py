"""`python -m audit report` and `python -m audit export`: exit codes 0 (written), 1 (refused input,
named), 2 (usage), the acting user's scope, and progress lines on stderr when it is not a
terminal."""
from __future__ import annotations

import json
from pathlib import Path

import docx
import openpyxl
import pytest

from audit.__main__ import main
from tests.conftest import copy_database


@pytest.fixture
def demo_db(demo_path: Path, tmp_path: Path) -> Path:
    """A private copy of the demo database (opening a database may write to it)."""
    return copy_database(demo_path, tmp_path / "demo.db")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_writes_the_pack_and_prints_progress_lines(demo_db, tmp_path, capsys):
    out = tmp_path / "pack.docx"
    code, stdout, stderr = run(capsys, "report", "--db", str(demo_db), "--out", str(out),
                               "--as-of", "2026-11-23", "--since", "2026-11-01")
    assert code == 0
    assert "已生成审阅材料" in stdout and "38 个问题" in stdout
    document = docx.Document(out)
    assert any("2026年11月1日以来" in p.text for p in document.paragraphs)
    # stderr is not a terminal here: plain lines, no carriage-return bar
    lines = stderr.splitlines()
    assert "\r" not in stderr
    for step in ("gather", "charts", "sections", "save"):
        assert any(line.startswith(f"report {step} ") for line in lines), step
    assert lines[-1] == "report save 100% (1/1)"


def test_export_writes_the_ledger_for_the_users_scope_as_json(demo_db, tmp_path, capsys):
    out = tmp_path / "ledger.xlsx"
    code, stdout, stderr = run(capsys, "export", "--db", str(demo_db), "--out", str(out),
                               "--as-of", "2026-11-23", "--as-user", "manager", "--json")
    assert code == 0
    data = json.loads(stdout)
    assert 0 < data["issues"] < 38 and ":" in data["anchor"]
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert ws.max_row == 2 + data["issues"]  # title, header, one row per issue (anchor in the properties)
    assert {ws.cell(r, 11).value for r in range(3, 3 + data["issues"])} <= {
        "包头市分公司", "固阳县分公司", "土默特右旗分公司"}
    assert any(line.startswith("export writing") for line in stderr.splitlines())


def test_english_export_and_report(demo_db, tmp_path, capsys):
    code, stdout, _ = run(capsys, "export", "--db", str(demo_db), "--out",
                          str(tmp_path / "l.xlsx"), "--lang", "en", "--category", "C3")
    assert code == 0 and stdout.startswith("Exported 7 issues")
    code, stdout, _ = run(capsys, "report", "--db", str(demo_db), "--out",
                          str(tmp_path / "p.docx"), "--lang", "en", "--stream", "cleanup",
                          "--as-of", "2026-11-23")
    assert code == 0 and stdout.startswith("Review pack written")


@pytest.mark.parametrize("args, message", [
    (["--unit", "NOPE"], "no unit with code 'NOPE'"),
    (["--category", "C99"], "no category with code 'C99'"),
    (["--as-of", "2026-13-01"], "--as-of: not a date"),
    (["--since", "yesterday"], "--since: not a date"),
    (["--as-of", "2026-11-01", "--since", "2026-11-20"], "is after --as-of"),
    (["--as-user", "nobody"], "no active user 'nobody'"),
])
def test_report_refuses_bad_input_with_exit_1_and_no_file(demo_db, tmp_path, capsys, args,
                                                         message):
    out = tmp_path / "pack.docx"
    code, _, stderr = run(capsys, "report", "--db", str(demo_db), "--out", str(out), *args)
    assert code == 1
    assert message in stderr
    assert not out.exists()


def test_output_name_and_folder_are_checked(demo_db, tmp_path, capsys):
    code, _, stderr = run(capsys, "export", "--db", str(demo_db), "--out",
                          str(tmp_path / "ledger.csv"))
    assert code == 1 and "must end in .xlsx" in stderr
    code, _, stderr = run(capsys, "report", "--db", str(demo_db), "--out",
                          str(tmp_path / "missing" / "pack.docx"))
    assert code == 1 and "no folder" in stderr


def test_missing_database_is_refused(tmp_path, capsys):
    code, _, stderr = run(capsys, "export", "--db", str(tmp_path / "none.db"), "--out",
                          str(tmp_path / "l.xlsx"))
    assert code == 1 and "no database" in stderr


@pytest.mark.parametrize("argv", [
    ["report", "--db", "x.db"],                      # --out is required
    ["export", "--out", "l.xlsx", "--lang", "fr"],   # not a language
    ["export", "--out", "l.xlsx", "--stream", "x"],  # not a work stream
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_a_failing_step_exits_1_naming_it(demo_db, tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")
    monkeypatch.setattr("exports.chart_io.render_pngs", broken)
    out = tmp_path / "pack.docx"
    code, _, stderr = run(capsys, "report", "--db", str(demo_db), "--out", str(out))
    assert code == 1
    assert "report failed while drawing charts" in stderr and "renderer crashed" in stderr
    assert not out.exists()
