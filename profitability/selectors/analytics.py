"""Reads for the analytics pages. Everything comes from precomputed rows (``KpiMonth``, ``FunnelStat``,
``SegmentYear``, ``LeadScore``, and the engine's ``BookSummary``, ``SegmentPnl`` and ``AccountSnapshot``), a
few queries per page whatever the size of the book. The one exception is the what-if of a single account,
which reads that account's last year of interactions (an index range scan) to price it with ``costing``.

Each page selector returns a dataclass with the figures, the SVG charts (``charts``), and rows for the
tables and CSV downloads built from the same numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import F

from crm.models import Account, Channel, Interaction, InteractionChannel, Lead
from crm.templatetags.tierwise import money

from .. import analytics as math
from .. import charts
from ..costing import InteractionFact, account_pnl, resolve_rate_windows
from ..models import AccountSnapshot, BookSummary, ClvSettings, CostRate, SegmentPnl, Tier
from ..models_analytics import (
    AnalyticsRefresh,
    FunnelStat,
    KpiMonth,
    KpiTarget,
    LeadScore,
    LeadScoringModel,
    SegmentYear,
)
from ..ranking import band_for_value
from ..services import clv_retention, tier_bands

ZERO = Decimal("0")
DASHBOARD_MONTHS = 24
LOSS_PAGE_SIZE = 25
LEAD_PAGE_SIZE = 50
DEFAULT_TARGETS = {"clv_cac": math.CLV_CAC_FLOOR}  # source 000's floor, until an admin sets a target


# --- formatting ---------------------------------------------------------------------------------------------------


def format_kpi(unit: str, value: Decimal | float | None) -> str:
    """A KPI value as the page shows it: money with the currency, % with one place, ratios with two."""
    if value is None:
        return "—"
    if unit == math.MONEY:
        return money(value)
    if unit == math.PCT:
        return f"{Decimal(value):,.1f} %"
    if unit == math.RATIO:
        return f"{Decimal(value):,.2f}"
    return f"{Decimal(value):+,.0f}".replace("-", "−")


def _axis_format(unit: str):  # type: ignore[no-untyped-def]
    if unit == math.MONEY:
        return lambda v: money(v)
    if unit == math.PCT:
        return lambda v: f"{v:,.0f} %"
    if unit == math.RATIO:
        return lambda v: f"{v:,.1f}"
    return lambda v: f"{v:+,.0f}"


def month_label(month: date) -> str:
    return month.strftime("%b %Y")


# --- CSV ------------------------------------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")


def csv_cell(value: Any) -> Any:
    """A cell safe to open in a spreadsheet (OWASP): text starting with = + - @, a tab, CR, LF or NUL gets a
    leading apostrophe so it is shown, not evaluated. Numbers (Decimal, int, float) stay numbers — a
    negative amount is a number, not a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


# --- refresh status --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshInfo:
    computed_at: datetime
    as_of: date
    behind_book: bool  # the book was recomputed after this refresh


def refresh_info() -> RefreshInfo | None:
    latest = AnalyticsRefresh.objects.order_by("-computed_at").only("computed_at", "as_of").first()
    if latest is None:
        return None
    book_at = BookSummary.objects.order_by("-computed_at").values_list("computed_at", flat=True).first()
    return RefreshInfo(latest.computed_at, latest.as_of, bool(book_at and book_at > latest.computed_at))


# --- KPI dashboard -------------------------------------------------------------------------------------------------


@dataclass
class KpiCard:
    kpi: math.KpiDef
    month: date | None
    value: Decimal | None
    previous: Decimal | None
    target: Decimal | None
    target_is_default: bool
    benchmark: Decimal | None
    benchmark_source: str
    tolerance_pct: Decimal
    state: str | None
    benchmark_gap: str | None
    shown: bool
    labels: list[str] = field(default_factory=list)
    series: list[Decimal | None] = field(default_factory=list)
    spark: str = ""

    @property
    def display(self) -> str:
        return format_kpi(self.kpi.unit, self.value)

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_display(self) -> str:
        change = self.change
        if change is None:
            return ""
        sign = "+" if change > 0 else ("−" if change < 0 else "±")
        if self.kpi.unit == math.PCT:
            return f"{sign}{abs(change):,.1f} pts"
        return sign + format_kpi(self.kpi.unit, abs(change)).lstrip("+")

    @property
    def change_is_good(self) -> bool | None:
        change = self.change
        if not change:
            return None
        return (change > 0) == self.kpi.higher_is_better

    @property
    def target_display(self) -> str:
        return format_kpi(self.kpi.unit, self.target)

    @property
    def benchmark_display(self) -> str:
        return format_kpi(self.kpi.unit, self.benchmark)

    @property
    def below_clv_cac_floor(self) -> bool:
        return self.kpi.key == "clv_cac" and self.value is not None and self.value < math.CLV_CAC_FLOOR


