"""Forms for entering CRM records by hand. They validate input; the writes are in :mod:`crm.services`.

Every error message names its field, because a screen reader reaching it out of context must still make
sense of it. Ids are prefixed per form so two forms can share a page.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.functional import lazy

from .models import Contact, Interaction, InteractionChannel, InteractionKind, Product, SurveyResponse
from .services.interactions import interaction_value_errors

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
    """Log an order, return, payment, call, visit, ... on an account."""

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
