"""Writes of the duplicates area: merging two accounts, dismissing a candidate, requesting a scan.

Merging is a project-level action: it moves rows of all three apps (crm, profitability, campaigns), so it
imports the upper apps' pieces inside the function rather than at module level (crm's models stay unaware
of the engines built on them). Every relation to ``crm.Account`` must be handled here: ``MOVED`` and
``LEFT_TO_CASCADE`` list them all, and the merge refuses to run if an account has rows in a relation that is
in neither (a test checks the lists against the models), so nothing is ever cascaded away unnoticed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..models import (
    Account,
    AccountMerge,
    AccountSourceId,
    Contact,
    DuplicateCandidate,
    Interaction,
    Lead,
    ServiceCase,
    SurveyResponse,
)
from ..services.history import account_history_touch

# Account fields a reviewer chooses between (status and churn date go together: the pair must stay valid).
MERGE_FIELDS = (
    "name", "industry", "country", "region", "employee_band", "segment", "owner", "acquisition_channel",
    "acquired_on", "status", "relationship", "web_domain", "tax_id", "phone",
)  # fmt: skip
SURVIVOR, MERGED = "survivor", "merged"

# (app_label.model, field) of every relation to Account, and what a merge does with it.
MOVED = {
    "crm.interaction.account", "crm.contact.account", "crm.servicecase.account", "crm.surveyresponse.account",
    "crm.lead.account", "crm.accountsourceid.account", "crm.accountmerge.survivor",
    "crm.duplicatecandidate.low", "crm.duplicatecandidate.high",
    "profitability.tierchange.account",
    "campaigns.enrolment.account", "campaigns.rewardgrant.account", "campaigns.opportunity.account",
    "campaigns.segmentmember.account", "campaigns.campaignassignment.account",
}  # fmt: skip
# Derived from the history and rebuilt for the survivor: deleted with the merged account.
LEFT_TO_CASCADE = {
    "profitability.accountsnapshot.account", "campaigns.accountfeatures.account", "crm.accountmatchkey.account",
    "profitability.rolledupaccount.account",
}


class MergeError(Exception):
    """A merge that was refused; the message says why, in words for the reviewer. Nothing was changed."""


def relation_label(relation: Any) -> str:
    model = relation.related_model._meta
    return f"{model.app_label}.{model.model_name}.{relation.field.name}"


def account_relations() -> list:
    """Every relation pointing at Account (reverse foreign keys and one-to-ones), from the model registry.

    Including hidden ones (``related_name="+"``), which ``_meta.related_objects`` leaves out.
    """
    return [f for f in Account._meta.get_fields(include_hidden=True)
            if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)]


# --- reading an account for the audit trail ------------------------------------------------------------------


def _value(account: Account, field: str) -> Any:
    value = getattr(account, f"{field}_id") if field in ("owner", "acquisition_channel") else getattr(account, field)
    return value.isoformat() if hasattr(value, "isoformat") else value


def account_record(account: Account) -> dict:
    """The account's own fields and source ids, JSON-ready (for the audit row)."""
    record = {"id": account.pk, **{f: _value(account, f) for f in MERGE_FIELDS}}
    record["churned_on"] = account.churned_on.isoformat() if account.churned_on else None
    ids = AccountSourceId.objects.filter(account=account).values_list("source_system", "external_id")
    record["source_ids"] = sorted(f"{system}:{external}" for system, external in ids)
    return record


def history_counts(account_ids: list[int]) -> dict[int, dict[str, int]]:
    """{account id: {kind: rows}} of what a merge moves, in one query per kind."""
    from campaigns.models import Enrolment, LedgerEntry, Opportunity
    from profitability.models import TierChange

    kinds = {
        "interactions": Interaction.objects, "contacts": Contact.objects, "cases": ServiceCase.objects,
        "survey_responses": SurveyResponse.objects, "leads": Lead.objects, "source_ids": AccountSourceId.objects,
        "tier_changes": TierChange.objects, "opportunities": Opportunity.objects,
        "loyalty_enrolments": Enrolment.objects,
    }
    counts = {pk: dict.fromkeys([*kinds, "loyalty_entries"], 0) for pk in account_ids}
    for kind, manager in kinds.items():
        for row in manager.filter(account_id__in=account_ids).values("account_id").annotate(n=Count("pk")):
            counts[row["account_id"]][kind] = row["n"]
    for row in (LedgerEntry.objects.filter(enrolment__account_id__in=account_ids)
                .values("enrolment__account_id").annotate(n=Count("pk"))):
        counts[row["enrolment__account_id"]]["loyalty_entries"] = row["n"]
    return counts


