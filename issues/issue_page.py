"""问题详情: one issue with every field, its sources, work streams and focus points, measures
with their dependencies, evidence (upload and download), root causes and accountability
(三不放过), deadline extensions, the history, and the workflow buttons this user may press now.

Every write goes through a widget callback, which runs before the page is drawn again: it
still sees the version of the issue (or measure) the user was looking at, and passes it to the
service, so a change saved meanwhile by someone else is refused (StaleEdit) instead of
overwritten. Form fields live in session_state: a refused edit keeps what the user typed, and
an untouched field follows the database. User text is never rendered as HTML: tables, or
markdown with every special character escaped."""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

import streamlit as st

from audit import ui
from audit.messages import error_text, join_list, label, name_of
from audit.model import Actor, AlreadySubmitted, AuditError, StaleEdit, Status, UploadRefused
from audit.rules_model import RuleWarning
from issues import catalogue_views, evidence_ui, issue_views, model, rules_ui, service
from issues.model import Move
from owners import service as owners

K = "issue"                 # prefix of this page's session-state keys
FLASH = f"{K}.flash"        # (kind, text) shown once at the top after a callback
STALE = f"{K}.stale"        # the form key whose save was refused as stale
CURRENT = f"{K}.current"    # the issue this drawing shows (a measure's callback needs it)


# --- session-state plumbing ----------------------------------------------------------------

def _key(issue_id: int, name: str) -> str:
    return f"{K}.{issue_id}.{name}"


# Form values across reruns live in audit.session (one place for every page).
_field, _forget = ui.form_value, ui.forget_form


def _flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def _act(form: str, write: Callable[[Any, Actor], str | None], forget: tuple[str, ...] = (),
         blank: dict[str, Any] | None = None) -> None:
    """Run one write from a callback: the refusal, or the success message, is kept for the
    rerun. On success the form's values are dropped (`blank`: set to these values, so the
    browser shows an empty form) and its one-time token renewed; on refusal they stay."""
    actor = ui.current_actor()
    if actor is None:
        return
    db = ui.database()
    st.session_state.pop(STALE, None)
    try:
        done = write(db, actor)
    except StaleEdit as exc:
        ui.acknowledge_newer(forget, exc)
        st.session_state[STALE] = form
        _flash("error", error_text(exc, ui.lang()) + " "
               + ui.text("issue.stale_keep"))
    except UploadRefused as exc:
        reason = exc.params.get("reason")
        key = f"issue.upload.{reason}"
        detail = ui.text(key) if reason and key != ui.text(key) else exc.message
        _flash("error", ui.text("error.upload_refused", reason=detail))
    except AlreadySubmitted as exc:
        ui.spent(_token_form(form), blank)
        _flash("info", error_text(exc, ui.lang()))
    except RuleWarning as exc:
        _flash("warning", error_text(exc, ui.lang()))
    except AuditError as exc:
        _flash("error", error_text(exc, ui.lang()))
    else:
        _forget(*forget)
        ui.spent(_token_form(form), blank)
        _flash("success", done if isinstance(done, str) else ui.text("issue.saved"))


def _token_form(form: str) -> str:
    """The name under which a form's one-time token is kept (ui.form_token)."""
    return f"{K}.{form}"


def _token(form: str) -> str:
    return ui.form_token(_token_form(form))


def _invalid(message_key: str) -> None:
    """A form left incomplete: say what is missing, keep the input."""
    _flash("warning", ui.text(message_key))


def _version(issue_id: int) -> int | None:
    """The issue version the user was looking at (recorded when the page was last drawn)."""
    return st.session_state.get(_key(issue_id, "version"))


def _mversion(measure_id: int) -> int | None:
    return st.session_state.get(f"{K}.m{measure_id}.version")


# --- callbacks: one per user intent ----------------------------------------------------------

FINAL_MOVES = (Move.CLOSE.value, Move.RETURN.value, Move.END.value)


def _on_move(issue_id: int, code: str, move: str, version: int) -> None:
    """A workflow move on the issue and version this drawing showed (bound to the button)."""
    reason_key = _key(issue_id, "reason")
    reason = (st.session_state.get(reason_key) or "").strip()
    if issue_views.needs_reason(move) and not reason:
        _invalid("issue.reason_needed")
        return
    lang = ui.lang()

    def write(db, actor):
        status = service.move_issue(db, actor, issue_id, move, version=version,
                                    reason=reason, at=ui.now_at())
        if move in FINAL_MOVES:
            st.session_state[_key(issue_id, "held")] = move
        return ui.text("issue.moved", code=code, move=label("move", move, lang),
                            status=label("status", status, lang))

    _act("move", write, (reason_key,), {reason_key: ""})


def _held(d: dict, lang: str) -> bool:
    """After 销号, 退回 or 特殊原因终结 the workflow buttons wait for an explicit click, so a
    double click cannot press the button drawn next in the same place (重新打开, 终结)."""
    key = _key(d["id"], "held")
    move = st.session_state.get(key)
    if move is None:
        return False
    st.caption(ui.text("issue.held", move=label("move", move, lang)))
    st.button(ui.text("issue.held_continue"), key=f"{K}.held.continue",
              on_click=_forget, args=(key,), icon=":material/arrow_forward:")
    return True


def _on_progress(issue_id: int) -> None:
    key = _key(issue_id, "progress")
    _act("progress", lambda db, actor: service.update_progress(
        db, actor, issue_id, version=ui.edited_version((key,), _version(issue_id)),
        progress=st.session_state.get(key) or "", at=ui.now_at()), (key,))


EDIT_FIELDS = ("title", "description", "severity", "amount_involved", "basis",
               "recommendation", "rectification_type")


