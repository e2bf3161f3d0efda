"""Segments: saved rule-based filters (admins build them with a live preview) and k-means clusters."""

from __future__ import annotations

from datetime import UTC

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Avg, Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.reauth import reauth_required
from crm.roles import Role, role_required
from profitability.models import Tier

from .. import selectors, tasks
from ..forms import ClusterForm, SegmentForm
from ..models import ClusteringRun, Segment
from ..segmentation import Criteria
from ..services.segments import SegmentError, segment_save

LIST = "campaigns/segments/list.html"
FORM = "campaigns/segments/form.html"
DETAIL = "campaigns/segments/detail.html"
UNPROCESSABLE = 422


def _today():  # type: ignore[no-untyped-def]
    return timezone.now().astimezone(UTC).date()


def summary(accounts) -> dict:  # type: ignore[no-untyped-def]
    """Size and profitability of a set of accounts (one aggregate query)."""
    return accounts.aggregate(n=Count("pk"), revenue=Sum("snapshot__revenue_ttm"), net=Sum("snapshot__net_profit_ttm"),
                              avg_net=Avg("snapshot__net_profit_ttm"))


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    today = _today()
    segments = list(Segment.objects.filter(archived=False).select_related("clustering_run").order_by("kind", "name"))
    tier_names = dict(Tier.objects.values_list("pk", "name"))  # once, not per segment
    rows = [(s, selectors.criteria_words(Criteria.from_json(s.criteria), tier_names) if s.kind == Segment.Kind.RULES
             else s.description,
             selectors.segment_accounts(s, today=today).count()) for s in segments]
    return render(request, LIST, {"rows": rows, "run": ClusteringRun.objects.first(), "cluster_form": ClusterForm(),
                                  "tab": "segments"})


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.select_related("clustering_run"), pk=pk)
    accounts = selectors.segment_accounts(segment, today=_today())
    page = Paginator(accounts.select_related("snapshot__tier", "owner").order_by("name"), 25).get_page(
        request.GET.get("page"))
    rules = segment.kind == Segment.Kind.RULES
    context = {"segment": segment, "page": page, "summary": summary(accounts), "tab": "segments",
               "words": selectors.criteria_words(Criteria.from_json(segment.criteria)) if rules
               else segment.description}
    if request.htmx and request.htmx.target == "segment-members":
        return render(request, f"{DETAIL}#members", context)
    return render(request, DETAIL, context)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def segment_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk, kind=Segment.Kind.RULES)
    return _edit(request, segment)


def _edit(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    if request.method == "GET":
        return render(request, FORM, {"form": SegmentForm(segment=segment), "segment": segment, "tab": "segments"})
    form = SegmentForm(request.POST, segment=segment)
    if form.is_valid():
        try:
            saved = segment_save(segment=segment, name=form.cleaned_data["name"],
                                 description=form.cleaned_data["description"], criteria=form.criteria(),
                                 actor=request.user)
        except SegmentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Segment {saved.name} saved.")
            return redirect("segment_detail", saved.pk)
    return render(request, FORM, {"form": form, "segment": segment, "tab": "segments"}, status=UNPROCESSABLE)


@role_required(Role.ADMIN)
@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The members the unsaved rules select, with their size and profitability. Writes nothing."""
    segment_id = request.POST.get("segment_id", "")
    segment = Segment.objects.filter(pk=int(segment_id)).first() if segment_id.isdigit() else None
    form = SegmentForm(request.POST, segment=segment)
    preview = None
    if form.is_valid():
        criteria = form.criteria()
        accounts = selectors.criteria_accounts(criteria, today=_today())
        preview = {"words": selectors.criteria_words(criteria), "summary": summary(accounts),
                   "sample": list(accounts.select_related("snapshot__tier").order_by("name")[:15])}
    context = {"form": form, "segment": segment, "preview": preview, "tab": "segments"}
    if request.htmx:
        if preview is None:
            return render(request, f"{FORM}#preview", context, status=UNPROCESSABLE)
        return render(request, f"{FORM}#preview", context)
    return render(request, FORM, context, status=200 if preview else UNPROCESSABLE)


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def segment_cluster(request: HttpRequest) -> HttpResponse:
    """Run k-means over the book in the background; its clusters appear as segments when it finishes."""
    form = ClusterForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The seed must be a whole number from 0.")
        return redirect("segment_list")
    seed, user_id = form.cleaned_data["seed"], request.user.pk
    transaction.on_commit(lambda: tasks.run_clustering.delay(seed, user_id))
    messages.success(request, f"Clustering the book with seed {seed}; the clusters appear here when it finishes.")
    return redirect("segment_list")
