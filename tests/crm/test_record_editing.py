"""Correcting and deleting interactions, creating and editing accounts, and an account's contacts, in the web UI.

Alice manages Acme Fasteners; Bob manages other accounts; Sam works in service; Ada is an admin.
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import Account, Contact, Interaction, InteractionKind, ServiceCase, SurveyResponse
from crm.services import interaction_delete, interaction_update
from crm.signals import history_changed
from tests.factories import (
    AccountFactory,
    ChannelFactory,
    ContactFactory,
    InteractionFactory,
    ProductFactory,
    ServiceCaseFactory,
)

from .test_record_forms import field_error

D = Decimal
pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def account(alice):  # type: ignore[no-untyped-def]
    return AccountFactory(name="Acme Fasteners", owner=alice)


@pytest.fixture
def bolts(db):  # type: ignore[no-untyped-def]
    return ProductFactory(name="Hex bolts M8", unit_cost=D("6.00"), list_price=D("10.00"))


@pytest.fixture
def order(account, bolts, alice):  # type: ignore[no-untyped-def]
    """A 100-bolt order whose direct cost is the product's unit cost × quantity."""
    return InteractionFactory(account=account, kind="order", channel="phone", product=bolts, quantity=100,
                              amount=D("1000.00"), direct_cost=D("600.00"), logged_by=alice, note="Restock",
                              occurred_at=datetime(2025, 11, 3, 9, 15, tzinfo=UTC))


def edited(bolts, **overrides) -> dict:  # type: ignore[no-untyped-def]
    data = {"kind": "order", "channel": "phone", "occurred_at": "2025-11-03T09:15", "amount": "1250.00",
            "direct_cost": "", "product": str(bolts.pk), "quantity": "120", "note": "Restock, corrected"}
    data.update(overrides)
    return data


def version(account) -> int:  # type: ignore[no-untyped-def]
    return Account.objects.values_list("history_version", flat=True).get(pk=account.pk)


def stored(interaction) -> tuple:  # type: ignore[no-untyped-def]
    row = Interaction.objects.get(pk=interaction.pk)
    return (row.kind, row.amount, row.direct_cost, row.quantity, row.note, row.occurred_at)


