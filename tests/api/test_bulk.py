"""POST /api/v1/interactions/bulk/: all-or-nothing, errors by item index and field, idempotent, set-based,
one history bump and one engine notification per load."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.models import Account, Interaction
from crm.signals import history_changed

URL = "/api/v1/interactions/bulk/"


def _order(book, n: int, **overrides):  # type: ignore[no-untyped-def]
    return {"source_system": "erp", "external_id": f"SO-{n}", "account": book.own.account.pk, "kind": "order",
            "channel": "edi", "occurred_at": f"2025-04-{n:02d}T08:00:00Z", "amount": "250.00",
            "product": book.product.pk, "quantity": 2, **overrides}


@pytest.fixture
def notifications():  # type: ignore[no-untyped-def]
    sent: list[list[int]] = []

    def listener(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(list(account_ids))

    history_changed.connect(listener, dispatch_uid="tests.api.bulk")
    yield sent
    history_changed.disconnect(dispatch_uid="tests.api.bulk")


def test_it_loads_the_items_and_recomputes_each_account_once(book, api, alice, ada, notifications,  # type: ignore[no-untyped-def]
                                                             django_capture_on_commit_callbacks):
    before = Account.objects.get(pk=book.own.account.pk).history_version
    items = [_order(book, n) for n in range(1, 21)]

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).post(URL, items)

    body = response.json()
    assert response.status_code == 200
    assert (body["created"], body["updated"], body["unchanged"]) == (20, 0, 0)
    rows = Interaction.objects.filter(source_system="erp", external_id__startswith="SO-")
    assert list(rows.order_by("occurred_at").values_list("pk", flat=True)) == body["ids"]
    first = rows.get(external_id="SO-1")
    # money to the cent, and the direct cost defaulted from the product's unit cost × quantity as on the page
    assert (first.amount, first.direct_cost, first.logged_by_id) == (Decimal("250.00"), Decimal("120.00"), alice.pk)
    assert Account.objects.get(pk=book.own.account.pk).history_version == before + 1
    assert notifications == [[book.own.account.pk]]


def test_reposting_the_same_items_changes_nothing(book, api, alice, notifications,  # type: ignore[no-untyped-def]
                                                  django_capture_on_commit_callbacks):
    items = [_order(book, n) for n in range(1, 6)]
    first = api(alice).post(URL, items).json()
    version = Account.objects.get(pk=book.own.account.pk).history_version

    with django_capture_on_commit_callbacks(execute=True):
        again = api(alice).post(URL, items).json()

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)
    assert again["ids"] == first["ids"]
    assert Interaction.objects.filter(source_system="erp", external_id__startswith="SO-").count() == 5
    assert Account.objects.get(pk=book.own.account.pk).history_version == version
    assert notifications == []


def test_reposting_changed_items_updates_them_in_place(book, api, alice, ada, notifications,  # type: ignore[no-untyped-def]
                                                       django_capture_on_commit_callbacks):
    first = api(ada).post(URL, [_order(book, 1), _order(book, 2)]).json()
    moved = _order(book, 2, account=book.other.account.pk, amount="300.00")

    with django_capture_on_commit_callbacks(execute=True):
        again = api(ada).post(URL, [_order(book, 1), moved]).json()

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 1)
    assert again["ids"] == first["ids"]
    row = Interaction.objects.get(source_system="erp", external_id="SO-2")
    assert (row.account_id, row.amount) == (book.other.account.pk, Decimal("300.00"))
    # both the account it left and the one it joined are recomputed, in one notification
    assert notifications == [sorted([book.own.account.pk, book.other.account.pk])]


def test_it_rejects_the_whole_load_naming_item_and_field(book, api, alice):  # type: ignore[no-untyped-def]
    items = [
        _order(book, 1),
        _order(book, 2, amount="-5"),
        _order(book, 3, kind="visit"),  # a visit carries no amount
        _order(book, 4, account=book.other.account.pk),  # Bob's account
        _order(book, 5, product=999_999),
        _order(book, 1),  # the same id twice
        {"kind": "teleport"},
    ]

    response = api(alice).post(URL, items)

    assert response.status_code == 400
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert {(1, "amount"), (6, "kind"), (6, "source_system"), (6, "account"), (5, "external_id")} <= errors
    assert Interaction.objects.filter(source_system="erp", external_id__startswith="SO-").count() == 0


def test_it_names_account_and_product_problems_after_the_shape_is_right(book, api, alice):  # type: ignore[no-untyped-def]
    items = [_order(book, 1), _order(book, 2, account=book.other.account.pk), _order(book, 3, product=999_999),
             _order(book, 4, kind="visit", amount=None, product=None, quantity=None)]

    response = api(alice).post(URL, items)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "field": "account",
         "message": "Only the account's manager (bob) or an admin can change interactions on Bravo."},
        {"index": 2, "field": "product", "message": "There is no product 999999."},
    ]
    assert not Interaction.objects.filter(external_id__startswith="SO-").exists()


def test_an_account_manager_cannot_move_someone_elses_interaction_by_reposting_its_id(book, api, alice):  # type: ignore[no-untyped-def]
    bobs = book.other.interaction  # erp:Bravo-order-1 on Bob's account
    item = _order(book, 1, external_id=bobs.external_id)

    response = api(alice).post(URL, [item])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "external_id"
    assert Interaction.objects.get(pk=bobs.pk).account_id == book.other.account.pk


@pytest.mark.parametrize(("payload", "message"), [
    ({"not": "a list"}, "Post a JSON list of interactions."),
    ([], "The list is empty."),
])
def test_it_wants_a_non_empty_list(book, api, alice, payload, message):  # type: ignore[no-untyped-def]
    response = api(alice).post(URL, payload)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"index": None, "field": None, "message": message}]}


def test_it_bounds_the_size_of_a_load(book, api, alice, monkeypatch):  # type: ignore[no-untyped-def]
    from crm.api import bulk_interactions

    monkeypatch.setattr(bulk_interactions, "MAX_ITEMS", 3)

    response = api(alice).post(URL, [_order(book, n) for n in range(1, 5)])

    assert response.status_code == 400
    assert "At most 3 interactions per request" in response.json()["errors"][0]["message"]


def test_a_load_of_5000_is_a_handful_of_queries(book, api, ada, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    items = [_order(book, 1, external_id=f"BIG-{n}", amount="10.00") for n in range(5000)]

    with django_assert_max_num_queries(20):
        response = api(ada).post(URL, items)

    assert response.json()["created"] == 5000
