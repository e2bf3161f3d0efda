"""Fixtures of the API tests: a small book with one account of Alice's and one of Bob's (so every endpoint
has an own and an other object), API clients per user, and every response checked against the OpenAPI schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Opportunity, Reward
from crm.models import Lead, SurveyResponse
from profitability.models import AccountSnapshot, Tier
from tests.factories import (
    AccountFactory,
    ContactFactory,
    InteractionFactory,
    ProductFactory,
    ServiceCaseFactory,
)

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _throttle_cache_per_test(settings):  # type: ignore[no-untyped-def]
    """Throttle counters live in the cache: give each test a fresh in-process one (Redis would carry counts
    from one test — and one run — to the next, since user ids repeat)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "api-tests"}}
    from django.core.cache import cache

    cache.clear()


@dataclass
class Side:
    """One account manager's corner of the book: an account and one record of every kind on it."""

    account: Any
    contact: Any
    interaction: Any
    case: Any
    survey: Any
    lead: Any
    opportunity: Any
    enrolment: Any
    entry: Any


@dataclass
class Book:
    own: Side  # Alice's
    other: Side  # Bob's
    product: Any
    tier: Any
    program: Any
    reward: Any


def _side(owner, *, product, tier, program, reward, name: str, profit: str) -> Side:  # type: ignore[no-untyped-def]
    account = AccountFactory(name=name, owner=owner)
    contact = ContactFactory(account=account, name=f"{name} buyer")
    interaction = InteractionFactory(account=account, product=product, quantity=10, amount=Decimal("1000.00"),
                                     direct_cost=Decimal("600.00"), source_system="erp",
                                     external_id=f"{name}-order-1")
    case = ServiceCaseFactory(account=account, contact=contact, subject=f"{name}: late delivery")
    survey = SurveyResponse.objects.create(account=account, contact=contact, score=9, comment="Great",
                                           answered_at=NOW - timedelta(days=3))
    lead = Lead.objects.create(company_name=f"{name} spin-off", owner=owner, mql_at=NOW - timedelta(days=10),
                               expected_value=Decimal("5000.00"))
    AccountSnapshot.objects.create(
        account=account, computed_version=account.history_version, computed_at=NOW, as_of=NOW.date(),
        revenue=Decimal("1000.00"), cogs=Decimal("600.00"), gross_margin=Decimal("400.00"),
        cost_to_serve=Decimal("55.00"), net_profit=Decimal(profit), revenue_ttm=Decimal("1000.00"),
        net_profit_ttm=Decimal(profit), clv_historical=Decimal(profit), clv_formula=Decimal("900.00"),
        rank=1, top_share_pct=0.0, tier=tier, cost_breakdown={"Order handling": {"count": 1, "cost": "55.00"}},
    )
    opportunity = Opportunity.objects.create(
        account=account, product=ProductFactory(name=f"{name} upsell"), source=Opportunity.Source.PEERS,
        probability=0.4, expected_margin=Decimal("120.00"), reason="Peers buy it", generated_at=NOW,
    )
    enrolment = Enrolment.objects.create(program=program, account=account, enrolled_at=NOW,
                                         method=Enrolment.Method.MANUAL)
    entry = LedgerEntry.objects.create(enrolment=enrolment, kind=LedgerEntry.Kind.ADJUST, points=500,
                                       occurred_at=NOW, recorded_at=NOW, reason="Welcome bonus")
    return Side(account, contact, interaction, case, survey, lead, opportunity, enrolment, entry)


@pytest.fixture
def book(alice, bob, sam, ada, nobody) -> Book:  # type: ignore[no-untyped-def]
    product = ProductFactory(name="Hex bolts", sku="HEX-01", list_price=Decimal("100.00"),
                             unit_cost=Decimal("60.00"))
    tier = Tier.objects.get(name="Gold")
    program = LoyaltyProgram.objects.create(name="Partner points", status=LoyaltyProgram.Status.ACTIVE,
                                            starts_on=date(2024, 1, 1), min_clv=Decimal("100.00"))
    EarningRule.objects.create(program=program, trigger=EarningRule.Trigger.NET_REVENUE, points=Decimal("0.1"))
    reward = Reward.objects.create(program=program, name="Free delivery", kind=Reward.Kind.FREE_SERVICE,
                                   point_cost=200)
    common = {"product": product, "tier": tier, "program": program, "reward": reward}
    return Book(
        own=_side(alice, name="Alpha", profit="345.00", **common),
        other=_side(bob, name="Bravo", profit="-20.00", **common),
        product=product, tier=tier, program=program, reward=reward,
    )


# --- clients and schema checks ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def openapi(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The generated OpenAPI schema, loaded into schemathesis (which validates responses against it)."""
    import schemathesis
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        document = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(document)


def _as_schemathesis_response(method: str, path: str, response) -> Any:  # type: ignore[no-untyped-def]
    import requests
    from schemathesis.core.transport import Response

    return Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method, f"http://testserver{path}").prepare(),
        elapsed=0.0,
        verify=True,
        message=getattr(response, "reason_phrase", ""),
        encoding="utf-8",
    )


class Api:
    """A DRF test client that checks every answer against the OpenAPI schema (like Zulip's test client)."""

    def __init__(self, openapi, user=None) -> None:  # type: ignore[no-untyped-def]
        self.client = APIClient()
        self.openapi = openapi
        if user is not None:
            self.client.force_authenticate(user)

    def request(self, method: str, path: str, data: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
        call = getattr(self.client, method.lower())
        response = call(path, data, format="json", **extra) if method != "GET" else call(path, data, **extra)
        self.check(method, path, response)
        return response

    def check(self, method: str, path: str, response) -> None:  # type: ignore[no-untyped-def]
        bare = path.split("?", 1)[0]
        if not bare.startswith("/api/v1/"):
            return
        operation = self.openapi.find_operation_by_path(method.upper(), bare)
        assert operation is not None, f"{method} {bare} is not in the OpenAPI schema"
        assert str(response.status_code) in operation.definition.raw["responses"], (
            f"{method} {bare} answered {response.status_code}, which the schema does not document")
        operation.validate_response(_as_schemathesis_response(method, path, response))

    def get(self, path: str, data: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
        return self.request("GET", path, data, **extra)

    def post(self, path: str, data: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
        return self.request("POST", path, data, **extra)

    def patch(self, path: str, data: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
        return self.request("PATCH", path, data, **extra)

    def put(self, path: str, data: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
        return self.request("PUT", path, data, **extra)

    def delete(self, path: str, data: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
        return self.request("DELETE", path, data, **extra)


@pytest.fixture
def api(openapi):  # type: ignore[no-untyped-def]
    """``api(user)``: a schema-checking client logged in as ``user`` (None: anonymous)."""
    return lambda user=None: Api(openapi, user)


def walk_keys(payload: Any) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(payload, dict):
        return set(payload) | {k for value in payload.values() for k in walk_keys(value)}
    if isinstance(payload, list):
        return {k for value in payload for k in walk_keys(value)}
    return set()


#: Keys service staff must never receive (money figures: revenue, margin, cost, profit, CLV, CAC, amounts).
#: A reward's ``point_cost`` is in loyalty points, which service staff do see.
FORBIDDEN_FOR_SERVICE = re.compile(
    r"margin|(?<!point_)cost|clv|revenue|profit|cac|cogs|amount|expected_value|point_value|rank|upper_pct")

