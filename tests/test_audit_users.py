"""User accounts, passwords and sign-in (audit/users.py), and the sign-in gate of the app."""
from __future__ import annotations

from pathlib import Path

import pytest

from audit import accounts_service, login_service
from audit.model import Actor, LoginFailed, NotPermitted, Role, StaleEdit, ValidationFailed
from audit.store.db import rows, scalar
from audit.store.history import verify
from tests.conftest import later, open_page, sign_in

PASSWORD = "Correct-Horse-77"


@pytest.fixture
def admin(db, at) -> Actor:
    """A region-wide administrator created through the bootstrap path."""
    uid = accounts_service.create_user(db, None, "root", PASSWORD, Role.ADMIN, at=at)
    return login_service.actor_for(db, uid)


def _failures(db, username: str, at: str, n: int) -> None:
    for _ in range(n):
        with pytest.raises(LoginFailed):
            login_service.authenticate(db, username, "wrong-password", at)


def test_password_is_stored_as_an_argon2id_hash(db, at):
    uid = accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    stored = scalar(db, "SELECT password_hash FROM users WHERE id = ?", (uid,))
    assert stored.startswith("$argon2id$")
    assert login_service.verify_password(stored, PASSWORD)
    assert not login_service.verify_password(stored, PASSWORD + "x")


def test_correct_password_signs_in_with_role_and_resets_failures(db, at):
    accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    _failures(db, "alice", at, 3)
    actor = login_service.authenticate(db, "ALICE", PASSWORD, later(at, minutes=1))
    assert actor.username == "alice" and actor.role is Role.LEAD
    assert scalar(db, "SELECT failed_logins FROM users WHERE id = ?", (actor.user_id,)) == 0


def test_five_failures_lock_the_account_for_fifteen_minutes(db, at):
    uid = accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    _failures(db, "alice", at, 5)
    with pytest.raises(LoginFailed):
        login_service.authenticate(db, "alice", PASSWORD, later(at, minutes=14, seconds=59))
    assert login_service.authenticate(db, "alice", PASSWORD, later(at, minutes=15)).user_id == uid


def test_four_failures_do_not_lock(db, at):
    accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    _failures(db, "alice", at, 4)
    assert login_service.authenticate(db, "alice", PASSWORD, later(at, seconds=1)).username == "alice"


def test_lock_out_is_recorded_in_history_but_single_failures_are_not(db, at):
    uid = accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    _failures(db, "alice", at, 4)
    assert rows(db, "SELECT * FROM history WHERE entity = 'login'") == []
    _failures(db, "alice", at, 1)
    locked = rows(db, "SELECT field, old, new FROM history WHERE action = 'login.locked' "
                      "AND entity_id = ?", (uid,))
    assert {r["field"]: r["new"] for r in locked} == {
        "failed_logins": "5", "locked_until": "2026-11-23T09:15:00+08:00"}
    assert verify(db).ok


def test_attempts_while_locked_do_not_extend_the_lock(db, at):
    accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    _failures(db, "alice", at, 5)
    _failures(db, "alice", later(at, minutes=10), 5)
    assert login_service.authenticate(db, "alice", PASSWORD, later(at, minutes=15)).username == "alice"


def test_every_failed_sign_in_gives_the_same_message(db, at, admin):
    accounts_service.create_user(db, None, "locked", PASSWORD, "lead", at=at)
    gone = accounts_service.create_user(db, None, "gone", PASSWORD, "lead", at=at)
    accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    accounts_service.set_active(db, admin, gone, False, at=at)
    _failures(db, "locked", at, 5)
    messages = set()
    for name, password in [("nobody", PASSWORD), ("alice", "wrong-password"),
                           ("locked", PASSWORD), ("gone", PASSWORD), ("", "")]:
        with pytest.raises(LoginFailed) as caught:
            login_service.authenticate(db, name, password, later(at, minutes=1))
        messages.add((str(caught.value), caught.value.key, tuple(caught.value.params.items())))
    assert len(messages) == 1


def test_no_password_text_in_history_or_the_database_file(db, db_path, at, admin):
    secret, second, third = "Zq8-unique-secret", "Yv7-second-secret", "Xw6-third-secret"
    uid = accounts_service.create_user(db, admin, "alice", secret, "rectifier", at=at)
    login_service.authenticate(db, "alice", secret, at)
    alice = login_service.actor_for(db, uid)
    accounts_service.change_password(db, alice, secret, second, at=later(at, minutes=1))
    accounts_service.reset_password(db, admin, uid, third, at=later(at, minutes=2))
    hashes = [r["password_hash"] for r in rows(db, "SELECT password_hash FROM users")]
    history_text = " ".join(str(v) for r in rows(db, "SELECT * FROM history") for v in r.values())
    for h in hashes:
        assert h not in history_text
    assert "***changed***" in history_text
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in [db_path, Path(f"{db_path}-wal")]:
        if path.exists():
            raw = path.read_bytes()
            for word in (secret, second, third):
                assert word.encode() not in raw


