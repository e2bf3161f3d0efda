"""Writes of the analytics: the nightly refresh of the precomputed aggregates, and the admins' KPI targets.

Fetch → calculate → write, as in ``services``: a handful of set-based queries (one pass per concern over the
interactions, none per account), the pure math of ``analytics``, then one transaction that replaces the
aggregates. Pages read only what is written here, so a dashboard costs the same at 300 or 100,000 accounts.
"""

from __future__ import annotations

import logging
import time as clock
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from crm.models import Account, Interaction, InteractionChannel, Lead, MarketingSpend, SurveyResponse

from . import analytics as math
from .costing import InteractionFact, interaction_costs, resolve_rate_windows, windows_for
from .models import AccountSnapshot, BookSummary, ClvSettings, CostRate
from .models_analytics import AnalyticsRefresh, FunnelStat, KpiMonth, KpiTarget, SegmentYear
from .sql import rate_breaks, rates_values, utc_midnight

log = logging.getLogger(__name__)
ZERO = Decimal("0")
MAX_MONTHS = 60  # the dashboard's history: five years is plenty for trends and the KPI check
QUARTERS_KEPT = 8
REFRESH_LOCK = "profitability:analytics-refresh"
REVENUE_KINDS = ("order", "renewal")

Progress = Callable[[str], None]


def _day(value: datetime) -> float:
    return value.timestamp() / 86400


@dataclass(frozen=True)
class RefreshResult:
    months: int
    funnel_rows: int
    segment_rows: int
    leads_scored: int
    seconds: dict[str, float]


def analytics_refresh(*, now: datetime | None = None, progress: Progress | None = None) -> RefreshResult:
    """Recompute every analytics aggregate: monthly KPIs, funnel and channel figures, the segments' what-if
    bases, and the scores of open leads (with the latest lead-scoring model). Idempotent."""
    say = progress or log.info
    now = now or timezone.now()
    book = BookSummary.objects.order_by("-computed_at").only("as_of", "computed_at").first()
    as_of = book.as_of if book else now.astimezone(UTC).date()
    timings: dict[str, float] = {}
    started = mark = clock.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        timings[name] = round(clock.perf_counter() - mark, 3)
        mark = clock.perf_counter()
        say(f"{name}: {timings[name]:.2f} s")

    months = _history_months(as_of)
    kpi_rows = _kpi_months(months, now=now) if months else []
    lap("kpis")
    funnel_rows = _funnel_stats(as_of=as_of, last_month=months[-1] if months else None, now=now)
    lap("funnel")
    segment_rows = _segment_years(as_of=as_of, now=now)
    lap("segments")
    with transaction.atomic():
        KpiMonth.objects.all().delete()
        KpiMonth.objects.bulk_create(kpi_rows, batch_size=500)
        FunnelStat.objects.all().delete()
        FunnelStat.objects.bulk_create(funnel_rows, batch_size=500)
        SegmentYear.objects.all().delete()
        SegmentYear.objects.bulk_create(segment_rows, batch_size=500)
    lap("write")
    from .lead_scoring import NotEnoughData, lead_scoring_train, open_leads_score
    from .models_analytics import LeadScoringModel

    if not LeadScoringModel.objects.exists():
        # The first refresh trains the model (retraining is nightly): lead scores need not wait a night.
        try:
            lead_scoring_train(now=now)
        except NotEnoughData as reason:
            log.info("Lead scoring not trained yet: %s", reason)
    scored = open_leads_score(now=now)
    lap("lead_scores")
    timings["total"] = round(clock.perf_counter() - started, 3)
    AnalyticsRefresh.objects.create(
        computed_at=now, as_of=as_of, book_computed_at=book.computed_at if book else None, months=len(kpi_rows),
        seconds=timings,
    )
    AnalyticsRefresh.objects.filter(
        pk__in=AnalyticsRefresh.objects.order_by("-computed_at").values_list("pk", flat=True)[50:]
    ).delete()
    return RefreshResult(len(kpi_rows), len(funnel_rows), len(segment_rows), scored, timings)


