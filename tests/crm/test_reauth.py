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


@pytest.mark.parametrize("url", ["/api/v1/tiers/{tier}/", "/api/v1/loyalty/programs/{program}/"])
def test_the_api_refuses_configuration_writes_from_a_stale_browser_session(client, ada, settings, url):
    """The same session the settings pages ask to confirm cannot go round them through the API."""
    from datetime import date

    from campaigns.models import LoyaltyProgram
    from profitability.models import Tier

    settings.REAUTH_WINDOW = 600
    tier = Tier.objects.get(name="Gold")
    program = LoyaltyProgram.objects.create(name="Club", starts_on=date(2025, 1, 1))
    target = url.format(tier=tier.pk, program=program.pk)
    client.force_login(ada)
    _age_the_confirmation(client, 601)

    stale = client.patch(target, {"name": "Renamed"}, content_type="application/json")
    assert stale.status_code == 403
    assert "Confirm your password first" in stale.json()["detail"]
    assert client.get(target).status_code == 200  # reading needs no confirmation
    assert Tier.objects.get(pk=tier.pk).name == "Gold"
    assert LoyaltyProgram.objects.get(pk=program.pk).name == "Club"

    _age_the_confirmation(client, 0)
    assert client.patch(target, {"name": "Renamed"}, content_type="application/json").status_code == 200


def test_token_clients_write_configuration_without_a_browser_confirmation(ada):
    """Integrations hold a token issued to them on purpose; there is no password window to keep open."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from profitability.models import Tier

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ada).key}")
    gold = Tier.objects.get(name="Gold")
    assert api.patch(f"/api/v1/tiers/{gold.pk}/", {"name": "Gilded"}, format="json").status_code == 200
    assert Tier.objects.get(pk=gold.pk).name == "Gilded"
