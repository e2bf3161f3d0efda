"""Field-level rules: service staff never receive margin, cost, revenue or CLV fields — anywhere in any payload."""

from __future__ import annotations

import pytest

from .conftest import FORBIDDEN_FOR_SERVICE, walk_keys

SAM_READS = [
    "/api/v1/accounts/", "/api/v1/accounts/{account}/", "/api/v1/contacts/", "/api/v1/products/",
    "/api/v1/products/{product}/", "/api/v1/interactions/", "/api/v1/interactions/{interaction}/",
    "/api/v1/cases/", "/api/v1/cases/{case}/", "/api/v1/survey-answers/", "/api/v1/survey-answers/{survey}/",
    "/api/v1/tiers/", "/api/v1/tiers/{tier}/", "/api/v1/loyalty/programs/", "/api/v1/loyalty/programs/{program}/",
    "/api/v1/loyalty/enrolments/", "/api/v1/loyalty/enrolments/{enrolment}/", "/api/v1/loyalty/ledger/",
    "/api/v1/loyalty/ledger/{entry}/",
]


def _url(template: str, book) -> str:  # type: ignore[no-untyped-def]
    side = book.own
    return template.format(account=side.account.pk, product=book.product.pk, interaction=side.interaction.pk,
                           case=side.case.pk, survey=side.survey.pk, tier=book.tier.pk, program=book.program.pk,
                           enrolment=side.enrolment.pk, entry=side.entry.pk)


@pytest.mark.parametrize("template", SAM_READS)
def test_it_sends_service_staff_no_money_fields(book, api, sam, template):  # type: ignore[no-untyped-def]
    response = api(sam).get(_url(template, book))

    assert response.status_code == 200
    leaked = {key for key in walk_keys(response.json()) if FORBIDDEN_FOR_SERVICE.search(key)}
    assert leaked == set()


@pytest.mark.parametrize("template", SAM_READS)
def test_it_sends_account_managers_the_same_resources_with_their_figures(book, api, alice, template):  # type: ignore[no-untyped-def]
    """The other side of the rule: the filter is per role, not a blanket removal (the lists include them)."""
    response = api(alice).get(_url(template, book))

    assert response.status_code == 200


def test_it_gives_account_managers_the_figures_service_staff_do_not_get(book, api, alice, sam):  # type: ignore[no-untyped-def]
    path = f"/api/v1/accounts/{book.own.account.pk}/"

    as_manager = api(alice).get(path).json()
    as_service = api(sam).get(path).json()

    assert as_manager["net_profit_ttm"] == "345.00"
    assert as_manager["revenue_ttm"] == "1000.00"
    assert as_manager["tier"] == {"id": book.tier.pk, "name": "Gold", "color": book.tier.color}
    assert as_service["tier"] == as_manager["tier"]
    assert set(as_manager) - set(as_service) == {"rank", "revenue_ttm", "net_profit_ttm", "clv_historical",
                                                 "clv_predictive"}


def test_it_hides_amounts_costs_and_tier_bands_from_service_staff(book, api, sam, alice):  # type: ignore[no-untyped-def]
    interaction = f"/api/v1/interactions/{book.own.interaction.pk}/"
    tier = f"/api/v1/tiers/{book.tier.pk}/"

    assert api(alice).get(interaction).json()["amount"] == "1000.00"
    assert "amount" not in api(sam).get(interaction).json()
    assert api(alice).get(tier).json()["upper_pct"] == "20.00"
    assert "upper_pct" not in api(sam).get(tier).json()
    assert api(sam).get(tier).json()["first_response_hours"] == book.tier.first_response_hours


def test_it_refuses_service_staff_sorting_accounts_by_a_figure(book, api, sam, alice):  # type: ignore[no-untyped-def]
    """Ordering by profit would leak the ranking: the field is not orderable for service staff (ignored)."""
    as_service = api(sam).get("/api/v1/accounts/", {"ordering": "-snapshot__net_profit_ttm"}).json()
    as_manager = api(alice).get("/api/v1/accounts/", {"ordering": "snapshot__net_profit_ttm"}).json()

    assert [a["name"] for a in as_service["results"]] == ["Alpha", "Bravo"]  # by name
    assert [a["name"] for a in as_manager["results"]] == ["Bravo", "Alpha"]  # -20 before 345


def test_the_schema_marks_financial_fields_as_omitted_for_service_staff(openapi):  # type: ignore[no-untyped-def]
    account = openapi.raw_schema["components"]["schemas"]["Account"]

    assert "net_profit_ttm" not in account.get("required", [])
    assert "Omitted for service staff" in account["properties"]["net_profit_ttm"]["description"]
    assert "name" in account["required"]