def analytics_refresh_request() -> None:
    """Queue a refresh once the current transaction commits (the admin's "Refresh now")."""
    from . import tasks_analytics

    transaction.on_commit(lambda: tasks_analytics.refresh_analytics.delay(), robust=True)


# --- monthly KPIs -------------------------------------------------------------------------------------------------


def _history_months(as_of: date) -> list[date]:
    """Complete months with any interaction, up to the month before ``as_of`` (at most ``MAX_MONTHS``)."""
    first = Interaction.objects.aggregate(first=Min("occurred_at"))["first"]
    if first is None:
        return []
    last = math.add_months(math.month_start(as_of), -1)
    start = max(math.month_start(first.astimezone(UTC).date()), math.add_months(last, -(MAX_MONTHS - 1)))
    return math.month_range(start, last) if start <= last else []


def _kpi_months(months: Sequence[date], *, now: datetime) -> list[KpiMonth]:
    begin, end = utc_midnight(math.add_months(months[0], -11)), utc_midnight(math.add_months(months[-1], 1))
    all_months = math.month_range(math.add_months(months[0], -11), months[-1])
    money = _monthly_money(begin, end)
    cts = _monthly_cost_to_serve(begin, end)
    spend = {row["period"]: row["total"] for row in MarketingSpend.objects.filter(
        period__gte=all_months[0], period__lte=months[-1]).values("period").annotate(total=Sum("amount"))}
    nps = {
        row["month"].date() if isinstance(row["month"], datetime) else row["month"]: row
        for row in SurveyResponse.objects.filter(answered_at__gte=begin, answered_at__lt=end)
        .annotate(month=TruncMonth("answered_at", tzinfo=UTC)).values("month")
        .annotate(n=Count("id"), promoters=Count("id", filter=Q(score__gte=9)),
                  detractors=Count("id", filter=Q(score__lte=6)))
    }
    dates = list(Account.objects.filter(acquired_on__isnull=False).values_list("acquired_on", "churned_on"))
    counts = math.customer_counts([a for a, _ in dates], [c for _, c in dates], months)
    buyers, repeat_buyers = _repeat_buyers(months)
    history_start = math.month_start(
        Interaction.objects.aggregate(first=Min("occurred_at"))["first"].astimezone(UTC).date())

    def net(month: date) -> Decimal:
        m = money.get(month, {})
        return (m.get("revenue", ZERO) - m.get("returns", ZERO) - m.get("cogs", ZERO)) - cts.get(month, ZERO)

    net_ttm = dict(zip(all_months, math.trailing_sum([net(m) for m in all_months]), strict=True))
    spend_ttm = dict(zip(all_months, math.trailing_sum([spend.get(m, ZERO) for m in all_months]), strict=True))
    settings = ClvSettings.current()
    rows = []
    for index, month in enumerate(months):
        m = money.get(month, {})
        survey = nps.get(month, {})
        figures = math.MonthFigures(
            month=month, revenue=m.get("revenue", ZERO), returns=m.get("returns", ZERO), cogs=m.get("cogs", ZERO),
            cost_to_serve=cts.get(month, ZERO), orders=m.get("orders", 0), order_revenue=m.get("order_revenue", ZERO),
            customers=counts.customers[index], promoters=survey.get("promoters", 0),
            detractors=survey.get("detractors", 0), responses=survey.get("n", 0),
            complete_ttm=math.add_months(month, -11) >= history_start,
            net_profit_ttm=net_ttm[month], spend_ttm=spend_ttm[month], acquired_ttm=counts.acquired_ttm[index],
            customers_ttm=counts.customers_ttm[index], base_ttm=counts.base_ttm[index],
            retained_ttm=counts.retained_ttm[index], buyers_ttm=buyers[index], repeat_buyers_ttm=repeat_buyers[index],
        )
        values = math.kpi_values(figures, discount_rate=settings.discount_rate,
                                 retention_override=settings.retention_override)
        rows.append(KpiMonth(
            month=month, revenue=figures.revenue, returns=figures.returns, cogs=figures.cogs,
            cost_to_serve=figures.cost_to_serve, net_profit=figures.net_profit, orders=figures.orders,
            order_revenue=figures.order_revenue, customers=figures.customers, promoters=figures.promoters,
            detractors=figures.detractors, responses=figures.responses, spend=spend.get(month, ZERO),
            acquired=counts.acquired[index], complete_ttm=figures.complete_ttm, net_profit_ttm=figures.net_profit_ttm,
            spend_ttm=figures.spend_ttm, acquired_ttm=figures.acquired_ttm, customers_ttm=figures.customers_ttm,
            base_ttm=figures.base_ttm, retained_ttm=figures.retained_ttm, buyers_ttm=figures.buyers_ttm,
            repeat_buyers_ttm=figures.repeat_buyers_ttm, computed_at=now, **values,
        ))
    return rows


