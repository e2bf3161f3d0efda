"""Writes of the profitability engine: recompute one account, recompute the whole book, request recomputes.

Fetch → calculate → write: each path loads what it needs once, computes with the pure modules
(``costing``, ``figures``, ``ranking``, ``explain``), then writes. Snapshots are never overwritten by a
computation of an older interaction history (version check under a row lock).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncQuarter
from django.utils import timezone

from crm.models import Account, Interaction, InteractionChannel, MarketingSpend, ServiceCase
from crm.templatetags.tierwise import currency_symbol, money

from . import sql as pnl_sql
from .clv.predict import BgNbdParams, GammaGammaParams, SbgParams
from .costing import (
    ZERO,
    ActivityCost,
    CostPlan,
    GroupFact,
    InteractionFact,
    PnL,
    account_pnl,
    cost_plan,
    groups_pnl,
    plan_breakdowns,
    plan_periods,
    resolve_rate_windows,
)
from .explain import profit_drivers
from .figures import DEFAULT_RETENTION, ClvInputs, ClvParams, compute_clv
from .models import (
    FITS_CONSIDERED,
    AccountSnapshot,
    BookSummary,
    ChannelCac,
    ClvModelFit,
    ClvSettings,
    CostRate,
    SegmentPnl,
    Tier,
    TierChange,
)
from .ranking import (
    Band,
    band_floors,
    band_for_value,
    band_runners_up,
    rank_into_bands,
    top_share_for_value,
    whale_curve,
)
from .rollup import ROLLUP_MIN_INTERACTIONS, account_roll_up

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
QUANTILE_SAMPLE = 1001
BOOK_RECOMPUTE_THRESHOLD = 500  # a change touching more accounts than this recomputes the whole book


# --- context ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineConfig:
    """What the admins configured and the last full ranking left behind: the inputs every recompute shares."""

    windows: list
    plan: CostPlan
    tiers: list[Tier]
    clv: ClvParams
    ranking_metric: str
    book: BookSummary | None


@dataclass(frozen=True)
class EngineContext:
    now: datetime
    as_of: date
    ttm_start: datetime
    windows: list
    plan: CostPlan
    tiers: list[Tier]
    clv: ClvParams
    ranking_metric: str
    book: BookSummary | None


def engine_context(*, now: datetime) -> EngineContext:
    return _context(now, engine_config())


def _context(now: datetime, config: EngineConfig) -> EngineContext:
    as_of = now.astimezone(UTC).date()
    return EngineContext(
        now=now,
        as_of=as_of,
        ttm_start=datetime.combine(as_of - timedelta(days=365), time.min, tzinfo=UTC),
        windows=config.windows,
        plan=config.plan,
        tiers=config.tiers,
        clv=config.clv,
        ranking_metric=config.ranking_metric,
        book=config.book,
    )


# The configuration changes rarely but is read by every one-account recompute (~10 ms of queries), so each
# process keeps the last one it loaded, labelled with a fingerprint of exactly the row versions it was built
# from: (ctid, xmin) of every cost rate, tier and settings row, of the fits ``latest_fits`` reads and of the
# latest book summary. Any insert, update or delete — through a service, the admin, a queryset ``update()``
# or raw SQL, committed or rolled back — changes the fingerprint, so no signal or cache bump can be missed.
_CONFIG_FINGERPRINT_COLUMNS = """
    (SELECT string_agg(ctid::text || xmin::text, ',' ORDER BY ctid) FROM profitability_costrate),
    (SELECT string_agg(ctid::text || xmin::text, ',' ORDER BY ctid) FROM profitability_tier),
    (SELECT string_agg(ctid::text || xmin::text, ',' ORDER BY ctid) FROM profitability_clvsettings),
    (SELECT string_agg(f.ctid::text || f.xmin::text, ',') FROM ({fits}) f),
    (SELECT ctid::text || xmin::text FROM profitability_booksummary ORDER BY computed_at DESC, id DESC LIMIT 1)
