"""Everyone starts at the login page; the navigation shows only what the role may use."""

import pytest

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_a_user_in_and_out(page, alice):
    page.goto("/")
    assert "/login/" in page.url  # anonymous users get nothing but the login page
    log_in(page, "alice")
    assert page.get_by_role("heading", name="Welcome, alice").is_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")


def test_it_rejects_a_wrong_password_with_a_message(page, alice):
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("Please enter a correct username and password")


def test_it_shows_the_django_admin_link_to_admins_only(page, alice, ada):
    log_in(page, "alice")
    assert page.get_by_role("link", name="Django admin").count() == 0
    page.get_by_role("button", name="Log out").click()
    log_in(page, "ada")
    assert page.get_by_role("link", name="Django admin").count() == 1