@dataclass
class Dashboard:
    cards: list[KpiCard]
    hidden: list[KpiCard]
    selected: KpiCard | None
    chart: str
    months: list[KpiMonth]  # oldest first
    refresh: RefreshInfo | None

    @property
    def kpis(self) -> tuple[math.KpiDef, ...]:
        return math.KPIS

    @property
    def selected_rows(self) -> list[tuple[str, str]]:
        if self.selected is None:
            return []
        unit = self.selected.kpi.unit
        return [(label, format_kpi(unit, v)) for label, v in zip(self.selected.labels, self.selected.series,
                                                                   strict=True)]

    @property
    def table_rows(self) -> list[tuple[str, list[str]]]:
        return [(month_label(m.month), [format_kpi(k.unit, getattr(m, k.key)) for k in math.KPIS])
                for m in self.months]


def _targets() -> dict[str, KpiTarget]:
    return {t.kpi: t for t in KpiTarget.objects.all()}


def kpi_cards(rows: Sequence[KpiMonth], targets: dict[str, KpiTarget]) -> list[KpiCard]:
    cards = []
    labels = [month_label(r.month) for r in rows]
    for kpi in math.KPIS:
        series = [getattr(r, kpi.key) for r in rows]
        known = [(r.month, v) for r, v in zip(rows, series, strict=True) if v is not None]
        month, value = known[-1] if known else (None, None)
        previous = known[-2][1] if len(known) > 1 else None
        row = targets.get(kpi.key)
        target = row.target if row and row.target is not None else DEFAULT_TARGETS.get(kpi.key)
        tolerance = row.tolerance_pct if row else Decimal("10")
        cards.append(KpiCard(
            kpi=kpi, month=month, value=value, previous=previous, target=target,
            target_is_default=(row is None or row.target is None) and kpi.key in DEFAULT_TARGETS,
            benchmark=row.benchmark if row else None, benchmark_source=row.benchmark_source if row else "",
            tolerance_pct=tolerance,
            state=math.kpi_state(value, target, higher_is_better=kpi.higher_is_better, tolerance_pct=tolerance),
            benchmark_gap=math.benchmark_gap(value, row.benchmark if row else None,
                                             higher_is_better=kpi.higher_is_better),
            shown=row.shown if row else True, labels=labels, series=series,
        ))
    return cards


def kpi_dashboard(*, selected: str | None = None, months: int = DASHBOARD_MONTHS) -> Dashboard:
    rows = list(KpiMonth.objects.order_by("-month")[:months])[::-1]
    cards = kpi_cards(rows, _targets())
    for card in cards:
        card.spark = charts.line_chart(
            card.labels, [float(v) if v is not None else None for v in card.series],
            chart_id=f"spark-{card.kpi.key}", title=f"{card.kpi.label}, last {len(rows)} months",
            fmt=_axis_format(card.kpi.unit), target=float(card.target) if card.target is not None else None,
            width=240, height=64, compact=True,
        )
    shown = [c for c in cards if c.shown]
    chosen = next((c for c in cards if c.kpi.key == selected), None) or next(
        (c for c in shown if c.kpi.key == "clv_cac"), shown[0] if shown else None)
    chart = ""
    if chosen is not None:
        chart = charts.line_chart(
            chosen.labels, [float(v) if v is not None else None for v in chosen.series],
            chart_id=f"trend-{chosen.kpi.key}", title=f"{chosen.kpi.label}: monthly trend",
            fmt=_axis_format(chosen.kpi.unit),
            target=float(chosen.target) if chosen.target is not None else None,
            benchmark=float(chosen.benchmark) if chosen.benchmark is not None else None, width=960, height=260,
        )
    return Dashboard(shown, [c for c in cards if not c.shown], chosen, chart, rows, refresh_info())


