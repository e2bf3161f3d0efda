"""Hooks that keep ``Account.history_version`` true to every change of an account's interactions.

Signals are the one place Tierwise uses them: an interaction saved through *any* ORM path (a view, the
admin, the API, a shell) must mark its account changed. Bulk paths (imports, seeding) bypass model signals
and call :func:`crm.services.account_history_touch` themselves. Engines above the CRM listen to
:data:`history_changed`, sent only after the transaction commits.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from .models import Interaction

#: Sent on commit with ``account_ids``: those accounts' interaction histories changed.
history_changed = Signal()


@receiver(post_save, sender=Interaction, dispatch_uid="crm.interaction_saved")
def _interaction_saved(sender, instance: Interaction, raw: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
    if raw:  # loaddata: the fixture carries its own state
        return
    from .services import account_history_touch

    ids = {instance.account_id}
    previous = getattr(instance, "_loaded_account_id", None)
    if previous is not None:
        ids.add(previous)
    instance._loaded_account_id = instance.account_id
    account_history_touch(account_ids=ids)


@receiver(post_delete, sender=Interaction, dispatch_uid="crm.interaction_deleted")
def _interaction_deleted(sender, instance: Interaction, **kwargs) -> None:  # type: ignore[no-untyped-def]
    from .services import account_history_touch

    account_history_touch(account_ids={instance.account_id})


#: Sent on commit with ``account_ids``: cases were opened (or reopened) on those accounts and need their SLA
#: due times, which the engine above the CRM derives from each account's service tier.
case_opened = Signal()
