"""django-axes locks a username after repeated failed logins (brute-force protection, not throttling)."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _attempt(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_username_is_locked_after_five_failures_even_with_the_right_password(client, settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = UserFactory(username="carol")
    user.set_password("right-horse-battery")
    user.save()
    for _ in range(5):
        assert _attempt(client, "carol", "wrong").status_code in (200, 429)
    locked = _attempt(client, "carol", "right-horse-battery")
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_resets_the_count(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory(username="dave")
    user.set_password("right-horse-battery")
    user.save()
    for _ in range(2):
        _attempt(client, "dave", "wrong")
    assert _attempt(client, "dave", "right-horse-battery").status_code == 302
    client.logout()
    for _ in range(2):
        _attempt(client, "dave", "wrong")
    assert _attempt(client, "dave", "right-horse-battery").status_code == 302
