"""Hostile text everywhere: SQL, HTML/JS, markdown links, spreadsheet formulas, XML-forbidden
control characters, right-to-left marks, 100 kB of text and emoji go through every service text
field and the ledger import; they are stored exactly, shown as text (never as markup), exported
neutralised (no formula cell; the reader gives the text back) and the Word pack still builds."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest

from audit.text_format import fit_excel_cell, xml_safe
from audit.views import Scope
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests.conftest import open_page, sign_in
from tests.programme import PASSWORD, Programme, build

AT = "2026-11-23T09:00:00+08:00"
AS_OF = dt.date(2026, 11, 23)
CONTROL = "a" + "".join(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)]) + "b\ufffe"
HOSTILE: dict[str, str] = {
    "sql": "'; DROP TABLE issues; --",
    "script": "<script>alert(1)</script>",
    "img": '<img src=x onerror="alert(1)">',
    "md_link": "[点我](javascript:alert(1))",
    "md_markup": "**粗体** _斜体_ # 标题 `code` <b>b</b> $x^2$ :red[红]",
    "hyperlink": '=HYPERLINK("http://evil.example","x")',
    "plus": "+1",
    "minus": "-1",
    "at_sum": "@SUM(A1:A9)",
    "control": CONTROL,
    "rtl": "合同\u202e同合gnp.exe",
    "emoji": "整改👍🏽完成 👨‍👩‍👧‍👦 🏳️‍🌈",
    # Varied text: 100 kB of one repeated character compresses >200-fold in the xlsx and the
    # ledger reader then (rightly) takes it for a zip bomb.
    "long": "".join(chr(0x4E00 + (i * 7919) % 20000) if i % 3 else chr(0x21 + (i * 31) % 90)
                    for i in range(100_000)),
}


EXCEL_CELL = 32_767


def fit(text: str, limit: int) -> str:
    """The hostile text cut to a field's length limit."""
    return text[:limit]


def put_everywhere(p: Programme, key: str, s: str) -> dict:
    """Every service text field of a new issue (and its measure, cause, accountability,
    extension, person, category) set to `s`; returns the ids."""
    lead = p.actors["lead"]
    cat = issues.create_category(p.db, lead, name=fit(s, 200), at=AT)
    asp = issues.create_aspect(p.db, lead, category_id=cat, name=fit(s, 200), at=AT)
    person = owners.create_person(p.db, p.actors["admin"], name=fit(s, 100),
                                  unit_id=p.units["A"], title=s, at=AT)
    iid = issues.create_issue(p.db, lead, aspect_id=asp, title=fit(s, 2000), unit_id=p.units["A"],
                              description=s, basis=s, recommendation=s, at=AT)
    owners.assign_issue(p.db, lead, iid, version=p.version(iid),
                        responsible_person_id=p.people["rect_a"], deadline="2026-06-30", at=AT)
    issues.update_progress(p.db, lead, iid, version=p.version(iid), progress=s, at=AT)
    mid = issues.add_measure(p.db, lead, iid, title=fit(s, 5000), owner_person_id=person,
                             deadline="2026-06-30", at=AT)
    issues.edit_measure(p.db, lead, mid, version=p.mversion(mid), progress=s, at=AT)
    cause = issues.record_root_cause(p.db, lead, iid, new_cause_title=fit(s, 2000),
                                     description=s, at=AT)
    acc = issues.record_accountability(p.db, lead, iid, person_name=fit(s, 200),
                                       action=fit(s, 5000), at=AT)
    issues.move_issue(p.db, lead, iid, Move.START, version=p.version(iid), at=AT)
    ext = owners.extend_deadline(p.db, lead, iid, version=p.version(iid),
                                 new_deadline="2026-09-30", reason=fit(s, 5000), at=AT)
    return {"key": key, "issue": iid, "measure": mid, "cause": cause, "acc": acc, "ext": ext,
            "person": person, "category": cat, "aspect": asp}


