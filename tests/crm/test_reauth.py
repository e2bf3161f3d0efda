"""Admins confirm their password before configuration changes once the re-auth window has passed."""

import time

import pytest
from django.urls import reverse

from crm.reauth import REAUTH_AT_KEY
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _age_the_confirmation(client, seconds: int) -> None:  # type: ignore[no-untyped-def]
    session = client.session
    session[REAUTH_AT_KEY] = int(time.time()) - seconds
    session.save()


def test_a_fresh_login_opens_the_window(client, ada):
    client.force_login(ada)
    assert client.get(reverse("config_tiers")).status_code == 200


def test_an_old_confirmation_sends_the_admin_to_confirm_first_and_back(client, ada, settings):
    settings.REAUTH_WINDOW = 600
    client.force_login(ada)
    _age_the_confirmation(client, 601)
    response = client.get(reverse("config_tiers"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("reauth_confirm"))
    wrong = client.post(response.url, {"password": "not-it", "next": reverse("config_tiers")})
    assert wrong.status_code == 200 and b"That is not your password." in wrong.content
    right = client.post(response.url, {"password": PASSWORD, "next": reverse("config_tiers")})
    assert right.status_code == 302 and right.url == reverse("config_tiers")
    assert client.get(reverse("config_tiers")).status_code == 200


def test_a_save_after_the_window_closed_changes_nothing(client, ada, settings):
    from profitability.models import CostRate

    settings.REAUTH_WINDOW = 600
    client.force_login(ada)
    _age_the_confirmation(client, 601)
    before = CostRate.objects.count()
    rate = CostRate.objects.first()
    response = client.post(reverse("config_cost_rate_delete", args=[rate.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("reauth_confirm"))
    assert CostRate.objects.count() == before


def test_htmx_posts_are_redirected_with_hx_redirect(client, ada, settings):
    settings.REAUTH_WINDOW = 600
    client.force_login(ada)
    _age_the_confirmation(client, 601)
    from profitability.models import CostRate

    rate_id = CostRate.objects.first().pk
    response = client.post(reverse("config_cost_rate_delete", args=[rate_id]), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].startswith(reverse("reauth_confirm"))


def test_the_confirmation_page_refuses_to_send_the_admin_off_site(client, ada):
    client.force_login(ada)
    response = client.post(reverse("reauth_confirm"), {"password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == reverse("home")


def test_the_confirmation_page_needs_a_login(client):
    response = client.get(reverse("reauth_confirm"))
    assert response.status_code == 302 and reverse("login") in response.url
