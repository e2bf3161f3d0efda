"""Service cases: opening a complaint, taking it, answering it, moving it through its statuses.

Every write is one conditional ``UPDATE ... WHERE`` (or runs under a row lock), so two agents acting on the
same case at the same moment never both win: the loser gets a :class:`CaseActionRefused` that says what
happened. SLA due times come from the account's service tier, which the CRM does not know: opening (or
reopening) a case sends :data:`crm.signals.case_opened` on commit and the engine above sets them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from ..models import (
    TIERWISE_SOURCE,
    Account,
    Contact,
    Interaction,
    InteractionChannel,
    InteractionKind,
    ServiceCase,
    Severity,
)
from ..text_scoring import TextScore, score_case_text

log = logging.getLogger(__name__)

Status = ServiceCase.Status

#: How a first response can be given, and the interaction (and so the cost-to-serve activity) it records.
RESPONSE_KINDS = {
    InteractionChannel.EMAIL: InteractionKind.SUPPORT_EMAIL,
    InteractionChannel.PHONE: InteractionKind.SUPPORT_CALL,
}


class CaseActionRefused(Exception):
    """Someone else's change made the action impossible; the message says why, for the person who tried."""


def _display_name(user: Any) -> str:
    if user is None:
        return "someone"
    return user.get_full_name() or user.username


def _announce_opened(account_ids: Iterable[int]) -> None:
    ids = sorted(set(account_ids))

    def send() -> None:
        from ..signals import case_opened

        case_opened.send(sender=ServiceCase, account_ids=ids)

    transaction.on_commit(send)


def case_scores(*, subject: str, body: str, severity: str) -> TextScore:
    return score_case_text(subject=subject, body=body, severity=severity)


def case_open(
    *,
    account: Account,
    opened_by: Any,
    contact: Contact | None = None,
    subject: str,
    body: str,
    severity: str,
    channel: str = InteractionChannel.PHONE,
    opened_at: datetime | None = None,
) -> ServiceCase:
    """Open a complaint on ``account``: the scored case, and a ``complaint`` interaction (cost-to-serve).

    The interaction carries the case's external id, so the two can be matched. After commit the engine
    sets the case's SLA due times from the account's tier (``case_opened``); accounts without a tier yet
    get them at their first recompute.
    """
    if contact is not None and contact.account_id != account.pk:
        raise ValueError("the contact belongs to another account")
    if severity not in Severity.values:
        raise ValueError(f"unknown severity {severity!r}")
    subject, body = subject.strip(), body.strip()
    if not subject:
        raise ValueError("a case needs a subject")
    opened_at = opened_at or timezone.now()
    score = case_scores(subject=subject, body=body, severity=severity)
    with transaction.atomic():
        case = ServiceCase.objects.create(
            account=account,
            contact=contact,
            subject=subject,
            body=body,
            severity=severity,
            status=Status.OPEN,
            opened_at=opened_at,
            urgency=score.urgency,
            sentiment=score.sentiment,
            urgency_reasons=list(score.reasons),
        )
        Interaction.objects.create(
            account=account,
            kind=InteractionKind.COMPLAINT,
            channel=channel,
            occurred_at=opened_at,
            note=subject,
            logged_by=opened_by,
            source_system=TIERWISE_SOURCE,
            external_id=case.external_id,
        )
        _announce_opened([account.pk])
    return case


def case_assign(*, case: ServiceCase, user: Any) -> ServiceCase:
    """Assign the case to ``user`` if nobody has it yet (or ``user`` already has it).

    One ``UPDATE ... WHERE assignee IS NULL OR assignee = user``: of two agents pressing "assign to me" at
    once, exactly one wins; the other gets :class:`CaseActionRefused` naming who has it.
    """
    taken = ServiceCase.objects.filter(Q(assignee__isnull=True) | Q(assignee=user), pk=case.pk).update(assignee=user)
    if not taken:
        current = ServiceCase.objects.filter(pk=case.pk).select_related("assignee").first()
        if current is None:
            raise CaseActionRefused("This case no longer exists.")
        raise CaseActionRefused(f"{_display_name(current.assignee)} has already taken this case.")
    case.assignee = user
    return case


