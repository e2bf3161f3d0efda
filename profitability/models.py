"""What admins configure (cost rates, tiers, CLV settings) and what the engine precomputes for pages to read.

Configuration models keep a full history (who, when, before, after) through django-simple-history.
"""

import math
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from crm.models import MONEY, ZERO, Account, Channel, InteractionChannel, InteractionKind

# A service level longer than this is a typo; a far bigger one pushes SLA due times past year 9999.
MAX_SLA_HOURS = 10_000


class CostRate(models.Model):
    """The cost of one activity (time-driven ABC): per interaction of a kind, or per unit it carries.

    Rates are effective-dated: a rate applies from ``effective_from`` until the next rate of the same
    activity, kind and channel. A channel-specific rate beats the any-channel one.
    """

    activity = models.CharField(max_length=60, help_text="e.g. Order handling, Shipping, Returns processing.")
    kind = models.CharField(max_length=20, choices=InteractionKind.choices)
    channel = models.CharField(
        max_length=12, choices=InteractionChannel.choices, blank=True, help_text="Blank: every channel."
    )
    per_unit = models.BooleanField(default=False, help_text="Charge per unit of quantity instead of per interaction.")
    rate = models.DecimalField(**MONEY, validators=[MinValueValidator(ZERO)])
    effective_from = models.DateField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["activity", "kind", "channel", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "kind", "channel", "effective_from"], name="cost_rate_unique_per_day"
            ),
            models.CheckConstraint(condition=Q(rate__gte=0), name="cost_rate_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.activity} ({self.get_kind_display()}) {self.rate} from {self.effective_from}"

    def as_input(self) -> "CostRateInput":  # noqa: F405 (imported below to keep models free of math)
        """The rate as the pure costing functions take it (blank channel = every channel)."""
        from .costing import CostRateInput

        return CostRateInput(self.activity, self.kind, self.channel or None, self.per_unit, self.rate,
                             self.effective_from)


class Tier(models.Model):
    """A service tier: a band of the profitability ranking with its service level. Every tier has an SLA."""

    name = models.CharField(max_length=40, unique=True)
    position = models.PositiveSmallIntegerField(unique=True, help_text="1 = the top tier.")
    upper_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text="Cumulative share of ranked accounts this tier reaches down to (top 5 % → 5; the last is 100).",
    )
    first_response_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SLA_HOURS)])
    resolution_hours = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_SLA_HOURS)])
    queue_priority = models.PositiveSmallIntegerField(help_text="1 is served first.")
    entitlements = models.TextField(help_text="One entitlement per line, e.g. 'Direct line to the account team'.")
    color = models.CharField(max_length=7, default="#888888")
    history = HistoricalRecords()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(condition=Q(upper_pct__gt=0, upper_pct__lte=100), name="tier_upper_pct_range"),
            models.CheckConstraint(
                condition=Q(resolution_hours__gte=models.F("first_response_hours")),
                name="tier_resolution_after_first_response",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def entitlement_list(self) -> list[str]:
        return [line.strip() for line in self.entitlements.splitlines() if line.strip()]


class ClvSettings(models.Model):
    """The one row of CLV and ranking settings."""

    class RankingMetric(models.TextChoices):
        NET_PROFIT_TTM = "net_profit_ttm", "Net profit, trailing 12 months"
        NET_PROFIT = "net_profit", "Net profit, lifetime"
        CLV_PREDICTIVE = "clv_predictive", "Predictive CLV"

    discount_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.1000"),
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("1"))],
        help_text="Annual discount rate, e.g. 0.10 for 10 %.",
    )
    horizon_months = models.PositiveSmallIntegerField(
        default=36, validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text="How far ahead predictive CLV looks.",
    )
    ranking_metric = models.CharField(
        max_length=20, choices=RankingMetric.choices, default=RankingMetric.NET_PROFIT_TTM
    )
    retention_override = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("0.9999"))],
        help_text="Annual retention for the formula CLV; blank = measured from the book.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "CLV settings"
        verbose_name_plural = "CLV settings"

    def __str__(self) -> str:
        return "CLV settings"

    @classmethod
    def current(cls) -> "ClvSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


FITS_CONSIDERED = 5  # latest fits of a model searched for usable parameters


