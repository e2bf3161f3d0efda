"""What a campaign's contacts cost, and a variant's P&L with them. Pure: no Django.

A campaign reaches each account of a contacted variant once, when the account is assigned. That contact
costs the campaign's own ``cost_per_contact`` when one is set (a printed mailing, a call centre's price);
otherwise what the cost rates say a marketing touch on the campaign's channel costs on that day (the
effective-dated ``marketing_touch`` rates, channel-specific before any-channel, every activity summed — the
same resolution the profitability engine uses). A hold-out control is not contacted and costs nothing.

Variant net profit = net revenue (orders and renewals − returns) − COGS − cost-to-serve in the response
window − contact cost − offer cost. A discount is already inside revenue (orders are recorded at the price
paid), so it is not subtracted twice; a loyalty bonus costs its points at the program's point value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from profitability.costing import RateWindow

ZERO = Decimal("0")
CENT = Decimal("0.01")
CONTACT_KIND = "marketing_touch"


def contact_rate(rates: Sequence[RateWindow], *, channel: str, on: date) -> Decimal:
    """The cost of one marketing touch on ``channel`` on day ``on``: the sum of the activities' rates in force
    (a per-unit rate counts one unit); zero before any rate exists."""
    return sum((r.rate for r in rates if r.kind == CONTACT_KIND and r.channel == channel and r.valid_from <= on
                and (r.valid_to is None or on < r.valid_to)), ZERO)


def bonus_cost(points: int, point_value: Decimal) -> Decimal:
    """What bonus points cost: points × the program's value per point, in the currency."""
    return Decimal(points) * point_value


@dataclass(frozen=True)
class AccountOutcome:
    """One assigned account over its response window (money in the currency)."""

    net_revenue: Decimal
    cogs: Decimal
    cost_to_serve: Decimal
    contact_cost: Decimal
    offer_cost: Decimal
    responded: bool

    @property
    def net_profit(self) -> Decimal:
        return self.net_revenue - self.cogs - self.cost_to_serve - self.contact_cost - self.offer_cost


@dataclass(frozen=True)
class VariantPnl:
    """A variant's totals over its accounts' windows, rounded to cents."""

    accounts: int
    responders: int
    net_revenue: Decimal
    cogs: Decimal
    cost_to_serve: Decimal
    contact_cost: Decimal
    offer_cost: Decimal

    @property
    def gross_margin(self) -> Decimal:
        return self.net_revenue - self.cogs

    @property
    def net_profit(self) -> Decimal:
        return self.gross_margin - self.cost_to_serve - self.contact_cost - self.offer_cost

    @property
    def net_profit_per_account(self) -> Decimal | None:
        return (self.net_profit / self.accounts).quantize(CENT) if self.accounts else None

    @property
    def revenue_per_account(self) -> Decimal | None:
        return (self.net_revenue / self.accounts).quantize(CENT) if self.accounts else None

    @property
    def contact_cost_per_account(self) -> Decimal | None:
        return (self.contact_cost / self.accounts).quantize(CENT) if self.accounts else None


def variant_pnl(outcomes: Sequence[AccountOutcome]) -> VariantPnl:
    def total(attr: str) -> Decimal:
        return sum((getattr(o, attr) for o in outcomes), ZERO).quantize(CENT)

    return VariantPnl(
        accounts=len(outcomes), responders=sum(1 for o in outcomes if o.responded),
        net_revenue=total("net_revenue"), cogs=total("cogs"), cost_to_serve=total("cost_to_serve"),
        contact_cost=total("contact_cost"), offer_cost=total("offer_cost"),
    )
