"""Loyalty programs and their points ledger, upsell/cross-sell opportunities, segments and campaigns.

Configuration (programs, rules, rewards, segments, campaigns) keeps a full history through
django-simple-history. The points ledger is append-only: entries are never updated or deleted (a database
trigger refuses it on PostgreSQL) and an enrolment's balance is always the sum of its entries.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from crm.models import MONEY, ZERO, Account, InteractionChannel, Product
from profitability.models import Tier

PCT = {"max_digits": 5, "decimal_places": 2}
# The longest day count a segment window or a points validity may span (100 years): today − N days must stay
# after year 1, or the date math raises OverflowError and takes the pages and housekeeping using it down.
MAX_DAYS = 36_500


# --- segments ------------------------------------------------------------------------------------------------


class ClusteringRun(models.Model):
    """One k-means clustering of the book; its clusters are segments of kind ``cluster``."""

    computed_at = models.DateTimeField()
    seed = models.PositiveIntegerField()
    accounts = models.PositiveIntegerField()
    k = models.PositiveSmallIntegerField(help_text="The number of clusters with the best silhouette.")
    silhouette = models.FloatField()
    silhouette_by_k = models.JSONField(help_text="{k: mean silhouette} for every k tried.")
    features = models.JSONField(help_text="Feature names, in the order of the centroids.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Clustering of {self.computed_at:%Y-%m-%d %H:%M} (k={self.k})"


class Segment(models.Model):
    """A saved rule-based filter over the book, or one cluster of a clustering run."""

    class Kind(models.TextChoices):
        RULES = "rules", "Rule-based"
        CLUSTER = "cluster", "Cluster"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.RULES)
    description = models.TextField(blank=True, help_text="For clusters: the cluster described in words.")
    criteria = models.JSONField(default=dict, blank=True, help_text="The filter (see campaigns.segmentation).")
    clustering_run = models.ForeignKey(
        ClusteringRun, null=True, blank=True, on_delete=models.PROTECT, related_name="segments"
    )
    cluster_index = models.PositiveSmallIntegerField(null=True, blank=True)
    centroid = models.JSONField(null=True, blank=True, help_text="{feature: mean value} of the cluster.")
    archived = models.BooleanField(default=False, help_text="Hidden from pickers (e.g. clusters of an older run).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["centroid"])

    class Meta:
        ordering = ["archived", "kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="rules", clustering_run__isnull=True)
                | Q(kind="cluster", clustering_run__isnull=False, cluster_index__isnull=False),
                name="segment_cluster_has_run",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """Membership of a cluster segment, frozen at clustering time (rule segments are evaluated live)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "account"], name="segment_member_unique")]
        indexes = [models.Index(fields=["account"], name="segment_member_account")]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.segment_id}"


class AccountFeatures(models.Model):
    """Behaviour features of one account, recomputed with the book patterns and after each history change.

    Recency/frequency/monetary over the trailing twelve months plus return rate and support load; segments
    filter on them and clustering uses them with the snapshot's profitability figures.
    """

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="campaign_features"
    )
    computed_at = models.DateTimeField()
    computed_version = models.PositiveBigIntegerField(
        default=0, help_text="The account's history version the features (and its opportunities) were built from."
    )
    recency_days = models.PositiveIntegerField(null=True, help_text="Days since the last order; empty if none.")
    orders_ttm = models.PositiveIntegerField(default=0)
    net_revenue_ttm = models.DecimalField(**MONEY, default=ZERO)
    return_rate = models.FloatField(default=0.0, help_text="Returned value / order value, trailing 12 months.")
    support_contacts_ttm = models.PositiveIntegerField(default=0, help_text="Support calls and e-mails.")
    complaints_ttm = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "account features"

    def __str__(self) -> str:
        return f"Features of {self.account_id}"


# --- loyalty ---------------------------------------------------------------------------------------------------


