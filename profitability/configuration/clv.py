"""The CLV and ranking settings: saving them, and requesting a refit of the CLV models."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from ..models import ClvSettings
from .common import ConfigurationError, SpecError, actor_stamp, ensure_history_baseline, recompute_on_commit


@dataclass(frozen=True)
class ClvSpec:
    discount_rate: Decimal  # a fraction, 0.1 = 10 %
    horizon_months: int
    ranking_metric: str
    retention_override: Decimal | None  # a fraction; None = measured from the book


def clv_settings_save(*, spec: ClvSpec, actor: Any) -> bool:
    """Save the CLV and ranking settings; recompute the book after commit. False when nothing changed."""
    if spec.ranking_metric not in ClvSettings.RankingMetric.values:
        raise ConfigurationError([SpecError(None, "ranking_metric", "Choose one of the ranking metrics.")])
    with transaction.atomic():
        ClvSettings.current()
        settings = ClvSettings.objects.select_for_update().get(pk=1)
        wanted = {
            "discount_rate": spec.discount_rate, "horizon_months": spec.horizon_months,
            "ranking_metric": spec.ranking_metric, "retention_override": spec.retention_override,
        }
        if all(getattr(settings, k) == v for k, v in wanted.items()):
            return False
        ensure_history_baseline(ClvSettings, [settings])
        for k, v in wanted.items():
            setattr(settings, k, v)
        try:
            settings.full_clean()
        except ValidationError as exc:
            raise ConfigurationError([
                SpecError(None, name if name != NON_FIELD_ERRORS else None, message)
                for name, messages in exc.message_dict.items() for message in messages
            ]) from exc
        actor_stamp(settings, actor, "CLV settings edited on the CLV settings page")
        settings.save()
        recompute_on_commit()
    return True


def clv_refit_request() -> None:
    """Refit the CLV models, then recompute the book with the new parameters (on commit, in that order)."""
    from celery import chain

    from .. import tasks

    transaction.on_commit(lambda: chain(tasks.fit_clv_models.si(), tasks.recompute_book.si()).delay())
