"""Recomputing one account's snapshot, its tier placed against the book's last full ranking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from crm.templatetags.tierwise import currency_symbol

from ..models import AccountSnapshot, BookSummary, Tier
from ..ranking import band_for_value, top_share_for_value
from ..rollup import ROLLUP_MIN_INTERACTIONS, account_roll_up
from .compute import Computed, compute_rows, explain, is_rankable
from .context import EngineContext, cached_config, context_for, engine_context, tier_bands
from .rows import account_row_and_config, fetch_pnl_rows
from .sla import cases_apply_sla
from .snapshots import snapshot_locked, snapshot_write_unless_moved
from .tier_changes import record_tier_changes


@dataclass(frozen=True)
class RecomputeResult:
    account_id: int
    version: int
    written: bool  # False when a newer snapshot was already there (or the account is gone)
    tier_changed: bool = False


def snapshot_recompute(*, account_id: int, now: datetime | None = None) -> RecomputeResult:
    """Recompute one account's snapshot from its interactions (idempotent; never regresses the version).

    The tier comes from the book's current band floors (set by the last full ranking), so one account's
    recompute never re-ranks the book; ``book_rerank`` refreshes exact ranks for everybody.
    """
    ctx, rows = _context_and_account_rows(account_id, now or timezone.now())
    if not rows:
        return RecomputeResult(account_id, 0, written=False)
    (item,) = compute_rows(rows, ctx)
    medians = ctx.book.tier_median_counts if ctx.book else {}
    row = rows[0]
    if row.get("rolled_up") is False and row["interactions"] >= ROLLUP_MIN_INTERACTIONS:
        account_roll_up(account_id=account_id)  # the next recompute reads monthly sums
    version = item.fields["computed_version"]

    if row.get("snapshot_version") is not None:
        # The usual case: the account keeps its tier. One UPDATE, no lock or transaction of its own.
        tier, top_share = _tier_for_one(item, ctx, previous_tier_id=row["snapshot_tier_id"])
        if (tier.pk if tier else None) == row["snapshot_tier_id"]:
            _place(item, tier, top_share, ctx, medians)
            if snapshot_write_unless_moved(account_id, item.fields, tier_id=row["snapshot_tier_id"]):
                return RecomputeResult(account_id, version, written=True)

    with transaction.atomic():
        current = snapshot_locked(account_id, ctx)
        if current.computed_version > version:
            return RecomputeResult(account_id, current.computed_version, written=False)
        old_tier_id = current.tier_id
        tier, top_share = _tier_for_one(item, ctx, previous_tier_id=old_tier_id)
        _place(item, tier, top_share, ctx, medians)
        AccountSnapshot.objects.filter(pk=account_id).update(**item.fields)
        changed = old_tier_id != item.fields["tier_id"] and current.computed_version > 0
        if changed:
            record_tier_changes([(account_id, old_tier_id, item.fields["tier_id"], item.metric,
                                  item.fields["top_share_pct"])], ctx)
        if old_tier_id != item.fields["tier_id"]:
            cases_apply_sla(account_ids=[account_id])
    return RecomputeResult(account_id, version, written=True, tier_changed=changed)


def _context_and_account_rows(account_id: int, now: datetime) -> tuple[EngineContext, list[dict]]:
    """The engine context and the account's P&L row. With a configuration cached, one statement reads the row
    and the configuration's fingerprint (one round trip fewer than ``engine_context``, and one snapshot);
    only if the configuration changed is it loaded and the row read again."""
    cached = cached_config()
    if connection.vendor == "postgresql" and cached is not None:
        ctx = context_for(now, cached[1])
        row, fingerprint = account_row_and_config(ctx, account_id, check_config=True)
        if row is None:
            return ctx, []
        if fingerprint == cached[0]:
            return ctx, [row]
    ctx = engine_context(now=now)
    return ctx, fetch_pnl_rows(ctx, [account_id])


def _place(item: Computed, tier: Tier | None, top_share: float | None, ctx: EngineContext, medians: dict) -> None:
    """Tier, rank and explanation: the fields that depend on where the account stands in the book."""
    item.fields["tier_id"] = tier.pk if tier else None
    item.fields["top_share_pct"] = round(top_share, 3) if top_share is not None else None
    item.fields["rank"] = _rank_from_share(top_share, ctx.book)
    item.fields["explanation"] = explain(item, tier, medians, currency_symbol())


def _tier_for_one(
    item: Computed, ctx: EngineContext, *, previous_tier_id: int | None
) -> tuple[Tier | None, float | None]:
    if not is_rankable(item.row) or not ctx.tiers:
        return None, None
    bands = tier_bands(ctx.tiers)
    by_id = {t.pk: t for t in ctx.tiers}
    if ctx.book is None or not ctx.book.tier_floors:
        return ctx.tiers[-1], None
    floors = {int(k): v for k, v in ctx.book.tier_floors.items()}
    runners_up = {int(k): v for k, v in ctx.book.tier_runners_up.items()}
    tier = by_id[band_for_value(item.metric, floors, bands, runners_up=runners_up, previous=previous_tier_id)]
    return tier, top_share_for_value(item.metric, np.asarray(ctx.book.metric_quantiles, dtype=float))


def _rank_from_share(top_share: float | None, book: BookSummary | None) -> int | None:
    if top_share is None or book is None:
        return None
    # From the unrounded share, and rounded to the nearest account: 2 of 229 accounts above is a share of
    # 0.873…%, and 0.873 % of 229 truncated is 1, which would give rank 2 instead of 3.
    return round(top_share / 100 * book.active_accounts) + 1