class LoyaltyProgram(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT, db_index=True)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    eligible_tiers = models.ManyToManyField(Tier, blank=True, related_name="+", help_text="None: every tier.")
    eligible_segments = models.ManyToManyField(
        Segment, blank=True, related_name="+", help_text="None: every segment."
    )
    min_clv = models.DecimalField(
        # The validator reports a negative minimum on the field; the CHECK below would only say its own name.
        **MONEY, null=True, blank=True, validators=[MinValueValidator(ZERO)],
        help_text="Minimum CLV; empty: no minimum.",
    )
    auto_enrol = models.BooleanField(default=False, help_text="Enrol every eligible account automatically.")
    point_value = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0.0100"), validators=[MinValueValidator(ZERO)],
        help_text="What one point is worth, for the points liability.",
    )
    points_validity_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)],
        help_text="Earned points expire after this many days; empty: never.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(m2m_fields=[eligible_tiers, eligible_segments])

    class Meta:
        ordering = ["status", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="program_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(min_clv__isnull=True) | Q(min_clv__gte=0), name="program_min_clv"),
        ]

    def __str__(self) -> str:
        return self.name


class EarningRule(models.Model):
    """How a program awards points for one kind of interaction."""

    class Trigger(models.TextChoices):
        NET_REVENUE = "net_revenue", "Per currency unit of net revenue"
        ON_TIME_PAYMENT = "on_time_payment", "Per on-time payment"
        RENEWAL = "renewal", "Per contract renewal"
        SURVEY = "survey", "Per survey answered"
        PROMOTION_RESPONSE = "promotion_response", "Per promotion response"

    program = models.ForeignKey(LoyaltyProgram, on_delete=models.CASCADE, related_name="rules")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    points = models.DecimalField(
        max_digits=10, decimal_places=4, validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="Points per event, or per currency unit for net revenue (0.1 = one point per 10).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["program", "trigger"]
        constraints = [
            models.UniqueConstraint(fields=["program", "trigger"], name="earning_rule_unique"),
            models.CheckConstraint(condition=Q(points__gt=0), name="earning_rule_points_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()}: {self.points}"


class Reward(models.Model):
    class Kind(models.TextChoices):
        DISCOUNT = "discount", "Discount"
        FREE_SERVICE = "free_service", "Free service"
        TIER_UPGRADE = "tier_upgrade", "Temporary tier upgrade"

    program = models.ForeignKey(LoyaltyProgram, on_delete=models.CASCADE, related_name="rewards")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    point_cost = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    discount_pct = models.DecimalField(
        **PCT, null=True, blank=True, validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)]
    )
    upgrade_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    upgrade_days = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["program", "point_cost", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="reward_name_unique"),
            models.CheckConstraint(condition=Q(point_cost__gt=0), name="reward_cost_positive"),
            models.CheckConstraint(
                condition=~Q(kind="discount") | Q(discount_pct__isnull=False), name="reward_discount_has_pct"
            ),
            models.CheckConstraint(
                condition=~Q(kind="tier_upgrade") | Q(upgrade_tier__isnull=False, upgrade_days__isnull=False),
                name="reward_upgrade_has_tier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.point_cost} points)"


class Enrolment(models.Model):
    class Method(models.TextChoices):
        MANUAL = "manual", "Manual"
        AUTOMATIC = "automatic", "Automatic"

    program = models.ForeignKey(LoyaltyProgram, on_delete=models.PROTECT, related_name="enrolments")
    # PROTECT: a points ledger is a financial record; an account with one is churned, not deleted.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="loyalty_enrolments")
    enrolled_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=Method.choices)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accrued_version = models.PositiveBigIntegerField(
        default=0, help_text="The account's history version the points were last accrued from."
    )

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [models.UniqueConstraint(fields=["program", "account"], name="enrolment_unique")]
        indexes = [models.Index(fields=["account"], name="enrolment_account")]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.program_id}"


