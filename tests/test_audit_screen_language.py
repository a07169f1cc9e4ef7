"""One language on screen: every page each demo account opens, drawn under AppTest in Chinese
and in English, is read for the tool's own text (titles, labels, captions, messages, button and
tab texts, table headers, select-box placeholders and options, chart titles and axis names):
in Chinese no ASCII word that is not data (what users typed, codes, names) nor one of a few
product words (PDF, Excel…); in English no CJK outside data. Select boxes that show nothing
must carry a placeholder (Streamlit's own is "Choose an option"), and the stylesheet that puts
the file uploader's own texts in the page's language is there in both languages."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from audit.messages import t
from tests.conftest import open_page, sign_in

PASSWORD = "demo1234"
# Words that are the product's vocabulary in both languages (compared in capitals): file
# formats, units, protocols, brands, the README, and "English" as the language switch names it.
PRODUCT_WORDS = frozenset({"PDF", "DOCX", "XLSX", "CSV", "PNG", "JPG", "JPEG", "GIF", "WEBP",
                           "TXT", "ZIP", "DOC", "XLS", "EXCEL", "WORD", "WPS", "MB", "KB", "GB",
                           "SMTP", "STARTTLS", "TLS", "SSL", "CA", "OIDC", "URL", "ID", "UTC",
                           "HTML", "JSON", "HTTP", "HTTPS", "WEBHOOK", "README", "ENGLISH"})
# Not words of either language: code and commands in backticks, addresses, file paths,
# markdown's colour directives (:red[…]) and the target of a markdown image or link (an
# evidence page's download grant: only its alt text is read).
NOT_TEXT = re.compile(r"\\?`.*?\\?`|https?://\S+|(?:/[\w.\-]+){2,}|:[a-z]+\[|"
                      r":material/[a-z_]+:|\]\([^)\s]*\)")
# (account, pages): together every page of the navigation, each with the role that does its
# work there.
VISITS = (
    ("lead", ("", "catalogue", "issue", "my-work", "verify", "meetings", "causes", "owners",
              "import", "export", "merge", "letter")),
    ("team", ("my-work", "issue", "ledger-return")),
    ("manager", ("",)),
    ("admin", ("admin", "reminders")),
)
DATA_COLUMNS = {
    "issues": ("code", "title", "description", "basis", "recommendation", "progress",
               "status_reason"),
    "measures": ("title", "progress"), "units": ("code", "name"), "people": ("name", "title"),
    "users": ("username", "display_name"), "audits": ("name", "report_no"),
    "categories": ("code", "name", "name_en"), "aspects": ("code", "name", "name_en"),
    "causes": ("code", "title", "description"), "focus_points": ("code", "name", "name_en"),
    "streams": ("code", "name", "name_en"), "evidence": ("filename",),
    "accountability": ("person_name", "action", "reason"), "extensions": ("reason",),
    "rules": ("title",), "settings": ("value",), "history": ("actor", "old", "new"),
}
# Chinese characters and punctuation; the ideographic space indents tree levels in lists and is
# blank in either language.
CJK = re.compile(r"[\u3001-\u303f\u3400-\u9fff\uff00-\uffef]+")
WORD = re.compile(r"[A-Za-z][A-Za-z_]+")


def _data_text(path: Path) -> str:
    """Every text users typed or imported, joined: what may appear on screen as it is."""
    conn = sqlite3.connect(path)
    try:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        parts = []
        for table, columns in DATA_COLUMNS.items():
            if table not in have:
                continue
            known = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column in known:
                    parts += [str(v) for (v,) in conn.execute(
                        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")]
        return "\n".join(parts)
    finally:
        conn.close()


def _spec_titles(spec: object) -> list[str]:
    """The titles, subtitles and axis/legend titles of a Vega-Lite spec (not its data)."""
    out: list[str] = []
    if isinstance(spec, dict):
        for k, v in spec.items():
            if k in ("datasets", "data", "values"):
                continue
            if k in ("title", "subtitle", "text") and isinstance(v, str):
                out.append(v)
            elif k in ("title", "subtitle") and isinstance(v, list):
                out += [x for x in v if isinstance(x, str)]
            else:
                out += _spec_titles(v)
    elif isinstance(spec, list):
        for v in spec:
            out += _spec_titles(v)
    return out


def screen_texts(app) -> list[tuple[str, str]]:
    """(where, text) of the tool's own text on the drawn page."""
    out: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "success", "error", "exception", "text"):
        out += [(kind, str(e.value)) for e in app.get(kind)]
    for kind in ("button", "download_button", "link_button", "page_link", "text_input",
                 "text_area", "number_input", "date_input", "checkbox", "toggle", "radio",
                 "selectbox", "multiselect", "slider", "select_slider", "file_uploader",
                 "metric", "time_input", "color_picker"):
        for e in app.get(kind):
            proto = e.proto
            for field in ("label", "help", "placeholder"):
                value = getattr(proto, field, "")
                if value:
                    out.append((f"{kind}.{field}", value))
            if kind in ("radio", "selectbox", "multiselect", "select_slider"):
                out += [(f"{kind}.option", o) for o in proto.options]
    for kind in ("tab", "expander"):
        out += [(kind, e.label) for e in app.get(kind)]
    for e in app.get("dataframe"):
        config = json.loads(e.proto.columns or "{}")
        for c in e.value.columns:
            # A column shown under a configured label is read under that label.
            label = (config.get(str(c)) or config.get(f"name:{c}") or {}).get("label")
            out.append(("table.header", label or str(c)))
    for e in app.get("vega_lite_chart"):
        out += [("chart", s) for s in _spec_titles(json.loads(e.proto.spec))]
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def foreign_words(texts: list[tuple[str, str]], lang: str, data: str) -> list[str]:
    """The words of the other language on screen that are neither data nor product words."""
    found = []
    for where, raw in texts:
        text = NOT_TEXT.sub(" ", _unescape(raw))
        if lang == "zh":
            for word in WORD.findall(text):
                if word.upper() not in PRODUCT_WORDS and word not in data:
                    found.append(f"{where}: {word!r} in {text[:80]!r}")
        else:
            for run in CJK.findall(text):
                if run not in data and run != "中文":  # the language switch names Chinese so
                    found.append(f"{where}: {run!r} in {text[:80]!r}")
    return found


