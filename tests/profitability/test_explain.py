"""The drivers of an account's profit or loss in words: pure, so checked on hand-made P&Ls."""

from decimal import Decimal

from profitability.costing import ActivityCost, PnL
from profitability.explain import profit_drivers

D = Decimal


def drivers(pnl: PnL, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    return profit_drivers(pnl, tier_name="Silver", tier_median_counts={"Support calls": 2.0},
                          currency_symbol="€", **kwargs)


def test_a_loss_maker_is_explained_by_its_cost_to_serve_and_its_outlier_activity():
    pnl = PnL(revenue=D("20000"), returns=D("8000"), cogs=D("9000"), cost_to_serve=D("4470"), orders=40,
              breakdown={"Support calls": ActivityCost(12, D("3600.00")), "Order handling": ActivityCost(40, D("870"))})

    assert drivers(pnl) == [
        "Returns take back 40 % of revenue",
        "Cost-to-serve (€4,470) exceeds the gross margin (€3,000)",
        "Support calls costs 120 % of gross margin",
        "6× the Silver median support calls (12 vs 2)",
    ]


def test_a_negative_gross_margin_is_written_as_the_pages_write_money():
    pnl = PnL(revenue=D("100"), cogs=D("144"), orders=1)

    assert drivers(pnl) == ["Gross margin is −€44 before any cost-to-serve"]


def test_revenue_per_order_counts_the_orders_revenue_not_the_renewals():
    # €60,000 of revenue: €5,400 from 6 orders, €54,600 from contract renewals
    pnl = PnL(revenue=D("60000"), cogs=D("30000"), cost_to_serve=D("600"), orders=6)

    assert not any(text.startswith("Large orders") for text in drivers(pnl, order_revenue=D("5400")))
    assert "Large orders: €10,000 per order over 6 orders" in drivers(pnl)  # without the split: revenue / orders
