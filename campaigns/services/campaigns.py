"""Campaign writes: launching the pilot stage, expanding to the rest of the segment, stopping.

Who gets which variant, and who is in the pilot, comes from ``campaigns.rollout`` (a stable hash of the
campaign and account ids): re-running an assignment gives the same answer, and the pilot is the same
share of the segment whatever order accounts are processed in. A loyalty-bonus offer credits its bonus
points to the members of the campaign's program as they are assigned.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from ..models import Campaign, CampaignAssignment, CampaignVariant, Enrolment, LedgerEntry
from ..rollout import stage_for, variant_for
from ..selectors import segment_accounts


class CampaignError(Exception):
    pass


def variant_weights(variants: list[CampaignVariant]) -> list[tuple[int, int]]:
    """(variant id, weight) in label order: the order is part of the reproducible assignment."""
    return [(v.pk, v.weight) for v in sorted(variants, key=lambda v: (v.label, v.pk))]


def _assign(campaign: Campaign, account_ids: list[int], *, stage: int, now: datetime,
            only_variant: CampaignVariant | None = None) -> list[CampaignAssignment]:
    variants = list(campaign.variants.all())
    weights = variant_weights(variants)
    rows = [
        CampaignAssignment(
            campaign=campaign, account_id=account_id, stage=stage, assigned_at=now,
            variant_id=only_variant.pk if only_variant else variant_for(campaign.pk, account_id, weights),
        )
        for account_id in account_ids
    ]
    created = CampaignAssignment.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    if campaign.offer == Campaign.Offer.LOYALTY_BONUS and campaign.loyalty_program_id:
        _credit_bonus(campaign, rows, variants, now=now)
    return created


def _credit_bonus(campaign: Campaign, rows: list[CampaignAssignment], variants: list[CampaignVariant], *,
                  now: datetime) -> None:
    bonus = {v.pk: v.bonus_points or 0 for v in variants}
    labels = {v.pk: v.label for v in variants}
    enrolments = dict(Enrolment.objects.filter(program_id=campaign.loyalty_program_id,
                                               account_id__in=[r.account_id for r in rows])
                      .values_list("account_id", "pk"))
    LedgerEntry.objects.bulk_create([
        LedgerEntry(enrolment_id=enrolments[r.account_id], kind=LedgerEntry.Kind.ADJUST, points=bonus[r.variant_id],
                    occurred_at=now, recorded_at=now,
                    reason=f"Campaign bonus: {campaign.name} (variant {labels[r.variant_id]})"[:300])
        for r in rows if r.account_id in enrolments and bonus[r.variant_id] > 0
    ], batch_size=2000)


@transaction.atomic
def campaign_launch(*, campaign_id: int, actor, now: datetime | None = None) -> int:  # type: ignore[no-untyped-def]
    """Start the pilot: the hashed pilot share of the segment's current members gets its variants. Returns how many."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().select_related("segment").get(pk=campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        raise CampaignError("Only a draft campaign can be launched.")
    if campaign.variants.count() < 2:
        raise CampaignError("A campaign needs at least two variants to compare (e.g. an offer and a control).")
    members = list(segment_accounts(campaign.segment, today=now.astimezone(UTC).date())
                   .order_by("pk").values_list("pk", flat=True))
    if not members:
        raise CampaignError(f"The segment {campaign.segment.name} has no members today.")
    pilot = [a for a in members if stage_for(campaign.pk, a, campaign.pilot_pct) == 1]
    _assign(campaign, pilot, stage=1, now=now)
    campaign.status, campaign.launched_at = Campaign.Status.PILOT, now
    campaign.save(update_fields=["status", "launched_at"])
    return len(pilot)


@transaction.atomic
def campaign_expand(*, campaign_id: int, actor, variant_id: int | None = None, now: datetime | None = None) -> int:  # type: ignore[no-untyped-def]
    """Roll out to the rest of the segment: with the chosen variant, or keeping the split. Returns how many."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().select_related("segment").get(pk=campaign_id)
    if campaign.status != Campaign.Status.PILOT:
        raise CampaignError("Only a campaign in its pilot stage can be expanded.")
    only = None
    if variant_id is not None:
        only = campaign.variants.filter(pk=variant_id).first()
        if only is None:
            raise CampaignError("That variant is not part of this campaign.")
    assigned = set(campaign.assignments.values_list("account_id", flat=True))
    rest = [a for a in segment_accounts(campaign.segment, today=now.astimezone(UTC).date())
            .order_by("pk").values_list("pk", flat=True) if a not in assigned]
    _assign(campaign, rest, stage=2, now=now, only_variant=only)
    campaign.status, campaign.expanded_at = Campaign.Status.EXPANDED, now
    campaign.save(update_fields=["status", "expanded_at"])
    return len(rest)


@transaction.atomic
def campaign_stop(*, campaign_id: int, actor, now: datetime | None = None) -> Campaign:  # type: ignore[no-untyped-def]
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status not in (Campaign.Status.PILOT, Campaign.Status.EXPANDED):
        raise CampaignError("Only a running campaign can be stopped.")
    campaign.status, campaign.stopped_at = Campaign.Status.STOPPED, now
    campaign.save(update_fields=["status", "stopped_at"])
    return campaign


@transaction.atomic
def campaign_save(*, form, variants, actor) -> Campaign:  # type: ignore[no-untyped-def]
    """Save a validated campaign form and its variants. Only drafts change: a running test keeps its arms."""
    campaign = form.save(commit=False)
    if campaign.pk is not None and Campaign.objects.filter(pk=campaign.pk).exclude(
            status=Campaign.Status.DRAFT).exists():
        raise CampaignError("Only a draft campaign can be edited; a launched one keeps its variants.")
    if campaign.pk is None:
        campaign.created_by = actor
    campaign._history_user = actor
    campaign.save()
    variants.instance = campaign
    variants.save()
    return campaign
