"""The analytics math (``profitability.analytics``) and the SVG charts, without a database.

Every KPI against a hand-computed month, the customer counts behind retention, targets' red/amber/green,
the KPI check, the whale curve's break-even, loss drivers, the funnel, the budget reallocation on a
constructed case, and the what-if levers.
"""

from datetime import date
from decimal import Decimal as D

import numpy as np
import pytest

from profitability import analytics as a
from profitability import charts
from profitability.ranking import formula_clv

# --- every KPI, by hand ------------------------------------------------------------------------------------------

# December: revenue 10,000 (orders 8,000 in 20 orders), returns 1,000, COGS 5,000, cost-to-serve 1,500, 40
# customers, 10 survey answers (6 promoters, 2 detractors). The 12 months: net profit 24,000 over 50
# customers, spend 12,000 for 8 new ones, 40 customers a year ago of whom 34 are still here, 45 buyers of
# whom 27 ordered twice or more.
DECEMBER = a.MonthFigures(
    month=date(2025, 12, 1), revenue=D("10000"), returns=D("1000"), cogs=D("5000"), cost_to_serve=D("1500"),
    orders=20, order_revenue=D("8000"), customers=40, promoters=6, detractors=2, responses=10,
    complete_ttm=True, net_profit_ttm=D("24000"), spend_ttm=D("12000"), acquired_ttm=8, customers_ttm=50,
    base_ttm=40, retained_ttm=34, buyers_ttm=45, repeat_buyers_ttm=27,
)


def test_it_computes_every_kpi_of_a_month_exactly():
    values = a.kpi_values(DECEMBER, discount_rate=D("0.10"))

    assert values == {
        "arpu": D("250.00"),  # 10,000 / 40
        "aov": D("400.00"),  # 8,000 / 20
        "nps": D("40.00"),  # (6 − 2) / 10
        "gross_margin_pct": D("44.44"),  # (10,000 − 1,000 − 5,000) / 9,000
        "net_margin_pct": D("27.78"),  # (4,000 − 1,500) / 9,000
        "cts_share_pct": D("15.00"),  # 1,500 / 10,000
        "retention": D("85.00"),  # 34 / 40
        "churn": D("15.00"),
        "repeat_rate": D("60.00"),  # 27 / 45
        "cac": D("1500.00"),  # 12,000 / 8
        "clv": D("1632.00"),  # m = 24,000 / 50 = 480; 480 · 0.85 / (1.10 − 0.85)
        "clv_cac": D("1.09"),  # 1,632 / 1,500 = 1.088
    }
    assert set(values) == set(a.KPI_KEYS)


def test_the_clv_uses_the_admins_retention_override_like_the_engine():
    values = a.kpi_values(DECEMBER, discount_rate=D("0.10"), retention_override=D("0.9"))

    assert values["clv"] == D("2160.00")  # 480 · 0.9 / (1.10 − 0.9)
    assert values["retention"] == D("85.00")  # the measured retention is still reported
    assert float(values["clv"]) == pytest.approx(formula_clv(480, 0.9, 0.10))


def test_kpis_without_a_denominator_or_a_full_year_are_empty_not_zero():
    empty = a.MonthFigures(month=date(2025, 1, 1), complete_ttm=False, base_ttm=10, retained_ttm=9)

    values = a.kpi_values(empty, discount_rate=D("0.10"))

    assert values == dict.fromkeys(a.KPI_KEYS)


def test_customer_counts_follow_acquisition_and_churn_dates():
    acquired = [date(2024, 6, 1), date(2024, 6, 1), date(2025, 3, 1), date(2025, 12, 10), None]
    churned = [None, date(2025, 6, 15), None, None, None]

    counts = a.customer_counts(acquired, churned, [date(2025, 11, 1), date(2025, 12, 1)])

    assert counts.customers == [2, 3]  # during the month: the one acquired on 10 Dec counts in December
    assert counts.customers_ttm == [3, 4]  # the one that churned in June was a customer within the 12 months
    assert counts.base_ttm == [2, 2]  # customers a year before the month's end
    assert counts.retained_ttm == [1, 1]  # ... and still customers at its end
    assert counts.acquired == [0, 1]
    assert counts.acquired_ttm == [1, 2]


def test_months_and_trailing_sums():
    assert a.month_range(date(2024, 11, 20), date(2025, 2, 3)) == [
        date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]
    assert a.month_end(date(2024, 2, 1)) == date(2024, 2, 29)
    assert a.add_months(date(2025, 1, 1), -13) == date(2023, 12, 1)
    assert a.trailing_sum([1, 2, 3, 4], window=3) == [1, 3, 6, 9]


