"""Administration sections for the working-day calendar and the settings, drawn by
audit/admin_page.py: `render_section()` lists a year's holidays and make-up working days (调休),
corrects one day, marks the year's official schedule as published, and warns about deadlines in
years without a published schedule; `render_settings()` edits the escalation thresholds and the
amber window. The services refuse anyone but an administrator (calendar.edit, settings.edit)."""
from __future__ import annotations

from datetime import date

import streamlit as st

from audit import history, session
from audit.errors import AuditError
from audit.i18n import error_text
from issues import catalogue
from owners import service, views

K = "calendar"
FLASH = f"{K}.flash"
KINDS = ("holiday", "make_up", "normal")


@st.cache_data(show_spinner=False, max_entries=8, ttl=3600)
def _late(_db, db_file: str, version: int) -> dict[int, int]:
    """unpublished_deadlines cached on the data version: it scans every open deadline (0.2 s
    on 40,000 issues), and the admin page reruns at every click."""
    return views.unpublished_deadlines(_db)


def _weekday(day: str) -> str:
    return session.text(f"calendar.weekday.{date.fromisoformat(day).weekday()}")


def _flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind:
        getattr(st, kind)(message)


def _run(write, done: str) -> None:
    """One service write from a callback; the refusal or the confirmation for the rerun."""
    actor = session.current_actor()
    if actor is None:
        return
    try:
        write(session.database(), actor)
    except AuditError as exc:
        st.session_state[FLASH] = ("error", error_text(exc, session.lang()))
        return
    st.session_state[FLASH] = ("success", done)


def _on_day() -> None:
    s = st.session_state
    day: date | None = s.get(f"{K}.day")
    kind = s.get(f"{K}.kind")
    if day is None:
        s[FLASH] = ("warning", session.text("calendar.day_needed"))
        return
    # "normal" means the Monday–Friday rule again: the service then drops the stored row.
    working = {"holiday": False, "make_up": True, "normal": day.weekday() < 5}[kind]
    _run(lambda db, actor: service.set_calendar_day(
        db, actor, day, is_working=working, name=s.get(f"{K}.name") or "",
        at=session.now_at()),
        session.text("calendar.day_saved", day=day.isoformat(),
                     kind=session.text(f"calendar.kind.{kind}")))


def _on_publish(year: int, published: bool) -> None:
    _run(lambda db, actor: service.set_year_published(db, actor, year, published,
                                                       at=session.now_at()),
         session.text("calendar.published_done" if published else "calendar.withdrawn_done",
                      year=year))


def _on_settings() -> None:
    s = st.session_state
    db_values = views.settings(session.database())
    changed = {k: str(int(s.get(f"{K}.setting.{k}")))
               for k in views.SETTING_KEYS
               if s.get(f"{K}.setting.{k}") is not None
               and str(int(s.get(f"{K}.setting.{k}"))) != db_values.get(k)}
    if not changed:
        s[FLASH] = ("info", session.text("rule.unchanged"))
        return
    merged = {**db_values, **changed}
    steps = [int(merged[f"escalation.{k}_days"]) for k in ("reminder", "letter", "summons")]
    if steps != sorted(steps):
        # The escalation ladder would refuse to load: every page that counts escalations fails.
        s[FLASH] = ("warning", session.text("settings.order"))
        return

    def write(db, actor) -> None:
        for key, value in changed.items():
            service.set_setting(db, actor, key, value, at=session.now_at())

    _run(write, session.text("common.saved"))


def render_section() -> None:
    """The working-day calendar: one year's exceptions, corrections, publication, warnings."""
    db = session.database()
    session.require_actor()
    text = session.text
    st.subheader(text("calendar.title"))
    st.caption(text("calendar.caption"))
    _flash()
    late = _late(db, catalogue.database_file(db), history.data_version(db))
    for year, n in late.items():
        st.warning(text("calendar.unpublished_warning", year=year, n=n),
                   icon=":material/event_busy:")
    this_year = session.today().year
    known = views.calendar_year(db, this_year)["known_years"]
    years = sorted(set(known) | {this_year - 1, this_year, this_year + 1} | set(late))
    year = st.selectbox(text("calendar.year"), years, index=years.index(this_year),
                        key=f"{K}.year")
    data = views.calendar_year(db, year)
    c1, c2 = st.columns([3, 2])
    if data["published"]:
        c1.success(text("calendar.is_published", year=year), icon=":material/event_available:")
        c2.button(text("calendar.withdraw", year=year), key=f"{K}.withdraw",
                  on_click=_on_publish, args=(year, False))
    else:
        c1.warning(text("calendar.not_published", year=year), icon=":material/event_busy:")
        c2.button(text("calendar.publish", year=year), key=f"{K}.publish", type="primary",
                  on_click=_on_publish, args=(year, True))
    if data["days"]:
        st.dataframe([{
            text("calendar.col.day"): d["day"],
            text("calendar.col.weekday"): _weekday(d["day"]),
            text("calendar.col.kind"): text("calendar.kind.make_up" if d["is_working"]
                                            else "calendar.kind.holiday"),
            text("calendar.col.name"): d["name"],
            text("calendar.col.source"): text(f'calendar.source.{d["source"]}'),
        } for d in data["days"]], hide_index=True, width="stretch",
            height=min(38 + 35 * len(data["days"]), 420))
    else:
        st.info(text("calendar.no_days", year=year))
    with st.form(f"{K}.form.day"):
        st.markdown(f'**{text("calendar.edit_day")}**')
        c1, c2, c3 = st.columns(3)
        c1.date_input(text("calendar.col.day"), key=f"{K}.day", value=None)
        c2.selectbox(text("calendar.col.kind"), KINDS, key=f"{K}.kind",
                     format_func=lambda k: text(f"calendar.kind.{k}"))
        c3.text_input(text("calendar.col.name"), key=f"{K}.name", max_chars=50)
        st.form_submit_button(text("common.save"), key=f"{K}.save.day", on_click=_on_day)


def render_settings() -> None:
    """Escalation thresholds (working days overdue) and the amber window (working days)."""
    db = session.database()
    session.require_actor()
    text = session.text
    st.subheader(text("settings.title"))
    st.caption(text("settings.caption"))
    _flash()
    values = views.settings(db)
    with st.form(f"{K}.form.settings"):
        cols = st.columns(len(views.SETTING_KEYS))
        for col, key in zip(cols, views.SETTING_KEYS):
            current = int(values[key]) if values[key].isdigit() else 0
            col.number_input(text(f"settings.{key}"), min_value=0, max_value=365, step=1,
                             value=current, key=f"{K}.setting.{key}")
        st.form_submit_button(text("common.save"), key=f"{K}.save.settings",
                              on_click=_on_settings, type="primary")