def _on_edit(issue_id: int) -> None:
    keys = {f: _key(issue_id, f"edit.{f}") for f in EDIT_FIELDS}
    values = {f: st.session_state.get(k) for f, k in keys.items()}
    if not (values["title"] or "").strip():
        _invalid("issue.title_needed")
        return
    _act("edit", lambda db, actor: service.edit_issue(
        db, actor, issue_id, version=ui.edited_version(keys.values(), _version(issue_id)),
        at=ui.now_at(), accept_reason=rules_ui.accept_reason(issue_id), **values),
        tuple(keys.values()))


def _on_assign(issue_id: int) -> None:
    keys = {f: _key(issue_id, f"assign.{f}") for f in ("responsible", "supervisor", "deadline")}
    deadline = st.session_state.get(keys["deadline"])

    def write(db, actor):
        owners.assign_issue(db, actor, issue_id,
                            version=ui.edited_version(keys.values(), _version(issue_id)),
                            responsible_person_id=st.session_state.get(keys["responsible"]),
                            supervisor_person_id=st.session_state.get(keys["supervisor"]),
                            deadline=deadline.isoformat() if deadline else None,
                            accept_reason=rules_ui.accept_reason(issue_id), at=ui.now_at())

    _act("assign", write, tuple(keys.values()))


def _on_extend(issue_id: int, token: str) -> None:
    dkey, rkey = _key(issue_id, "extend.deadline"), _key(issue_id, "extend.reason")
    new, reason = st.session_state.get(dkey), (st.session_state.get(rkey) or "").strip()
    if not new or not reason:
        _invalid("issue.extend_needed")
        return
    _act("extend", lambda db, actor: owners.extend_deadline(
        db, actor, issue_id, version=_version(issue_id), new_deadline=new.isoformat(),
        reason=reason, at=ui.now_at(), form_token=token), (dkey, rkey),
        {dkey: None, rkey: ""})


def _on_add_measure(issue_id: int, token: str) -> None:
    keys = {f: _key(issue_id, f"measure.{f}") for f in ("title", "owner", "deadline")}
    title = (st.session_state.get(keys["title"]) or "").strip()
    if not title:
        _invalid("issue.measure_title_needed")
        return
    deadline = st.session_state.get(keys["deadline"])
    _act("add_measure", lambda db, actor: service.add_measure(
        db, actor, issue_id, title=title,
        owner_person_id=st.session_state.get(keys["owner"]) or None,
        deadline=deadline.isoformat() if deadline else None,
        accept_reason=rules_ui.accept_reason(issue_id), at=ui.now_at(), form_token=token),
        tuple(keys.values()), {keys["title"]: "", keys["deadline"]: None})


def _on_measure_status(measure_id: int) -> None:
    skey, ckey = f"{K}.m{measure_id}.status", f"{K}.m{measure_id}.completed_on"
    status = st.session_state.get(skey)
    completed = st.session_state.get(ckey)
    _act(f"measure{measure_id}", lambda db, actor: service.set_measure_status(
        db, actor, measure_id, version=ui.edited_version((skey, ckey), _mversion(measure_id)),
        status=status,
        completed_on=completed.isoformat() if (completed and status == "done") else None,
        at=ui.now_at()), (skey, ckey))


def _on_measure_edit(measure_id: int) -> None:
    keys = {f: f"{K}.m{measure_id}.{f}" for f in ("title", "owner", "deadline", "progress")}
    deadline = st.session_state.get(keys["deadline"])
    _act(f"measure{measure_id}", lambda db, actor: service.edit_measure(
        db, actor, measure_id, version=ui.edited_version(keys.values(), _mversion(measure_id)),
        at=ui.now_at(),
        title=st.session_state.get(keys["title"]),
        owner_person_id=st.session_state.get(keys["owner"]) or None,
        deadline=deadline.isoformat() if deadline else None,
        progress=st.session_state.get(keys["progress"]),
        accept_reason=rules_ui.accept_reason(st.session_state.get(CURRENT))),
        tuple(keys.values()))


def _on_add_dependency(issue_id: int) -> None:
    mkey, okey = _key(issue_id, "dep.measure"), _key(issue_id, "dep.on")
    measure, on = st.session_state.get(mkey), st.session_state.get(okey)
    if measure is None or on is None or measure == on:
        _invalid("issue.dep_same")
        return
    _act("dependency", lambda db, actor: service.add_dependency(
        db, actor, measure, on, at=ui.now_at()))


def _on_remove_dependency(measure_id: int, on: int) -> None:
    _act("dependency", lambda db, actor: service.remove_dependency(
        db, actor, measure_id, on, at=ui.now_at()))


def _uploader_key(issue_id: int) -> str:
    """The file uploader's key, renewed after each upload: a browser keeps showing the file it
    sent until the widget is replaced, and a second press would attach it twice."""
    return _key(issue_id, f'upload.file.{st.session_state.get(_key(issue_id, "uploads"), 0)}')


def _on_upload(issue_id: int, token: str) -> None:
    fkey, mkey = _uploader_key(issue_id), _key(issue_id, "upload.measure")
    uploaded = st.session_state.get(fkey)
    if uploaded is None:
        _invalid("issue.upload_needed")
        return
    name = uploaded.name

    def write(db, actor):
        issue_views.attach(db, actor, issue_id, filename=name, data=uploaded.getvalue(),
                          measure_id=st.session_state.get(mkey) or None, at=ui.now_at(),
                          form_token=token)
        counter = _key(issue_id, "uploads")
        st.session_state[counter] = st.session_state.get(counter, 0) + 1
        return ui.text("issue.uploaded", name=name)

    _act("upload", write, (fkey,))


