"""The message catalogue: every user-facing text, one flat dictionary per language.

Keys are flat and dotted (`<area>.<name>`): `error.*` for exceptions (the `key` of each
AuditError), `missing.*` for the unmet conditions of 四个到人 / 三不放过, `rule.*` for the reason
a field was refused, `field.*` for field labels, `status.*`, `move.*`, `role.*`, `warning.*`,
`severity.*`, `rectification_type.*`, `page.*`, `nav.*`, `common.*`, `login.*`, `admin.*`.
To add text for a new page, add the same key to both languages (a test checks that the two
languages have the same keys and the same {placeholders})."""
from __future__ import annotations

import string
from typing import Any, Mapping

from audit.errors import (AssignmentIncomplete, AuditError, ClosureBlocked, DependencyCycle,
                          ValidationFailed)

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_NAMES: dict[str, str] = {"zh": "中文", "en": "English"}

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        # --- the application ---------------------------------------------------------------
        "app.title": "审计整改台账系统",
        "app.subtitle": "寄递业务外包专项审计整改",
        "app.db_missing_demo": "数据库文件不存在，且演示数据生成模块 (audit.demo.build_demo) "
                               "尚不可用，无法创建演示数据库。请先运行 `python -m audit init`。",
        "app.db_error": "无法打开数据库，请联系系统管理员。",
        # --- navigation sections and page titles ----------------------------------------------
        "nav.overview": "概览",
        "nav.work": "整改工作",
        "nav.system": "系统",
        "page.dashboard": "总览",
        "page.catalogue": "问题台账",
        "page.issue": "问题详情",
        "page.my_work": "我的任务",
        "page.verify": "验收",
        "page.owners": "责任人与单位",
        "page.io": "导入导出",
        "page.admin": "管理",
        "page.graphs": "根源与督办",
        "page.login": "登录",
        "page.coming": "“{page}”页面正在建设中。",
        # --- login and session --------------------------------------------------------------
        "login.title": "登录",
        "login.username": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.language": "语言",
        "login.demo_created": "已创建演示数据库（演示整改项目与示例数据）。",
        "login.demo_accounts": "演示账号（密码均为 {password}）：",
        "login.demo_account_row": "{username}：{role}",
        "login.required": "请输入用户名和密码。",
        "session.signed_in_as": "当前用户：{name}（{role}）",
        "session.scope_all": "范围：全区",
        "session.scope_unit": "范围：{unit}及下属单位",
        "session.logout": "退出登录",
        "session.expired": "长时间未操作，会话已过期，请重新登录。",
        "session.ended": "账号状态、角色或密码已变更，请重新登录。",
        "session.logged_out": "已退出登录。",
        # --- errors (one per AuditError key) --------------------------------------------------
        "error.generic": "操作未能完成，请稍后重试或联系系统管理员。",
        "error.not_found": "未找到该记录，可能已被删除或合并。",
        "error.not_permitted": "您没有执行此操作的权限，或该记录不在您的管辖范围内。",
        "error.validation": "“{field}”填写有误：{reason}",
        "error.stale": "该记录已由 {changed_by} 于 {changed_at} 修改（您的版本 {expected}，"
                       "当前版本 {current}）。请刷新后重新修改。",
        "error.transition": "当前状态下不允许此操作。",
        "error.assignment_incomplete": "{issue_code} 未做到“四个到人”，尚缺：{missing}。",
        "error.closure_blocked": "{issue_code} 未满足“三不放过”，不能销号，尚缺：{missing}。",
        "error.dependency_cycle": "添加该依赖会形成循环：{cycle}。",
        "error.login_failed": "用户名或密码错误，或账号暂不可用。",
        "error.upload_refused": "文件未被接受：{reason}",
        "error.ledger_row": "台账第 {row} 行“{column}”列的值“{value}”无法识别：{reason}",
        "error.ledger_file": "台账文件无法读取：{reason}",
        "error.merge_not_undoable": "合并后主条目已有新的修改，无法撤销合并。",
        "error.integrity": "数据完整性校验未通过，请立即联系系统管理员。",
        # --- reasons a field value was refused ----------------------------------------------
        "rule.required": "不能为空",
        "rule.too_short": "至少需要 {min} 个字符",
        "rule.too_long": "最多 {max} 个字符",
        "rule.username_format": "只能使用字母、数字和 . _ -，以字母或数字开头，长度 {min}–{max}",
        "rule.taken": "已被使用",
        "rule.unknown_role": "不是有效的角色",
        "rule.unknown_unit": "单位不存在",
        "rule.unknown_person": "人员不存在",
        "rule.out_of_scope": "超出您的管辖范围",
        "rule.last_admin": "至少需要保留一名启用的系统管理员",
        "rule.not_self": "不能对自己的账号执行此操作",
        "rule.wrong_password": "当前密码不正确",
        "rule.same_as_username": "密码不能与用户名相同",
        "rule.mismatch": "两次输入的密码不一致",
        "rule.unchanged": "没有需要保存的修改",
        # --- field labels ----------------------------------------------------------------------
        "field.username": "用户名",
        "field.password": "密码",
        "field.new_password": "新密码",
        "field.confirm_password": "确认新密码",
        "field.old_password": "当前密码",
        "field.display_name": "姓名",
        "field.role": "角色",
        "field.unit": "单位",
        "field.person": "对应人员",
        "field.active": "启用",
        "field.locked_until": "锁定至",
        "field.failed_logins": "连续失败次数",
        "field.created_at": "创建时间",
        "field.password_changed_at": "密码修改时间",
        "field.status": "状态",
        "field.deadline": "整改期限",
        "field.severity": "严重程度",
        "field.rectification_type": "整改类型",
        "field.title": "标题",
        "field.*": "登记（全部字段）",
        "field.description": "描述",
        "field.reason": "原因",
        "field.code": "编号",
        # --- missing conditions (issues/model.py missing_for_*) ------------------------------
        "missing.responsible_person": "整改责任人",
        "missing.measure": "整改措施",
        "missing.measure_owner": "每项措施的负责人",
        "missing.measure_deadline": "每项措施的完成期限",
        "missing.issue_deadline": "问题整改期限",
        "missing.root_cause": "问题根源（原因未查清）",
        "missing.accountability": "责任追究记录（责任未处理）",
        "missing.measures_done": "全部措施完成（措施未落实）",
        "missing.measure_evidence": "每项措施的佐证材料",
        # --- statuses and moves -----------------------------------------------------------------
        "status.not_started": "未启动",
        "status.in_progress": "整改中",
        "status.submitted": "待验收",
        "status.closed": "已销号",
        "status.ended": "特殊原因终结",
        "move.start": "启动整改",
        "move.submit": "提交验收",
        "move.close": "验收销号",
        "move.return": "退回",
        "move.reopen": "重新打开",
        "move.end": "特殊原因终结",
        "measure_status.todo": "未开始",
        "measure_status.doing": "进行中",
        "measure_status.done": "已完成",
        # --- roles ------------------------------------------------------------------------------
        "role.admin": "系统管理员",
        "role.lead": "审计/整改牵头人",
        "role.rectifier": "整改责任人",
        "role.manager": "区/市分公司领导",
        # --- warnings, severities, types, levels -------------------------------------------------
        "warning.red": "红灯（逾期）",
        "warning.amber": "黄灯（临近期限）",
        "warning.green": "绿灯",
        "warning.none": "—",
        "severity.high": "高",
        "severity.medium": "中",
        "severity.low": "低",
        "rectification_type.immediate": "立行立改",
        "rectification_type.staged": "分阶段整改",
        "rectification_type.continuous": "持续整改",
        "unit_level.region": "自治区分公司",
        "unit_level.city": "盟市分公司",
        "unit_level.county": "县级分公司",
        "audit_level.group": "集团公司审计",
        "audit_level.regional": "区分公司审计",
        "escalation.reminder": "提醒",
        "escalation.letter": "督办函",
        "escalation.summons": "约谈",
        "escalation.accountability": "问责",
        # --- common buttons and labels ----------------------------------------------------------
        "common.save": "保存",
        "common.cancel": "取消",
        "common.confirm": "确认",
        "common.search": "搜索",
        "common.filter": "筛选",
        "common.all": "全部",
        "common.yes": "是",
        "common.no": "否",
        "common.none": "无",
        "common.download": "下载",
        "common.upload": "上传",
        "common.refresh": "刷新",
        "common.back": "返回",
        "common.saved": "已保存。",
        "common.as_of": "截至 {date}",
        "common.whole_region": "全区",
        "common.count": "共 {count} 条",
        # --- administration: users ----------------------------------------------------------------
        "admin.users": "用户",
        "admin.user_list": "用户列表",
        "admin.add_user": "新增用户",
        "admin.edit_user": "修改用户",
        "admin.select_user": "选择用户",
        "admin.reset_password": "重置密码",
        "admin.disable": "停用账号",
        "admin.enable": "启用账号",
        "admin.unlock": "解除锁定",
        "admin.locked": "已锁定",
        "admin.created": "已创建用户 {username}。",
        "admin.password_reset_done": "已重置 {username} 的密码，该用户的已登录会话已失效。",
        "admin.disabled_done": "已停用 {username}。",
        "admin.enabled_done": "已启用 {username}。",
        "admin.unlocked_done": "已解除 {username} 的锁定。",
        "admin.no_unit": "（全区）",
        "admin.no_person": "（不关联）",
        "admin.change_password": "修改我的密码",
        "admin.password_changed": "密码已修改。",
    },
    "en": {
        "app.title": "Audit Remediation Tracker",
        "app.subtitle": "Special audit of outsourced delivery: rectification",
        "app.db_missing_demo": "The database file does not exist and the demo builder "
                               "(audit.demo.build_demo) is not available yet, so no demo "
                               "database can be created. Run `python -m audit init` first.",
        "app.db_error": "The database cannot be opened. Please contact the administrator.",
        "nav.overview": "Overview",
        "nav.work": "Rectification",
        "nav.system": "System",
        "page.dashboard": "Dashboard",
        "page.catalogue": "Issue ledger",
        "page.issue": "Issue detail",
        "page.my_work": "My tasks",
        "page.verify": "Verification",
        "page.owners": "Owners and units",
        "page.io": "Import and export",
        "page.admin": "Administration",
        "page.graphs": "Root causes and supervision",
        "page.login": "Sign in",
        "page.coming": "The “{page}” page is being built.",
        "login.title": "Sign in",
        "login.username": "User name",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.language": "Language",
        "login.demo_created": "A demo database was created (a demo programme with sample data).",
        "login.demo_accounts": "Demo accounts (password {password} for all):",
        "login.demo_account_row": "{username}: {role}",
        "login.required": "Please enter a user name and a password.",
        "session.signed_in_as": "Signed in as {name} ({role})",
        "session.scope_all": "Scope: whole region",
        "session.scope_unit": "Scope: {unit} and its units",
        "session.logout": "Sign out",
        "session.expired": "Your session expired after a period of inactivity. Please sign in "
                           "again.",
        "session.ended": "Your account, role or password changed. Please sign in again.",
        "session.logged_out": "You have signed out.",
        "error.generic": "The action could not be completed. Try again later or contact the "
                         "administrator.",
        "error.not_found": "The record was not found; it may have been deleted or merged.",
        "error.not_permitted": "You are not allowed to do this, or the record is outside your "
                               "scope.",
        "error.validation": "“{field}” is not valid: {reason}",
        "error.stale": "{changed_by} changed this record at {changed_at} (your version "
                       "{expected}, current version {current}). Reload and make your change "
                       "again.",
        "error.transition": "This action is not possible in the current status.",
        "error.assignment_incomplete": "{issue_code} is not fully assigned (four to a person); "
                                       "missing: {missing}.",
        "error.closure_blocked": "{issue_code} cannot be struck off (three do-not-let-go); "
                                 "missing: {missing}.",
        "error.dependency_cycle": "This dependency would make a cycle: {cycle}.",
        "error.login_failed": "Wrong user name or password, or the account is unavailable.",
        "error.upload_refused": "The file was refused: {reason}",
        "error.ledger_row": "Ledger row {row}, column “{column}”: the value “{value}” cannot be "
                            "read: {reason}",
        "error.ledger_file": "The ledger file cannot be read: {reason}",
        "error.merge_not_undoable": "The surviving item has changed since the merge; the merge "
                                    "can no longer be undone.",
        "error.integrity": "The data integrity check failed. Contact the administrator at once.",
        "rule.required": "is required",
        "rule.too_short": "needs at least {min} characters",
        "rule.too_long": "allows at most {max} characters",
        "rule.username_format": "letters, digits and . _ - only, starting with a letter or digit, "
                                "{min}–{max} characters",
        "rule.taken": "is already in use",
        "rule.unknown_role": "is not a valid role",
        "rule.unknown_unit": "no such unit",
        "rule.unknown_person": "no such person",
        "rule.out_of_scope": "is outside your scope",
        "rule.last_admin": "at least one active administrator must remain",
        "rule.not_self": "cannot be done to your own account",
        "rule.wrong_password": "the current password is wrong",
        "rule.same_as_username": "the password must differ from the user name",
        "rule.mismatch": "the two passwords differ",
        "rule.unchanged": "nothing to save",
        "field.username": "User name",
        "field.password": "Password",
        "field.new_password": "New password",
        "field.confirm_password": "Confirm new password",
        "field.old_password": "Current password",
        "field.display_name": "Name",
        "field.role": "Role",
        "field.unit": "Unit",
        "field.person": "Person",
        "field.active": "Active",
        "field.locked_until": "Locked until",
        "field.failed_logins": "Failed attempts",
        "field.created_at": "Created",
        "field.password_changed_at": "Password changed",
        "field.status": "Status",
        "field.deadline": "Deadline",
        "field.severity": "Severity",
        "field.rectification_type": "Rectification type",
        "field.title": "Title",
        "field.*": "Registered (all fields)",
        "field.description": "Description",
        "field.reason": "Reason",
        "field.code": "Code",
        "missing.responsible_person": "a responsible person",
        "missing.measure": "a measure",
        "missing.measure_owner": "an owner on every measure",
        "missing.measure_deadline": "a deadline on every measure",
        "missing.issue_deadline": "an issue deadline",
        "missing.root_cause": "a root cause (cause not found)",
        "missing.accountability": "an accountability record (responsibility not dealt with)",
        "missing.measures_done": "all measures done (measures not carried out)",
        "missing.measure_evidence": "evidence on every measure",
        "status.not_started": "Not started",
        "status.in_progress": "In progress",
        "status.submitted": "Awaiting verification",
        "status.closed": "Closed",
        "status.ended": "Ended (special reason)",
        "move.start": "Start",
        "move.submit": "Submit for verification",
        "move.close": "Verify and close",
        "move.return": "Return",
        "move.reopen": "Reopen",
        "move.end": "End for a special reason",
        "measure_status.todo": "To do",
        "measure_status.doing": "Doing",
        "measure_status.done": "Done",
        "role.admin": "Administrator",
        "role.lead": "Audit lead",
        "role.rectifier": "Rectification team member",
        "role.manager": "Regional manager",
        "warning.red": "Red (overdue)",
        "warning.amber": "Amber (due soon)",
        "warning.green": "Green",
        "warning.none": "—",
        "severity.high": "High",
        "severity.medium": "Medium",
        "severity.low": "Low",
        "rectification_type.immediate": "Fix at once",
        "rectification_type.staged": "In stages",
        "rectification_type.continuous": "Continuous",
        "unit_level.region": "Regional branch",
        "unit_level.city": "League/city branch",
        "unit_level.county": "County branch",
        "audit_level.group": "Group audit",
        "audit_level.regional": "Regional audit",
        "escalation.reminder": "Reminder",
        "escalation.letter": "Supervision letter",
        "escalation.summons": "Summons interview",
        "escalation.accountability": "Accountability",
        "common.save": "Save",
        "common.cancel": "Cancel",
        "common.confirm": "Confirm",
        "common.search": "Search",
        "common.filter": "Filter",
        "common.all": "All",
        "common.yes": "Yes",
        "common.no": "No",
        "common.none": "None",
        "common.download": "Download",
        "common.upload": "Upload",
        "common.refresh": "Refresh",
        "common.back": "Back",
        "common.saved": "Saved.",
        "common.as_of": "As of {date}",
        "common.whole_region": "Whole region",
        "common.count": "{count} in all",
        "admin.users": "Users",
        "admin.user_list": "User list",
        "admin.add_user": "Add user",
        "admin.edit_user": "Edit user",
        "admin.select_user": "User",
        "admin.reset_password": "Reset password",
        "admin.disable": "Disable account",
        "admin.enable": "Enable account",
        "admin.unlock": "Unlock",
        "admin.locked": "Locked",
        "admin.created": "User {username} created.",
        "admin.password_reset_done": "Password of {username} reset; their open sessions have "
                                     "ended.",
        "admin.disabled_done": "{username} disabled.",
        "admin.enabled_done": "{username} enabled.",
        "admin.unlocked_done": "{username} unlocked.",
        "admin.no_unit": "(whole region)",
        "admin.no_person": "(none)",
        "admin.change_password": "Change my password",
        "admin.password_changed": "Password changed.",
    },
}

