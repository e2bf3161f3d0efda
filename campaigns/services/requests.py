"""Enqueueing per-account work after commit, coalesced per account (the database stays the truth)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache

from ..models import Enrolment


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def accrual_request(*, account_ids: Sequence[int]) -> int:
    """Queue points accrual for those of the accounts that are enrolled somewhere. Call only after commit.

    A short-lived "queued" key per account coalesces bursts; the task clears it when it starts.
    """
    from .. import tasks

    enrolled = sorted(set(
        Enrolment.objects.filter(account_id__in=list(account_ids)).values_list("account_id", flat=True)
    ))
    return _enqueue_coalesced(tasks.accrue_points, tasks.ACCRUAL_QUEUED_KEY, enrolled)


def opportunities_request(*, account_ids: Sequence[int]) -> int:
    """Queue opportunity generation for accounts whose snapshot was just recomputed (committed)."""
    from .. import tasks

    return _enqueue_coalesced(tasks.generate_opportunities, tasks.OPPORTUNITIES_QUEUED_KEY, sorted(set(account_ids)))


def _enqueue_coalesced(task, key_format: str, account_ids: Sequence[int]) -> int:  # type: ignore[no-untyped-def]
    """Enqueue ``task`` in batches for the accounts not already queued (a "queued" key each, cleared by the task).

    If publishing fails the batch's keys are released, so the next change (or the sweep) enqueues again.
    """
    from .. import tasks

    fresh = [i for i in account_ids
             if cache.add(key_format.format(i), 1, timeout=settings.CELERY_TASK_TIME_LIMIT)]
    for chunk in _chunks(fresh, tasks.BATCH):
        try:
            task.delay(chunk)
        except Exception:
            cache.delete_many([key_format.format(i) for i in chunk])
            raise
    return len(fresh)


def stale_account_ids(*, limit: int = 10_000) -> tuple[list[int], list[int]]:
    """(accounts whose points are behind their history, active accounts whose opportunities are behind their
    snapshot)."""
    from django.db.models import F, Q

    from crm.models import Account

    accrual = list(
        Enrolment.objects.filter(accrued_version__lt=F("account__history_version"))
        .exclude(program__status="draft").order_by("account_id").values_list("account_id", flat=True).distinct()[:limit]
    )
    opportunities = list(
        Account.objects.filter(status=Account.Status.ACTIVE, snapshot__isnull=False)
        .filter(Q(campaign_features__isnull=True)
                | Q(campaign_features__computed_version__lt=F("snapshot__computed_version")))
        .order_by("pk").values_list("pk", flat=True)[:limit]
    )
    return accrual, opportunities


def stale_sweep() -> dict:
    """Re-enqueue whatever is behind, bypassing the queued keys (the database is the truth)."""
    from .. import tasks

    accrual, opportunities = stale_account_ids()
    cache.delete_many([tasks.ACCRUAL_QUEUED_KEY.format(i) for i in accrual]
                      + [tasks.OPPORTUNITIES_QUEUED_KEY.format(i) for i in opportunities])
    for chunk in _chunks(accrual, tasks.BATCH):
        tasks.accrue_points.delay(chunk)
    for chunk in _chunks(opportunities, tasks.BATCH):
        tasks.generate_opportunities.delay(chunk)
    return {"accrual": len(accrual), "opportunities": len(opportunities)}