@pytest.fixture
def notified():  # type: ignore[no-untyped-def]
    """The account ids each ``history_changed`` (the recompute request, sent on commit) carried."""
    received: list[list[int]] = []

    def listener(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
        received.append(list(account_ids))

    history_changed.connect(listener, dispatch_uid="test_record_editing")
    yield received
    history_changed.disconnect(dispatch_uid="test_record_editing")


# --- the services --------------------------------------------------------------------------------------------


class TestInteractionServices:
    def test_an_update_bumps_the_history_and_requests_the_recompute_only_on_commit(
        self, order, account, bolts, notified, django_capture_on_commit_callbacks
    ):
        before = version(account)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            interaction_update(interaction=order, kind="order", channel="edi", amount=D("1250.004"),
                               occurred_at=order.occurred_at, product=bolts, quantity=120, note="More")
            assert version(account) == before + 1
        assert notified == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert notified == [[account.pk]]
        row = Interaction.objects.get(pk=order.pk)
        # the amount is kept in cents as Decimal; a blank direct cost is the unit cost × the new quantity
        assert (row.amount, row.direct_cost, row.quantity, row.channel) == (D("1250.00"), D("720.00"), 120, "edi")
        assert (row.logged_by, row.source_system, row.external_id) == (order.logged_by, "tierwise", order.external_id)

    def test_a_delete_bumps_the_history_and_requests_the_recompute_only_on_commit(
        self, order, account, notified, django_capture_on_commit_callbacks
    ):
        before = version(account)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            interaction_delete(interaction=order)
            assert version(account) == before + 1
        assert notified == []
        for callback in callbacks:
            callback()
        assert notified == [[account.pk]]
        assert not Interaction.objects.filter(pk=order.pk).exists()

    def test_an_invalid_update_changes_nothing_and_requests_nothing(
        self, order, account, notified, django_capture_on_commit_callbacks
    ):
        from django.core.exceptions import ValidationError

        before, row_before = version(account), stored(order)
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
            interaction_update(interaction=order, kind="order", occurred_at=order.occurred_at,
                               note="x" * 10, amount=D("-1"))
        assert (version(account), stored(order), notified) == (before, row_before, [])

    def test_an_imported_interaction_is_corrected_like_any_other_and_keeps_its_source_keys(self, account, alice):
        imported = InteractionFactory(account=account, kind="support_call", amount=D("0"), direct_cost=D("0"),
                                      source_system="erp", external_id="CALL-17", logged_by=None)
        interaction_update(interaction=imported, kind="visit", channel="in_person",
                           occurred_at=datetime(2025, 6, 1, 8, 0, tzinfo=UTC))
        row = Interaction.objects.get(pk=imported.pk)
        assert (row.kind, row.source_system, row.external_id, row.logged_by) == ("visit", "erp", "CALL-17", None)


# --- editing an interaction on the account page ----------------------------------------------------------------


def test_it_shows_the_owner_edit_and_delete_on_each_row_and_nobody_else(client, alice, bob, ada, account, order):
    edit_url = reverse("interaction_edit", args=[account.pk, order.pk])
    delete_url = reverse("interaction_delete", args=[account.pk, order.pk])
    for user, shown in [(alice, True), (ada, True), (bob, False)]:
        client.force_login(user)
        body = client.get(reverse("account_detail", args=[account.pk])).content.decode()
        assert (f'hx-get="{edit_url}"' in body) is shown
        assert (f'hx-post="{delete_url}"' in body) is shown
        assert ('hx-confirm="Delete the order of 3 Nov 2025, 09:15?' in body) is shown
        assert (reverse("account_edit", args=[account.pk]) in body) is shown
        listing = client.get(reverse("interaction_list", args=[account.pk]), **HTMX).content.decode()
        assert (f'hx-get="{edit_url}"' in listing) is shown


def test_it_swaps_the_logging_form_filled_in_with_the_row_into_the_row(client, alice, account, order):
    client.force_login(alice)
    response = client.get(reverse("interaction_edit", args=[account.pk, order.pk]), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<form id="interaction-{order.pk}-form" class="record-form tl-edit"')
    assert f'hx-post="{reverse("interaction_edit", args=[account.pk, order.pk])}"' in body
    assert f'id="interaction{order.pk}_amount"' in body and 'value="1000.00"' in body
    assert 'value="100"' in body and 'value="2025-11-03T09:15"' in body and "\nRestock</textarea>" in body
    # the direct cost was the unit cost × quantity: blank, so it follows a corrected quantity
    assert re.search(rf'<input[^>]*name="direct_cost"[^>]*id="interaction{order.pk}_direct_cost"[^>]*>', body)
    assert not re.search(r'name="direct_cost"[^>]*value=', body)
    assert f'hx-get="{reverse("interaction_row", args=[account.pk, order.pk])}"' in body  # Cancel
    assert "<html" not in body


def test_it_saves_a_correction_and_answers_with_the_row_and_the_recomputing_status(
    client, alice, account, order, bolts
):
    before = version(account)
    client.force_login(alice)
    response = client.post(reverse("interaction_edit", args=[account.pk, order.pk]), edited(bolts), **HTMX)

    assert response.status_code == 200
    assert stored(order) == ("order", D("1250.00"), D("720.00"), 120, "Restock, corrected",
                             datetime(2025, 11, 3, 9, 15, tzinfo=UTC))
    assert version(account) == before + 1
    assert (response["HX-Retarget"], response["HX-Reswap"]) == (f"#interaction-{order.pk}", "outerHTML")
    body = response.content.decode()
    assert body.lstrip().startswith(f'<li class="tl-row kind-order is-updated" id="interaction-{order.pk}">')
    assert "120 × Hex bolts M8" in body and "€1,250.00" in body and "direct cost €720.00" in body
    assert f'hx-get="{reverse("account_figures", args=[account.pk])}?poll=1"' in body
    assert 'id="figures-status" class="recomputing"' in body and "Recomputing…" in body
    assert "The order of 3 Nov 2025, 09:15 was changed. The figures are being recomputed." in body


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"amount": "-5"}, "amount", "The amount can&#x27;t be negative."),
    ({"amount": "12.345"}, "amount", "Give the amount with at most 2 decimal places (cents)."),
    ({"amount": ""}, "amount", "Enter the amount of the order."),
    ({"quantity": "0"}, "quantity", "The quantity of the order must be at least 1."),
    ({"product": ""}, "product", "Choose the product of the order."),
    ({"kind": "survey"}, "kind", "Choose one of the listed kinds of interaction."),
    ({"occurred_at": "someday"}, "occurred_at", "Enter when it happened as a date and time, e.g. 2025-03-01 14:30."),
    ({"kind": "support_call", "product": "", "quantity": ""}, "amount",
     "A support call carries no amount: its cost comes from the activity cost rates."),
])
def test_it_rejects_an_invalid_correction_next_to_the_field_keeps_the_input_and_changes_nothing(
    client, alice, account, order, bolts, overrides, field, message
):
    before, row_before = version(account), stored(order)
    client.force_login(alice)
    data = edited(bolts, **overrides)
    response = client.post(reverse("interaction_edit", args=[account.pk, order.pk]), data, **HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    assert field_error(body, f"interaction{order.pk}_{field}") == message
    assert body.lstrip().startswith(f'<form id="interaction-{order.pk}-form"')
    assert "The interaction was not changed: correct the" in body
    assert "\nRestock, corrected</textarea>" in body  # the input is kept
    assert "hx-swap-oob" not in body and "HX-Retarget" not in response
    assert (version(account), stored(order)) == (before, row_before)


def test_it_corrects_an_interaction_without_javascript(client, alice, account, order, bolts):
    client.force_login(alice)
    url = reverse("interaction_edit", args=[account.pk, order.pk])
    page = client.get(url).content.decode()
    assert "<h1>Edit the order of 3 Nov 2025, 09:15 with Acme Fasteners</h1>" in page
    assert "hx-post" not in page.split('<form id="interaction-')[1].split(">")[0]  # a plain form on its own page

    invalid = client.post(url, edited(bolts, amount="-1"))
    assert invalid.status_code == 422
    assert field_error(invalid.content.decode(),
                       f"interaction{order.pk}_amount") == "The amount can&#x27;t be negative."

    saved = client.post(url, edited(bolts), follow=True)
    assert saved.redirect_chain == [(reverse("account_detail", args=[account.pk]), 302)]
    assert "The order of 3 Nov 2025, 09:15 was changed." in saved.content.decode()
    assert Interaction.objects.get(pk=order.pk).amount == D("1250.00")


def test_it_puts_the_row_back_when_the_edit_is_cancelled(client, alice, account, order):
    client.force_login(alice)
    body = client.get(reverse("interaction_row", args=[account.pk, order.pk]), **HTMX).content.decode()
    assert body.lstrip().startswith(f'<li class="tl-row kind-order" id="interaction-{order.pk}">')
    plain = client.get(reverse("interaction_row", args=[account.pk, order.pk]))
    assert plain.status_code == 302 and plain["Location"] == reverse("account_detail", args=[account.pk])


def test_it_does_not_change_the_touch_of_a_survey_answer_or_a_case_on_its_own(client, alice, account, bolts):
    survey = InteractionFactory(account=account, kind=InteractionKind.SURVEY, amount=D("0"), direct_cost=D("0"))
    client.force_login(alice)
    page = client.get(reverse("account_detail", args=[account.pk])).content.decode()
    assert reverse("interaction_edit", args=[account.pk, survey.pk]) not in page
    for url in (reverse("interaction_edit", args=[account.pk, survey.pk]),
                reverse("interaction_delete", args=[account.pk, survey.pk])):
        response = client.post(url, edited(bolts), **HTMX)
        assert response.status_code == 409
        refusal = "A survey response is recorded with its NPS answer: it is not changed on its own."
        assert refusal in response.content.decode()
    assert client.get(reverse("interaction_edit", args=[account.pk, survey.pk])).status_code == 409
    assert Interaction.objects.get(pk=survey.pk).kind == "survey"


def test_it_answers_404_for_an_interaction_of_another_account(client, alice, account):
    elsewhere = InteractionFactory()
    client.force_login(alice)
    for name in ("interaction_edit", "interaction_delete", "interaction_row"):
        assert client.get(reverse(name, args=[account.pk, elsewhere.pk]), **HTMX).status_code == 404
    assert client.post(reverse("interaction_delete", args=[account.pk, elsewhere.pk]), **HTMX).status_code == 404
    assert Interaction.objects.filter(pk=elsewhere.pk).exists()


# --- deleting an interaction ---------------------------------------------------------------------------------


def test_it_deletes_after_confirming_and_answers_with_nothing_for_the_row_and_the_recomputing_status(
    client, alice, account, order
):
    before = version(account)
    client.force_login(alice)
    response = client.post(reverse("interaction_delete", args=[account.pk, order.pk]), **HTMX)
    assert response.status_code == 200
    assert not Interaction.objects.filter(pk=order.pk).exists()
    assert version(account) == before + 1
    body = response.content.decode()
    assert "<li" not in body  # the row is swapped for nothing
    assert 'id="figures-status" class="recomputing"' in body and 'hx-swap-oob="outerHTML"' in body
    assert "The order of 3 Nov 2025, 09:15 was deleted. The figures are being recomputed." in body


def test_it_asks_before_deleting_without_javascript_and_deletes_only_on_post(client, alice, account, order):
    client.force_login(alice)
    url = reverse("interaction_delete", args=[account.pk, order.pk])
    before = version(account)
    confirm = client.get(url)
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "<h1>Delete the order of 3 Nov 2025, 09:15?</h1>" in body
    assert f'<form method="post" action="{url}"' in body and "Delete interaction</button>" in body
    assert Interaction.objects.filter(pk=order.pk).exists() and version(account) == before
    assert client.put(url).status_code == 405 and client.delete(url).status_code == 405

    done = client.post(url, follow=True)
    assert done.redirect_chain == [(reverse("account_detail", args=[account.pk]), 302)]
    assert "The order of 3 Nov 2025, 09:15 was deleted." in done.content.decode()
    assert not Interaction.objects.filter(pk=order.pk).exists()


# --- permissions: every new URL and method ---------------------------------------------------------------------


def _urls(account, order, contact) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        ("get", reverse("interaction_edit", args=[account.pk, order.pk])),
        ("post", reverse("interaction_edit", args=[account.pk, order.pk])),
        ("get", reverse("interaction_row", args=[account.pk, order.pk])),
        ("get", reverse("interaction_delete", args=[account.pk, order.pk])),
        ("post", reverse("interaction_delete", args=[account.pk, order.pk])),
        ("get", reverse("account_edit", args=[account.pk])),
        ("post", reverse("account_edit", args=[account.pk])),
        ("get", reverse("contact_list", args=[account.pk])),
        ("get", reverse("contact_create", args=[account.pk])),
        ("post", reverse("contact_create", args=[account.pk])),
        ("get", reverse("contact_edit", args=[account.pk, contact.pk])),
        ("post", reverse("contact_edit", args=[account.pk, contact.pk])),
        ("get", reverse("contact_delete", args=[account.pk, contact.pk])),
        ("post", reverse("contact_delete", args=[account.pk, contact.pk])),
    ]


