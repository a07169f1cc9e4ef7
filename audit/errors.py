"""Domain exceptions. Each is named after the rule that was broken and carries what a person
needs to fix it: a message key for the message catalogue and its parameters."""
from __future__ import annotations

from typing import Any


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

    def __init__(self, row: int, column: str, value: Any, reason: str):
        super().__init__(f"row {row}, column {column!r}, value {value!r}: {reason}",
                         row=row, column=column, value=value, reason=reason)
        self.row = row
        self.column = column
        self.value = value
        self.reason = reason


class LedgerFileError(AuditError):
    """The ledger file as a whole cannot be read (type, size, encoding, no header…)."""

    key = "error.ledger_file"


class MergeNotUndoable(AuditError):
    key = "error.merge_not_undoable"


class IntegrityBroken(AuditError):
    key = "error.integrity"