def expected_fields(s: str) -> dict[tuple[str, str], str]:
    """(table, column) → the value the services must store for `s`."""
    return {("categories", "name"): fit(s, 200).strip(), ("aspects", "name"): fit(s, 200).strip(),
            ("people", "name"): fit(s, 100).strip(), ("people", "title"): s,
            ("issues", "title"): fit(s, 2000), ("issues", "description"): s,
            ("issues", "basis"): s, ("issues", "recommendation"): s, ("issues", "progress"): s,
            ("measures", "title"): fit(s, 5000), ("measures", "progress"): s,
            ("causes", "title"): fit(s, 2000).strip(), ("causes", "description"): s,
            ("accountability", "person_name"): fit(s, 200),
            ("accountability", "action"): fit(s, 5000),
            ("extensions", "reason"): fit(s, 5000)}


ROW_ID = {"categories": "category", "aspects": "aspect", "people": "person", "issues": "issue",
          "measures": "measure", "causes": "cause", "accountability": "acc",
          "extensions": "ext"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Programme, list[dict]]:
    folder = tmp_path_factory.mktemp("hostile")
    p = build(folder)
    made = [put_everywhere(p, k, s) for k, s in HOSTILE.items()]
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p, made


def test_every_service_text_field_stores_hostile_text_exactly(hostile) -> None:
    p, made = hostile
    checked = 0
    for ids in made:
        s = HOSTILE[ids["key"]]
        for (table, column), want in expected_fields(s).items():
            got = p.db.conn.execute(f"SELECT {column} FROM {table} WHERE id = ?",
                                    (ids[ROW_ID[table]],)).fetchone()[0]
            assert got == want, (ids["key"], table, column)
            checked += 1
    assert p.db.conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0] == len(HOSTILE)
    from audit.store import history
    assert history.verify(p.db).ok
    print(f"\nHOSTILE stored: {len(HOSTILE)} hostile texts x {len(expected_fields('x'))} "
          f"service fields = {checked} values read back equal; the chain verifies")


