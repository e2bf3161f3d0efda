"""Tier bands and service levels: the submitted specs, their validation, and saving them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from ..models import MAX_SLA_HOURS, Tier
from ..ranking import Band, validate_bands
from .common import ZERO, ConfigurationError, SpecError, actor_stamp, ensure_history_baseline, recompute_on_commit

HUNDRED = Decimal("100")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


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
            validate_bands(bands_of(specs))
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


def specs_by_position(specs: Sequence[TierSpec]) -> list[tuple[int, TierSpec]]:
    return sorted(enumerate(specs), key=lambda pair: pair[1].position)


def bands_of(specs: Sequence[TierSpec]) -> list[Band]:
    """Bands keyed by row index, top tier first."""
    return [Band(key=i, upper_pct=float(s.upper_pct)) for i, s in specs_by_position(specs)]


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
        ensure_history_baseline(
            Tier, [existing[i] for i in sorted(remove_ids)] + [existing[s.tier_id] for s in changed])
        for tier_id in sorted(remove_ids):
            tier = existing[tier_id]
            actor_stamp(tier, actor, "Tier removed on the tier settings page")
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
            actor_stamp(tier, actor, "Tier bands edited on the tier settings page")
            tier.save()
        created = 0
        for spec in tiers:
            if spec.tier_id is None:
                tier = Tier()
                _apply(tier, spec)
                actor_stamp(tier, actor, "Tier added on the tier settings page")
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