def _on_cause(issue_id: int, token: str) -> None:
    keys = {f: _key(issue_id, f"cause.{f}") for f in ("mode", "pick", "title", "description")}
    existing = st.session_state.get(keys["mode"]) == "existing"
    pick = st.session_state.get(keys["pick"])
    title = (st.session_state.get(keys["title"]) or "").strip()
    if (existing and pick is None) or (not existing and not title):
        _invalid("issue.cause_needed")
        return
    _act("cause", lambda db, actor: service.record_root_cause(
        db, actor, issue_id, cause_id=pick if existing else None,
        new_cause_title=None if existing else title,
        description="" if existing else st.session_state.get(keys["description"]) or "",
        at=ui.now_at(), form_token=token), (keys["pick"], keys["title"], keys["description"]),
        {keys["pick"]: None, keys["title"]: "", keys["description"]: ""})


def _on_remove_cause(issue_id: int, cause_id: int) -> None:
    _act("cause", lambda db, actor: service.remove_root_cause(db, actor, issue_id, cause_id,
                                                               at=ui.now_at()))


def _on_accountability(issue_id: int, token: str) -> None:
    keys = {f: _key(issue_id, f"acc.{f}") for f in ("mode", "person", "action", "reason")}
    na = st.session_state.get(keys["mode"]) == "na"
    person = (st.session_state.get(keys["person"]) or "").strip()
    action = (st.session_state.get(keys["action"]) or "").strip()
    reason = (st.session_state.get(keys["reason"]) or "").strip()
    if na and not reason:
        _invalid("issue.acc_needed_reason")
        return
    if not na and not (person and action):
        _invalid("issue.acc_needed_person")
        return
    _act("accountability", lambda db, actor: service.record_accountability(
        db, actor, issue_id, not_applicable=na, person_name=person, action=action,
        reason=reason, at=ui.now_at(), form_token=token),
        (keys["person"], keys["action"], keys["reason"]),
        {keys["person"]: "", keys["action"]: "", keys["reason"]: ""})


def _on_reload(*keys: str) -> None:
    """Discard the user's input after a refused edit: the widgets show the database again."""
    _forget(*keys)
    st.session_state.pop(STALE, None)
    st.session_state.pop(FLASH, None)


def _on_pick(pick_key: str) -> None:
    picked = st.session_state.get(pick_key)
    if picked is not None:
        st.query_params["id"] = str(picked)


# --- drawing ----------------------------------------------------------------------------------


def _when(at: str | None) -> str:
    """A history timestamp as people read it: 2026-11-23 09:05."""
    return (at or "")[:16].replace("T", " ")


def _show_flash() -> None:
    ui.show_flash(FLASH)


@st.cache_resource(show_spinner=False, max_entries=32, ttl=3600)
def _pick_cached(_db, _actor: Actor, db_file: str, version: int, who: tuple, query: str,
                 as_of: date) -> list[dict]:
    """pick_issues cached on the data version (any write changes it) and the scope: on 40,000
    issues the search takes seconds, and it ran on every rerun of the page without an id."""
    return issue_views.pick_issues(_db, _actor, query, as_of)


def _picker(db, actor: Actor) -> None:
    """No issue asked for: search by code or words and open one."""
    text = ui.text
    st.subheader(text("issue.pick"))
    query = st.text_input(text("issue.pick_search"), key=f"{K}.pick.query")
    found = _pick_cached(db, actor, *ui.data_key(db, actor.scope_unit_ids),
                         (actor.unit_id,), query, ui.today())
    if not found:
        st.info(text("issue.pick_none"))
        return
    names = {r["id"]: f'{r["code"]} {r["title"]}' for r in found}
    st.selectbox(text("issue.pick"), list(names), key=f"{K}.pick.id", index=None,
                 format_func=lambda i: names[i], placeholder=text("issue.pick"),
                 on_change=_on_pick, args=(f"{K}.pick.id",))


def _people_map(people: list[dict]) -> dict[int, str]:
    return {p["id"]: ui.with_note(p["name"], p["unit_name"]) for p in people}


def _header(d: dict, lang: str) -> None:
    text = ui.text
    st.title(f'{ui.md_escape(d["code"])} {ui.md_escape(d["title"])}')
    status = label("status", d["status"], lang)
    warning = d["warning"]
    bits = [f'**{ui.md_escape(text("field.status"))}**: {ui.md_escape(status)}']
    if warning != "none":
        bits.append(f':{ui.WARNING_MD[warning]}[● {ui.md_escape(label("warning", warning, lang))}]')
    bits.append(f'**{ui.md_escape(text("field.deadline"))}**: {ui.md_escape(d["deadline"] or text("issue.not_set"))}')
    bits.append(f'**{ui.md_escape(text("field.unit"))}**: {ui.md_escape(d["unit_name"])}')
    st.markdown(" · ".join(bits))
    if d.get("merged_into_id"):
        st.warning(text("issue.merged_into"))


def _checks(d: dict, lang: str) -> None:
    """四个到人 and 三不放过 as a checklist, so nobody has to press a button to learn what is
    missing."""
    text = ui.text
    c1, c2 = st.columns(2)
    colon = text("common.colon")
    for col, title, missing in ((c1, "issue.assignment", d["assignment_missing"]),
                                (c2, "issue.closure", d["closure_missing"])):
        if missing:
            col.warning(text(title) + colon + text("issue.check_missing", missing=join_list(
                (label("missing", m, lang) for m in missing), lang)), icon=":material/pending:")
        else:
            col.success(text(title) + colon + text("issue.check_ok"), icon=":material/check:")


