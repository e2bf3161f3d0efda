"""Each role gets what it needs and nothing else."""

import time

import pytest
from django.urls import reverse

from crm.middleware import LAST_SEEN_KEY
from crm.roles import Role, can_see_financials, roles_of

pytestmark = pytest.mark.django_db


def test_it_creates_the_three_role_groups_with_permissions(alice, sam, ada):
    assert alice.has_perm("crm.add_interaction")
    assert alice.has_perm("crm.change_account")
    assert not alice.has_perm("crm.delete_account")
    assert not alice.has_perm("crm.change_marketingspend")

    assert sam.has_perm("crm.change_servicecase")
    assert sam.has_perm("crm.view_account")
    assert not sam.has_perm("crm.add_interaction")
    assert not sam.has_perm("crm.change_account")
    assert not sam.has_perm("crm.view_marketingspend")

    assert ada.has_perm("crm.delete_account")
    assert ada.has_perm("crm.change_marketingspend")


def test_it_keeps_financials_away_from_service_staff(alice, sam, ada, nobody):
    assert can_see_financials(alice)
    assert can_see_financials(ada)
    assert not can_see_financials(sam)
    assert not can_see_financials(nobody)
    assert roles_of(sam) == {Role.SERVICE}


def test_it_sends_anonymous_users_to_the_login_page(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("user_fixture", ["alice", "sam", "ada", "nobody"])
def test_it_shows_the_home_page_to_every_logged_in_user(client, request, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"Accounts in the book" in response.content


@pytest.mark.parametrize("user_fixture, status", [("ada", 200), ("alice", 302), ("sam", 302), ("nobody", 302)])
def test_it_opens_the_django_admin_to_admins_only(client, request, user_fixture, status):
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.get(reverse("admin:crm_account_changelist"))
    assert response.status_code == status


def test_it_shows_the_admin_link_only_to_admins(client, alice, ada):
    client.force_login(alice)
    assert reverse("admin:index").encode() not in client.get(reverse("home")).content
    client.force_login(ada)
    assert reverse("admin:index").encode() in client.get(reverse("home")).content


def test_it_logs_out_after_the_idle_timeout(client, alice, settings):
    settings.SESSION_IDLE_TIMEOUT = 60
    client.force_login(alice)
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 61
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_logs_in_with_the_right_password_only(client, alice):
    wrong = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200
    assert b"Please enter a correct username and password" in wrong.content
    response = client.post(reverse("login"), {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_it_refuses_state_changes_over_get_on_logout(client, alice):
    client.force_login(alice)
    assert client.get(reverse("logout")).status_code == 405


def test_it_sends_a_content_security_policy_without_inline_scripts(client, alice):
    client.force_login(alice)
    policy = client.get(reverse("home"))["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
