"""Recomputing the whole book set-based: one aggregate query, vectorised math, exact ranks and tiers, bulk
writes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from crm.templatetags.tierwise import currency_symbol

from ..costing import ZERO
from ..models import AccountSnapshot, BookSummary, ClvModelFit
from ..ranking import band_floors, band_runners_up, rank_into_bands, whale_curve
from .aggregates import annual_retention, channel_cac_recompute, segment_pnl_recompute
from .compute import Computed, compute_rows, explain, is_rankable, to_money
from .context import EngineContext, engine_context, tier_bands
from .rows import fetch_pnl_rows
from .sla import cases_apply_sla
from .snapshots import upsert_snapshots_copy, upsert_snapshots_orm
from .tier_changes import record_tier_changes

log = logging.getLogger(__name__)
QUANTILE_SAMPLE = 1001
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BookResult:
    accounts: int
    tier_changes: int
    seconds: dict[str, float]


def book_recompute(*, now: datetime | None = None, progress: Progress | None = None) -> BookResult:
    """Recompute every account's snapshot set-based: one aggregate query, vectorised math, bulk writes.

    Also refreshes channel CAC, exact ranks and tiers, the whale curve, tier medians and segment P&L.
    """
    import time as clock

    say = progress or log.info
    now = now or timezone.now()
    timings: dict[str, float] = {}
    started = clock.perf_counter()

    channel_cac_recompute()
    timings["channel_cac"] = clock.perf_counter() - started
    ctx = engine_context(now=now)
    if ctx.clv.bgnbd is None and not ClvModelFit.objects.exists():
        say("No CLV model fits yet: fitting them first")
        from ..clv_book import clv_models_fit

        clv_models_fit(now=now)
        ctx = engine_context(now=now)

    mark = clock.perf_counter()
    rows = fetch_pnl_rows(ctx)
    timings["aggregate"] = clock.perf_counter() - mark
    say(f"Aggregated {len(rows):,} accounts in {timings['aggregate']:.1f} s")

    mark = clock.perf_counter()
    items = compute_rows(rows, ctx)
    ranked = _rank_book(items, ctx)
    timings["compute"] = clock.perf_counter() - mark
    say(f"Computed CLV, ranks and tiers in {timings['compute']:.1f} s")

    mark = clock.perf_counter()
    changes = _write_book(items, ctx, ranked)
    timings["write"] = clock.perf_counter() - mark
    say(f"Wrote {len(items):,} snapshots ({changes:,} tier changes) in {timings['write']:.1f} s")

    mark = clock.perf_counter()
    cases_apply_sla()
    segment_pnl_recompute(now=now)
    timings["segments"] = clock.perf_counter() - mark
    timings["total"] = clock.perf_counter() - started
    say(f"Book recomputed in {timings['total']:.1f} s")
    return BookResult(len(items), changes, timings)


@dataclass(frozen=True)
class BookRanking:
    tier_by_account: dict[int, int | None]
    share_by_account: dict[int, float]
    rank_by_account: dict[int, int]
    summary: BookSummary | None


def _rank_book(items: Sequence[Computed], ctx: EngineContext) -> BookRanking:
    rankable = [item for item in items if is_rankable(item.row)]
    if not ctx.tiers:
        return BookRanking({}, {}, {}, None)
    bands = tier_bands(ctx.tiers)
    metric = np.array([item.metric for item in rankable], dtype=float)
    ranking = rank_into_bands(metric, bands)
    ids = [item.row["account_id"] for item in rankable]
    tier_by_account: dict[int, int | None] = {item.row["account_id"]: None for item in items}
    tier_by_account.update(dict(zip(ids, ranking.band.tolist(), strict=True)))
    curve = whale_curve(np.array([float(item.lifetime.net_profit) for item in rankable]))
    sorted_desc = np.sort(metric)[::-1]
    sample = sorted_desc[np.linspace(0, sorted_desc.size - 1, min(QUANTILE_SAMPLE, sorted_desc.size)).astype(int)] \
        if sorted_desc.size else sorted_desc
    summary = BookSummary(
        computed_at=ctx.now, as_of=ctx.as_of, active_accounts=len(rankable),
        total_net_profit=to_money(curve.total_profit) or ZERO, ranking_metric=ctx.ranking_metric,
        whale_curve={"customer_pct": np.round(curve.customer_pct, 3).tolist(),
                     "cumulative_profit_pct": np.round(curve.cumulative_profit_pct, 3).tolist()},
        peak_profit_pct=curve.peak_profit_pct, peak_customer_pct=curve.peak_customer_pct,
        top20_profit_pct=curve.top20_profit_pct, break_even_customer_pct=curve.break_even_customer_pct,
        loss_makers=curve.loss_makers,
        tier_floors={str(k): v for k, v in band_floors(metric, ranking, bands).items()},
        tier_runners_up={str(k): v for k, v in band_runners_up(metric, ranking, bands).items()},
        metric_quantiles=sample.tolist(),
        tier_median_counts=_tier_medians(rankable, ranking.band),
        annual_retention=annual_retention(as_of=ctx.as_of),
    )
    return BookRanking(
        tier_by_account,
        dict(zip(ids, np.round(ranking.top_share_pct, 3).tolist(), strict=True)),
        dict(zip(ids, ranking.rank.tolist(), strict=True)),
        summary,
    )


def _tier_medians(rankable: Sequence[Computed], bands: np.ndarray) -> dict[str, dict[str, float]]:
    """Per tier, the median lifetime count of each activity over its accounts (0 where an account has none)."""
    activities = sorted({a for item in rankable for a in item.lifetime.breakdown})
    column = {activity: j for j, activity in enumerate(activities)}
    counts = np.zeros((len(rankable), len(activities)))
    for i, item in enumerate(rankable):
        for activity, cost in item.lifetime.breakdown.items():
            counts[i, column[activity]] = cost.count
    medians: dict[str, dict[str, float]] = {}
    for tier_id in np.unique(bands):
        median = np.median(counts[bands == tier_id], axis=0)
        medians[str(int(tier_id))] = {activity: float(median[j]) for activity, j in column.items()}
    return medians


def _write_book(items: Sequence[Computed], ctx: EngineContext, ranked: BookRanking) -> int:
    medians = ranked.summary.tier_median_counts if ranked.summary else {}
    tiers = {t.pk: t for t in ctx.tiers}
    symbol = currency_symbol()
    for item in items:
        account_id = item.row["account_id"]
        tier_id = ranked.tier_by_account.get(account_id)
        item.fields["tier_id"] = tier_id
        item.fields["top_share_pct"] = ranked.share_by_account.get(account_id)
        item.fields["rank"] = ranked.rank_by_account.get(account_id)
        item.fields["explanation"] = explain(item, tiers.get(tier_id), medians, symbol)

    with transaction.atomic():
        old = dict(AccountSnapshot.objects.values_list("account_id", "tier_id"))
        if connection.vendor == "postgresql":
            upsert_snapshots_copy(items)
        else:
            upsert_snapshots_orm(items)
        changes = [
            (item.row["account_id"], old[item.row["account_id"]], item.fields["tier_id"], item.metric,
             item.fields["top_share_pct"])
            for item in items
            if item.row["account_id"] in old and old[item.row["account_id"]] != item.fields["tier_id"]
        ]
        record_tier_changes(changes, ctx)
        if ranked.summary is not None:
            ranked.summary.save()
    return len(changes)
