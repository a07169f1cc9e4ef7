"""The message catalogue (audit/i18n.py): both languages complete, every refusal renderable."""
from __future__ import annotations

import inspect

import pytest

from audit import messages, model
from audit.model import (
    AssignmentIncomplete,
    AuditError,
    ClosureBlocked,
    DependencyCycle,
    LoginFailed,
    Role,
    StaleEdit,
    Status,
    ValidationFailed,
)
from issues.model import IssueFacts, Move, missing_for_assignment, missing_for_closure

ERROR_CLASSES = [c for _, c in inspect.getmembers(model, inspect.isclass)
                 if issubclass(c, AuditError)]


def test_both_languages_have_the_same_keys_and_placeholders():
    assert set(messages.MESSAGES) == set(messages.LANGS)
    assert messages.catalogue_problems() == []


def test_a_text_empty_in_one_language_is_empty_in_the_other():
    zh, en = messages.MESSAGES["zh"], messages.MESSAGES["en"]
    assert [k for k in zh if bool(zh[k].strip()) != bool(en.get(k, "").strip())] == []


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_key_is_in_the_catalogue(cls):
    assert messages.has(cls.key)


@pytest.mark.parametrize("prefix, values", [
    ("status", list(Status)), ("move", list(Move)), ("role", list(Role)),
    ("severity", ["high", "medium", "low"]),
    ("rectification_type", ["immediate", "staged", "continuous"]),
    ("warning", ["red", "amber", "green", "none"]),
])
def test_every_enum_value_has_a_label(prefix, values):
    for value in values:
        assert messages.has(f"{prefix}.{getattr(value, 'value', value)}")


def test_every_missing_condition_the_guards_can_return_has_a_label():
    empty = IssueFacts(code="C1.1.1", status=Status.NOT_STARTED, responsible_person_id=None,
                       deadline=None, measures=(), cause_count=0,
                       accountability_recorded=False, submitted_by=None)
    keys = set(missing_for_assignment(empty)) | set(missing_for_closure(empty))
    keys |= {"measure_owner", "measure_deadline", "measures_done", "measure_evidence"}
    for key in keys:
        assert messages.has(f"missing.{key}")


def test_t_fills_placeholders_and_falls_back():
    assert messages.t("common.count", "zh", count=3) == "共 3 条"
    assert messages.t("common.count", "en", count=3) == "3 in all"
    assert messages.t("status.closed", "fr") == "已销号"
    assert messages.t("no.such.key", "en") == "no.such.key"
    assert messages.t("common.count", "en") == " in all"


def test_closure_blocked_lists_the_missing_conditions_in_words():
    exc = ClosureBlocked("C3.2.1", ["root_cause", "measure_evidence"])
    assert messages.error_text(exc, "zh") == (
        "C3.2.1 未满足“三不放过”，不能销号，尚缺：问题根源（原因未查清）、每项措施的佐证材料。")
    assert "evidence on every measure" in messages.error_text(exc, "en")
    assert "responsible person" in messages.error_text(
        AssignmentIncomplete("C1.1.1", ["responsible_person"]), "en")


def test_stale_edit_says_who_and_when():
    exc = StaleEdit("issue", 7, 3, 4, "lead2", "2026-11-23T10:00:00+08:00")
    text = messages.error_text(exc, "zh")
    assert "lead2" in text and "2026-11-23T10:00:00+08:00" in text


def test_validation_names_the_field_and_the_rule():
    exc = ValidationFailed("password", "too short", rule="too_short", min=8)
    assert messages.error_text(exc, "zh") == "“密码”填写有误：至少需要 8 个字符"
    assert messages.error_text(exc, "en") == "“Password” is not valid: needs at least 8 characters"
    plain = ValidationFailed("whatever", "must be positive")
    assert "must be positive" in messages.error_text(plain, "en")


def test_cycle_and_login_messages():
    assert "M1 → M2 → M1" in messages.error_text(DependencyCycle(["M1", "M2", "M1"]), "en")
    assert messages.error_text(LoginFailed("x"), "zh") == messages.t("error.login_failed", "zh")


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_renders_in_both_languages(cls):
    samples = {
        ValidationFailed: lambda: ValidationFailed("title", "required", rule="required"),
        StaleEdit: lambda: StaleEdit("issue", 1, 1, 2, "a", "b"),
        AssignmentIncomplete: lambda: AssignmentIncomplete("C1", ["measure"]),
        ClosureBlocked: lambda: ClosureBlocked("C1", ["accountability"]),
        DependencyCycle: lambda: DependencyCycle(["1", "2", "1"]),
        model.LedgerRowError: lambda: model.LedgerRowError(4, "期限", "明年", "not a date"),
        model.ExportFailed: lambda: model.ExportFailed("export", "save", OSError("disk full")),
    }
    exc = samples.get(cls, lambda: cls("something"))()
    for lang in messages.LANGS:
        text = messages.error_text(exc, lang)
        assert text and "{" not in text