def _snapshot(account, order, contact) -> tuple:  # type: ignore[no-untyped-def]
    acc = Account.objects.get(pk=account.pk)
    return (stored(order), acc.name, acc.history_version, acc.owner_id,
            list(Contact.objects.filter(account=account).values_list("name", "email")), Account.objects.count())


@pytest.fixture
def contact(account):  # type: ignore[no-untyped-def]
    return ContactFactory(account=account, name="Dana Buyer", email="dana@acme.example")


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("who", ["bob", "sam", "nobody"])
def test_it_refuses_everybody_but_the_owner_and_admins_on_every_url_and_changes_nothing(
    client, request, account, order, contact, bolts, who, htmx
):
    before = _snapshot(account, order, contact)
    client.force_login(request.getfixturevalue(who))
    payload = {**edited(bolts), "name": "Renamed", "email": "x@example.com", "status": "active",
               "relationship": "repeat"}
    for method, url in _urls(account, order, contact):
        response = getattr(client, method)(url, payload if method == "post" else None, **(HTMX if htmx else {}))
        assert response.status_code == 403, (method, url)
        if who == "bob":  # another manager is told whose account it is
            assert "Only the account&#x27;s manager (alice) or an admin can" in response.content.decode()
        elif who == "sam":
            assert "This page is for account managers or admins." in response.content.decode()
    create = client.post(reverse("account_create"), payload)
    assert create.status_code == (302 if who == "bob" else 403)  # any manager may create an account of their own
    if who == "bob":
        Account.objects.filter(name="Renamed").delete()
    assert _snapshot(account, order, contact) == before


