"""Service-level due times of open cases, from their account's tier."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import connection

from crm.models import ServiceCase

from ..models import Tier


def cases_apply_sla(*, account_ids: Sequence[int] | None = None) -> int:
    """Set the SLA due times of open cases from their account's tier (first response and resolution)."""
    if connection.vendor != "postgresql":
        return _cases_apply_sla_python(account_ids)
    only = "AND c.account_id = ANY(%s)" if account_ids is not None else ""
    with connection.cursor() as cursor:
        # No account goes without an SLA: unranked accounts (prospects, churned, not yet computed) get the
        # lowest tier's service level.
        cursor.execute(
            f"""
            WITH lowest AS (SELECT id FROM profitability_tier ORDER BY position DESC LIMIT 1)
            UPDATE crm_servicecase c
            SET first_response_due_at = c.opened_at + make_interval(hours => t.first_response_hours),
                resolution_due_at = c.opened_at + make_interval(hours => t.resolution_hours)
            FROM crm_account a
            LEFT JOIN profitability_accountsnapshot s ON s.account_id = a.id
            JOIN profitability_tier t ON t.id = coalesce(s.tier_id, (SELECT id FROM lowest))
            WHERE a.id = c.account_id AND c.status <> 'resolved' {only}
            """,
            [list(account_ids)] if account_ids is not None else [],
        )
        return cursor.rowcount


def _cases_apply_sla_python(account_ids: Sequence[int] | None) -> int:
    lowest = Tier.objects.order_by("-position").first()
    if lowest is None:
        return 0
    cases = ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED).select_related(
        "account__snapshot__tier"
    )
    if account_ids is not None:
        cases = cases.filter(account_id__in=account_ids)
    cases = list(cases)
    for case in cases:
        snapshot = getattr(case.account, "snapshot", None)
        tier = snapshot.tier if snapshot is not None and snapshot.tier is not None else lowest
        case.first_response_due_at = case.opened_at + timedelta(hours=tier.first_response_hours)
        case.resolution_due_at = case.opened_at + timedelta(hours=tier.resolution_hours)
    ServiceCase.objects.bulk_update(cases, ["first_response_due_at", "resolution_due_at"], batch_size=1000)
    return len(cases)
