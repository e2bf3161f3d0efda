"""Profitability analytics as pure functions (no Django): KPIs, targets, the funnel, channel economics and
budget reallocation, the KPI check and what-if scenarios.

Inputs are plain values, frozen dataclasses and NumPy arrays; the clock and every setting are passed in.
Money is ``Decimal`` and rounded to cents only at the edge (``_cents``); percentages are ``Decimal`` with
two places. The refresh service (``services_analytics``) fetches the inputs with a few set-based queries
and stores what these functions return; pages only read the stored rows.

KPI conventions (one monthly series per KPI):

- *Flow* KPIs describe the calendar month: gross and net margin, cost-to-serve share, ARPU, AOV, NPS.
- *Book-health* KPIs look at the 12 months ending with the month: CLV, CAC, CLV/CAC, retention, churn and
  the repeat-purchase rate (one month is too short for them to mean anything).
- A *customer* is an account with an acquisition date; it is a customer from ``acquired_on`` until
  ``churned_on`` (the day it churned it is no longer one). Prospects are never customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from .costing import PnL
from .ranking import formula_clv

ZERO = Decimal("0")
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
CLV_CAC_FLOOR = Decimal("3")  # source 000: CLV/CAC below 3 = overspending on acquisition or underserving clients


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(numerator: Decimal | int, denominator: Decimal | int, scale: Decimal = Decimal(1)) -> Decimal | None:
    """``numerator / denominator × scale`` rounded to two places; None when the denominator is not positive."""
    if denominator is None or numerator is None or Decimal(denominator) <= 0:
        return None
    return _cents(Decimal(numerator) * scale / Decimal(denominator))


# --- KPI definitions ---------------------------------------------------------------------------------------

MONEY, PCT, RATIO, POINTS = "money", "pct", "ratio", "points"


@dataclass(frozen=True)
class KpiDef:
    key: str
    label: str
    unit: str  # money | pct | ratio | points
    higher_is_better: bool
    window: str  # "month" or "ttm" (12 months ending with the month)
    formula: str  # how it is computed, shown on the page


KPIS: tuple[KpiDef, ...] = (
    KpiDef("clv", "CLV", MONEY, True, "ttm",
           "Formula CLV of the average customer: m · r / (1 + d − r), m = 12-month net profit per customer, "
           "r = 12-month retention (or the admin's override), d = the annual discount rate."),
    KpiDef("cac", "CAC", MONEY, False, "ttm",
           "Sales & marketing spend over the 12 months / customers acquired in them."),
    KpiDef("clv_cac", "CLV/CAC", RATIO, True, "ttm", "CLV / CAC. Below 3 means overspending on acquisition "
           "or underserving clients."),
    KpiDef("arpu", "ARPU", MONEY, True, "month", "Revenue of the month / customers during the month."),
    KpiDef("aov", "AOV", MONEY, True, "month", "Order revenue of the month / orders of the month."),
    KpiDef("repeat_rate", "Repeat-purchase rate", PCT, True, "ttm",
           "Customers with two or more orders in the 12 months / customers with at least one."),
    KpiDef("retention", "Retention", PCT, True, "ttm",
           "Customers at the month's end who were already customers 12 months earlier / customers then."),
    KpiDef("churn", "Churn", PCT, False, "ttm", "100 % − retention."),
    KpiDef("nps", "NPS", POINTS, True, "month",
           "% promoters (9–10) − % detractors (0–6) among the month's survey answers."),
    KpiDef("gross_margin_pct", "Gross margin", PCT, True, "month",
           "(Revenue − returns − COGS) / (revenue − returns)."),
    KpiDef("net_margin_pct", "Net margin", PCT, True, "month",
           "(Gross margin − cost-to-serve) / (revenue − returns)."),
    KpiDef("cts_share_pct", "Cost-to-serve share", PCT, False, "month", "Cost-to-serve / revenue."),
)
KPI_BY_KEY: dict[str, KpiDef] = {k.key: k for k in KPIS}
KPI_KEYS: tuple[str, ...] = tuple(k.key for k in KPIS)


@dataclass(frozen=True)
class MonthFigures:
    """What one month's KPIs are computed from (``*_ttm``: the 12 months ending with this month)."""

    month: date  # the first day of the month
    revenue: Decimal = ZERO  # orders + renewals
    returns: Decimal = ZERO
    cogs: Decimal = ZERO
    cost_to_serve: Decimal = ZERO
    orders: int = 0
    order_revenue: Decimal = ZERO
    customers: int = 0  # customers during the month
    promoters: int = 0
    detractors: int = 0
    responses: int = 0
    # 12 months ending with this month
    complete_ttm: bool = True  # False while the history does not yet cover 12 months
    net_profit_ttm: Decimal = ZERO
    spend_ttm: Decimal = ZERO
    acquired_ttm: int = 0
    customers_ttm: int = 0  # customers at some point in the 12 months
    base_ttm: int = 0  # customers 12 months before the month's end
    retained_ttm: int = 0  # of those, still customers at the month's end
    buyers_ttm: int = 0  # accounts with at least one order in the 12 months
    repeat_buyers_ttm: int = 0  # ... with two or more

    @property
    def gross_margin(self) -> Decimal:
        return self.revenue - self.returns - self.cogs

    @property
    def net_profit(self) -> Decimal:
        return self.gross_margin - self.cost_to_serve


