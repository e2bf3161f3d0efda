"""Loyalty pages: an account's loyalty status (embedded in the account pages), enrolment, redemption and
adjustment; the programs admins configure, with a preview of eligible accounts, and their results."""

from __future__ import annotations

from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models import Account
from crm.reauth import reauth_required
from crm.roles import Role, can_see_financials, has_role, role_required

from .. import selectors, tasks
from ..access import can_work_on
from ..forms import AdjustForm, EnrolForm, LoyaltyProgramForm, RedeemForm, RewardFormSet, RuleFormSet
from ..models import Enrolment, LoyaltyProgram
from ..services import loyalty

PANEL = "campaigns/loyalty/account_panel.html"
LIST = "campaigns/loyalty/list.html"
FORM = "campaigns/loyalty/form.html"
DETAIL = "campaigns/loyalty/detail.html"
UNPROCESSABLE = 422


# --- one account -------------------------------------------------------------------------------------------


def _panel(request: HttpRequest, account: Account, *, notice: str = "", error: str = "",
           status: int = 200) -> HttpResponse:
    now = timezone.now()
    status_ = selectors.account_loyalty(account=account, now=now)
    can_work = can_work_on(request.user, account)
    return render(request, PANEL, {
        "account": account, "loyalty": status_, "can_work": can_work,
        "can_adjust": has_role(request.user, Role.ADMIN), "notice": notice, "error": error,
        "enrol_form": EnrolForm(programs=LoyaltyProgram.objects.filter(pk__in=[p.pk for p in status_.joinable]))
        if can_work and status_.joinable else None,
    }, status=status)


@role_required(Role.ACCOUNT_MANAGER, Role.SERVICE, Role.ADMIN)
@require_GET
def account_loyalty(request: HttpRequest, pk: int) -> HttpResponse:
    """Programs, points balance, recent entries, running upgrades. No money figures: service staff see it too."""
    return _panel(request, get_object_or_404(Account.objects.select_related("owner"), pk=pk))


def _workable_account(request: HttpRequest, pk: int) -> Account:
    account = get_object_or_404(Account.objects.select_related("owner"), pk=pk)
    if not can_work_on(request.user, account):
        raise PermissionDenied("Only the account's manager or an admin can enrol it or redeem its points.")
    return account


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_POST
def loyalty_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    account = _workable_account(request, pk)
    form = EnrolForm(request.POST)
    if not form.is_valid():
        return _respond(request, account, error="Choose a program to enrol in.")
    try:
        loyalty.enrolment_create(program=form.cleaned_data["program"], account=account, actor=request.user)
    except loyalty.LoyaltyError as exc:
        return _respond(request, account, error=str(exc))
    return _respond(request, account, notice=f"Enrolled in {form.cleaned_data['program'].name}; points for "
                                               "interactions since today are being added.")


def _enrolment(request: HttpRequest, pk: int) -> Enrolment:
    enrolment = get_object_or_404(Enrolment.objects.select_related("account__owner", "program"), pk=pk)
    if not can_work_on(request.user, enrolment.account):
        raise PermissionDenied("Only the account's manager or an admin can redeem its points.")
    return enrolment


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_POST
def loyalty_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _enrolment(request, pk)
    form = RedeemForm(request.POST, enrolment=enrolment)
    if not form.is_valid():
        # A browser posts no reward when every option is disabled for lack of points: say that, not "choose".
        shortfall = selectors.enrolment_reward_shortfall(enrolment)
        return _respond(request, enrolment.account, error=f"Not enough points. {shortfall}" if shortfall
                        else "Choose a reward of this program.")
    reward = form.cleaned_data["reward"]
    try:
        loyalty.points_redeem(enrolment_id=enrolment.pk, reward_id=reward.pk, actor=request.user)
    except loyalty.LoyaltyError as exc:
        return _respond(request, enrolment.account, error=str(exc))
    return _respond(request, enrolment.account, notice=f"Redeemed {reward.name} for {reward.point_cost:,} points.")


@role_required(Role.ADMIN)
@require_POST
def loyalty_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = get_object_or_404(Enrolment.objects.select_related("account__owner", "program"), pk=pk)
    form = AdjustForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return _respond(request, enrolment.account, error=f"Adjustment not saved: {errors}")
    try:
        loyalty.points_adjust(enrolment_id=enrolment.pk, points=form.cleaned_data["points"],
                              reason=form.cleaned_data["reason"], actor=request.user)
    except loyalty.LoyaltyError as exc:
        return _respond(request, enrolment.account, error=str(exc))
    return _respond(request, enrolment.account, notice=f"Adjusted by {form.cleaned_data['points']:+,} points.")


