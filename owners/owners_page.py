"""责任人与单位: the org tree (region → league/city branches → counties) as an indented table,
people per unit with the unit heads, and the workload (open and overdue items) per unit and per
person within the viewer's scope (a manager sees its unit only). A person's row drills down to
their open issues (links to the issue pages) or to the catalogue filtered by that person.
Administrators add units and people and name unit heads (owners.service)."""
from __future__ import annotations

from datetime import date

import streamlit as st

from audit import ui
from audit.messages import label
from audit.model import Actor, Role
from owners import service, views

K = "owners"
FLASH = f"{K}.flash"
DRILL_SHOWN = 30
CATALOGUE_OWNER_KEY = "catalogue.owner"  # the catalogue page's owner filter widget


@st.cache_resource(show_spinner=False, max_entries=32, ttl=3600)
def _load(_db, _actor: Actor, db_file: str, version: int, who: tuple, as_of: date) -> dict:
    """Tree, people and workload for one scope and data version."""
    tree = views.org_tree(_db, _actor)
    work = views.workload(_db, _actor, as_of)
    return {"tree": tree, "people": views.people(_db, _actor), "work": work,
            "rolled": views.rolled_up(tree, work["units"])}


@st.cache_resource(show_spinner=False, max_entries=32, ttl=3600)
def _person_issues(_db, _actor: Actor, db_file: str, version: int, who: tuple, as_of: date,
                   person_id: int) -> list[dict]:
    """Open issues where the person is responsible or owns a measure, red first."""
    return views.person_open_issues(_db, _actor, person_id, as_of)


def _texts(**keys: str) -> dict[str, str]:
    """Catalogue texts looked up once per drawing (each lookup reads session_state, which
    costs more than building a table row)."""
    return {name: ui.text(key) for name, key in keys.items()}


def _tree(data: dict, lang: str) -> None:
    """The org tree as one indented table with heads, people and workload (own + below)."""
    st.subheader(ui.text("owners.tree"))
    c = _texts(unit="field.unit", code="field.code", level="owners.col.level",
               head="owners.col.head", people="owners.col.people", open="owners.col.open",
               overdue="owners.col.overdue", open_all="owners.col.open_all",
               overdue_all="owners.col.overdue_all", no_head="owners.no_head")
    levels = {v: label("unit_level", v, lang) for v in ("region", "city", "county")}
    rolled, own = data["rolled"], data["work"]["units"]
    st.dataframe([{
        c["unit"]: "　" * u["depth"] + ("└ " if u["depth"] else "") + u["name"],
        c["code"]: u["code"],
        c["level"]: levels.get(u["level"], u["level"]),
        c["head"]: u["head_name"] or c["no_head"],
        c["people"]: u["people"],
        c["open"]: own.get(u["id"], {}).get("open", 0),
        c["overdue"]: own.get(u["id"], {}).get("overdue", 0),
        c["open_all"]: rolled[u["id"]]["open"],
        c["overdue_all"]: rolled[u["id"]]["overdue"],
    } for u in data["tree"]], hide_index=True, width="stretch",
        height=min(38 + 35 * len(data["tree"]), 560))
    st.caption(ui.text("owners.tree_caption"))


