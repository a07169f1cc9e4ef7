"""Who may do what: roles, the acting user, and the permission table. Pure: standard library."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


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
    "workflow.return":     {Role.LEAD: "all"},
    "workflow.reopen":     {Role.LEAD: "all"},
    "workflow.end":        {Role.LEAD: "all"},
    "deadline.extend":     {Role.LEAD: "all"},
    "issue.merge":         {Role.ADMIN: "all", Role.LEAD: "all"},
    "ledger.import":       {Role.ADMIN: "all", Role.LEAD: "all"},
    "escalation.record":   {Role.LEAD: "all"},
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