def kpi_values(
    fig: MonthFigures, *, discount_rate: Decimal, retention_override: Decimal | None = None
) -> dict[str, Decimal | None]:
    """Every KPI of one month (None where it has no denominator or the 12-month window is incomplete).

    ``discount_rate`` is annual (0.10 = 10 %); ``retention_override`` (0–1) replaces the measured retention
    in the CLV formula, as it does in the engine.
    """
    net_revenue = fig.revenue - fig.returns
    values: dict[str, Decimal | None] = {
        "arpu": _ratio(fig.revenue, fig.customers),
        "aov": _ratio(fig.order_revenue, fig.orders),
        "nps": _ratio(fig.promoters - fig.detractors, fig.responses, HUNDRED),
        "gross_margin_pct": _ratio(fig.gross_margin, net_revenue, HUNDRED),
        "net_margin_pct": _ratio(fig.net_profit, net_revenue, HUNDRED),
        "cts_share_pct": _ratio(fig.cost_to_serve, fig.revenue, HUNDRED),
        "clv": None, "cac": None, "clv_cac": None, "repeat_rate": None, "retention": None, "churn": None,
    }
    if not fig.complete_ttm:
        return values
    retention = _ratio(fig.retained_ttm, fig.base_ttm, HUNDRED)
    values["retention"] = retention
    values["churn"] = HUNDRED - retention if retention is not None else None
    values["repeat_rate"] = _ratio(fig.repeat_buyers_ttm, fig.buyers_ttm, HUNDRED)
    values["cac"] = _ratio(fig.spend_ttm, fig.acquired_ttm)
    r = retention_override if retention_override is not None else (
        Decimal(fig.retained_ttm) / Decimal(fig.base_ttm) if fig.base_ttm > 0 else None)
    if r is not None and fig.customers_ttm > 0:
        margin = fig.net_profit_ttm / Decimal(fig.customers_ttm)
        values["clv"] = _cents(margin * r / (1 + discount_rate - r))
    if values["clv"] is not None and values["cac"] is not None and values["cac"] > 0:
        values["clv_cac"] = _cents(values["clv"] / values["cac"])
    return values


# --- months and customers ----------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(first: date) -> date:
    """The last day of the month that starts on ``first``."""
    return date.fromordinal(add_months(first, 1).toordinal() - 1)


def month_range(first: date, last: date) -> list[date]:
    """First days of every month from ``first``'s month to ``last``'s month, inclusive."""
    months, current, stop = [], month_start(first), month_start(last)
    while current <= stop:
        months.append(current)
        current = add_months(current, 1)
    return months


def _day_numbers(days: Sequence[date | None]) -> np.ndarray:
    """Dates as ordinals (float), NaN for None, so comparisons vectorise."""
    return np.array([d.toordinal() if d is not None else np.nan for d in days], dtype=float)


@dataclass(frozen=True)
class CustomerCounts:
    customers: list[int]  # during each month
    customers_ttm: list[int]  # during the 12 months ending with each month
    base_ttm: list[int]  # customers on the last day of the month 12 months earlier
    retained_ttm: list[int]  # of the base, still customers on the month's last day
    acquired: list[int]  # acquired in the month
    acquired_ttm: list[int]