def _monthly_money(begin: datetime, end: datetime) -> dict[date, dict]:
    """Revenue, returns, COGS, orders and order revenue per calendar month (UTC)."""
    rows = (
        Interaction.objects.filter(occurred_at__gte=begin, occurred_at__lt=end)
        .annotate(month=TruncMonth("occurred_at", tzinfo=UTC)).values("month")
        .annotate(
            revenue=Coalesce(Sum("amount", filter=Q(kind__in=REVENUE_KINDS)), ZERO),
            returns=Coalesce(Sum("amount", filter=Q(kind="return")), ZERO),
            cogs_in=Coalesce(Sum("direct_cost", filter=Q(kind__in=REVENUE_KINDS)), ZERO),
            cogs_back=Coalesce(Sum("direct_cost", filter=Q(kind="return")), ZERO),
            orders=Count("id", filter=Q(kind="order")),
            order_revenue=Coalesce(Sum("amount", filter=Q(kind="order")), ZERO),
        )
    )
    out = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
        out[month] = {**row, "cogs": row["cogs_in"] - row["cogs_back"]}
    return out


def _rate_windows() -> list:
    rates = [r.as_input()
             for r in CostRate.objects.all()]
    return resolve_rate_windows(rates, channels=InteractionChannel.values)


def _monthly_cost_to_serve(begin: datetime, end: datetime) -> dict[date, Decimal]:
    """Cost-to-serve per month, with the engine's effective-dated rates (``costing``)."""
    windows = _rate_windows()
    if connection.vendor == "postgresql":
        breaks = rate_breaks(windows)
        values, params = rates_values(windows, breaks)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH rates(activity, kind, channel, per_unit, rate, bucket_from, bucket_to) AS (VALUES {values})
                SELECT date_trunc('month', i.occurred_at AT TIME ZONE 'UTC')::date,
                       sum(CASE WHEN r.per_unit THEN coalesce(i.quantity, 0) ELSE 1 END * r.rate)
                FROM crm_interaction i
                JOIN rates r ON r.kind = i.kind AND r.channel = i.channel
                    AND width_bucket(i.occurred_at, %s::timestamptz[]) >= r.bucket_from
                    AND width_bucket(i.occurred_at, %s::timestamptz[]) < r.bucket_to
                WHERE i.occurred_at >= %s AND i.occurred_at < %s
                GROUP BY 1
                """,  # noqa: S608 - only %s placeholders are interpolated (sql.rates_values)
                [*params, breaks, breaks, begin, end],
            )
            return {month: cost for month, cost in cursor.fetchall()}
    # the reference path (SQLite): the same rates through costing.interaction_costs
    index = windows_for(windows)
    out: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for kind, channel, occurred_at, quantity in Interaction.objects.filter(
        occurred_at__gte=begin, occurred_at__lt=end
    ).values_list("kind", "channel", "occurred_at", "quantity").iterator(chunk_size=5000):
        day = occurred_at.astimezone(UTC).date()
        fact = InteractionFact(kind, channel, day, ZERO, ZERO, quantity)
        out[math.month_start(day)] += sum((cost for _, cost in interaction_costs(fact, index)), ZERO)
    return dict(out)


def _repeat_buyers(months: Sequence[date]) -> tuple[list[int], list[int]]:
    """Per month: accounts with ≥ 1 and with ≥ 2 orders in the 12 months ending with it.

    One GROUP BY (account, month) over the orders, then a dense accounts × months matrix whose rolling
    12-month sums NumPy takes in one pass.
    """
    first = math.add_months(months[0], -11)
    begin, end = utc_midnight(first), utc_midnight(math.add_months(months[-1], 1))
    base = first.year * 12 + first.month - 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT account_id,
                       (extract(year FROM occurred_at AT TIME ZONE 'UTC') * 12
                        + extract(month FROM occurred_at AT TIME ZONE 'UTC') - 1)::int,
                       count(*)
                FROM crm_interaction WHERE kind = 'order' AND occurred_at >= %s AND occurred_at < %s
                GROUP BY 1, 2
                """,
                [begin, end],
            )
            chunks = []  # ~1.5 M rows at 100,000 accounts: keep them as int64 arrays, not Python tuples
            while batch := cursor.fetchmany(200_000):
                chunks.append(np.array(batch, dtype=np.int64))
    else:
        chunks = [np.array([
            (a, m.year * 12 + m.month - 1, n)
            for a, m, n in Interaction.objects.filter(kind="order", occurred_at__gte=begin, occurred_at__lt=end)
            .annotate(month=TruncMonth("occurred_at", tzinfo=UTC)).values("account_id", "month")
            .annotate(n=Count("id")).values_list("account_id", "month", "n")
        ], dtype=np.int64).reshape(-1, 3)]
    span = len(months) + 11
    data = np.concatenate(chunks) if chunks else np.zeros((0, 3), dtype=np.int64)
    if not data.size:
        return [0] * len(months), [0] * len(months)
    _, account_index = np.unique(data[:, 0], return_inverse=True)
    matrix = np.zeros((int(account_index.max()) + 1, span), dtype=np.int32)
    np.add.at(matrix, (account_index, data[:, 1] - base), data[:, 2])
    cumulative = np.concatenate([np.zeros((matrix.shape[0], 1), dtype=np.int64), np.cumsum(matrix, axis=1)], axis=1)
    buyers, repeat = [], []
    for index in range(len(months)):
        window = cumulative[:, index + 12] - cumulative[:, index]  # months index .. index + 11
        buyers.append(int((window >= 1).sum()))
        repeat.append(int((window >= 2).sum()))
    return buyers, repeat


