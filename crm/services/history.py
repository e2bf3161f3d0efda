"""The interaction-history version of accounts, and telling listeners it changed."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from ..models import Account


def account_history_touch(*, account_ids: Iterable[int]) -> None:
    """Mark the accounts' interaction histories changed and tell listeners once the transaction commits.

    The version bump is a single ``UPDATE ... SET history_version = history_version + 1`` so concurrent
    writers never lose a bump; listeners (the profitability engine) compare their snapshots against it.
    """
    ids = sorted({int(i) for i in account_ids if i is not None})
    if not ids:
        return
    Account.objects.filter(id__in=ids).update(history_version=F("history_version") + 1)

    def notify() -> None:
        from ..signals import history_changed

        history_changed.send(sender=Account, account_ids=ids)

    # robust: the rows are committed; a listener failing (say, the broker is down) must not fail the caller.
    transaction.on_commit(notify, robust=True)
