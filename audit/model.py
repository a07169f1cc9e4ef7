"""The programme's vocabulary, pure (standard library only): roles, the acting user and the
permission table; the statuses of an issue; the domain exceptions, each named after the rule
that was broken and carrying what a person needs to fix it (a message key for the catalogue
and its parameters)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Role(str, Enum):
    ADMIN = "admin"          # 系统管理员: users, units, calendar, backups; may build the catalogue
    LEAD = "lead"            # 审计/整改牵头人: catalogue, assignment, verification, closing
    RECTIFIER = "rectifier"  # 整改责任人: own items and measures only
    MANAGER = "manager"      # 区/市分公司领导: reads its scope, changes nothing


@dataclass(frozen=True)
class Actor:
    """The person acting, as the services see them. `scope_unit_ids` is the set of units the
    actor may see and touch (a unit and all its descendants); None means the whole region."""

    user_id: int
    username: str
    role: Role
    person_id: int | None = None
    unit_id: int | None = None
    scope_unit_ids: frozenset[int] | None = field(default=None, compare=False)

    def in_scope(self, unit_id: int | None) -> bool:
        """Is a unit inside this actor's scope?"""
        return self.scope_unit_ids is None or unit_id in self.scope_unit_ids


# What each role may do at all; ownership and scope are checked on top by the services.
# "own" means: a rectifier only on items or measures assigned to them.
PERMISSIONS: dict[str, dict[Role, str]] = {
    "catalogue.edit":      {Role.ADMIN: "all", Role.LEAD: "all"},
    "issue.assign":        {Role.ADMIN: "all", Role.LEAD: "all"},
    "issue.progress":      {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "measure.add":         {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "measure.edit":        {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "measure.depend":      {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "cause.record":        {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "cause.edit":          {Role.LEAD: "all"},
    "accountability.record": {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "evidence.attach":     {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "workflow.start":      {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "workflow.submit":     {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "workflow.close":      {Role.LEAD: "all"},
    "workflow.check":      {Role.LEAD: "all"},
    "workflow.return":     {Role.LEAD: "all"},
    "workflow.reopen":     {Role.LEAD: "all"},
    "workflow.end":        {Role.LEAD: "all"},
    "deadline.extend":     {Role.LEAD: "all"},
    "deadline.request":    {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "issue.merge":         {Role.ADMIN: "all", Role.LEAD: "all"},
    "ledger.import":       {Role.ADMIN: "all", Role.LEAD: "all"},
    # A new focus point or work stream changes what every office reports on: the lead's call.
    "vocabulary.create":   {Role.LEAD: "all"},
    "escalation.record":   {Role.LEAD: "all"},
    "milestone.edit":      {Role.LEAD: "all", Role.RECTIFIER: "own"},
    "meeting.record":      {Role.LEAD: "all"},
    "rule.accept":         {Role.ADMIN: "all", Role.LEAD: "all"},
    "org.edit":            {Role.ADMIN: "all"},
    "user.manage":         {Role.ADMIN: "all"},
    "calendar.edit":       {Role.ADMIN: "all"},
    "backup.run":          {Role.ADMIN: "all"},
    "settings.edit":       {Role.ADMIN: "all"},
    "remind.configure":    {Role.ADMIN: "all"},
    "remind.run":          {Role.ADMIN: "all"},
}


def grant(action: str, role: Role) -> str | None:
    """'all', 'own', or None when the role may not do `action` at all."""
    return PERMISSIONS[action].get(role)


def can(action: str, role: Role) -> bool:
    """May this role do `action` at least on its own items?"""
    return grant(action, role) is not None


# --- the statuses of an issue ------------------------------------------------------------

class Status(str, Enum):
    NOT_STARTED = "not_started"   # 未启动
    IN_PROGRESS = "in_progress"   # 整改中
    SUBMITTED = "submitted"       # 待验收
    CLOSED = "closed"             # 已销号
    ENDED = "ended"               # 特殊原因终结 (counted apart from closed)


OPEN_STATUSES = frozenset({Status.NOT_STARTED, Status.IN_PROGRESS, Status.SUBMITTED})


# --- refusals ----------------------------------------------------------------------------

class AuditError(Exception):
    """Base of every refusal the services raise. `key` is a message-catalogue key."""

    key = "error.generic"

    def __init__(self, message: str, *, key: str | None = None, **params: Any):
        super().__init__(message)
        self.message = message
        if key:
            self.key = key
        self.params = params

    def __str__(self) -> str:
        return self.message


class NotFound(AuditError):
    key = "error.not_found"


class NotPermitted(AuditError):
    """The actor's role or scope does not allow this action."""

    key = "error.not_permitted"


class ValidationFailed(AuditError):
    """A field holds a value that cannot be accepted. `field` names it."""

    key = "error.validation"

    def __init__(self, field: str, message: str, **params: Any):
        super().__init__(f"{field}: {message}", field=field, **params)
        self.field = field


class StaleEdit(AuditError):
    """The edit was made from an older version; someone else saved first."""

    key = "error.stale"

    def __init__(self, entity: str, entity_id: int, expected: int, current: int,
                 changed_by: str | None, changed_at: str | None):
        super().__init__(
            f"{entity} {entity_id} was changed by {changed_by or '?'} at {changed_at or '?'} "
            f"(your version {expected}, current {current}); reload and apply your edit again",
            entity=entity, entity_id=entity_id, expected=expected, current=current,
            changed_by=changed_by, changed_at=changed_at)
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.current_version = current


class TransitionNotAllowed(AuditError):
    """The status move does not exist from the current status."""

    key = "error.transition"


class AssignmentIncomplete(AuditError):
    """四个到人 is not met: `missing` lists what is missing."""

    key = "error.assignment_incomplete"

    def __init__(self, issue_code: str, missing: list[str]):
        super().__init__(f"{issue_code}: 四个到人 not met: {', '.join(missing)}",
                         issue_code=issue_code, missing=missing)
        self.missing = missing


class ClosureBlocked(AuditError):
    """三不放过 is not met: `missing` lists what is missing."""

    key = "error.closure_blocked"

    def __init__(self, issue_code: str, missing: list[str]):
        super().__init__(f"{issue_code}: 三不放过 not met: {', '.join(missing)}",
                         issue_code=issue_code, missing=missing)
        self.missing = missing


class DependencyCycle(AuditError):
    """Adding the dependency would make a cycle; `cycle` lists the measures in it."""

    key = "error.dependency_cycle"

    def __init__(self, cycle: list[str]):
        super().__init__("dependency would make a cycle: " + " → ".join(cycle), cycle=cycle)
        self.cycle = cycle


class LoginFailed(AuditError):
    """Same message for every failure, so that user names cannot be enumerated."""

    key = "error.login_failed"


class UploadRefused(AuditError):
    key = "error.upload_refused"


class LedgerRowError(AuditError):
    """A ledger row cannot be read: names the Excel row number, the column and the value."""

    key = "error.ledger_row"

    def __init__(self, row: int, column: str, value: Any, reason: str, *, sheet: str = ""):
        # A workbook of several sheets: the row is that sheet's own Excel row.
        where = f"sheet {sheet} row {row}" if sheet else f"row {row}"
        super().__init__(f"{where}, column {column!r}, value {value!r}: {reason}",
                         key="error.ledger_row_sheet" if sheet else None,
                         row=row, column=column, value=value, reason=reason, sheet=sheet)
        self.sheet = sheet
        self.row = row
        self.column = column
        self.value = value
        self.reason = reason


class LedgerFileError(AuditError):
    """The ledger file as a whole cannot be read (type, size, encoding, no header…)."""

    key = "error.ledger_file"


class ExportFailed(AuditError):
    """Building an export (the Excel ledger, the Word pack) failed at a named step (gather,
    charts, sections, writing, save); nothing was left at the target path. `step` is the step's name; the message names it."""

    key = "error.report_failed"

    def __init__(self, kind: str, step: str, cause: BaseException):
        reason = f"{type(cause).__name__}: {cause}"
        # The step parameter is a catalogue key, so error_text shows it in the reader's language.
        super().__init__(f"{kind} failed while {_STEP_WORDS.get(step, step)}: {reason}",
                         step=f"{kind}.step.{step}", reason=reason)
        self.step = step
        self.cause = cause


_STEP_WORDS = {"gather": "gathering figures", "charts": "drawing charts",
               "sections": "writing sections", "writing": "writing the sheet",
               "save": "saving"}


class MergeNotUndoable(AuditError):
    key = "error.merge_not_undoable"


class IntegrityBroken(AuditError):
    key = "error.integrity"


class AlreadySubmitted(AuditError):
    """This drawing of a form was submitted before (a double click, a resent request): nothing
    was recorded again. `result` is what the first submit produced (an id, a count)."""

    key = "error.already_submitted"

    def __init__(self, form: str, result: Any = None):
        super().__init__(f"form {form} was already submitted; nothing recorded again",
                         form=form)
        self.form = form
        self.result = result


def text_value(value: Any, field: str, *, required: bool = False, max_len: int = 200_000) -> str:
    """A text field as stored (exactly as typed); ValidationFailed naming the field when it is
    required and blank, or too long."""
    value = "" if value is None else str(value)
    if required and not value.strip():
        raise ValidationFailed(field, "required")
    if len(value) > max_len:
        raise ValidationFailed(field, f"longer than {max_len} characters")
    return value


def code_key(code: str) -> tuple:
    """Sort key for codes: C10 after C9 and C3.2.10 after C3.2.9 (numeric parts compare as
    numbers)."""
    head, _, rest = code.partition(".")
    if head[:1] == "C" and head[1:].isdigit():
        parts = rest.split(".") if rest else []
        if all(p.isdigit() for p in parts):  # the catalogue's own codes: the common, fast case
            key: list[tuple] = [(1, "C"), (0, int(head[1:]))]
            for p in parts:
                key += [(1, "."), (0, int(p))]
            return tuple(key)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", code) if p)