def _people(data: dict) -> int | None:
    """People with their workload, busiest first; returns the person picked for drill-down."""
    st.subheader(ui.text("owners.people"))
    work = data["work"]["people"]
    empty = {"open": 0, "overdue": 0, "measures_open": 0, "measures_overdue": 0}
    people = sorted(data["people"], key=lambda p: (
        -work.get(p["id"], empty)["overdue"], -work.get(p["id"], empty)["open"],
        p["unit_code"], p["name"]))
    if not people:
        st.info(ui.text("owners.no_people"))
        return None
    c = _texts(person="owners.col.person", unit="field.unit", title="owners.col.title",
               open="owners.col.open", overdue="owners.col.overdue",
               m_open="owners.col.measures_open", m_overdue="owners.col.measures_overdue",
               active="field.active", yes="common.yes", no="common.no",
               head="owners.head_mark")
    rows = []
    for p in people:
        w = work.get(p["id"], empty)
        rows.append({
            c["person"]: p["name"] + (c["head"] if p["is_head"] else ""),
            c["unit"]: p["unit_name"], c["title"]: p["title"],
            c["open"]: w["open"], c["overdue"]: w["overdue"],
            c["m_open"]: w["measures_open"], c["m_overdue"]: w["measures_overdue"],
            c["active"]: c["yes"] if p["active"] else c["no"]})
    event = st.dataframe(rows, hide_index=True, width="stretch", key=f"{K}.people",
                         on_select="rerun", selection_mode="single-row",
                         height=min(38 + 35 * len(rows), 480))
    st.caption(ui.text("owners.people_caption"))
    picked = event.selection.rows if event is not None and event.selection else []
    return people[picked[0]]["id"] if picked and picked[0] < len(people) else None


def _drill(db, actor: Actor, person_id: int, names: dict[int, str], key: tuple,
           as_of: date, lang: str) -> None:
    """A person's open issues, each a link to its issue page; and the catalogue filter."""
    text = ui.text
    found = _person_issues(db, actor, *key, as_of, person_id)
    with st.container(border=True):
        title = text("owners.drill_title", name=ui.md_escape(names.get(person_id, "")), n=len(found))
        st.markdown(f"**{title}**")
        if st.button(text("owners.drill_catalogue"), key=f"{K}.to_catalogue",
                     icon=":material/table_view:"):
            # The catalogue reads no query parameters: preset its owner filter instead.
            st.session_state[CATALOGUE_OWNER_KEY] = person_id
            st.switch_page(ui.page("catalogue"))
        if not found:
            st.caption(text("owners.drill_none"))
        warnings = {w: label("warning", w, lang) for w in ("red", "amber", "green", "none")}
        for r in found[:DRILL_SHOWN]:
            ui.issue_link(r["id"], r["code"], f'{warnings.get(r["warning"], "")} · {r["title"]}')
        if len(found) > DRILL_SHOWN:
            st.caption(text("catalogue.truncated", shown=DRILL_SHOWN, total=len(found)))


def _on(write, done_key: str, token_form: str | None = None, blank: dict | None = None,
        **params) -> None:
    """Run an admin write from a callback; keep the outcome for the rerun. A creating form
    names its one-time token (`token_form`) and the blank values its fields return to."""
    ui.act(FLASH, lambda db, actor: (write(db, actor), ui.text(done_key, **params))[1],
           token_form=token_form, blank=blank)


def _on_add_unit(token: str) -> None:
    s = st.session_state
    code, name = (s.get(f"{K}.unit.code") or "").strip(), (s.get(f"{K}.unit.name") or "").strip()
    _on(lambda db, actor: service.create_unit(
        db, actor, code=code, name=name, level=s.get(f"{K}.unit.level"),
        parent_code=s.get(f"{K}.unit.parent"), at=ui.now_at(), form_token=token),
        "owners.unit_created", f"{K}.unit", {f"{K}.unit.code": "", f"{K}.unit.name": ""},
        name=name)


def _on_add_person(token: str) -> None:
    s = st.session_state
    name = (s.get(f"{K}.person.name") or "").strip()
    _on(lambda db, actor: service.create_person(
        db, actor, name=name, unit_id=s.get(f"{K}.person.unit"),
        title=s.get(f"{K}.person.title") or "", phone=s.get(f"{K}.person.phone") or "",
        at=ui.now_at(), form_token=token), "owners.person_created", f"{K}.person",
        {f"{K}.person.name": "", f"{K}.person.title": "", f"{K}.person.phone": ""}, name=name)


