"""Forms of the campaigns pages. They parse and check input; the services write."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from crm.forms_messages import NamedErrorsMixin
from crm.models import Account, EmployeeBand
from profitability.models import Tier

from .models import MAX_DAYS, Campaign, CampaignVariant, EarningRule, LedgerEntry, LoyaltyProgram, Reward, Segment
from .segmentation import Criteria

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _active_segments():  # type: ignore[no-untyped-def]
    return Segment.objects.filter(archived=False).order_by("kind", "name")


# --- loyalty programs ---------------------------------------------------------------------------------------


class LoyaltyProgramForm(forms.ModelForm):
    class Meta:
        model = LoyaltyProgram
        fields = ["name", "description", "status", "starts_on", "ends_on", "eligible_tiers", "eligible_segments",
                  "min_clv", "auto_enrol", "point_value", "points_validity_days"]
        labels = {"min_clv": "Minimum CLV", "points_validity_days": "Points valid for (days)",
                  "auto_enrol": "Enrol every eligible account automatically"}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "starts_on": DATE, "ends_on": DATE,
            "eligible_tiers": forms.CheckboxSelectMultiple, "eligible_segments": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["eligible_tiers"].queryset = Tier.objects.order_by("position")
        self.fields["eligible_segments"].queryset = _active_segments()
        self.fields["eligible_tiers"].help_text = "None ticked: every tier."
        self.fields["eligible_segments"].help_text = "None ticked: every segment."

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", "The program cannot end before it starts.")
        return data


class EarningRuleForm(forms.ModelForm):
    class Meta:
        model = EarningRule
        fields = ["trigger", "points"]
        labels = {"trigger": "Earn", "points": "Points"}


class BaseRuleFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen = set()
        for form in self.forms:
            if not form.cleaned_data or self._should_delete_form(form):
                if self._should_delete_form(form) and form.instance.pk and LedgerEntry.objects.filter(
                        rule=form.instance).exists():
                    form.add_error(None, "This rule has awarded points, so it stays (set its points instead).")
                continue
            trigger = form.cleaned_data.get("trigger")
            if trigger in seen:
                form.add_error("trigger", "Each way of earning appears once.")
            seen.add(trigger)


RuleFormSet = forms.inlineformset_factory(
    LoyaltyProgram, EarningRule, form=EarningRuleForm, formset=BaseRuleFormSet, extra=1, can_delete=True,
    max_num=len(EarningRule.Trigger), validate_max=True,
)


class RewardForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = ["name", "kind", "point_cost", "discount_pct", "upgrade_tier", "upgrade_days", "active"]
        labels = {"discount_pct": "Discount %", "upgrade_tier": "Upgrade to", "upgrade_days": "For (days)"}

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["upgrade_tier"].queryset = Tier.objects.order_by("position")

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        kind = data.get("kind")
        if kind == Reward.Kind.DISCOUNT and data.get("discount_pct") is None:
            self.add_error("discount_pct", "A discount needs its percentage.")
        if kind == Reward.Kind.TIER_UPGRADE:
            if data.get("upgrade_tier") is None:
                self.add_error("upgrade_tier", "Say which tier the upgrade gives.")
            if not data.get("upgrade_days"):
                self.add_error("upgrade_days", "Say how many days the upgrade lasts.")
        return data


class BaseRewardFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            if self._should_delete_form(form) and form.instance.pk and LedgerEntry.objects.filter(
                    reward=form.instance).exists():
                form.add_error(None, "This reward has been redeemed, so it stays (untick Active to withdraw it).")


RewardFormSet = forms.inlineformset_factory(
    LoyaltyProgram, Reward, form=RewardForm, formset=BaseRewardFormSet, extra=1, can_delete=True, max_num=30,
    validate_max=True,
)


class EnrolForm(forms.Form):
    program = forms.ModelChoiceField(queryset=LoyaltyProgram.objects.none(), label="Program")

    def __init__(self, *args, programs=None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs if programs is not None else LoyaltyProgram.objects.filter(
            status=LoyaltyProgram.Status.ACTIVE)


class RedeemForm(forms.Form):
    reward = forms.ModelChoiceField(queryset=Reward.objects.none(), label="Reward")

    def __init__(self, *args, enrolment=None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if enrolment is not None:
            self.fields["reward"].queryset = Reward.objects.filter(program_id=enrolment.program_id, active=True)


class AdjustForm(forms.Form):
    points = forms.IntegerField(help_text="Negative to deduct.", validators=[MinValueValidator(-1_000_000),
                                                                             MaxValueValidator(1_000_000)])
    reason = forms.CharField(max_length=300)

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError("An adjustment moves at least one point.")
        return points


# --- segments -----------------------------------------------------------------------------------------------


def _distinct(field: str) -> list[tuple[str, str]]:
    values = Account.objects.exclude(**{field: ""}).values_list(field, flat=True).distinct().order_by(field)
    return [(v, v) for v in values]


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    industries = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    regions = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    employee_bands = forms.MultipleChoiceField(label="Size (staff)", required=False, choices=EmployeeBand.choices,
                                               widget=forms.CheckboxSelectMultiple)
    personas = forms.MultipleChoiceField(label="Buyer personas", required=False, widget=forms.CheckboxSelectMultiple)
    tier_ids = forms.MultipleChoiceField(label="Tiers", required=False, widget=forms.CheckboxSelectMultiple)
    statuses = forms.MultipleChoiceField(label="Account status", choices=Account.Status.choices, initial=["active"],
                                         widget=forms.CheckboxSelectMultiple)
    spend_min = forms.DecimalField(label="Revenue (12 months) from", required=False, min_value=0, decimal_places=2)
    spend_max = forms.DecimalField(label="Revenue (12 months) up to", required=False, min_value=0, decimal_places=2)
    net_profit_min = forms.DecimalField(label="Net profit (12 months) from", required=False, decimal_places=2)
    net_profit_max = forms.DecimalField(label="Net profit (12 months) up to", required=False, decimal_places=2)
    return_rate_min = forms.DecimalField(label="Return rate from (%)", required=False, min_value=0, max_value=100)
    return_rate_max = forms.DecimalField(label="Return rate up to (%)", required=False, min_value=0, max_value=100)
    support_min = forms.IntegerField(label="Support contacts (12 months) from", required=False, min_value=0)
    support_max = forms.IntegerField(label="Support contacts (12 months) up to", required=False, min_value=0)
    complaints_min = forms.IntegerField(label="Complaints (12 months) at least", required=False, min_value=0)
    ordered_within_days = forms.IntegerField(label="Ordered within (days)", required=False, min_value=1,
                                             max_value=MAX_DAYS)
    not_ordered_for_days = forms.IntegerField(label="No order for (days)", required=False, min_value=1,
                                              max_value=MAX_DAYS)

    def __init__(self, *args, segment: Segment | None = None, **kwargs):  # type: ignore[no-untyped-def]
        self.segment = segment
        if segment is not None and "initial" not in kwargs:
            c = Criteria.from_json(segment.criteria)
            kwargs["initial"] = {
                "name": segment.name, "description": segment.description,
                **{k: list(v) for k, v in (("industries", c.industries), ("regions", c.regions),
                                           ("employee_bands", c.employee_bands), ("personas", c.personas),
                                           ("tier_ids", [str(t) for t in c.tier_ids]), ("statuses", c.statuses))},
                "spend_min": c.spend_min, "spend_max": c.spend_max, "net_profit_min": c.net_profit_min,
                "net_profit_max": c.net_profit_max,
                "return_rate_min": None if c.return_rate_min is None else Decimal(str(c.return_rate_min * 100)),
                "return_rate_max": None if c.return_rate_max is None else Decimal(str(c.return_rate_max * 100)),
                "support_min": c.support_min, "support_max": c.support_max, "complaints_min": c.complaints_min,
                "ordered_within_days": c.ordered_within_days, "not_ordered_for_days": c.not_ordered_for_days,
            }
        super().__init__(*args, **kwargs)
        self.fields["industries"].choices = _distinct("industry")
        self.fields["regions"].choices = _distinct("region")
        self.fields["personas"].choices = _distinct("segment")
        self.fields["tier_ids"].choices = [(str(t.pk), t.name) for t in Tier.objects.order_by("position")]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Segment.objects.filter(name__iexact=name)
        if self.segment is not None:
            clash = clash.exclude(pk=self.segment.pk)
        if clash.exists():
            raise forms.ValidationError("Another segment has this name.")
        return name

    def criteria(self) -> Criteria:
        d = self.cleaned_data
        pct = lambda v: None if v is None else float(v) / 100  # noqa: E731
        return Criteria(
            industries=tuple(d.get("industries") or ()), regions=tuple(d.get("regions") or ()),
            employee_bands=tuple(d.get("employee_bands") or ()), personas=tuple(d.get("personas") or ()),
            tier_ids=tuple(int(t) for t in d.get("tier_ids") or ()), statuses=tuple(d.get("statuses") or ()),
            spend_min=d.get("spend_min"), spend_max=d.get("spend_max"), net_profit_min=d.get("net_profit_min"),
            net_profit_max=d.get("net_profit_max"), return_rate_min=pct(d.get("return_rate_min")),
            return_rate_max=pct(d.get("return_rate_max")), support_min=d.get("support_min"),
            support_max=d.get("support_max"), complaints_min=d.get("complaints_min"),
            ordered_within_days=d.get("ordered_within_days"), not_ordered_for_days=d.get("not_ordered_for_days"),
        )

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if not self.errors:
            percent_fields = {"return_rate_min", "return_rate_max"}
            for field, message in self.criteria().errors():
                if field in percent_fields:
                    message = message.replace("100 %", "100")
                self.add_error(field, message)
        return data


class ClusterForm(forms.Form):
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=42,
                              help_text="The same seed on the same data gives the same clusters.")


# --- campaigns ----------------------------------------------------------------------------------------------


class CampaignForm(NamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "segment", "offer", "channel", "description", "loyalty_program", "pilot_pct",
                  "response_window_days", "cost_per_contact"]
        labels = {"pilot_pct": "First stage (% of the segment)", "response_window_days": "Response window (days)",
                  "cost_per_contact": "Cost per contact"}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = _active_segments()
        self.fields["loyalty_program"].queryset = LoyaltyProgram.objects.exclude(status=LoyaltyProgram.Status.ENDED)

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if data.get("offer") == Campaign.Offer.LOYALTY_BONUS and not data.get("loyalty_program"):
            self.add_error("loyalty_program", "A loyalty bonus needs the program whose members get it.")
        return data


class VariantForm(NamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = CampaignVariant
        fields = ["label", "description", "discount_pct", "bonus_points", "weight", "contacted"]
        labels = {"discount_pct": "Discount %", "weight": "Share (weight)",
                  "contacted": "Contacted (untick for a hold-out control)"}


class BaseVariantFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        labels = [f.cleaned_data.get("label", "").strip().lower() for f in kept]
        if len(set(labels)) != len(labels):
            raise forms.ValidationError("Each variant needs its own label.")
        if len(kept) < 2:
            raise forms.ValidationError("Add at least two variants to compare (e.g. an offer and a control).")


VariantFormSet = forms.inlineformset_factory(
    Campaign, CampaignVariant, form=VariantForm, formset=BaseVariantFormSet, extra=2, can_delete=True, max_num=6,
    validate_max=True,
)


class ExpandForm(forms.Form):
    variant = forms.ModelChoiceField(queryset=CampaignVariant.objects.none(), required=False,
                                     empty_label="Keep the split", label="Roll out")

    def __init__(self, *args, campaign=None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if campaign is not None:
            self.fields["variant"].queryset = campaign.variants.all()
