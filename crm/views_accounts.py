"""Entering records on an account: interactions and survey answers, correcting and deleting interactions,
the account itself and its contacts, and the account's timeline pages.

The account page itself belongs to the profitability app (it shows figures); it composes these pieces.
htmx requests get the form or row partials; plain requests get a small page each, so everything works
without JavaScript. After a write to the interactions, the figures panel on the account page is told to
refresh itself (an out-of-band "Recomputing…" status that loads the profitability app's figures partial by
URL name). Every view that changes something checks, on GET and POST alike, that the user may change this
account (its manager or an admin: :func:`crm.roles.can_log_on`).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, retarget

from .forms import AccountForm, ContactForm, InteractionForm, SurveyForm
from .models import Account, Contact, Interaction
from .roles import Role, can_log_on, has_role, role_required
from .selectors import account_contacts, interaction_page
from .services import (
    InteractionNotEditable,
    account_create,
    account_update,
    contact_create,
    contact_delete,
    contact_update,
    interaction_assert_editable,
    interaction_delete,
    interaction_log,
    interaction_update,
    survey_log,
)

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
        return redirect(_account_url(account))
    return render(request, f"{template}#written", {
        "account": account,
        "form": form,
        "notice": notice,
        "new_row": interaction,
        "can_log": True,  # the writer may change the row they just logged
        "figures_url": url_or_none("account_figures", account.pk),
    })


def _account_url(account: Account) -> str:
    return url_or_none("account_detail", account.pk) or reverse("home")


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
    context = {"account": account, "timeline": page, "detail_url": url_or_none("account_detail", account.pk),
               "can_log": can_log_on(request.user, account)}
    if request.htmx:
        return render(request, "crm/accounts/timeline.html#rows", context)
    return render(request, "crm/accounts/interactions.html", context)


# --- changing an account's records: who may ------------------------------------------------------------------

EDITORS = (Role.ACCOUNT_MANAGER, Role.ADMIN)


def _owner_name(account: Account) -> str:
    return (account.owner.get_full_name() or account.owner.username) if account.owner else "unassigned"


def _account_for_change(request: HttpRequest, pk: int, *, doing: str) -> Account:
    """The account, if the user may change it and its records (its manager or an admin), else 403 naming the
    manager. ``doing`` completes "… or an admin can …" with ``{name}`` for the account's name."""
    account = get_object_or_404(Account.objects.select_related("owner"), pk=pk)
    if not can_log_on(request.user, account):
        raise PermissionDenied(
            f"Only the account's manager ({_owner_name(account)}) or an admin can {doing.format(name=account.name)}."
        )
    return account


# --- correcting and deleting interactions ------------------------------------------------------------------

CHANGE_INTERACTIONS = "change or delete interactions on {name}"
INTERACTION_TEMPLATE = "crm/accounts/interaction_edit.html"
CONFLICT = 409


def _interaction_of(account: Account, iid: int) -> Interaction:
    return get_object_or_404(Interaction.objects.select_related("product", "logged_by"), pk=iid, account=account)


def _describe(interaction: Interaction) -> str:
    """'the order of 1 Dec 2025, 10:30' (in the display time zone), for headings, notices and confirmations."""
    when = date_format(timezone.localtime(interaction.occurred_at), "j M Y, H:i")
    return f"the {interaction.get_kind_display().lower()} of {when}"


def _interaction_form(interaction: Interaction, data=None) -> InteractionForm:  # type: ignore[no-untyped-def]
    # Ids of its own: the edit form sits on the account page next to the logging form.
    return InteractionForm(data, instance=interaction, auto_id=f"interaction{interaction.pk}_%s")


