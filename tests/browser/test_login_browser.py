"""The sign-in page in a real browser."""
from __future__ import annotations

from tests.browser.conftest import ADMIN, login, screenshot, wait_idle


def test_sign_in_page_is_chinese_refuses_a_wrong_password_and_admits_the_admin(page):
    page.get_by_text("用户名", exact=True).wait_for()
    assert page.get_by_text("审计整改台账系统").first.is_visible()
    assert page.get_by_text("密码", exact=True).is_visible()
    login(page, "admin", "wrong-password")
    alert = page.get_by_test_id("stAlert")
    alert.wait_for()
    assert "用户名或密码错误，或账号暂不可用。" in alert.inner_text()
    screenshot(page, "login.png")
    login(page, *ADMIN)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("退出登录").wait_for()
    assert sidebar.get_by_text("管理").first.is_visible()
    assert page.get_by_test_id("stSidebarNav").is_visible()
    screenshot(page, "signed_in.png")
    sidebar.get_by_text("退出登录").click()
    wait_idle(page)
    page.get_by_text("已退出登录。").wait_for()


def test_language_switch_turns_the_sign_in_page_english_and_keeps_it_in_the_url(page):
    page.get_by_text("用户名", exact=True).wait_for()
    page.get_by_test_id("stButtonGroup").get_by_text("English", exact=True).click()
    wait_idle(page)
    page.get_by_text("User name", exact=True).wait_for()
    assert "lang=en" in page.url
    page.reload()
    wait_idle(page)
    page.get_by_text("User name", exact=True).wait_for()
    page.get_by_test_id("stButtonGroup").get_by_text("中文", exact=True).click()
    wait_idle(page)
    page.get_by_text("用户名", exact=True).wait_for()
