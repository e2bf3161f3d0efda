"""Reads for service staff: the tier-ordered case queue, account lookup, and an account's service view.

The tier shown and used everywhere here is the account's *effective* tier now (``effective_tier``): its
ranked tier, or a better one granted for a while (a loyalty reward), with the reason and end date.

Field-level rule: nothing here loads a money figure — no snapshot amounts, no interaction amounts or
costs, no product prices or unit costs. Only the tier (and so the service level) crosses over from the
engine's snapshot; querysets name their columns with ``only()``/``values()`` so nothing else is fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    Func,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Least

from crm.models import Account, Contact, Interaction, ServiceCase
from crm.selectors_cases import CASE_ROW_FIELDS, CaseRow, account_cases, case_row_of

from ..models import Tier
from .effective_tier import EffectiveTier, effective_tier_annotations, effective_tier_of

QUEUE_PAGE_SIZE = 50
LOOKUP_LIMIT = 25
RECENT_INTERACTIONS = 20

ASSIGNEE_CHOICES = (("", "Anyone"), ("me", "Me"), ("unassigned", "Unassigned"))
NO_TIER = "none"


# --- the queue -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """A case in the queue: the case row and its account's effective tier (``tier`` None: not ranked yet)."""

    row: CaseRow
    effective: EffectiveTier

    @property
    def tier(self) -> Tier | None:
        return self.effective.tier

    @property
    def case(self) -> ServiceCase:
        return self.row.case


@dataclass(frozen=True)
class QueueFilters:
    tier: str = ""  # a tier id, NO_TIER, or "" for every tier
    severity: str = ""
    assignee: str = ""  # "me", "unassigned" or "" for anyone


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: Page
    tiers: list[Tier]
    total: int


def sla_due_expression() -> Any:
    """The next SLA deadline in SQL: the nearer of first-response due (until responded) and resolution due.

    PostgreSQL's LEAST skips NULLs, so a case with only one deadline set sorts by that one.
    """
    first_response_due = Case(
        When(first_response_at__isnull=True, then=F("first_response_due_at")),
        default=None,
        output_field=DateTimeField(),
    )
    return Least(first_response_due, F("resolution_due_at"))


def _queue_cases(*, now: datetime) -> QuerySet[ServiceCase]:
    # The effective tier comes from the account's snapshot (and any running tier grant) through correlated
    # subqueries on its primary key: joining crm_account on the way would hash the whole book to order a few
    # thousand open cases. Account names come in a second query, for one page.
    return (
        ServiceCase.objects.select_related("assignee")
        .prefetch_related(Prefetch("account", queryset=Account.objects.only("id", "name")))
        .only(*CASE_ROW_FIELDS)
        .annotate(**effective_tier_annotations(now=now, account_ref="account_id"))
        .annotate(queue_tier_id=F("eff_tier_id"), queue_priority=F("eff_priority"), sla_due=sla_due_expression())
    )


def queue_ordering() -> list[Any]:
    """Effective tier priority (unranked accounts last), then the nearest SLA deadline, then urgency, then age."""
    return [
        F("queue_priority").asc(nulls_last=True),
        F("sla_due").asc(nulls_last=True),
        F("urgency").desc(nulls_last=True),
        F("opened_at").asc(),
        F("id").asc(),
    ]


def queue_cases(*, filters: QueueFilters, user_id: int, now: datetime) -> QuerySet[ServiceCase]:
    """Open cases across all accounts in queue order (by the effective tier at ``now``), filtered."""
    cases = _queue_cases(now=now).exclude(status=ServiceCase.Status.RESOLVED)
    if filters.tier == NO_TIER:
        cases = cases.filter(queue_tier_id__isnull=True)
    elif filters.tier:
        cases = cases.filter(queue_tier_id=int(filters.tier))
    if filters.severity:
        cases = cases.filter(severity=filters.severity)
    if filters.assignee == "me":
        cases = cases.filter(assignee_id=user_id)
    elif filters.assignee == "unassigned":
        cases = cases.filter(assignee__isnull=True)
    return cases.order_by(*queue_ordering())