def test_it_sends_anonymous_users_to_log_in_on_every_url_and_changes_nothing(client, account, order, contact, bolts):
    before = _snapshot(account, order, contact)
    for method, url in [*_urls(account, order, contact), ("get", reverse("account_create")),
                        ("post", reverse("account_create"))]:
        response = getattr(client, method)(url, edited(bolts) if method == "post" else None)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    assert _snapshot(account, order, contact) == before


@pytest.mark.parametrize("who", ["alice", "ada"])
def test_it_lets_the_owner_and_admins_reach_every_url(client, request, account, order, contact, who):
    client.force_login(request.getfixturevalue(who))
    for method, url in _urls(account, order, contact):
        if method == "get":
            assert client.get(url, **HTMX).status_code == 200, url
    assert client.get(reverse("account_create")).status_code == 200
    assert client.post(reverse("interaction_delete", args=[account.pk, order.pk]), **HTMX).status_code == 200
    assert client.post(reverse("contact_delete", args=[account.pk, contact.pk]), **HTMX).status_code == 200


# --- accounts ------------------------------------------------------------------------------------------------

ACCOUNT = {"name": "Nordwind Werkzeuge", "industry": "Tools", "country": "de", "region": "DACH",
           "segment": "Operations buyer", "employee_band": "250-999", "acquisition_channel": "",
           "acquired_on": "2024-05-02", "status": "active", "churned_on": "", "relationship": "contractual",
           "web_domain": "nordwind.example", "tax_id": "DE123456789", "phone": "+49 30 1234"}


