"""Listens to the CRM: when accounts' interaction histories change (after commit), enqueue recomputes."""

import logging

from django.dispatch import receiver

from crm.signals import history_changed

from .services import recompute_request

log = logging.getLogger(__name__)


@receiver(history_changed, dispatch_uid="profitability.history_changed")
def _history_changed(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
    # The change is already committed and the queue is only a hint: a Redis/broker outage must not turn the
    # caller's successful save into an error (a retried save would double it). The stale sweep catches up.
    try:
        recompute_request(account_ids=account_ids)
    except Exception:
        log.exception("Could not enqueue recomputes for %d account(s); the stale sweep will", len(account_ids))
