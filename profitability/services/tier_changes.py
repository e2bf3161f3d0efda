"""Recording tier changes, each with a reason that names the metric and where it puts the account."""

from __future__ import annotations

from collections.abc import Sequence

from crm.templatetags.tierwise import money

from ..models import ClvSettings, TierChange
from .compute import to_money
from .context import EngineContext


def _placed_text(top_share: float) -> str:
    # top_share is the share of ranked accounts above this one: 0 for the first, which "top 0.0 %" misreads
    if top_share < 0.05:
        return " puts the account at the very top"
    return f" puts the account in the top {top_share:.1f} %"


def record_tier_changes(changes: Sequence[tuple], ctx: EngineContext) -> None:
    names = {t.pk: t.name for t in ctx.tiers}
    metric_label = dict(ClvSettings.RankingMetric.choices)[ctx.ranking_metric]
    TierChange.objects.bulk_create([
        TierChange(
            account_id=account_id, from_tier_id=old, to_tier_id=new, changed_at=ctx.now,
            metric=ctx.ranking_metric, metric_value=to_money(metric), top_share_pct=share,
            reason=(f"{metric_label} {money(metric)}"
                    + (_placed_text(share) if share is not None else "")
                    + f": {names.get(old, 'no tier')} → {names.get(new, 'no tier')}"),
        )
        for account_id, old, new, metric, share in changes
    ], batch_size=2000)