def kpi_csv_rows() -> tuple[list[str], Iterator[list]]:
    header = ["month", *[k.key for k in math.KPIS], "revenue", "returns", "cogs", "cost_to_serve", "net_profit",
              "orders", "customers", "spend", "acquired"]

    def rows() -> Iterator[list]:
        for m in KpiMonth.objects.order_by("month"):
            yield [m.month.isoformat(), *[getattr(m, k.key) for k in math.KPIS], m.revenue, m.returns, m.cogs,
                   m.cost_to_serve, m.net_profit, m.orders, m.customers, m.spend, m.acquired]

    return header, rows()


# --- KPI check ---------------------------------------------------------------------------------------------------


@dataclass
class KpiCheckRow:
    kpi: math.KpiDef
    correlation: math.KpiCorrelation
    shown: bool

    @property
    def r_display(self) -> str:
        return f"{self.correlation.r:+.2f}" if self.correlation.r is not None else "—"


@dataclass
class KpiCheck:
    rows: list[KpiCheckRow]
    months: int
    chart: str
    refresh: RefreshInfo | None


VERDICTS = {
    "moves": "Moves with profit — keep",
    "weak": "Weak link — watch",
    "none": "Does not move with profit — candidate to drop",
    "short": "Not enough history yet",
}


def kpi_check() -> KpiCheck:
    rows = list(KpiMonth.objects.order_by("month"))
    profit = [r.net_profit for r in rows]
    targets = _targets()
    out = []
    for kpi in math.KPIS:
        correlation = math.kpi_profit_correlation([getattr(r, kpi.key) for r in rows], profit)
        out.append(KpiCheckRow(kpi, correlation, targets[kpi.key].shown if kpi.key in targets else True))
    chart = charts.bar_chart(
        [(row.kpi.label, row.correlation.r) for row in out], chart_id="kpi-check",
        title="Correlation of each KPI with next month's net profit", fmt=lambda v: f"{v:+.2f}",
    )
    return KpiCheck(out, len(rows), chart, refresh_info())


def kpi_check_csv_rows() -> tuple[list[str], Iterator[list]]:
    check = kpi_check()
    header = ["kpi", "months_paired", "r_next_month_net_profit", "p_value", "r_month_on_month_changes", "verdict"]
    return header, iter([
        [row.kpi.label, row.correlation.pairs, _round(row.correlation.r, 4), _round(row.correlation.p_value, 4),
         _round(row.correlation.r_changes, 4), VERDICTS[row.correlation.verdict]]
        for row in check.rows
    ])


def _round(value: float | None, places: int) -> float | None:
    return round(value, places) if value is not None else None


# --- whale curve ---------------------------------------------------------------------------------------------------


@dataclass
class LossMaker:
    snapshot: AccountSnapshot
    driver: math.LossDriver


@dataclass
class WhalePage:
    book: BookSummary | None
    chart: str
    points: list[tuple[float, float]]
    loss_makers: Page | None
    break_even_pct: float | None = None  # the top that many % of accounts earn 100 % of the profit


def _book() -> BookSummary | None:
    return BookSummary.objects.order_by("-computed_at").defer("metric_quantiles", "tier_median_counts").first()


def _loss_makers():  # type: ignore[no-untyped-def]
    return (
        AccountSnapshot.objects.filter(account__status=Account.Status.ACTIVE, net_profit__lt=0)
        .select_related("account", "tier").order_by("net_profit", "account_id")
    )


def _loss_maker(snapshot: AccountSnapshot) -> LossMaker:
    return LossMaker(snapshot, math.loss_driver(snapshot.cost_breakdown, gross_margin=snapshot.gross_margin,
                                                returns=snapshot.returns))


def whale_page(*, page: int | str = 1) -> WhalePage:
    book = _book()
    if book is None:
        return WhalePage(None, "", [], None)
    points = list(zip(book.whale_curve.get("customer_pct", []), book.whale_curve.get("cumulative_profit_pct", []),
                      strict=True))
    break_even = book.break_even_customer_pct
    chart = charts.whale_chart(
        [p[0] for p in points], [p[1] for p in points], chart_id="whale", title="Whale curve: cumulative net profit",
        peak=(book.peak_customer_pct, book.peak_profit_pct) if points else None,
        top20=book.top20_profit_pct if points else None, break_even=break_even,
    )
    paginator = Paginator(_loss_makers(), LOSS_PAGE_SIZE)
    loss_page = paginator.get_page(page)
    loss_page.object_list = [_loss_maker(s) for s in loss_page.object_list]
    return WhalePage(book, chart, points, loss_page, break_even)


