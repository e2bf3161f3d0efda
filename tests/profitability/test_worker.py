"""The profitability engine with a real Celery worker, a real Redis broker and committed PostgreSQL data.

What must hold (PRACTICES.md, "Background work that never loses or doubles anything"):
enqueue only on commit, coalesce bursts, recover from a killed worker and from a Redis that lost its data
(the database is the truth, the sweep re-enqueues whatever is behind), and never let an older computation
overwrite a newer snapshot, however the recomputes interleave.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Sum

from crm.models import Account, Interaction, InteractionKind
from profitability import services, tasks
from profitability.models import AccountSnapshot
from tests import worker as worker_fixtures
from tests.factories import AccountFactory, InteractionFactory
from tests.worker import (
    flush_redis,
    queue_length,
    queued_messages,
    terminate_worker_backends,
    unacked_count,
    worker_backends_waiting_on_a_lock,
)

broker = worker_fixtures.broker
celery_worker_process = worker_fixtures.celery_worker_process
celery_worker_stopped = worker_fixtures.celery_worker_stopped

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

D = Decimal
RECOMPUTE = "profitability.tasks.recompute_account"
FIGURES = [
    "revenue", "returns", "cogs", "gross_margin", "cost_to_serve", "net_profit", "net_margin_pct", "orders",
    "revenue_ttm", "returns_ttm", "cogs_ttm", "gross_margin_ttm", "cost_to_serve_ttm", "net_profit_ttm",
    "orders_ttm", "cost_breakdown", "cost_breakdown_ttm", "first_order_at", "last_order_at",
    "last_interaction_at", "clv_historical", "tier_id",
]


def versions(account_id: int) -> tuple[int, int | None]:
    """(history_version, snapshot computed_version or None), read in one statement."""
    row = Account.objects.filter(pk=account_id).values_list("history_version", "snapshot__computed_version").get()
    return row[0], row[1]


def caught_up(*account_ids: int) -> bool:
    for account_id in account_ids:
        history, computed = versions(account_id)
        if computed is None or computed < history:
            return False
    return True


def behind(*account_ids: int) -> dict[int, tuple[int, int | None]]:
    return {a: versions(a) for a in account_ids if not caught_up(a)}


def order(account: Account, amount: str = "100.00", cost: str = "60.00") -> Interaction:
    return InteractionFactory(account=account, amount=D(amount), direct_cost=D(cost))


# --- 1. enqueue only on commit -------------------------------------------------------------------------------


class TestEnqueueOnCommit:
    def test_nothing_is_published_before_commit_and_exactly_one_message_after(self, broker):
        account = AccountFactory()
        assert queue_length() == 0

        with transaction.atomic():
            order(account)
            assert Account.objects.get(pk=account.pk).history_version == 1  # bumped inside the transaction
            assert queue_length() == 0, "a recompute was published before the transaction committed"
            assert cache.get(services.QUEUED_KEY.format(account.pk)) is None

        # on the recompute queue, which a dedicated worker serves ahead of follow-up work
        assert queued_messages("recompute") == [(RECOMPUTE, [account.pk])]
        assert queued_messages("celery") == []
        assert cache.get(services.QUEUED_KEY.format(account.pk)) is not None

    def test_a_rolled_back_transaction_publishes_nothing_and_bumps_nothing(self, broker):
        account = AccountFactory()

        with transaction.atomic():
            order(account)
            transaction.set_rollback(True)
        with pytest.raises(RuntimeError), transaction.atomic():
            order(account)
            raise RuntimeError("the request failed")
        with transaction.atomic():  # a rolled-back savepoint inside a committed transaction
            try:
                with transaction.atomic():
                    order(account)
                    raise RuntimeError("the nested step failed")
            except RuntimeError:
                pass

        assert queue_length() == 0, f"rolled-back work was published: {queued_messages()}"
        account.refresh_from_db()
        assert account.history_version == 0
        assert not Interaction.objects.filter(account=account).exists()
        assert not AccountSnapshot.objects.filter(pk=account.pk).exists()
        assert cache.get(services.QUEUED_KEY.format(account.pk)) is None


# --- 2. end to end --------------------------------------------------------------------------------------------


def test_a_committed_interaction_reaches_the_snapshot_through_the_worker(celery_worker_process):
    worker = celery_worker_process
    account = AccountFactory()
    interaction = order(account, "250.00", "100.00")

    worker.wait_until(lambda: caught_up(account.pk), message="the snapshot to reach history_version 1")
    snap = AccountSnapshot.objects.get(pk=account.pk)
    assert (snap.computed_version, snap.revenue, snap.cogs, snap.orders) == (1, D("250.00"), D("100.00"), 1)

    interaction.delete()  # deletes count too
    worker.wait_until(lambda: versions(account.pk) == (2, 2), message="the snapshot to follow the deletion")
    snap.refresh_from_db()
    assert (snap.revenue, snap.cogs, snap.orders) == (D("0"), D("0"), 0)
    worker.wait_until(lambda: queue_length() == 0, message="the queue to drain")
    assert cache.get(services.QUEUED_KEY.format(account.pk)) is None  # the worker cleared the coalescing key


# --- 3. coalescing --------------------------------------------------------------------------------------------


def test_a_burst_of_1000_commits_is_coalesced_into_one_recompute(celery_worker_stopped):
    worker = celery_worker_stopped
    account = AccountFactory()
    for _ in range(1000):  # 1,000 separate transactions (autocommit), each committing and notifying
        Interaction.objects.create(account=account, kind=InteractionKind.ORDER, channel="web",
                                   occurred_at="2025-03-01T10:00:00Z", amount=D("100.00"), direct_cost=D("60.00"))

    assert versions(account.pk) == (1000, None)
    queued = queued_messages()
    assert len(queued) <= 2, f"{len(queued)} messages queued for one account's burst: not coalesced"
    assert queued == [(RECOMPUTE, [account.pk])] * len(queued)

    worker.start()
    worker.wait_until(lambda: caught_up(account.pk), timeout=30, message="the snapshot to reach version 1000")
    snap = AccountSnapshot.objects.get(pk=account.pk)
    assert snap.computed_version == 1000
    assert snap.revenue == D("100000.00") == Interaction.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
    assert (snap.cogs, snap.orders) == (D("60000.00"), 1000)
    assert worker.succeeded(RECOMPUTE) <= 2, worker.log_tail()

    # The worker's figures are those of a from-scratch recompute now.
    before = {f: getattr(snap, f) for f in FIGURES}
    result = services.snapshot_recompute(account_id=account.pk)
    assert result.version == 1000
    snap.refresh_from_db()
    assert {f: getattr(snap, f) for f in FIGURES} == before


# --- 4. recovery ------------------------------------------------------------------------------------------------


def test_a_worker_killed_mid_recompute_loses_nothing_once_the_sweep_runs(celery_worker_process):
    """SIGKILL the worker while its recompute of one account is blocked on that account's snapshot row.

    The killed recompute never writes; with acks_late its message sits unacknowledged in Redis until the
    visibility timeout (an hour), so after the restart the stale-snapshot sweep is what catches it up.
    Messages still waiting in the queue survive the kill and are worked off by the restarted worker.
    """
    worker = celery_worker_process
    victim, *others = AccountFactory.create_batch(4)
    order(victim)
    worker.wait_until(lambda: caught_up(victim.pk), message="the victim's first snapshot")

    db = connection.settings_dict
    locker = psycopg.connect(host=db["HOST"], port=db["PORT"] or None, user=db["USER"],
                             password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=False)
    try:
        # Hold the victim's snapshot row: the worker's select_for_update will wait on it mid-task.
        locker.execute("SELECT 1 FROM profitability_accountsnapshot WHERE account_id = %s FOR UPDATE", [victim.pk])
        order(victim, "900.00", "100.00")
        worker.wait_until(worker_backends_waiting_on_a_lock, message="the worker to block inside the recompute")
        for account in others:  # queued behind the blocked task
            order(account)
        assert queue_length() == len(others)

        worker.kill()
        terminate_worker_backends()  # the dead worker's session ends; its transaction never commits
    finally:
        locker.rollback()
        locker.close()

    assert versions(victim.pk) == (2, 1), "the killed recompute must not have written"
    assert unacked_count() == 1, "acks_late: the killed task's message should still be unacknowledged"
    assert queue_length() == len(others), "queued messages were lost with the worker"

    worker.restart()
    worker.wait_until(lambda: caught_up(*(a.pk for a in others)), message="the queued recomputes after the restart")

    tasks.sweep_stale_snapshots.delay()
    worker.wait_until(lambda: caught_up(victim.pk, *(a.pk for a in others)),
                      message="every snapshot to catch up after the sweep")
    snap = AccountSnapshot.objects.get(pk=victim.pk)
    assert (snap.computed_version, snap.revenue) == (2, D("1000.00"))


def test_a_redis_that_lost_its_data_loses_nothing_once_the_sweep_runs(celery_worker_stopped):
    worker = celery_worker_stopped
    accounts = AccountFactory.create_batch(3)
    for i, account in enumerate(accounts, start=1):
        for _ in range(i):
            order(account)
    assert queue_length() == 3

    flush_redis()  # Redis restarted without persistence: queued messages and coalescing keys are gone
    worker.start()
    assert services.stale_account_ids() == sorted(a.pk for a in accounts)

    tasks.sweep_stale_snapshots.delay()
    ids = [a.pk for a in accounts]
    worker.wait_until(lambda: caught_up(*ids), message=f"the sweep to catch up {behind(*ids)}")
    assert [AccountSnapshot.objects.get(pk=a.pk).revenue for a in accounts] == [D("100"), D("200"), D("300")]


def test_a_lost_message_whose_coalescing_key_survived_is_recovered_by_the_sweep(celery_worker_stopped, broker):
    """The message is gone but the "queued" key is not: later commits coalesce onto a message nobody
    will run. The sweep ignores the keys (the database is the truth) and re-enqueues the account."""
    worker = celery_worker_stopped
    account = AccountFactory()
    order(account)
    broker.delete("recompute")  # only the queue lost
    order(account)  # coalesced onto the lost message: nothing new is published
    assert queue_length() == 0
    assert cache.get(services.QUEUED_KEY.format(account.pk)) is not None

    worker.start()
    assert services.stale_sweep() == 1  # from the test process: publishes to the same broker
    worker.wait_until(lambda: caught_up(account.pk), message="the sweep's recompute")
    assert AccountSnapshot.objects.get(pk=account.pk).revenue == D("200")


def test_a_redis_outage_at_commit_fails_no_write_and_the_sweep_catches_up(celery_worker_stopped, settings):
    """The interaction is committed before anything is enqueued: an unreachable Redis must not turn the save
    into an error (a client retrying it would double the interaction). The sweep recovers the recompute."""
    worker = celery_worker_stopped
    account = AccountFactory()
    reachable = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens on port 1
    order(account)  # must not raise
    settings.CACHES = reachable

    assert Interaction.objects.filter(account=account).count() == 1
    assert versions(account.pk) == (1, None)
    assert queue_length() == 0
    worker.start()
    tasks.sweep_stale_snapshots.delay()
    worker.wait_until(lambda: caught_up(account.pk), message="the sweep to recover the recompute")


# --- 5. racing recomputes ---------------------------------------------------------------------------------------


AUDIT = """
CREATE TABLE test_snapshot_version_audit (account_id bigint, old_version bigint, new_version bigint);
CREATE FUNCTION test_snapshot_version_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_snapshot_version_audit VALUES (NEW.account_id, OLD.computed_version, NEW.computed_version);
    RETURN NEW;
