"""The opportunity worklist of an account manager, one account's opportunities panel, and status changes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from crm.models import Account
from crm.roles import Role, has_role, role_required

from ..access import can_work_on
from ..models import Opportunity
from ..selectors import account_opportunities as account_opportunities_list
from ..selectors import opportunity_worklist as worklist_query
from ..services.opportunities import OpportunityError, opportunity_set_status

WORKLIST = "campaigns/opportunities/worklist.html"
PANEL = "campaigns/opportunities/account_panel.html"
PAGE_SIZE = 25
STATUS_FILTERS = {"working": ("open", "pursued"), "open": ("open",), "pursued": ("pursued",), "won": ("won",),
                  "dismissed": ("dismissed",)}


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def opportunity_worklist(request: HttpRequest) -> HttpResponse:
    """Ranked by expected margin, then tier. Account managers see their own accounts unless they pick someone."""
    owner_param = request.GET.get("owner", "")
    if owner_param == "all":
        owner_id = None
    elif owner_param.isdigit():
        owner_id = int(owner_param)
    else:
        # As the accounts list: account managers start on their own book; admins (who own none) on everybody's.
        owner_id = request.user.pk if has_role(request.user, Role.ACCOUNT_MANAGER) else None
    status = request.GET.get("status", "working")
    statuses = STATUS_FILTERS.get(status, STATUS_FILTERS["working"])
    source = request.GET.get("source", "")
    if source not in Opportunity.Source.values:
        source = ""
    page = Paginator(worklist_query(owner_id=owner_id, statuses=statuses, source=source), PAGE_SIZE).get_page(
        request.GET.get("page"))
    managers = get_user_model().objects.filter(groups__name=Role.ACCOUNT_MANAGER.value).order_by("username")
    context = {
        "page": page, "owner": "all" if owner_id is None else str(owner_id), "status": status, "source": source,
        "managers": managers, "sources": Opportunity.Source.choices,
        "statuses": [("working", "Open and pursued"), ("open", "Open"), ("pursued", "Pursued"), ("won", "Won"),
                     ("dismissed", "Dismissed")],
        "viewing_own": owner_id == request.user.pk,
    }
    if request.htmx and request.htmx.target == "worklist-results":
        return render(request, f"{WORKLIST}#results", context)
    return render(request, WORKLIST, context)


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def account_opportunities(request: HttpRequest, pk: int) -> HttpResponse:
    """The account page's panel (embedded with hx-get): margins are for account managers and admins only."""
    account = get_object_or_404(Account.objects.select_related("owner"), pk=pk)
    return render(request, PANEL, {
        "account": account, "opportunities": account_opportunities_list(account_id=account.pk),
        "can_work": can_work_on(request.user, account),
    })


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_POST
def opportunity_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Pursue, win, dismiss or reopen. Returns the updated row (worklist or account panel) for htmx."""
    opp = get_object_or_404(Opportunity.objects.select_related("account__owner"), pk=pk)
    if not can_work_on(request.user, opp.account):
        raise PermissionDenied("Only the account's manager or an admin can work its opportunities.")
    error = None
    try:
        opp = opportunity_set_status(opportunity_id=opp.pk, status=request.POST.get("status", ""), actor=request.user)
    except OpportunityError as exc:
        error = str(exc)
    where = request.POST.get("context", "worklist")
    target = request.POST.get("next")
    if not (target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())):
        target = None
    if not request.htmx:
        if error:
            from django.contrib import messages

            messages.error(request, error)
        return redirect(target or "opportunity_worklist")
    opp = Opportunity.objects.select_related("account__owner", "account__snapshot__tier", "product",
                                             "from_product").get(pk=opp.pk)
    template = f"{PANEL}#row" if where == "account" else f"{WORKLIST}#row"
    # The swapped row must look like the page's: its rank and the page's owner filter come back with the form.
    rank, owner = request.POST.get("rank", ""), request.POST.get("owner", "")
    # A refused change still answers 200: the row comes back unchanged with the reason next to it.
    return render(request, template, {
        "o": opp, "can_work": True, "error": error, "account": opp.account, "next_url": target,
        "rank": int(rank) if rank.isdigit() else None, "owner": owner, "viewing_own": owner == str(request.user.pk),
    })