# --- targets ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "target", "higher", "state"), [
    (D("3.2"), D("3"), True, "green"),
    (D("3"), D("3"), True, "green"),
    (D("2.7"), D("3"), True, "amber"),  # 10 % of 3 = 0.3 short at most
    (D("2.69"), D("3"), True, "red"),
    (D("1900"), D("2000"), False, "green"),  # CAC: lower is better
    (D("2200"), D("2000"), False, "amber"),
    (D("2201"), D("2000"), False, "red"),
    (D("-5"), D("0"), True, "amber"),  # a target of 0: the tolerance is in points
    (D("-11"), D("0"), True, "red"),
    (None, D("3"), True, None),
    (D("3"), None, True, None),
])
def test_red_amber_green_against_the_target(value, target, higher, state):
    assert a.kpi_state(value, target, higher_is_better=higher, tolerance_pct=D("10")) == state


def test_the_benchmark_gap_respects_the_kpis_direction():
    assert a.benchmark_gap(D("90"), D("85"), higher_is_better=True) == "better"
    assert a.benchmark_gap(D("20"), D("15"), higher_is_better=False) == "worse"
    assert a.benchmark_gap(D("15"), D("15"), higher_is_better=False) == "at"
    assert a.benchmark_gap(D("15"), None, higher_is_better=False) is None


# --- the KPI check ------------------------------------------------------------------------------------------------


def test_a_kpi_that_leads_profit_by_a_month_moves_with_it():
    profit = [D(v) for v in ("100", "120", "90", "150", "130", "170", "160", "200", "180")]
    kpi = [p / 10 for p in profit[1:]] + [None]  # this month's KPI = next month's profit / 10

    check = a.kpi_profit_correlation(kpi, profit)

    assert check.pairs == 8
    assert check.r == pytest.approx(1.0)
    assert check.r_changes == pytest.approx(1.0)
    assert check.p_value < 0.001
    assert check.verdict == "moves"


def test_a_kpi_unrelated_to_profit_is_a_candidate_to_drop():
    profit = [D(v) for v in ("100", "120", "90", "150", "130", "170", "160", "200", "180")]
    kpi = [D(v) for v in ("5", "5", "6", "5", "5", "6", "5", "5", "6")]

    check = a.kpi_profit_correlation(kpi, profit)

    assert abs(check.r) < 0.3
    assert check.verdict == "none"


def test_the_kpi_check_needs_six_paired_months():
    check = a.kpi_profit_correlation([D(1)] * 5 + [None], [D(1), D(2), D(3), D(4), D(5), D(6)])
    assert (check.pairs, check.r, check.verdict) == (5, None, "short")


# --- whale curve --------------------------------------------------------------------------------------------------


def test_the_loss_driver_is_the_costliest_activity_or_the_gross_margin():
    breakdown = {"Order handling": {"count": 1, "cost": "25.00"}, "Support calls": {"count": 10, "cost": "180.00"},
                 "Shipping": {"count": 1, "cost": "12.00"}}

    driver = a.loss_driver(breakdown, gross_margin=D("100"), returns=D("0"))

    assert driver == a.LossDriver("Support calls", 10, D("180.00"), D("82.95"))  # 180 / 217
    assert a.loss_driver(breakdown, gross_margin=D("-63"), returns=D("0")) == a.LossDriver(
        "Gross margin", None, D("-63"), None)


# --- funnel -------------------------------------------------------------------------------------------------------


def test_funnel_counts_conversions_and_median_days_in_stage():
    nan = float("nan")
    stage = np.array(["won", "won", "lost", "lost", "sql", "mql"])
    mql = np.array([0.0, 10.0, 0.0, 5.0, 20.0, 30.0])
    sql = np.array([4.0, 20.0, nan, 15.0, 26.0, nan])
    closed = np.array([34.0, 60.0, 7.0, 45.0, nan, nan])

    f = a.funnel_figures(stage, mql, sql, closed)

    assert (f.leads, f.reached_sql, f.won, f.lost, f.open_mql, f.open_sql) == (6, 4, 2, 2, 1, 1)
    assert f.mql_to_sql_pct == D("66.67")
    assert f.sql_to_won_pct == D("50.00")
    assert f.mql_to_won_pct == D("33.33")
    assert f.win_rate_pct == D("50.00")
    assert f.median_days_mql == 7.0  # 4, 10, 7 (lost from MQL: to its close), 10, 6 → median of 5 = 7
    assert f.median_days_sql == 30.0  # 30, 40, 30 (closed after SQL only)
    assert f.median_days_to_win == 42.0  # 34, 50


