"""Campaigns: target segment, offer, channel, A/B variants; pilot first, then expand or stop on the numbers."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.reauth import reauth_required
from crm.roles import Role, role_required

from .. import selectors
from ..forms import CampaignForm, ExpandForm, VariantFormSet
from ..models import Campaign
from ..rollout import stage_for
from ..services import campaigns as service

LIST = "campaigns/campaigns/list.html"
FORM = "campaigns/campaigns/form.html"
DETAIL = "campaigns/campaigns/detail.html"
UNPROCESSABLE = 422


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.select_related("segment").annotate(assigned=Count("assignments")).order_by(
        "-created_at")
    return render(request, LIST, {"campaigns": campaigns, "tab": "campaigns"})


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("segment", "loyalty_program"), pk=pk)
    now = timezone.now()
    results = selectors.campaign_results(campaign=campaign, now=now, currency=settings.TIERWISE_CURRENCY) \
        if campaign.status != Campaign.Status.DRAFT else None
    segment_size = selectors.segment_accounts(campaign.segment, today=now.astimezone(UTC).date()).count()
    return render(request, DETAIL, {
        "campaign": campaign, "results": results, "segment_size": segment_size, "tab": "campaigns",
        "variants": campaign.variants.all(), "expand_form": ExpandForm(campaign=campaign, initial={
            "variant": campaign.variants.filter(label=results.recommendation.variant).first()
            if results and results.recommendation.action == "expand" else None}),
    })


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, Campaign())


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if campaign.status != Campaign.Status.DRAFT:
        messages.error(request, "A launched campaign keeps its set-up; stop it or let it run.")
        return redirect("campaign_detail", campaign.pk)
    return _edit(request, campaign)


def _edit(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method == "GET":
        initial = [] if campaign.pk else [{"label": "A", "weight": 50}, {"label": "B", "weight": 50}]
        return render(request, FORM, {"form": CampaignForm(instance=campaign), "campaign": campaign, "tab": "campaigns",
                                      "variants": VariantFormSet(instance=campaign, prefix="variants",
                                                                 initial=initial)})
    form = CampaignForm(request.POST, instance=campaign)
    variants = VariantFormSet(request.POST, instance=campaign, prefix="variants")
    form_valid = form.is_valid()  # both, so every error shows at once
    if variants.is_valid() and form_valid:
        try:
            saved = service.campaign_save(form=form, variants=variants, actor=request.user)
        except service.CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{saved.name} saved as a draft. Launch it to start the pilot.")
            return redirect("campaign_detail", saved.pk)
    # The form comes back with its errors: the Reach panel shows the reach of the chosen segment and share
    # (it only asks for them when they are missing or invalid).
    return render(request, FORM, {"form": form, "variants": variants, "campaign": campaign, "tab": "campaigns",
                                  "preview": _reach(form, campaign.pk)}, status=UNPROCESSABLE)


def _reach(form: CampaignForm, campaign_id: int | None) -> dict | None:
    """The Reach panel's figures for a validated (bound) form: the segment's size today and the first stage's
    expected size (exact for a saved campaign: its stable hash); None when the segment or share is missing."""
    data = getattr(form, "cleaned_data", {})
    if data.get("segment") is None or data.get("pilot_pct") is None:
        return None
    segment, pct = data["segment"], data["pilot_pct"]
    ids = list(selectors.segment_accounts(segment, today=timezone.now().astimezone(UTC).date())
               .values_list("pk", flat=True))
    return {"segment": segment, "members": len(ids), "pct": pct,
            "expected_pilot": round(len(ids) * pct / Decimal(100)),
            "exact_pilot": sum(stage_for(campaign_id, a, pct) == 1 for a in ids) if campaign_id else None}


@role_required(Role.ADMIN)
@require_POST
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """Segment size and the expected pilot size at the unsaved share. Writes nothing."""
    form = CampaignForm(request.POST)
    form.is_valid()
    campaign_id = request.POST.get("campaign_id", "")
    preview = _reach(form, int(campaign_id) if campaign_id.isdigit() else None)
    context = {"form": form, "preview": preview}
    template = f"{FORM}#preview" if request.htmx else FORM
    if not request.htmx:
        context.update(variants=VariantFormSet(request.POST, instance=Campaign(), prefix="variants"),
                       campaign=Campaign(), tab="campaigns")
    return render(request, template, context, status=200 if preview else UNPROCESSABLE)


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        n = service.campaign_launch(campaign_id=pk, actor=request.user)
    except service.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Pilot started: {n:,} accounts got their variant.")
    return redirect("campaign_detail", pk)


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def campaign_expand(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    form = ExpandForm(request.POST, campaign=campaign)
    if not form.is_valid():
        messages.error(request, "Choose a variant of this campaign, or keep the split.")
        return redirect("campaign_detail", pk)
    variant = form.cleaned_data["variant"]
    try:
        n = service.campaign_expand(campaign_id=pk, actor=request.user, variant_id=variant.pk if variant else None)
    except service.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        how = f"with variant {variant.label}" if variant else "keeping the split"
        messages.success(request, f"Rolled out to the other {n:,} accounts of the segment, {how}.")
    return redirect("campaign_detail", pk)


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def campaign_stop(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        service.campaign_stop(campaign_id=pk, actor=request.user)
    except service.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Campaign stopped; its results stay here.")
    return redirect("campaign_detail", pk)
