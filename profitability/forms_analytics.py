"""Forms of the analytics pages: an admin's KPI target, the what-if levers, and the pages' filters."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from crm.forms_messages import NamedErrorsMixin

from . import analytics as math
from .models_analytics import KPI_BOUNDS, kpi_range_text, kpi_value_error
from .selectors.analytics import SEGMENT_SORTS, SEGMENT_TABS, SHIFT_CHOICES

SEGMENT_DIMENSIONS = {key for key, _ in SEGMENT_TABS if key != "cluster"}

UNIT_HINT = {
    math.MONEY: "In the book currency.",
    math.PCT: "In %, e.g. 85 for 85 %.",
    math.RATIO: "A ratio, e.g. 3 for 3 : 1.",
    math.POINTS: "In NPS points.",
}
FIELD_NAMES = {"target": "target", "benchmark": "industry benchmark"}


class KpiTargetForm(NamedErrorsMixin, forms.Form):
    """A KPI's target and benchmark, each within the KPI's bounds (``models_analytics.KPI_BOUNDS``: churn,
    retention and the repeat rate are shares, 0–100 %; margins can be negative but not above 100 %; ...)."""

    target = forms.DecimalField(required=False, max_digits=16, decimal_places=2, label="Target")
    benchmark = forms.DecimalField(required=False, max_digits=16, decimal_places=2, label="Industry benchmark")
    benchmark_source = forms.CharField(required=False, max_length=200, label="Benchmark source",
                                       help_text="Where the benchmark comes from, e.g. a survey and year.")
    tolerance_pct = forms.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"), initial=Decimal("10"),
        label="Amber tolerance (%)",
        help_text="Amber while the KPI misses its target by at most this % of the target; red beyond.",
    )
    shown = forms.BooleanField(required=False, initial=True, label="Show on the dashboard")

    def __init__(self, *args, kpi: math.KpiDef, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.kpi = kpi
        direction = "higher is better" if kpi.higher_is_better else "lower is better"
        allowed = f"From {kpi_range_text(kpi.key)}."
        self.fields["target"].help_text = (
            f"{UNIT_HINT[kpi.unit]} {allowed} {direction.capitalize()}. Blank: no target.")
        self.fields["benchmark"].help_text = f"{UNIT_HINT[kpi.unit]} {allowed} Blank: no benchmark."
        low, high = KPI_BOUNDS[kpi.key]
        for name in FIELD_NAMES:
            self.fields[name].widget.attrs.update({"min": f"{low:f}", "max": f"{high:f}", "step": "0.01"})

    def _bounded(self, name: str) -> Decimal | None:
        value = self.cleaned_data.get(name)
        message = kpi_value_error(self.kpi.key, FIELD_NAMES[name], value)
        if message:
            raise forms.ValidationError(message, code="out_of_range")
        return value

    def clean_target(self) -> Decimal | None:
        return self._bounded("target")

    def clean_benchmark(self) -> Decimal | None:
        return self._bounded("benchmark")


class WhatIfForm(forms.Form):
    """The what-if levers. Blank return rate and support calls mean "as now"."""

    account = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    segment = forms.CharField(required=False, max_length=140, label="Segment",
                              help_text="Or pick an account above.")
    price_pct = forms.DecimalField(
        required=False, max_digits=6, decimal_places=2, min_value=Decimal("-90"), max_value=Decimal("500"),
        label="Price change (%)", help_text="e.g. 5 for 5 % higher prices on orders and renewals.",
    )
    volume_pct = forms.DecimalField(
        required=False, max_digits=6, decimal_places=2, min_value=Decimal("-90"), max_value=Decimal("500"),
        label="Volume change (%)", help_text="Units per order; the number of orders stays the same.",
    )
    return_rate_pct = forms.DecimalField(
        required=False, max_digits=6, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"),
        label="Return rate (returns per 100 orders)", help_text="Blank: as now.",
    )
    support_calls = forms.IntegerField(
        required=False, min_value=0, max_value=100_000, label="Support calls a year",
        help_text="Per account. Blank: as now.",
    )

    def clean_segment(self) -> tuple[str, str] | None:
        raw = self.cleaned_data.get("segment") or ""
        if not raw:
            return None
        dimension, _, value = raw.partition("|")
        if dimension not in SEGMENT_DIMENSIONS or not value:
            raise forms.ValidationError("Pick a segment from the list.")
        return dimension, value

    def scenario(self) -> math.Scenario:
        data = self.cleaned_data
        return math.Scenario(
            price_pct=data.get("price_pct") or Decimal("0"), volume_pct=data.get("volume_pct") or Decimal("0"),
            return_rate_pct=data.get("return_rate_pct"), support_calls=data.get("support_calls"),
        )


class SegmentsFilter(forms.Form):
    dimension = forms.ChoiceField(required=False, choices=SEGMENT_TABS)
    sort = forms.ChoiceField(required=False, choices=list(SEGMENT_SORTS.items()))


class ChannelsFilter(forms.Form):
    period = forms.CharField(required=False, max_length=10)
    shift = forms.TypedChoiceField(required=False, coerce=int, choices=[(s, f"{s} %") for s in SHIFT_CHOICES])


class FunnelFilter(forms.Form):
    period = forms.CharField(required=False, max_length=10)
    channel = forms.IntegerField(required=False, min_value=1)


class LeadsFilter(forms.Form):
    stage = forms.ChoiceField(required=False, choices=[("", "Any open stage"), ("mql", "MQL"), ("sql", "SQL")])
    channel = forms.IntegerField(required=False, min_value=1)
