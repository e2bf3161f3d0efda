"""Activity-based cost-to-serve and the per-account P&L, as pure functions (no Django).

Conventions (see ``crm.models.Interaction``):
- revenue = Σ amount of ``order`` and ``renewal`` interactions;
- returns = Σ amount of ``return`` interactions (revenue refunded);
- COGS = Σ direct_cost of orders and renewals − Σ direct_cost of returns (goods back in stock);
- gross margin = revenue − returns − COGS;
- cost-to-serve = Σ over activities of count × rate (or units × rate for per-unit rates), where each rate
  is effective-dated: a rate applies to interactions on or after its ``effective_from`` date until the next
  rate for the same activity, kind and channel; a channel-specific rate beats the generic (any-channel) one;
- net profit = gross margin − cost-to-serve.

All money is ``Decimal``; counts are ``int``; dates are UTC calendar dates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
REVENUE_KINDS = frozenset({"order", "renewal"})
RETURN_KIND = "return"
ORDER_KINDS = frozenset({"order"})


@dataclass(frozen=True)
class CostRateInput:
    """One effective-dated cost rate as an admin entered it. ``channel`` None means every channel."""

    activity: str
    kind: str
    channel: str | None
    per_unit: bool
    rate: Decimal
    effective_from: date


@dataclass(frozen=True)
class RateWindow:
    """A resolved rate: applies to interactions of ``kind`` on ``channel`` dated in [valid_from, valid_to)."""

    activity: str
    kind: str
    channel: str
    per_unit: bool
    rate: Decimal
    valid_from: date
    valid_to: date | None  # None: open-ended


@dataclass(frozen=True)
class InteractionFact:
    """The parts of one interaction the P&L needs."""

    kind: str
    channel: str
    occurred_on: date
    amount: Decimal
    direct_cost: Decimal
    quantity: int | None = None


@dataclass(frozen=True)
class ActivityCost:
    count: int
    cost: Decimal


@dataclass(frozen=True)
class PnL:
    """One account's P&L over a period."""

    revenue: Decimal = ZERO
    returns: Decimal = ZERO
    cogs: Decimal = ZERO
    cost_to_serve: Decimal = ZERO
    orders: int = 0
    breakdown: dict[str, ActivityCost] = field(default_factory=dict)

    @property
    def gross_margin(self) -> Decimal:
        return self.revenue - self.returns - self.cogs

    @property
    def net_profit(self) -> Decimal:
        return self.gross_margin - self.cost_to_serve

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.returns

    @property
    def net_margin_pct(self) -> Decimal | None:
        """Net profit as a percentage of net revenue (revenue − returns); None without net revenue."""
        if self.net_revenue <= 0:
            return None
        return (self.net_profit * 100 / self.net_revenue).quantize(CENT)


def resolve_rate_windows(rates: Iterable[CostRateInput], channels: Sequence[str]) -> list[RateWindow]:
    """Expand effective-dated rates into non-overlapping windows per (activity, kind, channel).

    For each channel, at any date the latest channel-specific rate already in effect wins; failing that,
    the latest generic rate in effect. Before the first rate of an activity there is no cost for it.
    """
    by_key: dict[tuple[str, str], list[CostRateInput]] = defaultdict(list)
    for rate in rates:
        by_key[(rate.activity, rate.kind)].append(rate)

    windows: list[RateWindow] = []
    for (activity, kind), entries in sorted(by_key.items()):
        generic = sorted((r for r in entries if r.channel is None), key=lambda r: r.effective_from)
        for channel in channels:
            specific = sorted((r for r in entries if r.channel == channel), key=lambda r: r.effective_from)
            breakpoints = sorted({r.effective_from for r in generic} | {r.effective_from for r in specific})
            resolved: list[tuple[date, CostRateInput]] = []
            for start in breakpoints:
                chosen = _latest_on(specific, start) or _latest_on(generic, start)
                if chosen is not None and (not resolved or resolved[-1][1] != chosen):
                    resolved.append((start, chosen))
            for index, (start, chosen) in enumerate(resolved):
                end = resolved[index + 1][0] if index + 1 < len(resolved) else None
                windows.append(
                    RateWindow(activity, kind, channel, chosen.per_unit, chosen.rate, start, end)
                )
    return windows


def _latest_on(entries: Sequence[CostRateInput], day: date) -> CostRateInput | None:
    in_effect = [r for r in entries if r.effective_from <= day]
    return in_effect[-1] if in_effect else None


def windows_for(windows: Iterable[RateWindow]) -> dict[tuple[str, str], list[RateWindow]]:
    """Index windows by (kind, channel) for lookups."""
    index: dict[tuple[str, str], list[RateWindow]] = defaultdict(list)
    for window in windows:
        index[(window.kind, window.channel)].append(window)
    return index


def interaction_costs(
    fact: InteractionFact, index: dict[tuple[str, str], list[RateWindow]]
) -> list[tuple[str, Decimal]]:
    """The (activity, cost) pairs one interaction incurs."""
    costs = []
    for window in index.get((fact.kind, fact.channel), ()):
        if window.valid_from <= fact.occurred_on and (window.valid_to is None or fact.occurred_on < window.valid_to):
            units = (fact.quantity or 0) if window.per_unit else 1
            costs.append((window.activity, window.rate * units))
    return costs


def account_pnl(facts: Iterable[InteractionFact], windows: Iterable[RateWindow], *, since: date | None = None) -> PnL:
    """The P&L of one account's interactions dated on or after ``since`` (all of them when None)."""
    index = windows_for(windows)
    revenue = returns = cogs = ZERO
    orders = 0
    counts: dict[str, int] = defaultdict(int)
    costs: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for fact in facts:
        if since is not None and fact.occurred_on < since:
            continue
        if fact.kind in REVENUE_KINDS:
            revenue += fact.amount
            cogs += fact.direct_cost
        elif fact.kind == RETURN_KIND:
            returns += fact.amount
            cogs -= fact.direct_cost
        if fact.kind in ORDER_KINDS:
            orders += 1
        for activity, cost in interaction_costs(fact, index):
            counts[activity] += 1
            costs[activity] += cost
    breakdown = {activity: ActivityCost(counts[activity], costs[activity]) for activity in sorted(counts)}
    return PnL(
        revenue=revenue,
        returns=returns,
        cogs=cogs,
        cost_to_serve=sum((c.cost for c in breakdown.values()), ZERO),
        orders=orders,
        breakdown=breakdown,
    )
