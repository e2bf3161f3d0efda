"""Logging interactions and survey answers from the account page, and the timeline's pages."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Interaction, InteractionKind, SurveyResponse
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, ProductFactory

D = Decimal
pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(alice):  # type: ignore[no-untyped-def]
    """Alice's account, with some history already."""
    account = AccountFactory(name="Acme Fasteners", owner=alice)
    InteractionFactory(account=account)
    return Account.objects.get(pk=account.pk)


@pytest.fixture
def bolts(db):  # type: ignore[no-untyped-def]
    return ProductFactory(name="Hex bolts M8", unit_cost=D("6.00"), list_price=D("10.00"))


def order(bolts, **overrides) -> dict:  # type: ignore[no-untyped-def]
    data = {"kind": "order", "channel": "phone", "occurred_at": "2025-12-01T10:30", "amount": "48000.00",
            "direct_cost": "", "product": str(bolts.pk), "quantity": "4000", "note": "Annual restock"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def version(account) -> int:  # type: ignore[no-untyped-def]
    return Account.objects.values_list("history_version", flat=True).get(pk=account.pk)


def field_error(body: str, field: str) -> str:
    """The error list rendered right after the field's widget, and the widget's accessibility attributes."""
    match = re.search(
        rf'<div class="field[^"]*has-error">\s*<label for="{field}">.*?</div>\s*(?=<div class="field|</div>)',
        body, re.S,
    )
    assert match, f"no error next to {field}"
    block = match.group(0)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', block) or re.search(
        rf'aria-invalid="true"[^>]*id="{field}"', block), block
    assert f'aria-describedby="{field}_error' in block or f'aria-describedby="{field}_helptext {field}_error"' in block
    errors = re.search(rf'<ul class="errorlist" id="{field}_error"><li>(.*?)</li></ul>', block)
    assert errors, block
    return errors.group(1)


# --- logging an interaction -----------------------------------------------------------------------------------


def test_it_lets_the_owner_log_an_order_and_returns_the_row_the_form_and_the_recomputing_status(
    client, alice, account, bolts
):
    before = version(account)
    client.force_login(alice)
    response = client.post(reverse("interaction_create", args=[account.pk]), order(bolts), **HTMX)

    assert response.status_code == 200
    created = Interaction.objects.get(account=account, note="Annual restock")
    assert (created.account_id, created.kind, created.channel) == (account.pk, "order", "phone")
    assert created.occurred_at == datetime(2025, 12, 1, 10, 30, tzinfo=UTC)
    assert (created.amount, created.direct_cost, created.quantity) == (D("48000.00"), D("24000.00"), 4000)
    assert (created.product, created.logged_by, created.source_system) == (bolts, alice, "tierwise")
    assert version(account) == before + 1

    body = response.content.decode()
    assert '<ol hx-swap-oob="afterbegin:#timeline-list">' in body
    assert f'<li class="tl-row kind-order is-new" id="interaction-{created.pk}">' in body
    assert "4000 × Hex bolts M8" in body and "€48,000.00" in body and "direct cost €24,000.00" in body
    assert "Recomputing…" in body
    assert f'hx-get="{reverse("account_figures", args=[account.pk])}?poll=1"' in body
    assert 'hx-swap-oob="outerHTML"' in body and 'hx-target="#account-figures"' in body
    # a fresh, empty form with the saved notice
    assert '<form id="interaction-form"' in body
    assert "Order logged. The figures are being recomputed." in body
    assert 'name="amount"' in body and 'value="48000.00"' not in body


def test_it_lets_an_admin_log_on_any_account(client, ada, account, bolts):
    client.force_login(ada)
    response = client.post(reverse("interaction_create", args=[account.pk]), order(bolts), **HTMX)
    assert response.status_code == 200
    assert Interaction.objects.filter(account=account, logged_by=ada).count() == 1