END $$;
CREATE TRIGGER test_snapshot_version_audit BEFORE UPDATE ON profitability_accountsnapshot
    FOR EACH ROW EXECUTE FUNCTION test_snapshot_version_audit();
"""
DROP_AUDIT = """
DROP TRIGGER IF EXISTS test_snapshot_version_audit ON profitability_accountsnapshot;
DROP FUNCTION IF EXISTS test_snapshot_version_audit();
DROP TABLE IF EXISTS test_snapshot_version_audit;
"""


def test_racing_recomputes_never_leave_an_older_result_over_a_newer_one(broker):
    """Two threads recompute one account (each on its own connection) while a third keeps adding orders.

    A trigger records every snapshot update (old → new version), and the test samples the stored version
    in a loop: neither may ever see it go down. One last recompute then lands exactly on history_version.
    """
    account = AccountFactory()
    order(account)
    services.snapshot_recompute(account_id=account.pk)
    with connection.cursor() as cursor:
        cursor.execute(AUDIT)

    writes = 150
    done = threading.Event()
    errors: list[BaseException] = []
    results: list[services.RecomputeResult] = []

    def in_thread(body):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # noqa: BLE001  (reported by the main thread)
                errors.append(exc)
                done.set()
            finally:
                connection.close()
        return threading.Thread(target=run, daemon=True)

    def writer() -> None:
        try:
            for _ in range(writes):
                order(account)
                time.sleep(0.005)
        finally:
            done.set()

    def recomputer() -> None:
        while not done.is_set():
            results.append(services.snapshot_recompute(account_id=account.pk))

    samples: list[int] = []
    threads = [in_thread(writer), in_thread(recomputer), in_thread(recomputer)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            samples.append(AccountSnapshot.objects.values_list("computed_version", flat=True).get(pk=account.pk))
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads), "a thread did not finish"

        with connection.cursor() as cursor:
            cursor.execute("SELECT old_version, new_version FROM test_snapshot_version_audit ORDER BY 1, 2")
            audit = cursor.fetchall()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP_AUDIT)

    regressions = [(a, b) for a, b in zip(samples, samples[1:], strict=False) if b < a]
    assert not regressions, f"the stored computed_version went down: {regressions[:10]}"
    downgrades = [(old, new) for old, new in audit if new < old]
    assert not downgrades, f"an older computation overwrote a newer snapshot: {downgrades[:10]}"
    assert len(results) >= 4 and len({r.version for r in results}) >= 2, "the recomputes never overlapped the writes"

    services.snapshot_recompute(account_id=account.pk)
    assert versions(account.pk) == (1 + writes, 1 + writes)
    assert AccountSnapshot.objects.get(pk=account.pk).revenue == D("100.00") * (1 + writes)