def test_disabled_user_session_is_no_longer_valid(db, at, admin):
    uid = accounts_service.create_user(db, admin, "alice", PASSWORD, "lead", at=at)
    result = login_service.login(db, "alice", PASSWORD, at)
    assert login_service.session_still_valid(db, uid, "lead", result.password_changed_at)
    accounts_service.set_active(db, admin, uid, False, at=later(at, minutes=1))
    assert not login_service.session_still_valid(db, uid, "lead", result.password_changed_at)


def test_password_change_and_role_change_end_open_sessions(db, at, admin):
    uid = accounts_service.create_user(db, admin, "alice", PASSWORD, "lead", at=at)
    stamp = login_service.login(db, "alice", PASSWORD, at).password_changed_at
    accounts_service.reset_password(db, admin, uid, "Another-pass-1", at=later(at, minutes=1))
    assert not login_service.session_still_valid(db, uid, "lead", stamp)
    stamp = login_service.login(db, "alice", "Another-pass-1", later(at, minutes=2)).password_changed_at
    assert login_service.session_still_valid(db, uid, Role.LEAD, stamp)
    accounts_service.set_role(db, admin, uid, Role.MANAGER, at=later(at, minutes=3))
    assert not login_service.session_still_valid(db, uid, Role.LEAD, stamp)


def test_own_password_change_returns_the_new_stamp(db, at):
    uid = accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    alice = login_service.actor_for(db, uid)
    stamp = accounts_service.change_password(db, alice, PASSWORD, "New-pass-123", at=later(at, hours=1))
    assert login_service.session_still_valid(db, uid, "lead", stamp)
    with pytest.raises(ValidationFailed) as caught:
        accounts_service.change_password(db, alice, "not-it-at-all", "New-pass-456", at=later(at, hours=2))
    assert caught.value.field == "old_password"


def test_scope_is_the_unit_and_all_its_descendants(db, at, org):
    uid = accounts_service.create_user(db, None, "city", PASSWORD, "manager", unit_code="HHHT", at=at)
    actor = login_service.actor_for(db, uid)
    assert actor.scope_unit_ids == {org["HHHT"], org["HHHT01"]}
    assert actor.in_scope(org["HHHT01"]) and not actor.in_scope(org["BT"])
    region_wide = login_service.actor_for(db, accounts_service.create_user(db, None, "boss", PASSWORD, "manager",
                                                        at=at))
    assert region_wide.scope_unit_ids is None and region_wide.in_scope(org["BT"])


@pytest.mark.parametrize("role", [Role.LEAD, Role.RECTIFIER, Role.MANAGER])
def test_only_administrators_manage_users(db, at, role, admin):
    uid = accounts_service.create_user(db, admin, "someone", PASSWORD, role, at=at)
    actor = login_service.actor_for(db, uid)
    with pytest.raises(NotPermitted):
        accounts_service.create_user(db, actor, "other", PASSWORD, "lead", at=at)
    with pytest.raises(NotPermitted):
        accounts_service.list_users(db, actor)
    with pytest.raises(NotPermitted):
        accounts_service.reset_password(db, actor, admin.user_id, "Hijacked-pass", at=at)
    with pytest.raises(NotPermitted):
        accounts_service.set_role(db, actor, uid, Role.ADMIN, at=at)
    with pytest.raises(NotPermitted):
        accounts_service.set_active(db, actor, admin.user_id, False, at=at)


@pytest.mark.parametrize("username, password, role, field", [
    ("", PASSWORD, "lead", "username"),
    ("a b", PASSWORD, "lead", "username"),
    ("x", PASSWORD, "lead", "username"),
    ("bob", "short7!", "lead", "password"),
    ("bobby123", "bobby123", "lead", "password"),
    ("bob", PASSWORD, "superuser", "role"),
])
def test_invalid_accounts_are_refused_naming_the_field(db, at, username, password, role, field):
    with pytest.raises(ValidationFailed) as caught:
        accounts_service.create_user(db, None, username, password, role, at=at)
    assert caught.value.field == field


