"""Analytics pages for account managers and admins (service staff never see them): the KPI dashboard, whale
curve, segment ranking, channels and budget advice, funnel, lead scoring, KPI check and what-if, plus the
admins' KPI targets.

Thin views: parse the query string with a form, call one selector, render one template; htmx requests get a
named partial of the same template. Every chart's numbers are on the page as a table and downloadable as
CSV (``analytics_csv``). Reads only; the two writes (targets, visibility, "refresh now") are admin POSTs.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.reauth import reauth_required
from crm.roles import Role, has_role, role_required

from .. import analytics as math
from .. import services_analytics
from ..forms_analytics import (
    ChannelsFilter,
    FunnelFilter,
    KpiTargetForm,
    LeadsFilter,
    SegmentsFilter,
    WhatIfForm,
)
from ..models_analytics import KpiTarget
from ..selectors import analytics as selectors

ANALYTICS_ROLES = (Role.ACCOUNT_MANAGER, Role.ADMIN)
T = "profitability/analytics/"


def _page(request: HttpRequest, template: str, partial: str, context: dict) -> HttpResponse:
    if "refresh" not in context:
        context["refresh"] = selectors.refresh_info()
    context["is_analytics_admin"] = has_role(request.user, Role.ADMIN)
    # A history restore (Back past htmx's cache) needs the whole page, header and tabs included.
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        return render(request, f"{T}{template}#{partial}", context)
    return render(request, f"{T}{template}", context)


def _clean(form_class, request: HttpRequest) -> dict:  # type: ignore[no-untyped-def]
    """A filter's valid fields; anything invalid is ignored (it's a filter, not data)."""
    form = form_class(request.GET)
    form.is_valid()
    return {k: v for k, v in form.cleaned_data.items() if k not in form.errors}


def _period(requested: str | None) -> str:
    keys = [p.key for p in selectors.period_options()]
    if requested in keys:
        return requested
    return "ttm" if "ttm" in keys else (keys[0] if keys else "all")


# --- pages --------------------------------------------------------------------------------------------------------


@role_required(*ANALYTICS_ROLES)
@require_GET
def kpi_dashboard(request: HttpRequest) -> HttpResponse:
    selected = request.GET.get("kpi") if request.GET.get("kpi") in math.KPI_BY_KEY else None
    dashboard = selectors.kpi_dashboard(selected=selected)
    return _page(request, "dashboard.html", "trend", {"tab": "dashboard", "d": dashboard,
                                                        "refresh": dashboard.refresh})


@role_required(*ANALYTICS_ROLES)
@require_GET
def whale_curve(request: HttpRequest) -> HttpResponse:
    page = selectors.whale_page(page=request.GET.get("page") or 1)
    return _page(request, "whale.html", "loss-makers", {"tab": "whale", "w": page})


@role_required(*ANALYTICS_ROLES)
@require_GET
def segments(request: HttpRequest) -> HttpResponse:
    data = _clean(SegmentsFilter, request)
    page = selectors.segments_page(dimension=data.get("dimension") or "industry", sort=data.get("sort") or "profit")
    return _page(request, "segments.html", "ranking", {
        "tab": "segments", "s": page, "tabs": selectors.SEGMENT_TABS, "sorts": selectors.SEGMENT_SORTS})


@role_required(*ANALYTICS_ROLES)
@require_GET
def channels(request: HttpRequest) -> HttpResponse:
    data = _clean(ChannelsFilter, request)
    page = selectors.channels_page(period=_period(data.get("period")), shift_pct=data.get("shift") or 20)
    return _page(request, "channels.html", "channels", {
        "tab": "channels", "c": page, "shift_choices": selectors.SHIFT_CHOICES})


@role_required(*ANALYTICS_ROLES)
@require_GET
def funnel(request: HttpRequest) -> HttpResponse:
    data = _clean(FunnelFilter, request)
    page = selectors.funnel_page(period=_period(data.get("period")), channel_id=data.get("channel"))
    return _page(request, "funnel.html", "funnel", {"tab": "funnel", "f": page})


@role_required(*ANALYTICS_ROLES)
@require_GET
def leads(request: HttpRequest) -> HttpResponse:
    data = _clean(LeadsFilter, request)
    page = selectors.leads_page(stage=data.get("stage") or "", channel_id=data.get("channel"),
                                page=request.GET.get("page") or 1)
    return _page(request, "leads.html", "leads", {"tab": "leads", "l": page})


@role_required(*ANALYTICS_ROLES)
@require_GET
def kpi_check(request: HttpRequest) -> HttpResponse:
    check = selectors.kpi_check()
    return _page(request, "kpi_check.html", "check", {
        "tab": "kpi_check", "k": check, "verdicts": selectors.VERDICTS, "refresh": check.refresh})


@role_required(*ANALYTICS_ROLES)
@require_GET
def what_if(request: HttpRequest) -> HttpResponse:
    """Pick an account (search) or a segment, then pull the levers; GET only — nothing is written."""
    form = WhatIfForm(request.GET or None)
    q = (request.GET.get("q") or "").strip()[:100]
    outcome = account_id = None
    if form.is_bound and form.is_valid():
        scenario = form.scenario()
        if form.cleaned_data.get("account"):
            account_id = form.cleaned_data["account"]
            outcome = selectors.account_what_if(account_id=account_id, scenario=scenario)
            if outcome is None:
                raise Http404("No such account")
        elif form.cleaned_data.get("segment"):
            dimension, value = form.cleaned_data["segment"]
            outcome = selectors.segment_what_if(dimension=dimension, value=value, scenario=scenario)
            if outcome is None:
                raise Http404("No such segment")
    return _page(request, "what_if.html", "result", {
        "tab": "what_if", "form": form, "outcome": outcome, "account_id": account_id, "q": q,
        "matches": selectors.account_matches(q), "segment_choices": selectors.segment_choices(),
    })


# --- admin: targets, visibility, refresh ------------------------------------------------------------------------------


def _target_initial(kpi: str) -> dict:
    row = KpiTarget.objects.filter(kpi=kpi).first()
    if row is None:
        default = selectors.DEFAULT_TARGETS.get(kpi)
        return {"target": default, "tolerance_pct": 10, "shown": True}
    return {"target": row.target, "benchmark": row.benchmark, "benchmark_source": row.benchmark_source,
            "tolerance_pct": row.tolerance_pct, "shown": row.shown}


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def targets(request: HttpRequest) -> HttpResponse:
    key = request.POST.get("kpi") if request.method == "POST" else request.GET.get("kpi")
    kpi = math.KPI_BY_KEY.get(key or "", math.KPIS[0])
    if request.method == "POST":
        form = KpiTargetForm(request.POST, kpi=kpi)
        if form.is_valid():
            services_analytics.kpi_target_save(kpi=kpi.key, user=request.user, **form.cleaned_data)
            messages.success(request, f"{kpi.label}: target and benchmark saved.")
            return redirect(f"{reverse('analytics_targets')}?kpi={kpi.key}")
        status = 422
    else:
        form = KpiTargetForm(initial=_target_initial(kpi.key), kpi=kpi)
        status = 200
    response = _page(request, "targets.html", "form", {
        "tab": "targets", "kpi": kpi, "form": form, "cards": selectors.targets_overview(),
        "history": selectors.target_history(),
    })
    response.status_code = status
    return response


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def kpi_visibility(request: HttpRequest) -> HttpResponse:
    kpi = math.KPI_BY_KEY.get(request.POST.get("kpi") or "")
    if kpi is None:
        raise Http404("No such KPI")
    initial = _target_initial(kpi.key)
    services_analytics.kpi_target_save(
        kpi=kpi.key, target=initial.get("target"), benchmark=initial.get("benchmark"),
        benchmark_source=initial.get("benchmark_source", ""), tolerance_pct=initial["tolerance_pct"],
        shown=request.POST.get("shown") == "1", user=request.user,
    )
    shown = request.POST.get("shown") == "1"
    messages.success(request, f"{kpi.label} is {'back on' if shown else 'no longer on'} the dashboard.")
    return redirect("analytics_kpi_check")


@role_required(Role.ADMIN)
@require_POST
def refresh_now(request: HttpRequest) -> HttpResponse:
    services_analytics.analytics_refresh_request()
    messages.success(request, "An analytics refresh has been queued; the figures update when it finishes.")
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("kpi_dashboard")
    return redirect(back)


# --- CSV downloads -------------------------------------------------------------------------------------------------


def _csv_source(name: str, request: HttpRequest):  # type: ignore[no-untyped-def]
    get = request.GET
    if name == "kpis":
        return selectors.kpi_csv_rows()
    if name == "kpi-check":
        return selectors.kpi_check_csv_rows()
    if name == "whale-curve":
        return selectors.whale_csv_rows()
    if name == "loss-makers":
        return selectors.loss_makers_csv_rows()
    if name == "segments":
        data = _clean(SegmentsFilter, request)
        return selectors.segments_csv_rows(dimension=data.get("dimension") or "industry",
                                           sort=data.get("sort") or "profit")
    if name == "channels":
        return selectors.channels_csv_rows(period=_period(get.get("period")))
    if name == "reallocation":
        data = _clean(ChannelsFilter, request)
        return selectors.reallocation_csv_rows(period=_period(data.get("period")), shift_pct=data.get("shift") or 20)
    if name == "funnel":
        return selectors.funnel_csv_rows(period=_period(get.get("period")))
    if name == "leads":
        data = _clean(LeadsFilter, request)
        return selectors.leads_csv_rows(stage=data.get("stage") or "", channel_id=data.get("channel"))
    raise Http404("No such download")


@role_required(*ANALYTICS_ROLES)
@require_GET
def analytics_csv(request: HttpRequest, name: str) -> StreamingHttpResponse:
    header, rows = _csv_source(name, request)
    response = StreamingHttpResponse(selectors.csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(UTC).strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="tierwise-{name}-{stamp}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
