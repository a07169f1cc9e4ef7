"""Streamlit pieces for working on many items at once, shared by 我的任务, 问题台账 and 验收:
picking items (a multiselect over the rows shown, "select all shown", "clear"), running a batch
from a button's callback, and the result table item by item (done / refused and why).

The version of each item is frozen when it is picked: a batch refers to what the user saw
when choosing, so an item changed meanwhile is refused as stale by the service, by itself."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from audit import ui
from audit.messages import error_text
from audit.model import Actor, AuditError
from issues import batch_service
from issues.batch_service import Outcome, Picked
from issues.model import Move

Write = Callable[[Any, Actor, list[Picked]], list[Outcome]]


def _keys(key: str) -> tuple[str, str, str]:
    return f"{key}.picked", f"{key}.frozen", f"{key}.results"


def _select_all(key: str, ids: list[int]) -> None:
    st.session_state[_keys(key)[0]] = list(ids)


def _clear(key: str) -> None:
    st.session_state[_keys(key)[0]] = []


def pick(key: str, rows: list[dict], label: Callable[[dict], str], *,
         versions: Callable[[list[int]], dict[int, int]] | None = None) -> list[Picked]:
    """The picker over `rows` (each with an `id`); returns the items picked, each with the
    version it had when it was picked: the row's `version`, or `versions(new ids)` read when
    they are picked (for lists that carry no versions)."""
    text = ui.text
    state = st.session_state
    picked_key, frozen_key, _ = _keys(key)
    by_id = {r["id"]: r for r in rows}
    ids = list(by_id)
    if picked_key in state:   # items no longer shown (filters changed) drop out of the pick
        state[picked_key] = [i for i in state[picked_key] if i in by_id]
    c1, c2 = st.columns(2)
    c1.button(text("batch.select_all", n=len(ids)), key=f"{key}.all", on_click=_select_all,
              args=(key, ids), icon=":material/select_all:", width="stretch",
              disabled=not ids)
    c2.button(text("batch.clear"), key=f"{key}.clear", on_click=_clear, args=(key,),
              icon=":material/deselect:", width="stretch")
    chosen = st.multiselect(text("batch.picked"), ids, key=picked_key,
                            format_func=lambda i: label(by_id[i]),
                            placeholder=text("batch.pick_placeholder"))
    frozen: dict[int, tuple[int | None, str]] = {
        i: v for i, v in state.get(frozen_key, {}).items() if i in chosen}
    new = [i for i in chosen if i not in frozen]
    found = versions(new) if (versions and new) else {}
    for i in new:
        frozen[i] = (found.get(i) if versions else by_id[i].get("version"), label(by_id[i]))
    state[frozen_key] = frozen
    return [Picked(i, frozen[i][0], frozen[i][1]) for i in chosen]


def picked_now(key: str) -> list[Picked]:
    """The items picked, as the callback of a batch button sees them."""
    picked_key, frozen_key, _ = _keys(key)
    frozen = st.session_state.get(frozen_key, {})
    return [Picked(i, *frozen[i]) for i in st.session_state.get(picked_key, []) if i in frozen]


def _done_text(o) -> str:
    """What was done to an item when the batch says (two-level verification: 初审 or
    复核销号), else ''."""
    return ui.text(f"batch.level.{o.result.value}") if isinstance(o.result, Move) else ""


def run(key: str, slot: str, write: Write, forget: tuple[str, ...] = (), *,
        clear_done: bool = True) -> None:
    """Run a batch from a button's callback: every picked item through `write`, the result
    table kept for the rerun; the pick is cleared of the items done (their versions moved).
    `clear_done=False` when `write` changes other items than the picked ones (the measures of
    the picked issues): the pick stays as it is."""
    actor = ui.current_actor()
    items = picked_now(key)
    if actor is None:
        return
    if not items:
        ui.flash(slot, "warning", ui.text("batch.nothing_picked"))
        return
    try:
        outcomes = write(ui.database(), actor, items)
    except AuditError as exc:     # a refusal of the batch's input (no reason, nothing chosen)
        ui.flash(slot, "error", error_text(exc, ui.lang()))
        return
    lang = ui.lang()
    state = st.session_state
    picked_key, frozen_key, results_key = _keys(key)
    state[results_key] = [(o.label, o.done, _done_text(o) if o.done
                           else error_text(o.error, lang)) for o in outcomes]
    done_ids = {o.id for o in outcomes if o.done}
    done = len(done_ids)
    if not clear_done:
        done_ids = set()
    state[picked_key] = [i for i in state.get(picked_key, []) if i not in done_ids]
    state[frozen_key] = {i: v for i, v in state.get(frozen_key, {}).items()
                         if i not in done_ids}
    ui.flash(slot, "success" if done == len(outcomes) else "warning",
             ui.text("batch.summary", done=done, refused=len(outcomes) - done))
    if done:
        ui.forget_form(*forget)


def on_progress(key: str, slot: str) -> None:
    """A button's callback: the progress note typed at `key`.progress saved on every picked
    item (a blank note is refused before anything runs)."""
    field = f"{key}.progress"
    note = st.session_state.get(field) or ""
    if not note.strip():
        ui.flash(slot, "warning", ui.text("batch.note_needed"))
        return
    run(key, slot, lambda db, actor, items: batch_service.update_progress(
        db, actor, items, progress=note, at=ui.now_at()), (field,))


def on_submit(key: str, slot: str) -> None:
    """A button's callback: every picked item submitted for verification."""
    run(key, slot, lambda db, actor, items: batch_service.submit(
        db, actor, items, at=ui.now_at()))


def results(key: str) -> None:
    """The last batch's result, item by item (shown until the next batch)."""
    rows = st.session_state.get(_keys(key)[2])
    if not rows:
        return
    text = ui.text
    done_word, refused_word = text("batch.done"), text("batch.refused")
    st.dataframe([{text("batch.col.item"): item,
                   text("batch.col.result"): done_word if ok else refused_word,
                   text("batch.col.reason"): why} for item, ok, why in rows],
                 hide_index=True, width="stretch", key=f"{key}.results_table",
                 height=min(38 + 35 * len(rows), 420))
