"""Changes touching many accounts go to ONE book-level campaigns task (as the profitability engine does), which
gives the same ledger as per-account accrual; a batch of opportunities reads the catalogue once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import tasks
from campaigns.models import LedgerEntry
from campaigns.services.loyalty import points_accrue, points_accrue_book, points_accrue_many
from campaigns.services.opportunities import opportunities_book, opportunities_generate_many
from campaigns.services.requests import accrual_request, opportunities_request, stale_sweep
from crm.models import Account
from crm.models import InteractionKind as K
from crm.services.history import account_history_touch
from tests.factories import AccountFactory, InteractionFactory, ProductFactory

from .conftest import ENROLLED, enrol

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_keys():
    keys = [tasks.ACCRUAL_BOOK_QUEUED_KEY, tasks.OPPORTUNITIES_BOOK_QUEUED_KEY]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def delays():  # type: ignore[no-untyped-def]
    """Every campaigns task's ``delay``, recorded instead of published."""
    names = ["accrue_points", "accrue_points_book", "generate_opportunities", "generate_opportunities_book"]
    with mock.patch.multiple(tasks, **{n: mock.DEFAULT for n in names}) as mocks:
        yield {n: mocks[n].delay for n in names}


def test_a_change_above_the_threshold_enqueues_one_book_task_and_coalesces(delays):
    ids = list(range(1, tasks.BOOK_THRESHOLD + 2))
    assert accrual_request(account_ids=ids) == 1
    assert accrual_request(account_ids=ids) == 0  # one is queued already
    assert opportunities_request(account_ids=ids) == 1
    assert delays["accrue_points_book"].call_count == 1
    assert delays["generate_opportunities_book"].call_count == 1
    assert delays["accrue_points"].call_count == delays["generate_opportunities"].call_count == 0


def test_a_change_at_the_threshold_still_goes_in_batches(delays, program):
    accounts = [AccountFactory() for _ in range(3)]
    for a in accounts:
        enrol(program, a)
    assert accrual_request(account_ids=[a.pk for a in accounts]) == 3
    assert delays["accrue_points"].call_count == 1 and delays["accrue_points_book"].call_count == 0


def test_a_whole_book_history_change_tells_campaigns_once(delays, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr("profitability.receivers.recompute_request", lambda *, account_ids: 0)
    with django_capture_on_commit_callbacks(execute=True):
        account_history_touch(account_ids=range(1, tasks.BOOK_THRESHOLD + 100))
    assert delays["accrue_points_book"].call_count == 1
    assert delays["accrue_points"].call_count == 0


def test_the_sweep_uses_the_book_task_when_many_are_behind(delays, monkeypatch):
    many = list(range(1, tasks.BOOK_THRESHOLD + 2))
    monkeypatch.setattr("campaigns.services.requests.stale_account_ids", lambda: (many, many))
    assert stale_sweep() == {"accrual": len(many), "opportunities": len(many)}
    assert delays["accrue_points_book"].call_count == delays["generate_opportunities_book"].call_count == 1
    assert delays["accrue_points"].call_count == delays["generate_opportunities"].call_count == 0


def _history(account: Account, n: int) -> None:
    for i in range(n):
        InteractionFactory(account=account, kind=K.ORDER, amount=D("100") * (i + 1), direct_cost=D("10"),
                           occurred_at=ENROLLED + timedelta(days=3 + i))
        InteractionFactory(account=account, kind=K.SURVEY, amount=D("0"), direct_cost=D("0"),
                           occurred_at=ENROLLED + timedelta(days=4 + i))


def ledger() -> list[tuple]:
    return sorted(LedgerEntry.objects.values_list("enrolment__account_id", "kind", "points", "rule_id",
                                                  "source_interaction_id", "revision"))


def test_book_accrual_writes_the_same_ledger_as_per_account_accrual_and_is_idempotent(program):
    accounts = [AccountFactory() for _ in range(7)]
    for i, a in enumerate(accounts):
        enrol(program, a)
        _history(a, i % 3 + 1)
    for a in accounts:
        points_accrue(account_id=a.pk)
    expected = ledger()
    assert len(expected) == sum(2 * (i % 3 + 1) for i in range(7))

    # the same book again, from scratch, through the book-level path in chunks of 3 accounts
    other = [AccountFactory() for _ in range(7)]
    for i, a in enumerate(other):
        enrol(program, a)
        _history(a, i % 3 + 1)
    Account.objects.filter(pk__in=[a.pk for a in other]).update(history_version=5)
    result = points_accrue_book(chunk=3)
    assert result == {"accounts": 7, "entries": len(expected)}  # the first seven are up to date: left alone

    def shape(rows, ids):  # type: ignore[no-untyped-def]
        order = {a: i for i, a in enumerate(ids)}
        return sorted((order[r[0]], r[1], r[2], r[3], r[5]) for r in rows if r[0] in order)

    got = ledger()
    assert shape(got, [a.pk for a in other]) == shape(expected, [a.pk for a in accounts])
    assert points_accrue_book(chunk=3) == {"accounts": 0, "entries": 0}
    assert points_accrue_many(account_ids=[a.pk for a in other]) and ledger() == got


def test_a_batch_of_opportunities_reads_the_catalogue_once(program):
    product = ProductFactory()
    accounts = [AccountFactory() for _ in range(6)]
    for a in accounts:
        InteractionFactory(account=a, kind=K.ORDER, product=product, quantity=5, amount=D("50"), direct_cost=D("20"),
                           occurred_at=ENROLLED)
    with CaptureQueriesContext(connection) as ctx:
        results = opportunities_generate_many(account_ids=[a.pk for a in accounts])
    catalogue = [q["sql"] for q in ctx.captured_queries
                 if 'FROM "crm_product"' in q["sql"] or 'FROM "campaigns_productstat"' in q["sql"]]
    assert len(catalogue) == 2
    assert [r.account_id for r in results] == sorted(a.pk for a in accounts)


def test_the_book_opportunities_path_covers_everyone_in_batches():
    accounts = [AccountFactory() for _ in range(5)]
    assert opportunities_book(everyone=True, batch=2) == {"accounts": 5, "created": 0}
    from campaigns.models import AccountFeatures

    assert AccountFeatures.objects.filter(account__in=accounts).count() == 5
