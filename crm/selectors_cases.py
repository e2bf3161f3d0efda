"""Reads of service cases for the CRM's own pieces (the complaint form and an account's case list)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from .models import ServiceCase
from .text_scoring import urgency_label

CASE_ROW_FIELDS = (
    "id", "account_id", "contact_id", "subject", "severity", "status", "opened_at", "first_response_at",
    "resolved_at", "first_response_due_at", "resolution_due_at", "urgency", "sentiment", "urgency_reasons",
    "assignee__id", "assignee__username", "assignee__first_name", "assignee__last_name",
)


def _case_rows() -> QuerySet[ServiceCase]:
    return ServiceCase.objects.select_related("assignee").only(*CASE_ROW_FIELDS)


@dataclass(frozen=True)
class CaseRow:
    """A case as a row of a page: its next SLA deadline, how long until (or since) it, and its urgency."""

    case: ServiceCase
    due: datetime | None
    due_kind: str  # "first response", "resolution" or "" (resolved, or no SLA yet)
    countdown: str
    breached: bool
    urgency_label: str
    urgency_reasons: str

    @property
    def is_open(self) -> bool:
        return self.case.status != ServiceCase.Status.RESOLVED


def case_row_of(case: ServiceCase, *, now: datetime) -> CaseRow:
    due, kind = sla_due(case)
    if due is not None:
        countdown = sla_countdown(due, now)
    elif case.status == ServiceCase.Status.RESOLVED:
        countdown = "resolved"
    else:
        countdown = "no SLA yet"
    return CaseRow(
        case=case,
        due=due,
        due_kind=kind,
        countdown=countdown,
        breached=due is not None and due < now,
        urgency_label=urgency_label(case.urgency),
        urgency_reasons="; ".join(case.urgency_reasons or []) or "nothing urgent in the text",
    )


def account_cases(*, account_id: int, now: datetime, open_only: bool = False, limit: int = 50) -> list[CaseRow]:
    """The account's cases, newest first (open ones only if asked), with their assignees."""
    cases = _case_rows().filter(account_id=account_id)
    if open_only:
        cases = cases.exclude(status=ServiceCase.Status.RESOLVED)
    return [case_row_of(case, now=now) for case in cases.order_by("-opened_at", "-id")[:limit]]


def case_row(*, case_id: int, now: datetime) -> CaseRow:
    return case_row_of(_case_rows().get(pk=case_id), now=now)


def sla_due(case: ServiceCase) -> tuple[datetime | None, str]:
    """The next SLA deadline of a case and which one it is: first response (until given), else resolution."""
    if case.status == ServiceCase.Status.RESOLVED:
        return None, ""
    candidates = []
    if case.first_response_at is None and case.first_response_due_at is not None:
        candidates.append((case.first_response_due_at, "first response"))
    if case.resolution_due_at is not None:
        candidates.append((case.resolution_due_at, "resolution"))
    if not candidates:
        return None, ""
    return min(candidates, key=lambda c: c[0])


def sla_countdown(due: datetime | None, now: datetime) -> str:
    """``"2 h 13 min left"`` / ``"breached 25 min ago"`` (static/js/sla-countdown.js writes the same text)."""
    if due is None:
        return "no SLA yet"
    seconds = math.floor((due - now).total_seconds())
    span = abs(seconds)
    days, rest = divmod(span, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h"
    elif hours:
        text = f"{hours} h {minutes} min"
    elif minutes:
        text = f"{minutes} min {secs} s"
    else:
        text = f"{secs} s"
    return f"{text} left" if seconds >= 0 else f"breached {text} ago"
