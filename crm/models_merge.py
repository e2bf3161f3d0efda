"""Duplicate accounts across sources: scored candidate pairs, and the audit trail of every merge."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class DuplicateCandidate(models.Model):
    """Two accounts that look like the same company (``low`` id first), with the score and its reasons."""

    class Status(models.TextChoices):
        OPEN = "open", "To review"
        MERGED = "merged", "Merged"
        DISMISSED = "dismissed", "Not a duplicate"

    # SET_NULL, not CASCADE: a merged pair keeps its row (and its decision) after the merged account is deleted.
    low = models.ForeignKey("crm.Account", null=True, on_delete=models.SET_NULL, related_name="+")
    high = models.ForeignKey("crm.Account", null=True, on_delete=models.SET_NULL, related_name="+")
    low_name = models.CharField(max_length=200, help_text="Names when found, shown once an account is gone.")
    high_name = models.CharField(max_length=200)
    score = models.DecimalField(max_digits=5, decimal_places=2, help_text="0–100")
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    found_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    merge = models.OneToOneField(
        "crm.AccountMerge", null=True, blank=True, on_delete=models.SET_NULL, related_name="candidate"
    )

    class Meta:
        ordering = ["-score", "low_id", "high_id"]
        constraints = [
            models.UniqueConstraint(fields=["low", "high"], name="duplicate_pair_unique"),
            models.CheckConstraint(condition=Q(low__lt=F("high")), name="duplicate_pair_ordered"),
        ]
        indexes = [models.Index(fields=["status", "-score"], name="duplicate_status_score")]

    def __str__(self) -> str:
        return f"{self.low_id} ~ {self.high_id} ({self.score})"


class AccountMerge(models.Model):
    """Audit record of one merge: who, when, both records before, the survivor after, and what moved."""

    survivor = models.ForeignKey("crm.Account", null=True, on_delete=models.SET_NULL, related_name="merges")
    merged_account_id = models.BigIntegerField(help_text="Id of the account merged away (deleted).")
    merged_name = models.CharField(max_length=200)
    survivor_before = models.JSONField()
    merged_before = models.JSONField()
    survivor_after = models.JSONField()
    moved = models.JSONField(help_text="Rows moved per kind, e.g. {'interactions': 120, 'contacts': 3}.")
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    reasons = models.JSONField(default=list)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_name} → {self.survivor_id}"


class AccountMatchKey(models.Model):
    """The normalised matching keys of one account (``crm.dedupe.matching``), kept for set-based blocking.

    Refreshed by every scan for accounts whose raw values changed (``source_hash``); ``block_keys`` lists the
    keys the scan joins accounts on: the normalised name, its distinctive words and word pairs, the
    registrable web domain, the tax id and the phone number.
    """

    account = models.OneToOneField("crm.Account", on_delete=models.CASCADE, primary_key=True, related_name="+")
    source_hash = models.CharField(max_length=32, help_text="Hash of the raw values the keys were computed from.")
    name_key = models.CharField(max_length=200)
    domain_key = models.CharField(max_length=200, blank=True)
    tax_key = models.CharField(max_length=40, blank=True)
    phone_key = models.CharField(max_length=40, blank=True)
    block_keys = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Match keys of {self.account_id}"
