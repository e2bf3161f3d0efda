"""Writes of the profitability engine: recompute one account, recompute the whole book, request recomputes.

Fetch (``rows``) → calculate (``compute``) → write (``snapshots``, ``tier_changes``): each path (``account``,
``book``) loads what it needs once, computes with the pure modules (``costing``, ``figures``, ``ranking``,
``explain``), then writes. Snapshots are never overwritten by a computation of an older interaction history
(version check under a row lock).
"""

from .account import RecomputeResult, snapshot_recompute
from .aggregates import SEGMENT_SUMS, channel_cac_recompute, segment_pnl_recompute, segment_pnl_write
from .book import book_recompute
from .context import clv_retention, engine_config, engine_context, latest_fits, tier_bands
from .requests import QUEUED_KEY, recompute_request, stale_account_ids, stale_sweep
from .sla import cases_apply_sla
from .snapshots import SNAPSHOT_FIELDS

__all__ = [
    "QUEUED_KEY",
    "SEGMENT_SUMS",
    "SNAPSHOT_FIELDS",
    "RecomputeResult",
    "book_recompute",
    "cases_apply_sla",
    "channel_cac_recompute",
    "clv_retention",
    "engine_config",
    "engine_context",
    "latest_fits",
    "recompute_request",
    "segment_pnl_recompute",
    "segment_pnl_write",
    "snapshot_recompute",
    "stale_account_ids",
    "stale_sweep",
    "tier_bands",
]