# How a list of missing conditions is joined in running text.
_LIST_SEPARATOR = {"zh": "、", "en": "; "}


class _Blank(dict):
    """Format parameters where an absent placeholder renders as nothing, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def normalise_lang(lang: str | None) -> str:
    """A supported language code; anything else falls back to Chinese."""
    if not lang:
        return DEFAULT_LANG
    code = str(lang).strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGS else DEFAULT_LANG


def has(key: str) -> bool:
    """Is `key` in the catalogue?"""
    return key in MESSAGES[DEFAULT_LANG]


def t(key: str, lang: str | None = DEFAULT_LANG, **params: Any) -> str:
    """The text for `key` in `lang` with {placeholders} filled; falls back to Chinese, then to
    the key itself (so a missing text is visible, never a crash)."""
    lang = normalise_lang(lang)
    template = MESSAGES[lang].get(key) or MESSAGES[DEFAULT_LANG].get(key)
    if template is None:
        return key
    return string.Formatter().vformat(template, (), _Blank(params))


def placeholders(template: str) -> set[str]:
    """The {placeholder} names used in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def label(prefix: str, value: Any, lang: str | None = DEFAULT_LANG) -> str:
    """The label of an enum-like value (`label('status', 'closed', 'zh')` → 已销号); the raw value
    when the catalogue has none."""
    raw = getattr(value, "value", value)
    key = f"{prefix}.{raw}"
    return t(key, lang) if has(key) else str(raw)


