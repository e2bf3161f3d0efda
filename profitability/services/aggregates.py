"""Book-level figures beside the snapshots: annual retention, CAC per channel and quarter, segment P&L."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncQuarter

from crm.models import Account, MarketingSpend

from ..costing import CENT, ZERO
from ..models import AccountSnapshot, ChannelCac, SegmentPnl


def annual_retention(*, as_of: date) -> float | None:
    """(customers at end − new customers) / customers at start, over the trailing year."""
    start = as_of - timedelta(days=365)
    at_start = Account.objects.filter(acquired_on__lt=start).exclude(churned_on__lt=start)
    n_start = at_start.count()
    if n_start == 0:
        return None
    retained = at_start.exclude(churned_on__lte=as_of).count()
    return retained / n_start


def channel_cac_recompute() -> int:
    """CAC per channel and quarter: the quarter's spend over accounts acquired through the channel in it."""

    spend = {
        (row["channel_id"], row["quarter"]): row["total"]
        for row in MarketingSpend.objects.annotate(quarter=TruncQuarter("period"))
        .values("channel_id", "quarter").annotate(total=Sum("amount"))
    }
    acquired = {
        (row["acquisition_channel_id"], row["quarter"]): row["n"]
        for row in Account.objects.filter(acquisition_channel__isnull=False, acquired_on__isnull=False)
        .annotate(quarter=TruncQuarter("acquired_on")).values("acquisition_channel_id", "quarter")
        .annotate(n=Count("id"))
    }
    rows = []
    for key in sorted(set(spend) | set(acquired), key=lambda k: (k[0], k[1])):
        total, n = spend.get(key, ZERO), acquired.get(key, 0)
        rows.append(ChannelCac(channel_id=key[0], quarter_start=key[1], spend=total, acquired=n,
                               cac=(total / n).quantize(CENT) if n else None))
    with transaction.atomic():
        ChannelCac.objects.all().delete()
        ChannelCac.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


SEGMENT_SUMS = {
    "n": Count("account_id"), "revenue": Sum("revenue_ttm"), "returns": Sum("returns_ttm"),
    "gm": Sum("gross_margin_ttm"), "cts": Sum("cost_to_serve_ttm"), "net": Sum("net_profit_ttm"),
}


def segment_pnl_recompute(*, now: datetime) -> int:
    """Segment P&L by industry, region, segment, channel and tier, ranked by net profit (trailing 12 months).

    Clusters are written by the campaigns app through ``segment_pnl_write`` after each clustering run.
    """
    dimensions = {
        SegmentPnl.Dimension.INDUSTRY: "account__industry",
        SegmentPnl.Dimension.REGION: "account__region",
        SegmentPnl.Dimension.SEGMENT: "account__segment",
        SegmentPnl.Dimension.CHANNEL: "account__acquisition_channel__name",
        SegmentPnl.Dimension.TIER: "tier__name",
    }
    base = AccountSnapshot.objects.filter(account__status=Account.Status.ACTIVE)
    written = 0
    for dimension, path in dimensions.items():
        groups = base.annotate(key=F(path)).values("key").annotate(**SEGMENT_SUMS)
        written += segment_pnl_write(dimension=dimension, groups=groups, now=now)
    return written


def segment_pnl_write(*, dimension: str, groups: Iterable[dict], now: datetime) -> int:
    """Replace one dimension's segment P&L with ``groups`` (dicts with ``key`` and the ``SEGMENT_SUMS``)."""
    ranked = sorted(groups, key=lambda g: g["net"] or ZERO, reverse=True)
    rows = []
    for rank, g in enumerate(ranked, start=1):
        net, net_revenue = g["net"] or ZERO, (g["revenue"] or ZERO) - (g["returns"] or ZERO)
        rows.append(SegmentPnl(
            dimension=dimension, value=g["key"] or "(none)", accounts=g["n"], revenue=g["revenue"] or ZERO,
            gross_margin=g["gm"] or ZERO, cost_to_serve=g["cts"] or ZERO, net_profit=net,
            net_margin_pct=(net * 100 / net_revenue).quantize(CENT) if net_revenue > 0 else None,
            net_profit_per_account=(net / g["n"]).quantize(CENT) if g["n"] else ZERO, rank=rank, computed_at=now,
        ))
    with transaction.atomic():
        SegmentPnl.objects.filter(dimension=dimension).delete()
        SegmentPnl.objects.bulk_create(rows)
    return len(rows)