# --- funnel and channels --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: date | None
    end: date | None  # inclusive
    sort_key: int


def funnel_periods(*, as_of: date, first: date, last_month: date | None) -> list[Period]:
    """All time, the last 12 complete months, each calendar year, and the last ``QUARTERS_KEPT`` quarters."""
    periods = [Period("all", "All time", None, None, 0)]
    if last_month is not None:
        periods.append(Period("ttm", "Last 12 months", math.add_months(last_month, -11), math.month_end(last_month), 1))
    for year in range(as_of.year, first.year - 1, -1):
        label = f"{year}" + (" (to date)" if year == as_of.year else "")
        end = min(date(year, 12, 31), as_of)
        periods.append(Period(str(year), label, date(year, 1, 1), end, 10 + as_of.year - year))
    quarter = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    for index in range(QUARTERS_KEPT):
        start = math.add_months(quarter, -3 * index)
        if math.month_end(math.add_months(start, 2)) < first:
            break
        label = f"{start.year} Q{(start.month - 1) // 3 + 1}" + (" (to date)" if index == 0 else "")
        end = min(math.month_end(math.add_months(start, 2)), as_of)
        periods.append(Period(f"{start.year}-Q{(start.month - 1) // 3 + 1}", label, start, end, 100 + index))
    return periods


