"""No user text is ever rendered as markup, on any page, for any role: a programme whose every
text field holds markdown, LaTeX, colour directives, links, images and HTML is opened page by
page, and every string Streamlit would render as markdown (bodies, titles, captions, alerts,
labels of buttons, links, expanders, tabs, metrics and widgets, help texts) is checked for the
payloads as typed. Escaped, they reach the reader as text; raw, they would be bold, a link, an
image fetched from elsewhere, a formula or colour."""
from __future__ import annotations

import pytest

from issues import service as issues
from issues.model import Move
from tests.conftest import open_page, sign_in
from tests.programme import PASSWORD
from tests.test_reliability_hostile import HOSTILE, SLOW_RUN, put_everywhere

# What a payload would become if rendered: each must never reach markdown as typed.
FRAGMENTS = ("**粗体**", "_斜体_", "`code`", "<b>b</b>", "$x^2$", ":red[红]",
             "[点我](javascript:alert(1))", "<script>", "<img src=x", "](javascript:")
PAYLOADS = ("md_markup", "md_link", "script", "img")
# Element types whose strings are shown as plain text, never markdown.
PLAIN = {"dataframe", "arrow_data_frame", "code", "text", "json", "arrow_vega_lite_chart",
         "vega_lite_chart", "table", "exception"}
FIELDS = ("body", "label", "help", "placeholder", "caption")

PAGES = {
    # "" is each role's landing page: the verification queue for a lead, 我的任务 for a
    # rectifier, the dashboard for a manager.
    "lead": ("", "dashboard", "catalogue", "issue", "issue:open", "my-work", "causes",
             "owners", "import", "export", "merge"),
    "rect": ("", "dashboard", "catalogue", "issue", "issue:open", "ledger-return"),
    "manager": ("", "catalogue", "issue", "causes", "owners", "export"),
    "admin": ("admin", "owners", "catalogue", "issue:open"),
}


@pytest.fixture(scope="module")
def programme(tmp_path_factory):
    from tests.programme import build
    p = build(tmp_path_factory.mktemp("markup"))
    made = {k: put_everywhere(p, k, HOSTILE[k]) for k in PAYLOADS}
    # One hostile item waits for verification, so the queue shows it.
    iid = made["md_markup"]["issue"]
    mid = made["md_markup"]["measure"]
    from issues import evidence_service
    from tests.programme import MAX_UPLOAD, PDF
    evidence_service.attach_evidence(p.db, p.actors["lead"], iid,
                                     filename=HOSTILE["md_markup"][:60] + ".pdf", data=PDF,
                                     evidence_root=p.evidence_root, max_bytes=MAX_UPLOAD,
                                     measure_id=mid, at=p.at("2026-11-20"))
    issues.set_measure_status(p.db, p.actors["lead"], mid, version=p.mversion(mid),
                              status="done", at=p.at("2026-11-20"))
    issues.move_issue(p.db, p.actors["rect"], iid, Move.SUBMIT, version=p.version(iid),
                      at=p.at("2026-11-21"))
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return p, made


def markdown_strings(app) -> list[tuple[str, str]]:
    """(element type, string) of everything on the page Streamlit renders as markdown."""
    out: list[tuple[str, str]] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is not None and kind not in PLAIN:
            for fd, value in proto.ListFields():
                if fd.name in FIELDS and isinstance(value, str):
                    out.append((kind, value))
                elif hasattr(value, "ListFields") and fd.name not in ("data", "spec"):
                    for fd2, v2 in value.ListFields():       # a block's expander/tab/popover
                        if fd2.name in FIELDS and isinstance(v2, str):
                            out.append((f"{kind}.{fd.name}", v2))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(app._tree)
    return out


@pytest.mark.parametrize("role, page", [(r, pg) for r, pages in PAGES.items() for pg in pages])
def test_no_page_renders_user_text_as_markup(programme, make_app, role, page):
    p, made = programme
    app = make_app(p.path)
    app.default_timeout = SLOW_RUN
    sign_in(app, role, PASSWORD)
    if page.startswith("issue"):
        # Submitted (read-only forms) and in progress (every form drawn).
        which = "md_link" if page == "issue:open" else "md_markup"
        app.query_params["id"] = str(made[which]["issue"])
        page = "issue"
    app = open_page(app, page)
    assert not app.exception, app.exception
    strings = markdown_strings(app)
    assert strings, "nothing collected: the walker found no text"
    bad = [(kind, s[:160]) for kind, s in strings for frag in FRAGMENTS if frag in s]
    assert not bad, bad