def test_a_manager_creates_an_account_of_their_own(client, alice, django_capture_on_commit_callbacks, notified):
    channel = ChannelFactory(name="Referral")
    client.force_login(alice)
    page = client.get(reverse("account_create")).content.decode()
    assert "<h1>New account</h1>" in page and 'name="owner"' not in page and "history_version" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_create"), {**ACCOUNT, "acquisition_channel": str(channel.pk),
                                                           "owner": "999", "history_version": "77"})
    account = Account.objects.get(name="Nordwind Werkzeuge")
    # computed at once (its first snapshot puts it on the account list), as the stale sweep skips version 0
    assert notified == [[account.pk]]
    assert response.status_code == 302 and response["Location"] == reverse("account_detail", args=[account.pk])
    assert (account.owner, account.country, account.relationship, account.acquisition_channel) == (
        alice, "DE", "contractual", channel)
    assert (account.acquired_on, account.employee_band, account.history_version) == (date(2024, 5, 2), "250-999", 1)
    assert (account.web_domain, account.tax_id, account.phone) == ("nordwind.example", "DE123456789", "+49 30 1234")


def test_an_admin_creates_an_account_for_a_manager_or_unassigned(client, ada, alice, sam):
    client.force_login(ada)
    page = client.get(reverse("account_create")).content.decode()
    assert 'name="owner"' in page and ">alice</option>" in page and ">sam</option>" not in page
    client.post(reverse("account_create"), {**ACCOUNT, "owner": str(alice.pk)})
    assert Account.objects.get(name="Nordwind Werkzeuge").owner == alice
    client.post(reverse("account_create"), {**ACCOUNT, "name": "Unowned", "owner": ""})
    assert Account.objects.get(name="Unowned").owner is None
    refused = client.post(reverse("account_create"), {**ACCOUNT, "name": "Sam's", "owner": str(sam.pk)})
    assert refused.status_code == 422
    assert field_error(refused.content.decode(), "account_owner") == "Choose one of the listed account managers."


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"name": ""}, "account_name", "Enter the account&#x27;s name."),
    ({"name": "x" * 201}, "account_name", "The account&#x27;s name can&#x27;t be longer than 200 characters."),
    ({"country": "UK"}, "account_country", "&#x27;UK&#x27; is not an ISO 3166-1 code: use GB."),
    ({"country": "Germany"}, "account_country",
     "&#x27;Germany&#x27; is not an ISO 3166-1 two-letter country code (e.g. DE, FR, GB, US)."),
    ({"status": "churned"}, "account_churned_on", "Enter the churn date: a churned account needs one."),
    ({"status": "gone"}, "account_status", "Choose one of the listed options for the status."),
    ({"churned_on": "2024-01-01"}, "account_churned_on", "The churn date can&#x27;t be before the acquisition date."),
    ({"acquired_on": "2024-02-31"}, "account_acquired_on", "Enter the acquisition date as a date, e.g. 2025-03-01."),
    ({"acquired_on": "2999-01-01"}, "account_acquired_on", "The acquisition date can&#x27;t be in the future."),
    ({"employee_band": "lots"}, "account_employee_band", "Choose one of the listed options for the employee band."),
    ({"acquisition_channel": "999999"}, "account_acquisition_channel",
     "Choose one of the listed acquisition channels."),
    ({"industry": "x" * 81}, "account_industry", "The industry can&#x27;t be longer than 80 characters."),
])
def test_it_rejects_an_invalid_account_next_to_the_field_and_creates_nothing(client, alice, overrides, field,
                                                                            message):
    client.force_login(alice)
    before = Account.objects.count()
    response = client.post(reverse("account_create"), {**ACCOUNT, **overrides})
    assert response.status_code == 422
    body = response.content.decode()
    assert field_error(body, field) == message
    assert 'role="alert">The account was not created' in body
    assert 'value="DACH"' in body  # the input is kept
    assert Account.objects.count() == before


