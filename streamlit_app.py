"""The router: page config, the database, the sign-in gate, the sidebar, and the pages each role
may open (`st.navigation(...).run()`).

To add a page: write `<package>/<name>_page.py` with a `render()` function that takes no
arguments (it gets the database, the actor and the language from `audit.ui`), then add or
edit its PageSpec line in PAGES and its `page.*` title in the catalogues (audit/messages_*.py).
A page module is imported when the page is first opened; a missing one is an error."""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Callable

import streamlit as st

from audit import accounts_service, login_page, ui
from audit.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, build_demo
from audit.messages import t
from audit.model import Actor, AuditError, Role

log = logging.getLogger("audit.app")

EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: where its code is, what it is called, who may open it."""

    module: str                      # e.g. "issues.catalogue_page"
    title_key: str                   # catalogue key of the title, e.g. "page.catalogue"
    roles: frozenset[Role]           # roles that see it in the navigation
    url_path: str                    # stable URL segment, e.g. "catalogue"
    section_key: str = "nav.work"    # catalogue key of the navigation section
    function: str = "render"         # no-argument function in `module` that draws the page
    icon: str | None = None          # Material icon, e.g. ":material/list:"
    home_of: frozenset[Role] = frozenset()  # roles that land on this page after sign-in


PAGES: tuple[PageSpec, ...] = (
    PageSpec("audit.dashboard_page", "page.dashboard", EVERYONE, "dashboard", "nav.overview",
             icon=":material/dashboard:", home_of=frozenset({Role.MANAGER, Role.ADMIN})),
    PageSpec("issues.catalogue_page", "page.catalogue", EVERYONE, "catalogue",
             icon=":material/table_view:"),
    PageSpec("issues.issue_page", "page.issue", EVERYONE, "issue",
             icon=":material/description:"),
    PageSpec("issues.my_work_page", "page.my_work", frozenset({Role.RECTIFIER, Role.LEAD}),
             "my-work", icon=":material/task_alt:", home_of=frozenset({Role.RECTIFIER})),
    PageSpec("issues.return_page", "page.return", frozenset({Role.RECTIFIER, Role.LEAD}),
             "ledger-return", icon=":material/assignment_return:"),
    PageSpec("issues.verify_page", "page.verify", frozenset({Role.LEAD}), "verify",
             icon=":material/fact_check:", home_of=frozenset({Role.LEAD})),
    PageSpec("issues.meetings_page", "page.meetings", frozenset({Role.LEAD}), "meetings",
             icon=":material/groups:"),
    PageSpec("issues.graphs_page", "page.graphs",
             frozenset({Role.LEAD, Role.MANAGER, Role.ADMIN}), "causes",
             icon=":material/account_tree:"),
    PageSpec("issues.merge_page", "page.merge", frozenset({Role.LEAD, Role.ADMIN}), "merge",
             icon=":material/merge:"),
    PageSpec("owners.owners_page", "page.owners",
             frozenset({Role.ADMIN, Role.LEAD, Role.MANAGER}), "owners", "nav.system",
             icon=":material/groups:"),
    PageSpec("issues.import_page", "page.import", frozenset({Role.LEAD, Role.ADMIN}), "import",
             "nav.system", icon=":material/upload_file:"),
    PageSpec("exports.export_page", "page.io", frozenset({Role.LEAD, Role.ADMIN, Role.MANAGER}),
             "export", "nav.system", icon=":material/download:"),
    PageSpec("exports.letter_page", "page.letter", EVERYONE, "letter", icon=":material/mail:"),
    PageSpec("exports.remind_page", "page.remind", frozenset({Role.ADMIN}), "reminders",
             "nav.system", icon=":material/notifications:"),
    PageSpec("audit.admin_page", "page.admin", frozenset({Role.ADMIN}), "admin", "nav.system",
             icon=":material/admin_panel_settings:"),
)

SECTIONS: tuple[str, ...] = ("nav.overview", "nav.work", "nav.system")


def pages_for(role: Role) -> list[PageSpec]:
    """The pages a role sees, in PAGES order."""
    return [spec for spec in PAGES if role in spec.roles]


def home_of(role: Role) -> PageSpec:
    """The page a role lands on after sign-in: its own work (a rectifier's tasks, a lead's
    verification queue, a manager's dashboard); the first page it sees otherwise."""
    mine = pages_for(role)
    return next((spec for spec in mine if role in spec.home_of), mine[0])


def _page_runner(spec: PageSpec) -> Callable[[], None]:
    """A callable for st.Page that imports the page module only when the page is opened."""

    def run() -> None:
        module = importlib.import_module(spec.module)
        try:
            getattr(module, spec.function)()
        except AuditError as exc:
            # A page that forgot to catch a refusal still shows it in words, not a traceback.
            ui.show_error(exc)

    run.__name__ = "page_" + spec.url_path.replace("-", "_")
    return run


def _navigation(actor: Actor, lang: str) -> dict[str, list]:
    """The st.Page objects of the actor's role, grouped by section."""
    grouped: dict[str, list] = {}
    by_path: dict[str, st.Page] = {}
    home = home_of(actor.role)
    for spec in pages_for(actor.role):
        page = st.Page(_page_runner(spec), title=t(spec.title_key, lang), icon=spec.icon,
                       url_path=spec.url_path, default=spec is home)
        grouped.setdefault(t(spec.section_key, lang), []).append(page)
        by_path[spec.url_path] = page
    ui.register_pages(by_path)
    return grouped


def _sidebar(db, actor: Actor, lang: str) -> None:
    """Who is signed in, with what scope; language; sign-out."""
    with st.sidebar:
        st.markdown(f"**{t('app.title', lang)}**")
        st.caption(ui.signed_in_line(accounts_service.display_name_of(db, actor.user_id),
                                     actor.role, lang))
        unit = accounts_service.unit_name(db, actor.unit_id)
        st.caption(t("session.scope_unit", lang, unit=unit) if unit
                   else t("session.scope_all", lang))
        ui.language_switch(st.sidebar, "sidebar")
        with st.popover(t("admin.change_password", lang), icon=":material/key:"):
            ui.password_form(db, actor, "sidebar")
        st.button(t("session.logout", lang), key="audit.logout", on_click=ui.end,
                  args=("session.logged_out",), icon=":material/logout:")


def main() -> None:
    """Run one rerun of the app."""
    lang = ui.lang()
    st.set_page_config(page_title=t("app.title", lang), page_icon=":material/fact_check:",
                       layout="wide")
    ui.widget_texts()
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    try:
        ui.ensure_database(build_demo)
        db = ui.database()
    except Exception:
        log.exception("cannot open the database")
        st.error(t("app.db_error", lang))
        st.stop()
    _background_refresh(ui.database_file_of(db))
    actor = ui.refresh_actor(db)
    if actor is None:
        # A stranger gets the sign-in page and nothing else, whatever URL was asked for; under
        # the address asked for, so that a link (a reminder's, a colleague's) opens its page
        # once signed in.
        paths = ["login", *dict.fromkeys(spec.url_path for spec in PAGES)]
        login = [st.Page(lambda: _login(db), title=t("page.login", lang), url_path=path,
                         default=path == "login") for path in paths]
        st.navigation(login, position="hidden").run()
        return
    _sidebar(db, actor, lang)
    # Every page of the role stays listed: the default folds a long list behind "View more"
    # (English on a Chinese screen, and a lead's 导出 hidden behind it).
    st.navigation(_navigation(actor, lang), expanded=True).run()


@st.cache_resource(show_spinner=False)
def _background_refresh(path: str):
    """The stored results' refresher for this database: one thread per process (cached)."""
    from issues import refresh_worker
    return refresh_worker.start(path, ui.today, ui.now_at)


def _login(db) -> None:
    """The sign-in page, with the demo accounts on a demo database."""
    login_page.render(db, demo_accounts=DEMO_ACCOUNTS, demo_password=DEMO_PASSWORD)




# --- downloads: files of the programme served only to the session that asked ------------------

# Types a grant may show inside the page (an image, a PDF viewer); anything else is saved.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif",
                          "image/webp"})


def _download(request):
    """GET /download/<token>: the file a signed-in session was granted (audit/store/downloads.py),
    checked again as it is fetched; 404 for an unknown, expired or revoked token or a file the
    user may no longer have. Never cached, never sniffed."""
    from urllib.parse import quote

    from starlette.responses import Response

    from audit.store import downloads
    grant = downloads.redeem(request.path_params["token"])
    if grant is None:
        return Response(status_code=404)
    try:
        name, mime, data = grant.loader()
    except AuditError:
        return Response(status_code=404)
    inline = grant.inline and mime in INLINE_TYPES and request.query_params.get("inline") == "1"
    disposition = "inline" if inline else "attachment"
    return Response(data, media_type=mime, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    })


if __name__ != "__main__":
    # Imported by `streamlit run` (which finds this st.App and serves it, the router below as
    # its script) or by an ASGI server: the app with the download route beside Streamlit's own.
    from starlette.routing import Route

    app = st.App(__file__, routes=[Route(f"/{ui.DOWNLOAD_PATH}/{{token}}", _download)])


if __name__ == "__main__":
    main()
