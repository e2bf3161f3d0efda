"""The CRM records: who the customers are and every touchpoint with them.

These models know nothing of the profitability or campaign engines built on top of them. Money is
``Decimal`` with two places in the one configured currency (``settings.TIERWISE_CURRENCY``).
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .countries import validate_country_code

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


def new_external_id() -> str:
    """External id for records entered in Tierwise itself (source system ``tierwise``)."""
    return uuid.uuid4().hex


TIERWISE_SOURCE = "tierwise"


class Channel(models.Model):
    """An acquisition / marketing channel (trade show, paid search, referral, partner, ...)."""

    name = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EmployeeBand(models.TextChoices):
    MICRO = "1-49", "1–49"
    SMALL = "50-249", "50–249"
    MID = "250-999", "250–999"
    LARGE = "1000-4999", "1,000–4,999"
    ENTERPRISE = "5000+", "5,000+"


class Account(models.Model):
    """A B2B customer company."""

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        CHURNED = "churned", "Churned"

    class Relationship(models.TextChoices):
        REPEAT = "repeat", "Repeat purchase"
        CONTRACTUAL = "contractual", "Contractual / subscription"

    name = models.CharField(max_length=200)
    industry = models.CharField(max_length=80, blank=True, db_index=True)
    country = models.CharField(max_length=2, blank=True, validators=[validate_country_code],
                               help_text="ISO 3166-1 alpha-2 code.")
    region = models.CharField(max_length=80, blank=True, db_index=True)
    employee_band = models.CharField(max_length=12, choices=EmployeeBand.choices, blank=True)
    segment = models.CharField(max_length=80, blank=True, db_index=True, help_text="Segment or buyer persona.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
        help_text="The account manager responsible for this account.",
    )
    acquisition_channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    acquired_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    churned_on = models.DateField(null=True, blank=True)
    relationship = models.CharField(max_length=12, choices=Relationship.choices, default=Relationship.REPEAT)
    web_domain = models.CharField(max_length=200, blank=True)
    tax_id = models.CharField(max_length=40, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # Bumped on every change to the account's interactions; engines compare their snapshots against it.
    history_version = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["acquisition_channel", "acquired_on"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="churned", churned_on__isnull=False) | ~Q(status="churned"),
                name="account_churned_has_date",
                violation_error_message="A churned account needs a churn date.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AccountSourceId(models.Model):
    """The id an account has in a source system (ERP, billing, helpdesk, partner portal, ...)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="source_ids")
    source_system = models.CharField(max_length=40)
    external_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_system", "external_id"], name="account_source_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source_system}:{self.external_id}"


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=40, blank=True)
    source_system = models.CharField(max_length=40, default=TIERWISE_SOURCE)
    external_id = models.CharField(max_length=100, default=new_external_id)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["source_system", "external_id"], name="contact_source_id_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=80, db_index=True, help_text="Product family / category.")
    tier_in_family = models.PositiveSmallIntegerField(
        default=1, help_text="Position in the family's good → better → best line (for upgrade offers)."
    )
    list_price = models.DecimalField(**MONEY, validators=[MinValueValidator(ZERO)])
    unit_cost = models.DecimalField(**MONEY, validators=[MinValueValidator(ZERO)])

    class Meta:
        ordering = ["family", "tier_in_family", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(list_price__gte=0), name="product_price_non_negative"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="product_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class InteractionKind(models.TextChoices):
    ORDER = "order", "Order"
    RETURN = "return", "Return"
    PAYMENT = "payment", "Payment"
    SUPPORT_CALL = "support_call", "Support call"
    SUPPORT_EMAIL = "support_email", "Support email"
    VISIT = "visit", "Visit / meeting"
    PROMOTION_RESPONSE = "promotion_response", "Promotion response"
    INQUIRY = "inquiry", "Inquiry"
    SURVEY = "survey", "Survey response"
    MARKETING_TOUCH = "marketing_touch", "Social / marketing touch"
    COMPLAINT = "complaint", "Complaint"
    RENEWAL = "renewal", "Contract renewal"


class InteractionChannel(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    WEB = "web", "Web / portal"
    EDI = "edi", "EDI"
    IN_PERSON = "in_person", "In person"
    FIELD_SALES = "field_sales", "Field sales"
    SOCIAL = "social", "Social"
    OTHER = "other", "Other"


class Interaction(models.Model):
    """One touchpoint with an account.

    Money conventions (used by the profitability engine):
    - ``order`` and ``renewal``: ``amount`` is net revenue, ``direct_cost`` the cost of goods sold (or, for a
      renewal, the cost of delivering the contract period).
    - ``return``: ``amount`` is the revenue refunded, ``direct_cost`` the cost of goods that came back
      into stock (it reduces COGS).
    - ``payment``: ``amount`` is cash received; it does not change revenue. ``due_on`` is the invoice due date.
    - every other kind carries no revenue; its cost comes from the activity cost rates.
    """

    # No index of its own: (account, occurred_at) below serves every lookup by account.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="interactions", db_index=False)
    kind = models.CharField(max_length=20, choices=InteractionKind.choices)
    channel = models.CharField(max_length=12, choices=InteractionChannel.choices, default=InteractionChannel.OTHER)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(**MONEY, default=ZERO)
    direct_cost = models.DecimalField(**MONEY, default=ZERO)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    # The two optional references are indexed only where set (see Meta): most interactions have neither, and
    # every index entry costs a bulk import time (one index fewer is ~2.5 s per million rows).
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    due_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    source_system = models.CharField(max_length=40, default=TIERWISE_SOURCE)
    external_id = models.CharField(max_length=100, default=new_external_id)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Bulk imports insert new rows with session_replication_role = replica, having locked what they refer
        # to themselves (crm.imports.loading_pg): a trigger added to this table would not fire for them unless
        # it is ENABLE ALWAYS, like the monthly-sums triggers of profitability.rollup.
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="interaction_account_time"),
            models.Index(fields=["kind", "occurred_at"], name="interaction_kind_time"),
            # For PROTECT / SET_NULL when a product or user is deleted (``= id`` implies NOT NULL).
            models.Index(fields=["product"], name="interaction_product", condition=Q(product__isnull=False)),
            models.Index(fields=["logged_by"], name="interaction_logged_by", condition=Q(logged_by__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source_system", "external_id"], name="interaction_source_id_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="interaction_amount_non_negative"),
            models.CheckConstraint(condition=Q(direct_cost__gte=0), name="interaction_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gte=0), name="interaction_quantity_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.account_id} · {self.occurred_at:%Y-%m-%d}"

    @classmethod
    def from_db(cls, db, field_names, values):  # type: ignore[no-untyped-def]
        instance = super().from_db(db, field_names, values)
        # Remember the stored account so moving an interaction also marks the old account changed.
        instance._loaded_account_id = instance.__dict__.get("account_id")
        return instance


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ServiceCase(models.Model):
    """A complaint or service request, worked by service staff in SLA order."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING = "waiting", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cases")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_cases"
    )
    # Set from the account's service tier by the profitability engine.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # Scored from subject + body + severity by crm.text_scoring (NULL until scored: bulk loads skip it).
    urgency = models.FloatField(null=True, blank=True, editable=False, help_text="0 (calm) to 1 (most urgent).")
    sentiment = models.FloatField(
        null=True, blank=True, editable=False, help_text="VADER compound score, −1 (negative) to 1 (positive)."
    )
    urgency_reasons = models.JSONField(
        null=True, blank=True, editable=False, help_text="What raised the urgency, e.g. 'says “outage”'."
    )
    source_system = models.CharField(max_length=40, default=TIERWISE_SOURCE)
    external_id = models.CharField(max_length=100, default=new_external_id)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["status", "resolution_due_at"], name="case_status_due"),
            # The service queue and the per-account SLA update read only open cases: keep them in a small index.
            models.Index(fields=["account", "opened_at"], condition=~Q(status="resolved"), name="case_open_account"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source_system", "external_id"], name="case_source_id_unique"),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True) | Q(first_response_at__gte=models.F("opened_at")),
                name="case_first_response_after_open",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("opened_at")),
                name="case_resolved_after_open",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class SurveyResponse(models.Model):
    """A Net Promoter Score answer (0–10) with its comment."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_responses")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(10)])
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()
    source_system = models.CharField(max_length=40, default=TIERWISE_SOURCE)
    external_id = models.CharField(max_length=100, default=new_external_id)

    class Meta:
        ordering = ["-answered_at"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=10), name="survey_nps_0_10"),
            models.UniqueConstraint(fields=["source_system", "external_id"], name="survey_source_id_unique"),
        ]

    def __str__(self) -> str:
        return f"NPS {self.score} · {self.account_id}"


