"""Celery tasks of the analytics: the nightly refresh of the precomputed aggregates and the lead-scoring
retrain. Thin, idempotent (they recompute from the source rows), acknowledged late, time-limited.

The beat schedule (``crm/settings.py``) runs both after the nightly book recompute; if a book recompute is
still running when the refresh starts, the refresh waits for it (retries) so it never reads a half-written
book.
"""

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError

from .tasks import RETRY

BOOK_LOCK = "profitability:book-recompute"  # held by tasks.recompute_book while it runs
REFRESH_LOCK = "profitability:analytics-refresh"
WAIT_FOR_BOOK_SECONDS = 120


class BookRecomputeRunning(Exception):
    """The book is being recomputed; try again once it is done."""


@shared_task(bind=True, soft_time_limit=20 * 60, time_limit=25 * 60,
             **{**RETRY, "autoretry_for": (OperationalError, BookRecomputeRunning), "max_retries": 30,
                "retry_backoff": False, "default_retry_delay": WAIT_FOR_BOOK_SECONDS})
def refresh_analytics(self) -> dict:  # type: ignore[no-untyped-def]
    from .services_analytics import analytics_refresh

    if cache.get(BOOK_LOCK):
        raise BookRecomputeRunning("a book recompute is running")
    if not cache.add(REFRESH_LOCK, 1, timeout=25 * 60):
        return {"skipped": "an analytics refresh is already running"}
    try:
        result = analytics_refresh()
    finally:
        cache.delete(REFRESH_LOCK)
    return {"months": result.months, "funnel_rows": result.funnel_rows, "segment_rows": result.segment_rows,
            "leads_scored": result.leads_scored, "seconds": result.seconds}


@shared_task(bind=True, soft_time_limit=20 * 60, time_limit=25 * 60,
             **{**RETRY, "autoretry_for": (OperationalError, BookRecomputeRunning), "max_retries": 30,
                "retry_backoff": False, "default_retry_delay": WAIT_FOR_BOOK_SECONDS})
def retrain_lead_scoring(self) -> dict:  # type: ignore[no-untyped-def]
    from .lead_scoring import NotEnoughData, lead_scoring_train

    if cache.get(BOOK_LOCK):
        raise BookRecomputeRunning("a book recompute is running")
    try:
        model = lead_scoring_train()
    except NotEnoughData as exc:
        return {"skipped": str(exc)}
    return {"model": model.pk, "metrics": model.metrics}