def queue_total(*, filters: QueueFilters, user_id: int, now: datetime) -> int:
    """How many open cases the queue holds under ``filters`` (the count its page shows)."""
    return queue_cases(filters=filters, user_id=user_id, now=now).count()


def tiers_by_id() -> dict[int, Tier]:
    return {tier.pk: tier for tier in Tier.objects.order_by("position")}


def _queue_row(case: ServiceCase, tiers: dict[int, Tier], now: datetime) -> QueueRow:
    return QueueRow(row=case_row_of(case, now=now), effective=effective_tier_of(case, tiers))


def queue_page(
    *, filters: QueueFilters, user_id: int, page_number: Any, now: datetime, tiers: dict[int, Tier] | None = None
) -> QueuePage:
    """One page (50) of the queue: the tiers (unless given), a count, the page of cases and their accounts."""
    tiers = tiers_by_id() if tiers is None else tiers
    paginator = Paginator(queue_cases(filters=filters, user_id=user_id, now=now), QUEUE_PAGE_SIZE)
    page = paginator.get_page(page_number)
    rows = [_queue_row(case, tiers, now) for case in page.object_list]
    return QueuePage(rows=rows, page=page, tiers=list(tiers.values()), total=paginator.count)


def queue_row(*, case_id: int, now: datetime) -> QueueRow:
    """One case as a queue row (resolved ones too: the row shows the change an agent just made)."""
    case = _queue_cases(now=now).get(pk=case_id)
    ids = {case.eff_own_tier_id, case.eff_tier_id} - {None}
    tiers = {t.pk: t for t in Tier.objects.filter(pk__in=ids)} if ids else {}
    return QueueRow(row=case_row_of(case, now=now), effective=effective_tier_of(case, tiers))


# --- account lookup -----------------------------------------------------------------------------------


def unranked_sla_tier(tiers: dict[int, Tier] | None = None) -> Tier | None:
    """The tier whose SLA an account without one gets on its cases: the lowest (as ``cases_apply_sla`` sets it).

    ``tiers`` ordered by position (``tiers_by_id()``) saves the query.
    """
    if tiers is not None:
        return list(tiers.values())[-1] if tiers else None
    return Tier.objects.order_by("-position").first()


@dataclass(frozen=True)
class LookupHit:
    account: Account
    effective: EffectiveTier
    open_cases: int
    matched_contacts: list[Contact]
    unranked_sla: Tier | None = None  # the service level its cases get while it has no tier

    @property
    def tier(self) -> Tier | None:
        return self.effective.tier


@dataclass(frozen=True)
class LookupResult:
    query: str
    hits: list[LookupHit]
    more: bool  # more accounts match than are shown


MIN_QUERY = 3  # trigram indexes serve three characters and more
MIN_PHONE_DIGITS = 4
_PHONE_LIKE = re.compile(r"^[\d\s()+./-]+$")


def _digits(field: str) -> Any:
    """The field's digits only (so "+49 30 1234-56" is found by "301234")."""
    return Func(F(field), Value("[^0-9]"), Value(""), Value("g"), function="regexp_replace", output_field=TextField())


def _phone_digits(query: str) -> str | None:
    digits = re.sub(r"\D", "", query)
    return digits if _PHONE_LIKE.match(query) and len(digits) >= MIN_PHONE_DIGITS else None


def _contact_match(query: str) -> Q:
    match = Q(name__icontains=query) | Q(email__icontains=query)
    if digits := _phone_digits(query):
        match |= Q(phone_digits__contains=digits)
    return match


