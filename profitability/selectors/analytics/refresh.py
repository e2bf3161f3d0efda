"""When the analytics rows were last refreshed, and whether the book was recomputed since."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ...models import BookSummary
from ...models_analytics import AnalyticsRefresh


@dataclass(frozen=True)
class RefreshInfo:
    computed_at: datetime
    as_of: date
    behind_book: bool  # the book was recomputed after this refresh


def refresh_info() -> RefreshInfo | None:
    latest = AnalyticsRefresh.objects.order_by("-computed_at").only("computed_at", "as_of").first()
    if latest is None:
        return None
    book_at = BookSummary.objects.order_by("-computed_at").values_list("computed_at", flat=True).first()
    return RefreshInfo(latest.computed_at, latest.as_of, bool(book_at and book_at > latest.computed_at))
