"""Effective-dated cost rates: adding one, and deleting one that has not started yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction

from ..models import CostRate
from .common import ConfigurationError, SpecError, actor_stamp, ensure_history_baseline, recompute_on_commit


@dataclass(frozen=True)
class CostRateSpec:
    activity: str
    kind: str
    channel: str  # "" = every channel
    per_unit: bool
    rate: Decimal
    effective_from: date


def cost_rate_errors(spec: CostRateSpec) -> list[SpecError]:
    errors = []
    if not spec.activity.strip():
        errors.append(SpecError(None, "activity", "Name the activity, e.g. Shipping."))
    if spec.rate is None or spec.rate < 0:
        errors.append(SpecError(None, "rate", "A rate cannot be negative."))
    if CostRate.objects.filter(activity=spec.activity.strip(), kind=spec.kind, channel=spec.channel,
                               effective_from=spec.effective_from).exists():
        errors.append(SpecError(None, "effective_from", (
            "A rate for this activity, interaction kind and channel already starts on that day. "
            "Rates are never edited in place: pick another day (or delete the scheduled rate first).")))
    return errors


def cost_rate_create(*, spec: CostRateSpec, actor: Any) -> CostRate:
    """Add an effective-dated rate (existing rates are never edited); recompute the book after commit."""
    errors = cost_rate_errors(spec)
    if errors:
        raise ConfigurationError(errors)
    with transaction.atomic():
        rate = CostRate(activity=spec.activity.strip(), kind=spec.kind, channel=spec.channel,
                        per_unit=spec.per_unit, rate=spec.rate, effective_from=spec.effective_from)
        actor_stamp(rate, actor, "Rate added on the cost rate settings page")
        rate.save()
        recompute_on_commit()
    return rate


def cost_rate_delete(*, rate_id: int, actor: Any, today: date) -> None:
    """Delete a scheduled (future-dated) rate; rates already in effect explain past figures and stay."""
    with transaction.atomic():
        rate = CostRate.objects.select_for_update().filter(pk=rate_id).first()
        if rate is None:
            raise ConfigurationError([SpecError(None, None, "That rate no longer exists.")])
        if rate.effective_from <= today:
            raise ConfigurationError([SpecError(None, None, (
                "Only rates that start in the future can be deleted: this one already explains figures. "
                "Add a new rate from a later date instead."))])
        ensure_history_baseline(CostRate, [rate])
        actor_stamp(rate, actor, "Scheduled rate deleted on the cost rate settings page")
        rate.delete()
        recompute_on_commit()