class LedgerEntry(models.Model):
    """One movement of points. Append-only; the balance is the sum of an enrolment's entries.

    Accrual entries carry the rule and the source interaction id (not a foreign key: the interaction may be
    deleted, and its reversal must still point at it) and a revision: the n-th entry for that
    (enrolment, rule, interaction). Accrual appends the difference between what the interaction is worth now
    and the sum of its entries so far, at the next revision — the unique key makes a second, concurrent
    processing of the same change fail instead of awarding twice.
    """

    class Kind(models.TextChoices):
        EARN = "earn", "Earned"
        REVERSE = "reverse", "Reversed"
        REDEEM = "redeem", "Redeemed"
        EXPIRE = "expire", "Expired"
        ADJUST = "adjust", "Adjusted"

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    points = models.IntegerField()
    occurred_at = models.DateTimeField(help_text="When the points were earned (the interaction's time) or moved.")
    recorded_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    rule = models.ForeignKey(EarningRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source_interaction_id = models.BigIntegerField(null=True, blank=True)
    revision = models.PositiveSmallIntegerField(null=True, blank=True)
    rate = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True,
        help_text="The rule's points when first earned; later revisions of the same source keep it.",
    )
    reward = models.ForeignKey(Reward, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["enrolment", "occurred_at"], name="ledger_enrolment_time"),
            models.Index(fields=["kind", "occurred_at"], name="ledger_kind_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "rule", "source_interaction_id", "revision"],
                condition=Q(source_interaction_id__isnull=False),
                name="ledger_accrual_unique",
            ),
            models.CheckConstraint(condition=~Q(points=0), name="ledger_points_nonzero"),
            models.CheckConstraint(
                condition=(Q(kind="earn", points__gt=0) | Q(kind__in=["reverse", "redeem", "expire"], points__lt=0)
                           | Q(kind="adjust")),
                name="ledger_sign_by_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["earn", "reverse"])
                | Q(rule__isnull=False, source_interaction_id__isnull=False, revision__isnull=False),
                name="ledger_accrual_has_source",
            ),
            models.CheckConstraint(condition=~Q(kind="redeem") | Q(reward__isnull=False), name="ledger_redeem_reward"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise ValueError("The points ledger is append-only: entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("The points ledger is append-only: entries are never deleted.")


class RewardGrant(models.Model):
    """A temporary tier upgrade bought with points: the account is served as ``tier`` until ``valid_until``."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="grant")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()

    class Meta:
        ordering = ["-valid_until"]
        indexes = [models.Index(fields=["account", "valid_until"], name="grant_account_until")]

    def __str__(self) -> str:
        return f"{self.tier} for {self.account_id} until {self.valid_until:%Y-%m-%d}"


# --- opportunities -------------------------------------------------------------------------------------------


class AssociationRule(models.Model):
    """Products bought together: among accounts of the scope that buy ``antecedent``, how many buy ``consequent``.

    Computed over the whole book (scope empty) and per tier × industry where there are enough accounts.
    """

    antecedent = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    consequent = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    industry = models.CharField(max_length=80, blank=True)
    baskets = models.PositiveIntegerField(help_text="Accounts with at least one order in the scope.")
    antecedent_count = models.PositiveIntegerField()
    both_count = models.PositiveIntegerField()
    support = models.FloatField()
    confidence = models.FloatField()
    lift = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-lift"]
        constraints = [
            models.UniqueConstraint(
                fields=["antecedent", "consequent", "tier", "industry"], nulls_distinct=False,
                name="association_rule_unique",
            ),
        ]
        indexes = [models.Index(fields=["antecedent", "tier", "industry"], name="rule_antecedent_scope")]

    def __str__(self) -> str:
        return f"{self.antecedent_id} → {self.consequent_id} (lift {self.lift:.2f})"


class ProductStat(models.Model):
    """What a product typically earns per buying account (trailing 12 months), for expected margins."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, primary_key=True, related_name="+")
    buyers_ttm = models.PositiveIntegerField()
    median_margin_ttm = models.DecimalField(**MONEY, help_text="Median gross margin per buying account.")
    median_quantity_ttm = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Stats of {self.product_id}"


class PeerProductStat(models.Model):
    """Share of a peer group (same segment, industry and size) buying a product in the trailing 12 months."""

    segment = models.CharField(max_length=80, blank=True)
    industry = models.CharField(max_length=80, blank=True)
    employee_band = models.CharField(max_length=12, blank=True)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    peers = models.PositiveIntegerField(help_text="Active accounts in the group.")
    buyers = models.PositiveIntegerField()
    share = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "industry", "employee_band", "product"], name="peer_stat_unique")
        ]

    def __str__(self) -> str:
        return f"{self.product_id} in {self.segment}/{self.industry}/{self.employee_band}: {self.share:.0%}"