def _moves(d: dict, lang: str) -> None:
    """The workflow buttons this user may press now, and only those."""
    text = ui.text
    st.subheader(text("issue.moves"))
    moves = d["moves"]
    if _held(d, lang):
        return
    if not moves:
        st.caption(text("issue.no_moves"))
        return
    if any(issue_views.needs_reason(m) for m in moves):
        st.text_area(text("field.reason"), key=_key(d["id"], "reason"), height=68,
                     placeholder=text("issue.reason_hint"))
    if Move.START in moves and d["assignment_missing"]:
        # 四个到人 is not met: say what is missing instead of offering a button that fails.
        st.warning(text("issue.start_missing", missing=join_list(
            (label("missing", m, lang) for m in d["assignment_missing"]), lang)),
            icon=":material/pending:")
        moves = [m for m in moves if m != Move.START]
    if Move.SUBMIT in moves and d["closure_missing"]:
        st.warning(text("issue.submit_missing", missing=join_list(
            (label("missing", m, lang) for m in d["closure_missing"]), lang)),
            icon=":material/pending:")
    if not moves:
        return
    cols = st.columns(max(len(moves), 3))
    for col, move in zip(cols, moves):
        # 提交验收 is the main button only once nothing of 三不放过 is missing.
        primary = move in (Move.CLOSE, Move.START) or (
            move == Move.SUBMIT and not d["closure_missing"])
        col.button(label("move", move, lang), key=f"{K}.move.{move.value}",
                   type="primary" if primary else "secondary", width="stretch",
                   on_click=_on_move, args=(d["id"], d["code"], move.value, d["version"]))


def _next_steps(d: dict, lang: str) -> None:
    """For whoever may submit the item: what is left of 三不放过, in the order it is done, with
    where to do it; the first open step is marked as the next one."""
    if Move.SUBMIT not in d["moves"] or not d["closure_missing"]:
        return
    text = ui.text
    titles = {m["id"]: m["title"] for m in d["measures"]}
    lines, first = [], True
    for n, (step, measure_id, done) in enumerate(d["closure_steps"], 1):
        what = text(f"issue.step.{step}", id=measure_id or "",
                    title=ui.md_escape(_short(titles.get(measure_id, ""), 30)))
        if done:
            lines.append(f"{n}. ~~{what}~~ :green[✓]")
        elif first:
            lines.append(f"{n}. **{what}** :orange[← {ui.md_escape(text('issue.step.next'))}]")
            first = False
        else:
            lines.append(f"{n}. {what}")
    with st.container(border=True):
        st.markdown(f"**{ui.md_escape(text('issue.steps'))}**")
        st.markdown("\n".join(lines))


def _short(value: str, n: int) -> str:
    return value if len(value) <= n else value[:n] + "…"


def _stale_reload(form: str, keys: tuple[str, ...]) -> None:
    """After a refused (stale) save of this form: offer to discard the kept input."""
    if st.session_state.get(STALE) == form:
        st.button(ui.text("issue.reload"), key=f"{K}.reload.{form}", on_click=_on_reload,
                  args=keys, icon=":material/refresh:")


def _overview(actor: Actor, d: dict, lang: str, people: dict[int, str]) -> None:
    text = ui.text
    rows = [
        (text("field.code"), d["code"]),
        (text("field.title"), d["title"]),
        (text("issue.field.category"), f'{d["category_code"]} {d["category_name"]}'),
        (text("issue.field.aspect"), f'{d["aspect_code"]} {d["aspect_name"]}'),
        (text("field.unit"), d["unit_name"]),
        (text("field.severity"), label("severity", d["severity"], lang)),
        (text("field.rectification_type"),
         label("rectification_type", d["rectification_type"], lang)),
        (text("issue.field.amount"), f'{d["amount_involved"] or 0:,.2f}'),
        (text("field.status"), label("status", d["status"], lang)),
        (text("issue.field.warning"), label("warning", d["warning"], lang)),
        (text("field.deadline"), d["deadline"] or text("issue.not_set")),
        (text("issue.field.original_deadline"), d["original_deadline"] or text("issue.not_set")),
        (text("issue.field.responsible"), d["responsible_name"] or text("issue.not_set")),
        (text("issue.field.supervisor"), d["supervisor_name"] or text("issue.not_set")),
        (text("issue.field.created"), _when(d["created_at"])),
        (text("issue.field.submitted"), text("issue.by_at", who=d["submitted_by_name"],
                                             at=_when(d["submitted_at"]))
         if d["submitted_at"] else ""),
        (text("issue.field.closed"), text("issue.by_at", who=d["closed_by_name"],
                                          at=_when(d["closed_at"])) if d["closed_at"] else ""),
        (text("issue.field.status_reason"), d["status_reason"]),
        (text("field.checked_by"), text("issue.by_at", who=d.get("checked_by_name") or "",
                                        at=_when(d["checked_at"]))
         if d.get("checked_at") else ""),
        (text("field.recheck_due"), d.get("recheck_due") or ""),
        (text("field.recurrences"), str(d["recurrences"]) if d.get("recurrences") else ""),
        (text("field.recurrence_status"),
         text(f"recurrence.status.{d['recurrence_status']}")
         if d.get("recurrence_status") else ""),
    ]
    item, value = text("issue.col.item"), text("issue.col.value")
    shown = [{item: k, value: v} for k, v in rows if v not in (None, "")]
    st.dataframe(shown, hide_index=True, width="stretch", height=38 + 35 * len(shown),
                 column_config={item: st.column_config.TextColumn(width="small"),
                                value: st.column_config.TextColumn(width="large")})
    for title_key, value in (("field.description", d["description"]),
                             ("issue.field.basis", d["basis"]),
                             ("issue.field.recommendation", d["recommendation"]),
                             ("issue.progress", d["progress"])):
        if value:
            st.markdown(f"**{ui.md_escape(text(title_key))}**")
            st.markdown(ui.md_escape(value))
    c1, c2 = st.columns(2)
    c1.markdown(f'**{ui.md_escape(text("issue.streams"))}**: ' + (ui.md_escape(join_list(
        (name_of(s, lang) for s in d["streams"]), lang)) or text("issue.none")))
    c2.markdown(f'**{ui.md_escape(text("issue.focus"))}**: ' + (ui.md_escape(join_list(
        (f'{f["code"]} {name_of(f, lang)}' for f in d["focus"]), lang))
        or text("issue.none")))
    st.markdown(f'**{ui.md_escape(text("issue.sources"))}**')
    if d["sources"]:
        st.dataframe([{text("issue.col.audit"): s["name"], text("issue.col.year"): str(s["year"]),
                       text("issue.col.level"): label("audit_level", s["level"], lang),
                       text("issue.col.report_no"): s["report_no"]} for s in d["sources"]],
                     hide_index=True, width="stretch")
    else:
        st.caption(text("issue.none"))
    if d.get("ledger_extras"):
        st.markdown(f'**{ui.md_escape(text("issue.ledger_extras"))}**')
        st.dataframe([{item: e["header"], value: e["value"]} for e in d["ledger_extras"]],
                     hide_index=True, width="stretch")
    if d["merged_from"]:
        st.markdown(f'**{ui.md_escape(text("issue.merged_from"))}**')
        st.dataframe([{text("field.code"): m["code"], text("field.title"): m["title"],
                       text("issue.col.at"): _when(m["merged_at"])} for m in d["merged_from"]],
                     hide_index=True, width="stretch")
    _progress_form(actor, d)
    _assign_form(actor, d, people)
    _edit_form(actor, d, lang)


