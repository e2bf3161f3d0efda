"""Acquisition channels (CAC, CLV/CAC, budget reallocation) and the MQL → SQL → won funnel, per period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F

from crm.models import Channel
from crm.templatetags.tierwise import money, ratio

from ... import analytics as math
from ... import charts
from ...models_analytics import FunnelStat


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
        chart_id="channels-ratio", title="CLV/CAC by acquisition channel", fmt=ratio,
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