def whale_csv_rows() -> tuple[list[str], Iterator[list]]:
    book = _book()
    curve = book.whale_curve if book else {}
    return (["accounts_pct", "cumulative_net_profit_pct"],
            iter([[a, b] for a, b in zip(curve.get("customer_pct", []), curve.get("cumulative_profit_pct", []),
                                         strict=True)]))


def loss_makers_csv_rows() -> tuple[list[str], Iterator[list]]:
    header = ["account_id", "account", "tier", "net_profit", "gross_margin", "cost_to_serve", "driver",
              "driver_count", "driver_cost", "driver_share_of_cost_to_serve_pct", "explanation"]

    def rows() -> Iterator[list]:
        for snapshot in _loss_makers().iterator(chunk_size=2000):
            item = _loss_maker(snapshot)
            yield [snapshot.account_id, snapshot.account.name, snapshot.tier.name if snapshot.tier else "",
                   snapshot.net_profit, snapshot.gross_margin, snapshot.cost_to_serve, item.driver.activity,
                   item.driver.count, item.driver.cost, item.driver.share_pct, " · ".join(snapshot.explanation)]

    return header, rows()


# --- segments ---------------------------------------------------------------------------------------------------------

SEGMENT_TABS = [
    ("industry", "Industry"), ("region", "Region"), ("segment", "Persona"), ("channel", "Channel"),
    ("tier", "Tier"), ("cluster", "Cluster"),
]
SEGMENT_SORTS = {"profit": "Net profit", "margin": "Net margin"}


@dataclass
class SegmentsPage:
    dimension: str
    dimension_label: str
    sort: str
    rows: list[SegmentPnl]
    profit_chart: str
    margin_chart: str
    computed_at: datetime | None


def _segment_rows(dimension: str, sort: str) -> list[SegmentPnl]:
    rows = SegmentPnl.objects.filter(dimension=dimension)
    if sort == "margin":
        return list(rows.order_by(F("net_margin_pct").desc(nulls_last=True), "rank"))
    return list(rows.order_by("rank"))


def segments_page(*, dimension: str, sort: str) -> SegmentsPage:
    rows = _segment_rows(dimension, sort)
    label = dict(SEGMENT_TABS)[dimension]
    profit_chart = charts.bar_chart(
        [(r.value, float(r.net_profit)) for r in rows], chart_id=f"segments-profit-{dimension}",
        title=f"Net profit (last 12 months) by {label.lower()}", fmt=lambda v: money(v),
    )
    margin_chart = charts.bar_chart(
        [(r.value, float(r.net_margin_pct) if r.net_margin_pct is not None else None) for r in rows],
        chart_id=f"segments-margin-{dimension}", title=f"Net margin by {label.lower()}", fmt=lambda v: f"{v:.1f} %",
    )
    return SegmentsPage(dimension, label, sort, rows, profit_chart, margin_chart,
                        rows[0].computed_at if rows else None)


def segments_csv_rows(*, dimension: str, sort: str) -> tuple[list[str], Iterator[list]]:
    header = ["dimension", "segment", "rank_by_net_profit", "accounts", "revenue", "gross_margin", "cost_to_serve",
              "net_profit", "net_margin_pct", "net_profit_per_account"]
    return header, iter([
        [r.dimension, r.value, r.rank, r.accounts, r.revenue, r.gross_margin, r.cost_to_serve, r.net_profit,
         r.net_margin_pct, r.net_profit_per_account] for r in _segment_rows(dimension, sort)
    ])


# --- channels and funnel ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodOption:
    key: str
    label: str


def period_options() -> list[PeriodOption]:
    return [PeriodOption(k, label) for k, label in FunnelStat.objects.filter(channel__isnull=True)
            .order_by("sort_key").values_list("period", "period_label")]


@dataclass
class ChannelRow:
    name: str
    stat: FunnelStat
    economics: math.ChannelEconomics

    @property
    def funnel(self) -> math.FunnelFigures:
        return _figures(self.stat)


def _figures(stat: FunnelStat) -> math.FunnelFigures:
    return math.FunnelFigures(
        leads=stat.leads, reached_sql=stat.reached_sql, won=stat.won, lost=stat.lost, open_mql=stat.open_mql,
        open_sql=stat.open_sql, median_days_mql=stat.median_days_mql, median_days_sql=stat.median_days_sql,
        median_days_to_win=stat.median_days_to_win,
    )


def _economics(name: str, stat: FunnelStat) -> math.ChannelEconomics:
    return math.ChannelEconomics(name, stat.spend, stat.acquired, stat.clv_total, stat.clv_accounts)


