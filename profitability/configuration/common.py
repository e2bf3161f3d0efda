"""What every configuration write shares: the rejection error, the actor on the audit row, a baseline
history row, and the recompute of the book after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

ZERO = Decimal("0")


class ConfigurationError(Exception):
    """A configuration change was rejected; nothing was written.

    ``errors`` tie each message to a submitted row and field where there is one, so forms can show the
    message next to the field it is about.
    """

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))


@dataclass(frozen=True)
class SpecError:
    index: int | None  # row of the submitted list, None for the whole submission
    field: str | None  # None: about the row (or the submission) as a whole
    message: str


def recompute_on_commit() -> None:
    """Enqueue a full recompute of the book once the surrounding transaction commits (never before)."""
    from .. import tasks

    transaction.on_commit(lambda: tasks.recompute_book.delay())


def actor_stamp(obj: Any, actor: Any, reason: str) -> None:
    # simple_history reads these from the instance, so the audit row names the actor outside a request too.
    obj._history_user = actor
    obj._change_reason = reason


BASELINE_REASON = "Values as set up before the first recorded change"


def ensure_history_baseline(model: type, objs: Sequence[Any]) -> None:
    """Give objects created without history (by data migrations) a first audit row with their current
    values, so the first change shows old → new. Attributed to nobody, not to the admin making the change."""
    if not objs:
        return
    history = model.history.model
    have = set(history.objects.filter(id__in=[o.pk for o in objs]).values_list("id", flat=True).distinct())
    missing = [o for o in objs if o.pk not in have]
    if missing:
        now = timezone.now()
        history.objects.bulk_create([
            history(history_date=now, history_user=None, history_change_reason=BASELINE_REASON, history_type="+",
                    **{f.attname: getattr(o, f.attname) for f in history.tracked_fields})
            for o in missing
        ])