def case_set_status(*, case: ServiceCase, status: str, by: Any) -> ServiceCase:
    """Move the case to ``status``: resolving stamps ``resolved_at`` (once); reopening clears it.

    The row is locked while the change is decided, so a concurrent resolve and reopen apply one after the
    other. A reopened case gets fresh SLA due times from the account's current tier (on commit).
    """
    if status not in Status.values:
        raise ValueError(f"unknown status {status!r}")
    now = timezone.now()
    with transaction.atomic():
        current = ServiceCase.objects.select_for_update().filter(pk=case.pk).values("status", "account_id").first()
        if current is None:
            raise CaseActionRefused("This case no longer exists.")
        if current["status"] == status:
            return case
        if status == Status.RESOLVED:
            resolved_at: Any = Coalesce(F("resolved_at"), Greatest(Value(now), F("opened_at")))
        else:
            resolved_at = None
        ServiceCase.objects.filter(pk=case.pk).update(status=status, resolved_at=resolved_at)
        if current["status"] == Status.RESOLVED:
            _announce_opened([current["account_id"]])
    log.info("case %s: %s → %s by %s", case.pk, current["status"], status, getattr(by, "pk", None))
    case.refresh_from_db(fields=["status", "resolved_at"])
    return case


def case_first_response(
    *, case: ServiceCase, by: Any, message: str, channel: str = InteractionChannel.EMAIL
) -> ServiceCase:
    """Record the first response to the customer, once: stamps ``first_response_at``, moves an open case to
    in progress, gives an unassigned case to the responder, and logs the response as a support email or
    call on the account (it costs what support costs).

    A second attempt is refused (one conditional ``UPDATE ... WHERE first_response_at IS NULL``), so two
    agents answering at once record one first response and one interaction.
    """
    message = message.strip()
    if not message:
        raise ValueError("a response needs a message")
    if channel not in RESPONSE_KINDS:
        raise ValueError(f"a first response goes by email or phone, not {channel!r}")
    now = timezone.now()
    with transaction.atomic():
        recorded = ServiceCase.objects.filter(pk=case.pk, first_response_at__isnull=True).update(
            first_response_at=Greatest(Value(now), F("opened_at")),
            status=Case(When(status=Status.OPEN, then=Value(Status.IN_PROGRESS.value)), default=F("status")),
            assignee_id=Coalesce(F("assignee_id"), Value(by.pk, output_field=BigIntegerField())),
        )
        if not recorded:
            current = ServiceCase.objects.filter(pk=case.pk).values("first_response_at").first()
            if current is None:
                raise CaseActionRefused("This case no longer exists.")
            when = timezone.localtime(current["first_response_at"])
            raise CaseActionRefused(f"A first response was already recorded on {when:%d %b %Y at %H:%M}.")
        Interaction.objects.create(
            account_id=case.account_id,
            kind=RESPONSE_KINDS[channel],
            channel=channel,
            occurred_at=now,
            note=f"First response to “{case.subject}”: {message}",
            logged_by=by,
        )
    case.refresh_from_db(fields=["first_response_at", "status", "assignee"])
    return case


def cases_score(*, case_ids: Iterable[int] | None = None, only_unscored: bool = True, batch_size: int = 2000) -> int:
    """(Re)score cases' text: bulk-loaded cases arrive unscored; a changed lexicon means rescoring them all."""
    cases = ServiceCase.objects.all()
    if case_ids is not None:
        cases = cases.filter(pk__in=list(case_ids))
    if only_unscored:
        cases = cases.filter(urgency__isnull=True)
    scored = 0
    last_id = 0
    seen: dict[tuple[str, str, str], TextScore] = {}  # imports repeat texts (templates, canned subjects)
    while True:
        batch = list(cases.filter(pk__gt=last_id).order_by("pk").only("id", "subject", "body", "severity")[:batch_size])
        if not batch:
            return scored
        for case in batch:
            key = (case.subject, case.body, case.severity)
            if key not in seen:
                if len(seen) > 10_000:
                    seen.clear()
                seen[key] = case_scores(subject=case.subject, body=case.body, severity=case.severity)
            score = seen[key]
            case.urgency, case.sentiment, case.urgency_reasons = score.urgency, score.sentiment, list(score.reasons)
        _write_scores(batch)
        scored += len(batch)
        last_id = batch[-1].pk


def _write_scores(cases: list[ServiceCase]) -> None:
    """One ``UPDATE ... FROM unnest(...)`` per batch on PostgreSQL (``bulk_update``'s CASE per row is slow)."""
    if connection.vendor != "postgresql":
        ServiceCase.objects.bulk_update(cases, ["urgency", "sentiment", "urgency_reasons"])
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE crm_servicecase c SET urgency = s.urgency, sentiment = s.sentiment, urgency_reasons = s.reasons
            FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::jsonb[]) AS s(id, urgency, sentiment, reasons)
            WHERE c.id = s.id
            """,
            [
                [c.pk for c in cases],
                [c.urgency for c in cases],
                [c.sentiment for c in cases],
                [json.dumps(c.urgency_reasons) for c in cases],
            ],
        )