"""
_config_cache: tuple[tuple, EngineConfig] | None = None


def _config_fingerprint_columns() -> str:
    fits = " UNION ALL ".join(
        f"(SELECT ctid, xmin FROM profitability_clvmodelfit WHERE model = '{model}' ORDER BY fitted_at DESC "
        f"LIMIT {FITS_CONSIDERED})"
        for model in ClvModelFit.Model.values
    )
    return _CONFIG_FINGERPRINT_COLUMNS.format(fits=fits)


def _fingerprint(values: Sequence) -> tuple:
    return (connection.settings_dict["NAME"], *values)


def engine_config() -> EngineConfig:
    """The engine configuration, from this process's cache while the rows it was built from are unchanged."""
    global _config_cache
    if connection.vendor != "postgresql":
        return _engine_config_load()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_config_fingerprint_columns()}")  # noqa: S608 - our own SQL
        fingerprint = _fingerprint(cursor.fetchone())
    cached = _config_cache
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    config = _engine_config_load()
    _config_cache = (fingerprint, config)
    return config


def _engine_config_load() -> EngineConfig:
    rates = [r.as_input() for r in CostRate.objects.all()]
    clv_settings = ClvSettings.current()
    book = BookSummary.objects.defer("whale_curve").order_by("-computed_at", "-id").first()  # the curve is for pages
    fits = latest_fits()
    windows = resolve_rate_windows(rates, channels=InteractionChannel.values)
    return EngineConfig(
        windows=windows,
        plan=cost_plan(windows, channels=InteractionChannel.values),
        tiers=list(Tier.objects.order_by("position")),
        clv=ClvParams(
            discount_rate=float(clv_settings.discount_rate),
            horizon_months=clv_settings.horizon_months,
            retention=clv_retention(clv_settings, book),
            bgnbd=BgNbdParams(**fits["bg_nbd"]) if "bg_nbd" in fits else None,
            gamma_gamma=GammaGammaParams(**fits["gamma_gamma"]) if "gamma_gamma" in fits else None,
            sbg=SbgParams(**fits["sbg"]) if "sbg" in fits else None,
        ),
        ranking_metric=clv_settings.ranking_metric,
        book=book,
    )


def clv_retention(clv_settings: ClvSettings, book: BookSummary | None) -> float:
    """Annual retention for the formula CLV: the admin's override, else the book's measured, else a default."""
    if clv_settings.retention_override is not None:
        retention = float(clv_settings.retention_override)
    elif book is not None and book.annual_retention is not None:
        retention = book.annual_retention
    else:
        retention = DEFAULT_RETENTION
    return min(retention, 0.9999)


def latest_fits() -> dict[str, dict]:
    """The latest fit of each model with finite parameters.

    A fit whose optimiser stopped at the boundary (e.g. BG/NBD a, b → ∞ when every buyer's dropout
    probability is the same) is still a usable limit model; its ``converged`` flag stays visible on the
    CLV settings page rather than silently switching predictions off.
    """
    fits: dict[str, dict] = {}
    for model in ClvModelFit.Model.values:
        recent = ClvModelFit.objects.filter(model=model).order_by("-fitted_at").values_list(
            "params", flat=True)[:FITS_CONSIDERED]
        usable = [p for p in recent if ClvModelFit.params_usable(p)]
        if usable:
            fits[model] = usable[0]
    return fits


def tier_bands(tiers: Sequence[Tier]) -> list[Band]:
    return [Band(key=t.pk, upper_pct=float(t.upper_pct)) for t in tiers]


# --- fetching P&L rows -------------------------------------------------------------------------------------

def fetch_pnl_rows(ctx: EngineContext, account_ids: Sequence[int] | None = None) -> list[dict]:
    """One dict per account: the P&L columns (``sql.PNL_COLUMNS``) plus the account's attributes and CAC."""
    if connection.vendor == "postgresql":
        return _fetch_pnl_rows_sql(ctx, account_ids)  # the query joins the attributes and CAC itself
    rows = _fetch_pnl_rows_python(ctx, account_ids)
    attrs = _account_attributes(account_ids)
    for row in rows:
        row.update(attrs.get(row["account_id"], {}))
    return rows


# For the whole book: group the interactions in one hash table from a sequential scan. Left to itself the
# planner walks the account index to stream sorted groups, which reads the table in index order and sorts on
# the text columns (several times slower); the grouped rows (~1.6 M at 5 M interactions) fit in memory here.
BOOK_QUERY_SETTINGS = {"work_mem": "512MB", "enable_indexscan": "off", "enable_bitmapscan": "off"}


