"""Writes of the admin configuration (tiers, cost rates, CLV settings) and the previews of their effect.

Every write is atomic, records who changed what through django-simple-history (the actor is set on each
instance, so it holds outside a request too), and enqueues a full recompute of the book only once the
transaction has committed. Nothing is written when validation fails.

The previews change nothing: they read the stored snapshots (one query, vectorised with NumPy) or count
interactions (one aggregate query) and say what a change would do before it is saved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, FloatField, ProtectedError, Q, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from crm.models import Account, Interaction, InteractionChannel

from .costing import CostRateInput, RateWindow, resolve_rate_windows
from .models import MAX_SLA_HOURS, AccountSnapshot, ClvSettings, CostRate, Tier
from .ranking import Band, band_floors, rank_into_bands, validate_bands
from .sql import utc_midnight

ZERO = Decimal("0")
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
MOVERS_SHOWN = 50
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class ConfigurationError(Exception):
    """A configuration change was rejected; nothing was written.

    ``errors`` tie each message to a submitted row and field where there is one, so forms can show the
    message next to the field it is about.
    """

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))


@dataclass(frozen=True)
class SpecError:
    index: int | None  # row of the submitted list, None for the whole submission
    field: str | None  # None: about the row (or the submission) as a whole
    message: str


def recompute_on_commit() -> None:
    """Enqueue a full recompute of the book once the surrounding transaction commits (never before)."""
    from . import tasks

    transaction.on_commit(lambda: tasks.recompute_book.delay())


def _actor_stamp(obj: Any, actor: Any, reason: str) -> None:
    # simple_history reads these from the instance, so the audit row names the actor outside a request too.
    obj._history_user = actor
    obj._change_reason = reason


BASELINE_REASON = "Values as set up before the first recorded change"


def _ensure_baseline(model: type, objs: Sequence[Any]) -> None:
    """Give objects created without history (by data migrations) a first audit row with their current
    values, so the first change shows old → new. Attributed to nobody, not to the admin making the change."""
    if not objs:
        return
    history = model.history.model
    have = set(history.objects.filter(id__in=[o.pk for o in objs]).values_list("id", flat=True).distinct())
    missing = [o for o in objs if o.pk not in have]
    if missing:
        now = timezone.now()
        history.objects.bulk_create([
            history(history_date=now, history_user=None, history_change_reason=BASELINE_REASON, history_type="+",
                    **{f.attname: getattr(o, f.attname) for f in history.tracked_fields})
            for o in missing
        ])


# --- tiers -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierSpec:
    """One tier band as an admin submitted it; ``tier_id`` None means a new tier."""

    tier_id: int | None
    name: str
    position: int | None
    upper_pct: Decimal | None
    first_response_hours: int | None
    resolution_hours: int | None
    queue_priority: int | None
    entitlements: str = ""
    color: str = "#888888"




def tier_spec_of(tier: Tier) -> TierSpec:
    return TierSpec(tier.pk, tier.name, tier.position, tier.upper_pct, tier.first_response_hours,
                    tier.resolution_hours, tier.queue_priority, tier.entitlements, tier.color)


def tier_specs_current() -> list[TierSpec]:
    return [tier_spec_of(t) for t in Tier.objects.order_by("position")]


def tier_specs_errors(specs: Sequence[TierSpec]) -> list[SpecError]:
    """Every reason the submitted bands cannot be saved, each tied to the row and field it is about.

    Rows are the tiers that remain (removed ones are not passed). Bands are ordered by position and must
    increase strictly and end at 100 % (``ranking.validate_bands``); every tier needs a service level.
    """
    errors: list[SpecError] = []
    if not specs:
        return [SpecError(None, None, "At least one tier is needed: every account must land in a tier.")]
    names: dict[str, int] = {}
    positions: dict[int, int] = {}
    for i, spec in enumerate(specs):
        name = (spec.name or "").strip()
        if not name:
            errors.append(SpecError(i, "name", "Give the tier a name."))
        elif name.casefold() in names:
            errors.append(SpecError(i, "name", f"Another tier is already called “{name}”."))
        else:
            names[name.casefold()] = i
        if spec.position is None or spec.position < 1:
            errors.append(SpecError(i, "position", "Give the tier a position of 1 or more (1 = the top tier)."))
        elif spec.position in positions:
            errors.append(SpecError(i, "position", f"Position {spec.position} is taken by another tier."))
        else:
            positions[spec.position] = i
        if spec.upper_pct is None:
            errors.append(SpecError(i, "upper_pct", "Say how far down the ranking this tier reaches (in %)."))
        elif not ZERO < spec.upper_pct <= HUNDRED:
            errors.append(SpecError(i, "upper_pct", "Must be above 0 and at most 100 %."))
        if spec.first_response_hours is None or spec.first_response_hours < 1:
            errors.append(SpecError(i, "first_response_hours",
                                    "Every tier needs a first-response target of at least 1 hour."))
        elif spec.first_response_hours > MAX_SLA_HOURS:
            errors.append(SpecError(i, "first_response_hours", f"At most {MAX_SLA_HOURS:,} hours."))
        if spec.resolution_hours is None or spec.resolution_hours < 1:
            errors.append(SpecError(i, "resolution_hours",
                                    "Every tier needs a resolution target of at least 1 hour."))
        elif spec.resolution_hours > MAX_SLA_HOURS:
            errors.append(SpecError(i, "resolution_hours", f"At most {MAX_SLA_HOURS:,} hours."))
        elif spec.first_response_hours is not None and spec.resolution_hours < spec.first_response_hours:
            errors.append(SpecError(i, "resolution_hours",
                                    "Resolution cannot be due before the first response."))
        if spec.queue_priority is None or spec.queue_priority < 1:
            errors.append(SpecError(i, "queue_priority", "Give a queue priority of 1 or more (1 is served first)."))
        if not COLOR_RE.match(spec.color or ""):
            errors.append(SpecError(i, "color", "Use a colour like #5b6b8c."))

    # The bands, top tier first: only meaningful once positions and bounds are there.
    ordered = sorted(
        ((i, s) for i, s in enumerate(specs) if s.position is not None and s.upper_pct is not None),
        key=lambda pair: pair[1].position,
    )
    bad_bounds = {e.index for e in errors if e.field in ("upper_pct", "position")}
    for (_, above), (i, spec) in zip(ordered, ordered[1:], strict=False):
        if spec.upper_pct <= above.upper_pct and i not in bad_bounds:
            errors.append(SpecError(
                i, "upper_pct",
                f"Must be above {above.name or 'the tier above'}’s {_pct_text(above.upper_pct)} — "
                "bands are cumulative from the top of the ranking.",
            ))
    if ordered and ordered[-1][1].upper_pct != HUNDRED and ordered[-1][0] not in bad_bounds:
        errors.append(SpecError(ordered[-1][0], "upper_pct",
                                "The last tier must reach 100 % so every account has a tier."))
    if not errors:
        try:
            validate_bands(_bands_of(specs))
        except ValueError as exc:  # a guard: the per-row checks above should already have said why
            errors.append(SpecError(None, None, str(exc)))
    return errors


def _pct_text(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def _still_used_text(tier: Tier, refused: ProtectedError) -> str:
    """Why ``tier`` cannot be removed, naming what still uses it."""
    users: dict[Any, list[str]] = {}
    for obj in refused.protected_objects:
        users.setdefault(obj._meta, []).append(str(obj))
    parts = []
    for meta, names in sorted(users.items(), key=lambda pair: str(pair[0].verbose_name)):
        kind = meta.verbose_name if len(names) == 1 else meta.verbose_name_plural
        shown = ", ".join(f"“{name}”" for name in sorted(names)[:3])
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        parts.append(f"{len(names)} {kind} ({shown}{more})")
    return (f"{tier.name} cannot be removed: it is still used by {'; '.join(parts)}. "
            "Rename it or change its band instead, or move those records to another tier first.")


def _ordered(specs: Sequence[TierSpec]) -> list[tuple[int, TierSpec]]:
    return sorted(enumerate(specs), key=lambda pair: pair[1].position)


def _bands_of(specs: Sequence[TierSpec]) -> list[Band]:
    """Bands keyed by row index, top tier first."""
    return [Band(key=i, upper_pct=float(s.upper_pct)) for i, s in _ordered(specs)]


@dataclass(frozen=True)
class TierSaveResult:
    created: int
    changed: int
    removed: int

    @property
    def anything(self) -> bool:
        return bool(self.created or self.changed or self.removed)


def tiers_save(*, tiers: Sequence[TierSpec], remove: Sequence[int] = (), actor: Any) -> TierSaveResult:
    """Apply the tier bands and service levels in one transaction; recompute the book after commit.

    ``tiers`` are all the tiers that remain (existing ones by ``tier_id``, new ones without); ``remove``
    the ids of the tiers to delete. Every existing tier must be in exactly one of the two, so a tier
    another admin added meanwhile is never dropped silently. Raises ``ConfigurationError`` and writes
    nothing when the bands or service levels are invalid.
    """
    errors = tier_specs_errors(tiers)
    if errors:
        raise ConfigurationError(errors)
    with transaction.atomic():
        existing = {t.pk: t for t in Tier.objects.select_for_update().order_by("position")}
        kept_ids = [s.tier_id for s in tiers if s.tier_id is not None]
        remove_ids = set(remove)
        if (len(kept_ids) != len(set(kept_ids)) or set(kept_ids) & remove_ids
                or set(kept_ids) | remove_ids != set(existing)):
            raise ConfigurationError([SpecError(None, None, (
                "The tiers were changed by someone else since this page was opened. "
                "Reload the page and make your change again."))])

        changed = [s for s in tiers if s.tier_id is not None and _differs(existing[s.tier_id], s)]
        _ensure_baseline(Tier, [existing[i] for i in sorted(remove_ids)] + [existing[s.tier_id] for s in changed])
        for tier_id in sorted(remove_ids):
            tier = existing[tier_id]
            _actor_stamp(tier, actor, "Tier removed on the tier settings page")
            try:
                tier.delete()
            except ProtectedError as refused:  # loyalty rewards and the upgrades granted keep their tier
                raise ConfigurationError([SpecError(None, None, _still_used_text(tier, refused))]) from None

        # Names and positions are unique: move the changing tiers out of the way first (without history
        # rows, which record only the final values), so tiers can swap names or positions.
        moving = [s.tier_id for s in changed
                  if (existing[s.tier_id].name, existing[s.tier_id].position) != (s.name.strip(), s.position)]
        for offset, tier_id in enumerate(moving):
            Tier.objects.filter(pk=tier_id).update(name=f"\u2060moving-{tier_id}", position=30000 + offset)

        for spec in changed:
            tier = existing[spec.tier_id]
            _apply(tier, spec)
            _actor_stamp(tier, actor, "Tier bands edited on the tier settings page")
            tier.save()
        created = 0
        for spec in tiers:
            if spec.tier_id is None:
                tier = Tier()
                _apply(tier, spec)
                _actor_stamp(tier, actor, "Tier added on the tier settings page")
                tier.save()
                created += 1
        result = TierSaveResult(created=created, changed=len(changed), removed=len(remove_ids))
        if result.anything:
            recompute_on_commit()
    return result


def _apply(tier: Tier, spec: TierSpec) -> None:
    tier.name = spec.name.strip()
    tier.position = spec.position
    tier.upper_pct = spec.upper_pct
    tier.first_response_hours = spec.first_response_hours
    tier.resolution_hours = spec.resolution_hours
    tier.queue_priority = spec.queue_priority
    tier.entitlements = _entitlements_text(spec.entitlements)
    tier.color = spec.color.lower()


def _entitlements_text(text: str) -> str:
    return "\n".join(line.strip() for line in (text or "").splitlines() if line.strip())


def _differs(tier: Tier, spec: TierSpec) -> bool:
    return (
        tier.name != spec.name.strip() or tier.position != spec.position
        or Decimal(tier.upper_pct) != Decimal(spec.upper_pct)
        or tier.first_response_hours != spec.first_response_hours or tier.resolution_hours != spec.resolution_hours
        or tier.queue_priority != spec.queue_priority
        or _entitlements_text(tier.entitlements) != _entitlements_text(spec.entitlements)
        or tier.color.lower() != spec.color.lower()
    )


# --- tier preview ----------------------------------------------------------------------------------------


def metric_expression(metric: str) -> Any:
    """The stored snapshot figure the book is ranked by; predictive CLV falls back to TTM net profit
    (as the engine does for accounts without a predictive CLV)."""
    if metric == ClvSettings.RankingMetric.NET_PROFIT:
        return F("net_profit")
    if metric == ClvSettings.RankingMetric.CLV_PREDICTIVE:
        return Coalesce("clv_predictive", "net_profit_ttm")
    return F("net_profit_ttm")


@dataclass(frozen=True)
class TierOutcome:
    index: int  # row of the submitted bands
    tier_id: int | None
    name: str
    color: str
    upper_pct: Decimal
    now: int  # active accounts in this tier today (stored snapshots)
    after: int  # active accounts that would be in it with the submitted bands
    floor: float | None  # the lowest metric value that would be in it

    @property
    def delta(self) -> int:
        return self.after - self.now


@dataclass(frozen=True)
class Mover:
    account_id: int
    name: str
    metric: float
    rank: int
    top_share_pct: float
    from_name: str | None  # None: no tier today
    from_color: str | None
    to_name: str
    to_color: str
    up: bool  # lands in a better tier


@dataclass(frozen=True)
class TierPreview:
    metric: str
    metric_label: str
    accounts: int  # active accounts with a snapshot, ranked in the preview
    unranked: int  # active accounts without a snapshot yet (ranked at the next recompute)
    outcomes: list[TierOutcome]
    removed: list[tuple[str, int]]  # (name, accounts in it today) of tiers that would go
    movers_total: int
    movers: list[Mover]  # the first MOVERS_SHOWN, best-ranked first
    moving_up: int
    moving_down: int

    @property
    def movers_more(self) -> int:
        return self.movers_total - len(self.movers)


def tiers_preview(
    *, tiers: Sequence[TierSpec], metric: str, remove: Sequence[int] = (), limit: int = MOVERS_SHOWN
) -> TierPreview:
    """How many active accounts would land in each submitted band, and which accounts would move.

    Ranks the stored snapshot figure ``metric`` of every active account in one query (vectorised with
    NumPy, as the full recompute ranks), compares with the tier each account holds today and lists the
    movers best-ranked first. Changes nothing. Raises ``ConfigurationError`` for invalid bands.
    """
    errors = tier_specs_errors(tiers)
    if errors:
        raise ConfigurationError(errors)
    rows = (
        AccountSnapshot.objects.filter(account__status=Account.Status.ACTIVE)
        .annotate(m=Cast(metric_expression(metric), FloatField()))
        .order_by()
        .values_list("account_id", "m", "tier_id")
    )
    # The ORM's SQL through a plain cursor: the driver already returns ints and floats, and skipping the
    # per-row converters halves the time at 100,000 accounts.
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        data = cursor.fetchall()
    n = len(data)
    ids = np.fromiter((r[0] for r in data), dtype=np.int64, count=n)
    values = np.fromiter((r[1] if r[1] is not None else 0.0 for r in data), dtype=float, count=n)
    current_tier = np.fromiter((r[2] if r[2] is not None else -1 for r in data), dtype=np.int64, count=n)
    del data

    bands = _bands_of(tiers)
    ranking = rank_into_bands(values, bands)
    new_row = ranking.band.astype(np.int64) if n else np.array([], dtype=np.int64)
    row_of_tier = {s.tier_id: i for i, s in enumerate(tiers) if s.tier_id is not None}
    lookup_ids = np.array(list(row_of_tier) or [-2], dtype=np.int64)
    lookup_rows = np.array(list(row_of_tier.values()) or [-1], dtype=np.int64)
    order = np.argsort(lookup_ids)
    pos = np.clip(np.searchsorted(lookup_ids[order], current_tier), 0, len(lookup_ids) - 1)
    found = lookup_ids[order][pos] == current_tier
    current_row = np.where(found, lookup_rows[order][pos], -1)  # -1: no tier today, or a tier that goes

    floors = band_floors(values, ranking, bands) if n else {}
    now_counts = np.bincount(current_row[current_row >= 0], minlength=len(tiers)) if n else np.zeros(len(tiers), int)
    after_counts = np.bincount(new_row, minlength=len(tiers)) if n else np.zeros(len(tiers), int)
    outcomes = [
        TierOutcome(i, s.tier_id, s.name.strip(), s.color, s.upper_pct, int(now_counts[i]), int(after_counts[i]),
                    floors.get(i))
        for i, s in _ordered(tiers)
    ]

    existing = {t.pk: t for t in Tier.objects.all()}
    removed_counts = dict(
        zip(*np.unique(current_tier[~found & (current_tier >= 0)], return_counts=True), strict=True)
    ) if n else {}
    removed = [(existing[t].name, int(removed_counts.get(t, 0))) for t in remove if t in existing]

    rank_of_row = {i: r for r, (i, _) in enumerate(_ordered(tiers))}
    rank_of = np.array([rank_of_row[i] for i in range(len(tiers))], dtype=np.int64)
    moving = np.nonzero(current_row != new_row)[0]
    moving = moving[np.argsort(ranking.rank[moving], kind="stable")] if moving.size else moving
    up_mask = (current_row[moving] >= 0) & (rank_of[new_row[moving]] < rank_of[np.maximum(current_row[moving], 0)])
    shown = moving[:limit]
    names = dict(Account.objects.filter(pk__in=ids[shown].tolist()).values_list("id", "name")) if shown.size else {}
    movers = []
    for k in shown:
        to = tiers[int(new_row[k])]
        if current_row[k] >= 0:
            frm = tiers[int(current_row[k])]
            from_name, from_color = frm.name.strip(), frm.color
        elif current_tier[k] in existing:
            from_name, from_color = f"{existing[int(current_tier[k])].name} (removed)", existing[
                int(current_tier[k])].color
        else:
            from_name, from_color = None, None
        movers.append(Mover(
            account_id=int(ids[k]), name=names.get(int(ids[k]), f"Account {int(ids[k])}"), metric=float(values[k]),
            rank=int(ranking.rank[k]), top_share_pct=float(ranking.top_share_pct[k]),
            from_name=from_name, from_color=from_color, to_name=to.name.strip(), to_color=to.color,
            up=bool(current_row[k] >= 0 and rank_of[new_row[k]] < rank_of[current_row[k]]),
        ))
    unranked = Account.objects.filter(status=Account.Status.ACTIVE, snapshot__isnull=True).count()
    return TierPreview(
        metric=metric, metric_label=dict(ClvSettings.RankingMetric.choices).get(metric, metric), accounts=n,
        unranked=unranked, outcomes=outcomes, removed=removed, movers_total=int(moving.size), movers=movers,
        moving_up=int(up_mask.sum()), moving_down=int(moving.size - up_mask.sum()),
    )


# --- cost rates ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRateSpec:
    activity: str
    kind: str
    channel: str  # "" = every channel
    per_unit: bool
    rate: Decimal
    effective_from: date


def cost_rate_errors(spec: CostRateSpec) -> list[SpecError]:
    errors = []
    if not spec.activity.strip():
        errors.append(SpecError(None, "activity", "Name the activity, e.g. Shipping."))
    if spec.rate is None or spec.rate < 0:
        errors.append(SpecError(None, "rate", "A rate cannot be negative."))
    if CostRate.objects.filter(activity=spec.activity.strip(), kind=spec.kind, channel=spec.channel,
                               effective_from=spec.effective_from).exists():
        errors.append(SpecError(None, "effective_from", (
            "A rate for this activity, interaction kind and channel already starts on that day. "
            "Rates are never edited in place: pick another day (or delete the scheduled rate first).")))
    return errors


def cost_rate_create(*, spec: CostRateSpec, actor: Any) -> CostRate:
    """Add an effective-dated rate (existing rates are never edited); recompute the book after commit."""
    errors = cost_rate_errors(spec)
    if errors:
        raise ConfigurationError(errors)
    with transaction.atomic():
        rate = CostRate(activity=spec.activity.strip(), kind=spec.kind, channel=spec.channel,
                        per_unit=spec.per_unit, rate=spec.rate, effective_from=spec.effective_from)
        _actor_stamp(rate, actor, "Rate added on the cost rate settings page")
        rate.save()
        recompute_on_commit()
    return rate


def cost_rate_delete(*, rate_id: int, actor: Any, today: date) -> None:
    """Delete a scheduled (future-dated) rate; rates already in effect explain past figures and stay."""
    with transaction.atomic():
        rate = CostRate.objects.select_for_update().filter(pk=rate_id).first()
        if rate is None:
            raise ConfigurationError([SpecError(None, None, "That rate no longer exists.")])
        if rate.effective_from <= today:
            raise ConfigurationError([SpecError(None, None, (
                "Only rates that start in the future can be deleted: this one already explains figures. "
                "Add a new rate from a later date instead."))])
        _ensure_baseline(CostRate, [rate])
        _actor_stamp(rate, actor, "Scheduled rate deleted on the cost rate settings page")
        rate.delete()
        recompute_on_commit()


@dataclass(frozen=True)
class ChannelImpact:
    channel: str  # the channel's value
    label: str
    interactions: int  # matching interactions in the trailing 12 months
    units: int
    current: RateWindow | None  # the rate the new one would replace on its start date
    cost_now: Decimal  # what these interactions cost at the current rate
    cost_new: Decimal  # ... and at the new rate

    @property
    def delta(self) -> Decimal:
        return self.cost_new - self.cost_now


@dataclass(frozen=True)
class CostRatePreview:
    spec: CostRateSpec
    ttm_start: date
    channels: list[ChannelImpact] = field(default_factory=list)  # where the new rate would apply
    restated_interactions: int = 0  # TTM interactions dated on or after the start date that would be re-priced
    restated_delta: Decimal = ZERO  # the change in the book's TTM cost-to-serve at the next recompute
    book_cost_to_serve_ttm: Decimal = ZERO

    @property
    def interactions(self) -> int:
        return sum(c.interactions for c in self.channels)

    @property
    def quiet_channels(self) -> list[str]:
        """Channels the rate would govern that had no matching interaction in the trailing 12 months."""
        return [c.label for c in self.channels if not c.interactions]

    @property
    def annual_delta(self) -> Decimal:
        """The change in a year's cost-to-serve at the last 12 months' volume: Σ count × rate delta."""
        return sum((c.delta for c in self.channels), ZERO)

    @property
    def annual_delta_pct(self) -> Decimal | None:
        if not self.book_cost_to_serve_ttm:
            return None
        return (self.annual_delta * 100 / self.book_cost_to_serve_ttm).quantize(CENT)


def _window_on(windows: Sequence[RateWindow], channel: str, day: date) -> RateWindow | None:
    for w in windows:
        if w.channel == channel and w.valid_from <= day and (w.valid_to is None or day < w.valid_to):
            return w
    return None


def _cost(window: RateWindow | None, n: int, units: int) -> Decimal:
    if window is None:
        return ZERO
    return window.rate * (units if window.per_unit else n)


def cost_rate_preview(*, spec: CostRateSpec, now: datetime) -> CostRatePreview:
    """What a new rate would do to cost-to-serve, in one aggregate query over the trailing 12 months.

    - Per channel the new rate would govern on its start date (a rate for every channel does not apply
      where a channel-specific rate is in effect): the matching interactions of the trailing 12 months ×
      (new rate − the rate in effect on the start date) — the yearly effect at today's volume.
    - The restatement: interactions already dated on or after the start date are re-priced at the next
      recompute; the exact change of the book's trailing-12-month cost-to-serve (zero for a future date).
    The trailing 12 months start at the same day as the engine's (``as_of`` − 365 days, UTC).
    """
    as_of = now.astimezone(UTC).date()
    ttm_start = as_of - timedelta(days=365)
    channels = InteractionChannel.values
    existing = [
        r.as_input()
        for r in CostRate.objects.filter(activity=spec.activity.strip(), kind=spec.kind)
    ]
    new = CostRateInput(spec.activity.strip(), spec.kind, spec.channel or None, spec.per_unit, spec.rate,
                        spec.effective_from)
    before = resolve_rate_windows(existing, channels=channels)
    after = resolve_rate_windows([*existing, new], channels=channels)

    # Channels the new rate governs on its start date.
    governed = [c for c in channels if (w := _window_on(after, c, spec.effective_from)) is not None
                and (w.rate, w.per_unit, w.valid_from) == (spec.rate, spec.per_unit, spec.effective_from)
                and (spec.channel in ("", c))]

    # Restatement segments: per channel, the date ranges (from the TTM start) where before and after differ.
    segments: list[tuple[str, date, date | None, RateWindow | None, RateWindow | None]] = []
    for c in channels:
        points = {ttm_start}
        for w in (*before, *after):
            if w.channel == c:
                points.update(d for d in (w.valid_from, w.valid_to) if d is not None and d > ttm_start)
        ordered = sorted(points)
        for k, start in enumerate(ordered):
            end = ordered[k + 1] if k + 1 < len(ordered) else None
            old_w, new_w = _window_on(before, c, start), _window_on(after, c, start)
            key = lambda w: None if w is None else (w.rate, w.per_unit)  # noqa: E731
            if key(old_w) != key(new_w):
                segments.append((c, start, end, old_w, new_w))

    ttm = Q(occurred_at__gte=utc_midnight(ttm_start))
    aggregates: dict[str, Any] = {}
    for c in governed:
        aggregates[f"n_{c}"] = Count("id", filter=Q(channel=c))
        aggregates[f"u_{c}"] = Sum(Coalesce("quantity", 0), filter=Q(channel=c))
    for k, (c, start, end, _, _) in enumerate(segments):
        window = Q(channel=c, occurred_at__gte=utc_midnight(start))
        if end is not None:
            window &= Q(occurred_at__lt=utc_midnight(end))
        aggregates[f"sn_{k}"] = Count("id", filter=window)
        aggregates[f"su_{k}"] = Sum(Coalesce("quantity", 0), filter=window)
    totals = Interaction.objects.filter(ttm, kind=spec.kind).aggregate(**aggregates) if aggregates else {}

    labels = dict(InteractionChannel.choices)
    impacts = []
    for c in governed:
        n, units = totals[f"n_{c}"] or 0, totals[f"u_{c}"] or 0
        current = _window_on(before, c, spec.effective_from)
        new_w = _window_on(after, c, spec.effective_from)
        impacts.append(ChannelImpact(c, labels[c], n, units, current, _cost(current, n, units),
                                     _cost(new_w, n, units)))
    restated_n = 0
    restated_delta = ZERO
    for k, (_, _, _, old_w, new_w) in enumerate(segments):
        n, units = totals[f"sn_{k}"] or 0, totals[f"su_{k}"] or 0
        restated_n += n
        restated_delta += _cost(new_w, n, units) - _cost(old_w, n, units)
    book = AccountSnapshot.objects.aggregate(total=Sum("cost_to_serve_ttm"))["total"] or ZERO
    return CostRatePreview(spec=spec, ttm_start=ttm_start, channels=impacts, restated_interactions=restated_n,
                           restated_delta=restated_delta, book_cost_to_serve_ttm=book)


# --- CLV settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClvSpec:
    discount_rate: Decimal  # a fraction, 0.1 = 10 %
    horizon_months: int
    ranking_metric: str
    retention_override: Decimal | None  # a fraction; None = measured from the book


def clv_settings_save(*, spec: ClvSpec, actor: Any) -> bool:
    """Save the CLV and ranking settings; recompute the book after commit. False when nothing changed."""
    if spec.ranking_metric not in ClvSettings.RankingMetric.values:
        raise ConfigurationError([SpecError(None, "ranking_metric", "Choose one of the ranking metrics.")])
    with transaction.atomic():
        ClvSettings.current()
        settings = ClvSettings.objects.select_for_update().get(pk=1)
        wanted = {
            "discount_rate": spec.discount_rate, "horizon_months": spec.horizon_months,
            "ranking_metric": spec.ranking_metric, "retention_override": spec.retention_override,
        }
        if all(getattr(settings, k) == v for k, v in wanted.items()):
            return False
        _ensure_baseline(ClvSettings, [settings])
        for k, v in wanted.items():
            setattr(settings, k, v)
        try:
            settings.full_clean()
        except ValidationError as exc:
            raise ConfigurationError([
                SpecError(None, name if name != NON_FIELD_ERRORS else None, message)
                for name, messages in exc.message_dict.items() for message in messages
            ]) from exc
        _actor_stamp(settings, actor, "CLV settings edited on the CLV settings page")
        settings.save()
        recompute_on_commit()
    return True


def clv_refit_request() -> None:
    """Refit the CLV models, then recompute the book with the new parameters (on commit, in that order)."""
    from celery import chain

    from . import tasks

    transaction.on_commit(lambda: chain(tasks.fit_clv_models.si(), tasks.recompute_book.si()).delay())
