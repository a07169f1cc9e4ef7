"""`python -m audit remind`: the dry run prints what would go out and records nothing, a
holiday says so, --json gives the run's figures, and a second run while one holds the lock
exits at once."""
from __future__ import annotations

import json

import pytest

from audit.__main__ import main
from exports import remind_io, remind_run_service
from tests import remind_programme as rp
from tests.remind_servers import smtp_server


@pytest.fixture
def p(tmp_path):
    prog = rp.build(tmp_path)
    yield prog
    prog.db.conn.close()


def _outbox(p) -> int:
    return p.db.conn.execute("SELECT COUNT(*) FROM remind_outbox").fetchone()[0]


def test_a_dry_run_prints_each_message_and_sends_and_records_nothing(p, capsys):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        runs_before = p.db.conn.execute("SELECT COUNT(*) FROM remind_runs").fetchone()[0]
        code = main(["remind", "--db", str(p.path), "--as-of", "2026-11-23", "--dry-run"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "试运行（截至 2026-11-23）：将发送 5 条消息，未发送、未记录任何内容。"
    assert "  [电子邮件] zhangsan@a.example.cn — 【整改提醒】张三：逾期 2 项，临期 1 项（2026-11-23）" \
        in out
    assert box.received == [] and _outbox(p) == 0
    assert p.db.conn.execute("SELECT COUNT(*) FROM remind_runs").fetchone()[0] == runs_before


def test_a_run_prints_its_figures_in_words_or_as_json(p, capsys):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        assert main(["remind", "--db", str(p.path), "--as-of", "2026-11-23", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["planned"], data["sent"], data["failed"], data["working_day"]) == \
        (5, 5, 0, True)
    assert main(["remind", "--db", str(p.path), "--as-of", "2026-11-23", "--lang", "en"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Reminders run (as of 2026-11-23): 0 new, 0 sent, 0 failed, 0 unconfirmed.")


def test_on_a_holiday_the_command_says_nothing_is_sent(p, capsys):
    assert main(["remind", "--db", str(p.path), "--as-of", "2026-10-01"]) == 0
    assert capsys.readouterr().out.strip() == "2026-10-01 不是工作日：不发送任何消息。"


def test_a_second_run_while_one_holds_the_lock_exits_at_once(p, capsys):
    with remind_io.run_lock(remind_run_service.lock_path(p.db)):
        assert main(["remind", "--db", str(p.path), "--as-of", "2026-11-23"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("另一次提醒发送正在进行（") and err.strip().endswith("remind.lock），本次退出。")
    assert _outbox(p) == 0