# --- channels: reallocating budget --------------------------------------------------------------------------------


def test_the_reallocation_moves_spend_from_the_worst_clv_cac_to_the_best_within_the_limit():
    channels = [
        a.ChannelEconomics("Partner", D("10000"), 10, D("20000"), 10),  # CAC 1,000, CLV 2,000 → 2.00
        a.ChannelEconomics("Trade show", D("20000"), 10, D("10000"), 10),  # CAC 2,000, CLV 1,000 → 0.50
        a.ChannelEconomics("Referral", D("5000"), 10, D("30000"), 10),  # CAC 500, CLV 3,000 → 6.00
        a.ChannelEconomics("Podcast", D("3000"), 2, D("9000"), 2),  # too few customers to judge
    ]

    r = a.budget_reallocation(channels, max_shift_pct=D("20"))

    # Trade show may give 20 % = 4,000; Referral may take 1,000, Partner 2,000.
    assert r.moves == [a.BudgetMove("Trade show", "Referral", D("1000.00")),
                       a.BudgetMove("Trade show", "Partner", D("2000.00"))]
    assert r.moved == D("3000.00")
    plans = {p.channel: p for p in r.plans}
    assert plans["Partner"] == a.ChannelPlan("Partner", D("10000"), D("12000.00"), D("2.00"), D("4000.00"))
    assert plans["Trade show"] == a.ChannelPlan("Trade show", D("20000"), D("17000.00"), D("-1.50"), D("-1500.00"))
    assert plans["Referral"] == a.ChannelPlan("Referral", D("5000"), D("6000.00"), D("2.00"), D("6000.00"))
    assert plans["Podcast"] == a.ChannelPlan("Podcast", D("3000"), D("3000"), D("0.00"), D("0.00"))
    assert r.customers_delta == D("2.50")
    assert r.clv_delta == D("8500.00")
    assert (r.clv_cac_before, r.clv_cac_after) == (D("1.71"), D("1.96"))  # 60,000 / 35,000 → 68,500 / 35,000
    assert r.excluded == ["Podcast"]
    assert sum(p.new_spend for p in r.plans) == sum(c.spend for c in channels)  # the budget is unchanged


def test_no_reallocation_when_every_channel_is_equally_good():
    channels = [a.ChannelEconomics("A", D("1000"), 10, D("3000"), 10), a.ChannelEconomics("B", D("2000"), 20,
                                                                                            D("6000"), 20)]
    r = a.budget_reallocation(channels)
    assert (r.moves, r.moved, r.clv_delta) == ([], D("0"), D("0.00"))


# --- what-if ------------------------------------------------------------------------------------------------------


def _base(**overrides):
    fields = dict(
        accounts=1, order_revenue=D("1000"), order_cogs=D("600"), orders=10, renewal_revenue=D("0"),
        renewal_cogs=D("0"), return_amount=D("200"), return_cogs=D("100"), returns=5, support_calls=20,
        activities={
            "Order handling": a.ActivityLine("order", False, 10, D("250")),
            "Returns processing": a.ActivityLine("return", False, 5, D("175")),
            "Support calls": a.ActivityLine("support_call", False, 20, D("360")),
        },
        unit_rates={"Order handling": ("order", False, D("25")), "Returns processing": ("return", False, D("35")),
                    "Support calls": ("support_call", False, D("18"))},
    )
    fields.update(overrides)
    return a.WhatIfBase(**fields)


def test_the_unchanged_scenario_is_the_base_years_pnl():
    pnl = a.what_if_pnl(_base(), a.Scenario())
    assert (pnl.revenue, pnl.returns, pnl.cogs, pnl.gross_margin, pnl.cost_to_serve, pnl.net_profit) == (
        D("1000.00"), D("200.00"), D("500.00"), D("300.00"), D("785.00"), D("-485.00"))
    assert _base().return_rate_pct == D("50.00")  # returns per 100 orders


