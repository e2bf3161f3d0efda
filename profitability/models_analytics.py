"""Analytics: KPI targets admins set, and the aggregates the nightly refresh precomputes for the pages.

Pages read only these rows (and the engine's ``BookSummary`` / ``SegmentPnl``), never the interactions, so
they stay fast at any book size. ``services_analytics.analytics_refresh`` rewrites the aggregates;
``lead_scoring`` writes the models and scores. Imported at the bottom of ``profitability.models``.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from crm.models import MONEY, ZERO, Channel, Lead

from . import analytics as kpi_math
from .analytics import KPI_BY_KEY, KPIS

KPI_VALUE = {"max_digits": 16, "decimal_places": 2}
KPI_CHOICES = [(k.key, k.label) for k in KPIS]
SEGMENT_DIMENSIONS = [
    ("industry", "Industry"), ("region", "Region"), ("segment", "Segment / persona"),
    ("channel", "Acquisition channel"), ("tier", "Tier"),
]

# The values a target or benchmark of each KPI can take, from what the KPI measures (profitability/analytics.py):
# shares of a whole stay within 0–100 %; money per customer or order can't be negative (CLV can: a customer
# can lose money over its lifetime); a margin can't exceed 100 % (costs are never negative) but is negative
# when costs exceed the revenue; the cost-to-serve share exceeds 100 % when serving costs more than the revenue.
_HUNDRED = Decimal("100")
_MONEY_LIMIT = Decimal("1000000000")
KPI_BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    "clv": (-_MONEY_LIMIT, _MONEY_LIMIT),
    "cac": (ZERO, _MONEY_LIMIT),  # spend / customers acquired
    "clv_cac": (ZERO, Decimal("1000")),  # a ratio to aim for: below 0 means nothing
    "arpu": (ZERO, _MONEY_LIMIT),
    "aov": (ZERO, _MONEY_LIMIT),
    "repeat_rate": (ZERO, _HUNDRED),  # a share of the buyers
    "retention": (ZERO, _HUNDRED),  # a share of last year's customers
    "churn": (ZERO, _HUNDRED),  # 100 % − retention
    "nps": (-_HUNDRED, _HUNDRED),  # % promoters − % detractors
    "gross_margin_pct": (Decimal("-1000"), _HUNDRED),
    "net_margin_pct": (Decimal("-1000"), _HUNDRED),
    "cts_share_pct": (ZERO, Decimal("1000")),  # cost-to-serve / revenue
}


def kpi_range_text(kpi: str) -> str:
    """The allowed range of a KPI's target and benchmark in words: "0 to 100 %", "−100 to 100"."""
    low, high = KPI_BOUNDS[kpi]
    unit = KPI_BY_KEY[kpi].unit
    suffix = " %" if unit == kpi_math.PCT else (f" {settings.TIERWISE_CURRENCY}" if unit == kpi_math.MONEY else "")
    return f"{low:,.0f} to {high:,.0f}{suffix}".replace("-", "−")


def kpi_value_error(kpi: str, field_label: str, value: Decimal | None) -> str | None:
    """The message when ``value`` is outside the KPI's bounds (naming the field and the range), else None."""
    if value is None or kpi not in KPI_BOUNDS:
        return None
    low, high = KPI_BOUNDS[kpi]
    if low <= value <= high:
        return None
    return f"The {field_label} for {KPI_BY_KEY[kpi].label} must be from {kpi_range_text(kpi)}."


__all__ = [
    "AnalyticsRefresh", "FunnelStat", "KpiMonth", "KpiTarget", "LeadScore", "LeadScoringModel", "SegmentYear",
]