@dataclass
class ChannelsPage:
    period: str
    periods: list[PeriodOption]
    rows: list[ChannelRow]
    total: ChannelRow | None
    reallocation: math.Reallocation | None
    shift_pct: int
    ratio_chart: str
    cac_chart: str


SHIFT_CHOICES = (10, 20, 30)


def _period_stats(period: str) -> list[FunnelStat]:
    return list(FunnelStat.objects.filter(period=period).select_related("channel")
                .order_by(F("channel__name").asc(nulls_first=True)))


def channels_page(*, period: str, shift_pct: int = 20) -> ChannelsPage:
    periods = period_options()
    stats = _period_stats(period)
    rows = [ChannelRow(s.channel.name, s, _economics(s.channel.name, s)) for s in stats if s.channel_id]
    total = next((ChannelRow("All channels", s, _economics("All channels", s)) for s in stats
                  if s.channel_id is None), None)
    reallocation = math.budget_reallocation([r.economics for r in rows], max_shift_pct=Decimal(shift_pct)) \
        if rows else None
    ratio_chart = charts.bar_chart(
        [(r.name, float(r.economics.clv_cac) if r.economics.clv_cac is not None else None) for r in rows],
        chart_id="channels-ratio", title="CLV/CAC by acquisition channel", fmt=lambda v: f"{v:.2f}",
        reference=3.0, reference_label="3 (floor)",
    )
    cac_chart = charts.bar_chart(
        [(r.name, float(r.economics.cac) if r.economics.cac is not None else None) for r in rows],
        chart_id="channels-cac", title="CAC by acquisition channel", fmt=lambda v: money(v),
    )
    return ChannelsPage(period, periods, rows, total, reallocation, shift_pct, ratio_chart, cac_chart)


def channels_csv_rows(*, period: str) -> tuple[list[str], Iterator[list]]:
    header = ["period", "channel", "spend", "leads", "reached_sql", "won", "lost", "mql_to_sql_pct",
              "sql_to_won_pct", "mql_to_won_pct", "customers_acquired", "cac", "avg_clv", "clv_cac"]
    page = channels_page(period=period)
    rows = [*page.rows, *([page.total] if page.total else [])]
    return header, iter([
        [r.stat.period_label, r.name, r.economics.spend, r.stat.leads, r.stat.reached_sql, r.stat.won, r.stat.lost,
         r.funnel.mql_to_sql_pct, r.funnel.sql_to_won_pct, r.funnel.mql_to_won_pct, r.economics.acquired,
         r.economics.cac, r.economics.avg_clv, r.economics.clv_cac] for r in rows
    ])


def reallocation_csv_rows(*, period: str, shift_pct: int) -> tuple[list[str], Iterator[list]]:
    page = channels_page(period=period, shift_pct=shift_pct)
    header = ["channel", "spend", "suggested_spend", "change", "expected_customers_change", "expected_clv_change"]
    plans = page.reallocation.plans if page.reallocation else []
    return header, iter([[p.channel, p.spend, p.new_spend, p.new_spend - p.spend, p.customers_delta, p.clv_delta]
                         for p in plans])


@dataclass
class FunnelPage:
    period: str
    periods: list[PeriodOption]
    channel_id: int | None
    channels: list[Channel]
    selected: FunnelStat | None
    figures: math.FunnelFigures | None
    chart: str
    rows: list[tuple[str, FunnelStat, math.FunnelFigures]]


def funnel_page(*, period: str, channel_id: int | None) -> FunnelPage:
    periods = period_options()
    stats = _period_stats(period)
    selected = next((s for s in stats if s.channel_id == channel_id), None)
    figures = _figures(selected) if selected else None
    chart = ""
    if figures is not None:
        name = selected.channel.name if selected.channel_id else "all channels"
        chart = charts.funnel_chart(
            [("MQL", figures.leads), ("SQL", figures.reached_sql), ("Won", figures.won)],
            chart_id="funnel", title=f"MQL → SQL → won, {name}, {selected.period_label.lower()}",
        )
    rows = [(s.channel.name if s.channel_id else "All channels", s, _figures(s)) for s in stats]
    channels = [s.channel for s in stats if s.channel_id]
    return FunnelPage(period, periods, channel_id, channels, selected, figures, chart, rows)


