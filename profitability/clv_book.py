"""Fitting the statistical CLV models on the book and storing the population parameters.

The per-customer summaries are built in SQL (one pass over orders), the fits are the pure functions in
``profitability.clv``; per-account predictions later use the stored parameters in closed form, so
recomputing one account never refits a population model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from crm.models import Account, Interaction, InteractionKind

from .clv import bgnbd, gamma_gamma, sbg
from .models import ClvModelFit

log = logging.getLogger(__name__)
DAYS_PER_WEEK = 7.0
MIN_SAMPLE = 10  # accounts a model needs before its fit means anything
MAX_DROPOUT_PARAM = 1e3  # caps BG/NBD a, b when the book shows no dropout heterogeneity (see bgnbd.fit)


@dataclass(frozen=True)
class RepeatSummary:
    frequency: np.ndarray  # repeat orders (orders − 1)
    recency: np.ndarray  # weeks from first to last order
    T: np.ndarray  # weeks from first order to the as-of date
    monetary_value: np.ndarray  # mean order value


def repeat_summary(*, as_of: date) -> RepeatSummary:
    """(x, t_x, T, m̄) per repeat-purchase account with at least one order, time in weeks."""
    rows = (
        Interaction.objects.filter(
            kind=InteractionKind.ORDER, account__relationship=Account.Relationship.REPEAT,
            occurred_at__lt=datetime.combine(as_of, time.min, tzinfo=UTC),
        )
        .values("account_id")
        .annotate(n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at"), revenue=Sum("amount"))
        .values_list("n", "first", "last", "revenue")
    )
    data = list(rows)
    as_of_dt = datetime.combine(as_of, time.min, tzinfo=UTC)
    n = np.array([r[0] for r in data], dtype=float)
    first_days = np.array([(as_of_dt - r[1]).total_seconds() / 86400 for r in data], dtype=float)
    last_days = np.array([(as_of_dt - r[2]).total_seconds() / 86400 for r in data], dtype=float)
    revenue = np.array([float(r[3]) for r in data], dtype=float)
    return RepeatSummary(
        frequency=np.maximum(n - 1, 0),
        recency=np.maximum(first_days - last_days, 0) / DAYS_PER_WEEK,
        T=first_days / DAYS_PER_WEEK,
        monetary_value=np.divide(revenue, n, out=np.zeros_like(revenue), where=n > 0),
    )


@dataclass(frozen=True)
class ContractSummary:
    periods: np.ndarray  # whole contract years observed
    churned: np.ndarray  # bool: churned at the end of ``periods`` (>= 1) rather than still active


def contract_summary(*, as_of: date) -> ContractSummary:
    """Per contractual account: years observed and whether it churned (annual contract periods)."""
    rows = Account.objects.filter(
        relationship=Account.Relationship.CONTRACTUAL, acquired_on__isnull=False, acquired_on__lt=as_of
    ).values_list("acquired_on", "churned_on", "status")
    periods, churned = [], []
    for acquired_on, churned_on, status in rows:
        if status == Account.Status.CHURNED and churned_on:
            years = (churned_on - acquired_on).days / 365.25
            periods.append(max(int(np.ceil(years)), 1))
            churned.append(True)
        else:
            periods.append(int((as_of - acquired_on).days // 365.25))
            churned.append(False)
    return ContractSummary(np.array(periods, dtype=int), np.array(churned, dtype=bool))


def clv_models_fit(*, now: datetime | None = None) -> list[ClvModelFit]:
    """Fit BG/NBD, Gamma-Gamma and sBG on the book and store each fit (the latest converged one is used)."""
    now = now or timezone.now()
    as_of = now.astimezone(UTC).date()
    fits: list[ClvModelFit] = []
    summary = repeat_summary(as_of=as_of)
    repeat = summary.frequency > 0
    # Each model needs data it may not have yet (a young book has no repeat buyers, no churned contract):
    # skip that model, keep the others, and let predictions fall back to the formula CLV meanwhile.
    if repeat.sum() >= MIN_SAMPLE:
        result = bgnbd.fit(summary.frequency, summary.recency, summary.T, max_dropout_param=MAX_DROPOUT_PARAM)
        fits.append(_fit_row(ClvModelFit.Model.BG_NBD, result, "weeks", now))
        gg = gamma_gamma.fit(summary.frequency[repeat], summary.monetary_value[repeat])
        correlation = gamma_gamma.spend_frequency_correlation(summary.frequency[repeat], summary.monetary_value[repeat])
        fits.append(_fit_row(ClvModelFit.Model.GAMMA_GAMMA, gg, "money", now,
                             {"spend_frequency_correlation": round(float(correlation), 4)
                              if np.isfinite(correlation) else None}))
    else:
        log.info("Not fitting BG/NBD and Gamma-Gamma: %d repeat buyers (need %d)", int(repeat.sum()), MIN_SAMPLE)
    contracts = contract_summary(as_of=as_of)
    if contracts.periods.size >= MIN_SAMPLE and contracts.churned.any():
        result = sbg.fit_censored(contracts.periods, contracts.churned)
        fits.append(_fit_row(ClvModelFit.Model.SBG, result, "years", now))
    else:
        log.info("Not fitting sBG: %d contracts, %d churned", contracts.periods.size, int(contracts.churned.sum()))
    with transaction.atomic():
        for fit in fits:
            fit.save()
    return fits


def _fit_row(model: str, result, time_unit: str, now: datetime, diagnostics: dict | None = None) -> ClvModelFit:  # type: ignore[no-untyped-def]
    data = result.to_dict()
    return ClvModelFit(
        model=model, params=data["params"], log_likelihood=float(result.log_likelihood), sample_size=int(result.n),
        time_unit=time_unit, converged=bool(result.converged), fitted_at=now,
        diagnostics={**(diagnostics or {}), "message": result.message, "iterations": result.iterations},
    )
