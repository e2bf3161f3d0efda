"""Forms of the admin configuration pages. They parse and check input only; the services write.

The tier formset checks the bands as a whole with ``configuration.tier_specs_errors`` and puts every
message next to the field it is about (Django renders aria-invalid and aria-describedby for it).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from crm.forms_messages import NamedErrorsMixin
from crm.models import InteractionChannel, InteractionKind

from .configuration import MAX_SLA_HOURS, ClvSpec, CostRateSpec, SpecError, TierSpec, tier_specs_errors
from .models import ClvSettings

DEFAULT_COLOR = "#888888"


def add_spec_errors(form: forms.BaseForm, errors: list[SpecError]) -> None:
    """Attach service errors to the form's fields (non-field errors when the field is not on the form)."""
    for error in errors:
        form.add_error(error.field if error.field in form.fields else None, error.message)


# --- tiers -------------------------------------------------------------------------------------------------


class TierForm(NamedErrorsMixin, forms.Form):
    tier_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(max_length=40, error_messages={"required": "Every tier needs a name."})
    position = forms.IntegerField(min_value=1, max_value=999, help_text="1 = the top tier.",
                                  error_messages={"required": "Every tier needs a position (1 = the top tier)."})
    upper_pct = forms.DecimalField(
        label="Reaches down to (% of ranking)", max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text="Cumulative from the top; the last tier is 100.",
        error_messages={"required": "Every tier needs a band: how far down the ranking it reaches."},
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "max": "100"}),
    )
    first_response_hours = forms.IntegerField(
        label="First response (hours)", min_value=1, max_value=MAX_SLA_HOURS,
        error_messages={"required": "Every tier needs a first-response target."},
    )
    resolution_hours = forms.IntegerField(
        label="Resolution (hours)", min_value=1, max_value=MAX_SLA_HOURS,
        error_messages={"required": "Every tier needs a resolution target."},
    )
    queue_priority = forms.IntegerField(
        label="Queue priority", min_value=1, max_value=999, help_text="1 is served first.",
        error_messages={"required": "Every tier needs a queue priority (1 is served first)."},
    )
    entitlements = forms.CharField(
        required=False, help_text="One per line.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    color = forms.RegexField(
        label="Colour", regex=r"^#[0-9a-fA-F]{6}$", initial=DEFAULT_COLOR,
        error_messages={"invalid": "Use a colour like #5b6b8c."},
        widget=forms.TextInput(attrs={"type": "color"}),
    )

    def spec(self) -> TierSpec:
        data = getattr(self, "cleaned_data", {})
        return TierSpec(
            tier_id=data.get("tier_id"), name=data.get("name", ""), position=data.get("position"),
            upper_pct=data.get("upper_pct"), first_response_hours=data.get("first_response_hours"),
            resolution_hours=data.get("resolution_hours"), queue_priority=data.get("queue_priority"),
            entitlements=data.get("entitlements", ""), color=data.get("color") or DEFAULT_COLOR,
        )


class BaseTierFormSet(forms.BaseFormSet):
    """All tier bands at once; checks the bands together once each row is valid on its own."""

    def kept_forms(self) -> list[TierForm]:
        return [f for f in self.forms
                if not self._should_delete_form(f) and (f.has_changed() or not f.empty_permitted)]

    def clean(self) -> None:
        # Check the bands even when some rows have errors, so every problem shows at once; a field that
        # already has an error of its own keeps just that one.
        if not self.management_form.is_valid():
            return  # the formset already says the submission is broken
        kept = self.kept_forms()
        for error in tier_specs_errors([f.spec() for f in kept]):
            if error.index is None:
                if not any(self.errors):
                    raise forms.ValidationError(error.message)
                continue
            form = kept[error.index]
            if error.field not in form.errors:
                add_spec_errors(form, [error])

    def specs(self) -> list[TierSpec]:
        return [f.spec() for f in self.kept_forms()]

    def removed_ids(self) -> list[int]:
        return [f.cleaned_data["tier_id"] for f in self.forms
                if self._should_delete_form(f) and f.cleaned_data.get("tier_id")]