class ClvModelFit(models.Model):
    """Fitted population parameters of a statistical CLV model (the latest row of a model is used)."""

    class Model(models.TextChoices):
        BG_NBD = "bg_nbd", "BG/NBD"
        GAMMA_GAMMA = "gamma_gamma", "Gamma-Gamma"
        SBG = "sbg", "Shifted-beta-geometric"

    model = models.CharField(max_length=12, choices=Model.choices)
    params = models.JSONField()
    log_likelihood = models.FloatField()
    sample_size = models.PositiveIntegerField()
    time_unit = models.CharField(max_length=10, help_text="weeks for BG/NBD, years for sBG, money for Gamma-Gamma.")
    converged = models.BooleanField()
    diagnostics = models.JSONField(default=dict, blank=True)
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-fitted_at"]
        indexes = [models.Index(fields=["model", "-fitted_at"])]

    def __str__(self) -> str:
        return f"{self.get_model_display()} fitted {self.fitted_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def params_usable(params: dict) -> bool:
        """Finite, positive parameters: what predictions can use, converged or not (see ``latest_fits``)."""
        return bool(params) and all(math.isfinite(float(v)) and float(v) > 0 for v in params.values())


class ChannelCac(models.Model):
    """Customer acquisition cost of a channel in a quarter: spend / accounts acquired."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="cac")
    quarter_start = models.DateField()
    spend = models.DecimalField(**MONEY)
    acquired = models.PositiveIntegerField()
    cac = models.DecimalField(**MONEY, null=True, help_text="Empty when nobody was acquired.")

    class Meta:
        ordering = ["-quarter_start", "channel__name"]
        constraints = [models.UniqueConstraint(fields=["channel", "quarter_start"], name="channel_cac_unique")]

    def __str__(self) -> str:
        return f"{self.channel} {self.quarter_start}: {self.cac}"


class AccountSnapshot(models.Model):
    """The latest figures of one account, and the history version they were computed from."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="snapshot")
    computed_version = models.PositiveBigIntegerField(default=0)
    computed_at = models.DateTimeField()
    as_of = models.DateField()
    # lifetime
    revenue = models.DecimalField(**MONEY, default=ZERO)
    returns = models.DecimalField(**MONEY, default=ZERO)
    cogs = models.DecimalField(**MONEY, default=ZERO)
    gross_margin = models.DecimalField(**MONEY, default=ZERO)
    cost_to_serve = models.DecimalField(**MONEY, default=ZERO)
    net_profit = models.DecimalField(**MONEY, default=ZERO)
    net_margin_pct = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    orders = models.PositiveIntegerField(default=0)
    # trailing twelve months
    revenue_ttm = models.DecimalField(**MONEY, default=ZERO)
    returns_ttm = models.DecimalField(**MONEY, default=ZERO)
    cogs_ttm = models.DecimalField(**MONEY, default=ZERO)
    gross_margin_ttm = models.DecimalField(**MONEY, default=ZERO)
    cost_to_serve_ttm = models.DecimalField(**MONEY, default=ZERO)
    net_profit_ttm = models.DecimalField(**MONEY, default=ZERO)
    orders_ttm = models.PositiveIntegerField(default=0)
    cost_breakdown = models.JSONField(default=dict, help_text="{activity: {count, cost}} lifetime.")
    cost_breakdown_ttm = models.JSONField(default=dict)
    first_order_at = models.DateTimeField(null=True)
    last_order_at = models.DateTimeField(null=True)
    last_interaction_at = models.DateTimeField(null=True)
    # acquisition and lifetime value
    cac = models.DecimalField(**MONEY, null=True)
    clv_historical = models.DecimalField(**MONEY, default=ZERO, help_text="Net profit to date.")
    clv_formula = models.DecimalField(**MONEY, null=True, help_text="m·r/(1+d−r), m = TTM net profit.")
    clv_predictive = models.DecimalField(**MONEY, null=True)
    clv_model = models.CharField(max_length=12, blank=True, help_text="bg_nbd+gg or sbg.")
    p_alive = models.FloatField(null=True)
    expected_purchases_12m = models.FloatField(null=True)
    clv_cac_ratio = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    # rank and tier
    rank = models.PositiveIntegerField(null=True)
    top_share_pct = models.FloatField(null=True, help_text="(rank − 1) / active accounts × 100.")
    # No index of its own: snapshot_tier_profit (tier first) serves lookups by tier, and every index is
    # rewritten for each of the book recompute's 100,000 snapshot updates.
    tier = models.ForeignKey(Tier, null=True, on_delete=models.SET_NULL, related_name="snapshots", db_index=False)
    explanation = models.JSONField(default=list)

    class Meta:
        indexes = [
            models.Index(fields=["tier", "-net_profit_ttm"], name="snapshot_tier_profit"),
            models.Index(fields=["-net_profit_ttm"], name="snapshot_profit_ttm"),
            models.Index(fields=["-net_profit"], name="snapshot_profit"),
            # The account list's sort by tier; its NULLS LAST sorts have PostgreSQL-only indexes created by
            # migration 0003 (snapshot_clv_shown, snapshot_clv_cac, snapshot_last_interaction).
            models.Index(fields=["rank", "account"], name="snapshot_rank"),
        ]

    def __str__(self) -> str:
        return f"Snapshot of {self.account_id} v{self.computed_version}"

    @property
    def clv_cac_below_target(self) -> bool:
        return self.clv_cac_ratio is not None and self.clv_cac_ratio < 3


