"""The one answer to "which service tier does account X get now?": its ranked tier, or a better one it holds
for a while (a loyalty reward's temporary upgrade, ...).

The engine ranks accounts into tiers; apps above it may grant an account a better tier for a time. They
register a :class:`TierGrantSource` (``campaigns`` does, for its ``RewardGrant`` rows) instead of the engine
importing them, so dependencies keep pointing one way (crm ← profitability ← campaigns). Everything service
staff see — the queue order and its tier filter, the tier badge and entitlements on the queue, the account
lookup and the service view — goes through :func:`effective_tier_annotations` (SQL, for ordering and
filtering) or :func:`effective_tiers` (Python, for a handful of accounts). A grant counts only from
``valid_from`` to ``valid_until``, so an upgrade ends by itself: no job has to take it back.

A grant only ever raises the level: when the ranked tier is as good or better, the ranked tier stands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, DateTimeField, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Least

from ..models import AccountSnapshot, Tier

NO_PRIORITY = 32_767  # sorts after every real queue priority (a PositiveSmallIntegerField)


@dataclass(frozen=True)
class TierGrantSource:
    """Where temporary tiers come from. ``running(now)`` returns the grants in force at ``now`` as a queryset
    with ``account_id``, ``tier_id`` (a foreign key to :class:`Tier`, traversable as ``tier__``) and
    ``valid_until`` columns; ``reason`` says why in words, for staff ("loyalty reward")."""

    key: str
    reason: str
    running: Callable[[datetime], QuerySet]


_SOURCES: dict[str, TierGrantSource] = {}


def register_tier_grant_source(source: TierGrantSource) -> None:
    """Called from an app's ``ready()``; registering the same key again replaces it (idempotent)."""
    _SOURCES[source.key] = source


def tier_grant_sources() -> list[TierGrantSource]:
    return [_SOURCES[k] for k in sorted(_SOURCES)]


@dataclass(frozen=True)
class EffectiveTier:
    """The tier an account is served as now, its own ranked tier, and why they differ (if they do)."""

    tier: Tier | None
    own: Tier | None
    until: datetime | None = None  # the end of the upgrade, when upgraded
    reason: str = ""

    @property
    def upgraded(self) -> bool:
        return self.until is not None


def _grant_subqueries(source: TierGrantSource, now: datetime, account_ref: str) -> dict[str, Subquery]:
    best = (source.running(now).filter(account_id=OuterRef(account_ref))
            .order_by("tier__queue_priority", "tier__position", "-valid_until"))
    return {
        "tier": Subquery(best.values("tier_id")[:1]),
        "priority": Subquery(best.values("tier__queue_priority")[:1]),
        "until": Subquery(best.values("valid_until")[:1]),
    }


def effective_tier_annotations(*, now: datetime, account_ref: str = "account_id",
                               prefix: str = "eff") -> dict[str, Any]:
    """Annotations for a queryset whose rows belong to an account (``account_ref`` names the account's id,
    ``"pk"`` on ``Account`` itself), as correlated subqueries on primary keys (no join of the book):

    - ``<prefix>_own_tier_id``: the ranked tier (the snapshot's);
    - ``<prefix>_priority``: the effective queue priority (NULL: no tier at all);
    - ``<prefix>_tier_id``: the effective tier;
    - ``<prefix>_source`` / ``<prefix>_until``: which grant source raised it and until when (NULL if none).
    """
    snapshot = AccountSnapshot.objects.filter(account_id=OuterRef(account_ref))
    own_tier = Subquery(snapshot.values("tier_id")[:1])
    own_priority = Subquery(snapshot.values("tier__queue_priority")[:1])
    grants = {s.key: _grant_subqueries(s, now, account_ref) for s in tier_grant_sources()}
    out: dict[str, Any] = {f"{prefix}_own_tier_id": own_tier, f"{prefix}_own_priority": own_priority}
    for i, g in enumerate(grants.values()):
        out[f"{prefix}_g{i}_tier"] = g["tier"]
        out[f"{prefix}_g{i}_priority"] = g["priority"]
        out[f"{prefix}_g{i}_until"] = g["until"]
    if not grants:
        out[f"{prefix}_priority"] = F(f"{prefix}_own_priority")
        out[f"{prefix}_tier_id"] = F(f"{prefix}_own_tier_id")
        out[f"{prefix}_source"] = Value(None, output_field=IntegerField())
        out[f"{prefix}_until"] = Value(None, output_field=DateTimeField())
        return out
    # COALESCE to a sentinel before LEAST: SQLite's MIN() returns NULL when any argument is NULL.
    best = Least(Coalesce(F(f"{prefix}_own_priority"), Value(NO_PRIORITY)),
                 *(Coalesce(F(f"{prefix}_g{i}_priority"), Value(NO_PRIORITY)) for i in range(len(grants))),
                 output_field=IntegerField())
    out[f"{prefix}_best"] = best
    # The ranked tier stands unless a grant is strictly better.
    raised = [When(**{f"{prefix}_g{i}_priority__lt": Coalesce(F(f"{prefix}_own_priority"), Value(NO_PRIORITY)),
                      f"{prefix}_g{i}_priority": F(f"{prefix}_best")}, then=Value(i)) for i in range(len(grants))]
    out[f"{prefix}_source"] = Case(*raised, default=None, output_field=IntegerField())
    out[f"{prefix}_priority"] = Case(When(**{f"{prefix}_best": NO_PRIORITY}, then=Value(None)),
                                     default=F(f"{prefix}_best"), output_field=IntegerField())
    out[f"{prefix}_tier_id"] = Case(
        *(When(**{f"{prefix}_source": i}, then=F(f"{prefix}_g{i}_tier")) for i in range(len(grants))),
        default=F(f"{prefix}_own_tier_id"), output_field=IntegerField(),
    )
    out[f"{prefix}_until"] = Case(
        *(When(**{f"{prefix}_source": i}, then=F(f"{prefix}_g{i}_until")) for i in range(len(grants))),
        default=None, output_field=DateTimeField(),
    )
    return out


def effective_tier_of(row: Any, tiers: dict[int, Tier], *, prefix: str = "eff") -> EffectiveTier:
    """The :class:`EffectiveTier` of a row annotated with :func:`effective_tier_annotations`."""
    own = tiers.get(getattr(row, f"{prefix}_own_tier_id"))
    source = getattr(row, f"{prefix}_source")
    if source is None:
        return EffectiveTier(tier=own, own=own)
    return EffectiveTier(tier=tiers.get(getattr(row, f"{prefix}_tier_id")), own=own,
                         until=getattr(row, f"{prefix}_until"), reason=tier_grant_sources()[source].reason)


def effective_tiers(*, account_ids: Iterable[int], now: datetime,
                    tiers: dict[int, Tier] | None = None) -> dict[int, EffectiveTier]:
    """Effective tier per account (one query, plus the tiers unless given)."""
    from crm.models import Account

    ids = list(account_ids)
    if not ids:
        return {}
    tiers = {t.pk: t for t in Tier.objects.all()} if tiers is None else tiers
    rows = Account.objects.filter(pk__in=ids).only("id").annotate(**effective_tier_annotations(
        now=now, account_ref="pk"))
    return {row.pk: effective_tier_of(row, tiers) for row in rows}