def test_the_owner_edits_the_account_and_a_figures_field_requests_a_recompute(
    client, alice, bob, account, django_capture_on_commit_callbacks, notified
):
    client.force_login(alice)
    page = client.get(reverse("account_edit", args=[account.pk])).content.decode()
    assert "<h1>Edit Acme Fasteners</h1>" in page and 'value="Acme Fasteners"' in page
    assert 'name="owner"' not in page  # only admins reassign
    before = version(account)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_edit", args=[account.pk]), {
            **ACCOUNT, "name": "Acme Fasteners AG", "owner": str(bob.pk), "status": "churned",
            "churned_on": "2025-10-01"})
    assert response.status_code == 302
    saved = Account.objects.get(pk=account.pk)
    assert (saved.name, saved.owner, saved.status, saved.churned_on) == (
        "Acme Fasteners AG", alice, "churned", date(2025, 10, 1))
    assert saved.history_version == before + 1 and notified == [[account.pk]]


def test_editing_only_descriptive_fields_requests_no_recompute(
    client, alice, account, django_capture_on_commit_callbacks, notified
):
    client.force_login(alice)
    values = {**ACCOUNT, "acquired_on": account.acquired_on.isoformat(), "relationship": account.relationship,
              "acquisition_channel": str(account.acquisition_channel_id), "name": "Acme Fastening"}
    before = version(account)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("account_edit", args=[account.pk]), values).status_code == 302
    assert Account.objects.get(pk=account.pk).name == "Acme Fastening"
    assert (version(account), notified) == (before, [])


