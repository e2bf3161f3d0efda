"""The permission matrix: role × endpoint × method × own/other object, every answer checked against the schema.

Alice manages the "own" account, Bob the "other"; Sam works in service, Ada is an admin, "nobody" is logged
in without a role. 401 = not authenticated, 403 = the role (or the object's owner) does not allow it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from crm.models import Account, Interaction

from .conftest import Book, Side

ROLES = ("anon", "nobody", "sam", "alice", "ada")


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: Callable[[Book, Side], str]
    body: Callable[[Book, Side], Any] | None
    # status per role; alice's is (own, other) when it depends on whose object it is
    expect: dict[str, int | tuple[int, int]]


def reads(name: str, path: Callable[[Book, Side], str], *, roles: tuple[str, ...] = ("sam", "alice", "ada")) -> Row:
    return Row(name, "GET", path, None, {r: (200 if r in roles else 403) for r in ("nobody", "sam", "alice", "ada")})


VISIT = {"kind": "visit", "channel": "in_person", "occurred_at": "2025-05-01T10:00:00Z", "note": "Quarterly review"}
MANAGERS = ("alice", "ada")

ROWS = [
    # accounts: everybody reads; the owner or an admin changes; managers and admins create
    reads("accounts list", lambda b, s: "/api/v1/accounts/"),
    reads("account detail", lambda b, s: f"/api/v1/accounts/{s.account.pk}/"),
    Row("account update", "PATCH", lambda b, s: f"/api/v1/accounts/{s.account.pk}/", lambda b, s: {"phone": "+49 1"},
        {"nobody": 403, "sam": 403, "alice": (200, 403), "ada": 200}),
    Row("account create", "POST", lambda b, s: "/api/v1/accounts/", lambda b, s: {"name": "New GmbH"},
        {"nobody": 403, "sam": 403, "alice": 201, "ada": 201}),
    # contacts
    reads("contacts list", lambda b, s: "/api/v1/contacts/"),
    Row("contact create", "POST", lambda b, s: "/api/v1/contacts/",
        lambda b, s: {"account": s.account.pk, "name": "Dana Buyer"},
        {"nobody": 403, "sam": 403, "alice": (201, 403), "ada": 201}),
    Row("contact update", "PATCH", lambda b, s: f"/api/v1/contacts/{s.contact.pk}/", lambda b, s: {"role": "CFO"},
        {"nobody": 403, "sam": 403, "alice": (200, 403), "ada": 200}),
    Row("contact delete", "DELETE", lambda b, s: f"/api/v1/contacts/{s.contact.pk}/", None,
        {"nobody": 403, "sam": 403, "alice": (204, 403), "ada": 204}),
    # products
    reads("products list", lambda b, s: "/api/v1/products/"),
    Row("product create", "POST", lambda b, s: "/api/v1/products/",
        lambda b, s: {"sku": "NEW-1", "name": "Washers", "family": "Fasteners", "list_price": "2.00",
                      "unit_cost": "1.00"},
        {"nobody": 403, "sam": 403, "alice": 403, "ada": 201}),
    # interactions
    reads("interactions list", lambda b, s: "/api/v1/interactions/"),
    reads("interaction detail", lambda b, s: f"/api/v1/interactions/{s.interaction.pk}/"),
    Row("interaction create", "POST", lambda b, s: "/api/v1/interactions/",
        lambda b, s: {**VISIT, "account": s.account.pk},
        {"nobody": 403, "sam": 403, "alice": (201, 403), "ada": 201}),
    Row("interaction update", "PATCH", lambda b, s: f"/api/v1/interactions/{s.interaction.pk}/",
        lambda b, s: {"note": "Corrected"}, {"nobody": 403, "sam": 403, "alice": (200, 403), "ada": 200}),
    Row("interaction delete", "DELETE", lambda b, s: f"/api/v1/interactions/{s.interaction.pk}/", None,
        {"nobody": 403, "sam": 403, "alice": (204, 403), "ada": 204}),
    # an account manager's bulk load onto someone else's account is refused item by item (400, index + field)
    Row("interactions bulk", "POST", lambda b, s: "/api/v1/interactions/bulk/",
        lambda b, s: [{**VISIT, "account": s.account.pk, "source_system": "crm-sync", "external_id": "v-1"}],
        {"nobody": 403, "sam": 403, "alice": (200, 400), "ada": 200}),
    # cases
    reads("cases list", lambda b, s: "/api/v1/cases/"),
    Row("case open", "POST", lambda b, s: "/api/v1/cases/",
        lambda b, s: {"account": s.account.pk, "subject": "Invoice wrong", "severity": "high"},
        {"nobody": 403, "sam": 201, "alice": (201, 403), "ada": 201}),
    Row("case assign", "POST", lambda b, s: f"/api/v1/cases/{s.case.pk}/assign/", None,
        {"nobody": 403, "sam": 200, "alice": 403, "ada": 200}),
    Row("case status", "POST", lambda b, s: f"/api/v1/cases/{s.case.pk}/status/", lambda b, s: {"status": "waiting"},
        {"nobody": 403, "sam": 200, "alice": 403, "ada": 200}),
    Row("case first response", "POST", lambda b, s: f"/api/v1/cases/{s.case.pk}/first-response/",
        lambda b, s: {"message": "We are on it", "channel": "email"},
        {"nobody": 403, "sam": 200, "alice": 403, "ada": 200}),
    # survey answers
    reads("survey answers list", lambda b, s: "/api/v1/survey-answers/"),
    Row("survey answer create", "POST", lambda b, s: "/api/v1/survey-answers/",
        lambda b, s: {"account": s.account.pk, "score": 7, "answered_at": "2025-05-02T08:00:00Z"},
        {"nobody": 403, "sam": 403, "alice": (201, 403), "ada": 201}),
    # leads: account managers and admins only
    reads("leads list", lambda b, s: "/api/v1/leads/", roles=MANAGERS),
    Row("lead update", "PATCH", lambda b, s: f"/api/v1/leads/{s.lead.pk}/", lambda b, s: {"industry": "Retail"},
        {"nobody": 403, "sam": 403, "alice": (200, 403), "ada": 200}),
    Row("lead delete", "DELETE", lambda b, s: f"/api/v1/leads/{s.lead.pk}/", None,
        {"nobody": 403, "sam": 403, "alice": 403, "ada": 204}),
    # the engine's figures: never service staff
    reads("snapshots list", lambda b, s: "/api/v1/snapshots/", roles=MANAGERS),
    reads("snapshot detail", lambda b, s: f"/api/v1/snapshots/{s.account.pk}/", roles=MANAGERS),
    # tiers: everybody reads, admins configure
    reads("tiers list", lambda b, s: "/api/v1/tiers/"),
    Row("tier update", "PATCH", lambda b, s: f"/api/v1/tiers/{b.tier.pk}/",
        lambda b, s: {"entitlements": ["Named support engineer"]},
        {"nobody": 403, "sam": 403, "alice": 403, "ada": 200}),
    # opportunities
    reads("opportunities list", lambda b, s: "/api/v1/opportunities/", roles=MANAGERS),
    Row("opportunity status", "POST", lambda b, s: f"/api/v1/opportunities/{s.opportunity.pk}/status/",
        lambda b, s: {"status": "pursued"}, {"nobody": 403, "sam": 403, "alice": (200, 403), "ada": 200}),
    # loyalty
    reads("programs list", lambda b, s: "/api/v1/loyalty/programs/"),
    Row("program update", "PATCH", lambda b, s: f"/api/v1/loyalty/programs/{b.program.pk}/",
        lambda b, s: {"description": "Earn on every order"},
        {"nobody": 403, "sam": 403, "alice": 403, "ada": 200}),
    reads("enrolments list", lambda b, s: "/api/v1/loyalty/enrolments/"),
    Row("points redeem", "POST", lambda b, s: f"/api/v1/loyalty/enrolments/{s.enrolment.pk}/redeem/",
        lambda b, s: {"reward": b.reward.pk}, {"nobody": 403, "sam": 403, "alice": (200, 403), "ada": 200}),
    Row("points adjust", "POST", lambda b, s: f"/api/v1/loyalty/enrolments/{s.enrolment.pk}/adjust/",
        lambda b, s: {"points": -100, "reason": "Goodwill correction"},
        {"nobody": 403, "sam": 403, "alice": 403, "ada": 200}),
    reads("ledger list", lambda b, s: "/api/v1/loyalty/ledger/"),
]


def _expected(row: Row, role: str, whose: str) -> int:
    if role == "anon":
        return 401
    value = row.expect[role]
    if isinstance(value, tuple):
        return value[0] if whose == "own" else value[1]
    return value


def _cases() -> list:
    """Every row × role, and × own/other object where the row is about one object (detail URLs, writes)."""
    cases = []
    for row in ROWS:
        per_object = row.method != "GET" or row.name.endswith("detail")
        for role in ROLES:
            for whose in ("own", "other") if per_object else ("own",):
                cases.append(pytest.param(row, role, whose, id=f"{row.name}-{role}-{whose}"))
    return cases


@pytest.mark.parametrize(("row", "role", "whose"), _cases())
def test_it_applies_the_role_rules(book, api, request, row, role, whose):  # type: ignore[no-untyped-def]
    user = None if role == "anon" else request.getfixturevalue(role)
    side = book.own if whose == "own" else book.other
    body = row.body(book, side) if row.body else None

    response = api(user).request(row.method, row.path(book, side), body)

    assert response.status_code == _expected(row, role, whose), response.content[:500]


def test_it_answers_401_with_a_challenge_to_anonymous_callers(book, api):  # type: ignore[no-untyped-def]
    response = api().get("/api/v1/accounts/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token'


@pytest.mark.parametrize("path", ["/api/v1/accounts/{}/", "/api/v1/interactions/{}/", "/api/v1/cases/{}/",
                                  "/api/v1/loyalty/enrolments/{}/"])
def test_it_answers_404_for_missing_objects_only_to_roles_that_may_read(book, api, sam, nobody, path):  # type: ignore[no-untyped-def]
    missing = path.format(999_999_999)

    assert api(sam).get(missing).status_code == 404
    assert api(nobody).get(missing).status_code == 403


def test_it_says_who_may_change_an_account(book, api, alice):  # type: ignore[no-untyped-def]
    response = api(alice).patch(f"/api/v1/accounts/{book.other.account.pk}/", {"phone": "1"})

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Only the account's manager (bob) or an admin can change the account on Bravo.")
    assert Account.objects.get(pk=book.other.account.pk).phone == ""


def test_it_refuses_moving_an_own_interaction_onto_someone_elses_account(book, api, alice):  # type: ignore[no-untyped-def]
    response = api(alice).patch(f"/api/v1/interactions/{book.own.interaction.pk}/",
                                {"account": book.other.account.pk})

    assert response.status_code == 403
    assert Interaction.objects.get(pk=book.own.interaction.pk).account_id == book.own.account.pk


def test_it_lets_only_admins_reassign_accounts(book, api, alice, bob, ada):  # type: ignore[no-untyped-def]
    refused = api(alice).patch(f"/api/v1/accounts/{book.own.account.pk}/", {"owner": bob.pk})
    allowed = api(ada).patch(f"/api/v1/accounts/{book.own.account.pk}/", {"owner": bob.pk})

    assert refused.status_code == 400
    assert refused.json() == {"owner": ["Only admins assign or reassign an account's manager."]}
    assert allowed.status_code == 200
    assert Account.objects.get(pk=book.own.account.pk).owner_id == bob.pk
