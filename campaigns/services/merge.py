"""Loyalty's part of merging two duplicate accounts (called by ``crm.dedupe.services.account_merge``).

- An enrolment of the merged account in a program the survivor is not in simply moves to the survivor:
  its ledger stays exactly as it was.
- When both are enrolled in the same program, the two enrolments become one: every ledger entry of the
  merged account's enrolment moves, unchanged, to the survivor's (the trigger of migration 0003 allows this
  one UPDATE of ``enrolment_id`` inside the merge's transaction, and nothing else), the survivor's
  membership starts at the earlier of the two dates, and the emptied enrolment is deleted. Entries keep
  their reasons, times and accrual keys (rule + source interaction + revision), so the balance is the sum of
  both and accrual, which now sees those interactions under the survivor, awards nothing twice.
- Temporary tier upgrades (reward grants) move to the survivor.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Sum

from ..models import Enrolment, LedgerEntry, RewardGrant


class LoyaltyMergeError(Exception):
    """The balances would not add up; nothing is changed (the caller's transaction rolls back)."""


def _balances(account_id: int) -> dict[int, int]:
    """{program id: points balance} of one account."""
    return {
        row["enrolment__program_id"]: row["total"] or 0
        for row in LedgerEntry.objects.filter(enrolment__account_id=account_id)
        .values("enrolment__program_id").annotate(total=Sum("points"))
    }


def _reassign_entries(*, from_enrolment_id: int, to_enrolment_id: int) -> int:
    """Move ledger entries between two enrolments of one program: the one sanctioned change to the ledger."""
    if connection.vendor != "postgresql":  # no trigger elsewhere; the ORM's own guard is on save()/delete()
        return LedgerEntry.objects.filter(enrolment_id=from_enrolment_id).update(enrolment_id=to_enrolment_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tierwise.ledger_reassign', 'on', true)")
        try:
            cursor.execute(
                "UPDATE campaigns_ledgerentry SET enrolment_id = %s WHERE enrolment_id = %s",
                [to_enrolment_id, from_enrolment_id],
            )
            moved = cursor.rowcount
        finally:
            cursor.execute("SELECT set_config('tierwise.ledger_reassign', 'off', true)")
    return moved


def loyalty_merge(*, survivor_id: int, merged_id: int) -> dict[str, int]:
    """Move the merged account's loyalty to the survivor; return counts for the merge's audit row.

    Runs inside the merge's transaction, with both accounts already locked. Raises ``LoyaltyMergeError`` if
    any program's balance after the merge is not the sum of both balances before it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise LoyaltyMergeError("loyalty_merge must run inside the merge's transaction")
    before_survivor, before_merged = _balances(survivor_id), _balances(merged_id)
    enrolments = list(
        Enrolment.objects.select_for_update().filter(account_id__in=[survivor_id, merged_id]).order_by("pk")
    )
    survivor_by_program = {e.program_id: e for e in enrolments if e.account_id == survivor_id}
    moved = combined = entries = 0
    for enrolment in (e for e in enrolments if e.account_id == merged_id):
        entries += LedgerEntry.objects.filter(enrolment=enrolment).count()
        target = survivor_by_program.get(enrolment.program_id)
        if target is None:
            Enrolment.objects.filter(pk=enrolment.pk).update(account_id=survivor_id)
            moved += 1
            continue
        _reassign_entries(from_enrolment_id=enrolment.pk, to_enrolment_id=target.pk)
        if enrolment.enrolled_at < target.enrolled_at:
            # The merged record joined first: the company has been a member since then.
            Enrolment.objects.filter(pk=target.pk).update(enrolled_at=enrolment.enrolled_at)
        Enrolment.objects.filter(pk=enrolment.pk).delete()
        combined += 1
    grants = RewardGrant.objects.filter(account_id=merged_id).update(account_id=survivor_id)

    after = _balances(survivor_id)
    for program_id in set(before_survivor) | set(before_merged):
        expected = before_survivor.get(program_id, 0) + before_merged.get(program_id, 0)
        if after.get(program_id, 0) != expected:
            raise LoyaltyMergeError(
                f"Loyalty program {program_id}: the balance would be {after.get(program_id, 0)} instead of {expected}."
            )
    return {"loyalty_enrolments": moved, "loyalty_enrolments_combined": combined, "loyalty_entries": entries,
            "loyalty_reward_grants": grants}
