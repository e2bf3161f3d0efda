"""Celery tasks: thin wrappers that take ids and call one service.

All are idempotent (they recompute from the source rows), acknowledged late, retried with backoff on
database errors, and time-limited. Per-account work comes in id lists, at most ``BATCH`` at a time.
"""

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
    "acks_late": True,
}
BATCH = 200
# A change touching more accounts than this goes to ONE book-level task instead of per-batch tasks (as the
# profitability engine does): without a broker, hundreds of batches would run inside the request.
BOOK_THRESHOLD = 500
ACCRUAL_QUEUED_KEY = "campaigns:accrual-queued:{}"
OPPORTUNITIES_QUEUED_KEY = "campaigns:opportunities-queued:{}"
ACCRUAL_BOOK_QUEUED_KEY = "campaigns:accrual-book-queued"
OPPORTUNITIES_BOOK_QUEUED_KEY = "campaigns:opportunities-book-queued"


@shared_task(soft_time_limit=120, time_limit=180, **RETRY)
def accrue_points(account_ids: list[int]) -> dict:
    from .services.loyalty import points_accrue_many

    cache.delete_many([ACCRUAL_QUEUED_KEY.format(i) for i in account_ids])  # changes from now on enqueue afresh
    entries = sum(r.entries for r in points_accrue_many(account_ids=account_ids))
    return {"accounts": len(account_ids), "entries": entries}


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def accrue_points_book() -> dict:
    """Every account whose points are behind its history, in chunks, in this one task."""
    from .services.loyalty import points_accrue_book

    cache.delete(ACCRUAL_BOOK_QUEUED_KEY)
    return points_accrue_book()


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def generate_opportunities_book(everyone: bool = False) -> dict:
    """Every active account whose opportunities are behind its snapshot (every active account with
    ``everyone``), in batches, in this one task."""
    from .services.loyalty import upgrades_apply_sla
    from .services.opportunities import opportunities_book

    cache.delete(OPPORTUNITIES_BOOK_QUEUED_KEY)
    result = opportunities_book(everyone=everyone, batch=BATCH)
    upgrades_apply_sla()
    return result


@shared_task(soft_time_limit=300, time_limit=360, **RETRY)
def generate_opportunities(account_ids: list[int]) -> dict:
    """Features, opportunities and tier-upgrade SLAs of the accounts (after their recompute)."""
    from .services.loyalty import upgrades_apply_sla
    from .services.opportunities import opportunities_generate_many

    cache.delete_many([OPPORTUNITIES_QUEUED_KEY.format(i) for i in account_ids])
    created = sum(r.created for r in opportunities_generate_many(account_ids=account_ids))
    upgrades_apply_sla(account_ids=account_ids)
    return {"accounts": len(account_ids), "created": created}


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def refresh_book_patterns() -> dict:
    """Nightly: association rules, product and peer statistics, features; then every account's opportunities."""
    lock = "campaigns:book-patterns"
    if not cache.add(lock, 1, timeout=30 * 60):
        return {"skipped": "a refresh is already running"}
    try:
        from django.utils import timezone

        from crm.models import Account

        from .services.patterns import book_patterns_refresh
        from .services.segments import cluster_pnl_refresh

        result = book_patterns_refresh()
        cluster_pnl_refresh(now=timezone.now())  # the clusters' figures follow the nightly recompute
        accounts = Account.objects.filter(status=Account.Status.ACTIVE).count()
    finally:
        cache.delete(lock)
    # Every active account's opportunities from the new patterns: one book-level task, not one per batch.
    generate_opportunities_book.delay(everyone=True)
    return {"rules": result.rules, "products": result.products, "accounts": accounts}


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def loyalty_daily() -> dict:
    """Nightly: end programs past their end date, enrol eligible accounts automatically, expire old points,
    and re-apply running tier upgrades after the nightly recompute reset the SLAs."""
    from .services.loyalty import loyalty_housekeeping

    return loyalty_housekeeping()


@shared_task(soft_time_limit=120, time_limit=180, **RETRY)
def sweep() -> dict:
    """Every few minutes: re-enqueue accruals and opportunities that are behind their account (lost messages)."""
    from .services.requests import stale_sweep

    return stale_sweep()


@shared_task(soft_time_limit=25 * 60, time_limit=30 * 60, **RETRY)
def run_clustering(seed: int, user_id: int | None = None) -> dict:
    from .services.segments import clustering_run

    run = clustering_run(seed=seed, actor_id=user_id)
    return {"run": run.pk, "k": run.k, "silhouette": run.silhouette}


@shared_task(soft_time_limit=120, time_limit=180, **RETRY)
def auto_enrol(program_id: int) -> int:
    from .services.loyalty import program_auto_enrol

    return program_auto_enrol(program_id=program_id)