def funnel_csv_rows(*, period: str) -> tuple[list[str], Iterator[list]]:
    header = ["period", "channel", "mql", "reached_sql", "won", "lost", "open_mql", "open_sql", "mql_to_sql_pct",
              "sql_to_won_pct", "mql_to_won_pct", "win_rate_pct", "median_days_in_mql", "median_days_in_sql",
              "median_days_mql_to_won"]
    page = funnel_page(period=period, channel_id=None)
    return header, iter([
        [s.period_label, name, f.leads, f.reached_sql, f.won, f.lost, f.open_mql, f.open_sql, f.mql_to_sql_pct,
         f.sql_to_won_pct, f.mql_to_won_pct, f.win_rate_pct, f.median_days_mql, f.median_days_sql,
         f.median_days_to_win] for name, s, f in page.rows
    ])


# --- lead scoring ----------------------------------------------------------------------------------------------------


@dataclass
class LeadsPage:
    model: LeadScoringModel | None
    page: Page
    open_leads: int
    stage: str
    channel_id: int | None
    channels: list[Channel]
    history: list[LeadScoringModel]


def _scores(stage: str, channel_id: int | None):  # type: ignore[no-untyped-def]
    scores = LeadScore.objects.select_related("lead", "lead__channel", "lead__owner").order_by(
        "-expected_value", "lead_id")
    if stage:
        scores = scores.filter(lead__stage=stage)
    if channel_id:
        scores = scores.filter(lead__channel_id=channel_id)
    return scores


def leads_page(*, stage: str = "", channel_id: int | None = None, page: int | str = 1) -> LeadsPage:
    model = LeadScoringModel.objects.order_by("-trained_at", "-pk").defer("params").first()
    paginator = Paginator(_scores(stage, channel_id), LEAD_PAGE_SIZE)
    return LeadsPage(
        model=model, page=paginator.get_page(page),
        open_leads=Lead.objects.filter(stage__in=[Lead.Stage.MQL, Lead.Stage.SQL]).count(),
        stage=stage, channel_id=channel_id, channels=list(Channel.objects.order_by("name")),
        history=list(LeadScoringModel.objects.order_by("-trained_at", "-pk").defer("params")[:10]),
    )


def leads_csv_rows(*, stage: str = "", channel_id: int | None = None) -> tuple[list[str], Iterator[list]]:
    header = ["lead_id", "company", "stage", "channel", "industry", "region", "employee_band", "p_win",
              "predicted_value", "expected_value", "reasons"]

    def rows() -> Iterator[list]:
        for s in _scores(stage, channel_id).iterator(chunk_size=2000):
            lead = s.lead
            reasons = "; ".join(f"{r['feature']} {r['value']}: {r['effect']}" for r in s.reasons)
            yield [lead.pk, lead.company_name, lead.get_stage_display(), lead.channel.name if lead.channel else "",
                   lead.industry, lead.region, lead.employee_band, round(s.p_win, 4), s.predicted_value,
                   s.expected_value, reasons]

    return header, rows()


# --- what-if ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfOutcome:
    subject: str
    accounts: int
    base: math.WhatIfBase
    before: Any  # costing.PnL
    after: Any
    clv_before: Decimal
    clv_after: Decimal
    tier_before: Tier | None
    tier_after: Tier | None
    metric_label: str
    snapshot_tier: Tier | None = None
    notes: tuple[str, ...] = ()

    @property
    def profit_change(self) -> Decimal:
        return self.after.net_profit - self.before.net_profit

    @property
    def per_account(self) -> bool:
        return self.accounts > 1


def _windows_and_rates(as_of: date) -> tuple[list, dict[str, tuple[str, bool, Decimal]]]:
    rows = list(CostRate.objects.all())
    windows = resolve_rate_windows(
        [r.as_input() for r in rows],
        channels=InteractionChannel.values,
    )
    unit_rates: dict[str, tuple[str, bool, Decimal]] = {}
    for r in sorted(rows, key=lambda r: r.effective_from):
        if not r.channel and r.effective_from <= as_of:
            unit_rates[r.activity] = (r.kind, r.per_unit, r.rate)
    return windows, unit_rates


def _activity_lines(breakdown: dict, unit_rates: dict) -> dict[str, math.ActivityLine]:
    lines = {}
    for activity, line in breakdown.items():
        count = line.count if hasattr(line, "count") else int(line["count"])
        cost = line.cost if hasattr(line, "cost") else Decimal(str(line["cost"]))
        kind, per_unit, _ = unit_rates.get(activity, ("", False, ZERO))
        lines[activity] = math.ActivityLine(kind, per_unit, count, cost)
    return lines