class KpiTarget(models.Model):
    """An admin's target and the industry benchmark for one KPI, with its red/amber/green tolerance."""

    kpi = models.CharField(max_length=20, choices=KPI_CHOICES, unique=True)
    target = models.DecimalField(**KPI_VALUE, null=True, blank=True, help_text="Blank: no target.")
    benchmark = models.DecimalField(**KPI_VALUE, null=True, blank=True, help_text="Industry benchmark; blank: none.")
    benchmark_source = models.CharField(max_length=200, blank=True, help_text="Where the benchmark comes from.")
    tolerance_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("10"),
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))],
        help_text="Amber while the KPI misses its target by at most this % of the target; red beyond.",
    )
    shown = models.BooleanField(default=True, help_text="Show this KPI on the dashboard.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["kpi"]

    def __str__(self) -> str:
        return f"{self.get_kpi_display()}: target {self.target}, benchmark {self.benchmark}"

    def clean(self) -> None:
        errors = {name: message for name, label in (("target", "target"), ("benchmark", "industry benchmark"))
                  if (message := kpi_value_error(self.kpi, label, getattr(self, name)))}
        if errors:
            raise ValidationError(errors)


class KpiMonth(models.Model):
    """One month of the book: the figures the KPIs come from, and every KPI's value (None = not defined)."""

    month = models.DateField(unique=True, help_text="First day of the month.")
    revenue = models.DecimalField(**MONEY)
    returns = models.DecimalField(**MONEY)
    cogs = models.DecimalField(**MONEY)
    cost_to_serve = models.DecimalField(**MONEY)
    net_profit = models.DecimalField(**MONEY)
    orders = models.PositiveIntegerField()
    order_revenue = models.DecimalField(**MONEY)
    customers = models.PositiveIntegerField()
    promoters = models.PositiveIntegerField()
    detractors = models.PositiveIntegerField()
    responses = models.PositiveIntegerField()
    spend = models.DecimalField(**MONEY)
    acquired = models.PositiveIntegerField()
    complete_ttm = models.BooleanField(help_text="The history covers the 12 months ending with this month.")
    net_profit_ttm = models.DecimalField(**MONEY)
    spend_ttm = models.DecimalField(**MONEY)
    acquired_ttm = models.PositiveIntegerField()
    customers_ttm = models.PositiveIntegerField()
    base_ttm = models.PositiveIntegerField()
    retained_ttm = models.PositiveIntegerField()
    buyers_ttm = models.PositiveIntegerField()
    repeat_buyers_ttm = models.PositiveIntegerField()
    # the KPIs (keys of analytics.KPIS)
    clv = models.DecimalField(**KPI_VALUE, null=True)
    cac = models.DecimalField(**KPI_VALUE, null=True)
    clv_cac = models.DecimalField(**KPI_VALUE, null=True)
    arpu = models.DecimalField(**KPI_VALUE, null=True)
    aov = models.DecimalField(**KPI_VALUE, null=True)
    repeat_rate = models.DecimalField(**KPI_VALUE, null=True)
    retention = models.DecimalField(**KPI_VALUE, null=True)
    churn = models.DecimalField(**KPI_VALUE, null=True)
    nps = models.DecimalField(**KPI_VALUE, null=True)
    gross_margin_pct = models.DecimalField(**KPI_VALUE, null=True)
    net_margin_pct = models.DecimalField(**KPI_VALUE, null=True)
    cts_share_pct = models.DecimalField(**KPI_VALUE, null=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["month"]

    def __str__(self) -> str:
        return f"KPIs {self.month:%Y-%m}"


class FunnelStat(models.Model):
    """The lead cohort of one period (leads that became MQL in it) and one channel (null: every channel), with
    the channel's spend, customers acquired and their CLV in the same period."""

    period = models.CharField(max_length=10, help_text='"all", "ttm", a year "2025" or a quarter "2025-Q3".')
    period_label = models.CharField(max_length=40)
    period_start = models.DateField(null=True)
    period_end = models.DateField(null=True, help_text="Inclusive.")
    channel = models.ForeignKey(Channel, null=True, on_delete=models.CASCADE, related_name="+")
    leads = models.PositiveIntegerField()
    reached_sql = models.PositiveIntegerField()
    won = models.PositiveIntegerField()
    lost = models.PositiveIntegerField()
    open_mql = models.PositiveIntegerField()
    open_sql = models.PositiveIntegerField()
    median_days_mql = models.FloatField(null=True)
    median_days_sql = models.FloatField(null=True)
    median_days_to_win = models.FloatField(null=True)
    spend = models.DecimalField(**MONEY)
    acquired = models.PositiveIntegerField()
    clv_total = models.DecimalField(max_digits=18, decimal_places=2)
    clv_accounts = models.PositiveIntegerField()
    sort_key = models.PositiveIntegerField(help_text="Orders the period picker: all, ttm, years, quarters.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["sort_key", "channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["period", "channel"], name="funnel_stat_unique", nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"Funnel {self.period} {self.channel_id or 'all'}"


class SegmentYear(models.Model):
    """The last 12 months of one segment's active accounts, split the way the what-if levers need it."""

    dimension = models.CharField(max_length=10, choices=SEGMENT_DIMENSIONS)
    value = models.CharField(max_length=120)
    accounts = models.PositiveIntegerField()
    order_revenue = models.DecimalField(max_digits=18, decimal_places=2)
    order_cogs = models.DecimalField(max_digits=18, decimal_places=2)
    orders = models.PositiveIntegerField()
    renewal_revenue = models.DecimalField(max_digits=18, decimal_places=2)
    renewal_cogs = models.DecimalField(max_digits=18, decimal_places=2)
    return_amount = models.DecimalField(max_digits=18, decimal_places=2)
    return_cogs = models.DecimalField(max_digits=18, decimal_places=2)
    returns = models.PositiveIntegerField()
    support_calls = models.PositiveIntegerField()
    activities = models.JSONField(help_text="{activity: {count, cost}} over the 12 months.")
    net_profit = models.DecimalField(max_digits=18, decimal_places=2, help_text="Lifetime, summed.")
    clv_predictive = models.DecimalField(max_digits=18, decimal_places=2, help_text="Summed where known.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["dimension", "value"]
        constraints = [models.UniqueConstraint(fields=["dimension", "value"], name="segment_year_unique")]

    def __str__(self) -> str:
        return f"{self.dimension}={self.value}"


class LeadScoringModel(models.Model):
    """A trained lead-scoring model: its parameters (linear, so scoring needs no pickles) and its accuracy."""

    trained_at = models.DateTimeField()
    params = models.JSONField()
    metrics = models.JSONField(help_text="Hold-out accuracy: R², MAE (and a mean-only baseline), AUC per stage.")
    train_size = models.PositiveIntegerField()
    holdout_size = models.PositiveIntegerField()

    class Meta:
        ordering = ["-trained_at"]
        get_latest_by = "trained_at"

    def __str__(self) -> str:
        return f"Lead scoring model {self.trained_at:%Y-%m-%d %H:%M}"


class LeadScore(models.Model):
    """An open lead's expected value: P(win) × the predicted lifetime value of a customer like it."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="score")
    model = models.ForeignKey(LeadScoringModel, on_delete=models.CASCADE, related_name="scores")
    p_win = models.FloatField()
    predicted_value = models.DecimalField(**MONEY)
    expected_value = models.DecimalField(**MONEY)
    reasons = models.JSONField(default=list, help_text='[{"feature", "value", "effect"}], biggest effect first.')
    scored_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["-expected_value"], name="lead_score_ev")]

    def __str__(self) -> str:
        return f"Lead {self.lead_id}: {self.expected_value}"


class AnalyticsRefresh(models.Model):
    """One run of the analytics refresh: when, on which book, and how long each part took."""

    computed_at = models.DateTimeField()
    as_of = models.DateField()
    book_computed_at = models.DateTimeField(null=True, help_text="The BookSummary the figures are based on.")
    months = models.PositiveIntegerField()
    seconds = models.JSONField(default=dict)

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Analytics refresh {self.computed_at:%Y-%m-%d %H:%M}"
