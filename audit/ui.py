"""Streamlit session helpers shared by every page: the database of this browser session, the
signed-in actor (re-checked on every rerun), the language, the clock, and showing refusals.

Pages use: `database()`, `current_actor()` / `require_actor()`, `lang()`, `text(key, **p)`,
`show_error(exc)`, `now_at()`, `today()`. This is the only layer (with the CLI) that reads the
clock; everything below takes `at` / `as_of` as arguments."""
from __future__ import annotations

import os
import secrets
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlite_utils
import streamlit as st

from audit import accounts_service, login_service, messages, time_model
from audit.messages import error_text, label
from audit.model import Actor, AlreadySubmitted, AuditError, StaleEdit, ValidationFailed
from audit.store import downloads, keys, org, versions
from audit.store.db import database_file, open_database
from audit.store.paths import database_path, evidence_dir

# Session-state keys, prefixed so that page widgets cannot collide with them.
_USER_ID = "audit.user_id"
_ROLE = "audit.role"
_PASSWORD_STAMP = "audit.password_changed_at"
_LAST_SEEN = "audit.last_seen"
_ACTOR = "audit.actor"
_NOTICE = "audit.notice"
_LANG = "audit.lang"
_DOWNLOADS = "audit.downloads"   # the key of this sign-in's download grants
LANG_WIDGET = "audit.lang_widget"

DEFAULT_IDLE_MINUTES = 30


# --- what cached reads depend on -------------------------------------------------------------

EVERYTHING = None


def data_key(db: sqlite_utils.Database, unit_ids: Iterable[int] | None = EVERYTHING
             ) -> tuple[str, int]:
    """(database file, data version): the part of every page cache's key that says which data
    it was read from. The version (audit.store.versions) is that of the units the read covers
    (`unit_ids`, already expanded with descendants, as in Scope and Actor.scope_unit_ids; None:
    the whole programme): it moves with every write that touches one of them or everything
    (the org tree, reference data…), never with a sign-in, so a cached read is never stale and
    a write in one unit leaves the caches of other units warm."""
    return database_file(db), versions.version_of(db, unit_ids)


def database_file_of(db: sqlite_utils.Database) -> str:
    """The file the session's database is (what per-database resources are keyed on)."""
    return database_file(db)


# --- clock ----------------------------------------------------------------------------------------

def now_at() -> str:
    """Now in Asia/Shanghai as 'YYYY-MM-DDTHH:MM:SS+08:00' (history's `at` form)."""
    return time_model.now_text()


def today() -> date:
    """Today's date in Asia/Shanghai."""
    return time_model.today()


def idle_minutes() -> float:
    """Minutes without a rerun after which a session ends ($AUDIT_IDLE_MINUTES, default 30)."""
    try:
        return float(os.environ.get("AUDIT_IDLE_MINUTES", DEFAULT_IDLE_MINUTES))
    except ValueError:
        return DEFAULT_IDLE_MINUTES


# --- language -------------------------------------------------------------------------------------

def lang() -> str:
    """The session's language: chosen in the switch, else ?lang= in the URL, else Chinese."""
    if _LANG not in st.session_state:
        st.session_state[_LANG] = messages.normalise_lang(st.query_params.get("lang"))
    return st.session_state[_LANG]


def set_lang(code: str) -> None:
    """Switch the session's language and keep it in the URL (so a reload or a link keeps it)."""
    code = messages.normalise_lang(code)
    st.session_state[_LANG] = code
    if st.query_params.get("lang") != code:
        st.query_params["lang"] = code


def _on_lang_switch(widget_key: str) -> None:
    """Widget callback: adopt the language picked in the switch."""
    picked = st.session_state.get(widget_key)
    if picked:
        set_lang(picked)


