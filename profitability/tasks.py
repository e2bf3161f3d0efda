"""Celery tasks: thin wrappers that take ids and call one service.

All are idempotent (they recompute from the source rows), acknowledged late, retried with backoff on
database errors, and time-limited.
"""

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError

from . import services

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
    "acks_late": True,
}


@shared_task(soft_time_limit=60, time_limit=90, **RETRY)
def recompute_account(account_id: int) -> dict:
    # Clear the coalescing key first: any change committed from now on must enqueue a fresh recompute.
    cache.delete(services.QUEUED_KEY.format(account_id))
    result = services.snapshot_recompute(account_id=account_id)
    return {"account_id": result.account_id, "version": result.version, "written": result.written}


BOOK_LOCK = "profitability:book-recompute"
BOOK_RERUN = "profitability:book-recompute:rerun"


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def recompute_book() -> dict:
    if not cache.add(BOOK_LOCK, 1, timeout=30 * 60):
        # One is running; it may have read the configuration before this request's change: run again after it.
        cache.set(BOOK_RERUN, 1, timeout=60 * 60)
        return {"deferred": "a book recompute is running; another follows it"}
    try:
        cache.delete(BOOK_RERUN)
        result = services.book_recompute()
    finally:
        cache.delete(BOOK_LOCK)
    if cache.get(BOOK_RERUN):
        recompute_book.delay()
    return {"accounts": result.accounts, "tier_changes": result.tier_changes, "seconds": result.seconds}


@shared_task(soft_time_limit=120, time_limit=180, **RETRY)
def sweep_stale_snapshots() -> int:
    return services.stale_sweep()


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def fit_clv_models() -> dict:
    from .clv_book import clv_models_fit

    return {fit.model: fit.params for fit in clv_models_fit()}
