"""The account manager's pages: "My accounts" (the list) and the account page with its live figures.

Thin views: parse the request, call one selector, render one template; htmx requests get a partial of the
same template (``list.html#results``, ``detail.html#figures``).
"""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from crm.forms import ContactForm, InteractionForm, SurveyForm
from crm.models import Account
from crm.roles import Role, can_log_on, has_role, role_required
from crm.views_accounts import url_or_none

from ..selectors import accounts as selectors
from ..selectors.accounts import DEFAULT_SORT, PAGE_SIZE, PERIODS, SORTS, AccountFilters

OPEN_CASES_BADGE = "account-open-cases"
LIST_COLUMNS = [  # (sort key, numeric column, first click sorts descending)
    ("name", False, False),
    ("tier", False, False),
    ("profit", True, True),
    ("clv", True, True),
    ("ratio", True, False),
    ("last", False, True),
]


class AccountFilterForm(forms.Form):
    """The list's query string. Anything invalid is ignored rather than reported: it's a filter, not data."""

    q = forms.CharField(required=False, max_length=100, strip=True)
    owner = forms.ChoiceField(required=False, choices=[("me", "My accounts"), ("all", "All accounts")])
    tier = forms.RegexField(required=False, regex=r"^(\d{1,9}|none)$")
    industry = forms.CharField(required=False, max_length=80)
    region = forms.CharField(required=False, max_length=80)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Account.Status.choices])
    below = forms.BooleanField(required=False)
    sort = forms.ChoiceField(
        required=False, choices=[(f"{sign}{key}", key) for key in SORTS for sign in ("", "-")]
    )


def _list_filters(request: HttpRequest) -> tuple[AccountFilters, dict]:
    form = AccountFilterForm(request.GET)
    form.is_valid()
    data = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    # Account managers start on their own book; admins (who own no accounts) on everybody's.
    default_owner = "me" if has_role(request.user, Role.ACCOUNT_MANAGER) else "all"
    owner = data.get("owner") or default_owner
    filters = AccountFilters(
        owner_id=request.user.pk if owner == "me" else None,
        q=data.get("q", ""),
        tier=data.get("tier", ""),
        industry=data.get("industry", ""),
        region=data.get("region", ""),
        status=data.get("status", ""),
        below_target=bool(data.get("below")),
        sort=data.get("sort") or DEFAULT_SORT,
    )
    return filters, {"owner": owner}


def _columns(sort: str) -> list[dict]:
    current, descending = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for key, numeric, first_descending in LIST_COLUMNS:
        if key == current:
            next_sort = key if descending else f"-{key}"
            aria = "descending" if descending else "ascending"
        else:
            next_sort = f"-{key}" if first_descending else key
            aria = None
        columns.append({"key": key, "label": SORTS[key][0], "numeric": numeric, "next": next_sort, "aria_sort": aria})
    return columns


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    filters, state = _list_filters(request)
    page = Paginator(selectors.account_list(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "owner": state["owner"],
        "columns": _columns(filters.sort),
        "filtered": any([filters.q, filters.tier, filters.industry, filters.region, filters.status,
                         filters.below_target]),
        "options": selectors.filter_options(),
        "statuses": Account.Status.choices,
    }
    if request.htmx and not request.htmx.history_restore_request:
        # The results carry the filter controls out of band: the form follows whatever produced them.
        response = render(request, "profitability/accounts/list.html#results", {**context, "oob": True})
    else:
        response = render(request, "profitability/accounts/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _period(request: HttpRequest) -> str:
    period = request.GET.get("period", "lifetime")
    return period if period in PERIODS else "lifetime"


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.htmx and request.htmx.target == OPEN_CASES_BADGE:
        return _open_cases_badge(request, pk)
    try:
        data = selectors.account_page(account_id=pk, now=timezone.now(), period=_period(request))
    except Account.DoesNotExist:
        raise Http404("No such account.") from None
    account = data.account
    can_log = can_log_on(request.user, account)
    context = {
        "account": account,
        "figures": data.figures,
        "timeline": data.timeline,
        "contacts": data.contacts,
        "cases": data.cases,
        "open_cases": data.open_cases,
        "periods": PERIODS,
        "can_log": can_log,
        "interaction_form": InteractionForm() if can_log else None,
        "survey_form": SurveyForm(account=account) if can_log else None,
        "contact_form": ContactForm() if can_log else None,
        "case_form_url": url_or_none("case_create", account.pk) if can_log else None,
    }
    response = render(request, "profitability/accounts/detail.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _open_cases_badge(request: HttpRequest, pk: int) -> HttpResponse:
    # The badge refreshes itself on the complaint form's caseOpened event: the form and its response belong to
    # the CRM, which knows nothing of this page.
    account = get_object_or_404(Account.objects.only("id"), pk=pk)
    context = {"account": account, "open_cases": selectors.open_case_count(account_id=pk)}
    response = render(request, "profitability/accounts/detail.html#open_cases", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def account_figures(request: HttpRequest, pk: int) -> HttpResponse:
    """The live figures panel: polls itself every second while the snapshot is behind the history."""
    try:
        figures = selectors.account_figures(account_id=pk, now=timezone.now(), period=_period(request))
    except Account.DoesNotExist:
        raise Http404("No such account.") from None
    context = {
        "account": figures.account,
        "figures": figures,
        "periods": PERIODS,
        # A poll that finds the figures caught up says so (the status region announces it).
        "just_updated": request.GET.get("poll") == "1" and not figures.recomputing,
    }
    return render(request, "profitability/accounts/detail.html#figures", context)
