"""Logging a complaint on an account: a form partial for the account pages, and a page of its own."""

import json
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from .forms_cases import ComplaintForm
from .models import Account, Interaction, InteractionKind, ServiceCase
from .roles import Role, may_log_complaint, role_required
from .selectors_cases import account_cases, case_row
from .services.cases import case_open
from .views_accounts import url_or_none

TEMPLATE = "crm/cases/new.html"


@role_required(Role.ACCOUNT_MANAGER, Role.SERVICE, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the complaint form (the partial for htmx, a page otherwise). POST: open the case.

    An htmx POST answers with a fresh form, the new case's row (swapped out of band into the account's
    case table, ``#account-cases-<pk>``) and an ``HX-Trigger: caseOpened`` event for other panels. Posted
    from the account page, a complaint being a cost-to-serve event, it also answers like a logged interaction:
    the complaint's timeline row and the figures panel's "Recomputing…" status, out of band
    (``crm/accounts/timeline.html#written``); elsewhere (the service pages) those targets do not exist.
    """
    account = get_object_or_404(Account.objects.only("id", "name", "owner_id"), pk=pk)
    if not may_log_complaint(request.user, account):
        raise PermissionDenied("Complaints on this account are logged by its account manager, service staff or admins.")
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    status = 200
    created = None
    if request.method == "POST":
        form = ComplaintForm(request.POST, account=account)
        if form.is_valid():
            case = case_open(account=account, opened_by=request.user, **form.cleaned_data)
            if not request.htmx:
                messages.success(request, f"Complaint “{case.subject}” logged.")
                return redirect("case_create", pk=account.pk)
            created = case_row(case_id=case.pk, now=timezone.now())
            form = ComplaintForm(account=account)
        else:
            status = 422
    else:
        form = ComplaintForm(account=account)
    context = {"account": account, "form": form, "created": created}
    if created is not None and _from_account_page(request, account):
        context.update(new_row=_complaint_interaction(created.case), figures_url=url_or_none("account_figures", pk))
    if created is not None:
        response = render(request, f"{TEMPLATE}#created", context)
        response["HX-Trigger"] = json.dumps({"caseOpened": {"account": account.pk, "case": created.case.pk}})
    elif partial:
        response = render(request, f"{TEMPLATE}#form", context, status=status)
    else:
        context["rows"] = account_cases(account_id=account.pk, now=timezone.now(), limit=20)
        response = render(request, TEMPLATE, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _from_account_page(request: HttpRequest, account: Account) -> bool:
    """True when the htmx request comes from ``account``'s page, which has the timeline and figures panel."""
    page = url_or_none("account_detail", account.pk)
    current = request.htmx.current_url if request.htmx else None
    return bool(page and current) and urlsplit(current).path == page


def _complaint_interaction(case: ServiceCase) -> Interaction | None:
    """The ``complaint`` interaction ``case_open`` recorded with the case (matched by the case's external id)."""
    return (
        Interaction.objects.select_related("product", "logged_by")
        .filter(account_id=case.account_id, kind=InteractionKind.COMPLAINT, external_id=case.external_id)
        .first()
    )