TierFormSet = forms.formset_factory(
    TierForm, formset=BaseTierFormSet, extra=0, can_delete=True, max_num=20, validate_max=True, absolute_max=40
)


def _plain(value: Decimal) -> str:
    """50.00 → "50", 12.50 → "12.5" (as an admin would type it)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def tier_formset_initial(tiers) -> list[dict]:  # type: ignore[no-untyped-def]
    return [
        {"tier_id": t.pk, "name": t.name, "position": t.position, "upper_pct": _plain(t.upper_pct),
         "first_response_hours": t.first_response_hours, "resolution_hours": t.resolution_hours,
         "queue_priority": t.queue_priority, "entitlements": t.entitlements, "color": t.color}
        for t in tiers
    ]


# --- cost rates --------------------------------------------------------------------------------------------


class CostRateForm(NamedErrorsMixin, forms.Form):
    BASIS_CHOICES = [("interaction", "Per interaction"), ("unit", "Per unit of quantity")]

    activity = forms.CharField(max_length=60, help_text="An existing activity or a new one, e.g. Packaging.",
                               widget=forms.TextInput(attrs={"list": "activity-names", "autocomplete": "off"}))
    kind = forms.ChoiceField(label="Interaction kind", choices=InteractionKind.choices)
    channel = forms.ChoiceField(choices=[("", "Every channel"), *InteractionChannel.choices], required=False,
                                help_text="A channel's own rate beats the every-channel rate.")
    basis = forms.ChoiceField(label="Charged", choices=BASIS_CHOICES, initial="interaction")
    rate = forms.DecimalField(
        label="Rate", min_value=Decimal("0"), max_digits=14, decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
    )
    effective_from = forms.DateField(
        label="Effective from", help_text="Applies to interactions on or after this day (UTC).",
        error_messages={"required": "Enter the day the rate is effective from.",
                        "invalid": "Enter the day the rate is effective from as a date, e.g. 2025-03-01."},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def spec(self) -> CostRateSpec:
        data = self.cleaned_data
        return CostRateSpec(
            activity=data["activity"].strip(), kind=data["kind"], channel=data.get("channel") or "",
            per_unit=data["basis"] == "unit", rate=data["rate"], effective_from=data["effective_from"],
        )


# --- CLV ---------------------------------------------------------------------------------------------------


class ClvSettingsForm(NamedErrorsMixin, forms.Form):
    """Rates are entered as percentages and stored as fractions (10 % → 0.1000)."""

    discount_rate_pct = forms.DecimalField(
        label="Discount rate (% a year)", min_value=Decimal("0"), max_value=Decimal("100"), max_digits=5,
        decimal_places=2, help_text="Used to discount future margins in the formula and predictive CLV.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "100"}),
    )
    horizon_months = forms.IntegerField(label="Horizon (months)", min_value=1, max_value=240,
                                        help_text="How far ahead predictive CLV looks.")
    ranking_metric = forms.ChoiceField(label="Rank accounts into tiers by", choices=ClvSettings.RankingMetric.choices)
    retention_override_pct = forms.DecimalField(
        label="Annual retention override (%)", required=False, min_value=Decimal("0"), max_value=Decimal("99.99"),
        max_digits=4, decimal_places=2, help_text="Leave blank to use the retention measured from the book.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "99.99"}),
    )

    @classmethod
    def initial_from(cls, settings: ClvSettings) -> dict:
        return {
            "discount_rate_pct": (settings.discount_rate * 100).quantize(Decimal("0.01")),
            "horizon_months": settings.horizon_months,
            "ranking_metric": settings.ranking_metric,
            "retention_override_pct": (settings.retention_override * 100).quantize(Decimal("0.01"))
            if settings.retention_override is not None else None,
        }

    def spec(self) -> ClvSpec:
        data = self.cleaned_data
        retention = data.get("retention_override_pct")
        return ClvSpec(
            discount_rate=(data["discount_rate_pct"] / 100).quantize(Decimal("0.0001")),
            horizon_months=data["horizon_months"],
            ranking_metric=data["ranking_metric"],
            retention_override=(retention / 100).quantize(Decimal("0.0001")) if retention is not None else None,
        )
