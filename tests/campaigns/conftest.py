"""Loyalty, opportunity and campaign fixtures that read like the domain."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from campaigns.models import EarningRule, Enrolment, LoyaltyProgram, Reward
from profitability.models import Tier

D = Decimal
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ENROLLED = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def program(db):  # type: ignore[no-untyped-def]
    """'Partners Club': 0.1 points per euro of net revenue, 50 per on-time payment, 20 per survey answered."""
    club = LoyaltyProgram.objects.create(
        name="Partners Club", status=LoyaltyProgram.Status.ACTIVE, starts_on=date(2024, 1, 1),
        point_value=D("0.0100"),
    )
    EarningRule.objects.create(program=club, trigger=EarningRule.Trigger.NET_REVENUE, points=D("0.1"))
    EarningRule.objects.create(program=club, trigger=EarningRule.Trigger.ON_TIME_PAYMENT, points=D("50"))
    EarningRule.objects.create(program=club, trigger=EarningRule.Trigger.SURVEY, points=D("20"))
    Reward.objects.create(program=club, name="5 % off the next order", kind=Reward.Kind.DISCOUNT, point_cost=300,
                          discount_pct=D("5"))
    Reward.objects.create(program=club, name="Gold service for 30 days", kind=Reward.Kind.TIER_UPGRADE,
                          point_cost=1000, upgrade_tier=Tier.objects.order_by("position").first(), upgrade_days=30)
    return club


def enrol(program: LoyaltyProgram, account, when: datetime = ENROLLED) -> Enrolment:  # type: ignore[no-untyped-def]
    return Enrolment.objects.create(program=program, account=account, enrolled_at=when,
                                    method=Enrolment.Method.MANUAL)
