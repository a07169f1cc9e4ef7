"""The router: page config, the database, the sign-in gate, the sidebar, and the pages each role
may open (`st.navigation(...).run()`).

To add a page: write `<package>/<name>_page.py` with a `render()` function that takes no
arguments (it gets the database, the actor and the language from `audit.session`), then add or
edit its PageSpec line in PAGES and its `page.*` title in audit/i18n.py. A page whose module does
not exist yet shows a "being built" notice instead of failing."""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Callable

import streamlit as st

from audit import session, users
from audit.errors import AuditError
from audit.i18n import t, label
from audit.model import Actor, Role

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
    default: bool = False            # the page shown after sign-in


PAGES: tuple[PageSpec, ...] = (
    PageSpec("audit.dashboard_page", "page.dashboard", EVERYONE, "dashboard", "nav.overview",
             icon=":material/dashboard:", default=True),
    PageSpec("issues.catalogue_page", "page.catalogue", EVERYONE, "catalogue",
             icon=":material/table_view:"),
    PageSpec("issues.issue_page", "page.issue", EVERYONE, "issue",
             icon=":material/description:"),
    PageSpec("issues.my_work_page", "page.my_work", frozenset({Role.RECTIFIER, Role.LEAD}),
             "my-work", icon=":material/task_alt:"),
    PageSpec("issues.verify_page", "page.verify", frozenset({Role.LEAD}), "verify",
             icon=":material/fact_check:"),
    PageSpec("issues.graphs_page", "page.graphs",
             frozenset({Role.LEAD, Role.MANAGER, Role.ADMIN}), "causes",
             icon=":material/account_tree:"),
    PageSpec("issues.import_page", "page.merge", frozenset({Role.LEAD, Role.ADMIN}), "merge",
             icon=":material/merge:"),
    PageSpec("owners.owners_page", "page.owners",
             frozenset({Role.ADMIN, Role.LEAD, Role.MANAGER}), "owners", "nav.system",
             icon=":material/groups:"),
    PageSpec("exports.io_page", "page.io", frozenset({Role.LEAD, Role.ADMIN, Role.MANAGER}),
             "import-export", "nav.system", icon=":material/swap_vert:"),
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


def _page_runner(spec: PageSpec) -> Callable[[], None]:
    """A callable for st.Page that imports the page module only when the page is opened."""

    def run() -> None:
        try:
            module = importlib.import_module(spec.module)
        except ModuleNotFoundError as exc:
            # Only the page module itself may be absent (not written yet); a missing import
            # inside it is a real bug and must surface.
            if exc.name != spec.module:
                raise
            st.info(session.text("page.coming", page=session.text(spec.title_key)))
            return
        try:
            getattr(module, spec.function)()
        except AuditError as exc:
            # A page that forgot to catch a refusal still shows it in words, not a traceback.
            session.show_error(exc)

    run.__name__ = "page_" + spec.url_path.replace("-", "_")
    return run


def _navigation(actor: Actor, lang: str) -> dict[str, list]:
    """The st.Page objects of the actor's role, grouped by section."""
    grouped: dict[str, list] = {}
    for spec in pages_for(actor.role):
        page = st.Page(_page_runner(spec), title=t(spec.title_key, lang), icon=spec.icon,
                       url_path=spec.url_path, default=spec.default)
        grouped.setdefault(t(spec.section_key, lang), []).append(page)
    return grouped


def _sidebar(db, actor: Actor, lang: str) -> None:
    """Who is signed in, with what scope; language; sign-out."""
    with st.sidebar:
        st.markdown(f"**{t('app.title', lang)}**")
        st.caption(t("session.signed_in_as", lang, name=users.display_name_of(db, actor.user_id),
                     role=label("role", actor.role, lang)))
        unit = users.unit_name(db, actor.unit_id)
        st.caption(t("session.scope_unit", lang, unit=unit) if unit
                   else t("session.scope_all", lang))
        session.language_switch(st.sidebar, "sidebar")
        with st.popover(t("admin.change_password", lang), icon=":material/key:"):
            from audit import login_page
            login_page.password_form(db, actor, "sidebar")
        st.button(t("session.logout", lang), key="audit.logout", on_click=session.end,
                  args=("session.logged_out",), icon=":material/logout:")


def main() -> None:
    """Run one rerun of the app."""
    lang = session.lang()
    st.set_page_config(page_title=t("app.title", lang), page_icon=":material/fact_check:",
                       layout="wide")
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    try:
        db = session.database()
    except session.DemoUnavailable:
        st.error(t("app.db_missing_demo", lang))
        st.stop()
    except Exception:
        log.exception("cannot open the database")
        st.error(t("app.db_error", lang))
        st.stop()
    actor = session.refresh_actor(db)
    if actor is None:
        # A stranger gets the sign-in page and nothing else, whatever URL was asked for.
        login = st.Page(lambda: _login(db), title=t("page.login", lang), url_path="login",
                        default=True)
        st.navigation([login], position="hidden").run()
        return
    _sidebar(db, actor, lang)
    st.navigation(_navigation(actor, lang)).run()


def _login(db) -> None:
    """The sign-in page (imported here so the router stays a table)."""
    from audit import login_page
    login_page.render(db)


if __name__ == "__main__":
    main()
