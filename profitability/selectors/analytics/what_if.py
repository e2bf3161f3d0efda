"""What-if of an account or a segment: profit, formula CLV and tier before and after a scenario."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from crm.models import Account, Interaction, InteractionChannel

from ... import analytics as math
from ...costing import InteractionFact, account_pnl, resolve_rate_windows
from ...models import BookSummary, ClvSettings, CostRate, Tier
from ...models_analytics import SegmentYear
from ...ranking import band_for_value
from ...services import clv_retention, tier_bands
from .segments import SEGMENT_TABS

ZERO = Decimal("0")


@dataclass(frozen=True)
class WhatIfOutcome:
    subject: str
    accounts: int
    base: math.WhatIfBase
    before: Any  # costing.PnL
    after: Any
    clv_before: Decimal
    clv_after: Decimal
    tier_before: Tier | None
    tier_after: Tier | None
    metric_label: str
    snapshot_tier: Tier | None = None
    notes: tuple[str, ...] = ()

    @property
    def profit_change(self) -> Decimal:
        return self.after.net_profit - self.before.net_profit

    @property
    def per_account(self) -> bool:
        return self.accounts > 1


def _windows_and_rates(as_of: date) -> tuple[list, dict[str, tuple[str, bool, Decimal]]]:
    rows = list(CostRate.objects.all())
    windows = resolve_rate_windows(
        [r.as_input() for r in rows],
        channels=InteractionChannel.values,
    )
    unit_rates: dict[str, tuple[str, bool, Decimal]] = {}
    for r in sorted(rows, key=lambda r: r.effective_from):
        if not r.channel and r.effective_from <= as_of:
            unit_rates[r.activity] = (r.kind, r.per_unit, r.rate)
    return windows, unit_rates


def _activity_lines(breakdown: dict, unit_rates: dict) -> dict[str, math.ActivityLine]:
    lines = {}
    for activity, line in breakdown.items():
        count = line.count if hasattr(line, "count") else int(line["count"])
        cost = line.cost if hasattr(line, "cost") else Decimal(str(line["cost"]))
        kind, per_unit, _ = unit_rates.get(activity, ("", False, ZERO))
        lines[activity] = math.ActivityLine(kind, per_unit, count, cost)
    return lines


def _as_of() -> date:
    book = BookSummary.objects.order_by("-computed_at").values_list("as_of", flat=True).first()
    return book or datetime.now(UTC).date()


def account_base(account: Account) -> tuple[math.WhatIfBase, date]:
    """The account's last 12 months (the snapshots' TTM window) priced with ``costing.account_pnl``."""
    as_of = _as_of()
    since = as_of - timedelta(days=365)
    windows, unit_rates = _windows_and_rates(as_of)
    facts = [
        InteractionFact(kind, channel, occurred_at.astimezone(UTC).date(), amount, direct_cost, quantity)
        for kind, channel, occurred_at, amount, direct_cost, quantity in Interaction.objects.filter(
            account=account, occurred_at__gte=datetime.combine(since, time.min, tzinfo=UTC)
        ).values_list("kind", "channel", "occurred_at", "amount", "direct_cost", "quantity")
    ]
    pnl = account_pnl(facts, windows, since=since)

    def total(kind: str, attr: str) -> Decimal:
        return sum((getattr(f, attr) for f in facts if f.kind == kind and f.occurred_on >= since), ZERO)

    def count(kind: str) -> int:
        return sum(1 for f in facts if f.kind == kind and f.occurred_on >= since)

    base = math.WhatIfBase(
        accounts=1, order_revenue=total("order", "amount"), order_cogs=total("order", "direct_cost"),
        orders=count("order"), renewal_revenue=total("renewal", "amount"),
        renewal_cogs=total("renewal", "direct_cost"), return_amount=total("return", "amount"),
        return_cogs=total("return", "direct_cost"), returns=count("return"), support_calls=count("support_call"),
        activities=_activity_lines(pnl.breakdown, unit_rates), unit_rates=unit_rates,
    )
    return base, as_of


def segment_base(row: SegmentYear) -> math.WhatIfBase:
    _, unit_rates = _windows_and_rates(_as_of())
    return math.WhatIfBase(
        accounts=row.accounts, order_revenue=row.order_revenue, order_cogs=row.order_cogs, orders=row.orders,
        renewal_revenue=row.renewal_revenue, renewal_cogs=row.renewal_cogs, return_amount=row.return_amount,
        return_cogs=row.return_cogs, returns=row.returns, support_calls=row.support_calls,
        activities=_activity_lines(row.activities, unit_rates), unit_rates=unit_rates,
    )


def _retention_and_discount(book: BookSummary | None) -> tuple[float, float]:
    settings = ClvSettings.current()
    return clv_retention(settings, book), float(settings.discount_rate)


def _tier_for(value: float, book: BookSummary | None, tiers: list[Tier]) -> Tier | None:
    if book is None or not tiers or not book.tier_floors:
        return None
    bands = tier_bands(tiers)
    floors = {int(k): v for k, v in book.tier_floors.items()}
    key = band_for_value(value, floors, bands)
    return next((t for t in tiers if t.pk == key), None)


def what_if(*, base: math.WhatIfBase, scenario: math.Scenario, subject: str, lifetime_net_profit: Decimal,
            clv_predictive: Decimal | None, snapshot_tier: Tier | None = None) -> WhatIfOutcome:
    """Before and after for ``base``: profit with ``analytics.what_if_pnl`` (``costing.PnL``), formula CLV with
    ``ranking.formula_clv``, and the tier with ``ranking.band_for_value`` against the book's tier floors.

    For a segment every figure is per average account for CLV and tier (``lifetime_net_profit`` and
    ``clv_predictive`` are the segment's sums)."""
    book = BookSummary.objects.order_by("-computed_at").only(
        "tier_floors", "annual_retention", "ranking_metric").first()
    tiers = list(Tier.objects.order_by("position"))
    retention, discount = _retention_and_discount(book)
    before = math.what_if_pnl(base, math.Scenario())
    after = math.what_if_pnl(base, scenario)
    n = Decimal(max(base.accounts, 1))
    clv_before = math.clv_of(before.net_profit / n, retention=retention, discount_rate=discount)
    clv_after = math.clv_of(after.net_profit / n, retention=retention, discount_rate=discount)
    metric = book.ranking_metric if book else ClvSettings.RankingMetric.NET_PROFIT_TTM
    if metric == ClvSettings.RankingMetric.NET_PROFIT:
        value_before = lifetime_net_profit / n
        value_after = value_before + (after.net_profit - before.net_profit) / n
    elif metric == ClvSettings.RankingMetric.CLV_PREDICTIVE and clv_predictive is not None:
        value_before = clv_predictive / n
        value_after = value_before + clv_after - clv_before
    else:
        value_before, value_after = before.net_profit / n, after.net_profit / n
    notes = []
    if base.orders == 0 and (scenario.price_pct or scenario.volume_pct or scenario.return_rate_pct is not None):
        notes.append("No orders in the last 12 months: price, volume and return-rate changes have nothing to act on.")
    return WhatIfOutcome(
        subject=subject, accounts=base.accounts, base=base, before=before, after=after, clv_before=clv_before,
        clv_after=clv_after, tier_before=_tier_for(float(value_before), book, tiers),
        tier_after=_tier_for(float(value_after), book, tiers),
        metric_label=dict(ClvSettings.RankingMetric.choices).get(metric, metric), snapshot_tier=snapshot_tier,
        notes=tuple(notes),
    )


def account_what_if(*, account_id: int, scenario: math.Scenario) -> WhatIfOutcome | None:
    account = Account.objects.filter(pk=account_id).select_related("snapshot__tier").first()
    if account is None:
        return None
    snapshot = getattr(account, "snapshot", None)
    base, _ = account_base(account)
    return what_if(
        base=base, scenario=scenario, subject=account.name,
        lifetime_net_profit=snapshot.net_profit if snapshot else ZERO,
        clv_predictive=snapshot.clv_predictive if snapshot else None,
        snapshot_tier=snapshot.tier if snapshot else None,
    )


def segment_what_if(*, dimension: str, value: str, scenario: math.Scenario) -> WhatIfOutcome | None:
    row = SegmentYear.objects.filter(dimension=dimension, value=value).first()
    if row is None:
        return None
    label = dict(SEGMENT_TABS).get(dimension, dimension)
    return what_if(base=segment_base(row), scenario=scenario, subject=f"{label}: {value}",
                   lifetime_net_profit=row.net_profit, clv_predictive=row.clv_predictive)


def account_matches(q: str, limit: int = 10) -> list[Account]:
    if not q:
        return []
    return list(Account.objects.filter(name__icontains=q).exclude(status=Account.Status.PROSPECT)
                .order_by("name").only("id", "name", "status")[:limit])


def segment_choices() -> list[tuple[str, str, list[str]]]:
    """(label, dimension, values) per segment dimension, for the what-if picker."""
    values: dict[str, list[str]] = {}
    for dimension, value in SegmentYear.objects.order_by("dimension", "value").values_list("dimension", "value"):
        values.setdefault(dimension, []).append(value)
    return [(label, key, values[key]) for key, label in SEGMENT_TABS if key in values]