def _issue_id(path: Path) -> int:
    """A demo issue of 包头 with measures, causes and accountability: the fullest issue page."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT i.id FROM issues i JOIN units u ON u.id = i.unit_id WHERE u.code = 'BT' "
            "ORDER BY (SELECT COUNT(*) FROM measures m WHERE m.issue_id = i.id) DESC, i.id "
            "LIMIT 1").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def data(demo_path) -> str:
    return _data_text(demo_path)


def _visit(make_app, path: Path, who: str, page: str, lang: str = "zh"):
    """A fresh session of `who` on `page` (AppTest carries the previous page's widgets into the
    next run and formats their values outside the session, in the default language)."""
    app = make_app(path)
    app.query_params["lang"] = lang
    sign_in(app, who, PASSWORD)
    if page == "issue":
        app.query_params["id"] = str(_issue_id(path))
    return open_page(app, page)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("who, pages", VISITS, ids=[v[0] for v in VISITS])
def test_every_page_speaks_one_language(demo_path, make_app, data, lang, who, pages):
    problems = []
    for page in pages:
        app = _visit(make_app, demo_path, who, page, lang)
        assert not app.exception, (page, app.exception)
        problems += [f"{page or 'dashboard'} · {p}"
                     for p in foreign_words(screen_texts(app), lang, data)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who, pages", VISITS, ids=[v[0] for v in VISITS])
def test_no_select_box_falls_back_to_streamlits_english_placeholder(demo_path, make_app,
                                                                    who, pages):
    empty = []
    for page in pages:
        app = _visit(make_app, demo_path, who, page)
        for e in [*app.get("selectbox"), *app.get("multiselect")]:
            # What the browser is told to show: no default index means an empty box.
            p = e.proto
            if p.DESCRIPTOR.name == "Selectbox":
                shows_nothing = not p.HasField("default") and not (
                    p.set_value and p.HasField("raw_value"))
            else:
                shows_nothing = not p.default and not (p.set_value and p.raw_values)
            if (shows_nothing or not p.options) and not p.placeholder:
                empty.append(f"{page}: {e.proto.label!r}")
    assert not empty, "\n".join(empty)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_file_uploaders_own_texts_are_replaced_in_the_pages_language(demo_path, make_app,
                                                                          lang):
    app = make_app(demo_path)
    app.query_params["lang"] = lang
    sign_in(app, "lead", PASSWORD)
    open_page(app, "import")
    styles = [e.proto.body for e in app.get("html") if "stFileUploaderDropzone" in e.proto.body]
    assert styles, "the widget stylesheet is missing"
    css = styles[0]
    for key in ("widget.upload", "widget.upload_hint", "widget.upload_drop"):
        assert f'"{t(key, lang)}"' in css
    assert "display: none" in css


def test_the_import_mapping_names_fields_by_their_ledger_column_names(demo_path, tmp_path,
                                                                      make_app):
    from tests.conftest import copy_database
    from tests.ledger_factory import row, table, xlsx_bytes
    path = copy_database(demo_path, tmp_path / "demo.db")
    app = open_page(sign_in(make_app(path), "lead", PASSWORD), "import")
    data = xlsx_bytes(table(row(1, 问题编号="", 问题类别="外包合同管理", 问题方面="合同签订",
                                责任单位="包头市分公司", 责任人="新同事", 整改状态="未启动")))
    app.file_uploader(key="issues.import.file.0").set_value(
        ("台账.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    app.run()
    assert not app.exception, app.exception
    editors = [e for e in app.get("dataframe") if "header" in e.value.columns]
    assert editors, [list(e.value.columns) for e in app.get("dataframe")]
    editor = editors[0]
    fields = set(editor.value["field"])
    assert {"问题类别", "问题方面", "责任单位"} <= fields
    assert not fields & {"category", "aspect", "unit", "responsible"}
