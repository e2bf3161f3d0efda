"""Service staff's pages: the tier-ordered case queue with its inline actions, account lookup, and an
account as service sees it (tier, entitlements, contacts, cases, recent interactions — never money).

Queue actions are htmx POSTs answering with the updated row (the ``case_row`` partial of the queue page);
without JavaScript the same forms post normally and come back to the queue.
"""

from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from crm.forms_messages import NamedErrorsMixin
from crm.models import Account, InteractionChannel, ServiceCase, Severity
from crm.roles import Role, role_required
from crm.services.cases import CaseActionRefused, case_assign, case_first_response, case_set_status

from ..selectors.service import (
    ASSIGNEE_CHOICES,
    MIN_QUERY,
    NO_TIER,
    QueueFilters,
    account_lookup,
    queue_page,
    queue_row,
    queue_total,
    service_account,
    tiers_by_id,
)

SERVICE_ROLES = (Role.SERVICE, Role.ADMIN)
QUEUE = "profitability/service/queue.html"


# --- forms ------------------------------------------------------------------------------------------------


class QueueFilterForm(forms.Form):
    tier = forms.ChoiceField(required=False)
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *Severity.choices])
    assignee = forms.ChoiceField(required=False, choices=ASSIGNEE_CHOICES, label="Assigned to")

    def __init__(self, *args, tiers, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("auto_id", "queue_%s")
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "Every tier"), *((str(t.pk), t.name) for t in tiers), (NO_TIER, "No tier")]

    def filters(self) -> QueueFilters:
        """The valid filters; an invalid value (a stale tier id, a typo in the URL) just filters nothing."""
        self.is_valid()
        data = {name: self.cleaned_data.get(name, "") for name in ("tier", "severity", "assignee")}
        return QueueFilters(**data)


class StatusForm(NamedErrorsMixin, forms.Form):
    status = forms.ChoiceField(choices=ServiceCase.Status.choices)


class FirstResponseForm(NamedErrorsMixin, forms.Form):
    """Every message names its field ("Enter the message to the customer."), with or without htmx."""

    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, label="Message to the customer"
    )
    channel = forms.ChoiceField(
        choices=[(InteractionChannel.EMAIL, "Email"), (InteractionChannel.PHONE, "Phone")],
        initial=InteractionChannel.EMAIL, label="Sent by",
        error_messages={"required": "Choose how the response was sent: email or phone.",
                        "invalid_choice": "Choose how the response was sent: email or phone."},
    )


def _respond_form(case_id: int, data=None) -> FirstResponseForm:  # type: ignore[no-untyped-def]
    return FirstResponseForm(data, auto_id=f"respond{case_id}_%s")


def _partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- the queue --------------------------------------------------------------------------------------------


@role_required(*SERVICE_ROLES)
@require_GET
def service_queue(request: HttpRequest) -> HttpResponse:
    tiers = tiers_by_id()
    form = QueueFilterForm(request.GET, tiers=tiers.values())
    filters = form.filters()
    queue = queue_page(
        filters=filters, user_id=request.user.pk, page_number=request.GET.get("page"), now=timezone.now(),
        tiers=tiers,
    )
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "queue": queue,
        "form": form,
        "filtered": any((filters.tier, filters.severity, filters.assignee)),
        "query": params.urlencode(),
        "next": request.get_full_path(),
        "status_choices": ServiceCase.Status.choices,
    }
    if _partial(request):
        # The table carries the filter controls out of band: the form follows whatever produced it.
        return _vary(render(request, f"{QUEUE}#table", {**context, "oob": True}))
    return _vary(render(request, QUEUE, context))


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("service_queue")


def _queue_total(request: HttpRequest, next_url: str) -> int:
    """The count of the queue the action came from, under the filters of its URL (the form's ``next``)."""
    tiers = tiers_by_id()
    filters = QueueFilterForm(QueryDict(urlsplit(next_url).query), tiers=tiers.values()).filters()
    return queue_total(filters=filters, user_id=request.user.pk, now=timezone.now())


def _row_response(
    request: HttpRequest,
    case_id: int,
    *,
    message: str = "",
    error: str = "",
    status: int = 200,
    respond_form: FirstResponseForm | None = None,
) -> HttpResponse:
    """The updated queue row for htmx, with the queue's new count out of band (resolving, reopening or assigning
    a case changes it); a redirect back to the queue (with the message) otherwise."""
    if not request.htmx:
        if error or (respond_form is not None and respond_form.errors):
            # The form's own messages name their field ("Enter the message to the customer.").
            messages.error(request, error or " ".join(m for ms in respond_form.errors.values() for m in ms))
        elif message:
            messages.success(request, message)
        return redirect(_next_url(request))
    next_url = _next_url(request)
    context = {
        "item": queue_row(case_id=case_id, now=timezone.now()),
        "message": message,
        "error": error,
        "respond_form": respond_form or _respond_form(case_id),
        "status_choices": ServiceCase.Status.choices,
        "next": next_url,
        "total": _queue_total(request, next_url),
    }
    return _vary(render(request, f"{QUEUE}#case_row", context, status=status))


def _case(pk: int) -> ServiceCase:
    return get_object_or_404(ServiceCase.objects.only("id", "account_id", "subject", "status"), pk=pk)


@role_required(*SERVICE_ROLES)
@require_POST
def service_case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    try:
        case_assign(case=case, user=request.user)
    except CaseActionRefused as refused:
        return _row_response(request, pk, error=str(refused), status=409)
    return _row_response(request, pk, message=f"“{case.subject}” is assigned to you.")


@role_required(*SERVICE_ROLES)
@require_POST
def service_case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _row_response(request, pk, error="Choose one of the statuses.", status=422)
    status = form.cleaned_data["status"]
    try:
        case_set_status(case=case, status=status, by=request.user)
    except CaseActionRefused as refused:
        return _row_response(request, pk, error=str(refused), status=409)
    label = ServiceCase.Status(status).label.lower()
    return _row_response(request, pk, message=f"Status set to {label}.")


@role_required(*SERVICE_ROLES)
@require_POST
def service_case_respond(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    form = _respond_form(pk, request.POST)
    if not form.is_valid():
        return _row_response(request, pk, respond_form=form, status=422)
    try:
        case_first_response(
            case=case, by=request.user, message=form.cleaned_data["message"], channel=form.cleaned_data["channel"]
        )
    except CaseActionRefused as refused:
        return _row_response(request, pk, error=str(refused), status=409)
    return _row_response(request, pk, message="First response recorded.")


# --- lookup and the account -------------------------------------------------------------------------------


@role_required(*SERVICE_ROLES)
@require_GET
def account_lookup_view(request: HttpRequest) -> HttpResponse:
    result = account_lookup(query=request.GET.get("q", "")[:200], now=timezone.now())
    template = "profitability/service/lookup.html"
    context = {"result": result, "min_query": MIN_QUERY}
    return _vary(render(request, f"{template}#results" if _partial(request) else template, context))


@role_required(*SERVICE_ROLES)
@require_GET
def service_account_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        view = service_account(account_id=pk, now=timezone.now())
    except Account.DoesNotExist as missing:
        raise Http404("No such account.") from missing
    return render(request, "profitability/service/service_account.html", {"view": view})
