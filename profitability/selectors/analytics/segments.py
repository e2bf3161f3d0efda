"""Net profit and net margin by segment: industry, region, persona, channel, tier or cluster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from crm.templatetags.tierwise import money

from ... import charts
from ...models import SegmentPnl

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