@pytest.mark.parametrize("who", ["bob", "sam", "nobody"])
def test_it_refuses_everybody_else_and_changes_nothing(client, request, account, bolts, who):
    before_version, before_count = version(account), Interaction.objects.count()
    client.force_login(request.getfixturevalue(who))
    url = reverse("interaction_create", args=[account.pk])
    response = client.post(url, order(bolts), **HTMX)
    assert response.status_code == 403
    assert client.get(url).status_code == 403
    assert (version(account), Interaction.objects.count()) == (before_version, before_count)
    if who == "bob":
        assert "Only the account&#x27;s manager (alice) or an admin can log interactions" in response.content.decode()


def test_it_sends_anonymous_users_to_log_in_and_changes_nothing(client, account, bolts):
    before = Interaction.objects.count()
    response = client.post(reverse("interaction_create", args=[account.pk]), order(bolts))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert Interaction.objects.count() == before


def test_it_answers_404_for_an_unknown_account(client, alice, bolts):
    client.force_login(alice)
    assert client.post(reverse("interaction_create", args=[987_654]), order(bolts), **HTMX).status_code == 404


TOMORROW_PLUS = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"amount": "-5"}, "interaction_amount", "The amount can&#x27;t be negative."),
    ({"amount": "10.555"}, "interaction_amount", "Give the amount with at most 2 decimal places (cents)."),
    ({"amount": "lots"}, "interaction_amount", "Enter the amount as a number, e.g. 1250.00."),
    ({"amount": ""}, "interaction_amount", "Enter the amount of the order."),
    ({"direct_cost": "-1"}, "interaction_direct_cost", "The direct cost can&#x27;t be negative."),
    ({"kind": ""}, "interaction_kind", "Choose the kind of interaction."),
    ({"kind": "complaint"}, "interaction_kind", "Choose one of the listed kinds of interaction."),
    ({"occurred_at": "2025-13-45T10:00"}, "interaction_occurred_at",
     "Enter when it happened as a date and time, e.g. 2025-03-01 14:30."),
    ({"occurred_at": ""}, "interaction_occurred_at", "Enter when it happened."),
    ({"occurred_at": TOMORROW_PLUS}, "interaction_occurred_at",
     "The date and time can&#x27;t be more than a day in the future."),
    ({"quantity": "-3"}, "interaction_quantity", "The quantity can&#x27;t be negative."),
    ({"quantity": "0"}, "interaction_quantity", "The quantity of the order must be at least 1."),
    ({"quantity": ""}, "interaction_quantity", "Enter the quantity of the order."),
    ({"product": ""}, "interaction_product", "Choose the product of the order."),
    ({"product": "999999"}, "interaction_product", "Choose one of the listed products."),
    ({"kind": "support_call", "product": "", "quantity": ""}, "interaction_amount",
     "A support call carries no amount: its cost comes from the activity cost rates."),
])
def test_it_rejects_invalid_input_next_to_the_field_and_creates_nothing(client, alice, account, bolts, overrides,
                                                                        field, message):
    before_version, before_count = version(account), Interaction.objects.count()
    client.force_login(alice)
    response = client.post(reverse("interaction_create", args=[account.pk]), order(bolts, **overrides), **HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    assert field_error(body, field) == message
    assert body.lstrip().startswith('<form id="interaction-form"')  # the form partial only, swapped in place
    assert 'role="alert">The interaction was not logged' in body
    assert "hx-swap-oob" not in body
    assert (version(account), Interaction.objects.count()) == (before_version, before_count)


def test_it_logs_a_support_call_without_money_or_product(client, alice, account):
    client.force_login(alice)
    response = client.post(reverse("interaction_create", args=[account.pk]), {
        "kind": "support_call", "channel": "phone", "occurred_at": "2025-11-03T09:15", "amount": "",
        "direct_cost": "", "product": "", "quantity": "", "note": "Asked about delivery dates"}, **HTMX)
    assert response.status_code == 200
    call = Interaction.objects.get(account=account, kind="support_call")
    assert (call.amount, call.direct_cost, call.product, call.quantity) == (D("0"), D("0"), None, None)


def test_it_works_without_javascript(client, alice, account, bolts):
    client.force_login(alice)
    url = reverse("interaction_create", args=[account.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "<h1>Log an interaction with Acme Fasteners</h1>" in page.content.decode()
    assert "Time zone: UTC." in page.content.decode()  # the time typed in is read in the display time zone

    invalid = client.post(url, order(bolts, amount="-1"))
    assert invalid.status_code == 422
    assert "<h1>Log an interaction with Acme Fasteners</h1>" in invalid.content.decode()
    assert field_error(invalid.content.decode(), "interaction_amount") == "The amount can&#x27;t be negative."

    saved = client.post(url, order(bolts))
    assert saved.status_code == 302
    assert saved["Location"] == reverse("account_detail", args=[account.pk])
    assert Interaction.objects.filter(account=account, kind="order", amount=D("48000")).count() == 1


def test_it_refuses_get_for_writes_and_other_methods(client, alice, account):
    client.force_login(alice)
    assert client.put(reverse("interaction_create", args=[account.pk])).status_code == 405
    assert client.post(reverse("interaction_list", args=[account.pk])).status_code == 405


# --- survey answers ----------------------------------------------------------------------------------------------


def test_it_records_a_survey_answer_and_its_touch(client, alice, account):
    contact = ContactFactory(account=account, name="Dana Buyer")
    before = version(account)
    client.force_login(alice)
    response = client.post(reverse("survey_create", args=[account.pk]), {
        "score": "9", "answered_at": "2025-12-02T16:00", "contact": str(contact.pk), "comment": "Fast delivery"},
        **HTMX)
    assert response.status_code == 200
    answer = SurveyResponse.objects.get(account=account)
    touch = Interaction.objects.get(account=account, kind=InteractionKind.SURVEY)
    assert (answer.score, answer.comment, answer.contact, answer.answered_at) == (
        9, "Fast delivery", contact, datetime(2025, 12, 2, 16, 0, tzinfo=UTC))
    assert touch.external_id == answer.external_id
    assert (touch.occurred_at, touch.logged_by, touch.amount) == (answer.answered_at, alice, D("0"))
    assert touch.note == "NPS 9/10 — Fast delivery (Dana Buyer)"
    assert version(account) == before + 1
    body = response.content.decode()
    assert f'id="interaction-{touch.pk}"' in body and "NPS 9/10 — Fast delivery (Dana Buyer)" in body
    assert "Recomputing…" in body
    assert '<form id="survey-form"' in body and "Survey answer (NPS 9) recorded." in body


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"score": "11"}, "survey_score", "The score can&#x27;t be above 10."),
    ({"score": "-1"}, "survey_score", "The score can&#x27;t be below 0."),
    ({"score": ""}, "survey_score", "Enter the score, from 0 to 10."),
    ({"score": "7.5"}, "survey_score", "Enter the score as a whole number from 0 to 10."),
    ({"answered_at": "yesterday"}, "survey_answered_at",
     "Enter when the survey was answered as a date and time, e.g. 2025-03-01 14:30."),
])
def test_it_rejects_an_invalid_survey_answer_and_creates_nothing(client, alice, account, data, field, message):
    before = (version(account), Interaction.objects.count(), SurveyResponse.objects.count())
    client.force_login(alice)
    payload = {"score": "8", "answered_at": "2025-12-02T16:00", "contact": "", "comment": "", **data}
    response = client.post(reverse("survey_create", args=[account.pk]), payload, **HTMX)
    assert response.status_code == 422
    assert field_error(response.content.decode(), field) == message
    assert (version(account), Interaction.objects.count(), SurveyResponse.objects.count()) == before


