"""The engine's inputs: the admins' configuration, cached per process while its rows are unchanged, and the
context (time, trailing year) of one recompute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection

from crm.models import InteractionChannel

from ..clv.predict import BgNbdParams, GammaGammaParams, SbgParams
from ..costing import CostPlan, cost_plan, resolve_rate_windows
from ..figures import DEFAULT_RETENTION, ClvParams
from ..models import FITS_CONSIDERED, BookSummary, ClvModelFit, ClvSettings, CostRate, Tier
from ..ranking import Band


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
class EngineContext(EngineConfig):
    """The configuration as of one moment: what a recompute at ``now`` reads."""

    now: datetime
    as_of: date
    ttm_start: datetime


def engine_context(*, now: datetime) -> EngineContext:
    return context_for(now, engine_config())


def context_for(now: datetime, config: EngineConfig) -> EngineContext:
    as_of = now.astimezone(UTC).date()
    return EngineContext(
        **{f.name: getattr(config, f.name) for f in fields(EngineConfig)},
        now=now, as_of=as_of, ttm_start=datetime.combine(as_of - timedelta(days=365), time.min, tzinfo=UTC),
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


def config_fingerprint_columns() -> str:
    fits = " UNION ALL ".join(
        f"(SELECT ctid, xmin FROM profitability_clvmodelfit WHERE model = '{model}' ORDER BY fitted_at DESC "
        f"LIMIT {FITS_CONSIDERED})"
        for model in ClvModelFit.Model.values
    )
    return _CONFIG_FINGERPRINT_COLUMNS.format(fits=fits)


def fingerprint_of(values: Sequence) -> tuple:
    return (connection.settings_dict["NAME"], *values)


def cached_config() -> tuple[tuple, EngineConfig] | None:
    """This process's cached configuration and the fingerprint it was built from (None before the first load)."""
    return _config_cache


def engine_config() -> EngineConfig:
    """The engine configuration, from this process's cache while the rows it was built from are unchanged."""
    global _config_cache
    if connection.vendor != "postgresql":
        return _engine_config_load()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {config_fingerprint_columns()}")  # noqa: S608 - our own SQL
        fingerprint = fingerprint_of(cursor.fetchone())
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