def _interaction_context(account: Account, interaction: Interaction, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {
        "account": account,
        "row": interaction,
        "described": _describe(interaction),
        "detail_url": _account_url(account),
        "can_log": True,
        **extra,
    }


def _not_editable(request: HttpRequest, account: Account, interaction: Interaction, reason: str) -> HttpResponse:
    """409: the row is the touch of another record. htmx puts the row back with the reason under it."""
    context = _interaction_context(account, interaction, refusal=reason)
    if not request.htmx:
        return render(request, INTERACTION_TEMPLATE, context, status=CONFLICT)
    response = render(request, "crm/accounts/timeline.html#row", context, status=CONFLICT)
    return reswap(retarget(response, f"#interaction-{interaction.pk}"), "outerHTML")


@role_required(*EDITORS)
@require_GET
def interaction_row(request: HttpRequest, pk: int, iid: int) -> HttpResponse:
    """One timeline row, as it is stored: what "Cancel" puts back in place of its edit form."""
    account = _account_for_change(request, pk, doing=CHANGE_INTERACTIONS)
    interaction = _interaction_of(account, iid)
    if not request.htmx:
        return redirect(_account_url(account))
    return render(request, "crm/accounts/timeline.html#row", _interaction_context(account, interaction))


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def interaction_edit(request: HttpRequest, pk: int, iid: int) -> HttpResponse:
    """GET: the logging form filled in with the row (htmx: the form alone, swapped into the row). POST: save
    the correction, validated as when logging; htmx gets the updated row and the "Recomputing…" status."""
    account = _account_for_change(request, pk, doing=CHANGE_INTERACTIONS)
    interaction = _interaction_of(account, iid)
    described = _describe(interaction)
    context = _interaction_context(account, interaction, inline=bool(request.htmx))
    name = f"{INTERACTION_TEMPLATE}#form" if request.htmx else INTERACTION_TEMPLATE
    if request.method == "GET":
        try:
            interaction_assert_editable(interaction)
        except InteractionNotEditable as refused:
            return _not_editable(request, account, interaction, str(refused))
        return render(request, name, {**context, "form": _interaction_form(interaction)})
    form = _interaction_form(interaction, request.POST)
    if not form.is_valid():
        return render(request, name, {**context, "form": form}, status=UNPROCESSABLE)
    try:
        interaction = interaction_update(interaction=interaction, **form.service_kwargs())
    except InteractionNotEditable as refused:
        return _not_editable(request, account, _interaction_of(account, iid), str(refused))
    except ValidationError as error:
        _apply_service_errors(form, error)
        return render(request, name, {**context, "form": form}, status=UNPROCESSABLE)
    notice = f"{described[0].upper()}{described[1:]} was changed. The figures are being recomputed."
    if not request.htmx:
        messages.success(request, notice)
        return redirect(_account_url(account))
    response = render(request, "crm/accounts/timeline.html#updated", {
        **_interaction_context(account, interaction), "notice": notice,
        "figures_url": url_or_none("account_figures", account.pk),
    })
    # The form asked to be replaced by its answer; the answer is the whole row the form was swapped into.
    return reswap(retarget(response, f"#interaction-{interaction.pk}"), "outerHTML")


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def interaction_delete_view(request: HttpRequest, pk: int, iid: int) -> HttpResponse:
    """GET: a page that asks to confirm (the no-JavaScript path; htmx asks with ``hx-confirm``). POST: delete
    the row; htmx gets an empty row (it disappears) and the "Recomputing…" status."""
    account = _account_for_change(request, pk, doing=CHANGE_INTERACTIONS)
    interaction = _interaction_of(account, iid)
    context = _interaction_context(account, interaction)
    if request.method == "GET":
        return render(request, "crm/accounts/interaction_delete.html", context)
    described = context["described"]
    try:
        interaction_delete(interaction=interaction)
    except InteractionNotEditable as refused:
        return _not_editable(request, account, interaction, str(refused))
    notice = f"{described[0].upper()}{described[1:]} was deleted. The figures are being recomputed."
    if not request.htmx:
        messages.success(request, notice)
        return redirect(_account_url(account))
    return render(request, "crm/accounts/timeline.html#deleted", {
        "account": account, "notice": notice, "figures_url": url_or_none("account_figures", account.pk),
    })


# --- accounts -------------------------------------------------------------------------------------------------

ACCOUNT_TEMPLATE = "crm/accounts/account_form.html"


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def account_create_view(request: HttpRequest) -> HttpResponse:
    """A new account. A manager's is their own; an admin chooses its manager (or leaves it unassigned)."""
    may_assign = has_role(request.user, Role.ADMIN)
    if request.method == "GET":
        return render(request, ACCOUNT_TEMPLATE, {"form": AccountForm(may_assign=may_assign)})
    form = AccountForm(request.POST, may_assign=may_assign)
    if not form.is_valid():
        return render(request, ACCOUNT_TEMPLATE, {"form": form}, status=UNPROCESSABLE)
    values = form.service_kwargs()
    if not may_assign:
        values["owner"] = request.user
    try:
        account = account_create(**values)
    except ValidationError as error:
        _apply_service_errors(form, error)
        return render(request, ACCOUNT_TEMPLATE, {"form": form}, status=UNPROCESSABLE)
    messages.success(request, f"Account {account.name} created.")
    return redirect(_account_url(account))


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def account_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct an account's details; only an admin reassigns its manager."""
    account = _account_for_change(request, pk, doing="edit {name}")
    may_assign = has_role(request.user, Role.ADMIN)
    context = {"account": account, "detail_url": _account_url(account)}
    if request.method == "GET":
        return render(request, ACCOUNT_TEMPLATE, {**context, "form": AccountForm(instance=account,
                                                                                   may_assign=may_assign)})
    form = AccountForm(request.POST, instance=account, may_assign=may_assign)
    if not form.is_valid():
        return render(request, ACCOUNT_TEMPLATE, {**context, "form": form}, status=UNPROCESSABLE)
    try:
        account = account_update(account=account, **form.service_kwargs())
    except ValidationError as error:
        _apply_service_errors(form, error)
        return render(request, ACCOUNT_TEMPLATE, {**context, "form": form}, status=UNPROCESSABLE)
    messages.success(request, f"Account {account.name} saved.")
    return redirect(_account_url(account))


# --- contacts ---------------------------------------------------------------------------------------------------

CHANGE_CONTACTS = "change the contacts of {name}"
CONTACT_TEMPLATE = "crm/accounts/contact_form.html"


def _contact_of(account: Account, cid: int) -> Contact:
    return get_object_or_404(Contact, pk=cid, account=account)


def _contacts_section(request: HttpRequest, account: Account, *, notice: str = "") -> HttpResponse:
    """The account page's contacts section, fresh, in place of whatever form asked for it."""
    response = render(request, "crm/accounts/contacts.html#section", {
        "account": account,
        "contacts": account_contacts(account_id=account.pk),
        "can_log": True,
        "contact_form": ContactForm(),
        "notice": notice,
    })
    return reswap(retarget(response, "#account-contacts"), "outerHTML")


def _contact_saved(request: HttpRequest, account: Account, notice: str) -> HttpResponse:
    if request.htmx:
        return _contacts_section(request, account, notice=notice)
    messages.success(request, notice)
    return redirect(_account_url(account) + "#contacts-title")


def _contact_form_response(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    name = f"{CONTACT_TEMPLATE}#form" if request.htmx else CONTACT_TEMPLATE
    return render(request, name, {**context, "inline": bool(request.htmx)}, status=status)


@role_required(*EDITORS)
@require_GET
def contact_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The contacts section as it is stored: what "Cancel" puts back in place of a contact's edit form."""
    account = _account_for_change(request, pk, doing=CHANGE_CONTACTS)
    if not request.htmx:
        return redirect(_account_url(account) + "#contacts-title")
    return _contacts_section(request, account)


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def contact_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _contact_form_view(request, _account_for_change(request, pk, doing=CHANGE_CONTACTS), contact=None)


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def contact_edit_view(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    account = _account_for_change(request, pk, doing=CHANGE_CONTACTS)
    return _contact_form_view(request, account, contact=_contact_of(account, cid))


def _contact_form_view(request: HttpRequest, account: Account, *, contact: Contact | None) -> HttpResponse:
    """GET: the contact form (empty for a new contact). POST: add or save the contact, or show the errors."""
    context = {"account": account, "contact": contact, "detail_url": _account_url(account)}
    if request.method == "GET":
        return _contact_form_response(request, {**context, "form": ContactForm(instance=contact)})
    form = ContactForm(request.POST, instance=contact)
    if not form.is_valid():
        return _contact_form_response(request, {**context, "form": form}, status=UNPROCESSABLE)
    try:
        if contact is None:
            saved, done = contact_create(account=account, **form.service_kwargs()), "added"
        else:
            saved, done = contact_update(contact=contact, **form.service_kwargs()), "saved"
    except ValidationError as error:
        _apply_service_errors(form, error)
        return _contact_form_response(request, {**context, "form": form}, status=UNPROCESSABLE)
    return _contact_saved(request, account, f"Contact {saved.name} {done}.")


@role_required(*EDITORS)
@require_http_methods(["GET", "POST"])
def contact_delete_view(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    """GET: a page that asks to confirm (htmx asks with ``hx-confirm``). POST: delete the contact."""
    account = _account_for_change(request, pk, doing=CHANGE_CONTACTS)
    contact = _contact_of(account, cid)
    if request.method == "GET":
        return render(request, "crm/accounts/contact_delete.html", {
            "account": account, "contact": contact, "detail_url": _account_url(account)})
    name = contact.name
    contact_delete(contact=contact)
    return _contact_saved(request, account, f"Contact {name} deleted.")