@pytest.mark.parametrize(("scenario", "net_profit", "cost_to_serve"), [
    (a.Scenario(price_pct=D("10")), D("-405.00"), D("785.00")),  # revenue 1,100, refunds 220
    (a.Scenario(volume_pct=D("50")), D("-335.00"), D("785.00")),  # 1,500 − 300 − (900 − 150); per-order costs stay
    (a.Scenario(return_rate_pct=D("20")), D("-320.00"), D("680.00")),  # 2 returns: refunds 80, goods back 40
    (a.Scenario(support_calls=5), D("-215.00"), D("515.00")),  # 5 × 18 instead of 20 × 18
])
def test_each_lever_moves_the_pnl_as_the_engine_would(scenario, net_profit, cost_to_serve):
    pnl = a.what_if_pnl(_base(), scenario)
    assert (pnl.net_profit, pnl.cost_to_serve) == (net_profit, cost_to_serve)


def test_returns_on_a_base_without_any_come_back_as_whole_average_orders_at_the_current_rate():
    base = _base(return_amount=D("0"), return_cogs=D("0"), returns=0,
                 activities={"Order handling": a.ActivityLine("order", False, 10, D("250"))})

    pnl = a.what_if_pnl(base, a.Scenario(return_rate_pct=D("10")))

    assert (pnl.returns, pnl.cogs) == (D("100.00"), D("540.00"))  # one order of 100 (cost 60) comes back
    assert pnl.breakdown["Returns processing"].count == 1
    assert pnl.breakdown["Returns processing"].cost == D("35.00")


def test_a_segments_support_calls_are_per_account():
    base = _base(accounts=4, support_calls=80,
                 activities={"Support calls": a.ActivityLine("support_call", False, 80, D("1440"))})
    pnl = a.what_if_pnl(base, a.Scenario(support_calls=10))
    assert pnl.breakdown["Support calls"].count == 40
    assert pnl.breakdown["Support calls"].cost == D("720.00")


def test_clv_of_is_the_engines_formula():
    assert a.clv_of(D("480"), retention=0.85, discount_rate=0.10) == D("1632.00")


# --- charts -------------------------------------------------------------------------------------------------------


def test_charts_escape_every_label():
    svg = charts.bar_chart([("<script>alert(1)</script>", 5.0), ('"Quotes" & co', -3.0)], chart_id="x",
                           title="<b>t</b>")

    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&quot;Quotes&quot; &amp; co" in svg
    assert "<title id=\"x-title\">&lt;b&gt;t&lt;/b&gt;</title>" in svg
    assert svg.__html__() is svg  # Django inserts it as is


def test_line_chart_draws_gaps_targets_and_marks_the_last_point():
    svg = charts.line_chart(["Jan", "Feb", "Mar", "Apr"], [1.0, None, 2.0, 3.0], chart_id="t", title="T",
                            target=2.5, benchmark=1.5)

    assert svg.count("<polyline") == 1  # Mar–Apr; Jan stands alone as a dot
    assert 'stroke-dasharray="6 4"' in svg and 'stroke-dasharray="2 3"' in svg
    assert "Apr: 3.00" in svg
    assert 'role="img"' in svg


def test_whale_and_funnel_charts_describe_their_marks():
    svg = charts.whale_chart([0, 33.333, 66.667, 100], [0, 106.007, 141.343, 100], chart_id="w", title="W",
                             peak=(66.667, 141.343), top20=106.007, break_even=31.44)
    assert "the curve peaks at 141 % after 67 % of accounts" in svg
    assert "Break-even: top 31 % earn 100 %" in svg
    funnel = charts.funnel_chart([("MQL", 100), ("SQL", 60), ("Won", 15)], chart_id="f", title="F")
    assert "SQL: 60 (60 % of the stage before)" in funnel and "Won: 15 (25 % of the stage before)" in funnel


def test_nice_ticks_cover_the_range():
    assert charts.nice_ticks(0, 97) == [0, 25, 50, 75, 100]
    assert charts.nice_ticks(-120, 40)[0] <= -120 and charts.nice_ticks(-120, 40)[-1] >= 40


@pytest.mark.parametrize(("r", "p", "verdict"), [
    (-0.2996, 0.2, "weak"),  # shown as −0.30: a weak link like −0.31
    (-0.2949, 0.2, "none"),  # shown as −0.29
    (0.4996, 0.01, "moves"),  # shown as +0.50
    (0.4949, 0.01, "weak"),  # shown as +0.49
    (0.6, 0.04996, "weak"),  # p shown as 0.050: not below 0.05
    (0.6, 0.0494, "moves"),  # p shown as 0.049
    (None, None, "none"),
])
def test_the_kpi_checks_verdict_is_taken_on_r_and_p_as_shown(r, p, verdict):
    from profitability.analytics import correlation_verdict

    assert correlation_verdict(r, p) == verdict
