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


# --- one account's records (the account page and its timeline) ---------------------------------------------

TIMELINE_PAGE_SIZE = 25


@dataclass(frozen=True)
class InteractionPage:
    """One page of an account's timeline, newest first. ``next_page`` is None on the last page."""

    rows: list
    page: int
    next_page: int | None


MAX_TIMELINE_PAGE = 1_000_000


def interaction_page(*, account_id: int, page: int = 1, per_page: int = TIMELINE_PAGE_SIZE) -> InteractionPage:
    """Interactions of one account, newest first, ``per_page`` at a time (one query: no COUNT needed)."""
    from .models import Interaction

    # Past the last page there is nothing to show; the cap keeps a crafted ?page= inside PostgreSQL's OFFSET.
    page = min(max(int(page), 1), MAX_TIMELINE_PAGE)
    start = (page - 1) * per_page
    rows = list(
        Interaction.objects.filter(account_id=account_id)
        .select_related("product", "logged_by")
        .order_by("-occurred_at", "-id")[start:start + per_page + 1]
    )
    has_next = len(rows) > per_page
    return InteractionPage(rows=rows[:per_page], page=page, next_page=page + 1 if has_next else None)


def account_contacts(*, account_id: int) -> list:
    from .models import Contact

    return list(Contact.objects.filter(account_id=account_id).order_by("name"))