def test_an_admin_saving_an_account_keeps_a_manager_who_has_left(client, ada, bob, account):
    Account.objects.filter(pk=account.pk).update(owner=bob)
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    client.force_login(ada)
    page = client.get(reverse("account_edit", args=[account.pk])).content.decode()
    assert f'<option value="{bob.pk}" selected>' in page
    values = {**ACCOUNT, "owner": str(bob.pk), "acquired_on": account.acquired_on.isoformat(),
              "relationship": account.relationship, "acquisition_channel": str(account.acquisition_channel_id)}
    assert client.post(reverse("account_edit", args=[account.pk]), values).status_code == 302
    assert Account.objects.get(pk=account.pk).owner == bob


def test_an_admin_reassigns_an_account(client, ada, bob, account):
    client.force_login(ada)
    response = client.post(reverse("account_edit", args=[account.pk]), {**ACCOUNT, "owner": str(bob.pk)})
    assert response.status_code == 302
    assert Account.objects.get(pk=account.pk).owner == bob


def test_the_account_list_offers_a_new_account(client, alice):
    client.force_login(alice)
    body = client.get(reverse("account_list")).content.decode()
    assert f'<a class="head-action" href="{reverse("account_create")}">New account</a>' in body


# --- contacts --------------------------------------------------------------------------------------------------


def test_the_owner_adds_a_contact_and_gets_the_fresh_section(client, alice, account, contact):
    client.force_login(alice)
    response = client.post(reverse("contact_create", args=[account.pk]), {
        "name": "Aaron Accounts", "role": "Accounts payable", "email": "aaron@acme.example", "phone": "+49 1"},
        **HTMX)
    assert response.status_code == 200
    added = Contact.objects.get(account=account, name="Aaron Accounts")
    assert (added.role, added.email, added.phone, added.source_system) == (
        "Accounts payable", "aaron@acme.example", "+49 1", "tierwise")
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#account-contacts", "outerHTML")
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card contacts-card" id="account-contacts"')
    assert re.findall(r'<li id="contact-\d+"><strong>([^<]+)</strong>', body) == ["Aaron Accounts", "Dana Buyer"]
    assert "Contact Aaron Accounts added." in body


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"name": ""}, "name", "Enter the contact&#x27;s name."),
    ({"email": "not-an-address"}, "email", "Enter the e-mail address as name@example.com."),
    ({"phone": "1" * 41}, "phone", "The phone number can&#x27;t be longer than 40 characters."),
])
def test_it_rejects_an_invalid_contact_next_to_the_field_and_changes_nothing(client, alice, account, contact,
                                                                            data, field, message):
    client.force_login(alice)
    payload = {"name": "Eve", "role": "Buyer", "email": "eve@acme.example", "phone": "", **data}
    added = client.post(reverse("contact_create", args=[account.pk]), payload, **HTMX)
    assert added.status_code == 422
    assert field_error(added.content.decode(), f"contact_new_{field}") == message
    assert 'value="Buyer"' in added.content.decode()
    changed = client.post(reverse("contact_edit", args=[account.pk, contact.pk]), payload, **HTMX)
    assert changed.status_code == 422
    assert field_error(changed.content.decode(), f"contact{contact.pk}_{field}") == message
    assert list(Contact.objects.filter(account=account).values_list("name", "email")) == [
        ("Dana Buyer", "dana@acme.example")]


