"""Entering records on an account: interactions and survey answers, and the account's timeline pages.

The account page itself belongs to the profitability app (it shows figures); it composes these pieces.
htmx requests get the form or row partials; plain requests get a small page each, so everything works
without JavaScript. After a write, the figures panel on the account page is told to refresh itself (an
out-of-band "Recomputing…" status that loads the profitability app's figures partial by URL name).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from .forms import InteractionForm, SurveyForm
from .models import Account
from .roles import Role, can_log_on, role_required
from .selectors import interaction_page
from .services import interaction_log, survey_log

UNPROCESSABLE = 422


def _account_for_logging(request: HttpRequest, pk: int) -> Account:
    account = get_object_or_404(Account.objects.select_related("owner"), pk=pk)
    if not can_log_on(request.user, account):
        owner = (account.owner.get_full_name() or account.owner.username) if account.owner else "unassigned"
        raise PermissionDenied(
            f"Only the account's manager ({owner}) or an admin can log interactions on {account.name}."
        )
    return account


def url_or_none(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


def _apply_service_errors(form, error: ValidationError) -> None:  # type: ignore[no-untyped-def]
    """Map a service's model validation errors onto the form (fields it has, else the form as a whole)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _written(request: HttpRequest, account: Account, *, template: str, form, interaction, notice: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    if not request.htmx:
        return redirect(url_or_none("account_detail", account.pk) or reverse("home"))
    return render(request, f"{template}#written", {
        "account": account,
        "form": form,
        "notice": notice,
        "new_row": interaction,
        "figures_url": url_or_none("account_figures", account.pk),
    })


def _invalid(request: HttpRequest, account: Account, *, template: str, form) -> HttpResponse:  # type: ignore[no-untyped-def]
    name = f"{template}#form" if request.htmx else template
    return render(request, name, {"account": account, "form": form}, status=UNPROCESSABLE)


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def interaction_create(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form on its own page (no-JS path). POST: log the interaction on the account."""
    account = _account_for_logging(request, pk)
    template = "crm/accounts/interaction_form.html"
    if request.method == "GET":
        return render(request, template, {"account": account, "form": InteractionForm()})
    form = InteractionForm(request.POST)
    if not form.is_valid():
        return _invalid(request, account, template=template, form=form)
    try:
        interaction = interaction_log(account=account, logged_by=request.user, **form.service_kwargs())
    except ValidationError as error:
        _apply_service_errors(form, error)
        return _invalid(request, account, template=template, form=form)
    notice = f"{interaction.get_kind_display()} logged. The figures are being recomputed."
    return _written(request, account, template=template, form=InteractionForm(), interaction=interaction,
                    notice=notice)


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def survey_create(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the survey form on its own page. POST: record the NPS answer and its ``survey`` touch."""
    account = _account_for_logging(request, pk)
    template = "crm/accounts/survey_form.html"
    if request.method == "GET":
        return render(request, template, {"account": account, "form": SurveyForm(account=account)})
    form = SurveyForm(request.POST, account=account)
    if not form.is_valid():
        return _invalid(request, account, template=template, form=form)
    try:
        response = survey_log(account=account, logged_by=request.user, **form.service_kwargs())
    except ValidationError as error:
        _apply_service_errors(form, error)
        return _invalid(request, account, template=template, form=form)
    notice = f"Survey answer (NPS {response.score}) recorded."
    return _written(request, account, template=template, form=SurveyForm(account=account),
                    interaction=response.interaction, notice=notice)


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN, Role.SERVICE)
@require_GET
def interaction_list(request: HttpRequest, pk: int) -> HttpResponse:
    """One page of the account's timeline: rows for htmx's load-more, a plain page otherwise."""
    account = get_object_or_404(Account, pk=pk)
    try:
        number = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        number = 1
    page = interaction_page(account_id=account.pk, page=number)
    context = {"account": account, "timeline": page, "detail_url": url_or_none("account_detail", account.pk)}
    if request.htmx:
        return render(request, "crm/accounts/timeline.html#rows", context)
    return render(request, "crm/accounts/interactions.html", context)
