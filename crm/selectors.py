"""Reads of the CRM records."""

from dataclasses import dataclass

from django.db.models import Count, Q

from .models import Account, ServiceCase


@dataclass(frozen=True)
class BookSummary:
    accounts: int
    active: int
    my_accounts: int
    open_cases: int


def book_summary(*, user_id: int) -> BookSummary:
    counts = Account.objects.aggregate(
        accounts=Count("id"),
        active=Count("id", filter=Q(status=Account.Status.ACTIVE)),
        mine=Count("id", filter=Q(owner_id=user_id)),
    )
    return BookSummary(
        accounts=counts["accounts"],
        active=counts["active"],
        my_accounts=counts["mine"],
        open_cases=ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED).count(),
    )
