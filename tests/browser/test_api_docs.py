"""The API pages in a real browser: Swagger UI from vendored files under the site's strict CSP (no inline
scripts), and the "API access" page issuing a token that then works against the API."""

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _collect_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    return errors


def test_the_docs_page_renders_swagger_without_csp_violations(page, sam):  # type: ignore[no-untyped-def]
    log_in(page, "sam")
    errors = _collect_errors(page)  # from here: the site's own pages have no favicon, Chrome's 404 for it is noise

    page.get_by_role("link", name="API", exact=True).click()

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tierwise API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/interactions/bulk/")).to_be_visible()
    assert errors == []


def test_the_access_page_issues_a_token_that_works(page, sam):  # type: ignore[no-untyped-def]
    log_in(page, "sam")
    errors = _collect_errors(page)
    page.goto("/api/docs/")
    page.get_by_role("link", name="API access (your token)").click()

    page.get_by_role("button", name="Create token").click()
    key = page.get_by_label("Token (copy it now)").input_value()
    answer = page.request.get("/api/v1/tiers/", headers={"Authorization": f"Token {key}"})

    assert len(key) == 40
    assert answer.status == 200
    assert [tier["name"] for tier in answer.json()["results"]] == ["Platinum", "Gold", "Silver", "Bronze"]
    assert "upper_pct" not in answer.json()["results"][0]  # service staff: no ranking bands
    expect(page.get_by_role("button", name="Rotate token")).to_be_visible()
    assert errors == []