# --- merging -----------------------------------------------------------------------------------------------


def _choose_fields(survivor: Account, merged: Account, field_choices: dict[str, str]) -> list[str]:
    """Apply the reviewer's choices to ``survivor`` (in memory); a blank survivor value takes the merged one."""
    unknown = set(field_choices) - set(MERGE_FIELDS)
    if unknown:
        raise MergeError(f"Unknown field(s) to choose: {', '.join(sorted(unknown))}.")
    changed = []
    for field in MERGE_FIELDS:
        choice = field_choices.get(field)
        if choice not in (None, SURVIVOR, MERGED):
            raise MergeError(f"Field {field}: choose '{SURVIVOR}' or '{MERGED}', not '{choice}'.")
        mine, theirs = _value(survivor, field), _value(merged, field)
        take_merged = choice == MERGED or (choice is None and mine in ("", None) and theirs not in ("", None))
        if take_merged and mine != theirs:
            attname = f"{field}_id" if field in ("owner", "acquisition_channel") else field
            setattr(survivor, attname, getattr(merged, attname))
            changed.append(attname)
            if field == "status":
                survivor.churned_on = merged.churned_on
                changed.append("churned_on")
    return changed


def _move(manager, *, merged_id: int, survivor_id: int, field: str = "account") -> int:  # type: ignore[no-untyped-def]
    return manager.filter(**{f"{field}_id": merged_id}).update(**{f"{field}_id": survivor_id})


def _move_tier_changes(*, merged: Account, survivor_id: int) -> int:
    from django.db.models import Value
    from django.db.models.functions import Concat, Left

    from profitability.models import TierChange

    # Kept (they are the merged record's history) but labelled, so the survivor's tier history reads true.
    return TierChange.objects.filter(account_id=merged.pk).update(
        account_id=survivor_id,
        reason=Left(Concat(Value(f"As {merged.name[:80]} (merged in): "), "reason"), 300),
    )


OPPORTUNITY_STATUS_RANK = {"open": 0, "dismissed": 1, "pursued": 2, "won": 3}


def _move_opportunities(*, merged_id: int, survivor_id: int) -> dict[str, int]:
    """Move opportunities; where both have one for a product, keep the survivor's row with the further status."""
    from campaigns.models import Opportunity

    theirs = {o.product_id: o for o in Opportunity.objects.select_for_update().filter(account_id=merged_id)}
    mine = {o.product_id: o for o in Opportunity.objects.select_for_update().filter(account_id=survivor_id,
                                                                                   product_id__in=list(theirs))}
    for product_id, ours in mine.items():
        other = theirs[product_id]
        if OPPORTUNITY_STATUS_RANK.get(other.status, 0) > OPPORTUNITY_STATUS_RANK.get(ours.status, 0):
            Opportunity.objects.filter(pk=ours.pk).update(
                status=other.status, status_changed_at=other.status_changed_at,
                status_changed_by=other.status_changed_by_id,
            )
    dropped, _ = Opportunity.objects.filter(account_id=merged_id, product_id__in=list(mine)).delete()
    moved = _move(Opportunity.objects, merged_id=merged_id, survivor_id=survivor_id)
    return {"opportunities": moved, "opportunities_combined": dropped}