def customer_counts(acquired_on: Sequence[date | None], churned_on: Sequence[date | None],
                    months: Sequence[date]) -> CustomerCounts:
    """Customer counts per month from each account's acquisition and churn dates (None: never).

    A customer on day t: acquired_on ≤ t and (no churn date or churned_on > t). During [s, e]: acquired_on
    ≤ e and (no churn date or churned_on > s). Retention is (customers at the end − new customers) / customers
    at the start, which equals the share of the start's customers still there (nobody comes back).
    """
    acq = _day_numbers(acquired_on)
    churn = _day_numbers(churned_on)
    known = ~np.isnan(acq)
    acq, churn = acq[known], churn[known]
    never = np.isnan(churn)

    def active_at(t: int) -> np.ndarray:
        return (acq <= t) & (never | (churn > t))

    def during(s: int, e: int) -> np.ndarray:
        return (acq <= e) & (never | (churn > s))

    out = CustomerCounts([], [], [], [], [], [])
    for first in months:
        s, e = first.toordinal(), month_end(first).toordinal()
        s12 = add_months(first, -11).toordinal()
        e_prev = month_end(add_months(first, -12)).toordinal()
        base = active_at(e_prev)
        out.customers.append(int(during(s, e).sum()))
        out.customers_ttm.append(int(during(s12, e).sum()))
        out.base_ttm.append(int(base.sum()))
        out.retained_ttm.append(int((base & active_at(e)).sum()))
        out.acquired.append(int(((acq >= s) & (acq <= e)).sum()))
        out.acquired_ttm.append(int(((acq >= s12) & (acq <= e)).sum()))
    return out


def trailing_sum(values: Sequence, window: int = 12) -> list:
    """Sum of each value and the ``window − 1`` before it (fewer at the start)."""
    out, running = [], []
    for value in values:
        running.append(value)
        if len(running) > window:
            running.pop(0)
        out.append(sum(running[1:], running[0]))
    return out


# --- targets: red / amber / green ---------------------------------------------------------------------------

GREEN, AMBER, RED = "green", "amber", "red"


def kpi_state(value: Decimal | None, target: Decimal | None, *, higher_is_better: bool,
              tolerance_pct: Decimal = Decimal("10")) -> str | None:
    """Green when the KPI meets its target; amber when it misses by at most ``tolerance_pct`` % of the target
    (in points when the target is 0); red beyond that. None without a value or a target."""
    if value is None or target is None:
        return None
    gap = (value - target) if higher_is_better else (target - value)
    if gap >= 0:
        return GREEN
    allowed = abs(target) * tolerance_pct / HUNDRED if target != 0 else tolerance_pct
    return AMBER if -gap <= allowed else RED


def benchmark_gap(value: Decimal | None, benchmark: Decimal | None, *, higher_is_better: bool) -> str | None:
    """"above", "below" or "at" the industry benchmark, in the KPI's good direction ("better"/"worse")."""
    if value is None or benchmark is None:
        return None
    if value == benchmark:
        return "at"
    return "better" if (value > benchmark) == higher_is_better else "worse"


# --- KPI check: does a KPI move with next month's net profit? -------------------------------------------------

MIN_PAIRS = 6


@dataclass(frozen=True)
class KpiCorrelation:
    pairs: int  # months where both the KPI and next month's net profit exist
    r: float | None  # Pearson correlation of the KPI with next month's net profit
    p_value: float | None  # two-sided, t-distribution with pairs − 2 degrees of freedom
    r_changes: float | None  # correlation of month-on-month changes (removes a shared trend)
    verdict: str  # "moves", "weak", "none" or "short"


