"""Forms for entering CRM records by hand. They validate input; the writes are in :mod:`crm.services`.

Every error message names its field, because a screen reader reaching it out of context must still make
sense of it. Ids are prefixed per form so two forms can share a page.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import lazy

from .countries import country_code_error
from .models import (
    Account,
    Channel,
    Contact,
    EmployeeBand,
    Interaction,
    InteractionChannel,
    InteractionKind,
    Product,
    SurveyResponse,
)
from .roles import Role
from .services.interactions import AMOUNT_KINDS, DIRECT_COST_KINDS, interaction_value_errors

DATETIME_INPUT = "%Y-%m-%dT%H:%M"
FUTURE_TOLERANCE = timedelta(days=1)
#: Complaints are service cases and surveys are NPS answers: each has its own form that records both rows.
OWN_FORM_KINDS = frozenset({InteractionKind.SURVEY, InteractionKind.COMPLAINT})


def _now_local() -> str:
    return timezone.localtime().strftime(DATETIME_INPUT)


def _money_field(label: str, *, help_text: str = "") -> forms.DecimalField:
    name = label.lower()
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
        error_messages={
            "invalid": f"Enter the {name} as a number, e.g. 1250.00.",
            "min_value": f"The {name} can't be negative.",
            "max_decimal_places": f"Give the {name} with at most 2 decimal places (cents).",
            "max_digits": f"The {name} is too large.",
            "max_whole_digits": f"The {name} is too large.",
        },
    )


def _time_zone_note() -> str:
    return f"Time zone: {timezone.get_current_timezone_name()}."


def _when_field(label: str, *, what: str) -> forms.DateTimeField:
    """A date-and-time field read in the display time zone; ``what`` names it in messages ("when ... ")."""
    return forms.DateTimeField(
        label=label,
        help_text=lazy(_time_zone_note, str)(),
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        error_messages={
            "required": f"Enter {what}.",
            "invalid": f"Enter {what} as a date and time, e.g. 2025-03-01 14:30.",
        },
    )


def _not_in_future(value, label: str):  # type: ignore[no-untyped-def]
    if value is not None and value > timezone.now() + FUTURE_TOLERANCE:
        raise forms.ValidationError(f"The {label} can't be more than a day in the future.", code="future")
    return value


class _ServiceBackedForm(forms.ModelForm):
    """A model form whose row is written by a service, which validates the full model (with its account)."""

    def _post_clean(self) -> None:
        # The instance has no account yet, so model validation here would be partial and cost queries;
        # the service runs ``full_clean`` on the complete rows and the view maps its errors back.
        pass


class InteractionForm(_ServiceBackedForm):
    """Log an order, return, payment, call, visit, ... on an account; with ``instance``, correct one."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=[("", "Choose a kind…")] + [c for c in InteractionKind.choices if c[0] not in OWN_FORM_KINDS],
        error_messages={
            "required": "Choose the kind of interaction.",
            "invalid_choice": "Choose one of the listed kinds of interaction.",
        },
    )
    channel = forms.ChoiceField(
        label="Channel",
        choices=InteractionChannel.choices,
        initial=InteractionChannel.PHONE,
        error_messages={"required": "Choose the channel.", "invalid_choice": "Choose one of the listed channels."},
    )
    occurred_at = _when_field("Date and time", what="when it happened")
    amount = _money_field("Amount", help_text="Orders and renewals: net revenue. Returns: refund. Payments: cash.")
    direct_cost = _money_field("Direct cost", help_text="Blank: the product's unit cost × quantity.")
    product = forms.ModelChoiceField(
        label="Product",
        queryset=Product.objects.order_by("family", "tier_in_family", "name"),
        required=False,
        empty_label="No product",
        error_messages={"invalid_choice": "Choose one of the listed products."},
    )
    quantity = forms.IntegerField(
        label="Quantity",
        required=False,
        min_value=0,
        max_value=2_147_483_647,
        widget=forms.NumberInput(attrs={"min": "0", "step": "1", "inputmode": "numeric"}),
        error_messages={
            "invalid": "Enter the quantity as a whole number.",
            "min_value": "The quantity can't be negative.",
            "max_value": "The quantity is too large.",
        },
    )
    note = forms.CharField(label="Note", required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Interaction
        fields = ["kind", "channel", "occurred_at", "amount", "direct_cost", "product", "quantity", "note"]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("auto_id", "interaction_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("occurred_at", _now_local())
        if self.instance.pk is not None and not self.is_bound:
            self._blank_derived_initial()

    def _blank_derived_initial(self) -> None:
        """Editing: show money the row does not carry as blank, and a direct cost that is the product's unit
        cost × quantity as blank too, so that it follows a corrected quantity or product as when logging."""
        row = self.instance
        if not row.amount and row.kind not in AMOUNT_KINDS:
            self.initial["amount"] = None
        derived = row.product.unit_cost * row.quantity if row.product and row.quantity is not None else None
        if row.direct_cost == derived if row.kind in DIRECT_COST_KINDS else not row.direct_cost:
            self.initial["direct_cost"] = None

    def clean_occurred_at(self):  # type: ignore[no-untyped-def]
        return _not_in_future(self.cleaned_data.get("occurred_at"), "date and time")

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        errors = interaction_value_errors(
            kind=kind, amount=data.get("amount"), direct_cost=data.get("direct_cost"), product=data.get("product"),
            quantity=data.get("quantity"),
        )
        for name, message in errors.items():
            if name not in self.errors:  # a field's own error (say, not a number) already says what is wrong
                self.add_error(name, message)
        return data

    def service_kwargs(self) -> dict:
        """The cleaned values as keyword arguments of :func:`crm.services.interaction_log`."""
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "channel": data["channel"],
            "occurred_at": data["occurred_at"],
            "amount": data.get("amount"),
            "direct_cost": data.get("direct_cost"),
            "product": data.get("product"),
            "quantity": data.get("quantity"),
            "note": data.get("note", ""),
        }


class SurveyForm(_ServiceBackedForm):
    """Record a Net Promoter Score answer (0–10) with its comment."""

    score = forms.IntegerField(
        label="Score (0–10)",
        min_value=0,
        max_value=10,
        widget=forms.NumberInput(attrs={"min": "0", "max": "10", "step": "1", "inputmode": "numeric"}),
        help_text="How likely they are to recommend us: 9–10 promoter, 7–8 passive, 0–6 detractor.",
        error_messages={
            "required": "Enter the score, from 0 to 10.",
            "invalid": "Enter the score as a whole number from 0 to 10.",
            "min_value": "The score can't be below 0.",
            "max_value": "The score can't be above 10.",
        },
    )
    answered_at = _when_field("Answered at", what="when the survey was answered")
    contact = forms.ModelChoiceField(
        label="Contact",
        queryset=Contact.objects.none(),
        required=False,
        empty_label="Not recorded",
        error_messages={"invalid_choice": "Choose one of this account's contacts."},
    )
    comment = forms.CharField(
        label="Comment", required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = SurveyResponse
        fields = ["score", "answered_at", "contact", "comment"]

    def __init__(self, *args, account=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("auto_id", "survey_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if account is not None:
            self.fields["contact"].queryset = Contact.objects.filter(account=account).order_by("name")
        if not self.is_bound:
            self.initial.setdefault("answered_at", _now_local())

    def clean_answered_at(self):  # type: ignore[no-untyped-def]
        return _not_in_future(self.cleaned_data.get("answered_at"), "answer time")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "score": data["score"],
            "answered_at": data["answered_at"],
            "comment": data.get("comment", ""),
            "contact": data.get("contact"),
        }


# --- accounts and contacts -------------------------------------------------------------------------------------


def _text_field(label: str, *, max_length: int, required: bool = False, help_text: str = "",
                what: str | None = None) -> forms.CharField:
    """A one-line text field whose messages name it (``what``: how a message calls it, "the <label>")."""
    what = what or f"the {label.lower()}"
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        help_text=help_text,
        error_messages={
            "required": f"Enter {what}.",
            "max_length": f"{what[0].upper()}{what[1:]} can't be longer than {max_length} characters.",
        },
    )


def _date_field(label: str, *, what: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": f"Enter {what} as a date, e.g. 2025-03-01."},
    )


def _choice_field(label: str, choices, *, blank: str | None = None, what: str) -> forms.ChoiceField:  # type: ignore[no-untyped-def]
    return forms.ChoiceField(
        label=label,
        required=blank is None,
        choices=([("", blank)] if blank is not None else []) + list(choices),
        error_messages={"required": f"Choose the {what}.",
                        "invalid_choice": f"Choose one of the listed options for the {what}."},
    )


def _not_in_future_date(value, label: str):  # type: ignore[no-untyped-def]
    if value is not None and value > timezone.localdate():
        raise forms.ValidationError(f"The {label} can't be in the future.", code="future")
    return value


def account_owner_choices(*, keeping: int | None = None):  # type: ignore[no-untyped-def]
    """Who may own an account: account managers and admins (as the API checks), by name — and ``keeping``, the
    account's current manager even if they have left or lost the role, so that saving the form unchanged never
    unassigns the account."""
    may_own = Q(groups__name__in=[Role.ACCOUNT_MANAGER.value, Role.ADMIN.value]) | Q(is_superuser=True)
    return (
        get_user_model().objects.filter((may_own & Q(is_active=True)) | Q(pk=keeping))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class AccountForm(_ServiceBackedForm):
    """Create or correct an account: what the import and the API accept, never figures or the history version.

    ``may_assign``: the user may choose the owner (admins); otherwise the owner is not a field of the form —
    a manager's new account is their own, and a manager's edit keeps the owner.
    """

    name = _text_field("Name", max_length=200, required=True, what="the account's name")
    industry = _text_field("Industry", max_length=80)
    country = forms.CharField(
        label="Country",
        required=False,
        max_length=40,
        help_text="ISO 3166-1 two-letter code (DE, FR, US, ...).",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": "4", "spellcheck": "false"}),
        error_messages={"max_length": "Enter the country as its two-letter ISO 3166-1 code (e.g. DE, FR, GB, US)."},
    )
    region = _text_field("Region", max_length=80)
    segment = _text_field("Segment", max_length=80, help_text="Segment or buyer persona.")
    employee_band = _choice_field("Employees", EmployeeBand.choices, blank="Not known", what="employee band")
    owner = forms.ModelChoiceField(
        label="Account manager",
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Unassigned",
        error_messages={"invalid_choice": "Choose one of the listed account managers."},
    )
    acquisition_channel = forms.ModelChoiceField(
        label="Acquisition channel",
        queryset=Channel.objects.order_by("name"),
        required=False,
        empty_label="Not recorded",
        error_messages={"invalid_choice": "Choose one of the listed acquisition channels."},
    )
    acquired_on = _date_field("Acquired on", what="the acquisition date")
    status = _choice_field("Status", Account.Status.choices, what="status")
    churned_on = _date_field("Churned on", what="the churn date")
    relationship = _choice_field("Relationship", Account.Relationship.choices, what="relationship")
    web_domain = _text_field("Web domain", max_length=200, help_text="e.g. example.com")
    tax_id = _text_field("Tax id", max_length=40, help_text="VAT or other tax number.", what="the tax id")
    phone = _text_field("Phone", max_length=40, what="the phone number")

    class Meta:
        model = Account
        fields = ["name", "industry", "country", "region", "segment", "employee_band", "owner",
                  "acquisition_channel", "acquired_on", "status", "churned_on", "relationship", "web_domain",
                  "tax_id", "phone"]

    def __init__(self, *args, may_assign: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("auto_id", "account_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if may_assign:
            self.fields["owner"].queryset = account_owner_choices(keeping=self.instance.owner_id)
            self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        else:
            del self.fields["owner"]

    def clean_country(self) -> str:
        value = self.cleaned_data.get("country", "").strip()
        if value and (error := country_code_error(value)):
            raise forms.ValidationError(error, code="country")
        return value.upper()

    def clean_acquired_on(self):  # type: ignore[no-untyped-def]
        return _not_in_future_date(self.cleaned_data.get("acquired_on"), "acquisition date")

    def clean_churned_on(self):  # type: ignore[no-untyped-def]
        return _not_in_future_date(self.cleaned_data.get("churned_on"), "churn date")

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        churned_on, acquired_on = data.get("churned_on"), data.get("acquired_on")
        if "churned_on" not in self.errors:
            if data.get("status") == Account.Status.CHURNED and churned_on is None:
                self.add_error("churned_on", "Enter the churn date: a churned account needs one.")
            elif churned_on and acquired_on and churned_on < acquired_on:
                self.add_error("churned_on", "The churn date can't be before the acquisition date.")
        return data

    def service_kwargs(self) -> dict:
        """The cleaned values as keyword arguments of :func:`crm.services.account_create` / ``account_update``
        (``owner`` only when the form has it)."""
        return {name: self.cleaned_data.get(name) for name in self.fields}


class ContactForm(_ServiceBackedForm):
    """Add or correct a contact person of an account."""

    name = _text_field("Name", max_length=200, required=True, what="the contact's name")
    role = _text_field("Role", max_length=120, help_text="Job title or function, e.g. Head of purchasing.")
    email = forms.EmailField(
        label="E-mail",
        required=False,
        max_length=254,
        error_messages={
            "invalid": "Enter the e-mail address as name@example.com.",
            "max_length": "The e-mail address can't be longer than 254 characters.",
        },
    )
    phone = _text_field("Phone", max_length=40, what="the phone number")

    class Meta:
        model = Contact
        fields = ["name", "role", "email", "phone"]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        instance = kwargs.get("instance")
        kwargs.setdefault("auto_id", f"contact{instance.pk}_%s" if instance is not None else "contact_new_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "role": data.get("role", ""), "email": data.get("email", ""),
                "phone": data.get("phone", "")}
