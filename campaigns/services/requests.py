"""Enqueueing per-account work after commit, coalesced per account (the database stays the truth)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache

from ..models import Enrolment


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def accrual_request(*, account_ids: Sequence[int]) -> int:
    """Queue points accrual for those of the accounts that are enrolled somewhere. Call only after commit.

    A short-lived "queued" key per account coalesces bursts; the task clears it when it starts. Above
    ``tasks.BOOK_THRESHOLD`` accounts, one book-level task accrues whoever is behind instead.
    """
    from .. import tasks

    if len(set(account_ids)) > tasks.BOOK_THRESHOLD:
        return _enqueue_book(tasks.accrue_points_book, tasks.ACCRUAL_BOOK_QUEUED_KEY)
    enrolled = sorted(set(
        Enrolment.objects.filter(account_id__in=list(account_ids)).values_list("account_id", flat=True)
    ))
    return _enqueue_coalesced(tasks.accrue_points, tasks.ACCRUAL_QUEUED_KEY, enrolled)


def opportunities_request(*, account_ids: Sequence[int]) -> int:
    """Queue opportunity generation for accounts whose snapshot was just recomputed (committed); above
    ``tasks.BOOK_THRESHOLD`` accounts, one book-level task for whoever is behind."""
    from .. import tasks

    if len(set(account_ids)) > tasks.BOOK_THRESHOLD:
        return _enqueue_book(tasks.generate_opportunities_book, tasks.OPPORTUNITIES_BOOK_QUEUED_KEY)
    return _enqueue_coalesced(tasks.generate_opportunities, tasks.OPPORTUNITIES_QUEUED_KEY, sorted(set(account_ids)))


def _enqueue_book(task, key: str) -> int:  # type: ignore[no-untyped-def]
    """Enqueue one book-level task unless one is already queued (its key cleared when it starts). Returns 1 or 0."""
    if not cache.add(key, 1, timeout=settings.CELERY_TASK_TIME_LIMIT):
        return 0
    try:
        task.delay()
    except Exception:
        cache.delete(key)
        raise
    return 1


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


    from .loyalty import stale_accrual_account_ids
    from .opportunities import stale_opportunity_account_ids

    return stale_accrual_account_ids(limit=limit), stale_opportunity_account_ids(limit=limit)


def stale_sweep() -> dict:
    """Re-enqueue whatever is behind, bypassing the queued keys (the database is the truth)."""
    from .. import tasks

    accrual, opportunities = stale_account_ids()
    cache.delete_many([tasks.ACCRUAL_QUEUED_KEY.format(i) for i in accrual]
                      + [tasks.OPPORTUNITIES_QUEUED_KEY.format(i) for i in opportunities])
    _requeue(accrual, tasks.accrue_points, tasks.accrue_points_book, tasks.ACCRUAL_BOOK_QUEUED_KEY)
    _requeue(opportunities, tasks.generate_opportunities, tasks.generate_opportunities_book,
             tasks.OPPORTUNITIES_BOOK_QUEUED_KEY)
    return {"accrual": len(accrual), "opportunities": len(opportunities)}


def _requeue(account_ids: list[int], batch_task: Any, book_task: Any, book_key: str) -> None:
    """Queue ``account_ids`` again: one book-level task above the threshold, else batches."""
    from .. import tasks

    if len(account_ids) > tasks.BOOK_THRESHOLD:
        cache.delete(book_key)
        _enqueue_book(book_task, book_key)
    else:
        for chunk in _chunks(account_ids, tasks.BATCH):
            batch_task.delay(chunk)
