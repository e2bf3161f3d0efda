"""Calculating snapshot figures from P&L rows: CLV, the ranking metric and the explanation. No database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

import numpy as np

from crm.models import Account

from ..costing import CENT, ActivityCost, PnL
from ..explain import profit_drivers
from ..figures import ClvInputs, compute_clv
from ..models import ClvSettings, Tier
from .context import EngineContext
from .rows import pnl_from_row


def _weeks(later: datetime | None, earlier: datetime | None) -> float:
    if later is None or earlier is None:
        return 0.0
    return max((later - earlier).total_seconds(), 0.0) / (7 * 86400)


def _clv_inputs(rows: Sequence[dict], lifetime: Sequence[PnL], ttm: Sequence[PnL], ctx: EngineContext) -> ClvInputs:
    as_of_dt = datetime.combine(ctx.as_of, time.min, tzinfo=UTC)

    def arr(values: Iterable) -> np.ndarray:
        return np.fromiter((float(v) for v in values), dtype=float, count=len(rows))

    return ClvInputs(
        net_profit=arr(p.net_profit for p in lifetime),
        net_revenue=arr(p.net_revenue for p in lifetime),
        net_profit_ttm=arr(p.net_profit for p in ttm),
        orders=arr(r["orders"] for r in rows),
        order_revenue=arr(r["order_revenue"] for r in rows),
        weeks_first_to_last_order=arr(_weeks(r["last_order_at"], r["first_order_at"]) for r in rows),
        weeks_since_first_order=arr(_weeks(as_of_dt, r["first_order_at"]) for r in rows),
        tenure_years=arr((ctx.as_of - r["acquired_on"]).days / 365.25 if r["acquired_on"] else 0.0 for r in rows),
        contractual=np.array([r["relationship"] == Account.Relationship.CONTRACTUAL for r in rows], dtype=bool),
        churned=np.array([r["status"] == Account.Status.CHURNED for r in rows], dtype=bool),
        cac=arr(r["cac"] if r["cac"] is not None else np.nan for r in rows),
    )


def to_money(value: float) -> Decimal | None:
    if value is None or not np.isfinite(value):
        return None
    return Decimal(repr(float(value))).quantize(CENT)


def _breakdown_json(breakdown: dict[str, ActivityCost]) -> dict:
    return {a: {"count": c.count, "cost": str(c.cost.quantize(CENT))} for a, c in breakdown.items()}


def _metric(ctx: EngineContext, lifetime: PnL, ttm: PnL, clv_predictive: float | None) -> float:
    if ctx.ranking_metric == ClvSettings.RankingMetric.NET_PROFIT:
        return float(lifetime.net_profit)
    if ctx.ranking_metric == ClvSettings.RankingMetric.CLV_PREDICTIVE:
        return float(clv_predictive) if clv_predictive is not None and np.isfinite(clv_predictive) else float(
            ttm.net_profit)
    return float(ttm.net_profit)


def is_rankable(row: dict) -> bool:
    return row["status"] == Account.Status.ACTIVE


@dataclass
class Computed:
    """Everything a snapshot row holds for one account, before writing."""

    row: dict
    lifetime: PnL
    ttm: PnL
    fields: dict
    metric: float


def compute_rows(rows: Sequence[dict], ctx: EngineContext) -> list[Computed]:
    lifetime = [pnl_from_row(r, ttm=False) for r in rows]
    ttm = [pnl_from_row(r, ttm=True) for r in rows]
    clv = compute_clv(_clv_inputs(rows, lifetime, ttm, ctx), ctx.clv)
    out = []
    for i, row in enumerate(rows):
        life, year = lifetime[i], ttm[i]
        predictive = float(clv.clv_predictive[i]) if np.isfinite(clv.clv_predictive[i]) else None
        fields = {
            "computed_version": row["history_version"],
            "computed_at": ctx.now,
            "as_of": ctx.as_of,
            "revenue": life.revenue, "returns": life.returns, "cogs": life.cogs,
            "gross_margin": life.gross_margin, "cost_to_serve": life.cost_to_serve,
            "net_profit": life.net_profit, "net_margin_pct": life.net_margin_pct, "orders": life.orders,
            "revenue_ttm": year.revenue, "returns_ttm": year.returns, "cogs_ttm": year.cogs,
            "gross_margin_ttm": year.gross_margin, "cost_to_serve_ttm": year.cost_to_serve,
            "net_profit_ttm": year.net_profit, "orders_ttm": year.orders,
            "cost_breakdown": _breakdown_json(life.breakdown), "cost_breakdown_ttm": _breakdown_json(year.breakdown),
            "first_order_at": row["first_order_at"], "last_order_at": row["last_order_at"],
            "last_interaction_at": row["last_interaction_at"],
            "cac": row["cac"],
            "clv_historical": life.net_profit,
            "clv_formula": to_money(clv.clv_formula[i]),
            "clv_predictive": to_money(predictive) if predictive is not None else None,
            "clv_model": clv.clv_model[i],
            "p_alive": float(clv.p_alive[i]) if np.isfinite(clv.p_alive[i]) else None,
            "expected_purchases_12m": float(clv.expected_purchases_12m[i])
            if np.isfinite(clv.expected_purchases_12m[i]) else None,
            "clv_cac_ratio": to_money(clv.clv_cac_ratio[i]),
        }
        out.append(Computed(row, life, year, fields, _metric(ctx, life, year, predictive)))
    return out


def explain(item: Computed, tier: Tier | None, medians: dict, symbol: str) -> list[str]:
    return profit_drivers(
        item.lifetime,
        tier_name=tier.name if tier else None,
        tier_median_counts=medians.get(str(tier.pk), {}) if tier else {},
        currency_symbol=symbol,
        order_revenue=item.row.get("order_revenue"),
    )
