"""Plain-words drivers of an account's profit or loss — pure, no Django.

Each driver carries a weight (its money effect) so the biggest come first; the page shows the top few.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .costing import PnL


@dataclass(frozen=True)
class Driver:
    text: str
    weight: float  # absolute money effect, for ordering


def _pct(part: Decimal, whole: Decimal) -> int:
    return round(float(part) / float(whole) * 100)


def _money(value: Decimal, symbol: str) -> str:
    """As the pages write money: "€1,235", "−€44"."""
    return f"−{symbol}{abs(value):,.0f}" if value < 0 else f"{symbol}{value:,.0f}"


def profit_drivers(
    pnl: PnL,
    *,
    tier_name: str | None,
    tier_median_counts: dict[str, float],
    currency_symbol: str,
    order_revenue: Decimal | None = None,
    limit: int = 4,
) -> list[str]:
    """The main drivers of ``pnl`` in words, biggest money effect first.

    ``tier_median_counts`` maps an activity to the median count per account in the account's tier; an
    activity at 2× that median or more is called out ("3× the Silver median support calls").
    ``order_revenue`` is the revenue of the orders alone (renewals are revenue but not orders), for the
    revenue per order.
    """
    drivers: list[Driver] = []
    gross = pnl.gross_margin
    if pnl.revenue > 0 and pnl.returns > 0:
        share = _pct(pnl.returns, pnl.revenue)
        if share >= 10:
            drivers.append(Driver(f"Returns take back {share} % of revenue", float(pnl.returns)))
    for activity, cost in pnl.breakdown.items():
        if cost.cost <= 0:
            continue
        if gross > 0:
            share = _pct(cost.cost, gross)
            if share >= 10:
                drivers.append(Driver(f"{activity} costs {share} % of gross margin", float(cost.cost)))
        median = tier_median_counts.get(activity)
        if tier_name and median and median > 0 and cost.count >= 2 * median:
            ratio = cost.count / median
            drivers.append(
                Driver(f"{ratio:.0f}× the {tier_name} median {activity.lower()} ({cost.count} vs {median:g})",
                       float(cost.cost) * 0.9)
            )
    if pnl.net_profit < 0:
        if gross <= 0:
            text = f"Gross margin is {_money(gross, currency_symbol)} before any cost-to-serve"
        else:
            text = (f"Cost-to-serve ({_money(pnl.cost_to_serve, currency_symbol)}) exceeds the gross margin "
                    f"({_money(gross, currency_symbol)})")
        drivers.append(Driver(text, float(abs(pnl.net_profit)) + float(pnl.cost_to_serve)))
    elif pnl.revenue > 0 and pnl.net_profit > 0:
        cts_share = _pct(pnl.cost_to_serve, pnl.revenue)
        if cts_share <= 5:
            drivers.append(Driver(f"Cheap to serve: cost-to-serve is {cts_share} % of revenue", float(pnl.net_profit)))
        per_order = (order_revenue if order_revenue is not None else pnl.revenue) / pnl.orders if pnl.orders else 0
        if per_order >= 1000:
            drivers.append(
                Driver(f"Large orders: {_money(per_order, currency_symbol)} per order over {pnl.orders} orders",
                       float(pnl.revenue) * 0.1)
            )
    if not drivers and pnl.revenue == 0:
        drivers.append(Driver("No revenue yet", 0.0))
    drivers.sort(key=lambda d: d.weight, reverse=True)
    return [d.text for d in drivers[:limit]]