def test_the_excel_ledger_has_no_formula_cell_and_reads_back_the_text(hostile, tmp_path: Path
                                                                      ) -> None:
    from issues.ledger_service import export_ledger
    from tests.ledger_factory import read_ledger
    p, made = hostile
    out = tmp_path / "ledger.xlsx"
    export_ledger(p.db, Scope(), out, as_of=AS_OF, title="整改台账")
    wb = openpyxl.load_workbook(out)
    formulas = [c.coordinate for ws in wb for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    assert formulas == []
    parsed = read_ledger(out.read_bytes(), "ledger.xlsx")
    by_code = {r.code: r for r in parsed.rows}
    compared = 0
    for ids in made:
        s = HOSTILE[ids["key"]]
        code = p.db.conn.execute("SELECT code FROM issues WHERE id = ?",
                                 (ids["issue"],)).fetchone()[0]
        row = by_code[code]
        # Export replaces XML-forbidden characters by U+FFFD (documented); text over an Excel
        # cell's 32,767 characters is cut with a visible mark (the database keeps it whole).
        assert row.description == fit_excel_cell(xml_safe(s))[0], ids["key"]
        assert row.progress == fit_excel_cell(xml_safe(s))[0], ids["key"]
        assert row.title == xml_safe(fit(s, 2000)).strip(), ids["key"]
        compared += 3
    print(f"\nHOSTILE Excel: 0 formula cells among {len(made)} hostile rows; {compared} texts "
          "read back equal (XML-forbidden characters as U+FFFD)")


def test_the_word_pack_builds_with_hostile_text(hostile, tmp_path: Path) -> None:
    import docx
    p, _ = hostile
    out = tmp_path / "pack.docx"
    from exports.pack_service import build_pack
    build_pack(p.db, Scope(), out, as_of=AS_OF, user="lead")
    text = "\n".join(par.text for par in docx.Document(str(out)).paragraphs)
    text += "\n".join(c.text for t in docx.Document(str(out)).tables for r in t.rows
                      for c in r.cells)
    assert "<script>alert(1)</script>" in text
    print(f"\nHOSTILE Word pack: built, {out.stat().st_size:,} bytes; hostile text inside as text")


def test_every_import_column_takes_hostile_text(tmp_path: Path) -> None:
    from issues import import_service as importer
    from issues.ledger_format import neutralise
    from tests.ledger_factory import read_ledger
    from tests import ledger_factory as lf
    p = build(tmp_path)
    header = ["问题编号", "问题类别", "问题方面", "问题摘要", "问题描述", "责任单位", "责任人",
              "整改措施", "整改时限", "整改状态", "整改进展", "审计依据", "审计建议",
              "问题根源"]
    rows = []
    for i, (key, s) in enumerate(HOSTILE.items(), 1):
        # An xlsx cannot hold XML-forbidden characters nor more than 32,767 per cell; text
        # starting with = + - @ is written as Excel keeps typed text (a leading apostrophe),
        # or openpyxl would write a formula.
        cell = neutralise(xml_safe(s)[:EXCEL_CELL])
        # The title ends with the row number: '+1' and '-1' are otherwise the same issue
        # to the importer (titles match without punctuation).
        rows.append(["", f"类别{i}", f"方面{i}", neutralise(xml_safe(fit(s, 150)) + f" 第{i}行"),
                     cell,
                     "甲市分公司",
                     "张三", f"1. 措施{i}（责任人：张三；时限：2026-12-31）", "2026-12-31",
                     "整改中", cell, cell, cell, f"根源{i}"])
    data = lf.xlsx_bytes(lf.table(*rows, header=header))
    parsed = read_ledger(data, "hostile.xlsx")
    plan = importer.plan_import(p.db, p.actors["lead"], parsed, "audit", filename="hostile.xlsx")
    result = importer.apply_import(p.db, p.actors["lead"], plan, AT)
    assert len(result.issue_ids) == len(HOSTILE)
    for i, (iid, (key, s)) in enumerate(zip(result.issue_ids, HOSTILE.items()), 1):
        got = p.db.conn.execute("SELECT title, description, progress, basis, recommendation "
                                "FROM issues WHERE id = ?", (iid,)).fetchone()
        want = xml_safe(s)[:EXCEL_CELL]
        assert got[1:] == (want, want, want, want), key
        assert got[0] == (xml_safe(fit(s, 150)) + f" 第{i}行").strip(), key
    print(f"\nHOSTILE import: {len(HOSTILE)} rows with hostile text in title, description, "
          "progress, basis and recommendation imported and read back equal")


# --- shown as text in the app ------------------------------------------------------------------

SLOW_RUN = 120  # seconds an AppTest run may take on a loaded machine
MARKUP = ("script", "img", "md_link", "md_markup", "rtl", "emoji", "hyperlink")
TEXT_KINDS = ("markdown", "title", "header", "subheader", "caption", "text", "code", "info",
              "warning", "error", "success")


def unescape(md: str) -> str:
    """Markdown source with backslash escapes removed (what a reader sees)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md)


def rendered_texts(app) -> list[tuple[str, str, bool]]:
    """(kind, source, allow_html) of every text element on the page."""
    out = []
    for kind in TEXT_KINDS:
        for el in getattr(app, kind, []):
            out.append((kind, str(el.value), bool(getattr(el.proto, "allow_html", False))))
    return out


def frames_text(app) -> str:
    parts = []
    for df in list(app.dataframe) + list(getattr(app, "table", [])):
        try:
            parts.append(df.value.to_string())
            parts.extend(str(v) for v in df.value.to_numpy().ravel())
        except Exception:
            pass
    return "\n".join(parts)


def assert_shown_as_text(app, s: str, key: str) -> None:
    assert not app.exception, app.exception
    texts = rendered_texts(app)
    assert not [k for k, src, html in texts if html and any(
        frag in src for frag in ("<script", "onerror", "javascript:"))], key
    specials = set(s) & set("<>[]()*_#`$:\\")
    for kind, src, _ in texts:
        if specials and s in src and kind in ("markdown", "title", "header", "subheader",
                                              "caption", "info", "warning", "error",
                                              "success"):
            raise AssertionError(f"{key}: raw user text given to st.{kind} as markdown: "
                                 f"{src[:120]!r}")
    visible = "\n".join(unescape(src) if kind != "code" else src for kind, src, _ in texts)
    assert s in visible or s in frames_text(app), f"{key}: text not shown"


@pytest.mark.parametrize("key", MARKUP)
def test_the_issue_page_shows_hostile_text_as_text(hostile, make_app, key: str) -> None:
    p, made = hostile
    ids = next(m for m in made if m["key"] == key)
    app = make_app(p.path)
    app.default_timeout = SLOW_RUN
    sign_in(app, "lead", PASSWORD)
    app.query_params["id"] = str(ids["issue"])
    app = open_page(app, "issue")
    assert_shown_as_text(app, HOSTILE[key], key)


def test_the_catalogue_page_shows_hostile_titles_as_text(hostile, make_app) -> None:
    p, _ = hostile
    app = make_app(p.path)
    app.default_timeout = SLOW_RUN
    app = open_page(sign_in(app, "lead", PASSWORD), "catalogue")
    assert not app.exception, app.exception
    shown = 0
    for key in MARKUP:
        assert_shown_as_text(app, HOSTILE[key], key)
        shown += 1
    print(f"\nHOSTILE pages: catalogue shows {shown} hostile titles as text, no markup made")


def test_hostile_names_in_the_catalogue_cause_and_measure_columns_are_imported_as_text(
        tmp_path: Path) -> None:
    """Category, aspect, root cause and measure title cells: the same hostile texts, without
    the characters those columns use as separators (；; line breaks, brackets, colons)."""
    from issues import import_service as importer
    from issues.ledger_format import neutralise
    from tests.ledger_factory import read_ledger
    from tests import ledger_factory as lf
    p = build(tmp_path)
    header = ["问题类别", "问题方面", "问题摘要", "责任单位", "责任人", "整改措施", "整改时限",
              "整改状态", "问题根源"]
    names = {}
    for i, (key, s) in enumerate(HOSTILE.items(), 1):
        if key == "long":
            continue
        bare = re.sub(r"[;；\n\r()（）:：\[\]【】［］]", "", xml_safe(s)).strip()
        names[key] = (f"{bare} 类{i}", f"{bare} 面{i}", f"{bare} 因{i}", f"{bare} 措施{i}")
    rows = [[neutralise(c), neutralise(a), f"问题{i}", "甲市分公司", "张三",
             neutralise(f"{m}（责任人：张三；时限：2026-12-31）"), "2026-12-31", "整改中",
             neutralise(r)]
            for i, (c, a, r, m) in enumerate(names.values(), 1)]
    parsed = read_ledger(lf.xlsx_bytes(lf.table(*rows, header=header)), "names.xlsx")
    plan = importer.plan_import(p.db, p.actors["lead"], parsed, "audit", filename="names.xlsx")
    result = importer.apply_import(p.db, p.actors["lead"], plan, AT)
    checked = 0
    for iid, (key, (c, a, r, m)) in zip(result.issue_ids, names.items()):
        got = p.db.conn.execute(
            "SELECT c.name, a.name FROM issues i JOIN aspects a ON a.id = i.aspect_id "
            "JOIN categories c ON c.id = a.category_id WHERE i.id = ?", (iid,)).fetchone()
        assert got == (c, a), key
        causes = [x[0] for x in p.db.conn.execute(
            "SELECT title FROM causes JOIN issue_causes ON cause_id = causes.id "
            "WHERE issue_id = ?", (iid,))]
        measures = [x[0] for x in p.db.conn.execute(
            "SELECT title FROM measures WHERE issue_id = ?", (iid,))]
        assert causes == [r] and measures == [m], key
        checked += 4
    print(f"\nHOSTILE import names: {checked} category, aspect, cause and measure cells "
          "imported and read back equal")