def _funnel_stats(*, as_of: date, last_month: date | None, now: datetime) -> list[FunnelStat]:
    leads = list(Lead.objects.values_list("channel_id", "stage", "mql_at", "sql_at", "closed_at"))
    accounts = list(
        Account.objects.filter(acquired_on__isnull=False)
        .annotate(clv=Coalesce(F("snapshot__clv_predictive"), F("snapshot__clv_formula")))
        .values_list("acquisition_channel_id", "acquired_on", "clv")
    )
    spend = list(MarketingSpend.objects.values_list("channel_id", "period", "amount"))
    if not leads and not accounts and not spend:
        return []
    firsts = [min(mql for _, _, mql, _, _ in leads).astimezone(UTC).date()] if leads else []
    firsts += [min(day for _, day, _ in accounts)] if accounts else []
    firsts += [min(period for _, period, _ in spend)] if spend else []
    periods = funnel_periods(as_of=as_of, first=min(firsts), last_month=last_month)

    nan = float("nan")
    lead_channel = np.array([c if c is not None else -1 for c, *_ in leads], dtype=np.int64)
    stage = np.array([s for _, s, *_ in leads], dtype=object)
    mql = np.array([_day(m) for _, _, m, _, _ in leads], dtype=float)
    sql = np.array([_day(s) if s else nan for *_, s, _ in leads], dtype=float)
    closed = np.array([_day(c) if c else nan for *_, c in leads], dtype=float)
    acq_channel = np.array([c if c is not None else -1 for c, _, _ in accounts], dtype=np.int64)
    acq_day = np.array([d.toordinal() for _, d, _ in accounts], dtype=np.int64)
    known_clv = np.array([v is not None for *_, v in accounts], dtype=bool)
    clv_cents = np.array([int(v * 100) if v is not None else 0 for *_, v in accounts], dtype=np.int64)
    spend_channel = np.array([c for c, _, _ in spend], dtype=np.int64)
    spend_day = np.array([p.toordinal() for _, p, _ in spend], dtype=np.int64)
    spend_cents = np.array([int(a * 100) for *_, a in spend], dtype=np.int64)
    mql_ordinal = np.floor(mql + date(1970, 1, 1).toordinal()).astype(np.int64) if leads else np.array([], np.int64)
    channels = sorted({int(c) for c in np.concatenate([lead_channel, acq_channel, spend_channel]) if c >= 0})

    rows = []
    for period in periods:
        lo = period.start.toordinal() if period.start else -(10**9)
        hi = period.end.toordinal() if period.end else 10**9
        in_leads = (mql_ordinal >= lo) & (mql_ordinal <= hi)
        in_accounts = (acq_day >= lo) & (acq_day <= hi)
        in_spend = (spend_day >= lo) & (spend_day <= hi)
        for channel in [None, *channels]:
            lm = in_leads if channel is None else in_leads & (lead_channel == channel)
            am = in_accounts if channel is None else in_accounts & (acq_channel == channel)
            sm = in_spend if channel is None else in_spend & (spend_channel == channel)
            funnel = math.funnel_figures(stage[lm], mql[lm], sql[lm], closed[lm])
            known = am & known_clv
            rows.append(FunnelStat(
                period=period.key, period_label=period.label, period_start=period.start, period_end=period.end,
                channel_id=channel, leads=funnel.leads, reached_sql=funnel.reached_sql, won=funnel.won,
                lost=funnel.lost, open_mql=funnel.open_mql, open_sql=funnel.open_sql,
                median_days_mql=funnel.median_days_mql, median_days_sql=funnel.median_days_sql,
                median_days_to_win=funnel.median_days_to_win,
                spend=_money(spend_cents[sm].sum()), acquired=int(am.sum()),
                clv_total=_money(clv_cents[known].sum()), clv_accounts=int(known.sum()), sort_key=period.sort_key,
                computed_at=now,
            ))
    return rows


def _money(cents: np.integer) -> Decimal:
    """Exact: money was summed as integer cents."""
    return Decimal(int(cents)) / 100


# --- what-if bases per segment ------------------------------------------------------------------------------



def _segment_years(*, as_of: date, now: datetime) -> list[SegmentYear]:
    """A year of business per segment value (the active accounts, as ``SegmentPnl`` counts them), over the
    same 12 months as the snapshots' TTM figures."""
    ttm_start = utc_midnight(as_of - timedelta(days=365))
    totals = _segment_totals_sql(ttm_start) if connection.vendor == "postgresql" else _segment_totals_python(ttm_start)
    return [
        SegmentYear(
            dimension=dimension, value=value, computed_at=now,
            activities={a: {"count": c, "cost": str(cost)} for a, (c, cost) in sorted(t.pop("activities").items())},
            **t,
        )
        for (dimension, value), t in sorted(totals.items())
    ]


