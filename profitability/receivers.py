"""Listens to the CRM: when accounts' interaction histories change (after commit), enqueue recomputes."""

from django.dispatch import receiver

from crm.signals import history_changed

from .services import recompute_request


@receiver(history_changed, dispatch_uid="profitability.history_changed")
def _history_changed(sender, account_ids, **kwargs):  # type: ignore[no-untyped-def]
    recompute_request(account_ids=account_ids)
