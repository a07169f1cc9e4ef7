"""Values created from the import preview: an audit lead creates the focus point or work stream
an office's ledger names and the programme lacks (one transaction, in history); anyone else is
refused and nothing is written; the statuses, types, warnings and levels are fixed states and
cannot be created; the import then resolves the word to the new value, and a saved profile
keeps that answer for the next ledger."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from audit.__main__ import main
from audit.model import NotPermitted, ValidationFailed
from audit.store.db import open_database
from issues import (import_page, import_profile_service, import_service, store,
                    vocabulary_service)
from issues.import_service import apply_import, plan_import
from tests.ledger_factory import xlsx_bytes
from tests.programme import build

AT = "2026-11-25T10:00:00+08:00"
HEADER = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限", "关注点"]


def ledger(focus: str, n: int = 2) -> bytes:
    return xlsx_bytes([HEADER] + [["外包合同管理", "合同签订", f"外包合同未签订第{i}项", "甲市分公司",
                                   "张三", "补签合同", "2026-12-31", focus]
                                  for i in range(1, n + 1)])


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p


def _history(prog, entity: str) -> list[tuple]:
    return prog.db.conn.execute("SELECT actor, action, entity_id, field, new FROM history "
                                "WHERE entity = ? ORDER BY seq", (entity,)).fetchall()


def test_a_lead_creates_a_focus_point_with_the_next_code_recorded_in_history(prog):
    code = vocabulary_service.create_value(prog.db, prog.actors["lead"], "focus", "廉洁风险",
                                           at=AT)
    assert code == "F6"
    assert ("F6", "廉洁风险", "") in store.ledger_vocabulary(prog.db).focus
    fields = {r[3]: r[4] for r in _history(prog, "focus_point")}
    assert {r[1] for r in _history(prog, "focus_point")} == {"vocabulary.create"}
    assert "廉洁风险" in str(fields)
    stream = vocabulary_service.create_value(prog.db, prog.actors["lead"], "streams",
                                             "专项督查", name_en="Special inspection", at=AT)
    assert stream == "S3" and store.ledger_vocabulary(prog.db).streams[-1] == (
        "S3", "专项督查", "Special inspection")


@pytest.mark.parametrize("who", ["rect", "manager", "admin"])
def test_anyone_but_an_audit_lead_is_refused_and_nothing_is_written(prog, who):
    before = Path(prog.path).read_bytes()
    with pytest.raises(NotPermitted):
        vocabulary_service.create_value(prog.db, prog.actors[who], "focus", "廉洁风险", at=AT)
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(prog.path).read_bytes() == before


@pytest.mark.parametrize("fld, name, rule", [
    ("status", "基本完成", "value_fixed"), ("rectification_type", "边查边改", "value_fixed"),
    ("audit_level", "市级", "value_fixed"), ("focus", "外包单价与结算成本", "taken"),
    ("focus", "  ", None), ("streams", "Outsourcing clean-up", "taken")])
def test_fixed_states_duplicates_and_blanks_are_refused(prog, fld, name, rule):
    with pytest.raises(ValidationFailed) as ex:
        vocabulary_service.create_value(prog.db, prog.actors["lead"], fld, name, at=AT)
    assert ex.value.params.get("rule") == rule
    assert len(store.ledger_vocabulary(prog.db).focus) == 5


def test_an_unknown_focus_word_created_by_the_lead_is_imported_with_it_and_kept_in_the_profile(
        prog):
    lead = prog.actors["lead"]
    data = ledger("廉洁风险")
    parsed = import_service.read_file(prog.db, data, "l.xlsx")
    (q,) = parsed.questions
    assert (q.key, q.field, q.proposal) == ("focus:廉洁风险", "focus", "F5")
    code = vocabulary_service.create_value(prog.db, lead, "focus", q.value, at=AT)
    answers = {q.key: code}
    parsed = import_service.read_file(prog.db, data, "l.xlsx", values=answers)
    assert parsed.questions == [] and parsed.rows[0].focus == (code,)
    apply_import(prog.db, lead, plan_import(prog.db, lead, parsed, filename="l.xlsx"), AT)
    got = prog.db.conn.execute(
        "SELECT f.code, COUNT(*) FROM issue_focus x JOIN focus_points f ON f.id = x.focus_id "
        "GROUP BY f.code").fetchall()
    assert got == [("F6", 2)]
    saved = import_profile_service.save_profile(prog.db, lead, "甲市月报", parsed, answers, AT)
    assert saved["value_answers"]["focus:廉洁风险"] == "F6"
    # The next ledger of the office: the profile answers the word, no question asked.
    again = import_service.read_file(prog.db, ledger("廉洁风险", 3), "l.xlsx",
                                     values=saved["value_answers"], profile=saved["mapping"])
    assert again.questions == [] and again.rows[2].focus == ("F6",)


def test_the_cli_creates_a_value_and_imports_in_one_transaction(prog, tmp_path, capsys):
    path = tmp_path / "l.xlsx"
    path.write_bytes(ledger("廉洁风险"))
    before = Path(prog.path).read_bytes()
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "rect",
                 "--create-value", "focus=廉洁风险"]) == 1
    assert "vocabulary.create" in capsys.readouterr().err
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(prog.path).read_bytes() == before
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx_bytes([HEADER, ["外包合同管理", "合同签订", "x", "甲市分公司", "张三",
                                         "补签合同", "2026-02-30", "廉洁风险"]]))
    assert main(["import", str(bad), "--db", str(prog.path), "--as-user", "lead",
                 "--create-value", "focus=廉洁风险"]) == 1
    assert "2026-02-30" in capsys.readouterr().err
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(prog.path).read_bytes() == before   # the value stands or falls with the import
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--create-value", "focus=廉洁风险", "--json"]) == 0
    codes = [r[0] for r in prog.db.conn.execute(
        "SELECT DISTINCT f.code FROM issue_focus x JOIN focus_points f ON f.id = x.focus_id")]
    assert codes == ["F6"]


def _upload_with_new_focus(app):
    from tests.conftest import open_page
    app = open_page(app, "import")
    data = xlsx_bytes([HEADER, ["外包合同管理", "合同签订", "外包合同未签订（页面）", "包头市分公司",
                                "新同事", "补签合同", "2026-12-31", "廉洁风险"]])
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    app.file_uploader(key="issues.import.file.0").set_value(("台账.xlsx", data, mime))
    app.run()
    assert not app.exception, app.exception
    key = "issues.import.rq." + hashlib.md5("focus:廉洁风险".encode()).hexdigest()[:12]
    return app, app.selectbox(key=key)


def test_the_import_page_lets_a_lead_create_the_unknown_focus_point_and_imports_with_it(
        demo_path, tmp_path, make_app):
    from tests.conftest import copy_database, sign_in
    path = copy_database(demo_path, tmp_path / "demo.db")
    app, box = _upload_with_new_focus(sign_in(make_app(path), "lead", "demo1234"))
    create = next(o for o in box.options if "新建关注点" in o)
    assert "廉洁风险" in create
    box.set_value(import_page._CREATE)
    app.run()
    app.button(key="issues.import.rq.apply").click()
    app.run()
    assert not app.exception, app.exception
    app.button(key="issues.import.confirm").click()
    app.run()
    assert any("导入完成" in s.value for s in app.success)
    db = open_database(path)
    got = db.conn.execute(
        "SELECT f.name, i.title FROM issue_focus x JOIN focus_points f ON f.id = x.focus_id "
        "JOIN issues i ON i.id = x.issue_id WHERE f.code = 'F6'").fetchall()
    assert got == [("廉洁风险", "外包合同未签订（页面）")]


def test_the_import_page_offers_no_creation_to_an_administrator_and_says_who_may(
        demo_path, tmp_path, make_app):
    from tests.conftest import copy_database, sign_in
    path = copy_database(demo_path, tmp_path / "demo.db")
    app, box = _upload_with_new_focus(sign_in(make_app(path), "admin", "demo1234"))
    assert not [o for o in box.options if "新建" in str(o)]
    assert any("审计牵头人" in c.value for c in app.caption)


def test_a_focus_word_near_nothing_stops_the_reading_and_a_lead_creates_it_from_the_page(
        demo_path, tmp_path, make_app):
    from tests.conftest import copy_database, open_page, sign_in
    path = copy_database(demo_path, tmp_path / "demo.db")
    app = open_page(sign_in(make_app(path), "lead", "demo1234"), "import")
    data = xlsx_bytes([HEADER, ["外包合同管理", "合同签订", "外包合同未签订（页面）", "包头市分公司",
                                "新同事", "补签合同", "2026-12-31", "党风建设"]])
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    app.file_uploader(key="issues.import.file.0").set_value(("台账.xlsx", data, mime))
    app.run()
    assert any("党风建设" in e.value for e in app.error)
    app.button(key="issues.import.create_value").click()
    app.run()
    assert not app.exception and not app.error
    app.button(key="issues.import.confirm").click()
    app.run()
    assert any("导入完成" in s.value for s in app.success)
    db = open_database(path)
    assert db.conn.execute("SELECT f.code FROM issue_focus x JOIN focus_points f ON "
                           "f.id = x.focus_id WHERE f.name = '党风建设'").fetchall() == [("F6",)]