def _progress_form(actor: Actor, d: dict) -> None:
    if not issue_views.may_edit(actor, "issue.progress", d):
        return
    text = ui.text
    key = _key(d["id"], "progress")
    _field(key, d["progress"], d["version"])
    if ui.changed_meanwhile(key, d["progress"]):
        ui.offer_newer((key,), f"{K}.progress")
    with st.form(f"{K}.form.progress"):
        st.markdown(f'**{ui.md_escape(text("issue.progress_form"))}**')
        st.text_area(text("issue.progress"), key=key, height=100)
        st.form_submit_button(text("common.save"), key=f"{K}.save.progress",
                              on_click=_on_progress, args=(d["id"],))
    _stale_reload("progress", (key,))


def _assign_form(actor: Actor, d: dict, people: dict[int, str]) -> None:
    if not issue_views.may_edit(actor, "issue.assign", d) or \
            d["status"] in (Status.CLOSED.value, Status.ENDED.value):
        return
    text = ui.text
    iid = d["id"]
    keys = {f: _key(iid, f"assign.{f}") for f in ("responsible", "supervisor", "deadline")}
    _field(keys["responsible"], d["responsible_person_id"], d["version"])
    _field(keys["supervisor"], d["supervisor_person_id"], d["version"])
    # An immediate item (立行立改) without a deadline is offered the default one.
    shown = date.fromisoformat(d["deadline"]) if d["deadline"] else \
        rules_ui.default_deadline(d["rectification_type"])
    _field(keys["deadline"], shown, d["version"])
    if any(ui.changed_meanwhile(keys[f], current) for f, current in (
            ("responsible", d["responsible_person_id"]), ("supervisor", d["supervisor_person_id"]),
            ("deadline", shown))):
        ui.offer_newer(keys.values(), f"{K}.assign")
    options = [None, *people]
    with st.expander(text("issue.assign_form"), icon=":material/person_add:"):
        with st.form(f"{K}.form.assign"):
            c1, c2, c3 = st.columns(3)
            fmt = lambda p: text("issue.not_set") if p is None else people.get(p, str(p))  # noqa
            c1.selectbox(text("issue.field.responsible"), options, key=keys["responsible"],
                         format_func=fmt)
            c2.selectbox(text("issue.field.supervisor"), options, key=keys["supervisor"],
                         format_func=fmt)
            c3.date_input(text("field.deadline"), key=keys["deadline"],
                          disabled=d["status"] != Status.NOT_STARTED.value
                          and d["original_deadline"] is not None)
            st.form_submit_button(text("common.save"), key=f"{K}.save.assign",
                                  on_click=_on_assign, args=(iid,))
        _stale_reload("assign", tuple(keys.values()))


def _edit_form(actor: Actor, d: dict, lang: str) -> None:
    if not issue_views.may_edit(actor, "catalogue.edit", d):
        return
    text = ui.text
    iid = d["id"]
    keys = {f: _key(iid, f"edit.{f}") for f in EDIT_FIELDS}
    for f, k in keys.items():
        _field(k, d[f], d["version"])
    if any(ui.changed_meanwhile(k, d[f]) for f, k in keys.items()):
        ui.offer_newer(keys.values(), f"{K}.edit")
    with st.expander(text("issue.edit_form"), icon=":material/edit:"):
        with st.form(f"{K}.form.edit"):
            st.text_input(text("field.title"), key=keys["title"], max_chars=2000)
            st.text_area(text("field.description"), key=keys["description"])
            c1, c2, c3 = st.columns(3)
            c1.selectbox(text("field.severity"), model.SEVERITIES, key=keys["severity"],
                         format_func=lambda s: label("severity", s, lang))
            c2.selectbox(text("field.rectification_type"), model.RECTIFICATION_TYPES,
                         key=keys["rectification_type"],
                         format_func=lambda s: label("rectification_type", s, lang))
            c3.number_input(text("issue.field.amount"), key=keys["amount_involved"],
                            min_value=0.0, step=1000.0, format="%.2f")
            st.text_area(text("issue.field.basis"), key=keys["basis"])
            st.text_area(text("issue.field.recommendation"), key=keys["recommendation"])
            st.form_submit_button(text("common.save"), key=f"{K}.save.edit",
                                  on_click=_on_edit, args=(iid,))
        _stale_reload("edit", tuple(keys.values()))