def pearson(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    """Pearson r and its two-sided p-value; (None, None) for fewer than 3 pairs or a constant series."""
    from scipy import stats

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None, None
    result = stats.pearsonr(xs, ys)
    return float(result.statistic), float(result.pvalue)


R_PLACES = 2  # the KPI check shows r (and the r of changes) with two decimals ...
P_PLACES = 3  # ... and p with three; the verdict is taken on the figures as shown


def kpi_profit_correlation(kpi: Sequence[Decimal | None], net_profit: Sequence[Decimal | None]) -> KpiCorrelation:
    """Correlate a KPI's month t with net profit in month t + 1 (both series aligned on the same months).

    Verdict: "moves" when |r| ≥ 0.5 and p < 0.05, "weak" when |r| ≥ 0.3, "none" otherwise (a KPI that does
    not move with profit is a candidate to drop), "short" with fewer than ``MIN_PAIRS`` months; r and p are
    compared as shown (rounded, see :func:`correlation_verdict`).
    """
    pairs = [(float(k), float(p)) for k, p in zip(kpi[:-1], net_profit[1:], strict=True)
             if k is not None and p is not None]
    if len(pairs) < MIN_PAIRS:
        return KpiCorrelation(len(pairs), None, None, None, "short")
    x, y = zip(*pairs, strict=True)
    r, p_value = pearson(x, y)
    r_changes, _ = pearson(np.diff(x), np.diff(y))
    return KpiCorrelation(len(pairs), r, p_value, r_changes, correlation_verdict(r, p_value))


def correlation_verdict(r: float | None, p_value: float | None) -> str:
    """The verdict on r and p as shown (``R_PLACES`` and ``P_PLACES`` decimals), so a label never contradicts
    its figure: r = −0.2996 reads "−0.30", and is a weak link like any other −0.30."""
    if r is None:
        return "none"
    shown_r = abs(round(r, R_PLACES))
    shown_p = round(p_value, P_PLACES) if p_value is not None else None
    if shown_r >= 0.5 and shown_p is not None and shown_p < 0.05:
        return "moves"
    if shown_r >= 0.3:
        return "weak"
    return "none"


# --- whale curve ------------------------------------------------------------------------------------------------


# --- whale curve: what drives a loss -------------------------------------------------------------------------


@dataclass(frozen=True)
class LossDriver:
    activity: str  # the costliest activity, or "Returns" / "Gross margin" when those cause the loss
    count: int | None
    cost: Decimal
    share_pct: Decimal | None  # of the account's cost-to-serve (None for non-activity drivers)


def loss_driver(cost_breakdown: Mapping[str, Mapping], *, gross_margin: Decimal, returns: Decimal) -> LossDriver:
    """The activity that drives a loss: the costliest activity in ``cost_breakdown`` ({activity: {count,
    cost}}); when the account loses money before any cost-to-serve (gross margin ≤ 0), that is the driver."""
    if gross_margin <= 0:
        return LossDriver("Gross margin", None, gross_margin, None)
    costs = {a: (int(v.get("count", 0)), Decimal(str(v.get("cost", "0")))) for a, v in cost_breakdown.items()}
    total = sum((c for _, c in costs.values()), ZERO)
    if not costs or total <= 0:
        return LossDriver("Returns", None, returns, None)
    activity, (count, cost) = max(costs.items(), key=lambda item: (item[1][1], item[0]))
    return LossDriver(activity, count, cost, _ratio(cost, total, HUNDRED))


# --- the funnel -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelFigures:
    """A cohort of leads (those that became MQL in the period): where they got to and how long it took."""

    leads: int
    reached_sql: int
    won: int
    lost: int
    open_mql: int
    open_sql: int
    median_days_mql: float | None  # MQL → SQL (or → closed, for leads closed straight from MQL)
    median_days_sql: float | None  # SQL → closed
    median_days_to_win: float | None  # MQL → won

    @property
    def mql_to_sql_pct(self) -> Decimal | None:
        return _ratio(self.reached_sql, self.leads, HUNDRED)

    @property
    def sql_to_won_pct(self) -> Decimal | None:
        return _ratio(self.won, self.reached_sql, HUNDRED)

    @property
    def mql_to_won_pct(self) -> Decimal | None:
        return _ratio(self.won, self.leads, HUNDRED)

    @property
    def win_rate_pct(self) -> Decimal | None:
        """Won / closed (won + lost)."""
        return _ratio(self.won, self.won + self.lost, HUNDRED)


STAGE_MQL, STAGE_SQL, STAGE_WON, STAGE_LOST = "mql", "sql", "won", "lost"


def _median(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return round(float(np.median(values)), 1) if values.size else None


def funnel_figures(
    stage: np.ndarray, mql_day: np.ndarray, sql_day: np.ndarray, closed_day: np.ndarray
) -> FunnelFigures:
    """Funnel counts and median days in stage for a cohort of leads.

    ``stage`` holds stage codes; the ``*_day`` arrays hold times in days (float, NaN where a stage was not
    reached). A won lead counts as having reached SQL even without an SQL date. Leads still open are left
    out of the medians of the stage they are in (their time there is not known yet).
    """
    stage = np.asarray(stage)
    mql_day, sql_day, closed_day = (np.asarray(a, dtype=float) for a in (mql_day, sql_day, closed_day))
    won, lost = stage == STAGE_WON, stage == STAGE_LOST
    has_sql = ~np.isnan(sql_day)
    reached = has_sql | won
    left_mql = np.where(has_sql, sql_day, np.where(won | lost, closed_day, np.nan))
    return FunnelFigures(
        leads=int(stage.size), reached_sql=int(reached.sum()), won=int(won.sum()), lost=int(lost.sum()),
        open_mql=int((stage == STAGE_MQL).sum()), open_sql=int((stage == STAGE_SQL).sum()),
        median_days_mql=_median(left_mql - mql_day),
        median_days_sql=_median(np.where(has_sql & (won | lost), closed_day - sql_day, np.nan)),
        median_days_to_win=_median(np.where(won, closed_day - mql_day, np.nan)),
    )


# --- channels: CAC, CLV, and moving budget ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelEconomics:
    channel: str
    spend: Decimal
    acquired: int  # customers the channel brought in the period
    clv_total: Decimal  # summed CLV of those customers (the ones with a computed CLV)
    clv_accounts: int  # how many of them have a computed CLV

    @property
    def cac(self) -> Decimal | None:
        return _ratio(self.spend, self.acquired)

    @property
    def avg_clv(self) -> Decimal | None:
        return _ratio(self.clv_total, self.clv_accounts)

    @property
    def clv_cac(self) -> Decimal | None:
        cac, clv = self.cac, self.avg_clv
        if cac is None or clv is None or cac <= 0:
            return None
        return _cents(clv / cac)


@dataclass(frozen=True)
class BudgetMove:
    source: str
    target: str
    amount: Decimal


@dataclass(frozen=True)
class ChannelPlan:
    channel: str
    spend: Decimal
    new_spend: Decimal
    customers_delta: Decimal  # expected change in customers acquired (fractional: an expectation)
    clv_delta: Decimal  # expected change in lifetime value acquired


@dataclass(frozen=True)
class Reallocation:
    moves: list[BudgetMove]
    plans: list[ChannelPlan]
    moved: Decimal
    customers_delta: Decimal
    clv_delta: Decimal
    clv_cac_before: Decimal | None
    clv_cac_after: Decimal | None
    excluded: list[str] = field(default_factory=list)  # channels without enough customers to judge
    max_shift_pct: Decimal = Decimal("20")


def budget_reallocation(channels: Sequence[ChannelEconomics], *, max_shift_pct: Decimal = Decimal("20"),
                        min_acquired: int = 5) -> Reallocation:
    """Move spend from the channels with the lowest CLV/CAC to those with the highest, total spend unchanged.

    The model: each channel's marginal CAC equals its average CAC as long as its spend changes by at most
    ``max_shift_pct`` % (so no channel is cut or grown by more than that), and the customers it brings are
    worth its average CLV. Pairing greedily — worst donor with best recipient, then the next — maximises the
    lifetime value acquired for the same money within those limits. A move happens only from a lower to a
    strictly higher CLV/CAC. Channels with fewer than ``min_acquired`` customers or no spend are left alone:
    their CAC is not known well enough.

    Expected effect per channel: Δcustomers = Δspend / CAC, ΔCLV = Δcustomers × average CLV.
    """
    share = max_shift_pct / HUNDRED
    eligible = [c for c in channels if c.acquired >= min_acquired and c.spend > 0 and c.clv_cac is not None]
    excluded = [c.channel for c in channels if c not in eligible]
    capacity = {c.channel: _cents(c.spend * share) for c in eligible}
    donors = sorted(eligible, key=lambda c: (c.clv_cac, c.channel))
    recipients = sorted(eligible, key=lambda c: (-c.clv_cac, c.channel))
    give = dict(capacity)
    take = dict(capacity)
    moves: list[BudgetMove] = []
    for donor in donors:
        for recipient in recipients:
            if recipient.clv_cac <= donor.clv_cac:
                break
            if recipient.channel == donor.channel or give[donor.channel] <= 0:
                continue
            amount = min(give[donor.channel], take[recipient.channel])
            if amount <= 0:
                continue
            moves.append(BudgetMove(donor.channel, recipient.channel, amount))
            give[donor.channel] -= amount
            take[recipient.channel] -= amount
            # a channel that gives does not also take, and the other way round
            take[donor.channel] = ZERO
            give[recipient.channel] = ZERO

    delta = {c.channel: ZERO for c in channels}
    for move in moves:
        delta[move.source] -= move.amount
        delta[move.target] += move.amount
    plans, customers_delta, clv_delta = [], ZERO, ZERO
    for c in channels:
        d = delta[c.channel]
        if d != 0 and c.cac:
            customers = d / c.cac
            value = customers * (c.avg_clv or ZERO)
        else:
            customers = value = ZERO
        customers_delta += customers
        clv_delta += value
        plans.append(ChannelPlan(c.channel, c.spend, c.spend + d, customers.quantize(CENT), _cents(value)))
    spend = sum((c.spend for c in eligible), ZERO)
    acquired = sum(c.acquired for c in eligible)
    clv_before = sum((c.avg_clv * c.acquired for c in eligible), ZERO)
    before = _cents(clv_before / spend) if spend > 0 else None  # CLV acquired per € ~ CLV/CAC of the mix
    after = _cents((clv_before + clv_delta) / spend) if spend > 0 else None
    if acquired == 0:
        before = after = None
    return Reallocation(
        moves=moves, plans=plans, moved=sum((m.amount for m in moves), ZERO),
        customers_delta=customers_delta.quantize(CENT), clv_delta=_cents(clv_delta),
        clv_cac_before=before, clv_cac_after=after, excluded=excluded, max_shift_pct=max_shift_pct,
    )


# --- what-if ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityLine:
    kind: str  # the interaction kind the activity's rate applies to
    per_unit: bool
    count: int
    cost: Decimal


@dataclass(frozen=True)
class WhatIfBase:
    """A year of an account's (or a whole segment's) business, split so each what-if lever can act on it.

    Money as in ``costing``: revenue = orders + renewals; returns refund revenue and credit COGS.
    ``activities`` is the cost-to-serve breakdown with each activity's kind (``costing.account_pnl``).
    """

    accounts: int
    order_revenue: Decimal
    order_cogs: Decimal
    orders: int
    renewal_revenue: Decimal
    renewal_cogs: Decimal
    return_amount: Decimal
    return_cogs: Decimal  # direct cost of the goods that came back (reduces COGS)
    returns: int
    support_calls: int
    activities: Mapping[str, ActivityLine]
    unit_rates: Mapping[str, tuple[str, bool, Decimal]] = field(default_factory=dict)
    # {activity: (kind, per_unit, current rate)} — prices an activity the base has none of yet

    @property
    def return_rate_pct(self) -> Decimal | None:
        """Returns per 100 orders."""
        return _ratio(self.returns, self.orders, HUNDRED)

    def pnl(self) -> PnL:
        from .costing import ActivityCost

        breakdown = {a: ActivityCost(line.count, line.cost) for a, line in sorted(self.activities.items())}
        return PnL(
            revenue=self.order_revenue + self.renewal_revenue, returns=self.return_amount,
            cogs=self.order_cogs + self.renewal_cogs - self.return_cogs,
            cost_to_serve=sum((c.cost for c in breakdown.values()), ZERO), orders=self.orders, breakdown=breakdown,
        )


@dataclass(frozen=True)
class Scenario:
    price_pct: Decimal = ZERO  # change of prices, % (orders, renewals, and what returns refund)
    volume_pct: Decimal = ZERO  # change of units bought per order, % (order count unchanged)
    return_rate_pct: Decimal | None = None  # returns per 100 orders; None = unchanged
    support_calls: int | None = None  # support calls a year (per account for a segment); None = unchanged


def _scaled(line: ActivityLine, count: Decimal, cost_factor: Decimal) -> ActivityLine:
    return ActivityLine(line.kind, line.per_unit, int(count.to_integral_value(ROUND_HALF_UP)), line.cost * cost_factor)


def _set_kind_count(activities: dict[str, ActivityLine], base: WhatIfBase, kind: str, new: Decimal) -> None:
    """Set the count of every per-interaction activity of ``kind`` to ``new`` (costs follow at the unit cost)."""
    touched = False
    for activity, line in list(activities.items()):
        if line.kind != kind or line.per_unit:
            continue
        touched = True
        unit = line.cost / line.count if line.count else base.unit_rates.get(activity, (kind, False, ZERO))[2]
        activities[activity] = ActivityLine(kind, False, int(new.to_integral_value(ROUND_HALF_UP)), unit * new)
    if not touched and new > 0:
        for activity, (rate_kind, per_unit, rate) in base.unit_rates.items():
            if rate_kind == kind and not per_unit:
                activities[activity] = ActivityLine(kind, False, int(new.to_integral_value(ROUND_HALF_UP)), rate * new)


def what_if_pnl(base: WhatIfBase, scenario: Scenario) -> PnL:
    """The base year's P&L with the scenario's levers pulled — the ``costing.PnL`` the engine would compute.

    - price ±p %: order and renewal revenue and the refunds of returns × (1 + p); costs unchanged;
    - volume ±v %: units per order × (1 + v): order revenue, order COGS, returns (same share of goods) and
      per-unit activity costs scale; per-order activities (handling, shipping) do not;
    - return rate: returns per 100 orders; returned value and goods scale with the number of returns at the
      base's average return (a base without returns gets whole orders back: its average order);
    - support calls: calls a year (× accounts for a segment), at the base's cost per call (or the current rate).
    Every activity is priced at the base's average unit cost (its cost over its count).
    """
    p = 1 + scenario.price_pct / HUNDRED
    v = 1 + scenario.volume_pct / HUNDRED
    order_revenue = base.order_revenue * p * v
    order_cogs = base.order_cogs * v
    renewal_revenue = base.renewal_revenue * p
    return_amount = base.return_amount * p * v
    return_cogs = base.return_cogs * v
    returns = Decimal(base.returns)
    activities = {
        a: (_scaled(line, Decimal(line.count), v) if line.per_unit and line.kind in ("order", "return") else line)
        for a, line in base.activities.items()
    }
    if scenario.return_rate_pct is not None:
        new_returns = (Decimal(base.orders) * scenario.return_rate_pct / HUNDRED).to_integral_value(ROUND_HALF_UP)
        if base.returns > 0:
            factor = new_returns / returns
            return_amount *= factor
            return_cogs *= factor
            for a, line in list(activities.items()):
                if line.kind == "return" and line.per_unit:
                    activities[a] = _scaled(line, Decimal(line.count) * factor, factor)
        elif base.orders > 0:
            return_amount = order_revenue / base.orders * new_returns
            return_cogs = order_cogs / base.orders * new_returns
        _set_kind_count(activities, base, "return", new_returns)
    if scenario.support_calls is not None:
        calls = Decimal(scenario.support_calls) * max(base.accounts, 1)
        _set_kind_count(activities, base, "support_call", calls)
    breakdown_base = replace(base, activities=activities)
    pnl = breakdown_base.pnl()
    return PnL(
        revenue=_cents(order_revenue + renewal_revenue), returns=_cents(return_amount),
        cogs=_cents(order_cogs + base.renewal_cogs - return_cogs), cost_to_serve=_cents(pnl.cost_to_serve),
        orders=base.orders, breakdown={a: replace(c, cost=_cents(c.cost)) for a, c in pnl.breakdown.items()},
    )


def clv_of(net_profit_per_year: Decimal, *, retention: float, discount_rate: float) -> Decimal:
    """The engine's formula CLV (``ranking.formula_clv``) in cents."""
    return _cents(Decimal(repr(formula_clv(float(net_profit_per_year), retention, discount_rate))))