def _move_unique(model, *, merged_id: int, survivor_id: int, key: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Move rows unique per (``key``, account): where the survivor already has one, the merged row is dropped."""
    taken = model.objects.filter(account_id=survivor_id).values(key)
    dropped, _ = model.objects.filter(account_id=merged_id, **{f"{key}__in": taken}).delete()
    return _move(model.objects, merged_id=merged_id, survivor_id=survivor_id), dropped


def _close_other_candidates(*, merged_id: int, survivor_id: int, keep_pk: int | None) -> dict[str, int]:
    """Candidates naming the merged account: "not a duplicate" decisions carry over to the survivor (X ≠ M and
    M = S, so X ≠ S); open ones are deleted (the survivor is re-scored after commit)."""
    others = DuplicateCandidate.objects.select_for_update().filter(Q(low_id=merged_id) | Q(high_id=merged_id))
    if keep_pk is not None:
        others = others.exclude(pk=keep_pk)
    carried = closed = 0
    for candidate in others.order_by("pk"):
        other_id = candidate.high_id if candidate.low_id == merged_id else candidate.low_id
        if candidate.status == DuplicateCandidate.Status.DISMISSED and other_id not in (None, survivor_id):
            low, high = sorted((survivor_id, other_id))
            existing = DuplicateCandidate.objects.filter(low_id=low, high_id=high).first()
            if existing is None:
                DuplicateCandidate.objects.filter(pk=candidate.pk).update(low_id=low, high_id=high)
                carried += 1
                continue
            if existing.status == DuplicateCandidate.Status.OPEN:
                DuplicateCandidate.objects.filter(pk=existing.pk).update(
                    status=DuplicateCandidate.Status.DISMISSED, reviewed_by=candidate.reviewed_by_id,
                    reviewed_at=candidate.reviewed_at,
                )
                carried += 1
        if candidate.status == DuplicateCandidate.Status.MERGED:
            continue  # an earlier merge's record: the merged account's deletion nulls its side
        candidate.delete()
        closed += 1
    return {"candidates_carried_over": carried, "candidates_closed": closed}


def account_merge(
    *,
    survivor_id: int,
    merged_id: int,
    field_choices: dict[str, str] | None = None,
    user: Any,
    candidate: DuplicateCandidate | None = None,
) -> AccountMerge:
    """Merge account ``merged_id`` into ``survivor_id`` in one transaction and return the audit row.

    Everything of the merged account moves to the survivor (see the module docstring); ``field_choices``
    maps account fields to ``"survivor"`` or ``"merged"`` (unnamed fields keep the survivor's value, or the
    merged one's where the survivor's is blank). Both accounts are locked in id order first, so concurrent
    merges of overlapping pairs serialise instead of deadlocking, and the second finds its account gone
    (``MergeError``). After commit the survivor is recomputed (its history version is bumped) and re-scored
    for duplicates.
    """
    from campaigns.models import AccountFeatures, CampaignAssignment, SegmentMember
    from campaigns.services.merge import LoyaltyMergeError, loyalty_merge

    if survivor_id == merged_id:
        raise MergeError("An account cannot be merged into itself.")
    with transaction.atomic():
        locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=[survivor_id, merged_id])
                  .order_by("pk")}
        if len(locked) < 2:
            raise MergeError("One of the two accounts no longer exists: it was probably merged a moment ago.")
        survivor, merged = locked[survivor_id], locked[merged_id]
        if candidate is not None:
            candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
            if {candidate.low_id, candidate.high_id} != {survivor_id, merged_id}:
                raise MergeError("The candidate is not this pair of accounts.")
            if candidate.status != DuplicateCandidate.Status.OPEN:
                raise MergeError(f"This pair was already reviewed ({candidate.get_status_display().lower()}).")
        else:
            low, high = sorted((survivor_id, merged_id))
            candidate = DuplicateCandidate.objects.select_for_update().filter(low_id=low, high_id=high).first()

        counts_before = history_counts([survivor_id, merged_id])
        survivor_before, merged_before = account_record(survivor), account_record(merged)
        changed = _choose_fields(survivor, merged, field_choices or {})

        moved: dict[str, int] = {}
        kw = {"merged_id": merged_id, "survivor_id": survivor_id}
        moved["interactions"] = _move(Interaction.objects, **kw)
        moved["contacts"] = _move(Contact.objects, **kw)
        moved["cases"] = _move(ServiceCase.objects, **kw)
        moved["survey_responses"] = _move(SurveyResponse.objects, **kw)
        moved["leads"] = _move(Lead.objects, **kw)
        moved["source_ids"] = _move(AccountSourceId.objects, **kw)
        moved["tier_changes"] = _move_tier_changes(merged=merged, survivor_id=survivor_id)
        moved |= _move_opportunities(**kw)
        moved["segment_memberships"], moved["segment_memberships_combined"] = _move_unique(
            SegmentMember, key="segment", **kw)
        moved["campaign_assignments"], moved["campaign_assignments_dropped"] = _move_unique(
            CampaignAssignment, key="campaign", **kw)
        try:
            moved |= loyalty_merge(**kw)
        except LoyaltyMergeError as error:
            raise MergeError(str(error)) from error
        moved["earlier_merges"] = _move(AccountMerge.objects, field="survivor", **kw)
        AccountFeatures.objects.filter(account_id=merged_id).delete()
        moved |= _close_other_candidates(merged_id=merged_id, survivor_id=survivor_id,
                                         keep_pk=candidate.pk if candidate else None)
        _refuse_unhandled(merged_id)

        if changed:
            survivor.save(update_fields=[*changed, "updated_at"])
        audit = AccountMerge.objects.create(
            survivor=survivor, merged_account_id=merged_id, merged_name=merged.name[:200],
            survivor_before=survivor_before | {"counts": counts_before[survivor_id]},
            merged_before=merged_before | {"counts": counts_before[merged_id]},
            survivor_after={},  # filled below, once the merged account is gone
            moved={k: v for k, v in moved.items() if v}, score=candidate.score if candidate else None,
            reasons=list(candidate.reasons) if candidate else [], merged_by=user,
        )
        merged.delete()  # cascades only to the derived rows of LEFT_TO_CASCADE (checked above)
        survivor.refresh_from_db()
        audit.survivor_after = account_record(survivor) | {"counts": history_counts([survivor_id])[survivor_id]}
        audit.save(update_fields=["survivor_after"])
        if candidate is not None:
            DuplicateCandidate.objects.filter(pk=candidate.pk).update(
                status=DuplicateCandidate.Status.MERGED, reviewed_by=user, reviewed_at=timezone.now(), merge=audit,
            )
        # The survivor's history now holds both: bump its version so the engines recompute it after commit.
        account_history_touch(account_ids=[survivor_id])
        _rescan_after_commit([survivor_id])
    return audit


def _refuse_unhandled(merged_id: int) -> None:
    """Raise if the merged account still has rows in a relation this module does not know (a new model)."""
    for relation in account_relations():
        label = relation_label(relation)
        if label in MOVED or label in LEFT_TO_CASCADE:
            continue
        if relation.related_model._default_manager.filter(**{relation.field.name: merged_id}).exists():
            raise MergeError(f"The merged account still has {relation.related_model._meta.verbose_name_plural} "
                             f"({label}), which merging does not handle yet; nothing was changed.")


def _rescan_after_commit(account_ids: list[int]) -> None:
    from . import tasks

    ids = sorted(account_ids)
    transaction.on_commit(lambda: tasks.find_duplicates.delay(account_ids=ids), robust=True)


def candidate_dismiss(*, candidate_id: int, user: Any) -> DuplicateCandidate:
    """Mark a pair "not a duplicate": it is never proposed again (later scans skip decided pairs)."""
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate_id)
        if candidate.status == DuplicateCandidate.Status.MERGED:
            raise MergeError("This pair was already merged.")
        candidate.status = DuplicateCandidate.Status.DISMISSED
        candidate.reviewed_by = user
        candidate.reviewed_at = timezone.now()
        candidate.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return candidate


def candidate_reopen(*, candidate_id: int, user: Any) -> DuplicateCandidate:
    """Undo "not a duplicate" (a mistake): the pair is open for review again."""
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate_id)
        if candidate.status != DuplicateCandidate.Status.DISMISSED:
            raise MergeError("Only a pair marked 'not a duplicate' can be reopened.")
        candidate.status = DuplicateCandidate.Status.OPEN
        candidate.reviewed_by = user
        candidate.reviewed_at = timezone.now()
        candidate.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return candidate


def scan_request(*, full: bool = True) -> None:
    """Enqueue a duplicate scan once the current transaction commits."""
    from . import tasks

    transaction.on_commit(lambda: tasks.find_duplicates.delay(full=full), robust=True)