def _measures(actor: Actor, d: dict, lang: str, people: dict[int, str]) -> None:
    text = ui.text
    iid = d["id"]
    measures = d["measures"]
    labels = {m["id"]: f'M{m["id"]}' for m in measures}
    if not measures:
        st.info(text("issue.measures_none"))
    else:
        st.dataframe([{
            "#": labels[m["id"]], text("issue.col.measure"): m["title"],
            text("issue.col.owner"): m["owner_name"] or "",
            text("issue.col.deadline"): m["deadline"] or "",
            text("issue.col.status"): label("measure_status", m["status"], lang),
            text("issue.col.completed_on"): m["completed_on"] or "",
            text("issue.col.evidence"): m["evidence_count"],
            text("issue.col.waits_for"): join_list(m.get("waits_for", []), lang),
            text("issue.col.waited_by"): join_list(m.get("waited_by", []), lang),
            text("issue.col.progress"): ui.clip(m["progress"]),
        } for m in measures], hide_index=True, width="stretch", row_height=ui.WRAP_ROW_HEIGHT,
            column_config={text("issue.col.measure"): st.column_config.TextColumn(
                width="large"), text("issue.col.progress"): ui.long_text_column(
                    "issue.progress_clipped_help")})
    # Measures change only before submission (the service refuses later): no forms then.
    editable = d["status"] in model.EDITABLE_STATUSES
    for m in measures:
        st.session_state[f"{K}.m{m['id']}.version"] = m["version"]
        if editable and issue_views.may_edit(actor, "measure.edit", d, m):
            _measure_forms(m, lang, people)
    if editable and issue_views.may_edit(actor, "measure.add", d):
        keys = {f: _key(iid, f"measure.{f}") for f in ("title", "owner", "deadline")}
        # Owner 0 is "not set": a select box holding None would show Streamlit's English
        # "Choose an option" instead of an option.
        for f, k in keys.items():
            _field(k, {"title": "", "owner": 0, "deadline": None}[f])
        with st.expander(text("issue.add_measure"), icon=":material/add:"):
            with st.form(f"{K}.form.add_measure"):
                st.text_area(text("issue.measure_title"), key=keys["title"], height=68)
                c1, c2 = st.columns(2)
                c1.selectbox(text("issue.measure_owner"), [0, *people], key=keys["owner"],
                             format_func=lambda p: text("issue.not_set") if not p
                             else people.get(p, str(p)))
                c2.date_input(text("issue.measure_deadline"), key=keys["deadline"])
                st.form_submit_button(text("common.save"), key=f"{K}.save.add_measure",
                                      on_click=_on_add_measure,
                                      args=(iid, _token("add_measure")))
    if len(measures) > 1 and issue_views.may_edit(actor, "measure.depend", d):
        _dependencies(d, labels)


def _measure_forms(m: dict, lang: str, people: dict[int, str]) -> None:
    text = ui.text
    mid = m["id"]
    p = f"{K}.m{mid}"
    _field(f"{p}.status", m["status"], m["version"])
    _field(f"{p}.completed_on", date.fromisoformat(m["completed_on"]) if m["completed_on"]
           else ui.today())
    for f in ("title", "owner", "deadline", "progress"):
        current = {"title": m["title"], "owner": m["owner_person_id"] or 0,
                   "deadline": date.fromisoformat(m["deadline"]) if m["deadline"] else None,
                   "progress": m["progress"]}[f]
        _field(f"{p}.{f}", current, m["version"])
    short = m["title"] if len(m["title"]) <= 24 else m["title"][:24] + "…"
    with st.expander(text("issue.measure_update", label=ui.md_escape(f'M{mid} {short}')),
                     icon=":material/task:"):
        with st.form(f"{p}.form.status"):
            c1, c2 = st.columns(2)
            c1.selectbox(text("issue.measure_status"), model.MEASURE_STATUSES,
                         key=f"{p}.status",
                         format_func=lambda s: label("measure_status", s, lang))
            c2.date_input(text("issue.completed_on"), key=f"{p}.completed_on",
                          max_value=ui.today())
            st.form_submit_button(text("common.save"), key=f"{p}.save.status",
                                  on_click=_on_measure_status, args=(mid,))
        with st.form(f"{p}.form.edit"):
            st.markdown(f'**{ui.md_escape(text("issue.measure_edit"))}**')
            st.text_area(text("issue.measure_title"), key=f"{p}.title", height=68)
            c1, c2 = st.columns(2)
            owner = m["owner_person_id"] or 0
            options = [owner] if owner not in people else []
            c1.selectbox(text("issue.measure_owner"), [*options, *people], key=f"{p}.owner",
                         format_func=lambda o: people.get(o, text("issue.not_set")))
            c2.date_input(text("issue.measure_deadline"), key=f"{p}.deadline")
            st.text_area(text("issue.col.progress"), key=f"{p}.progress", height=68)
            st.form_submit_button(text("common.save"), key=f"{p}.save.edit",
                                  on_click=_on_measure_edit, args=(mid,))
        _stale_reload(f"measure{mid}", tuple(f"{p}.{f}" for f in (
            "status", "completed_on", "title", "owner", "deadline", "progress")))