def test_unknown_unit_and_taken_name_are_refused(db, at, org):
    with pytest.raises(ValidationFailed) as caught:
        accounts_service.create_user(db, None, "bob", PASSWORD, "lead", unit_code="NOPE", at=at)
    assert caught.value.field == "unit"
    accounts_service.create_user(db, None, "bob", PASSWORD, "lead", at=at)
    with pytest.raises(ValidationFailed) as caught:
        accounts_service.create_user(db, None, "BOB", PASSWORD, "lead", at=at)
    assert caught.value.params["rule"] == "taken"


def test_last_active_administrator_cannot_be_disabled_or_demoted(db, at, admin):
    helper = login_service.actor_for(db, accounts_service.create_user(db, admin, "helper", PASSWORD, "lead", at=at))
    with pytest.raises(ValidationFailed):
        accounts_service.set_active(db, admin, admin.user_id, False, at=at)
    second = accounts_service.create_user(db, admin, "admin2", PASSWORD, "admin", at=at)
    accounts_service.set_active(db, login_service.actor_for(db, second), admin.user_id, False, at=at)
    with pytest.raises(ValidationFailed) as caught:
        accounts_service.set_role(db, None, second, "lead", at=at)
    assert caught.value.params["rule"] == "last_admin"
    assert helper.role is Role.LEAD


def test_a_unit_administrator_sees_and_grants_only_its_scope(db, at, org):
    city_admin = login_service.actor_for(db, accounts_service.create_user(db, None, "hadmin", PASSWORD, "admin",
                                                       unit_code="HHHT", at=at))
    accounts_service.create_user(db, None, "bt", PASSWORD, "lead", unit_code="BT", at=at)
    accounts_service.create_user(db, city_admin, "county", PASSWORD, "lead", unit_id=org["HHHT01"], at=at)
    assert [u["username"] for u in accounts_service.list_users(db, city_admin)] == ["county", "hadmin"]
    with pytest.raises(ValidationFailed):
        accounts_service.create_user(db, city_admin, "wide", PASSWORD, "lead", at=at)
    bt = scalar(db, "SELECT id FROM users WHERE username = 'bt'")
    with pytest.raises(NotPermitted):
        accounts_service.reset_password(db, city_admin, bt, "Another-pass-1", at=at)


def test_stale_edit_names_who_changed_the_user(db, at, admin):
    uid = accounts_service.create_user(db, admin, "alice", PASSWORD, "lead", at=at)
    accounts_service.update_user(db, admin, uid, display_name="Alice", at=later(at, minutes=1),
                      expected_version=1)
    with pytest.raises(StaleEdit) as caught:
        accounts_service.update_user(db, admin, uid, display_name="A.", at=later(at, minutes=2),
                          expected_version=1)
    assert caught.value.changed_by == "root"


def test_every_user_change_is_in_history_and_the_chain_holds(db, at, admin, org):
    uid = accounts_service.create_user(db, admin, "alice", PASSWORD, "lead", at=at)
    accounts_service.set_scope(db, admin, uid, org["BT"], at=later(at, minutes=1))
    accounts_service.set_active(db, admin, uid, False, at=later(at, minutes=2))
    actions = [r["action"] for r in rows(
        db, "SELECT DISTINCT action FROM history WHERE entity = 'user' AND entity_id = ? "
            "ORDER BY seq", (uid,))]
    assert actions == ["user.create", "user.update", "user.disable"]
    assert scalar(db, "SELECT new FROM history WHERE action = 'user.update' AND "
                      "field = 'unit_id'") == str(org["BT"])
    assert verify(db).ok


def test_outdated_hash_parameters_are_upgraded_at_sign_in(db, at):
    from argon2 import PasswordHasher
    uid = accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (weak, uid))
    login_service.authenticate(db, "alice", PASSWORD, at)
    upgraded = scalar(db, "SELECT password_hash FROM users WHERE id = ?", (uid,))
    assert upgraded != weak and login_service.verify_password(upgraded, PASSWORD)
    assert weak not in str(rows(db, "SELECT old, new FROM history"))


# --- the app's sign-in gate (AppTest) ------------------------------------------------------------


@pytest.fixture
def app_db(tmp_path, at) -> Path:
    """A database file with one administrator (admin / demo1234) and nothing else."""
    from audit.store.db import open_database
    path = tmp_path / "app.db"
    database = open_database(path)
    accounts_service.create_user(database, None, "admin", "demo1234", "admin", display_name="管理员",
                      at=at)
    database.conn.close()
    return path


