"""Celery tasks of the duplicates area: thin wrappers around ``crm.dedupe.scan``.

Idempotent (the scan recomputes keys and scores from the accounts and never touches a decision),
acknowledged late, retried on database errors, time-limited. One scan runs at a time: a scan asked for
while another runs is skipped when it is incremental (the running one, or the next, picks the changes up)
and deferred when it is full.
"""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError

from . import scan

LOCK = "dedupe:scan-running"
LOCK_SECONDS = 30 * 60  # ≥ the hard time limit, so a killed worker's lock expires by itself
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "retry_backoff_max": 120,
         "max_retries": 5, "acks_late": True}


@shared_task(soft_time_limit=25 * 60, time_limit=LOCK_SECONDS, **RETRY)
def find_duplicates(full: bool | None = None, account_ids: list[int] | None = None) -> dict:
    """Scan for duplicate accounts: the whole book (default), or incrementally (``full=False``: accounts whose
    name, domain, tax id or phone changed since the last scan, plus ``account_ids``)."""
    full = not account_ids if full is None else full
    if not cache.add(LOCK, 1, timeout=LOCK_SECONDS):
        if full or account_ids:
            raise find_duplicates.retry(countdown=60, max_retries=30, kwargs={"full": full, "account_ids": account_ids})
        return {"skipped": "another scan is running"}
    try:
        return scan.candidates_find(full=full, account_ids=account_ids).as_dict()
    finally:
        cache.delete(LOCK)
