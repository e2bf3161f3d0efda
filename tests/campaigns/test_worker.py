"""Points and opportunities through a real Celery worker, Redis broker and committed PostgreSQL data:
accrual is published only after commit, awards once, reverses a deleted order; opportunities follow each
recompute; the sweep recovers lost messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from campaigns.models import AccountFeatures, LedgerEntry
from campaigns.services.requests import stale_account_ids, stale_sweep
from crm.models import Account
from crm.models import InteractionKind as K
from tests import worker as worker_fixtures
from tests.factories import AccountFactory, InteractionFactory
from tests.worker import queued_messages

from .conftest import enrol

broker = worker_fixtures.broker
celery_worker_process = worker_fixtures.celery_worker_process
celery_worker_stopped = worker_fixtures.celery_worker_stopped

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
D = Decimal
ACCRUE = "campaigns.tasks.accrue_points"


def points(account_id: int) -> int:
    return LedgerEntry.objects.filter(enrolment__account_id=account_id).aggregate(t=Sum("points"))["t"] or 0


def test_accrual_is_published_only_after_commit_and_only_for_enrolled_accounts(broker, program):
    member = enrol(program, AccountFactory())
    stranger = AccountFactory()

    with transaction.atomic():
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("100"))
        InteractionFactory(account=stranger, kind=K.ORDER, amount=D("100"))
        assert [m for m in queued_messages() if m[0] == ACCRUE] == []

    assert [m for m in queued_messages() if m[0] == ACCRUE] == [(ACCRUE, [[member.account_id]])]


def test_points_accrue_once_and_a_deleted_order_is_reversed_through_the_worker(celery_worker_process, program):
    worker = celery_worker_process
    member = enrol(program, AccountFactory())
    order = InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"))

    worker.wait_until(lambda: points(member.account_id) == 500, message="500 points for the order")
    order.delete()
    worker.wait_until(lambda: points(member.account_id) == 0, message="the order's points reversed")

    assert list(LedgerEntry.objects.filter(enrolment=member).order_by("id").values_list("kind", "points")) == [
        ("earn", 500), ("reverse", -500)]


def test_opportunities_follow_each_recompute(celery_worker_process):
    worker = celery_worker_process
    account = AccountFactory()
    InteractionFactory(account=account, kind=K.ORDER, amount=D("100"), occurred_at=timezone.now())

    def generated() -> bool:
        version = Account.objects.get(pk=account.pk).history_version
        return AccountFeatures.objects.filter(account=account, computed_version=version).exists()

    worker.wait_until(generated, message="features and opportunities generated from the fresh snapshot")
    assert AccountFeatures.objects.get(account=account).orders_ttm == 1
    assert stale_account_ids() == ([], [])


def test_the_sweep_recovers_a_lost_accrual(celery_worker_stopped, program):
    worker = celery_worker_stopped
    member = enrol(program, AccountFactory())
    InteractionFactory(account=member.account, kind=K.ORDER, amount=D("1000.00"))
    worker_fixtures.flush_redis()  # the broker lost every message (and the coalescing keys)

    assert member.account_id in stale_account_ids()[0]
    assert stale_sweep()["accrual"] == 1
    worker.start()

    worker.wait_until(lambda: points(member.account_id) == 100, message="the swept accrual")
