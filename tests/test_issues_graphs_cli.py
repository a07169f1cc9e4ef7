"""The causes, blocked and escalations commands: exit codes 0/1/2, JSON shapes, Chinese lines,
and recording escalations only as a lead. On the scenario of test_issues_graph_service."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.__main__ import main
from tests.test_issues_graph_service import scenario  # noqa: F401  (the shared fixture)

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_causes_json_has_the_ranking_and_the_cover(scenario, capsys):
    data = as_json(capsys, "causes", "--db", str(scenario.path), "--as-of", "2026-11-23",
                   "--k", "2")
    assert set(data) == {"as_of", "unit", "causes", "cover"}
    assert [c["code"] for c in data["causes"]] == ["K1", "K2", "K3", "R4"]
    first = data["causes"][0]
    assert (first["open_issues"], first["amount_open"], first["recurring"]) == (2, 150.0, True)
    assert "issue_ids" not in first
    assert [s["code"] for s in data["cover"]["chosen"]] == ["K1", "K2"]
    assert (data["cover"]["covered"], data["cover"]["open_total"]) == (3, 5)
    assert data["cover"]["share"] == pytest.approx(0.6)


def test_causes_prints_chinese_lines(scenario, capsys):
    code, out, _ = run(capsys, "causes", "--db", str(scenario.path), "--as-of", "2026-11-23")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "截至 2026-11-23：问题根源 4 个"
    assert lines[1].split()[:3] == ["根源编号", "未销号问题", "问题总数"]
    assert lines[2].split()[:3] == ["K1", "2", "2"]
    assert lines[-1] == "整改前 3 个根源可覆盖 4/5 个未销号问题（80.0%）：K1、K2、K3"


def test_causes_for_a_unit_counts_only_its_issues(scenario, capsys):
    data = as_json(capsys, "causes", "--db", str(scenario.path), "--as-of", "2026-11-23",
                   "--unit", "B")
    assert [(c["code"], c["open_issues"]) for c in data["causes"]] == [("K2", 1)]


def test_blocked_json_names_the_chain(scenario, capsys):
    data = as_json(capsys, "blocked", "--db", str(scenario.path), "--as-of", "2026-11-23")
    assert [b["code"] for b in data["blocked"]] == [scenario.code[scenario.ids["i1"]]]
    b = data["blocked"][0]
    assert (b["days_late"], b["earliest_finish"], len(b["chain"])) == (15, "2027-01-15", 2)
    code, out, _ = run(capsys, "blocked", "--db", str(scenario.path), "--as-of", "2026-11-23")
    assert "受阻问题 1 个" in out and " → " in out


def test_a_manager_sees_the_chain_cut_at_the_scope(scenario, capsys):
    data = as_json(capsys, "blocked", "--db", str(scenario.path), "--as-of", "2026-11-23",
                   "--as-user", "manager")
    assert data["blocked"][0]["chain"][-1] == "*"


def test_escalations_json_lists_the_due_step_with_its_target(scenario, capsys):
    data = as_json(capsys, "escalations", "--db", str(scenario.path), "--as-of", "2026-10-20")
    assert data["thresholds"] == {"reminder": 0, "letter": 10, "summons": 20}
    assert [(d["code"], d["step"], d["overdue_working_days"], d["target_person"])
            for d in data["due"]] == [(scenario.code[scenario.ids["i2"]], "letter", 10, "孙经理")]
    assert "recorded" not in data


def test_recording_needs_a_lead_and_says_so(scenario, capsys):
    code, _, err = run(capsys, "escalations", "--db", str(scenario.path), "--as-of",
                       "2026-10-20", "--record")
    assert code == 1 and "--as-user" in err and "牵头人" in err
    code, _, err = run(capsys, "escalations", "--db", str(scenario.path), "--as-of",
                       "2026-10-20", "--record", "--as-user", "rect")
    assert code == 1
    assert scenario.db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone()[0] == 0


def test_recording_as_a_lead_writes_once(scenario, capsys):
    args = ("escalations", "--db", str(scenario.path), "--as-of", "2026-10-20", "--record",
            "--as-user", "lead")
    data = as_json(capsys, *args)
    assert [(r["step"], r["recorded_by"]) for r in data["recorded"]] \
        == [("letter", scenario.actors["lead"].user_id)]
    again = as_json(capsys, *args)
    assert again["due"] == [] and again["recorded"] == []
    code, out, _ = run(capsys, *args)
    assert code == 0 and "已记录督办步骤 0 个" in out


@pytest.mark.parametrize("argv", [
    ("causes", "--as-of", "2026-02-30"),
    ("blocked", "--unit", "ZZ"),
    ("escalations", "--as-user", "nobody"),
    ("causes", "--k", "-1"),
])
def test_refused_input_exits_1_with_a_message(scenario, capsys, argv):
    code, out, err = run(capsys, argv[0], "--db", str(scenario.path), *argv[1:])
    assert code == 1 and err.startswith("错误 / error:") and out == ""


def test_a_missing_database_exits_1(tmp_path, capsys):
    code, _, err = run(capsys, "blocked", "--db", str(tmp_path / "none.db"))
    assert code == 1 and "--db" in err


@pytest.mark.parametrize("argv", [("causes", "--bogus"), ("blocked", "--k", "2"),
                                  ("escalations", "--as-of")])
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2


def test_refusal_under_python_m_audit_is_a_message_not_a_traceback(scenario):
    # Run as `python -m audit`, the CLI module is __main__: the refusal must still be caught.
    r = subprocess.run([sys.executable, "-m", "audit", "escalations", "--db", str(scenario.path),
                        "--record"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "--as-user" in r.stderr