def _on_set_head(names: dict[int, str]) -> None:
    s = st.session_state
    person = s.get(f"{K}.head.person")
    if person is None:
        st.session_state[FLASH] = ("warning", ui.text("owners.head_needed"))
        return
    _on(lambda db, actor: service.set_unit_head(db, actor, s.get(f"{K}.head.unit"), person,
                                                at=ui.now_at()),
        "owners.head_set", name=names.get(person, ""))


def _admin(db, actor: Actor, data: dict, lang: str) -> None:
    """Forms that add a unit, add a person and name a unit head (administrators only)."""
    text = ui.text
    units = {u["id"]: ui.with_note(u["name"], u["code"]) for u in data["tree"]}
    codes = {u["code"]: ui.with_note(u["name"], u["code"]) for u in data["tree"]}
    names = {p["id"]: ui.with_note(p["name"], p["unit_name"]) for p in data["people"]}
    st.subheader(text("owners.admin"))
    t_unit, t_person, t_head = st.tabs([text("owners.add_unit"), text("owners.add_person"),
                                        text("owners.set_head")])
    with t_unit, st.form(f"{K}.form.unit"):
        c1, c2 = st.columns(2)
        c1.text_input(text("field.code"), key=f"{K}.unit.code", max_chars=40)
        c2.text_input(text("owners.unit_name"), key=f"{K}.unit.name", max_chars=100)
        c3, c4 = st.columns(2)
        c3.selectbox(text("owners.col.level"), ("city", "county"), key=f"{K}.unit.level",
                     format_func=lambda v: label("unit_level", v, lang))
        c4.selectbox(text("owners.parent"), list(codes), key=f"{K}.unit.parent",
                     format_func=codes.get)
        st.form_submit_button(text("owners.add_unit"), key=f"{K}.save.unit",
                              on_click=_on_add_unit, args=(ui.form_token(f"{K}.unit"),),
                              type="primary")
    with t_person, st.form(f"{K}.form.person"):
        c1, c2 = st.columns(2)
        c1.text_input(text("field.display_name"), key=f"{K}.person.name", max_chars=100)
        c2.selectbox(text("field.unit"), list(units), key=f"{K}.person.unit",
                     format_func=units.get)
        c3, c4 = st.columns(2)
        c3.text_input(text("owners.col.title"), key=f"{K}.person.title", max_chars=100)
        c4.text_input(text("owners.phone"), key=f"{K}.person.phone", max_chars=40)
        st.form_submit_button(text("owners.add_person"), key=f"{K}.save.person",
                              on_click=_on_add_person, args=(ui.form_token(f"{K}.person"),),
                              type="primary")
    with t_head, st.form(f"{K}.form.head"):
        c1, c2 = st.columns(2)
        c1.selectbox(text("field.unit"), list(units), key=f"{K}.head.unit",
                     format_func=units.get)
        c2.selectbox(text("owners.col.head"), list(names), key=f"{K}.head.person",
                     format_func=names.get, index=None, placeholder=text("owners.head_pick"))
        st.form_submit_button(text("owners.set_head"), key=f"{K}.save.head",
                              on_click=_on_set_head, args=(names,), type="primary")


def render() -> None:
    """Draw the owners and units page."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    text = ui.text
    st.title(text("page.owners"))
    as_of = ui.today()
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind:
        getattr(st, kind)(ui.md_escape(message))
    # Keyed on the version of the actor's scope: a write in another unit leaves it warm.
    key = (*ui.data_key(db, actor.scope_unit_ids),
           (actor.unit_id, actor.role.value))
    data = _load(db, actor, *key, as_of)
    st.caption(text("owners.caption", date=as_of.isoformat()))
    if actor.scope_unit_ids is not None and data["tree"]:
        st.caption(text("owners.scope_note", unit=data["tree"][0]["name"]))
    _tree(data, lang)
    picked = _people(data)
    if picked is not None:
        names = {p["id"]: p["name"] for p in data["people"]}
        _drill(db, actor, picked, names, key, as_of, lang)
    if actor.role == Role.ADMIN:
        _admin(db, actor, data, lang)