def test_the_owner_edits_a_contact_in_place(client, alice, account, contact):
    client.force_login(alice)
    form = client.get(reverse("contact_edit", args=[account.pk, contact.pk]), **HTMX).content.decode()
    assert form.lstrip().startswith(f'<form id="contact-{contact.pk}-form"')
    assert 'value="Dana Buyer"' in form and f'hx-get="{reverse("contact_list", args=[account.pk])}"' in form
    response = client.post(reverse("contact_edit", args=[account.pk, contact.pk]), {
        "name": "Dana Buyer-Kraus", "role": "Head of purchasing", "email": "dana.kraus@acme.example",
        "phone": ""}, **HTMX)
    assert response.status_code == 200 and "Contact Dana Buyer-Kraus saved." in response.content.decode()
    saved = Contact.objects.get(pk=contact.pk)
    assert (saved.name, saved.role, saved.email, saved.account) == (
        "Dana Buyer-Kraus", "Head of purchasing", "dana.kraus@acme.example", account)


def test_deleting_a_contact_keeps_their_cases_and_answers(client, alice, account, contact):
    case = ServiceCaseFactory(account=account, contact=contact)
    answer = SurveyResponse.objects.create(account=account, contact=contact, score=9,
                                           answered_at=datetime(2025, 1, 1, tzinfo=UTC))
    client.force_login(alice)
    confirm = client.get(reverse("contact_delete", args=[account.pk, contact.pk])).content.decode()
    assert "<h1>Delete the contact Dana Buyer?</h1>" in confirm and Contact.objects.filter(pk=contact.pk).exists()
    response = client.post(reverse("contact_delete", args=[account.pk, contact.pk]), **HTMX)
    assert response.status_code == 200 and "Contact Dana Buyer deleted." in response.content.decode()
    assert "No contacts recorded." in response.content.decode()
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert ServiceCase.objects.get(pk=case.pk).contact is None
    assert SurveyResponse.objects.get(pk=answer.pk).contact is None


def test_contacts_work_without_javascript(client, alice, account, contact):
    client.force_login(alice)
    page = client.get(reverse("contact_create", args=[account.pk])).content.decode()
    assert "<h1>Add a contact to Acme Fasteners</h1>" in page and "hx-post" not in page.split("<form id=")[1][:400]
    added = client.post(reverse("contact_create", args=[account.pk]), {"name": "Ole Order"}, follow=True)
    assert added.redirect_chain[-1][0].startswith(reverse("account_detail", args=[account.pk]))
    assert "Contact Ole Order added." in added.content.decode()
    deleted = client.post(reverse("contact_delete", args=[account.pk, contact.pk]))
    assert deleted.status_code == 302 and not Contact.objects.filter(pk=contact.pk).exists()


def test_the_account_page_shows_the_contact_actions_to_the_owner_only(client, alice, bob, account, contact):
    client.force_login(alice)
    body = client.get(reverse("account_detail", args=[account.pk])).content.decode()
    assert 'id="account-contacts"' in body and '<summary>Add a contact</summary>' in body
    assert f'hx-get="{reverse("contact_edit", args=[account.pk, contact.pk])}"' in body
    assert 'hx-confirm="Delete the contact Dana Buyer?' in body
    client.force_login(bob)
    body = client.get(reverse("account_detail", args=[account.pk])).content.decode()
    assert "Dana Buyer" in body and "Add a contact" not in body
    assert reverse("contact_edit", args=[account.pk, contact.pk]) not in body


def test_the_account_page_stays_within_its_query_budget_with_the_editing_actions(
    client, alice, account, bolts, django_assert_max_num_queries
):
    for i in range(30):
        InteractionFactory(account=account, product=bolts, quantity=i + 1, logged_by=alice)
    for _ in range(5):
        ContactFactory(account=account)
    client.force_login(alice)
    client.get(reverse("account_detail", args=[account.pk]))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("account_detail", args=[account.pk]))
    body = response.content.decode()
    assert body.count('class="tl-actions"') == 25 and body.count('class="row-actions small"') == 5