class Lead(models.Model):
    """A lead moving through the MQL → SQL → won/lost funnel."""

    class Stage(models.TextChoices):
        MQL = "mql", "Marketing-qualified"
        SQL = "sql", "Sales-qualified"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    company_name = models.CharField(max_length=200)
    industry = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[validate_country_code])
    region = models.CharField(max_length=80, blank=True)
    employee_band = models.CharField(max_length=12, choices=EmployeeBand.choices, blank=True)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="leads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    stage = models.CharField(max_length=4, choices=Stage.choices, default=Stage.MQL, db_index=True)
    expected_value = models.DecimalField(**MONEY, default=ZERO)
    mql_at = models.DateTimeField()
    sql_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the lead was won or lost.")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads",
        help_text="The account it became.",
    )
    source_system = models.CharField(max_length=40, default=TIERWISE_SOURCE)
    external_id = models.CharField(max_length=100, default=new_external_id)

    class Meta:
        ordering = ["-mql_at"]
        constraints = [
            models.UniqueConstraint(fields=["source_system", "external_id"], name="lead_source_id_unique"),
            models.CheckConstraint(condition=Q(expected_value__gte=0), name="lead_value_non_negative"),
            models.CheckConstraint(
                condition=~Q(stage__in=["won", "lost"]) | Q(closed_at__isnull=False),
                name="lead_closed_has_date",
            ),
            models.CheckConstraint(condition=~Q(stage="sql") | Q(sql_at__isnull=False), name="lead_sql_has_date"),
        ]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.get_stage_display()})"


class MarketingSpend(models.Model):
    """Sales and marketing spend of one channel in one month (the numerator of CAC)."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="spend")
    period = models.DateField(help_text="First day of the month the spend belongs to.")
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["-period", "channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "period"], name="spend_channel_period_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_non_negative"),
            models.CheckConstraint(condition=Q(period__day=1), name="spend_period_first_of_month"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.period:%Y-%m}: {self.amount}"


# Import runs and merges live in their own modules; importing them here registers them with the app.
from .models_imports import ImportJob, ImportKind, ImportMapping  # noqa: E402, F401
from .models_merge import AccountMerge, DuplicateCandidate  # noqa: E402, F401
