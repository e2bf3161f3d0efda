"""What one interaction is worth in points under one earning rule. Pure: no Django.

- net revenue: an order or a renewal earns ``amount × rate`` points; a return takes ``amount × rate``
  back (net revenue = orders and renewals − returns);
- on-time payment: a payment made on or before its invoice's due date earns ``rate`` points;
- renewal, survey answer, promotion response: ``rate`` points each.

Points are whole numbers, rounded toward zero (a return never takes back more than its order earned).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

NET_REVENUE = "net_revenue"
ON_TIME_PAYMENT = "on_time_payment"
RENEWAL = "renewal"
SURVEY = "survey"
PROMOTION_RESPONSE = "promotion_response"


@dataclass(frozen=True)
class Fact:
    kind: str
    occurred_at: datetime
    amount: Decimal
    due_on: date | None = None


def whole(points: Decimal) -> int:
    return int(points.quantize(Decimal(1), rounding=ROUND_DOWN))


def points_for(trigger: str, rate: Decimal, fact: Fact) -> int:
    """Signed points ``fact`` is worth under a rule of ``trigger`` paying ``rate``; 0 when it does not apply."""
    if trigger == NET_REVENUE:
        if fact.kind in ("order", "renewal"):
            return whole(fact.amount * rate)
        if fact.kind == "return":
            return -whole(fact.amount * rate)
        return 0
    if trigger == ON_TIME_PAYMENT:
        if fact.kind == "payment" and fact.due_on is not None and fact.occurred_at.date() <= fact.due_on:
            return whole(rate)
        return 0
    if trigger in (RENEWAL, SURVEY, PROMOTION_RESPONSE):
        return whole(rate) if fact.kind == trigger else 0
    raise ValueError(f"unknown earning trigger {trigger!r}")


def describe(trigger: str, rate: Decimal, fact: Fact, currency: str) -> str:
    day = f"{fact.occurred_at:%-d %b %Y}"
    if trigger == NET_REVENUE:
        what = {"order": "Order", "renewal": "Renewal", "return": "Return"}.get(fact.kind, fact.kind)
        sign = "−" if fact.kind == "return" else ""
        return f"{what} of {day}: {sign}{currency} {fact.amount:,.2f} net revenue × {rate.normalize():f} points"
    return {
        ON_TIME_PAYMENT: f"Payment of {day} on time (due {fact.due_on:%-d %b %Y})" if fact.due_on else "Payment",
        RENEWAL: f"Contract renewal of {day}",
        SURVEY: f"Survey answered on {day}",
        PROMOTION_RESPONSE: f"Promotion response of {day}",
    }[trigger]


# "<What> of <day>: <sign><currency> <amount> net revenue × <rate> points", as ``describe`` writes it.
_REVENUE_IN_REASON = re.compile(r"^(?P<what>\w+ of [^:]+): −?\S+ [\d,]+\.\d{2} net revenue × [\d.]+ points$")


def reason_without_money(reason: str) -> str:
    """``reason`` for service staff, who never see revenue: "Order of 1 Mar 2025" without its amount."""
    found = _REVENUE_IN_REASON.match(reason)
    return found["what"] if found else reason


def kinds_for(trigger: str) -> tuple[str, ...]:
    """The interaction kinds a rule of ``trigger`` can award points for."""
    return {
        NET_REVENUE: ("order", "renewal", "return"),
        ON_TIME_PAYMENT: ("payment",),
        RENEWAL: ("renewal",),
        SURVEY: ("survey",),
        PROMOTION_RESPONSE: ("promotion_response",),
    }[trigger]
