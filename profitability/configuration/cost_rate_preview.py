"""The cost rate preview: what a new rate would do to cost-to-serve, per channel and for the book."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from crm.models import Interaction, InteractionChannel

from ..costing import CostRateInput, RateWindow, resolve_rate_windows
from ..models import AccountSnapshot, CostRate
from ..sql import utc_midnight
from .common import ZERO
from .cost_rates import CostRateSpec

CENT = Decimal("0.01")


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