SEGMENT_MONEY = ("order_revenue", "order_cogs", "orders", "renewal_revenue", "renewal_cogs", "return_amount",
                 "return_cogs", "returns", "support_calls")
_DIMENSIONS = ("industry", "region", "segment", "channel", "tier")


def _empty_total() -> dict:
    return {f: 0 for f in SEGMENT_MONEY} | {"accounts": 0, "activities": {}, "net_profit": ZERO,
                                            "clv_predictive": ZERO}


def _segment_totals_sql(ttm_start: datetime) -> dict[tuple[str, str], dict]:
    """Two GROUPING SETS queries: the money per segment value (from the interactions of the 12 months) and
    the cost-to-serve activities per segment value (from the snapshots' TTM breakdowns)."""
    accounts = """
        SELECT a.id, coalesce(nullif(a.industry, ''), '(none)') AS industry,
               coalesce(nullif(a.region, ''), '(none)') AS region,
               coalesce(nullif(a.segment, ''), '(none)') AS segment,
               coalesce(ch.name, '(none)') AS channel, coalesce(t.name, '(none)') AS tier,
               s.net_profit, s.clv_predictive, s.cost_breakdown_ttm
        FROM crm_account a
        JOIN profitability_accountsnapshot s ON s.account_id = a.id
        LEFT JOIN crm_channel ch ON ch.id = a.acquisition_channel_id
        LEFT JOIN profitability_tier t ON t.id = s.tier_id
        WHERE a.status = 'active'
    """
    sets = "GROUPING SETS ((industry), (region), (segment), (channel), (tier))"
    money_sql = f"""
        WITH acc AS MATERIALIZED ({accounts}),
        money AS (
            SELECT i.account_id,
                sum(i.amount) FILTER (WHERE i.kind = 'order') AS order_revenue,
                sum(i.direct_cost) FILTER (WHERE i.kind = 'order') AS order_cogs,
                count(*) FILTER (WHERE i.kind = 'order') AS orders,
                sum(i.amount) FILTER (WHERE i.kind = 'renewal') AS renewal_revenue,
                sum(i.direct_cost) FILTER (WHERE i.kind = 'renewal') AS renewal_cogs,
                sum(i.amount) FILTER (WHERE i.kind = 'return') AS return_amount,
                sum(i.direct_cost) FILTER (WHERE i.kind = 'return') AS return_cogs,
                count(*) FILTER (WHERE i.kind = 'return') AS returns,
                count(*) FILTER (WHERE i.kind = 'support_call') AS support_calls
            FROM crm_interaction i JOIN acc ON acc.id = i.account_id
            WHERE i.occurred_at >= %s
            GROUP BY i.account_id
        )
        SELECT industry, region, segment, channel, tier, count(*),
            {", ".join(f"coalesce(sum(m.{f}), 0)" for f in SEGMENT_MONEY)},
            coalesce(sum(acc.net_profit), 0), coalesce(sum(acc.clv_predictive), 0)
        FROM acc LEFT JOIN money m ON m.account_id = acc.id
        GROUP BY {sets}
    """  # noqa: S608 - no user input: constant fragments only
    activities_sql = f"""
        WITH acc AS MATERIALIZED ({accounts})
        SELECT industry, region, segment, channel, tier, e.key,
            sum((e.value ->> 'count')::bigint), sum((e.value ->> 'cost')::numeric)
        FROM acc, jsonb_each(acc.cost_breakdown_ttm) AS e
        GROUP BY GROUPING SETS ((industry, e.key), (region, e.key), (segment, e.key), (channel, e.key),
                                (tier, e.key))
    """  # noqa: S608 - no user input: constant fragments only
    totals: dict[tuple[str, str], dict] = {}

    def key(row: Sequence) -> tuple[str, str]:
        # exactly one of the five dimension columns is set in each grouping set's rows
        return next((d, v) for d, v in zip(_DIMENSIONS, row[:5], strict=True) if v is not None)

    with transaction.atomic(), connection.cursor() as cursor:
        # jsonb_each's row estimate makes the planner JIT-compile for longer than the query takes
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(money_sql, [ttm_start])
        for row in cursor.fetchall():
            total = totals.setdefault(key(row), _empty_total())
            total["accounts"] = row[5]
            for name, value in zip(SEGMENT_MONEY, row[6:15], strict=True):
                total[name] = value
            total["net_profit"], total["clv_predictive"] = row[15], row[16]
        cursor.execute(activities_sql)
        for row in cursor.fetchall():
            total = totals.setdefault(key(row), _empty_total())
            total["activities"][row[5]] = (int(row[6]), row[7])
    return totals