def language_switch(container=st, where: str = "main") -> None:
    """The zh/en switch, in the given container. `where` keeps the login page's switch and the
    sidebar's apart: a widget that moves starts afresh from its default (the current language)."""
    current = lang()
    widget_key = f"{LANG_WIDGET}.{where}"
    container.segmented_control(
        messages.t("login.language", current), list(messages.LANGS), default=current,
        format_func=lambda code: messages.LANG_NAMES[code], key=widget_key, required=True,
        on_change=_on_lang_switch, args=(widget_key,))


def signed_in_line(name: str, role, lang: str) -> str:
    """Who is signed in, with the role once: a name that already says the role (in either
    language, as a demo account's description does) is not followed by it again."""
    said = {messages.label("role", role, code) for code in messages.LANGS}
    if any(word and word in name for word in said):
        return messages.t("session.signed_in_name", lang, name=name)
    return messages.t("session.signed_in_as", lang, name=name, role=messages.label("role", role, lang))


def text(key: str, **params) -> str:
    """Catalogue text in the session's language."""
    return messages.t(key, lang(), **params)


def show_error(exc: AuditError) -> None:
    """Show a refusal from the services in the session's language (never a traceback)."""
    st.error(md_escape(messages.error_text(exc, lang())))


# --- database ----------------------------------------------------------------------------------

DemoBuilder = Callable[..., Any]   # build_demo(db, *, as_of, seed, evidence_root)