def test_app_shows_only_the_sign_in_form_to_a_stranger(app_db, make_app):
    app = make_app(app_db).run()
    assert not app.exception
    assert [ti.label for ti in app.text_input] == ["用户名", "密码"]
    assert not app.sidebar.button
    assert not app.info  # not a demo database: no demo accounts shown


def test_app_wrong_password_shows_the_generic_message(app_db, make_app):
    app = sign_in(make_app(app_db), "admin", "wrong-password")
    assert not app.exception
    assert [e.value for e in app.error] == ["用户名或密码错误，或账号暂不可用。"]
    unknown = sign_in(make_app(app_db), "nobody", "demo1234")
    assert [e.value for e in unknown.error] == ["用户名或密码错误，或账号暂不可用。"]


def test_app_correct_sign_in_opens_the_navigation(app_db, make_app):
    app = sign_in(make_app(app_db), "admin", "demo1234")
    assert not app.exception
    assert not app.error
    assert any(b.label == "退出登录" for b in app.sidebar.button)
    assert any("管理员" in c.value for c in app.sidebar.caption)
    paths = {i.get("url_pathname") for i in app._registered_pages.values()}
    assert "admin" in paths and "verify" not in paths


def test_app_sign_out_returns_to_the_sign_in_form(app_db, make_app):
    app = sign_in(make_app(app_db), "admin", "demo1234")
    next(b for b in app.sidebar.button if b.label == "退出登录").click()
    app.run()
    assert [ti.label for ti in app.text_input] == ["用户名", "密码"]
    assert [i.value for i in app.info] == ["已退出登录。"]


def test_app_session_ends_when_the_account_is_disabled(app_db, make_app, at):
    from audit.store.db import open_database
    app = sign_in(make_app(app_db), "admin", "demo1234")
    database = open_database(app_db)
    admin_id = scalar(database, "SELECT id FROM users WHERE username = 'admin'")
    # A second administrator disables the first while the first is signed in.
    accounts_service.create_user(database, None, "admin2", "demo1234", "admin", at=at)
    accounts_service.set_active(database, None, admin_id, False, at=later(at, minutes=1))
    database.conn.close()
    app.run()
    assert [ti.label for ti in app.text_input] == ["用户名", "密码"]
    assert [i.value for i in app.info] == ["账号状态、角色或密码已变更，请重新登录。"]


def test_app_idle_session_expires(app_db, make_app):
    app = sign_in(make_app(app_db), "admin", "demo1234")
    app.session_state["audit.last_seen"] = 0.0
    app.run()
    assert [ti.label for ti in app.text_input] == ["用户名", "密码"]
    assert [i.value for i in app.info] == ["长时间未操作，会话已过期，请重新登录。"]


def test_app_english_when_asked_in_the_url(app_db, make_app):
    app = make_app(app_db)
    app.query_params["lang"] = "en"
    app.run()
    assert [ti.label for ti in app.text_input] == ["User name", "Password"]


def test_app_admin_page_adds_a_user(app_db, make_app):
    app = open_page(sign_in(make_app(app_db), "admin", "demo1234"), "admin")
    assert not app.exception
    assert app.title[0].value == "管理"
    form = "audit.admin.add_user"
    fields = [w for w in app.text_input if w.form_id == form]
    fields[0].input("newbie")
    fields[1].input("新同事")
    fields[2].input("Newbie-pass-1")
    next(b for b in app.button if b.form_id == form).click()
    app.run()
    assert not app.exception and not app.error
    assert any("newbie" in s.value for s in app.success)


def test_demo_database_sign_in_page_lists_the_demo_accounts(demo_path, make_app):
    app = make_app(demo_path).run()
    assert [i.value for i in app.info] == ["已创建演示数据库（演示整改项目与示例数据）。"]
    assert "demo1234" in app.markdown[-1].value and "`lead2`" in app.markdown[-1].value


@pytest.mark.parametrize("username, expected", [
    ("admin", {"", "catalogue", "issue", "causes", "owners", "import", "export", "merge",
               "letter", "reminders", "admin"}),
    ("lead", {"", "dashboard", "catalogue", "issue", "my-work", "ledger-return", "meetings",
              "causes", "owners", "import", "export", "merge", "letter"}),
    ("team", {"", "dashboard", "catalogue", "issue", "ledger-return", "letter"}),
    ("manager", {"", "catalogue", "issue", "causes", "owners", "export", "letter"}),
])
def test_each_role_sees_its_pages(demo_path, make_app, username, expected):
    app = sign_in(make_app(demo_path), username, "demo1234")
    assert not app.exception
    assert {i.get("url_pathname") for i in app._registered_pages.values()} == expected


