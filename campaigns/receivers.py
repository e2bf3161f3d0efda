"""Listens to the CRM and the profitability engine.

- When accounts' interaction histories change (sent after commit), accrue the enrolled ones' points.
- When the engine's per-account recompute has written a snapshot (Celery ``task_success`` in the worker),
  regenerate that account's opportunities from the fresh tier and figures.
- When cases are opened, give accounts with a running loyalty tier upgrade the upgraded SLA.
The queue is only a hint: ``tasks.sweep`` re-enqueues whatever is behind.
"""

import logging

from celery.signals import task_success
from django.dispatch import receiver

from crm.signals import case_opened, history_changed

log = logging.getLogger(__name__)
RECOMPUTE_TASK = "profitability.tasks.recompute_account"


@receiver(history_changed, dispatch_uid="campaigns.history_changed")
def _history_changed(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
    from .services.requests import accrual_request

    # Already committed: a broker outage must not fail the caller's save (the sweep re-enqueues).
    try:
        accrual_request(account_ids=account_ids)
    except Exception:
        log.exception("Could not enqueue points accrual for %d account(s); the sweep will", len(account_ids))


@task_success.connect(dispatch_uid="campaigns.after_recompute")
def _after_recompute(sender=None, result=None, **kwargs):  # type: ignore[no-untyped-def]
    if getattr(sender, "name", None) != RECOMPUTE_TASK or not isinstance(result, dict) or not result.get("written"):
        return
    from .services.requests import opportunities_request

    try:
        opportunities_request(account_ids=[result["account_id"]])
    except Exception:
        log.exception("Could not enqueue opportunities for account %s; the sweep will", result.get("account_id"))


@receiver(case_opened, dispatch_uid="campaigns.case_opened")
def _case_opened(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
    # Connected after the profitability engine's receiver (app order), which sets due times from the
    # account's own tier; a running loyalty tier upgrade then makes them faster.
    from .services.loyalty import upgrades_apply_sla

    try:
        upgrades_apply_sla(account_ids=list(account_ids))
    except Exception:
        log.exception("Could not apply tier upgrades to cases of %d account(s)", len(account_ids))