def _respond(request: HttpRequest, account: Account, *, notice: str = "", error: str = "") -> HttpResponse:
    """htmx: the refreshed panel with the outcome in it. Without JavaScript: back to the account page."""
    if request.htmx:
        # 200 even when refused: the panel carries the reason, and the page embedding it needs no 4xx handling.
        return _panel(request, account, notice=notice, error=error)
    (messages.error if error else messages.success)(request, error or notice)
    return redirect("account_detail", account.pk) if can_see_financials(request.user) else redirect("home")


# --- programs ----------------------------------------------------------------------------------------------


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def loyalty_program_list(request: HttpRequest) -> HttpResponse:
    from django.db.models import Count

    programs = LoyaltyProgram.objects.annotate(members=Count("enrolments")).prefetch_related(
        "eligible_tiers", "eligible_segments", "rules", "rewards").order_by("status", "name")
    return render(request, LIST, {"programs": programs, "tab": "loyalty"})


def _form_context(form, rules, rewards, *, program=None, preview=None) -> dict:  # type: ignore[no-untyped-def]
    return {"form": form, "rules": rules, "rewards": rewards, "program": program, "preview": preview, "tab": "loyalty"}


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def loyalty_program_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, LoyaltyProgram(starts_on=timezone.now().astimezone(UTC).date()))


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def loyalty_program_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(LoyaltyProgram, pk=pk))


def _edit(request: HttpRequest, program: LoyaltyProgram) -> HttpResponse:
    if request.method == "GET":
        form = LoyaltyProgramForm(instance=program)
        rules = RuleFormSet(instance=program, prefix="rules")
        rewards = RewardFormSet(instance=program, prefix="rewards")
        return render(request, FORM, _form_context(form, rules, rewards, program=program))
    form = LoyaltyProgramForm(request.POST, instance=program)
    rules = RuleFormSet(request.POST, instance=program, prefix="rules")
    rewards = RewardFormSet(request.POST, instance=program, prefix="rewards")
    if form.is_valid() and rules.is_valid() and rewards.is_valid():
        saved = loyalty.program_save(form=form, rules=rules, rewards=rewards, actor=request.user)
        messages.success(request, f"{saved.name} saved.")
        return redirect("loyalty_program_detail", saved.pk)
    return render(request, FORM, _form_context(form, rules, rewards, program=program), status=UNPROCESSABLE)


@role_required(Role.ADMIN)
@require_POST
def loyalty_program_preview(request: HttpRequest) -> HttpResponse:
    """Which accounts the unsaved eligibility rules select. Writes nothing."""
    program_id = request.POST.get("program_id")
    program = get_object_or_404(LoyaltyProgram, pk=program_id) if program_id and program_id.isdigit() else None
    form = LoyaltyProgramForm(request.POST, instance=program or LoyaltyProgram())
    preview = None
    if form.is_valid():
        data = form.cleaned_data
        accounts = selectors.eligible_accounts(
            tier_ids=[t.pk for t in data["eligible_tiers"]], segments=list(data["eligible_segments"]),
            min_clv=data["min_clv"], today=timezone.now().astimezone(UTC).date())
        preview = selectors.eligibility_preview(accounts, program=program)
    context = {"preview": preview, "form": form, "program": program}
    if request.htmx:
        return render(request, f"{FORM}#preview", context)
    rules = RuleFormSet(request.POST, instance=program or LoyaltyProgram(), prefix="rules")
    rewards = RewardFormSet(request.POST, instance=program or LoyaltyProgram(), prefix="rewards")
    return render(request, FORM, _form_context(form, rules, rewards, program=program, preview=preview))


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def loyalty_program_detail(request: HttpRequest, pk: int) -> HttpResponse:
    program = get_object_or_404(LoyaltyProgram.objects.prefetch_related(
        "eligible_tiers", "eligible_segments", "rules", "rewards__upgrade_tier"), pk=pk)
    now = timezone.now()
    return render(request, DETAIL, {
        "program": program, "results": selectors.program_results(program=program, now=now), "tab": "loyalty",
        "currency": settings.TIERWISE_CURRENCY, "running": loyalty.program_is_running(
            program, today=now.astimezone(UTC).date()),
        "engagement_days": selectors.ENGAGEMENT_DAYS, "comparison_days": selectors.COMPARISON_DAYS,
        "min_after_days": selectors.MIN_AFTER_DAYS,
    })


@role_required(Role.ADMIN)
@require_POST
@reauth_required
def loyalty_program_enrol_all(request: HttpRequest, pk: int) -> HttpResponse:
    program = get_object_or_404(LoyaltyProgram, pk=pk)
    if not loyalty.program_is_running(program, today=timezone.now().astimezone(UTC).date()):
        messages.error(request, f"{program.name} is not running, so nobody can join it now.")
    else:
        from django.db import transaction

        transaction.on_commit(lambda: tasks.auto_enrol.delay(program.pk))
        messages.success(request, "Enrolling every eligible account; the counts update as it finishes.")
    return redirect("loyalty_program_detail", program.pk)