class RolledUpAccount(models.Model):
    """An account whose interactions are also kept summed by month (:class:`InteractionMonth`), so that its
    recompute reads a few dozen sums instead of thousands of rows. See ``profitability.rollup``."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="+")
    enrolled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Monthly sums of account {self.account_id}"


class InteractionMonth(models.Model):
    """A rolled-up account's interactions of one kind and channel in one UTC month, summed. Written only by
    the triggers on crm_interaction (migration 0009) and by enrolment; never edited by hand."""

    pk = models.CompositePrimaryKey("account", "kind", "channel", "month")
    # Deleted with the enrolment by the database (ON DELETE CASCADE, made by migration 0009), not by Django's
    # collector: deleting an account also deletes its interactions, and if the collector removed the months
    # first, the interactions' triggers would write them back as negative rows. The triggers remove a month's
    # row when its last interaction goes. No index of its own: the primary key starts with it.
    account = models.ForeignKey(RolledUpAccount, on_delete=models.DO_NOTHING, related_name="months", db_index=False,
                                db_constraint=False)
    kind = models.CharField(max_length=20)
    channel = models.CharField(max_length=12)
    month = models.DateTimeField(help_text="The month's first instant, UTC.")
    n = models.IntegerField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    direct_cost = models.DecimalField(max_digits=18, decimal_places=2)
    units = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind}/{self.channel} {self.month:%Y-%m}: {self.n}"


class TierChange(models.Model):
    """An account moved between tiers, and the figures that moved it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, on_delete=models.SET_NULL, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()
    metric = models.CharField(max_length=20)
    metric_value = models.DecimalField(**MONEY, null=True)
    top_share_pct = models.FloatField(null=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["account", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.from_tier} → {self.to_tier}"


class SegmentPnl(models.Model):
    """Aggregated P&L of one segment value (an industry, a region, a tier, ...), ranked by net profit."""

    class Dimension(models.TextChoices):
        INDUSTRY = "industry", "Industry"
        REGION = "region", "Region"
        SEGMENT = "segment", "Segment / persona"
        CHANNEL = "channel", "Acquisition channel"
        TIER = "tier", "Tier"
        CLUSTER = "cluster", "Cluster"

    dimension = models.CharField(max_length=10, choices=Dimension.choices)
    value = models.CharField(max_length=120)
    accounts = models.PositiveIntegerField()
    revenue = models.DecimalField(**MONEY)
    gross_margin = models.DecimalField(**MONEY)
    cost_to_serve = models.DecimalField(**MONEY)
    net_profit = models.DecimalField(**MONEY)
    net_margin_pct = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    net_profit_per_account = models.DecimalField(**MONEY)
    rank = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["dimension", "rank"]
        constraints = [models.UniqueConstraint(fields=["dimension", "value"], name="segment_pnl_unique")]

    def __str__(self) -> str:
        return f"{self.dimension}={self.value}: {self.net_profit}"


class BookSummary(models.Model):
    """Book-wide figures of the last full ranking: whale curve, tier floors, medians, retention."""

    computed_at = models.DateTimeField()
    as_of = models.DateField()
    active_accounts = models.PositiveIntegerField()
    total_net_profit = models.DecimalField(**MONEY)
    ranking_metric = models.CharField(max_length=20)
    whale_curve = models.JSONField(help_text="{customer_pct: [...], cumulative_profit_pct: [...]}")
    peak_profit_pct = models.FloatField()
    peak_customer_pct = models.FloatField()
    top20_profit_pct = models.FloatField()
    break_even_customer_pct = models.FloatField(null=True)
    loss_makers = models.PositiveIntegerField()
    tier_floors = models.JSONField(help_text="{tier_id: lowest metric value in the tier}.")
    tier_runners_up = models.JSONField(
        default=dict, help_text="{tier_id: best metric value just below the tier} (one-account recomputes)."
    )
    metric_quantiles = models.JSONField(help_text="Sorted (descending) sample of metric values for top-share lookups.")
    tier_median_counts = models.JSONField(help_text="{tier_id: {activity: median count per account}} (lifetime).")
    annual_retention = models.FloatField(null=True)

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Book summary {self.computed_at:%Y-%m-%d %H:%M}"


from .models_analytics import *  # noqa: E402,F401,F403  (analytics models; names in models_analytics.__all__)