def test_wrong_current_password_counts_towards_the_lock_out(db, at):
    uid = accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
    alice = login_service.actor_for(db, uid)
    for _ in range(login_service.LOCKOUT_THRESHOLD):
        with pytest.raises(ValidationFailed):
            accounts_service.change_password(db, alice, "guess-guess", "New-pass-123", at=at)
    with pytest.raises(LoginFailed):
        login_service.authenticate(db, "alice", PASSWORD, later(at, minutes=1))


def test_pages_table_is_consistent():
    import streamlit_app
    from audit import messages
    specs = streamlit_app.PAGES
    assert len({s.url_path for s in specs}) == len(specs)
    for role in Role:
        # every role lands on one page it may open, and one only
        assert sum(role in s.home_of for s in specs) <= 1
        assert role in streamlit_app.home_of(role).roles
    for spec in specs:
        assert messages.has(spec.title_key) and spec.section_key in streamlit_app.SECTIONS
        assert spec.roles and spec.module.endswith("_page")
    assert [s.url_path for s in streamlit_app.pages_for(Role.ADMIN)][-1] == "admin"
    assert all(Role.ADMIN not in s.roles for s in specs if s.url_path == "verify")


@pytest.mark.parametrize("role, home", [(Role.RECTIFIER, "my-work"), (Role.LEAD, "verify"),
                                        (Role.MANAGER, "dashboard"), (Role.ADMIN, "dashboard")])
def test_each_role_lands_on_its_own_work(role, home):
    import streamlit_app
    assert streamlit_app.home_of(role).url_path == home


def test_the_sidebar_states_the_role_once():
    from audit import ui
    assert ui.signed_in_line("唐霞浩", Role.RECTIFIER, "zh") == "当前用户：唐霞浩（整改责任人）"
    assert ui.signed_in_line("包头市分公司 整改责任人", Role.RECTIFIER, "zh") == \
        "当前用户：包头市分公司 整改责任人"
    assert ui.signed_in_line("系统管理员", Role.ADMIN, "en") == "Signed in as 系统管理员"


def test_app_own_password_change_keeps_this_session_open(app_db, make_app):
    app = sign_in(make_app(app_db), "admin", "demo1234")
    form = "audit.own_password.sidebar"
    old, new, again = [w for w in app.text_input if w.form_id == form]
    old.input("demo1234")
    new.input("Brand-new-pass-9")
    again.input("Brand-new-pass-9")
    next(b for b in app.button if b.form_id == form).click()
    app.run()
    assert not app.exception and not app.error
    assert [s.value for s in app.success] == ["密码已修改。"]
    app.run()
    assert any(b.label == "退出登录" for b in app.sidebar.button)
    assert login_service.authenticate(open_database_for(app_db), "admin", "Brand-new-pass-9",
                              "2026-11-23T10:00:00+08:00")


def open_database_for(path):
    from audit.store.db import open_database
    return open_database(path)


def test_lock_out_follows_the_rule_for_any_sequence_of_attempts(tmp_path, monkeypatch):
    """Locked iff 5 consecutive failures happened less than 15 minutes ago; attempts while locked
    change nothing; a success resets the count."""
    from argon2 import PasswordHasher
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from audit.store.db import open_database
    # Cheap parameters: the rule is about counting, not about argon2's cost.
    monkeypatch.setattr(login_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=8,
                                                         parallelism=1))
    counter = iter(range(10**6))

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.booleans(), st.integers(0, 9)), max_size=14))
    def check(attempts):
        db = open_database(tmp_path / f"h{next(counter)}.db")
        at = "2026-11-23T09:00:00+08:00"
        accounts_service.create_user(db, None, "alice", PASSWORD, "lead", at=at)
        failures, locked_until, clock = 0, None, 0
        for correct, gap in attempts:
            clock += gap
            now = later(at, minutes=clock)
            locked = locked_until is not None and clock < locked_until
            try:
                login_service.authenticate(db, "alice", PASSWORD if correct else "wrong-pass", now)
                ok = True
            except LoginFailed:
                ok = False
            if locked:
                assert not ok
            elif correct:
                assert ok
                failures = 0
            else:
                assert not ok
                failures += 1
                if failures == login_service.LOCKOUT_THRESHOLD:
                    failures, locked_until = 0, clock + login_service.LOCKOUT_MINUTES
        db.conn.close()

    check()
