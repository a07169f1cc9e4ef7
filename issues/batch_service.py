"""Working on many items at once (批量操作): a rectifier's progress notes, measures done with
their evidence and submissions; a lead's assignments, deadlines, extensions, returns and strike-
offs. Each item goes through the SAME service function as the single action (issues.service,
owners.service, issues.evidence_service: same permission, scope, workflow guards and history),
each in its own transaction: an item refused (out of scope, wrong status, 三不放过, a version
changed since the selection) is refused by itself and leaves nothing written, the others go on.
The result is one Outcome per item, in the order given.

(Registering many issues from a ledger is issues/bulk_service.py.)"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlite_utils

from audit.model import Actor, AuditError, ValidationFailed
from audit.store.evidence_files import evidence_root as evidence_root_of
from audit.store.paths import max_upload_bytes
from issues import evidence_service, service, store
from issues.model import Move
from owners import service as owners


@dataclass(frozen=True)
class Picked:
    """One selected item: its id (issue, or measure for measure actions), the version the user
    saw when selecting it (None: no version check), and its label (code or M12) for the
    result table."""
    id: int
    version: int | None
    label: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: done, or refused with the service's exception."""
    id: int
    label: str
    error: AuditError | None = None
    result: Any = None

    @property
    def done(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class EvidenceFile:
    """A file to attach with a measure marked done."""
    filename: str
    data: bytes


def each(items: Iterable[Picked], one: Callable[[Picked], Any]) -> list[Outcome]:
    """Run `one` for every item; a refusal (AuditError) is recorded for that item alone."""
    out: list[Outcome] = []
    for p in items:
        try:
            result = one(p)
        except AuditError as exc:
            out.append(Outcome(p.id, p.label, exc))
        else:
            out.append(Outcome(p.id, p.label, None, result))
    return out


def counts(outcomes: list[Outcome]) -> tuple[int, int]:
    """(done, refused)."""
    done = sum(o.done for o in outcomes)
    return done, len(outcomes) - done


# --- a rectifier's actions (a lead may do them too) ------------------------------------------


def update_progress(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
                    progress: str, at: str) -> list[Outcome]:
    """The same progress note (整改进展) on every item, as service.update_progress."""
    return each(items, lambda p: service.update_progress(db, actor, p.id, version=p.version,
                                                         progress=progress, at=at))


def update_progress_each(db: sqlite_utils.Database, actor: Actor,
                         items: Iterable[tuple[Picked, str]], *, at: str) -> list[Outcome]:
    """A note of its own on every item (the progress column edited in a table)."""
    notes = {p.id: text for p, text in items}
    return each([p for p, _ in items], lambda p: service.update_progress(
        db, actor, p.id, version=p.version, progress=notes[p.id], at=at))


def mark_measures_done(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
                       completed_on: str | date | None = None,
                       evidence: dict[int, EvidenceFile] | None = None,
                       evidence_root: Path | None = None, max_bytes: int | None = None,
                       at: str) -> list[Outcome]:
    """Measures (Picked ids are measure ids) marked done on `completed_on`, each with its own
    evidence file when one is given (evidence[measure_id]), as the single action
    evidence_service.complete_measure: the status change and the file's attachment are one
    transaction, so a refused file leaves the measure as it was. The
    evidence folder and size limit default to the database's (audit.store.paths)."""
    evidence = evidence or {}
    root = evidence_root if evidence_root is not None else evidence_root_of(db)
    limit = max_bytes if max_bytes is not None else max_upload_bytes()

    def one(p: Picked) -> int | None:
        f = evidence.get(p.id)
        return evidence_service.complete_measure(
            db, actor, p.id, version=p.version, completed_on=completed_on,
            filename=f.filename if f else None, data=f.data if f else None,
            evidence_root=root, max_bytes=limit, at=at)

    return each(items, one)


def submit(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *, at: str
           ) -> list[Outcome]:
    """Submit for verification (提交验收), as service.move_issue(Move.SUBMIT)."""
    return each(items, lambda p: service.move_issue(db, actor, p.id, Move.SUBMIT,
                                                    version=p.version, at=at))


def request_extension(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
                      new_deadline: str | date, reason: str, at: str) -> list[Outcome]:
    """Ask for an extension (申请延期) with one new deadline and one reason, as
    owners.service.request_extension (a lead decides each)."""
    return each(items, lambda p: owners.request_extension(
        db, actor, p.id, version=p.version, new_deadline=new_deadline, reason=reason, at=at))


# --- a lead's actions ---------------------------------------------------------------------------


def decide_extension_requests(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked],
                              *, approve: bool, note: str = "", at: str) -> list[Outcome]:
    """Approve or refuse (with one note) the waiting extension request of every item, as
    owners.service.decide_extension_request."""
    return each(items, lambda p: owners.decide_extension_request(
        db, actor, p.id, version=p.version, approve=approve, note=note, at=at))


def assign(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
           responsible_person_id: int | None = None, supervisor_person_id: int | None = None,
           deadline: str | date | None = None, accept_reason: str | None = None,
           at: str) -> list[Outcome]:
    """The same responsible person, supervising leader and/or deadline on every item, as
    owners.service.assign_issue (at least one of them must be given). `accept_reason`: the
    lead's reason to go past the deadline-fit warning of an item whose measures are due after
    the deadline (recorded per item); without it such an item is refused alone."""
    if responsible_person_id is None and supervisor_person_id is None and deadline is None:
        raise ValidationFailed("assignment", "choose a responsible person, a supervisor or a "
                                             "deadline", rule="batch_nothing")
    return each(items, lambda p: owners.assign_issue(
        db, actor, p.id, version=p.version, responsible_person_id=responsible_person_id,
        supervisor_person_id=supervisor_person_id, deadline=deadline,
        accept_reason=accept_reason, at=at))


def extend(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
           new_deadline: str | date, reason: str, at: str) -> list[Outcome]:
    """An extension (延期) with one new deadline and one reason, as owners.service.extend_deadline
    (the acting lead approves it)."""
    return each(items, lambda p: owners.extend_deadline(
        db, actor, p.id, version=p.version, new_deadline=new_deadline, reason=reason, at=at))


def return_items(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
                 reason: str, at: str) -> list[Outcome]:
    """Return (退回) with one reason, as service.move_issue(Move.RETURN)."""
    return each(items, lambda p: service.move_issue(db, actor, p.id, Move.RETURN,
                                                    version=p.version, reason=reason, at=at))


def strike_off(db: sqlite_utils.Database, actor: Actor, items: Iterable[Picked], *,
               checked: bool, at: str) -> list[Outcome]:
    """Strike off (销号) after the lead has checked the evidence against the ledger (对账):
    `checked` is the lead's confirmation; each item as service.move_issue(Move.CLOSE)
    (三不放过, segregation of duties). With two-level verification (逐级审核) each item is
    moved at the level it waits at: Move.CHECK (初审) until its first check is done, then
    Move.CLOSE (复核销号); the outcome's result is the move made."""
    if not checked:
        raise ValidationFailed("checked", "confirm that the evidence was checked",
                               rule="batch_unchecked")
    if not store.two_level_verification(db):
        return each(items, lambda p: service.move_issue(db, actor, p.id, Move.CLOSE,
                                                        version=p.version, at=at))

    def one(p: Picked) -> Move:
        # Read before the move's own transaction: a 初审 done meanwhile moves the version,
        # and the move is then refused as stale.
        move = Move.CHECK if store.issue_facts(db, p.id).checked_by is None else Move.CLOSE
        service.move_issue(db, actor, p.id, move, version=p.version, at=at)
        return move

    return each(items, one)