SEGMENT_PATHS = {
    "industry": "account__industry",
    "region": "account__region",
    "segment": "account__segment",
    "channel": "account__acquisition_channel__name",
    "tier": "tier__name",
}


def _segment_totals_python(ttm_start: datetime) -> dict[tuple[str, str], dict]:
    """The reference path (SQLite): the same totals with the ORM and a loop over the accounts."""
    snapshots = list(
        AccountSnapshot.objects.filter(account__status=Account.Status.ACTIVE)
        .values_list("account_id", *SEGMENT_PATHS.values(), "cost_breakdown_ttm", "net_profit", "clv_predictive")
    )
    money = {
        row["account_id"]: row
        for row in Interaction.objects.filter(
            occurred_at__gte=ttm_start, account__status=Account.Status.ACTIVE, account__snapshot__isnull=False
        ).values("account_id").annotate(
            order_revenue=Coalesce(Sum("amount", filter=Q(kind="order")), ZERO),
            order_cogs=Coalesce(Sum("direct_cost", filter=Q(kind="order")), ZERO),
            orders=Count("id", filter=Q(kind="order")),
            renewal_revenue=Coalesce(Sum("amount", filter=Q(kind="renewal")), ZERO),
            renewal_cogs=Coalesce(Sum("direct_cost", filter=Q(kind="renewal")), ZERO),
            return_amount=Coalesce(Sum("amount", filter=Q(kind="return")), ZERO),
            return_cogs=Coalesce(Sum("direct_cost", filter=Q(kind="return")), ZERO),
            returns=Count("id", filter=Q(kind="return")),
            support_calls=Count("id", filter=Q(kind="support_call")),
        )
    }
    totals: dict[tuple[str, str], dict] = {}
    for account_id, *dims, breakdown, net_profit, clv_predictive in snapshots:
        row = money.get(account_id, {})
        for dimension, value in zip(SEGMENT_PATHS, dims, strict=True):
            total = totals.setdefault((dimension, value or "(none)"), _empty_total())
            total["accounts"] += 1
            for f in SEGMENT_MONEY:
                total[f] += row.get(f, 0)
            for activity, line in (breakdown or {}).items():
                count, cost = total["activities"].get(activity, (0, ZERO))
                total["activities"][activity] = (count + int(line["count"]), cost + Decimal(str(line["cost"])))
            total["net_profit"] += net_profit
            total["clv_predictive"] += clv_predictive or ZERO
    return totals


# --- KPI targets ------------------------------------------------------------------------------------------------


def kpi_target_save(
    *, kpi: str, target: Decimal | None, benchmark: Decimal | None, benchmark_source: str,
    tolerance_pct: Decimal, shown: bool, user,  # type: ignore[no-untyped-def]
) -> KpiTarget:
    """Set a KPI's target and benchmark; the change lands in the history with who made it."""
    if kpi not in math.KPI_BY_KEY:
        raise ValueError(f"Unknown KPI {kpi!r}")
    with transaction.atomic():
        row = KpiTarget.objects.select_for_update().filter(kpi=kpi).first() or KpiTarget(kpi=kpi)
        row.target, row.benchmark, row.benchmark_source = target, benchmark, benchmark_source
        row.tolerance_pct, row.shown = tolerance_pct, shown
        row._history_user = user  # simple_history records who changed it
        row.save()
    return row