def _as_of() -> date:
    book = BookSummary.objects.order_by("-computed_at").values_list("as_of", flat=True).first()
    return book or datetime.now(UTC).date()


def account_base(account: Account) -> tuple[math.WhatIfBase, date]:
    """The account's last 12 months (the snapshots' TTM window) priced with ``costing.account_pnl``."""
    as_of = _as_of()
    since = as_of - timedelta(days=365)
    windows, unit_rates = _windows_and_rates(as_of)
    facts = [
        InteractionFact(kind, channel, occurred_at.astimezone(UTC).date(), amount, direct_cost, quantity)
        for kind, channel, occurred_at, amount, direct_cost, quantity in Interaction.objects.filter(
            account=account, occurred_at__gte=datetime.combine(since, time.min, tzinfo=UTC)
        ).values_list("kind", "channel", "occurred_at", "amount", "direct_cost", "quantity")
    ]
    pnl = account_pnl(facts, windows, since=since)

    def total(kind: str, attr: str) -> Decimal:
        return sum((getattr(f, attr) for f in facts if f.kind == kind and f.occurred_on >= since), ZERO)

    def count(kind: str) -> int:
        return sum(1 for f in facts if f.kind == kind and f.occurred_on >= since)

    base = math.WhatIfBase(
        accounts=1, order_revenue=total("order", "amount"), order_cogs=total("order", "direct_cost"),
        orders=count("order"), renewal_revenue=total("renewal", "amount"),
        renewal_cogs=total("renewal", "direct_cost"), return_amount=total("return", "amount"),
        return_cogs=total("return", "direct_cost"), returns=count("return"), support_calls=count("support_call"),
        activities=_activity_lines(pnl.breakdown, unit_rates), unit_rates=unit_rates,
    )
    return base, as_of


def segment_base(row: SegmentYear) -> math.WhatIfBase:
    _, unit_rates = _windows_and_rates(_as_of())
    return math.WhatIfBase(
        accounts=row.accounts, order_revenue=row.order_revenue, order_cogs=row.order_cogs, orders=row.orders,
        renewal_revenue=row.renewal_revenue, renewal_cogs=row.renewal_cogs, return_amount=row.return_amount,
        return_cogs=row.return_cogs, returns=row.returns, support_calls=row.support_calls,
        activities=_activity_lines(row.activities, unit_rates), unit_rates=unit_rates,
    )


def _retention_and_discount(book: BookSummary | None) -> tuple[float, float]:
    settings = ClvSettings.current()
    return clv_retention(settings, book), float(settings.discount_rate)


def _tier_for(value: float, book: BookSummary | None, tiers: list[Tier]) -> Tier | None:
    if book is None or not tiers or not book.tier_floors:
        return None
    bands = tier_bands(tiers)
    floors = {int(k): v for k, v in book.tier_floors.items()}
    key = band_for_value(value, floors, bands)
    return next((t for t in tiers if t.pk == key), None)


def what_if(*, base: math.WhatIfBase, scenario: math.Scenario, subject: str, lifetime_net_profit: Decimal,
            clv_predictive: Decimal | None, snapshot_tier: Tier | None = None) -> WhatIfOutcome:
    """Before and after for ``base``: profit with ``analytics.what_if_pnl`` (``costing.PnL``), formula CLV with
    ``ranking.formula_clv``, and the tier with ``ranking.band_for_value`` against the book's tier floors.

    For a segment every figure is per average account for CLV and tier (``lifetime_net_profit`` and
    ``clv_predictive`` are the segment's sums)."""
    book = BookSummary.objects.order_by("-computed_at").only(
        "tier_floors", "annual_retention", "ranking_metric").first()
    tiers = list(Tier.objects.order_by("position"))
    retention, discount = _retention_and_discount(book)
    before = math.what_if_pnl(base, math.Scenario())
    after = math.what_if_pnl(base, scenario)
    n = Decimal(max(base.accounts, 1))
    clv_before = math.clv_of(before.net_profit / n, retention=retention, discount_rate=discount)
    clv_after = math.clv_of(after.net_profit / n, retention=retention, discount_rate=discount)
    metric = book.ranking_metric if book else ClvSettings.RankingMetric.NET_PROFIT_TTM
    if metric == ClvSettings.RankingMetric.NET_PROFIT:
        value_before = lifetime_net_profit / n
        value_after = value_before + (after.net_profit - before.net_profit) / n
    elif metric == ClvSettings.RankingMetric.CLV_PREDICTIVE and clv_predictive is not None:
        value_before = clv_predictive / n
        value_after = value_before + clv_after - clv_before
    else:
        value_before, value_after = before.net_profit / n, after.net_profit / n
    notes = []
    if base.orders == 0 and (scenario.price_pct or scenario.volume_pct or scenario.return_rate_pct is not None):
        notes.append("No orders in the last 12 months: price, volume and return-rate changes have nothing to act on.")
    return WhatIfOutcome(
        subject=subject, accounts=base.accounts, base=base, before=before, after=after, clv_before=clv_before,
        clv_after=clv_after, tier_before=_tier_for(float(value_before), book, tiers),
        tier_after=_tier_for(float(value_after), book, tiers),
        metric_label=dict(ClvSettings.RankingMetric.choices).get(metric, metric), snapshot_tier=snapshot_tier,
        notes=tuple(notes),
    )


