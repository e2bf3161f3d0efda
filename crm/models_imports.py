"""Imports from source systems: the remembered column mapping per source, and each import run."""

import uuid

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class ImportKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    CONTACTS = "contacts", "Contacts"
    INTERACTIONS = "interactions", "Interactions (orders, returns, payments, support tickets, …)"
    SURVEY_ANSWERS = "survey_answers", "Survey answers"
    MARKETING_SPEND = "marketing_spend", "Marketing spend"


class ImportMapping(models.Model):
    """How one source system's files of one kind map onto Tierwise fields (remembered between imports)."""

    source_system = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    # {tierwise field name: column header in the file}
    columns = models.JSONField(default=dict)
    # parsing choices: encoding, delimiter, decimal separator, date format
    options = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_system", "kind"], name="import_mapping_source_kind_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source_system} · {self.get_kind_display()}"


class ImportJob(models.Model):
    """One uploaded file being (or having been) imported."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded (mapping and preview)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source_system = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField(default=0)
    columns = models.JSONField(default=dict, help_text="The mapping used for this run.")
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True, help_text="Estimated until the run ends.")
    rows_processed = models.PositiveBigIntegerField(default=0)
    rows_created = models.PositiveBigIntegerField(default=0)
    rows_updated = models.PositiveBigIntegerField(default=0)
    rows_unchanged = models.PositiveBigIntegerField(default=0)
    rows_rejected = models.PositiveBigIntegerField(default=0)
    rejects_file = models.FileField(upload_to="imports/rejects/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.source_system}, {self.get_kind_display()})"
