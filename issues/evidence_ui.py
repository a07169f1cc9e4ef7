"""Evidence shown where it is checked (问题详情, 验收): a PDF page by page as images, an image
inline, a Word document's text, a workbook's first rows; the download beside it. Images are
fetched through the session's own download grants (audit/store/downloads.py: only this signed-in
session, checked again at every fetch), never through Streamlit's open /media addresses."""
from __future__ import annotations

import streamlit as st

from audit import ui
from audit.model import Actor, AuditError
from issues import issue_views


def _image(url: str | None, alt: str) -> None:
    """An image from a grant's address (relative to the app); `alt` is catalogue text."""
    if url:
        st.markdown(f"![{ui.md_escape(alt)}]({url}?inline=1)")


def show(db, actor: Actor, e: dict, key: str, caption: str = "") -> None:
    """One evidence file: its preview and its download link. `e` is a row of the issue's
    evidence (id, filename…); `key` makes the widgets' keys unique on the page; `caption` (text,
    not markdown) says where it belongs and who uploaded it."""
    text = ui.text
    try:
        preview = issue_views.evidence_preview(db, actor, e["id"])
    except AuditError as exc:
        ui.show_error(exc)
        return
    with st.container(border=True, key=f"{key}.box"):
        st.text(e["filename"])
        if caption:
            st.caption(ui.md_escape(caption))
        if preview.kind == "pdf":
            page = 1
            if preview.pages > 1:
                page = st.number_input(text("evidence.page", total=preview.total_pages),
                                       min_value=1, max_value=preview.pages, step=1,
                                       key=f"{key}.page")
            _image(ui.download_url(f'evidence:{e["id"]}:page:{page}',
                                   issue_views.evidence_page_loader(db, actor, e["id"],
                                                                    int(page) - 1)),
                   text("evidence.page_alt", page=page))
            if preview.truncated:
                st.caption(text("evidence.more_pages", shown=preview.pages,
                                total=preview.total_pages))
        elif preview.kind == "image":
            _image(ui.download_url(f'evidence:{e["id"]}:inline',
                                   issue_views.evidence_loader(db, actor, e["id"])),
                   text("evidence.image_alt"))
        elif preview.kind == "text":
            with st.container(height=260, key=f"{key}.text"):
                st.text(preview.text)
            if preview.truncated:
                st.caption(text("evidence.text_cut"))
        elif preview.kind == "table":
            st.dataframe(preview.rows, hide_index=True, width="stretch", key=f"{key}.rows")
            if preview.truncated:
                st.caption(text("evidence.table_cut"))
        else:
            st.caption(text("evidence.no_preview"))
        ui.download_link(text("issue.download"), what=f'evidence:{e["id"]}',
                         loader=issue_views.evidence_loader(db, actor, e["id"]),
                         key=f"{key}.download")