def test_it_refuses_a_contact_of_another_account(client, alice, account):
    stranger = ContactFactory(name="Someone Else")  # on another account
    client.force_login(alice)
    response = client.post(reverse("survey_create", args=[account.pk]), {
        "score": "8", "answered_at": "2025-12-02T16:00", "contact": str(stranger.pk)}, **HTMX)
    assert response.status_code == 422
    assert field_error(response.content.decode(), "survey_contact") == "Choose one of this account&#x27;s contacts."
    assert SurveyResponse.objects.count() == 0


@pytest.mark.parametrize("who", ["bob", "sam", "nobody"])
def test_it_refuses_survey_answers_from_everybody_but_the_owner_and_admins(client, request, account, who):
    before = (version(account), Interaction.objects.count())
    client.force_login(request.getfixturevalue(who))
    response = client.post(reverse("survey_create", args=[account.pk]),
                           {"score": "8", "answered_at": "2025-12-02T16:00"}, **HTMX)
    assert response.status_code == 403
    assert (version(account), Interaction.objects.count(), SurveyResponse.objects.count()) == (*before, 0)


# --- the timeline pages -------------------------------------------------------------------------------------


@pytest.fixture
def busy_account(alice):  # type: ignore[no-untyped-def]
    account = AccountFactory(name="Busy Buyer", owner=alice)
    start = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    for i in range(30):  # newest is i = 29
        InteractionFactory(account=account, occurred_at=start + timedelta(days=i), amount=D(100 + i),
                           direct_cost=D("61.00"), note=f"order #{i}")
    return account