@st.cache_resource(show_spinner=False)
def _ensure_database(path: str, _build_demo: DemoBuilder) -> bool:
    """Create the database file with the demo programme if it does not exist, once per process.
    Returns True when this call created it."""
    target = Path(path)
    if target.exists():
        return False
    # Build beside the target and rename, so that a failure half-way never leaves a file that
    # looks like a usable (but empty) database.
    partial = target.with_name(target.name + ".building")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    db = open_database(partial)
    # The history key belongs to the target's name (the file is renamed once built).
    keys.use_key(db, keys.configured_key(target) or keys.ensure_key_file(target))
    try:
        _build_demo(db, as_of=today(), seed=1, evidence_root=evidence_dir(target))
        accounts_service.mark_demo_database(db, now_at())
        org.checkpoint(db)
    finally:
        db.conn.close()
    os.replace(partial, target)
    for leftover in (Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    return True


def _close(db: sqlite_utils.Database) -> None:
    """Release a session's connection."""
    db.conn.close()


@st.cache_resource(scope="session", on_release=_close, show_spinner=False)
def _session_database(path: str) -> sqlite_utils.Database:
    """One connection per browser session: a shared one would let two sessions' transactions
    interleave on the same connection."""
    return open_database(path)


def ensure_database(build_demo: DemoBuilder) -> None:
    """Create this process's database ($AUDIT_DB or data/tracker.db) with `build_demo` when the
    file does not exist yet (the router calls this before anything opens it)."""
    _ensure_database(str(database_path().resolve()), build_demo)


def database() -> sqlite_utils.Database:
    """This session's database ($AUDIT_DB or data/tracker.db)."""
    return _session_database(str(database_path().resolve()))


def database_is_demo(db: sqlite_utils.Database) -> bool:
    """Was the database built as a demo?"""
    return accounts_service.is_demo_database(db)


# --- the signed-in actor -----------------------------------------------------------------------

def start(result: login_service.LoginResult) -> None:
    """Open the session for a successful sign-in."""
    for key in (_NOTICE, _ACTOR):
        st.session_state.pop(key, None)
    st.session_state[_USER_ID] = result.actor.user_id
    st.session_state[_ROLE] = result.actor.role.value
    st.session_state[_PASSWORD_STAMP] = result.password_changed_at
    st.session_state[_LAST_SEEN] = time.time()
    st.session_state[_ACTOR] = result.actor
    st.session_state[_DOWNLOADS] = secrets.token_hex(16)


def adopt_password_stamp(stamp: str) -> None:
    """Keep this session open after its own user changed the password."""
    st.session_state[_PASSWORD_STAMP] = stamp


def end(notice_key: str | None = None) -> None:
    """Close the session (sign-out, expiry, revoked account); keep the language and a notice
    for the sign-in page."""
    session_key = st.session_state.pop(_DOWNLOADS, None)
    if session_key:
        downloads.revoke_session(session_key)
    for key in (_USER_ID, _ROLE, _PASSWORD_STAMP, _LAST_SEEN, _ACTOR):
        st.session_state.pop(key, None)
    if notice_key:
        st.session_state[_NOTICE] = notice_key
    else:
        st.session_state.pop(_NOTICE, None)


def pop_notice() -> str | None:
    """The notice key left by end(), once."""
    return st.session_state.pop(_NOTICE, None)


def refresh_actor(db: sqlite_utils.Database) -> Actor | None:
    """Called by the router once per rerun: end an idle or revoked session, otherwise rebuild the
    Actor from the database (role and scope as they are now) and return it."""
    user_id = st.session_state.get(_USER_ID)
    if user_id is None:
        st.session_state.pop(_ACTOR, None)
        return None
    last_seen = st.session_state.get(_LAST_SEEN, 0.0)
    if time.time() - last_seen > idle_minutes() * 60:
        end("session.expired")
        return None
    if not login_service.session_still_valid(db, user_id, st.session_state.get(_ROLE, ""),
                                     st.session_state.get(_PASSWORD_STAMP, "")):
        end("session.ended")
        return None
    actor = login_service.actor_for(db, user_id)
    st.session_state[_LAST_SEEN] = time.time()
    st.session_state[_ACTOR] = actor
    return actor


def current_actor() -> Actor | None:
    """The signed-in actor, or None. Checks again that the account is still active with the same
    role and password: widget callbacks run before the router's own check of this rerun."""
    user_id = st.session_state.get(_USER_ID)
    actor = st.session_state.get(_ACTOR)
    if user_id is None or actor is None:
        return None
    if not login_service.session_still_valid(database(), user_id, st.session_state.get(_ROLE, ""),
                                     st.session_state.get(_PASSWORD_STAMP, "")):
        end("session.ended")
        return None
    return actor


def require_actor() -> Actor:
    """The signed-in actor; stops the page when there is none (pages are never shown to a
    stranger, this is a second lock)."""
    actor = current_actor()
    if actor is None:
        st.stop()
    return actor


# --- form values across reruns (shared by every page with forms) -------------------------------

def form_value(key: str, current: Any, version: int | None = None) -> None:
    """Give a form widget the database's value, and remember the row `version` it was drawn
    from, so that a save refers to what the user started from (edited_version), not to the last
    rerun. Must run before the widget is drawn.

    While the field's value in the database stays what the widget was filled with, the version
    follows the row (a change to other fields does not conflict with what is typed here). Once
    someone else changes this very field, the widget keeps what it showed and the old version:
    the browser may hold text typed over it that the server cannot see (a form sends it only on
    submit), so refreshing it would let that text overwrite the other change unseen. A save is
    then refused as stale, naming who changed it, with the typed text kept; `changed_meanwhile`
    tells the page to offer the newer value."""
    base, ver = key + ".base", key + ".version"
    state = st.session_state
    if key not in state or base not in state:
        state[key] = current
        state[base] = current
        state[ver] = version
    elif state[base] == current:
        state[ver] = version


def changed_meanwhile(key: str, current: Any) -> bool:
    """Has someone else changed this field in the database since its widget was filled?"""
    base = key + ".base"
    return base in st.session_state and st.session_state[base] != current


def edited_version(keys: Iterable[str], drawn: int | None) -> int | None:
    """The version a save of these form fields refers to: the oldest version any of them was
    filled from, else `drawn` (the version on screen)."""
    state = st.session_state
    found = [state.get(k + ".version") for k in keys if k + ".version" in state]
    found = [v for v in found if v is not None]
    return min(found) if found else drawn


def acknowledge_newer(keys: Iterable[str], exc: StaleEdit) -> None:
    """After a save refused as stale has told the user who changed the row and when, the form's
    next save refers to that newer version: the user has seen it, and what they now save is
    their merge (a change made after this one is refused again)."""
    for k in keys:
        if k + ".version" in st.session_state:
            st.session_state[k + ".version"] = exc.current_version


def offer_newer(keys: Iterable[str], slot: str) -> None:
    """Tell the user that a field they may be editing was changed by someone else meanwhile,
    with a button that loads the newer values (dropping what the form holds)."""
    keys = tuple(keys)
    st.info(text("form.changed_meanwhile"), icon=":material/sync_problem:")
    st.button(text("form.load_newer"), key=f"{slot}.load_newer", on_click=forget_form,
              args=keys, icon=":material/refresh:")


def forget_form(*keys: str) -> None:
    """Drop form values after a save, so that the widgets follow the database again."""
    for key in keys:
        for suffix in ("", ".base", ".version"):
            st.session_state.pop(key + suffix, None)


# Streamlit draws some texts of its own widgets in English whatever the page's language, and
# offers no parameter for them (streamlit/streamlit#13500, open): the file uploader's button
# ("Upload"), its size-and-type line ("5MB per file • PDF, DOCX") and the line shown while a
# file is dragged over it ("Drag and drop files here"). This stylesheet, scoped to those
# elements by their data-testid, hides them and shows the catalogue's words instead (the
# widget labels already name the file types and the size limit). Select boxes need no CSS:
# every one passes `placeholder=` (tests/test_audit_screen_language.py checks).
WIDGET_CSS = """
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] > p {
  display: none; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {
  content: %(upload)s; }
[data-testid="stFileUploaderDropzoneInstructions"] > div > span { display: none; }
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {
  content: %(hint)s; font-size: 0.875rem; opacity: 0.6; }
[data-testid="stFileUploaderDropzone"] > div:not([data-testid]) > * { display: none; }
[data-testid="stFileUploaderDropzone"] > div:not([data-testid])::after { content: %(drop)s; }
"""


# On a phone (the rectifier's pages at 390 px) a row of tabs wider than the screen scrolls
# sideways by itself and hides its last tabs behind an arrow (问题详情's 变更记录; in English
# also 延期): there the tabs wrap onto a second line instead, so every tab is in view.
PHONE_CSS = """
@media (max-width: 640px) {
  [data-testid="stTabs"] [role="tablist"] { flex-wrap: wrap; row-gap: 0.25rem; }
}
"""


def css_string(value: str) -> str:
    """A text as a CSS string literal: quotes, backslashes and angle brackets escaped (the
    stylesheet sits in HTML)."""
    out = []
    for ch in value:
        out.append(f"\\{ord(ch):x} " if ch in '"\\<>&\n' else ch)
    return '"' + "".join(out) + '"'


def widget_texts() -> None:
    """Put Streamlit's own English widget texts (see WIDGET_CSS) in the page's language, and lay
    tabs out for a phone (PHONE_CSS); call once per rerun, before the page is drawn."""
    st.html("<style>" + WIDGET_CSS % {
        "upload": css_string(text("widget.upload")), "hint": css_string(text("widget.upload_hint")),
        "drop": css_string(text("widget.upload_drop"))} + PHONE_CSS + "</style>")


# Long text in a table: st.dataframe wraps a cell's text when its rows are taller than one line,
# and cuts what does not fit without any mark. Rows of WRAP_ROW_HEIGHT pixels hold two lines;
# `clip` cuts a text to what they hold, ending with "…", and the column's help says where the
# whole text is.
WRAP_ROW_HEIGHT = 60
WRAP_CHARS = 60


def clip(value: str | None, n: int = WRAP_CHARS) -> str:
    """`value` cut to `n` characters, ending with "…" when it was longer."""
    value = value or ""
    return value if len(value) <= n else value[:n - 1] + "…"


def long_text_column(help_key: str = "table.clipped_help") -> Any:
    """The column config of a long-text column: wide, with a help naming where the whole text
    is (the texts themselves go through `clip`)."""
    return st.column_config.TextColumn(width="large", help=text(help_key))


def with_note(main: object, note: object) -> str:
    """A name with a note in brackets, in the page's language: 张三（包头） / 张三 (包头)."""
    return text("common.with_note", main=main, note=note)


def cause_rows(causes: list[dict]) -> list[dict]:
    """An issue's root causes as table rows: 根源编号, 根源 (its sentence), and 说明 only when
    some cause has one (an empty column read as a missing description)."""
    noted = any(c.get("description") for c in causes)
    return [{text("issue.col.cause_code"): c["code"], text("issue.col.cause_title"): c["title"],
             **({text("issue.col.cause_note"): c.get("description") or ""} if noted else {})}
            for c in causes]


def form_token(form: str) -> str:
    """The one-time token of the form `form` as drawn now: pass it in the submit button's
    `args` (bound to this drawing) and on to the service, which spends it in its write
    transaction. A second submit of the same drawing is then refused (AlreadySubmitted)."""
    key = f"audit.form_token.{form}"
    if key not in st.session_state:
        st.session_state[key] = secrets.token_urlsafe(18)
    return st.session_state[key]


def renew_form_token(form: str) -> None:
    """After a successful submit: the next drawing of the form gets a new token."""
    st.session_state.pop(f"audit.form_token.{form}", None)


def blank_form(values: dict[str, Any]) -> None:
    """After a successful submit: set the form's fields to blank values. Dropping the keys is
    not enough: the browser keeps showing (and would send again) what was typed until the
    server sets the widget's value."""
    for key, value in values.items():
        forget_form(key)
        st.session_state[key] = value


def flash(slot: str, kind: str, message: str) -> None:
    """Keep a message for the next drawing of the page."""
    st.session_state[slot] = (kind, message)


def show_flash(slot: str) -> None:
    """Show (once) the message a callback left, as text: messages carry codes, names and values
    that users typed."""
    kind, message = st.session_state.pop(slot, (None, None))
    if kind == "success":
        st.success(md_escape(message), icon=":material/check_circle:")
    elif kind == "warning":
        st.warning(md_escape(message))
    elif kind == "info":
        st.info(md_escape(message), icon=":material/info:")
    elif kind == "error":
        st.error(md_escape(message))


def password_form(db: sqlite_utils.Database, actor: Actor, where: str) -> None:
    """The signed-in user changes their own password; this session stays open, others end."""
    tr = text
    with st.form(f"audit.own_password.{where}", clear_on_submit=True):
        old = st.text_input(tr("field.old_password"), type="password",
                            max_chars=accounts_service.MAX_PASSWORD_LENGTH,
                            autocomplete="current-password")
        new = st.text_input(tr("field.new_password"), type="password",
                            max_chars=accounts_service.MAX_PASSWORD_LENGTH, autocomplete="new-password")
        again = st.text_input(tr("field.confirm_password"), type="password",
                              max_chars=accounts_service.MAX_PASSWORD_LENGTH, autocomplete="new-password")
        submitted = st.form_submit_button(tr("admin.change_password"), type="primary")
    if not submitted:
        return
    try:
        if new != again:
            raise ValidationFailed("confirm_password", "passwords differ", rule="mismatch")
        stamp = accounts_service.change_password(db, actor, old, new, at=now_at())
    except AuditError as exc:
        show_error(exc)
        return
    adopt_password_stamp(stamp)
    st.success(tr("admin.password_changed"))


def act(slot: str, write: Callable[[Any, Actor], str], forget_keys: tuple[str, ...] = (),
        *, token_form: str | None = None, blank: dict[str, Any] | None = None) -> bool:
    """Run one service write from a callback; keep its refusal or success for the rerun. On
    success the form's values are dropped (`blank`: set to these values) and its one-time
    token (`token_form`) renewed; on a refusal they stay. Returns success."""
    actor = current_actor()
    if actor is None:
        return False
    try:
        done = write(database(), actor)
    except StaleEdit as exc:
        acknowledge_newer(forget_keys, exc)
        flash(slot, "error", error_text(exc, lang()) + " "
              + text("issue.stale_keep"))
        return False
    except AlreadySubmitted as exc:
        spent(token_form, blank)
        flash(slot, "info", error_text(exc, lang()))
        return False
    except AuditError as exc:
        flash(slot, "error", error_text(exc, lang()))
        return False
    forget_form(*forget_keys)
    spent(token_form, blank)
    flash(slot, "success", done)
    return True


def spent(token_form: str | None, blank: dict[str, Any] | None = None) -> None:
    """A form's submit was recorded (now or by an earlier submit of the same drawing): the
    next drawing gets a new token and blank fields."""
    if token_form:
        renew_form_token(token_form)
    if blank:
        blank_form(blank)


def issue_link(issue_id: int, code: str, title: str = "") -> None:
    """A link that opens the issue page for this issue in this session."""
    shown = f"{code} {title}".strip()
    # A page link's label is markdown (the code and the title are what users typed); the whole
    # text is the tooltip, since a narrow column cuts the label off.
    st.page_link(page("issue"), label=md_escape(clip(shown, 60)), help=md_escape(shown),
                 icon=":material/description:", query_params={"id": str(issue_id)})


def warning_text(warning: str, lang: str) -> str:
    """A coloured dot and label for markdown (the label comes from the catalogue)."""
    if warning not in WARNING_MD:
        return ""
    return f':{WARNING_MD[warning]}[● {label("warning", warning, lang)}]'


WARNING_MD = {"red": "red", "amber": "orange", "green": "green"}


MD_SPECIAL = frozenset("\\`*_{}[]<>()#+-.!|~$:&")


def md_escape(value: object) -> str:
    """Text for st.markdown with every markdown (and HTML) special character escaped, so that
    what a user typed is shown as typed and never interpreted."""
    return "".join("\\" + ch if ch in MD_SPECIAL else ch for ch in str(value))


# --- the pages, as navigation targets ---------------------------------------------------------

_PAGES = "audit.pages"


def register_pages(pages: dict[str, Any]) -> None:
    """The router's st.Page objects by URL path, for links between pages in this session: a
    link through Streamlit's navigation keeps the session (a fresh URL would ask the user to
    sign in again), and no page needs to import another to link to it."""
    st.session_state[_PAGES] = pages


def page(url_path: str) -> Any:
    """The st.Page registered for a URL path (raises KeyError for a page this role lacks)."""
    return st.session_state[_PAGES][url_path]


def goto_issue(issue_id: int, lang_code: str) -> None:
    """Open the issue page in this session (a new tab would need a new sign-in)."""
    st.switch_page(page("issue"), query_params={"id": str(issue_id), "lang": lang_code})


# --- downloads that end with the session ---------------------------------------------------

DOWNLOAD_PATH = "download"   # the route streamlit_app.py serves grants from


def download_link(label: str, *, what: str, loader: downloads.Loader, key: str,
                  inline: bool = False, icon: str = ":material/download:") -> None:
    """A link to a file of the programme that only this signed-in session can fetch, and only
    until it signs out (see audit/store/downloads.py). `loader` is run when the file is
    fetched, and must check again that the user may have it."""
    actor = current_actor()
    session_key = st.session_state.get(_DOWNLOADS)
    if actor is None or session_key is None:
        return
    token = downloads.grant(session_key, actor.user_id, what, loader, inline=inline)
    st.link_button(label, f"{DOWNLOAD_PATH}/{token}", icon=icon, key=key)


def download_url(what: str, loader: downloads.Loader, *, inline: bool = True) -> str | None:
    """The address of a grant for showing a file in the page (an image, a PDF), or None when
    the session is not signed in."""
    actor = current_actor()
    session_key = st.session_state.get(_DOWNLOADS)
    if actor is None or session_key is None:
        return None
    return f"{DOWNLOAD_PATH}/{downloads.grant(session_key, actor.user_id, what, loader, inline=inline)}"