def _dependencies(d: dict, labels: dict[int, str]) -> None:
    text = ui.text
    iid = d["id"]
    titles = {m["id"]: f'{labels[m["id"]]} {m["title"][:20]}' for m in d["measures"]}
    with st.expander(text("issue.deps"), icon=":material/account_tree:"):
        with st.form(f"{K}.form.dep"):
            c1, c2 = st.columns(2)
            c1.selectbox(text("issue.dep_measure"), list(titles), key=_key(iid, "dep.measure"),
                         format_func=lambda i: titles[i])
            c2.selectbox(text("issue.dep_on"), list(titles), key=_key(iid, "dep.on"),
                         format_func=lambda i: titles[i], index=min(1, len(titles) - 1))
            st.form_submit_button(text("issue.dep_add"), key=f"{K}.save.dep",
                                  on_click=_on_add_dependency, args=(iid,))
        for m in d["measures"]:
            for on_id, on_label in zip(m.get("waits_for_ids", []), m.get("waits_for", [])):
                st.button(text("issue.dep_remove", label=labels[m["id"]],
                               on=ui.md_escape(on_label)),
                          key=f'{K}.dep.rm.{m["id"]}.{on_id}', on_click=_on_remove_dependency,
                          args=(m["id"], on_id), icon=":material/link_off:")