def test_it_pages_the_timeline_25_at_a_time_and_loads_more_when_revealed(client, alice, busy_account,
                                                                        django_assert_max_num_queries):
    client.force_login(alice)
    url = reverse("interaction_list", args=[busy_account.pk])
    first = client.get(url, **HTMX).content.decode()
    assert re.findall(r"order #(\d+)", first) == [str(i) for i in range(29, 4, -1)]
    assert (f'<li class="tl-more" hx-get="{url}?page=2" hx-trigger="revealed" hx-swap="outerHTML">' in first)
    assert f'<a href="{url}?page=2">Older interactions</a>' in first

    with django_assert_max_num_queries(5):  # session, user, groups, account, one page of rows
        second = client.get(url, {"page": "2"}, **HTMX).content.decode()
    assert re.findall(r"order #(\d+)", second) == ["4", "3", "2", "1", "0"]
    assert "tl-more" not in second
    assert "<html" not in second


def test_it_shows_amounts_and_direct_costs_to_account_managers_only(client, alice, sam, busy_account):
    """Service staff see what happened and when, never money (as in the API)."""
    url = reverse("interaction_list", args=[busy_account.pk])
    client.force_login(alice)
    body = client.get(url, **HTMX).content.decode()
    assert "€129.00" in body and "direct cost €61.00" in body
    client.force_login(sam)
    body = client.get(url, **HTMX).content.decode()
    assert "order #29" in body
    assert "€129.00" not in body and "tl-amount" not in body
    assert "direct cost" not in body and "€61.00" not in body
    for word in ("margin", "Net profit", "CLV", "Cost-to-serve"):
        assert word not in body


@pytest.mark.parametrize(("who", "status"), [("anonymous", 302), ("nobody", 403), ("sam", 200), ("alice", 200),
                                             ("bob", 200), ("ada", 200)])
def test_it_lets_every_role_read_the_timeline(client, request, busy_account, who, status):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("interaction_list", args=[busy_account.pk]), **HTMX).status_code == status


def test_it_serves_a_plain_page_of_the_timeline_without_javascript(client, alice, busy_account):
    client.force_login(alice)
    body = client.get(reverse("interaction_list", args=[busy_account.pk]), {"page": "2"}).content.decode()
    assert "<h1>Interactions with Busy Buyer</h1>" in body
    assert re.findall(r"order #(\d+)", body) == ["4", "3", "2", "1", "0"]
    bad_page = client.get(reverse("interaction_list", args=[busy_account.pk]), {"page": "x"}).content.decode()
    assert "order #29" in bad_page
    # a page far past the end (beyond what an OFFSET can hold) is an empty page, not an error
    beyond = client.get(reverse("interaction_list", args=[busy_account.pk]), {"page": "9" * 30})
    assert beyond.status_code == 200 and "order #" not in beyond.content.decode()
