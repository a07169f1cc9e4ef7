"""Headers understood, not looked up, and values in the office's words: each column's mapping
with its confidence and reason; an unsure column or word asked (a refusal naming it on the
CLI), never guessed, and answered with --map / --value; columns of no field kept with the
issue; mapping profiles saved under a name and used again for the same header."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.__main__ import main
from issues import import_profile_service, import_service, import_store
from issues.import_service import apply_import, plan_import
from issues.ledger_format import split_numbered
from issues.ledger_infer_model import ACCEPT, match_value
from tests.ledger_factory import read_ledger, xlsx_bytes
from tests.programme import build

AT = "2026-11-25T10:00:00+08:00"
HEADER = ["问题类别", "问题方面", "问题描述", "责任单位", "责任人", "整改措施", "整改时限", "整改状态"]


def rows(*extra_cols, status="整改中", n=2):
    header = HEADER + [h for h, _ in extra_cols]
    body = [["外包合同管理", "合同签订", f"外包合同未签订第{i}项", "甲市分公司", "张三", "补签合同",
             "2026-12-31", status] + [v for _, v in extra_cols] for i in range(1, n + 1)]
    return [header, *body]


@pytest.fixture
def prog(tmp_path):
    p = build(tmp_path)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p


def test_every_column_carries_a_confidence_and_its_reason():
    parsed = read_ledger(xlsx_bytes(rows(("审计年份", 2024), ("备忘", "无"))), "l.xlsx")
    got = {m.header: (m.field, m.reason) for m in parsed.mappings}
    assert got["问题描述"] == ("description", "synonym")
    assert got["审计年份"] == ("audit_year", "contains")
    assert got["备忘"] == (None, "none")
    year = next(m for m in parsed.mappings if m.header == "审计年份")
    assert ACCEPT <= year.confidence < 1.0 and year.detail == "年份"


def test_values_alone_name_a_column_under_a_header_that_says_nothing():
    parsed = read_ledger(xlsx_bytes(rows(("编码", "C1.1.5"), n=1)), "l.xlsx")
    m = next(m for m in parsed.mappings if m.header == "编码")
    assert (m.field, m.reason, m.detail) == ("code", "values", "code")
    assert parsed.rows[0].code == "C1.1.5"


def test_a_contested_column_is_asked_not_guessed_and_the_cli_refuses_naming_it(prog, tmp_path,
                                                                                capsys):
    data = xlsx_bytes([[*r[:6], *r[7:]] + [r[6]] for r in rows()])   # 整改时限 → 时间
    data = xlsx_bytes([HEADER[:6] + ["整改状态", "时间"]]
                      + [r[:6] + [r[7], r[6]] for r in rows()[1:]])
    parsed = read_ledger(data, "l.xlsx")
    (q,) = parsed.questions
    assert (q.kind, q.column, q.proposal) == ("column", "时间", "deadline")
    assert {c for c, _ in q.choices} == {"deadline", "closed_on", ""}
    path = tmp_path / "l.xlsx"
    path.write_bytes(data)
    before = Path(prog.path).read_bytes()
    code = main(["import", str(path), "--db", str(prog.path), "--as-user", "lead"])
    err = capsys.readouterr().err
    assert code == 1 and "'时间'" in err and "--map" in err
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert Path(prog.path).read_bytes() == before
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--map", "时间=deadline", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["create"] == 2 and out["counts"]["four_met"] == 2


def test_a_local_word_near_a_status_is_taken_and_listed():
    parsed = read_ledger(xlsx_bytes(rows(status="正在推进")), "l.xlsx")
    assert parsed.rows[0].status == "in_progress"
    assert parsed.value_matches["status:正在推进"][0] == "in_progress"


def test_an_unsure_local_word_is_asked_with_the_nearest_proposed_and_answered_by_value(
        prog, tmp_path, capsys):
    data = xlsx_bytes(rows(status="基本完成"))
    parsed = read_ledger(data, "l.xlsx")
    (q,) = parsed.questions
    assert (q.kind, q.key, q.proposal, q.rows) == ("value", "status:基本完成", "closed", (2, 3))
    plan = plan_import(prog.db, prog.actors["lead"], parsed, filename="l.xlsx",
                       resolutions={"status:基本完成": 0})
    assert [a.key for a in plan.unresolved()] == ["status:基本完成"]
    path = tmp_path / "l.xlsx"
    path.write_bytes(data)
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead"]) == 1
    assert "基本完成" in capsys.readouterr().err
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--value", "status:基本完成=in_progress", "--json"]) == 0
    statuses = {r[0] for r in prog.db.conn.execute("SELECT status FROM issues")}
    assert statuses == {"in_progress"}


def test_a_word_near_nothing_is_still_refused_by_row_column_and_value():
    from audit.model import LedgerRowError
    with pytest.raises(LedgerRowError) as ex:
        read_ledger(xlsx_bytes(rows(status="差不多了")), "l.xlsx")
    assert (ex.value.row, ex.value.column, ex.value.value) == (2, "整改状态", "差不多了")


def test_focus_points_and_streams_in_local_words_match_by_similarity():
    m = match_value("单价偏高", [("F1", ["外包单价与结算成本", "单价", "结算成本"]),
                                ("F5", ["安全合规与风险防控", "安全合规"])])
    assert (m.target, m.confidence >= 0.8) == ("F1", True)
    parsed = read_ledger(xlsx_bytes(rows(("关注点", "安全合规"), ("工作组", "整治组"))), "l.xlsx")
    assert (parsed.rows[0].focus, parsed.rows[0].streams) == (("F5",), ("cleanup",))


@pytest.mark.parametrize("text, parts", [
    ("1.补签合同；2.建立台账。3、开展检查", ["补签合同", "建立台账", "开展检查"]),
    ("（1）追回款项（2）完善制度", ["追回款项", "完善制度"]),
    ("①清理②培训③考核", ["清理", "培训", "考核"]),
    ("一是完善制度，二是加强监督；三是追责问责", ["完善制度", "加强监督", "追责问责"]),
    ("整改措施：1. 补签 2. 培训", ["补签", "培训"]),
    ("于2026.12.31前完成1项", ["于2026.12.31前完成1项"]),
    ("完成清理（责任人：张三；时限：2026-12-31）", ["完成清理（责任人：张三；时限：2026-12-31）"]),
])
def test_numbered_measures_in_one_cell_are_split(text, parts):
    assert split_numbered(text) == parts


def test_the_audit_year_and_level_come_from_its_name_when_no_column_has_them():
    parsed = read_ledger(xlsx_bytes(rows(("审计项目", "集团公司2021年外包专项审计"))), "l.xlsx")
    r = parsed.rows[0]
    assert (r.audit_year, r.audit_level) == (2021, "group")
    assert parsed.inferred == {"audit_year": 2, "audit_level": 2}


def test_columns_of_no_field_are_kept_with_the_issue_and_a_second_import_writes_nothing(prog):
    data = xlsx_bytes(rows(("佐证材料清单", "合同扫描件")))
    parsed = read_ledger(data, "l.xlsx")
    plan = plan_import(prog.db, prog.actors["lead"], parsed, filename="l.xlsx")
    result = apply_import(prog.db, prog.actors["lead"], plan, AT)
    kept = import_store.extras_of(prog.db, result.issue_ids)
    assert kept == {i: {"佐证材料清单": "合同扫描件"} for i in result.issue_ids}
    count = prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    plan = plan_import(prog.db, prog.actors["lead"], read_ledger(data, "l.xlsx"),
                       filename="l.xlsx")
    apply_import(prog.db, prog.actors["lead"], plan, AT)
    assert prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == count


def test_a_saved_profile_is_found_by_the_header_signature_and_asks_nothing_next_month(prog):
    data = xlsx_bytes([HEADER[:6] + ["整改状态", "时间"]]
                      + [r[:6] + [r[7], r[6]] for r in rows()[1:]])
    answered = read_ledger(data, "l.xlsx", mapping={"时间": "deadline"})
    import_profile_service.save_profile(prog.db, prog.actors["lead"], "甲市月报", answered, {},
                                        AT)
    found = import_profile_service.find_profile(prog.db, signature=read_ledger(
        data, "l.xlsx").signature)
    assert found["name"] == "甲市月报" and found["mapping"]["时间"] == "deadline"
    again = read_ledger(data, "l.xlsx", profile=found["mapping"],
                        values=found["value_answers"])
    assert not again.questions
    assert next(m for m in again.mappings if m.header == "时间").reason == "profile"


def test_the_cli_saves_a_profile_by_name_and_uses_it_for_the_next_ledger(prog, tmp_path, capsys):
    data = xlsx_bytes([HEADER[:6] + ["整改状态", "时间"]]
                      + [r[:6] + [r[7], r[6]] for r in rows()[1:]])
    path = tmp_path / "l.xlsx"
    path.write_bytes(data)
    assert main(["import", str(path), "--db", str(prog.path), "--as-user", "lead",
                 "--map", "时间=deadline", "--profile", "甲市月报"]) == 0
    capsys.readouterr()
    later = tmp_path / "l2.xlsx"
    later.write_bytes(xlsx_bytes([HEADER[:6] + ["整改状态", "时间"],
                                  ["费用结算", "结算依据", "结算无依据", "甲市分公司", "张三", "补齐",
                                   "整改中", "2027-01-31"]]))
    assert main(["import", str(later), "--db", str(prog.path), "--as-user", "lead",
                 "--profile", "甲市月报", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["create"] == 1


def test_kept_columns_show_on_the_issue_and_go_back_out_in_the_excel_ledger(prog, tmp_path):
    import datetime as dt

    from audit.views import Scope
    from issues import store
    from issues.ledger_service import export_ledger
    data = xlsx_bytes(rows(("佐证材料清单", "-合同扫描件"), n=1))
    plan = plan_import(prog.db, prog.actors["lead"], read_ledger(data, "l.xlsx"),
                       filename="l.xlsx")
    (iid,) = apply_import(prog.db, prog.actors["lead"], plan, AT).issue_ids
    assert store.issue_detail(prog.db, iid)["ledger_extras"] == [
        {"header": "佐证材料清单", "value": "-合同扫描件"}]
    out = tmp_path / "out.xlsx"
    export_ledger(prog.db, Scope(), out, as_of=dt.date(2026, 11, 26), title="台账")
    back = read_ledger(out.read_bytes(), "out.xlsx")
    assert back.rows[0].extras == (("佐证材料清单", "-合同扫描件"),)


def test_verify_finds_kept_columns_and_profiles_as_history_recorded_them_and_a_tampered_one(
        prog):
    from audit.store.live_check import check_live_tables
    data = xlsx_bytes(rows(("佐证材料清单", "合同扫描件"), n=1))
    parsed = read_ledger(data, "l.xlsx")
    plan = plan_import(prog.db, prog.actors["lead"], parsed, filename="l.xlsx")
    apply_import(prog.db, prog.actors["lead"], plan, AT)
    import_profile_service.save_profile(prog.db, prog.actors["lead"], "甲市", parsed, {}, AT)
    assert check_live_tables(prog.db).mismatches == 0
    prog.db.conn.execute("UPDATE issue_extras SET value = '改过'")
    found = check_live_tables(prog.db)
    assert found.mismatches == 1
    (m,) = found.examples
    assert (m.table, m.live, m.history) == ("issue_extras", "改过", "合同扫描件")


def test_the_import_page_asks_an_unsure_column_reads_again_with_the_answer_and_saves_a_profile(
        demo_path, tmp_path, make_app):
    import hashlib

    from tests.conftest import copy_database, open_page, sign_in
    path = copy_database(demo_path, tmp_path / "demo.db")
    app = sign_in(make_app(path), "lead", "demo1234")
    app = open_page(app, "import")
    data = xlsx_bytes([HEADER[:3] + ["责任单位", "责任人", "整改措施", "整改状态", "时间"],
                       ["外包合同管理", "合同签订", "外包合同未签订（页面）", "包头市分公司", "新同事",
                        "1.补签合同 2.法律审核", "整改中", "2026-12-31"]])
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    app.file_uploader(key="issues.import.file.0").set_value(("台账.xlsx", data, mime))
    app.run()
    assert not app.exception, app.exception
    key = "issues.import.rq." + hashlib.md5("column:时间".encode()).hexdigest()[:12]
    assert "时间" in app.selectbox(key=key).label
    assert not [b for b in app.button if b.key == "issues.import.confirm"]
    app.selectbox(key=key).set_value("deadline")
    app.run()
    app.button(key="issues.import.rq.apply").click()
    app.run()
    assert not app.exception, app.exception
    assert any("四个到人" in c.value and "1/1" in c.value for c in app.caption)
    app.text_input(key="issues.import.profile.name").set_value("包头月报")
    app.button(key="issues.import.profile.save").click()
    app.run()
    assert any("包头月报" in s.value for s in app.success)
    app.button(key="issues.import.confirm").click()
    app.run()
    assert any("导入完成" in s.value for s in app.success)


def test_columns_whose_values_are_the_programmes_units_and_people_map_under_any_header(prog):
    """落实单位 / 牵头人 are no synonyms: the programme's own unit and person names in the
    values decide, with the confidence and reason shown; names nobody knows decide nothing."""
    lead = prog.actors["lead"]
    head = ["问题描述", "落实单位", "牵头人", "整改措施", "整改时限", "问题类别", "问题方面"]
    body = [[f"外包结算单据缺失第{i}项", unit, person, "补签合同", "2026-12-31", "外包合同管理", "合同签订"]
            for i, (unit, person) in enumerate((("甲市分公司", "张三"), ("甲市分公司", "李四"),
                                               ("乙市", "王五")), 1)]
    parsed = import_service.read_file(prog.db, xlsx_bytes([head, *body]), "l.xlsx")
    got = {m.header: (m.field, m.reason, m.detail) for m in parsed.mappings}
    assert got["落实单位"] == ("unit", "known_unit", "3/3")
    assert got["牵头人"] == ("responsible", "known_person", "3/3")
    unit_col = next(m for m in parsed.mappings if m.header == "落实单位")
    assert ACCEPT <= unit_col.confidence < 1.0 and not parsed.questions
    plan = plan_import(prog.db, lead, parsed, filename="l.xlsx")
    assert plan.counts()["four_met"] == 3
    apply_import(prog.db, lead, plan, AT)
    assert prog.db.conn.execute(
        "SELECT u.name, p.name FROM issues i JOIN units u ON u.id = i.unit_id JOIN people p "
        "ON p.id = i.responsible_person_id ORDER BY i.code").fetchall() == [
        ("甲市分公司", "张三"), ("甲市分公司", "李四"), ("乙市分公司", "王五")]
    strangers = [[r[0], "某某单位", "某人", *r[3:]] for r in body]
    parsed = import_service.read_file(prog.db, xlsx_bytes([head, *strangers]), "l.xlsx")
    got = {m.header: m.field for m in parsed.mappings}
    assert got["落实单位"] is None and got["牵头人"] is None
