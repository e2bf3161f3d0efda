"""The exports on offer: each one's title, what it holds, its filter form and how its dataset is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from profitability.selectors.accounts import AccountFilters

from . import datasets
from .formats import Dataset
from .forms import (
    OPPORTUNITY_STATUSES,
    AccountsExportForm,
    BalancesExportForm,
    ExportForm,
    LedgerExportForm,
    OpportunitiesExportForm,
    SegmentsExportForm,
)


@dataclass(frozen=True)
class Export:
    key: str
    title: str
    description: str
    form_class: type[ExportForm]
    build: Callable[[Any], Dataset]  # the validated form → the dataset


def _accounts(form: AccountsExportForm) -> Dataset:
    data = form.cleaned_data
    filters = AccountFilters(
        owner_id=form.user.pk if data["owner"] == "me" else None, q=data["q"], tier=data["tier"],
        industry=data["industry"], region=data["region"], status=data["status"], below_target=data["below"],
        sort=data["sort"],
    )
    return datasets.accounts_dataset(filters=filters, segment=data["segment"])


def _segments(form: SegmentsExportForm) -> Dataset:
    return datasets.segments_dataset(dimension=form.cleaned_data["dimension"],
                                     sort=form.cleaned_data["sort"] or "profit")


def _opportunities(form: OpportunitiesExportForm) -> Dataset:
    _label, statuses = OPPORTUNITY_STATUSES[form.cleaned_data["status"]]
    return datasets.opportunities_dataset(owner_id=form.owner_id(), statuses=statuses,
                                          source=form.cleaned_data["source"])


def _ledger(form: LedgerExportForm) -> Dataset:
    data = form.cleaned_data
    start, before = form.occurred_range()
    return datasets.ledger_dataset(filters=datasets.LedgerFilters(
        program_id=data["program"].pk if data["program"] else None, account_id=data["account"], kind=data["kind"],
        occurred_from=start, occurred_before=before,
    ))


def _balances(form: BalancesExportForm) -> Dataset:
    data = form.cleaned_data
    return datasets.balances_dataset(program_id=data["program"].pk if data["program"] else None,
                                     account_id=data["account"])


EXPORTS: dict[str, Export] = {e.key: e for e in [
    Export("accounts", "Accounts and their profitability",
           "One row per account: source IDs, owner, industry, region, segment, tier and rank; revenue, COGS, "
           "cost to serve, net profit and margin, lifetime and trailing 12 months; CAC, the three CLVs and "
           "CLV/CAC; when the figures were computed.", AccountsExportForm, _accounts),
    Export("segments", "Segment P&L",
           "Accounts, revenue, gross margin, cost to serve, net profit and margin per industry, region, segment, "
           "acquisition channel, tier and cluster (active accounts, last 12 months), as ranked at the last book "
           "recompute.", SegmentsExportForm, _segments),
    Export("opportunities", "Opportunity worklist",
           "Upsell and cross-sell opportunities by expected margin, then tier: account, product, kind, "
           "probability, expected margin, the reason in words and the status.", OpportunitiesExportForm,
           _opportunities),
    Export("ledger", "Loyalty ledger",
           "Every points movement — earned, reversed, redeemed, expired, adjusted — with its reason, reward, "
           "time and the enrolment's running balance.", LedgerExportForm, _ledger),
    Export("balances", "Loyalty balances",
           "One row per enrolment: points earned, reversed, redeemed, expired and adjusted, the balance and "
           "what it is worth at the program's point value (the points liability).", BalancesExportForm,
           _balances),
]}
