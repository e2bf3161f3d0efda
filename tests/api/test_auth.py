"""Token authentication for integrations, the session (with CSRF) for the browser, and the token page."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD


def test_it_accepts_a_token(book, alice):  # type: ignore[no-untyped-def]
    token = Token.objects.create(user=alice)
    client = APIClient()

    response = client.get("/api/v1/accounts/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_it_rejects_a_wrong_token(book):  # type: ignore[no-untyped-def]
    response = APIClient().get("/api/v1/accounts/", HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 401


def test_a_token_write_needs_no_csrf_token(book, alice):  # type: ignore[no-untyped-def]
    token = Token.objects.create(user=alice)
    client = APIClient(enforce_csrf_checks=True)

    response = client.patch(f"/api/v1/accounts/{book.own.account.pk}/", {"phone": "+49 30 1"}, format="json",
                            HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200


def test_a_session_write_needs_the_csrf_token(book, alice):  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password=PASSWORD)
    path = f"/api/v1/accounts/{book.own.account.pk}/"

    refused = client.patch(path, {"phone": "+49 30 1"}, format="json")
    client.get(reverse("api_token"))  # any page sets the CSRF cookie
    allowed = client.patch(path, {"phone": "+49 30 1"}, format="json",
                           HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert allowed.status_code == 200


def test_a_session_read_needs_no_csrf_token(book, alice):  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.get("/api/v1/accounts/").status_code == 200


def test_the_schema_is_for_logged_in_users_only(client, alice):  # type: ignore[no-untyped-def]
    assert client.get(reverse("api_schema")).status_code == 401
    client.force_login(alice)

    response = client.get(reverse("api_schema"), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/v1/interactions/bulk/" in response.json()["paths"]


def test_the_docs_page_loads_swagger_from_vendored_files_without_inline_scripts(client, sam):  # type: ignore[no-untyped-def]
    assert client.get(reverse("api_docs")).status_code == 302  # to the login page
    client.force_login(sam)

    page = client.get(reverse("api_docs"))
    script = client.get(reverse("api_docs") + "?script=")

    html = page.content.decode()
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in html and "/static/" in html and "cdn" not in html.lower()
    assert "<script>" not in html  # the init script is a separate request (CSP: script-src 'self')
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert reverse("api_schema") in script.content.decode()


def test_the_token_page_creates_shows_once_rotates_and_revokes(client, sam):  # type: ignore[no-untyped-def]
    client.force_login(sam)
    url = reverse("api_token")

    empty = client.get(url)
    created = client.post(url, {"action": "create"})
    first = Token.objects.get(user=sam).key
    later = client.get(url)
    rotated = client.post(url, {"action": "rotate"})
    second = Token.objects.get(user=sam).key
    revoked = client.post(url, {"action": "revoke"})

    assert "You have no token yet." in empty.content.decode()
    assert first in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    assert first not in later.content.decode() and f"…{first[-4:]}" in later.content.decode()
    assert second != first and second in rotated.content.decode()
    assert "revoked" in revoked.content.decode()
    assert not Token.objects.filter(user=sam).exists()


def test_the_token_page_needs_a_login(client, db):  # type: ignore[no-untyped-def]
    response = client.post(reverse("api_token"), {"action": "create"})

    assert response.status_code == 302
    assert not Token.objects.exists()


def test_it_throttles_the_bulk_endpoint_more_strictly(book, alice, settings):  # type: ignore[no-untyped-def]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "interactions_bulk": "2/minute"}}
    client = APIClient()
    client.force_authenticate(alice)
    item = {"account": book.own.account.pk, "kind": "visit", "occurred_at": "2025-05-01T10:00:00Z",
            "source_system": "crm-sync", "external_id": "t-1"}

    codes = [client.post("/api/v1/interactions/bulk/", [item], format="json").status_code for _ in range(3)]
    read = client.get("/api/v1/interactions/")

    assert codes == [200, 200, 429]
    assert read.status_code == 200  # the stricter budget is the bulk endpoint's own