def _evidence(db, actor: Actor, d: dict) -> None:
    text = ui.text
    iid = d["id"]
    labels = {m["id"]: f'M{m["id"]} {m["title"][:20]}' for m in d["measures"]}
    if not d["evidence"]:
        st.info(text("issue.evidence_none"))
    for e in d["evidence"]:
        evidence_ui.show(db, actor, e, f'{K}.ev.{e["id"]}', caption=" · ".join((
            labels.get(e["measure_id"], text("issue.upload_issue_level")),
            issue_views.file_size_text(e["size"]), e["uploaded_by_name"] or "",
            _when(e["uploaded_at"]))))
    if not issue_views.may_edit(actor, "evidence.attach", d) or \
            d["status"] in (Status.CLOSED.value, Status.ENDED.value):
        return
    limit = issue_views.upload_limit()
    types = issue_views.upload_types()
    # 0 stands for "the issue itself": a select box whose value is None shows Streamlit's own
    # English "Choose an option" instead of an option.
    options = [0, *labels]
    mkey = _key(iid, "upload.measure")
    _field(mkey, 0)
    with st.form(f"{K}.form.upload", clear_on_submit=False):
        st.markdown(f'**{ui.md_escape(text("issue.upload_form"))}**')
        st.file_uploader(text("issue.upload_file", types=", ".join(types),
                              limit=issue_views.file_size_text(limit)),
                         type=types, key=_uploader_key(iid),
                         max_upload_size=max(1, limit // (1024 * 1024)))
        st.selectbox(text("issue.upload_measure"), options, key=mkey,
                     format_func=lambda m: text("issue.upload_issue_level") if not m
                     else labels[m])
        st.form_submit_button(text("common.upload"), key=f"{K}.save.upload",
                              on_click=_on_upload, args=(iid, _token("upload")))


def _causes(db, actor: Actor, d: dict) -> None:
    text = ui.text
    iid = d["id"]
    editable = d["status"] in model.EDITABLE_STATUSES
    if d["causes"]:
        st.dataframe(ui.cause_rows(d["causes"]), hide_index=True, width="stretch")
    else:
        st.info(text("issue.causes_none"))
    st.markdown(f'**{ui.md_escape(text("issue.source_fixed"))}**')
    if d["source_fixes"]:
        st.dataframe([{text("issue.col.cause_code"): f["code"],
                       text("issue.col.cause_title"): f["title"],
                       text("issue.col.measure"): "；".join(m["title"] for m in f["measures"])}
                      for f in d["source_fixes"]], hide_index=True, width="stretch")
    else:
        st.caption(text("issue.source_fixed_none"))
    may_cause = editable and issue_views.may_edit(actor, "cause.record", d)
    if may_cause:
        for c in d["causes"]:
            st.button(text("issue.cause_remove", code=c["code"]), key=f'{K}.cause.rm.{c["id"]}',
                      on_click=_on_remove_cause, args=(iid, c["id"]),
                      icon=":material/link_off:")
        _cause_form(db, d)
    st.subheader(text("issue.accountability"))
    if d["accountability"]:
        st.dataframe([{
            text("issue.col.person"): a["person_name"], text("issue.col.action"): a["action"],
            text("issue.col.reason"): a["reason"] if a["not_applicable"] else "",
            text("issue.col.recorded"): f'{a["recorded_by_name"]} · {_when(a["recorded_at"])}',
        } for a in d["accountability"]], hide_index=True, width="stretch")
    else:
        st.info(text("issue.accountability_none"))
    if editable and issue_views.may_edit(actor, "accountability.record", d):
        _accountability_form(d)


def _cause_form(db, d: dict) -> None:
    text = ui.text
    iid = d["id"]
    linked = {c["id"] for c in d["causes"]}
    causes = {c["id"]: f'{c["code"]} {c["title"]}' for c in issue_views.cause_choices(db)
              if c["id"] not in linked}
    keys = {f: _key(iid, f"cause.{f}") for f in ("mode", "pick", "title", "description")}
    _field(keys["mode"], "existing" if causes else "new")
    with st.form(f"{K}.form.cause"):
        st.markdown(f'**{ui.md_escape(text("issue.cause_form"))}**')
        st.radio(text("issue.cause_mode"), ("existing", "new"), key=keys["mode"],
                 horizontal=True, format_func=lambda m: text(f"issue.cause_{m}"))
        st.selectbox(text("issue.cause_pick"), list(causes), key=keys["pick"], index=None,
                     format_func=lambda c: causes[c], placeholder=text("issue.cause_pick"))
        st.text_input(text("issue.cause_title"), key=keys["title"], max_chars=2000)
        st.text_area(text("issue.cause_description"), key=keys["description"], height=68)
        st.form_submit_button(text("common.save"), key=f"{K}.save.cause", on_click=_on_cause,
                              args=(iid, _token("cause")))


def _accountability_form(d: dict) -> None:
    text = ui.text
    iid = d["id"]
    keys = {f: _key(iid, f"acc.{f}") for f in ("mode", "person", "action", "reason")}
    _field(keys["mode"], "person")
    with st.form(f"{K}.form.acc"):
        st.markdown(f'**{ui.md_escape(text("issue.acc_form"))}**')
        st.radio(text("issue.acc_mode"), ("person", "na"), key=keys["mode"], horizontal=True,
                 format_func=lambda m: text("issue.acc_person_mode") if m == "person"
                 else text("issue.acc_na_mode"))
        c1, c2 = st.columns(2)
        c1.text_input(text("issue.acc_person"), key=keys["person"], max_chars=200)
        c2.text_input(text("issue.acc_action"), key=keys["action"])
        st.text_area(text("issue.acc_reason"), key=keys["reason"], height=68)
        st.form_submit_button(text("common.save"), key=f"{K}.save.acc",
                              on_click=_on_accountability, args=(iid, _token("accountability")))


def _extensions(actor: Actor, d: dict) -> None:
    text = ui.text
    iid = d["id"]
    if d["extensions"]:
        st.dataframe([{
            text("issue.col.original"): x["original_deadline"],
            text("issue.col.old"): x["old_deadline"], text("issue.col.new"): x["new_deadline"],
            text("issue.col.approved"): f'{x["approved_by_name"]} · {_when(x["at"])}',
            text("issue.col.ext_reason"): x["reason"],
        } for x in d["extensions"]], hide_index=True, width="stretch")
    else:
        st.info(text("issue.extensions_none"))
    if not issue_views.may_edit(actor, "deadline.extend", d) or not d["deadline"] or \
            d["status"] in (Status.CLOSED.value, Status.ENDED.value):
        return
    dkey, rkey = _key(iid, "extend.deadline"), _key(iid, "extend.reason")
    _field(dkey, None)
    with st.form(f"{K}.form.extend"):
        st.markdown(f'**{ui.md_escape(text("issue.extend_form"))}**')
        st.date_input(text("issue.new_deadline"), key=dkey,
                      min_value=date.fromisoformat(d["deadline"]))
        st.text_area(text("issue.extend_reason"), key=rkey, height=68)
        st.form_submit_button(text("common.save"), key=f"{K}.save.extend",
                              on_click=_on_extend, args=(iid, _token("extend")))
    _stale_reload("extend", (dkey, rkey))


def _value_text(field: str, value: str | None, lang: str) -> str:
    """A history value as people read it: statuses and labels translated, long text cut."""
    if value is None:
        return ""
    if field == "status":
        prefix = "status" if value in catalogue_views.STATUSES else "measure_status"
        return label(prefix, value, lang)
    if field in ("severity", "rectification_type"):
        return label(field, value, lang)
    row = issue_views.whole_row(field, value)
    if row is not None:
        # A bulk creation (ledger import) stores the whole row in one record: name its fields.
        value = "; ".join(f"{_field_label(k)}: {_value_text(k, str(v), lang)}"
                          for k, v in row.items() if v != "")
    return value if len(value) <= 200 else value[:200] + "…"


def _field_label(field: str) -> str:
    """The field's name in the current language (the column name when it has none)."""
    key = f"field.{field}"
    name = ui.text(key)
    return name if name != key else field


def _history(d: dict, lang: str) -> None:
    text = ui.text
    if not d["timeline"]:
        st.info(text("issue.history_none"))
        return
    st.dataframe([{
        text("issue.col.at"): h["at"][:19].replace("T", " "),
        text("issue.col.actor"): h["actor"],
        text("issue.col.what"): f'{text("issue.entity." + h["entity"])} {h["entity_id"]}'
        if h["entity"] != "issue" else text("issue.entity.issue"),
        text("issue.col.field"): _field_label(h["field"]),
        text("issue.col.old_value"): _value_text(h["field"], h["old"], lang),
        text("issue.col.new_value"): _value_text(h["field"], h["new"], lang),
    } for h in d["timeline"]], hide_index=True, width="stretch", height=420)


def _issue_id() -> int | None | str:
    """The ?id= of the address: an int, None when absent, 'bad' when not a number."""
    raw = st.query_params.get("id")
    if raw is None or raw == "":
        return None
    return int(raw) if str(raw).isdigit() else "bad"


def render() -> None:
    """Draw the issue page."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    text = ui.text
    issue_id = _issue_id()
    if issue_id is None:
        st.title(text("page.issue"))
        _show_flash()
        _picker(db, actor)
        return
    if issue_id == "bad":
        st.error(text("issue.bad_id"))
        return
    try:
        d = issue_views.issue_page_data(db, actor, issue_id)
    except AuditError:
        # Unknown and out-of-scope look the same: the page must not confirm what exists.
        st.error(text("issue.not_visible"))
        return
    d["warning"] = issue_views.warning_of(db, d, ui.today())
    st.session_state[CURRENT] = issue_id
    # The version this drawing shows: the next callback's writes are checked against it.
    st.session_state[_key(issue_id, "version")] = d["version"]
    people = _people_map(issue_views.people_choices(db, actor))
    _header(d, lang)
    _show_flash()
    _checks(d, lang)
    _next_steps(d, lang)
    _moves(d, lang)
    tabs = st.tabs([text(f"issue.tab.{t}") for t in (
        "overview", "measures", "evidence", "causes", "extensions", "history")])
    with tabs[0]:
        _overview(actor, d, lang, people)
        rules_ui.section(db, actor, d, lang, lambda write, forget: _act("rules", write, forget))
    with tabs[1]:
        _measures(actor, d, lang, people)
    with tabs[2]:
        _evidence(db, actor, d)
    with tabs[3]:
        _causes(db, actor, d)
    with tabs[4]:
        _extensions(actor, d)
    with tabs[5]:
        _history(d, lang)