def _param_text(value: Any, lang: str) -> Any:
    """A parameter value as shown: catalogue keys are translated, None shows as '?'."""
    if value is None:
        return "?"
    if isinstance(value, str) and has(value):
        return t(value, lang)
    return value


def error_text(exc: AuditError, lang: str | None = DEFAULT_LANG) -> str:
    """The message for a refusal, in `lang`, built from its key and parameters.

    Conventions the services may rely on: a parameter whose value is a catalogue key is
    translated (e.g. `reason="rule.too_short"`); ValidationFailed may carry `rule` (a `rule.*`
    name or key) with its own parameters (e.g. `min=8`), else its English message is shown."""
    lang = normalise_lang(lang)
    params: dict[str, Any] = {k: _param_text(v, lang) for k, v in exc.params.items()}
    sep = _LIST_SEPARATOR[lang]
    if isinstance(exc, (AssignmentIncomplete, ClosureBlocked)):
        params["missing"] = sep.join(label("missing", m, lang) for m in exc.missing)
    elif isinstance(exc, DependencyCycle):
        params["cycle"] = " → ".join(str(c) for c in exc.cycle)
    elif isinstance(exc, ValidationFailed):
        field_key = f"field.{exc.field}"
        params["field"] = t(field_key, lang) if has(field_key) else exc.field
        rule = exc.params.get("rule")
        if rule:
            rule_key = rule if str(rule).startswith("rule.") else f"rule.{rule}"
            rule_params = {k: v for k, v in exc.params.items() if k not in ("rule", "field")}
            params["reason"] = (t(rule_key, lang, **rule_params) if has(rule_key)
                                else str(rule))
        else:
            params.setdefault("reason", exc.message)
    key = exc.key if has(exc.key) else "error.generic"
    return t(key, lang, **params)


