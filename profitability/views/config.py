"""Admin configuration pages: tier bands and service levels, cost rates, CLV settings, and their history.

Admins only. Each page is one template; htmx requests get a named partial of the same template. Previews
are POSTs (they carry the unsaved form) that change nothing; saves write through
``profitability.configuration`` and redirect with a message (a recompute runs after commit).
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.reauth import reauth_required
from crm.roles import Role, role_required
from crm.templatetags.tierwise import day, money

from .. import configuration
from ..configuration import ConfigurationError
from ..forms import ClvSettingsForm, CostRateForm, TierFormSet, add_spec_errors, tier_formset_initial
from ..models import ClvSettings, Tier
from ..selectors import config as selectors

TIERS = "profitability/config/tiers.html"
COST_RATES = "profitability/config/cost_rates.html"
CLV = "profitability/config/clv.html"
HISTORY = "profitability/config/history.html"

RECOMPUTE_NOTE = "A recompute of every account's figures and tier has started; pages update as it finishes."


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def _errors_on_formset(formset: TierFormSet, exc: ConfigurationError) -> None:
    kept = formset.kept_forms()
    for error in exc.errors:
        if error.index is None or error.index >= len(kept):
            formset._non_form_errors.append(error.message)  # the formset's own error list
        else:
            add_spec_errors(kept[error.index], [error])


# --- tiers -------------------------------------------------------------------------------------------------


def _tiers_context(
    formset: TierFormSet, preview: configuration.TierPreview | None = None, *, settings: ClvSettings | None = None,
    **extra: object,
) -> dict:
    settings = settings or ClvSettings.current()
    saved = selectors.saved_tiers()
    for form in formset.forms:
        try:
            tier_id = int(form["tier_id"].value())
        except (TypeError, ValueError):
            tier_id = None
        # the saved name is the row's legend while its name field is blanked
        form.stored_name, form.account_count = saved.get(tier_id, (None, None))
    return {
        "tab": "tiers",
        "formset": formset,
        "preview": preview,
        "metric_label": settings.get_ranking_metric_display(),
        "pending": selectors.recompute_pending(),
        **extra,
    }


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def tiers(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        formset = TierFormSet(initial=tier_formset_initial(Tier.objects.order_by("position")))
        return render(request, TIERS, _tiers_context(formset))

    if request.POST.get("action") == "add":
        # Re-show what was typed with one more (blank, optional) row to fill in.
        data = request.POST.copy()
        try:
            total = int(data.get("form-TOTAL_FORMS", ""))
        except ValueError:  # a broken management form: the formset reports it
            total = None
        if total is not None:
            data["form-TOTAL_FORMS"] = str(min(max(total, 0) + 1, TierFormSet.max_num))
        formset = TierFormSet(data)
        if total is not None and 0 <= total < len(formset.forms):
            formset.forms[total].fields["name"].widget.attrs["autofocus"] = True
        return render(request, TIERS, _tiers_context(formset))

    formset = TierFormSet(request.POST)
    if formset.is_valid():
        try:
            result = configuration.tiers_save(
                tiers=formset.specs(), remove=formset.removed_ids(), actor=request.user
            )
        except ConfigurationError as exc:
            _errors_on_formset(formset, exc)
        else:
            if result.anything:
                messages.success(request, f"Tiers saved ({_tier_summary(result)}). {RECOMPUTE_NOTE}")
            else:
                messages.info(request, "Nothing changed, so nothing was saved.")
            return redirect("config_tiers")
    return render(request, TIERS, _tiers_context(formset))


def _tier_summary(result: configuration.TierSaveResult) -> str:
    parts = [f"{n} {word}" for n, word in ((result.changed, "changed"), (result.created, "added"),
                                           (result.removed, "removed")) if n]
    return ", ".join(parts)


@role_required(Role.ADMIN)
@require_POST
def tiers_preview(request: HttpRequest) -> HttpResponse:
    """What the unsaved bands would do: accounts per tier and the accounts that would move. Writes nothing."""
    formset = TierFormSet(request.POST)
    settings = ClvSettings.current()
    preview = None
    if formset.is_valid():
        try:
            preview = configuration.tiers_preview(
                tiers=formset.specs(), remove=formset.removed_ids(), metric=settings.ranking_metric
            )
        except ConfigurationError as exc:
            _errors_on_formset(formset, exc)
    context = _tiers_context(formset, preview, settings=settings, previewed=True)
    if request.htmx:  # the form and the preview together, so errors of an earlier try disappear
        return render(request, f"{TIERS}#tier-editor", context)
    return render(request, TIERS, context)


# --- cost rates --------------------------------------------------------------------------------------------


def _rates_context(form: CostRateForm, preview: configuration.CostRatePreview | None = None,
                   previewed: bool = False) -> dict:
    return {"tab": "cost_rates", "form": form, "preview": preview, "previewed": previewed,
            "overview": selectors.cost_rate_overview(today=_today()), "pending": selectors.recompute_pending()}


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def cost_rates(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = CostRateForm(initial={"effective_from": _today() + timedelta(days=1), "basis": "interaction"})
        return render(request, COST_RATES, _rates_context(form))
    form = CostRateForm(request.POST)
    if form.is_valid():
        try:
            rate = configuration.cost_rate_create(spec=form.spec(), actor=request.user)
        except ConfigurationError as exc:
            add_spec_errors(form, exc.errors)
        else:
            per = " per unit" if rate.per_unit else ""
            messages.success(request, f"Added the rate {rate.activity}: {money(rate.rate, 2)}{per} from "
                                      f"{day(rate.effective_from)}. {RECOMPUTE_NOTE}")
            return redirect("config_cost_rates")
    return render(request, COST_RATES, _rates_context(form))


@role_required(Role.ADMIN)
@require_POST
def cost_rate_preview(request: HttpRequest) -> HttpResponse:
    """The change in cost-to-serve a new rate would cause. Writes nothing."""
    form = CostRateForm(request.POST)
    preview = None
    if form.is_valid():
        errors = configuration.cost_rate_errors(form.spec())
        if errors:
            add_spec_errors(form, errors)
        else:
            preview = configuration.cost_rate_preview(spec=form.spec(), now=timezone.now())
    context = _rates_context(form, preview, previewed=True)
    if request.htmx:  # the form and the preview together, so errors of an earlier try disappear
        return render(request, f"{COST_RATES}#rate-editor", context)
    return render(request, COST_RATES, context)


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def cost_rate_delete(request: HttpRequest, rate_id: int) -> HttpResponse:
    try:
        configuration.cost_rate_delete(rate_id=rate_id, actor=request.user, today=_today())
    except ConfigurationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted the scheduled rate. {RECOMPUTE_NOTE}")
    return redirect("config_cost_rates")


# --- CLV ---------------------------------------------------------------------------------------------------


def _clv_context(form: ClvSettingsForm | None, preview: configuration.TierPreview | None = None,
                 previewed: bool = False) -> dict:
    panel = selectors.clv_panel()
    if form is None:
        form = ClvSettingsForm(initial=ClvSettingsForm.initial_from(panel.settings))
    return {"tab": "clv", "form": form, "preview": preview, "previewed": previewed, "panel": panel,
            "pending": selectors.recompute_pending()}


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def clv(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, CLV, _clv_context(None))
    form = ClvSettingsForm(request.POST)
    if form.is_valid():
        try:
            changed = configuration.clv_settings_save(spec=form.spec(), actor=request.user)
        except ConfigurationError as exc:
            add_spec_errors(form, exc.errors)
        else:
            if changed:
                messages.success(request, f"CLV settings saved. {RECOMPUTE_NOTE}")
            else:
                messages.info(request, "Nothing changed, so nothing was saved.")
            return redirect("config_clv")
    return render(request, CLV, _clv_context(form))


@role_required(Role.ADMIN)
@require_POST
def clv_preview(request: HttpRequest) -> HttpResponse:
    """How many accounts would change tier under the submitted ranking metric (current bands). Writes nothing."""
    form = ClvSettingsForm(request.POST)
    preview = None
    if form.is_valid():
        preview = configuration.tiers_preview(
            tiers=configuration.tier_specs_current(), metric=form.cleaned_data["ranking_metric"]
        )
    context = _clv_context(form, preview, previewed=True)
    if request.htmx:  # the form and the preview together, so errors of an earlier try disappear
        return render(request, f"{CLV}#clv-editor", context)
    return render(request, CLV, context)


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def clv_refit(request: HttpRequest) -> HttpResponse:
    configuration.clv_refit_request()
    messages.success(request, "Refitting the CLV models has started; a recompute with the new parameters follows.")
    return redirect("config_clv")


# --- history -----------------------------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    source = request.GET.get("model") or None
    if source not in selectors.HISTORY_SOURCES:
        source = None
    page = selectors.config_history(source=source, page=request.GET.get("page") or 1)
    context = {"tab": "history", "page": page, "source": source,
               "sources": [(key, label) for key, (_, label) in selectors.HISTORY_SOURCES.items()]}
    if request.htmx and not request.htmx.history_restore_request:  # a restore after Back needs the whole page
        return render(request, f"{HISTORY}#history-list", context)
    return render(request, HISTORY, context)