class Opportunity(models.Model):
    class Source(models.TextChoices):
        BOUGHT_TOGETHER = "together", "Often bought together"
        PEERS = "peers", "Similar accounts buy it"
        UPGRADE = "upgrade", "Upgrade within the family"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PURSUED = "pursued", "Pursued"
        WON = "won", "Won"
        DISMISSED = "dismissed", "Dismissed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    from_product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    probability = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    expected_margin = models.DecimalField(**MONEY, help_text="Probability × the margin it would bring in a year.")
    reason = models.CharField(max_length=400)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    generated_at = models.DateTimeField()

    class Meta:
        ordering = ["-expected_margin"]
        verbose_name_plural = "opportunities"
        constraints = [
            # One per account and product, whatever its status: a dismissed one is never generated again.
            models.UniqueConstraint(fields=["account", "product"], name="opportunity_account_product"),
            models.CheckConstraint(condition=Q(probability__gte=0, probability__lte=1), name="opportunity_probability"),
        ]
        indexes = [
            models.Index(fields=["status", "-expected_margin"], name="opportunity_status_margin"),
            models.Index(fields=["account", "status"], name="opportunity_account_status"),
        ]

    def __str__(self) -> str:
        return f"{self.product} for {self.account_id}"


# --- campaigns -----------------------------------------------------------------------------------------------


class Campaign(models.Model):
    class Offer(models.TextChoices):
        VOLUME_DISCOUNT = "volume_discount", "Volume discount"
        BUNDLE = "bundle", "Bundle"
        LOYALTY_BONUS = "loyalty_bonus", "Loyalty bonus"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PILOT = "pilot", "Pilot (first stage)"
        EXPANDED = "expanded", "Rolled out to everyone"
        STOPPED = "stopped", "Stopped"

    name = models.CharField(max_length=120, unique=True)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="campaigns")
    offer = models.CharField(max_length=16, choices=Offer.choices)
    channel = models.CharField(max_length=12, choices=InteractionChannel.choices)
    description = models.TextField(blank=True)
    loyalty_program = models.ForeignKey(
        LoyaltyProgram, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns",
        help_text="For a loyalty bonus: the program whose members get the bonus.",
    )
    pilot_pct = models.DecimalField(
        **PCT, default=Decimal("20.00"), validators=[MinValueValidator(Decimal("1")), MaxValueValidator(100)],
        help_text="Share of the segment in the first stage.",
    )
    response_window_days = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="How long after the offer a response, revenue and profit count.",
    )
    cost_per_contact = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(ZERO)],
        help_text="What reaching one account costs (a mailing, a call); empty: the marketing-touch cost rate "
                  "of the channel on the day the account is contacted.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    expanded_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(pilot_pct__gt=0, pilot_pct__lte=100), name="campaign_pilot_pct"),
            models.CheckConstraint(condition=Q(cost_per_contact__isnull=True) | Q(cost_per_contact__gte=0),
                                   name="campaign_cost_per_contact"),
            models.CheckConstraint(
                condition=~Q(offer="loyalty_bonus") | Q(loyalty_program__isnull=False),
                name="campaign_bonus_has_program",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignVariant(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20, help_text="A, B, Control, ...")
    description = models.CharField(max_length=300, help_text="What this variant offers.")
    discount_pct = models.DecimalField(
        **PCT, null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    bonus_points = models.PositiveIntegerField(null=True, blank=True)
    weight = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Relative share."
    )
    contacted = models.BooleanField(
        default=True, help_text="Untick for a hold-out control that is not contacted (and costs nothing).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="variant_label_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.label


class CampaignAssignment(models.Model):
    """Which variant an account gets and in which stage, from a stable hash (see campaigns.rollout)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(CampaignVariant, on_delete=models.CASCADE, related_name="assignments")
    stage = models.PositiveSmallIntegerField(help_text="1 = pilot, 2 = the rest of the segment.")
    assigned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "account"], name="assignment_unique"),
            models.CheckConstraint(condition=Q(stage__in=[1, 2]), name="assignment_stage"),
        ]
        indexes = [models.Index(fields=["campaign", "variant"], name="assignment_variant")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.variant_id} (stage {self.stage})"