def catalogue_problems(messages: Mapping[str, Mapping[str, str]] = MESSAGES) -> list[str]:
    """Differences between the languages (keys or placeholders); empty when consistent."""
    problems: list[str] = []
    base = messages[DEFAULT_LANG]
    for lang, table in messages.items():
        for key in sorted(set(base) ^ set(table)):
            problems.append(f"{lang}: key {key} is in only one language")
        for key in sorted(set(base) & set(table)):
            if placeholders(base[key]) != placeholders(table[key]):
                problems.append(f"{lang}: {key} placeholders differ")
    return problems


# Feature areas keep the texts of their own pages in a module of their own, holding only
# `MESSAGES = {"zh": {...}, "en": {...}}`; they are merged here, so there is still exactly one
# catalogue per language, and a key may never be defined twice.
FEATURE_CATALOGUES: tuple[str, ...] = (
    "audit.dashboard_messages", "issues.page_messages", "issues.graphs_messages",
    "issues.import_messages", "exports.messages", "owners.messages", "audit.admin_messages",
    "exports.remind_messages",
)


def _merge_feature_catalogues() -> None:
    import importlib
    for name in FEATURE_CATALOGUES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        for lang_code in LANGS:
            for key, text in module.MESSAGES.get(lang_code, {}).items():
                if key in MESSAGES[lang_code] and MESSAGES[lang_code][key] != text:
                    raise RuntimeError(f"message key {key!r} defined twice ({name})")
                MESSAGES[lang_code][key] = text


_merge_feature_catalogues()
