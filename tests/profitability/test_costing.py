"""Cost-to-serve and the P&L, hand-worked (pure functions, no database)."""

from bisect import bisect_right
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profitability.costing import (
    CostRateInput,
    GroupFact,
    InteractionFact,
    account_pnl,
    class_measures,
    cost_plan,
    plan_breakdown,
    plan_breakdowns,
    plan_periods,
    resolve_rate_windows,
)

D = Decimal
CHANNELS = ["phone", "email", "web"]


def rate(activity, kind, value, since, channel=None, per_unit=False):
    return CostRateInput(activity, kind, channel, per_unit, D(value), since)


def fact(kind, on, amount="0", cost="0", channel="web", quantity=None):
    return InteractionFact(kind, channel, on, D(amount), D(cost), quantity)


class TestEffectiveDatedRates:
    rates = [
        rate("Support calls", "support_call", "10.00", date(2024, 1, 1)),
        rate("Support calls", "support_call", "12.00", date(2025, 1, 1)),
        rate("Support calls", "support_call", "20.00", date(2024, 6, 1), channel="phone"),
    ]

    @pytest.mark.parametrize(
        "on, channel, expected",
        [
            (date(2023, 12, 31), "phone", "0"),  # before any rate: no cost
            (date(2024, 3, 1), "phone", "10.00"),  # generic rate, the phone one not yet in effect
            (date(2024, 6, 1), "phone", "20.00"),  # the phone rate applies from its own date
            (date(2025, 2, 1), "phone", "20.00"),  # a newer generic rate does not beat the specific one
            (date(2024, 12, 31), "email", "10.00"),
            (date(2025, 1, 1), "email", "12.00"),  # the new generic rate applies from its date
        ],
    )
    def test_it_applies_the_rate_in_effect_on_the_day(self, on, channel, expected):
        windows = resolve_rate_windows(self.rates, CHANNELS)
        pnl = account_pnl([fact("support_call", on, channel=channel)], windows)
        assert pnl.cost_to_serve == D(expected)

    def test_it_keeps_old_figures_explainable_after_a_rate_change(self):
        windows = resolve_rate_windows(self.rates, CHANNELS)
        calls = [fact("support_call", date(2024, 5, 1), channel="email"),
                 fact("support_call", date(2025, 5, 1), channel="email")]
        pnl = account_pnl(calls, windows)
        assert pnl.breakdown["Support calls"].count == 2
        assert pnl.breakdown["Support calls"].cost == D("22.00")  # 10 under the old rate + 12 under the new


def test_it_charges_per_unit_rates_by_quantity():
    windows = resolve_rate_windows([rate("Picking", "order", "0.50", date(2020, 1, 1), per_unit=True)], CHANNELS)
    pnl = account_pnl([fact("order", date(2024, 1, 1), "100", "60", quantity=40)], windows)
    assert pnl.cost_to_serve == D("20.00")


def test_it_works_out_the_pnl_by_hand():
    """Revenue 1,000 + 200, a 300 return with 150 of goods back, three calls at 18, two orders at 25 + 12."""
    windows = resolve_rate_windows([
        rate("Order handling", "order", "25", date(2020, 1, 1)),
        rate("Shipping", "order", "12", date(2020, 1, 1)),
        rate("Returns processing", "return", "35", date(2020, 1, 1)),
        rate("Support calls", "support_call", "18", date(2020, 1, 1)),
    ], CHANNELS)
    facts = [
        fact("order", date(2024, 1, 10), "1000", "600"),
        fact("order", date(2024, 2, 10), "200", "120"),
        fact("return", date(2024, 2, 20), "300", "150"),
        *[fact("support_call", date(2024, 3, d), channel="phone") for d in (1, 2, 3)],
        fact("payment", date(2024, 3, 5), "900"),  # cash, not revenue
    ]
    pnl = account_pnl(facts, windows)
    assert pnl.revenue == D("1200")
    assert pnl.returns == D("300")
    assert pnl.cogs == D("570")  # 600 + 120 − 150 back in stock
    assert pnl.gross_margin == D("330")
    assert pnl.cost_to_serve == D("163")  # 2 × (25 + 12) + 35 + 3 × 18
    assert pnl.net_profit == D("167")
    assert pnl.net_margin_pct == D("18.56")  # 167 / 900
    assert {a: (c.count, c.cost) for a, c in pnl.breakdown.items()} == {
        "Order handling": (2, D("50")), "Shipping": (2, D("24")),
        "Returns processing": (1, D("35")), "Support calls": (3, D("54")),
    }


