"""Reads of the duplicates area: the candidate list, the side-by-side review, the merge history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from ..models import Account, AccountMerge, AccountSourceId, DuplicateCandidate
from .services import MERGE_FIELDS, history_counts

PAGE_SIZE = 50
FIELD_LABELS = {
    "name": "Name", "industry": "Industry", "country": "Country", "region": "Region",
    "employee_band": "Employees", "segment": "Segment", "owner": "Account manager",
    "acquisition_channel": "Acquisition channel", "acquired_on": "Acquired on", "status": "Status",
    "relationship": "Relationship", "web_domain": "Web domain", "tax_id": "Tax id", "phone": "Phone",
}  # fmt: skip
COUNT_LABELS = {
    "interactions": "Interactions", "contacts": "Contacts", "cases": "Service cases",
    "survey_responses": "Survey answers", "leads": "Leads", "opportunities": "Opportunities",
    "tier_changes": "Tier changes", "loyalty_enrolments": "Loyalty memberships",
    "loyalty_entries": "Loyalty ledger entries",
}  # fmt: skip
MOVED_LABELS = COUNT_LABELS | {
    "source_ids": "Source ids", "opportunities_combined": "Opportunities combined (same product)",
    "segment_memberships": "Segment memberships", "segment_memberships_combined": "Segment memberships combined",
    "campaign_assignments": "Campaign assignments",
    "campaign_assignments_dropped": "Campaign assignments dropped (both in the campaign: the survivor's kept)",
    "loyalty_enrolments_combined": "Loyalty memberships combined (both in the program)",
    "loyalty_reward_grants": "Loyalty tier upgrades", "earlier_merges": "Earlier merges",
    "candidates_carried_over": "'Not a duplicate' decisions carried over",
    "candidates_closed": "Other open pairs closed",
}  # fmt: skip
STATUSES = DuplicateCandidate.Status


def candidate_page(*, status: str, page: int | str | None) -> Page:
    """Candidates of one status, best score first, with both accounts loaded (two joins, one query)."""
    rows: QuerySet = (
        DuplicateCandidate.objects.filter(status=status)
        .select_related("low", "high", "reviewed_by", "merge")
        .order_by("-score", "pk")
    )
    return Paginator(rows, PAGE_SIZE).get_page(page)


def status_counts() -> dict[str, int]:
    from django.db.models import Count

    counts = dict(DuplicateCandidate.objects.values_list("status").annotate(n=Count("pk")))
    return {value: counts.get(value, 0) for value in STATUSES.values}


@dataclass
class FieldRow:
    name: str
    label: str
    values: tuple[str, str]  # shown, in the order of ReviewData.accounts
    differs: bool
    pick: int  # index into accounts of the value kept by default


@dataclass
class ReviewData:
    candidate: DuplicateCandidate
    accounts: tuple[Account, Account]  # the default survivor first
    fields: list[FieldRow]
    source_ids: tuple[list[str], list[str]]
    counts: list[tuple[str, int, int]]  # (label, first, second)
    figures: tuple[Any, Any]  # profitability snapshots (or None)
    notes: list[str] = field(default_factory=list)

    @property
    def differing(self) -> list[FieldRow]:
        return [row for row in self.fields if row.differs]


def _shown(account: Account, name: str) -> str:
    if name == "owner":
        return (account.owner.get_full_name() or account.owner.username) if account.owner else ""
    if name == "acquisition_channel":
        return account.acquisition_channel.name if account.acquisition_channel else ""
    if name == "acquired_on":
        return account.acquired_on.isoformat() if account.acquired_on else ""
    if name == "status":
        shown = account.get_status_display()
        return f"{shown} since {account.churned_on:%Y-%m-%d}" if account.churned_on else shown
    display = getattr(account, f"get_{name}_display", None)
    return str(display() if display and getattr(account, name) else getattr(account, name) or "")


def candidate_review(*, candidate_id: int, survivor_id: int | None = None) -> ReviewData:
    """Both records of a pair side by side, the default survivor (more history, else older) first.

    Raises ``DuplicateCandidate.DoesNotExist`` / ``Account.DoesNotExist`` when the pair is gone.
    """
    from profitability.models import AccountSnapshot

    candidate = DuplicateCandidate.objects.select_related("merge", "reviewed_by").get(pk=candidate_id)
    if candidate.low_id is None or candidate.high_id is None:
        raise Account.DoesNotExist("One of the two accounts is gone.")
    ids = [candidate.low_id, candidate.high_id]
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=ids).select_related("owner", "acquisition_channel")}
    if len(accounts) < 2:
        raise Account.DoesNotExist("One of the two accounts is gone.")
    counts = history_counts(ids)
    if survivor_id not in accounts:
        # More history survives; on a tie the older record (lower id) does.
        survivor_id = max(ids, key=lambda pk: (sum(counts[pk].values()), -pk))
    first, second = accounts[survivor_id], accounts[ids[1] if survivor_id == ids[0] else ids[0]]
    rows = []
    for name in MERGE_FIELDS:
        values = (_shown(first, name), _shown(second, name))
        # The survivor's value by default, the other one's where the survivor has none.
        pick = 1 if not values[0] and values[1] else 0
        rows.append(FieldRow(name, FIELD_LABELS[name], values, values[0] != values[1], pick))
    sources: dict[int, list[str]] = {pk: [] for pk in ids}
    for account_id, system, external in AccountSourceId.objects.filter(account_id__in=ids).order_by(
        "source_system", "external_id"
    ).values_list("account_id", "source_system", "external_id"):
        sources[account_id].append(f"{system}: {external}")
    snapshots = {s.account_id: s for s in AccountSnapshot.objects.filter(account_id__in=ids).select_related("tier")}
    return ReviewData(
        candidate=candidate,
        accounts=(first, second),
        fields=rows,
        source_ids=(sources[first.pk], sources[second.pk]),
        counts=[(label, counts[first.pk][key], counts[second.pk][key]) for key, label in COUNT_LABELS.items()],
        figures=(snapshots.get(first.pk), snapshots.get(second.pk)),
    )


def merge_page(*, page: int | str | None) -> Page:
    rows = AccountMerge.objects.select_related("survivor", "merged_by").order_by("-merged_at", "-pk")
    return Paginator(rows, PAGE_SIZE).get_page(page)


def moved_rows(merge: AccountMerge) -> list[tuple[str, int]]:
    """What a merge moved, in words, biggest first."""
    return sorted(((MOVED_LABELS.get(k, k.replace("_", " ")), v) for k, v in merge.moved.items() if v),
                  key=lambda kv: -kv[1])


def account_merges(*, account_id: int) -> list[AccountMerge]:
    """Merges into this account (including merges into accounts later merged into it), newest first."""
    return list(AccountMerge.objects.filter(survivor_id=account_id).select_related("merged_by")
                .order_by("-merged_at", "-pk"))


def merge_records_shown(merge: AccountMerge) -> list[dict]:
    """The audit row's three records (survivor before, merged, survivor after) with ids shown as names."""
    from django.contrib.auth import get_user_model

    from ..models import Channel

    records = [dict(merge.survivor_before), dict(merge.merged_before), dict(merge.survivor_after)]
    users = {u.pk: u.get_full_name() or u.username for u in get_user_model().objects.filter(
        pk__in={r.get("owner") for r in records if r.get("owner")})}
    channels = dict(Channel.objects.filter(pk__in={r.get("acquisition_channel") for r in records
                                                    if r.get("acquisition_channel")}).values_list("pk", "name"))
    for record in records:
        record["owner"] = users.get(record.get("owner"), record.get("owner"))
        channel = record.get("acquisition_channel")
        record["acquisition_channel"] = channels.get(channel, channel)
    return records