def account_lookup(*, query: str, now: datetime, limit: int = LOOKUP_LIMIT) -> LookupResult:
    """Accounts whose name, phone, or a contact's name, email or phone contains ``query`` (case-insensitive).

    Phone numbers match on their digits alone. Ordered by name; the first ``limit`` hits with their effective tier,
    open-case count and the contacts that matched (four queries, no count of every match).
    """
    query = " ".join(query.split())
    if len(query) < MIN_QUERY:
        return LookupResult(query=query, hits=[], more=False)
    contacts = Contact.objects.annotate(phone_digits=_digits("phone")).filter(_contact_match(query))
    # A UNION of the matching ids, so each part can use its own index (the name's trigram index) instead of
    # one OR that forces a scan of every account.
    matching = Account.objects.filter(name__icontains=query).values("id").union(contacts.values("account_id"))
    if digits := _phone_digits(query):
        matching = matching.union(
            Account.objects.annotate(phone_digits=_digits("phone")).filter(phone_digits__contains=digits).values("id")
        )
    found = list(
        Account.objects.filter(pk__in=matching)
        .only("id", "name", "phone", "industry", "region", "status")
        .annotate(**effective_tier_annotations(now=now, account_ref="pk"))
        .prefetch_related(
            Prefetch("contacts", queryset=contacts.only("id", "account_id", "name", "email", "phone", "role"),
                     to_attr="matched_contacts")
        )
        .order_by("name", "id")[: limit + 1]
    )
    hits = found[:limit]
    open_cases = dict(
        ServiceCase.objects.filter(account_id__in=[a.pk for a in hits])
        .exclude(status=ServiceCase.Status.RESOLVED)
        .values_list("account_id").annotate(n=Count("id"))
    ) if hits else {}
    tiers = tiers_by_id() if hits else {}
    return LookupResult(
        query=query,
        hits=[LookupHit(account=a, effective=effective_tier_of(a, tiers), open_cases=open_cases.get(a.pk, 0),
                        matched_contacts=a.matched_contacts, unranked_sla=unranked_sla_tier(tiers))
              for a in hits],
        more=len(found) > limit,
    )


# --- one account, as service sees it ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    account: Account
    effective: EffectiveTier
    contacts: list[Contact]
    open_cases: list[CaseRow]
    interactions: list[dict]
    unranked_sla: Tier | None = None  # the service level its cases get while it has no tier

    @property
    def tier(self) -> Tier | None:
        return self.effective.tier


def service_account(*, account_id: int, now: datetime) -> ServiceAccount:
    """The account's effective tier and service level, contacts, open cases and recent interactions — no money."""
    account = (
        Account.objects.select_related("owner")
        .only("id", "name", "phone", "industry", "region", "country", "status", "web_domain",
              "owner__id", "owner__username", "owner__first_name", "owner__last_name", "owner__email")
        .annotate(**effective_tier_annotations(now=now, account_ref="pk"))
        .get(pk=account_id)
    )
    ids = {account.eff_own_tier_id, account.eff_tier_id} - {None}
    tiers = {t.pk: t for t in Tier.objects.filter(pk__in=ids)} if ids else {}
    contacts = list(Contact.objects.filter(account_id=account_id).only("id", "name", "role", "email", "phone"))
    interactions = list(
        Interaction.objects.filter(account_id=account_id)
        .order_by("-occurred_at", "-id")
        .values("id", "kind", "channel", "occurred_at", "quantity", "product__name", "product__sku")[
            :RECENT_INTERACTIONS
        ]
    )
    labels_kind = dict(Interaction._meta.get_field("kind").choices)
    labels_channel = dict(Interaction._meta.get_field("channel").choices)
    for item in interactions:
        item["kind_label"] = labels_kind.get(item["kind"], item["kind"])
        item["channel_label"] = labels_channel.get(item["channel"], item["channel"])
    effective = effective_tier_of(account, tiers)
    return ServiceAccount(
        account=account,
        effective=effective,
        contacts=contacts,
        open_cases=account_cases(account_id=account_id, now=now, open_only=True),
        interactions=interactions,
        unranked_sla=unranked_sla_tier() if effective.tier is None else None,
    )