def test_it_restricts_to_the_trailing_period():
    windows = resolve_rate_windows([rate("Order handling", "order", "25", date(2020, 1, 1))], CHANNELS)
    facts = [fact("order", date(2023, 1, 1), "500", "300"), fact("order", date(2024, 6, 1), "100", "50")]
    pnl = account_pnl(facts, windows, since=date(2024, 1, 1))
    assert (pnl.revenue, pnl.cogs, pnl.cost_to_serve, pnl.orders) == (D("100"), D("50"), D("25"), 1)


def test_it_reports_no_margin_percentage_without_net_revenue():
    assert account_pnl([], []).net_margin_pct is None


class TestCostPlan:
    """The plan regroups windows into classes; its per-class arithmetic gives :func:`account_pnl`'s breakdown."""

    rates = TestEffectiveDatedRates.rates + [
        rate("Order handling", "order", "25.00", date(2024, 1, 1)),
        rate("Picking", "order", "0.40", date(2024, 1, 1), per_unit=True),
    ]

    def test_windows_on_every_channel_share_one_class_and_activities_on_the_same_interactions_too(self):
        plan = cost_plan(resolve_rate_windows(self.rates, CHANNELS), CHANNELS)
        orders = [c for c in plan.classes if c.kind == "order"]
        assert len(orders) == 1 and orders[0].channels is None and orders[0].needs_units
        assert sorted(t.activity for t in plan.terms if plan.classes[t.class_index].kind == "order") == [
            "Order handling", "Picking"]
        # the generic rate's windows end where phone's own rate starts, so phone gets classes of its own
        phone = [(c.valid_from, c.valid_to) for c in plan.classes if c.channels == ("phone",)]
        assert phone == [(date(2024, 1, 1), date(2024, 6, 1)), (date(2024, 6, 1), None)]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["order", "support_call", "visit"]), st.sampled_from(CHANNELS),
                              st.integers(0, 900), st.one_of(st.none(), st.integers(0, 50))), max_size=30))
    def test_class_counts_give_the_reference_breakdown_one_account_or_many(self, interactions):
        windows = resolve_rate_windows(self.rates, CHANNELS)
        plan = cost_plan(windows, CHANNELS)
        facts = [fact(kind, date(2023, 12, 1) + timedelta(days=day), channel=channel, quantity=quantity)
                 for kind, channel, day, quantity in interactions]
        periods = plan_periods(plan)
        groups = [GroupFact(f.kind, f.channel, bisect_right(periods, f.occurred_on), False, 1, D(0), D(0),
                            f.quantity or 0) for f in facts]
        reference = account_pnl(facts, windows).breakdown
        counts, units = class_measures(plan, groups, recent_only=False)
        assert plan_breakdown(plan, counts, units) == reference
        many = plan_breakdowns(plan, np.array([counts, [0] * len(counts)]), np.array([units, [0] * len(units)]))
        assert many == [reference, {}]

    def test_a_rate_in_fractions_of_a_cent_is_refused_by_the_whole_book_arithmetic(self):
        windows = resolve_rate_windows([rate("Picking", "order", "0.125", date(2024, 1, 1), per_unit=True)], CHANNELS)
        plan = cost_plan(windows, CHANNELS)
        with pytest.raises(ValueError, match="whole number of cents"):
            plan_breakdowns(plan, np.ones((1, 1), np.int64), np.ones((1, 1), np.int64))