def account_what_if(*, account_id: int, scenario: math.Scenario) -> WhatIfOutcome | None:
    account = Account.objects.filter(pk=account_id).select_related("snapshot__tier").first()
    if account is None:
        return None
    snapshot = getattr(account, "snapshot", None)
    base, _ = account_base(account)
    return what_if(
        base=base, scenario=scenario, subject=account.name,
        lifetime_net_profit=snapshot.net_profit if snapshot else ZERO,
        clv_predictive=snapshot.clv_predictive if snapshot else None,
        snapshot_tier=snapshot.tier if snapshot else None,
    )


def segment_what_if(*, dimension: str, value: str, scenario: math.Scenario) -> WhatIfOutcome | None:
    row = SegmentYear.objects.filter(dimension=dimension, value=value).first()
    if row is None:
        return None
    label = dict(SEGMENT_TABS).get(dimension, dimension)
    return what_if(base=segment_base(row), scenario=scenario, subject=f"{label}: {value}",
                   lifetime_net_profit=row.net_profit, clv_predictive=row.clv_predictive)


def account_matches(q: str, limit: int = 10) -> list[Account]:
    if not q:
        return []
    return list(Account.objects.filter(name__icontains=q).exclude(status=Account.Status.PROSPECT)
                .order_by("name").only("id", "name", "status")[:limit])


def segment_choices() -> list[tuple[str, str, list[str]]]:
    """(label, dimension, values) per segment dimension, for the what-if picker."""
    values: dict[str, list[str]] = {}
    for dimension, value in SegmentYear.objects.order_by("dimension", "value").values_list("dimension", "value"):
        values.setdefault(dimension, []).append(value)
    return [(label, key, values[key]) for key, label in SEGMENT_TABS if key in values]


# --- targets ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetChange:
    when: datetime
    who: str
    kpi: str
    changes: list[tuple[str, str, str]]  # (field, before, after)


TARGET_FIELDS = [("target", "Target"), ("benchmark", "Benchmark"), ("benchmark_source", "Benchmark source"),
                 ("tolerance_pct", "Amber tolerance %"), ("shown", "On the dashboard")]


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def target_history(limit: int = 50) -> list[TargetChange]:
    """The latest changes to KPI targets: who, when, and each field before → after."""
    history = KpiTarget.history.model
    records = list(history.objects.select_related("history_user").order_by("-history_date", "-history_id")[:limit])
    previous_of: dict[int, Any] = {}
    if records:
        before: dict[str, Any] = {}
        for record in history.objects.filter(kpi__in={r.kpi for r in records}).order_by(
            "kpi", "history_date", "history_id"
        ):
            previous_of[record.history_id] = before.get(record.kpi)
            before[record.kpi] = record
    labels = math.KPI_BY_KEY
    out = []
    for record in records:
        previous = previous_of.get(record.history_id)
        changes = []
        for name, label in TARGET_FIELDS:
            new = getattr(record, name)
            old = getattr(previous, name) if previous is not None else None
            if record.history_type == "-" or previous is None or old != new:
                changes.append((label, _show(old) if previous is not None else "—", _show(new)))
        user = record.history_user
        out.append(TargetChange(
            when=record.history_date, who=(user.get_full_name() or user.username) if user else "system",
            kpi=labels[record.kpi].label if record.kpi in labels else record.kpi, changes=changes,
        ))
    return out


def targets_overview() -> list[KpiCard]:
    rows = list(KpiMonth.objects.order_by("-month")[:2])[::-1]
    return kpi_cards(rows, _targets())
