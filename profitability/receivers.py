"""Listens to the CRM: when accounts' interaction histories change (after commit), enqueue recomputes."""

import logging

from django.dispatch import receiver

from crm.signals import case_opened, history_changed

from .services import cases_apply_sla, recompute_request

log = logging.getLogger(__name__)


@receiver(history_changed, dispatch_uid="profitability.history_changed")
def _history_changed(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
    # The change is already committed and the queue is only a hint: a Redis/broker outage must not turn the
    # caller's successful save into an error (a retried save would double it). The stale sweep catches up.
    try:
        recompute_request(account_ids=account_ids)
    except Exception:
        log.exception("Could not enqueue recomputes for %d account(s); the stale sweep will", len(account_ids))


@receiver(case_opened, dispatch_uid="profitability.case_opened")
def _case_opened(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
    # A new (or reopened) case gets its SLA due times from the account's current tier at once; the recompute
    # only re-applies them when the tier changes. Runs after commit, so the case is there to update.
    try:
        cases_apply_sla(account_ids=list(account_ids))
    except Exception:
        log.exception("Could not set SLA due times for cases of %d account(s)", len(account_ids))
