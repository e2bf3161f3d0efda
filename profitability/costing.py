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

import numpy as np

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


# --- the cost plan: rate windows as a few filtered counts per account ----------------------------------------


@dataclass(frozen=True)
class RateClass:
    """The interactions one or more rate windows apply to: a kind, some channels (None: every channel), and
    a date range [valid_from, valid_to)."""

    kind: str
    channels: tuple[str, ...] | None
    valid_from: date
    valid_to: date | None
    needs_units: bool  # some per-unit rate is charged on this class's quantities


@dataclass(frozen=True)
class CostTerm:
    """One rate: ``rate`` × (count or units) of the interactions in class ``class_index`` goes to ``activity``."""

    activity: str
    class_index: int
    per_unit: bool
    rate: Decimal


@dataclass(frozen=True)
class CostPlan:
    """Rate windows regrouped so cost-to-serve needs only per-class counts (and units) of an account's
    interactions: windows of one activity, kind, rate and date range on several channels become one class,
    and activities charging the same interactions (order handling, shipping) share it. A whole-book query
    then counts a handful of classes per account in one pass instead of joining every interaction to the
    rate table."""

    classes: tuple[RateClass, ...]
    terms: tuple[CostTerm, ...]


def cost_plan(windows: Iterable[RateWindow], channels: Sequence[str]) -> CostPlan:
    """The plan for ``windows`` resolved over ``channels`` (see :func:`resolve_rate_windows`)."""
    grouped: dict[tuple, list[str]] = {}
    for w in windows:
        grouped.setdefault((w.activity, w.kind, w.per_unit, w.rate, w.valid_from, w.valid_to), []).append(w.channel)
    every = set(channels)
    index: dict[tuple, int] = {}
    units: set[int] = set()
    terms = []
    for (activity, kind, per_unit, rate, valid_from, valid_to), on in grouped.items():
        key = (kind, None if set(on) >= every else tuple(sorted(set(on))), valid_from, valid_to)
        position = index.setdefault(key, len(index))
        if per_unit:
            units.add(position)
        terms.append(CostTerm(activity, position, per_unit, rate))
    classes = tuple(RateClass(*key, needs_units=position in units) for key, position in index.items())
    return CostPlan(classes=classes, terms=tuple(terms))


def plan_breakdown(plan: CostPlan, counts: Sequence[int], units: Sequence[int]) -> dict[str, ActivityCost]:
    """Cost by activity from per-class interaction counts and unit totals (same order as ``plan.classes``).

    Equal to :func:`account_pnl`'s breakdown over the same interactions: an activity appears once any of its
    interactions is counted, even at a zero rate.
    """
    counted: dict[str, int] = {}
    costs: dict[str, Decimal] = {}
    for term in plan.terms:
        n = counts[term.class_index]
        if n:
            counted[term.activity] = counted.get(term.activity, 0) + n
            charged = term.rate * (units[term.class_index] if term.per_unit else n)
            costs[term.activity] = costs.get(term.activity, ZERO) + charged
    return {activity: ActivityCost(counted[activity], costs[activity]) for activity in sorted(counted)}


@dataclass(frozen=True)
class GroupFact:
    """An account's interactions of one kind and channel, in one rate period, before or inside the trailing
    year (``recent``), summed: what a one-account query returns instead of every interaction."""

    kind: str
    channel: str
    period: int  # index into ``plan_periods``: the stretch between two dates where some rate starts or stops
    recent: bool
    count: int
    amount: Decimal
    direct_cost: Decimal
    units: int


def plan_periods(plan: CostPlan) -> list[date]:
    """Every date a class of ``plan`` starts or stops, sorted: period ``p`` runs from ``[p - 1]`` (or the
    beginning of time, p = 0) to ``[p]`` (or on, for the last)."""
    days = {c.valid_from for c in plan.classes} | {c.valid_to for c in plan.classes if c.valid_to is not None}
    return sorted(days)


def class_measures(plan: CostPlan, groups: Iterable[GroupFact], *, recent_only: bool) -> tuple[list[int], list[int]]:
    """Per class of ``plan``: how many of the grouped interactions it covers, and their units."""
    periods = plan_periods(plan)
    counts, units = [0] * len(plan.classes), [0] * len(plan.classes)
    for g in groups:
        if recent_only and not g.recent:
            continue
        start = periods[g.period - 1] if g.period > 0 else None
        for n, c in enumerate(plan.classes):
            if (c.kind == g.kind and (c.channels is None or g.channel in c.channels)
                    and start is not None and c.valid_from <= start
                    and (c.valid_to is None or (g.period < len(periods) and periods[g.period] <= c.valid_to))):
                counts[n] += g.count
                units[n] += g.units
    return counts, units


def groups_pnl(plan: CostPlan, groups: Sequence[GroupFact], *, recent_only: bool = False) -> PnL:
    """:func:`account_pnl` over summed groups instead of single interactions (the trailing year only with
    ``recent_only``)."""
    revenue = returns = cogs = ZERO
    orders = 0
    for g in groups:
        if recent_only and not g.recent:
            continue
        if g.kind in REVENUE_KINDS:
            revenue += g.amount
            cogs += g.direct_cost
        elif g.kind == RETURN_KIND:
            returns += g.amount
            cogs -= g.direct_cost
        if g.kind in ORDER_KINDS:
            orders += g.count
    breakdown = plan_breakdown(plan, *class_measures(plan, groups, recent_only=recent_only))
    return PnL(revenue=revenue, returns=returns, cogs=cogs, orders=orders, breakdown=breakdown,
               cost_to_serve=sum((c.cost for c in breakdown.values()), ZERO))


def plan_breakdowns(plan: CostPlan, counts: np.ndarray, units: np.ndarray) -> list[dict[str, ActivityCost]]:
    """:func:`plan_breakdown` for many accounts at once: ``counts`` and ``units`` are (accounts × classes)
    integer matrices. Rates are whole cents (money has two decimals), so the matrix products in int64 cents
    are exact."""
    activities = sorted({term.activity for term in plan.terms})
    column = {activity: j for j, activity in enumerate(activities)}
    shape = (len(plan.classes), len(activities))
    charged_count, per_interaction, per_unit = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(
        shape, np.int64)
    for term in plan.terms:
        cents = term.rate * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"rate {term.rate} of {term.activity} is not a whole number of cents")
        charged_count[term.class_index, column[term.activity]] += 1
        (per_unit if term.per_unit else per_interaction)[term.class_index, column[term.activity]] += int(cents)
    if not activities or counts.size == 0:
        return [{} for _ in range(counts.shape[0])]
    activity_counts = counts @ charged_count
    activity_cents = counts @ per_interaction + units @ per_unit
    out = []
    for row_counts, row_cents in zip(activity_counts.tolist(), activity_cents.tolist(), strict=True):
        out.append({activities[j]: ActivityCost(n, Decimal(row_cents[j]).scaleb(-2))
                    for j, n in enumerate(row_counts) if n})
    return out