def _fetch_pnl_rows_sql(ctx: EngineContext, account_ids: Sequence[int] | None) -> list[dict]:
    if account_ids is not None:
        return [row for account_id in account_ids if (row := _fetch_account_row(ctx, account_id)) is not None]
    query, params = pnl_sql.pnl_query(ctx.plan, ttm_start=ctx.ttm_start)
    settings_sql = ", ".join(f"set_config('{name}', %s, true)" for name in BOOK_QUERY_SETTINGS)
    with transaction.atomic(), connection.cursor() as cursor:
        # Transaction-local, and put back afterwards: the caller's transaction may go on to other queries.
        cursor.execute(f"SELECT {', '.join(f'current_setting({name!r})' for name in BOOK_QUERY_SETTINGS)}")
        previous = list(cursor.fetchone())
        cursor.execute(f"SELECT {settings_sql}", list(BOOK_QUERY_SETTINGS.values()))
        cursor.execute(query, params)
        rows = [dict(zip(pnl_sql.PNL_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute(f"SELECT {settings_sql}", previous)
    _add_breakdowns(rows, ctx.plan)
    return rows


def _fetch_account_row(ctx: EngineContext, account_id: int) -> dict | None:
    """One account's P&L row (as the book query's) from its interactions summed into a few groups."""
    return _account_row_and_config(ctx, account_id, check_config=False)[0]


def _account_row_and_config(ctx: EngineContext, account_id: int, *, check_config: bool) -> tuple[dict | None, tuple]:
    """The account's P&L row and, with ``check_config``, the configuration's fingerprint read with it."""
    query, params = pnl_sql.account_query(plan_periods(ctx.plan), ttm_start=ctx.ttm_start, account_id=account_id,
                                          also=_config_fingerprint_columns() if check_config else "")
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        found = cursor.fetchone()
    if found is None:
        return None, ()
    width = len(pnl_sql.ACCOUNT_COLUMNS)
    row = dict(zip(pnl_sql.ACCOUNT_COLUMNS, found[:width], strict=True))
    fingerprint = _fingerprint(found[width:]) if check_config else ()
    groups = [GroupFact(*group)
              for group in zip(*(row[name] or () for name in pnl_sql.ACCOUNT_GROUP_COLUMNS), strict=True)]
    lifetime = groups_pnl(ctx.plan, groups)
    ttm = groups_pnl(ctx.plan, groups, recent_only=True)
    return {name: row[name] for name in pnl_sql.ACCOUNT_ATTRIBUTE_COLUMNS} | {
        "interactions": sum(g.count for g in groups),
        "revenue": lifetime.revenue, "returns": lifetime.returns, "cogs": lifetime.cogs, "orders": lifetime.orders,
        "revenue_ttm": ttm.revenue, "returns_ttm": ttm.returns, "cogs_ttm": ttm.cogs, "orders_ttm": ttm.orders,
        "order_revenue": sum((g.amount for g in groups if g.kind == "order"), ZERO),
        "cost_to_serve": lifetime.cost_to_serve, "cost_to_serve_ttm": ttm.cost_to_serve,
        "breakdown": lifetime.breakdown, "breakdown_ttm": ttm.breakdown,
    }, fingerprint


def _add_breakdowns(rows: list[dict], plan: CostPlan) -> None:
    """Cost-to-serve and the breakdown by activity (lifetime and trailing year) from the rows' class counts,
    for all rows at once; an account without interactions has none."""
    empty = [0] * len(plan.classes)
    for suffix in ("", "_ttm"):
        counts = np.array([r.pop("class_counts" + suffix) or empty for r in rows], dtype=np.int64)
        units = np.array([r.pop("class_units" + suffix) or empty for r in rows], dtype=np.int64)
        for row, breakdown in zip(rows, plan_breakdowns(plan, counts.reshape(len(rows), len(empty)),
                                                        units.reshape(len(rows), len(empty))), strict=True):
            row["breakdown" + suffix] = breakdown
            row["cost_to_serve" + suffix] = sum((c.cost for c in breakdown.values()), ZERO)


def _fetch_pnl_rows_python(ctx: EngineContext, account_ids: Sequence[int] | None) -> list[dict]:
    """The reference path (SQLite, the embedded default): same figures via ``costing.account_pnl``."""
    accounts = Account.objects.all()
    interactions = Interaction.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(id__in=account_ids)
        interactions = interactions.filter(account_id__in=account_ids)
    with transaction.atomic():  # one consistent read of versions and interactions
        versions = dict(accounts.values_list("id", "history_version"))
        facts: dict[int, list] = defaultdict(list)
        times: dict[int, list] = defaultdict(list)
        for row in interactions.values_list(
            "account_id", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity"
        ):
            account_id, kind, channel, occurred_at, amount, direct_cost, quantity = row
            facts[account_id].append(
                InteractionFact(kind, channel, occurred_at.astimezone(UTC).date(), amount, direct_cost, quantity)
            )
            times[account_id].append((kind, occurred_at, amount))
    rows = []
    for account_id, version in versions.items():
        lifetime = account_pnl(facts[account_id], ctx.windows)
        ttm = account_pnl(facts[account_id], ctx.windows, since=ctx.ttm_start.date())
        order_times = [t for k, t, _ in times[account_id] if k == "order"]
        rows.append({
            "account_id": account_id, "history_version": version,
            "revenue": lifetime.revenue, "returns": lifetime.returns, "cogs": lifetime.cogs,
            "orders": lifetime.orders, "revenue_ttm": ttm.revenue, "returns_ttm": ttm.returns,
            "cogs_ttm": ttm.cogs, "orders_ttm": ttm.orders,
            "first_order_at": min(order_times, default=None), "last_order_at": max(order_times, default=None),
            "last_interaction_at": max((t for _, t, _ in times[account_id]), default=None),
            "order_revenue": sum((a for k, _, a in times[account_id] if k == "order"), ZERO),
            "cost_to_serve": lifetime.cost_to_serve, "cost_to_serve_ttm": ttm.cost_to_serve,
            "breakdown": lifetime.breakdown, "breakdown_ttm": ttm.breakdown,
        })
    return rows


def _breakdown_json(breakdown: dict[str, ActivityCost]) -> dict:
    return {a: {"count": c.count, "cost": str(c.cost.quantize(CENT))} for a, c in breakdown.items()}


def _account_attributes(account_ids: Sequence[int] | None) -> dict[int, dict]:
    """Status, relationship, channel and acquisition date, with the CAC of the channel's acquisition quarter."""
    accounts = Account.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(id__in=account_ids)
    cac = {
        (c.channel_id, c.quarter_start): c.cac
        for c in ChannelCac.objects.filter(cac__isnull=False).only("channel_id", "quarter_start", "cac")
    } if account_ids is None or accounts.filter(acquisition_channel__isnull=False).exists() else {}
    out = {}
    for account_id, status, relationship, channel_id, acquired_on in accounts.values_list(
        "id", "status", "relationship", "acquisition_channel_id", "acquired_on"
    ):
        out[account_id] = {
            "status": status, "relationship": relationship, "acquisition_channel_id": channel_id,
            "acquired_on": acquired_on,
            "cac": cac.get((channel_id, quarter_start(acquired_on))) if channel_id and acquired_on else None,
        }
    return out


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _pnl_from_row(row: dict, *, ttm: bool) -> PnL:
    """The lifetime or trailing-year P&L with its breakdown by activity."""
    suffix = "_ttm" if ttm else ""
    return PnL(
        revenue=Decimal(row["revenue" + suffix]), returns=Decimal(row["returns" + suffix]),
        cogs=Decimal(row["cogs" + suffix]), cost_to_serve=Decimal(row["cost_to_serve" + suffix]),
        orders=int(row["orders" + suffix]),
        breakdown=row["breakdown" + suffix],
    )


# --- calculating -------------------------------------------------------------------------------------------


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


def _money(value: float) -> Decimal | None:
    if value is None or not np.isfinite(value):
        return None
    return Decimal(repr(float(value))).quantize(CENT)


def _metric(ctx: EngineContext, lifetime: PnL, ttm: PnL, clv_predictive: float | None) -> float:
    if ctx.ranking_metric == ClvSettings.RankingMetric.NET_PROFIT:
        return float(lifetime.net_profit)
    if ctx.ranking_metric == ClvSettings.RankingMetric.CLV_PREDICTIVE:
        return float(clv_predictive) if clv_predictive is not None and np.isfinite(clv_predictive) else float(
            ttm.net_profit)
    return float(ttm.net_profit)


def _rankable(row: dict) -> bool:
    return row["status"] == Account.Status.ACTIVE


@dataclass
class Computed:
    """Everything a snapshot row holds for one account, before writing."""

    row: dict
    lifetime: PnL
    ttm: PnL
    fields: dict
    metric: float


def _compute(rows: Sequence[dict], ctx: EngineContext) -> list[Computed]:
    lifetime = [_pnl_from_row(r, ttm=False) for r in rows]
    ttm = [_pnl_from_row(r, ttm=True) for r in rows]
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
            "clv_formula": _money(clv.clv_formula[i]),
            "clv_predictive": _money(predictive) if predictive is not None else None,
            "clv_model": clv.clv_model[i],
            "p_alive": float(clv.p_alive[i]) if np.isfinite(clv.p_alive[i]) else None,
            "expected_purchases_12m": float(clv.expected_purchases_12m[i])
            if np.isfinite(clv.expected_purchases_12m[i]) else None,
            "clv_cac_ratio": _money(clv.clv_cac_ratio[i]),
        }
        out.append(Computed(row, life, year, fields, _metric(ctx, life, year, predictive)))
    return out


def _explain(item: Computed, tier: Tier | None, medians: dict, symbol: str) -> list[str]:
    return profit_drivers(
        item.lifetime,
        tier_name=tier.name if tier else None,
        tier_median_counts=medians.get(str(tier.pk), {}) if tier else {},
        currency_symbol=symbol,
        order_revenue=item.row.get("order_revenue"),
    )


# --- one account -------------------------------------------------------------------------------------------


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
    (item,) = _compute(rows, ctx)
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
            if _snapshot_write_unless_moved(account_id, item.fields, tier_id=row["snapshot_tier_id"]):
                return RecomputeResult(account_id, version, written=True)

    with transaction.atomic():
        current = _snapshot_locked(account_id, ctx)
        if current.computed_version > version:
            return RecomputeResult(account_id, current.computed_version, written=False)
        old_tier_id = current.tier_id
        tier, top_share = _tier_for_one(item, ctx, previous_tier_id=old_tier_id)
        _place(item, tier, top_share, ctx, medians)
        AccountSnapshot.objects.filter(pk=account_id).update(**item.fields)
        changed = old_tier_id != item.fields["tier_id"] and current.computed_version > 0
        if changed:
            _record_tier_changes([(account_id, old_tier_id, item.fields["tier_id"], item.metric, top_share)], ctx)
        if old_tier_id != item.fields["tier_id"]:
            cases_apply_sla(account_ids=[account_id])
    return RecomputeResult(account_id, version, written=True, tier_changed=changed)


def _context_and_account_rows(account_id: int, now: datetime) -> tuple[EngineContext, list[dict]]:
    """The engine context and the account's P&L row. With a configuration cached, one statement reads the row
    and the configuration's fingerprint (one round trip fewer than ``engine_context``, and one snapshot);
    only if the configuration changed is it loaded and the row read again."""
    cached = _config_cache
    if connection.vendor == "postgresql" and cached is not None:
        ctx = _context(now, cached[1])
        row, fingerprint = _account_row_and_config(ctx, account_id, check_config=True)
        if row is None:
            return ctx, []
        if fingerprint == cached[0]:
            return ctx, [row]
    ctx = engine_context(now=now)
    return ctx, fetch_pnl_rows(ctx, [account_id])


def _place(item: Computed, tier: Tier | None, top_share: float | None, ctx: EngineContext, medians: dict) -> None:
    """Tier, rank and explanation: the fields that depend on where the account stands in the book."""
    item.fields["tier_id"] = tier.pk if tier else None
    item.fields["top_share_pct"] = top_share
    item.fields["rank"] = _rank_from_share(top_share, ctx.book)
    item.fields["explanation"] = _explain(item, tier, medians, currency_symbol())


def _snapshot_write_unless_moved(account_id: int, fields: dict, *, tier_id: int | None) -> bool:
    """Write the snapshot's figures unless a newer version is already there or its tier is no longer
    ``tier_id`` (a tier change must be recorded with it: the caller then takes the locked path). The check
    and the write are one statement, so a concurrent writer cannot slip between them.

    Outside a transaction the commit does not wait for the WAL flush (~0.5 ms): a database crash can lose
    only this derived write, which leaves the snapshot behind its account's durable history version, and
    the stale sweep recomputes it.
    """
    columns = list(fields)
    assignments = ", ".join(f"{c} = %s::jsonb" if c in _JSON_FIELDS else f"{c} = %s" for c in columns)
    values = [_json_text(fields[c]) if c in _JSON_FIELDS else fields[c] for c in columns]
    asynchronous = not connection.in_atomic_block
    with connection.cursor() as cursor:
        # Both statements in one round trip and one implicit transaction, which bounds the SET LOCAL.
        cursor.execute(
            ("SET LOCAL synchronous_commit = off; " if asynchronous else "")
            + f"UPDATE profitability_accountsnapshot SET {assignments} "  # noqa: S608 - column names are ours
            "WHERE account_id = %s AND computed_version <= %s AND tier_id IS NOT DISTINCT FROM %s",
            [*values, account_id, fields["computed_version"], tier_id],
        )
        if asynchronous:
            cursor.cursor.nextset()
        return cursor.rowcount == 1


def _snapshot_locked(account_id: int, ctx: EngineContext) -> AccountSnapshot:
    """The account's snapshot row, locked; created empty (version 0) first if the account has none yet."""
    locked = AccountSnapshot.objects.select_for_update().only("computed_version", "tier_id")
    current = locked.filter(pk=account_id).first()
    if current is None:
        AccountSnapshot.objects.bulk_create(
            [AccountSnapshot(account_id=account_id, computed_at=ctx.now, as_of=ctx.as_of)], ignore_conflicts=True
        )
        current = locked.get(pk=account_id)
    return current


def _tier_for_one(
    item: Computed, ctx: EngineContext, *, previous_tier_id: int | None
) -> tuple[Tier | None, float | None]:
    if not _rankable(item.row) or not ctx.tiers:
        return None, None
    bands = tier_bands(ctx.tiers)
    by_id = {t.pk: t for t in ctx.tiers}
    if ctx.book is None or not ctx.book.tier_floors:
        return ctx.tiers[-1], None
    floors = {int(k): v for k, v in ctx.book.tier_floors.items()}
    runners_up = {int(k): v for k, v in ctx.book.tier_runners_up.items()}
    tier = by_id[band_for_value(item.metric, floors, bands, runners_up=runners_up, previous=previous_tier_id)]
    share = top_share_for_value(item.metric, np.asarray(ctx.book.metric_quantiles, dtype=float))
    return tier, round(share, 3)


def _rank_from_share(top_share: float | None, book: BookSummary | None) -> int | None:
    if top_share is None or book is None:
        return None
    return int(top_share / 100 * book.active_accounts) + 1


def _placed_text(top_share: float) -> str:
    # top_share is the share of ranked accounts above this one: 0 for the first, which "top 0.0 %" misreads
    if top_share < 0.05:
        return " puts the account at the very top"
    return f" puts the account in the top {top_share:.1f} %"


def _record_tier_changes(changes: Sequence[tuple], ctx: EngineContext) -> None:
    names = {t.pk: t.name for t in ctx.tiers}
    metric_label = dict(ClvSettings.RankingMetric.choices)[ctx.ranking_metric]
    TierChange.objects.bulk_create([
        TierChange(
            account_id=account_id, from_tier_id=old, to_tier_id=new, changed_at=ctx.now,
            metric=ctx.ranking_metric, metric_value=_money(metric), top_share_pct=share,
            reason=(f"{metric_label} {money(metric)}"
                    + (_placed_text(share) if share is not None else "")
                    + f": {names.get(old, 'no tier')} → {names.get(new, 'no tier')}"),
        )
        for account_id, old, new, metric, share in changes
    ], batch_size=2000)


def cases_apply_sla(*, account_ids: Sequence[int] | None = None) -> int:
    """Set the SLA due times of open cases from their account's tier (first response and resolution)."""
    if connection.vendor != "postgresql":
        return _cases_apply_sla_python(account_ids)
    only = "AND c.account_id = ANY(%s)" if account_ids is not None else ""
    with connection.cursor() as cursor:
        # No account goes without an SLA: unranked accounts (prospects, churned, not yet computed) get the
        # lowest tier's service level.
        cursor.execute(
            f"""
            WITH lowest AS (SELECT id FROM profitability_tier ORDER BY position DESC LIMIT 1)
            UPDATE crm_servicecase c
            SET first_response_due_at = c.opened_at + make_interval(hours => t.first_response_hours),
                resolution_due_at = c.opened_at + make_interval(hours => t.resolution_hours)
            FROM crm_account a
            LEFT JOIN profitability_accountsnapshot s ON s.account_id = a.id
            JOIN profitability_tier t ON t.id = coalesce(s.tier_id, (SELECT id FROM lowest))
            WHERE a.id = c.account_id AND c.status <> 'resolved' {only}
            """,
            [list(account_ids)] if account_ids is not None else [],
        )
        return cursor.rowcount


def _cases_apply_sla_python(account_ids: Sequence[int] | None) -> int:
    lowest = Tier.objects.order_by("-position").first()
    if lowest is None:
        return 0
    cases = ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED).select_related(
        "account__snapshot__tier"
    )
    if account_ids is not None:
        cases = cases.filter(account_id__in=account_ids)
    cases = list(cases)
    for case in cases:
        snapshot = getattr(case.account, "snapshot", None)
        tier = snapshot.tier if snapshot is not None and snapshot.tier is not None else lowest
        case.first_response_due_at = case.opened_at + timedelta(hours=tier.first_response_hours)
        case.resolution_due_at = case.opened_at + timedelta(hours=tier.resolution_hours)
    ServiceCase.objects.bulk_update(cases, ["first_response_due_at", "resolution_due_at"], batch_size=1000)
    return len(cases)


# --- the whole book ----------------------------------------------------------------------------------------

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
        from .clv_book import clv_models_fit

        clv_models_fit(now=now)
        ctx = engine_context(now=now)

    mark = clock.perf_counter()
    rows = fetch_pnl_rows(ctx)
    timings["aggregate"] = clock.perf_counter() - mark
    say(f"Aggregated {len(rows):,} accounts in {timings['aggregate']:.1f} s")

    mark = clock.perf_counter()
    items = _compute(rows, ctx)
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
    rankable = [item for item in items if _rankable(item.row)]
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
        total_net_profit=_money(curve.total_profit) or ZERO, ranking_metric=ctx.ranking_metric,
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
        item.fields["explanation"] = _explain(item, tiers.get(tier_id), medians, symbol)

    with transaction.atomic():
        old = dict(AccountSnapshot.objects.values_list("account_id", "tier_id"))
        if connection.vendor == "postgresql":
            _upsert_snapshots_copy(items)
        else:
            _upsert_snapshots_orm(items)
        changes = [
            (item.row["account_id"], old[item.row["account_id"]], item.fields["tier_id"], item.metric,
             item.fields["top_share_pct"])
            for item in items
            if item.row["account_id"] in old and old[item.row["account_id"]] != item.fields["tier_id"]
        ]
        _record_tier_changes(changes, ctx)
        if ranked.summary is not None:
            ranked.summary.save()
    return len(changes)


SNAPSHOT_FIELDS = [
    "computed_version", "computed_at", "as_of", "revenue", "returns", "cogs", "gross_margin", "cost_to_serve",
    "net_profit", "net_margin_pct", "orders", "revenue_ttm", "returns_ttm", "cogs_ttm", "gross_margin_ttm",
    "cost_to_serve_ttm", "net_profit_ttm", "orders_ttm", "cost_breakdown", "cost_breakdown_ttm",
    "first_order_at", "last_order_at", "last_interaction_at", "cac", "clv_historical", "clv_formula",
    "clv_predictive", "clv_model", "p_alive", "expected_purchases_12m", "clv_cac_ratio", "rank",
    "top_share_pct", "tier_id", "explanation",
]
_JSON_FIELDS = {"cost_breakdown", "cost_breakdown_ttm", "explanation"}


def _upsert_snapshots_copy(items: Sequence[Computed]) -> None:
    """COPY into a temp table, then one INSERT ... ON CONFLICT that never regresses a newer version.

    A snapshot whose figures, version and as-of date are all unchanged is left alone (its ``computed_at``
    stays the time those figures were first written): rewriting it would only cost a new row version and an
    entry in each of the table's indexes.
    """
    columns = ["account_id", *SNAPSHOT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS snapshot_load")  # two recomputes in one outer transaction
        cursor.execute(
            "CREATE TEMP TABLE snapshot_load (LIKE profitability_accountsnapshot INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        raw = cursor.cursor
        with raw.copy(f"COPY snapshot_load ({', '.join(columns)}) FROM STDIN") as copy:
            for item in items:
                copy.write_row([item.row["account_id"]] + [
                    _json_text(item.fields[f]) if f in _JSON_FIELDS else item.fields[f] for f in SNAPSHOT_FIELDS
                ])
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SNAPSHOT_FIELDS)
        compared = [c for c in SNAPSHOT_FIELDS if c != "computed_at"]
        # Drop the unchanged rows first (one hash join): the upsert would otherwise still lock each of them,
        # dirtying every page of the table for nothing.
        stored, loaded = ", ".join(f"s.{c}" for c in compared), ", ".join(f"l.{c}" for c in compared)
        cursor.execute(
            f"""
            DELETE FROM snapshot_load l USING profitability_accountsnapshot s
            WHERE s.account_id = l.account_id AND ({stored}) IS NOT DISTINCT FROM ({loaded})
            """
        )
        old = ", ".join(f"profitability_accountsnapshot.{c}" for c in compared)
        new = ", ".join(f"EXCLUDED.{c}" for c in compared)
        cursor.execute(
            f"""
            INSERT INTO profitability_accountsnapshot ({', '.join(columns)})
            SELECT {', '.join(columns)} FROM snapshot_load
            ON CONFLICT (account_id) DO UPDATE SET {updates}
            WHERE profitability_accountsnapshot.computed_version <= EXCLUDED.computed_version
                AND ({old}) IS DISTINCT FROM ({new})
            """
        )


def _json_text(value: dict | list) -> str:
    return json.dumps(value)


def _upsert_snapshots_orm(items: Sequence[Computed]) -> None:
    AccountSnapshot.objects.bulk_create(
        [AccountSnapshot(account_id=item.row["account_id"], **item.fields) for item in items],
        update_conflicts=True, unique_fields=["account"], update_fields=SNAPSHOT_FIELDS, batch_size=500,
    )


# --- book-level aggregates ----------------------------------------------------------------------------------


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


# --- requesting recomputes ---------------------------------------------------------------------------------

QUEUED_KEY = "profitability:queued:{}"


def recompute_request(*, account_ids: Sequence[int]) -> int:
    """Enqueue recomputes for accounts whose history changed; call only after commit (see receivers).

    A short-lived "queued" key per account coalesces bursts: while a recompute is queued and not yet
    started, further requests for that account enqueue nothing. The worker clears the key when it starts,
    so changes that land during a recompute get a fresh one. The key's TTL bounds a lost message's damage;
    the periodic sweep catches anything still behind.
    """
    from . import tasks

    ids = sorted(set(account_ids))
    if len(ids) > BOOK_RECOMPUTE_THRESHOLD:
        tasks.recompute_book.delay()
        return 1
    enqueued = 0
    for account_id in ids:
        key = QUEUED_KEY.format(account_id)
        if cache.add(key, 1, timeout=settings.CELERY_TASK_TIME_LIMIT):
            try:
                tasks.recompute_account.delay(account_id)
            except Exception:
                cache.delete(key)  # not queued after all: don't block the next change's enqueue
                raise
            enqueued += 1
    return enqueued


def stale_account_ids(*, limit: int = 10_000) -> list[int]:
    """Accounts whose snapshot is missing or older than their interaction history."""
    return list(
        Account.objects.filter(history_version__gt=0)
        .exclude(snapshot__computed_version__gte=F("history_version"))
        .order_by("id").values_list("id", flat=True)[:limit]
    )


def stale_sweep() -> int:
    """Re-enqueue every account that is behind, bypassing the queued keys (the database is the truth)."""
    from . import tasks

    ids = stale_account_ids()
    for account_id in ids:
        cache.delete(QUEUED_KEY.format(account_id))
    if len(ids) > BOOK_RECOMPUTE_THRESHOLD:
        tasks.recompute_book.delay()
    else:
        for account_id in ids:
            tasks.recompute_account.delay(account_id)
    return len(ids)

