"""A small known book for the exports: three accounts with figures, segment P&L, opportunities and a ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from campaigns.models import EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Opportunity, Reward
from crm.models import AccountSourceId
from profitability.models import AccountSnapshot, SegmentPnl, Tier
from tests.factories import AccountFactory, ProductFactory

D = Decimal
COMPUTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
T3 = datetime(2025, 9, 1, 10, 0, tzinfo=UTC)


def snapshot(account, *, tier, rank, revenue, cogs, cost_to_serve, **extra) -> AccountSnapshot:  # type: ignore[no-untyped-def]
    gross = revenue - cogs
    net = gross - cost_to_serve
    figures = dict(
        revenue=revenue, cogs=cogs, gross_margin=gross, cost_to_serve=cost_to_serve, net_profit=net,
        net_margin_pct=(net / revenue * 100).quantize(D("0.01")) if revenue else None,
        revenue_ttm=revenue, gross_margin_ttm=gross, cost_to_serve_ttm=cost_to_serve, net_profit_ttm=net,
        clv_historical=net, orders=4, orders_ttm=2,
    )
    figures.update(extra)
    return AccountSnapshot.objects.create(account=account, computed_at=COMPUTED, as_of=date(2026, 1, 1), tier=tier,
                                          rank=rank, computed_version=account.history_version, **figures)


@dataclass
class Book:
    patricia: object
    patrick: object
    evil: object
    platinum: Tier
    bronze: Tier
    program: LoyaltyProgram
    patricia_enrolment: Enrolment
    patrick_enrolment: Enrolment


@pytest.fixture
def book(alice, bob):  # type: ignore[no-untyped-def]
    """Patricia (Alice's, Platinum, profitable), Patrick (Alice's, Bronze, loss-making) and an account named like
    a formula (Bob's) — each with a snapshot; segment P&L rows; two opportunities; a loyalty ledger."""
    tiers = list(Tier.objects.order_by("position"))
    platinum, bronze = tiers[0], tiers[-1]
    patricia = AccountFactory(name="Patricia Bulk Supplies", owner=alice, industry="Wholesale", region="EU",
                              segment="Distributor")
    patrick = AccountFactory(name="Patrick Small Parts", owner=alice, industry="Retail", region="EU",
                             segment="Shop")
    evil = AccountFactory(name="=HYPERLINK(\"http://x\")", owner=bob, industry="-Wholesale", region="@NA",
                          segment="+Shop")
    AccountSourceId.objects.create(account=patricia, source_system="erp", external_id="1001")
    AccountSourceId.objects.create(account=patricia, source_system="billing", external_id="C-7")
    snapshot(patricia, tier=platinum, rank=1, revenue=D("120000.00"), cogs=D("70000.00"),
             cost_to_serve=D("8000.50"), cac=D("1500.00"), clv_formula=D("95000.00"), clv_predictive=D("101234.56"),
             clv_model="bg_nbd+gg", p_alive=0.93, clv_cac_ratio=D("67.49"),
             last_interaction_at=datetime(2025, 12, 30, 9, 0, tzinfo=UTC))
    snapshot(patrick, tier=bronze, rank=3, revenue=D("9000.00"), cogs=D("6000.00"), cost_to_serve=D("4500.25"),
             cac=D("2000.00"), clv_formula=D("-3100.00"), clv_cac_ratio=D("-1.55"))
    snapshot(evil, tier=bronze, rank=2, revenue=D("20000.00"), cogs=D("12000.00"), cost_to_serve=D("1000.00"))

    for dimension, value, rank, net in [("industry", "Wholesale", 1, D("41999.50")), ("industry", "Retail", 2,
                                        D("-1500.25")), ("cluster", "=Bulk buyers", 1, D("40499.25")),
                                        ("tier", platinum.name, 1, D("41999.50"))]:
        SegmentPnl.objects.create(dimension=dimension, value=value, accounts=1, revenue=D("1000.00"),
                                  gross_margin=D("500.00"), cost_to_serve=D("100.00"), net_profit=net,
                                  net_margin_pct=D("12.50"), net_profit_per_account=net, rank=rank,
                                  computed_at=COMPUTED)

    bolts, nuts, washers = (ProductFactory(sku=s, name=n) for s, n in
                            [("B-1", "Bolts"), ("N-1", "Nuts"), ("W-1", "Washers")])
    Opportunity.objects.create(account=patricia, product=nuts, source=Opportunity.Source.BOUGHT_TOGETHER,
                               probability=0.4, expected_margin=D("1200.00"), reason="Bought with Bolts by 40 %",
                               generated_at=COMPUTED)
    Opportunity.objects.create(account=evil, product=washers, from_product=bolts, source=Opportunity.Source.UPGRADE,
                               probability=0.2, expected_margin=D("300.00"), reason="-upgrade within the family",
                               generated_at=COMPUTED)
    Opportunity.objects.create(account=patrick, product=washers, source=Opportunity.Source.PEERS, probability=0.1,
                               expected_margin=D("50.00"), reason="Similar shops buy it", generated_at=COMPUTED,
                               status=Opportunity.Status.DISMISSED)

    program = LoyaltyProgram.objects.create(name="Partners Club", status=LoyaltyProgram.Status.ACTIVE,
                                            starts_on=date(2024, 1, 1), point_value=D("0.0100"))
    rule = EarningRule.objects.create(program=program, trigger=EarningRule.Trigger.NET_REVENUE, points=D("0.1"))
    reward = Reward.objects.create(program=program, name="5 % off", kind=Reward.Kind.DISCOUNT, point_cost=300,
                                   discount_pct=D("5"))
    enrolled = datetime(2025, 1, 1, tzinfo=UTC)
    pe = Enrolment.objects.create(program=program, account=patricia, enrolled_at=enrolled,
                                  method=Enrolment.Method.MANUAL)
    ke = Enrolment.objects.create(program=program, account=patrick, enrolled_at=enrolled,
                                  method=Enrolment.Method.AUTOMATIC)
    LedgerEntry.objects.create(enrolment=pe, kind="earn", points=500, occurred_at=T1, recorded_at=T1,
                               reason="Order of 5,000", rule=rule, source_interaction_id=1, revision=1)
    LedgerEntry.objects.create(enrolment=pe, kind="redeem", points=-300, occurred_at=T2, recorded_at=T2,
                               reason="Redeemed 5 % off", reward=reward, actor=alice)
    LedgerEntry.objects.create(enrolment=pe, kind="adjust", points=-50, occurred_at=T3, recorded_at=T3,
                               reason="=goodwill correction", actor=alice)
    LedgerEntry.objects.create(enrolment=ke, kind="earn", points=90, occurred_at=T2, recorded_at=T2,
                               reason="Order of 900", rule=rule, source_interaction_id=2, revision=1)
    return Book(patricia, patrick, evil, platinum, bronze, program, pe, ke)


def grow(book: Book, n: int) -> None:
    """``n`` more accounts of Alice's, each with a snapshot, an opportunity, an enrolment and two ledger entries,
    and ``n`` more segment rows (for query-count tests: the count must not depend on the rows)."""
    product = ProductFactory(sku="G-1", name="Gaskets")
    rule = book.program.rules.get()
    for i in range(n):
        account = AccountFactory(name=f"Grown {i:03d}", owner=book.patricia.owner)
        AccountSourceId.objects.create(account=account, source_system="erp", external_id=f"G{i}")
        snapshot(account, tier=book.bronze, rank=10 + i, revenue=D(100 * i), cogs=D("0"), cost_to_serve=D("10"))
        Opportunity.objects.create(account=account, product=product, source=Opportunity.Source.PEERS,
                                   probability=0.5, expected_margin=D(i), reason="Peers", generated_at=COMPUTED)
        enrolment = Enrolment.objects.create(program=book.program, account=account, enrolled_at=T1,
                                             method=Enrolment.Method.AUTOMATIC)
        LedgerEntry.objects.create(enrolment=enrolment, kind="earn", points=10 + i, occurred_at=T2, recorded_at=T2,
                                   reason="Order", rule=rule, source_interaction_id=1000 + i, revision=1)
        LedgerEntry.objects.create(enrolment=enrolment, kind="adjust", points=-1, occurred_at=T3, recorded_at=T3,
                                   reason="Fix", actor=book.patricia.owner)
        SegmentPnl.objects.create(dimension="region", value=f"Region {i}", accounts=1, revenue=D("1"),
                                  gross_margin=D("1"), cost_to_serve=D("0"), net_profit=D("1"), net_margin_pct=None,
                                  net_profit_per_account=D("1"), rank=i + 1, computed_at=COMPUTED)
