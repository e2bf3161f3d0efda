"""Requesting recomputes: coalesced enqueues after a history change, and the sweep of accounts left behind."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache
from django.db.models import F

from crm.models import Account

BOOK_RECOMPUTE_THRESHOLD = 500  # a change touching more accounts than this recomputes the whole book
QUEUED_KEY = "profitability:queued:{}"


def recompute_request(*, account_ids: Sequence[int]) -> int:
    """Enqueue recomputes for accounts whose history changed; call only after commit (see receivers).

    A short-lived "queued" key per account coalesces bursts: while a recompute is queued and not yet
    started, further requests for that account enqueue nothing. The worker clears the key when it starts,
    so changes that land during a recompute get a fresh one. The key's TTL bounds a lost message's damage;
    the periodic sweep catches anything still behind.
    """
    from .. import tasks

    ids = sorted(set(account_ids))
    if len(ids) > BOOK_RECOMPUTE_THRESHOLD:
        tasks.recompute_book.delay()
        return 1
    enqueued = 0
    for account_id in ids:
        key = QUEUED_KEY.format(account_id)
        if cache.add(key, 1, timeout=settings.CELERY_TASK_TIME_LIMIT):
            try:
                tasks.recompute_account.delay(account_id)
            except Exception:
                cache.delete(key)  # not queued after all: don't block the next change's enqueue
                raise
            enqueued += 1
    return enqueued


def stale_account_ids(*, limit: int = 10_000) -> list[int]:
    """Accounts whose snapshot is missing or older than their interaction history."""
    return list(
        Account.objects.filter(history_version__gt=0)
        .exclude(snapshot__computed_version__gte=F("history_version"))
        .order_by("id").values_list("id", flat=True)[:limit]
    )


def stale_sweep() -> int:
    """Re-enqueue every account that is behind, bypassing the queued keys (the database is the truth)."""
    from .. import tasks

    ids = stale_account_ids()
    for account_id in ids:
        cache.delete(QUEUED_KEY.format(account_id))
    if len(ids) > BOOK_RECOMPUTE_THRESHOLD:
        tasks.recompute_book.delay()
    else:
        for account_id in ids:
            tasks.recompute_account.delay(account_id)
    return len(ids)
