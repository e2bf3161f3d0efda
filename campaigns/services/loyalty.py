"""Loyalty writes: enrolment, points accrual from interactions, redemption, adjustment and expiry.

The ledger is append-only and the balance is the sum of an enrolment's entries. Every write that moves
points takes the enrolment's row lock first (``SELECT ... FOR UPDATE``), so concurrent redemptions are
serialised and each sees the balance the previous one left: a redemption never takes it below zero.
Accrual recomputes from the source interactions and appends only differences, so running it twice (or
concurrently) never awards twice, and a deleted order or a return takes its points back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from crm.models import Account, Interaction, ServiceCase

from .. import earning
from ..models import MAX_DAYS, EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Reward, RewardGrant
from ..selectors import enrolment_balance

log = logging.getLogger(__name__)
ACCRUAL_KINDS = (LedgerEntry.Kind.EARN, LedgerEntry.Kind.REVERSE)


class LoyaltyError(Exception):
    """A loyalty action that was refused; the message says why, in words for the user."""


def _midnight(day) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.combine(day, time.min, tzinfo=UTC)


def enqueue_accrual(account_ids: list[int]) -> None:
    """Queue points accrual for accounts once the current transaction commits."""
    from .. import tasks

    ids = sorted(set(account_ids))
    if len(ids) > tasks.BOOK_THRESHOLD:  # e.g. automatic enrolment of a large book: one book-level task
        from .requests import accrual_request

        transaction.on_commit(lambda: accrual_request(account_ids=ids), robust=True)
    elif ids:
        transaction.on_commit(lambda: tasks.accrue_points.delay(ids), robust=True)


# --- enrolment ---------------------------------------------------------------------------------------------


def program_is_running(program: LoyaltyProgram, *, today) -> bool:  # type: ignore[no-untyped-def]
    return (program.status == LoyaltyProgram.Status.ACTIVE and program.starts_on <= today
            and (program.ends_on is None or today <= program.ends_on))


@transaction.atomic
def enrolment_create(*, program: LoyaltyProgram, account: Account, actor, now: datetime | None = None) -> Enrolment:  # type: ignore[no-untyped-def]
    """Enrol ``account`` by hand. The program must be running and the account eligible; enrolling twice is a no-op."""
    from ..selectors import program_eligible_accounts

    now = now or timezone.now()
    if not program_is_running(program, today=now.astimezone(UTC).date()):
        raise LoyaltyError(f"{program.name} is not running, so nobody can join it now.")
    if not program_eligible_accounts(program=program, today=now.astimezone(UTC).date()).filter(pk=account.pk).exists():
        raise LoyaltyError(f"{account.name} does not meet the eligibility rules of {program.name}.")
    enrolment, created = Enrolment.objects.get_or_create(
        program=program, account=account,
        defaults={"enrolled_at": now, "method": Enrolment.Method.MANUAL, "enrolled_by": actor},
    )
    if created:
        enqueue_accrual([account.pk])
    return enrolment


def program_auto_enrol(*, program_id: int, now: datetime | None = None) -> int:
    """Enrol every eligible account not yet enrolled (programs with automatic enrolment). Returns how many."""
    from ..selectors import program_eligible_accounts

    now = now or timezone.now()
    with transaction.atomic():
        program = LoyaltyProgram.objects.select_for_update().get(pk=program_id)
        if not program_is_running(program, today=now.astimezone(UTC).date()):
            return 0
        ids = list(
            program_eligible_accounts(program=program, today=now.astimezone(UTC).date())
            .exclude(loyalty_enrolments__program=program).values_list("pk", flat=True)
        )
        created = Enrolment.objects.bulk_create(
            [Enrolment(program=program, account_id=i, enrolled_at=now, method=Enrolment.Method.AUTOMATIC)
             for i in ids],
            ignore_conflicts=True, batch_size=2000,
        )
        enqueue_accrual(ids)
    return len(created)


# --- accrual -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccrualResult:
    account_id: int
    enrolments: int
    entries: int
    points: int


def points_accrue(*, account_id: int, now: datetime | None = None) -> AccrualResult:
    """Bring the account's earn/reverse entries in line with its interactions, in every program it is in.

    For each (enrolment, rule, interaction) the interaction is worth ``earning.points_for`` now (0 if it
    was deleted, moved out of the program's dates or no longer qualifies); when that differs from the sum of
    its entries so far, one entry with the difference is appended at the next revision. The rate is the
    one in force when the interaction first earned, so editing a rule changes only later earnings.
    """
    return points_accrue_many(account_ids=[account_id], now=now)[0]


def points_accrue_many(*, account_ids: list[int], now: datetime | None = None) -> list[AccrualResult]:
    """:func:`points_accrue` for a batch of accounts in one transaction: the enrolments are locked (in id
    order, as single-account accruals lock them, so the two never deadlock) and rules, interactions and
    past entries are read once for the batch. Results in account id order."""
    now = now or timezone.now()
    currency = settings.TIERWISE_CURRENCY
    ids = sorted(set(account_ids))
    with transaction.atomic():
        enrolments = list(
            Enrolment.objects.select_for_update(of=("self",)).select_related("program")
            .filter(account_id__in=ids).exclude(program__status=LoyaltyProgram.Status.DRAFT).order_by("pk")
        )
        if not enrolments:
            return [AccrualResult(a, 0, 0, 0) for a in ids]
        by_account: dict[int, list[Enrolment]] = defaultdict(list)
        for enrolment in enrolments:
            by_account[enrolment.account_id].append(enrolment)
        versions = dict(Account.objects.filter(pk__in=list(by_account)).values_list("pk", "history_version"))
        rules: dict[int, list[EarningRule]] = defaultdict(list)
        for rule in EarningRule.objects.filter(program_id__in={e.program_id for e in enrolments}).order_by("pk"):
            rules[rule.program_id].append(rule)
        kinds = sorted({k for rs in rules.values() for r in rs for k in earning.kinds_for(r.trigger)})
        facts: dict[int, dict[int, earning.Fact]] = defaultdict(dict)
        for row in (Interaction.objects.filter(account_id__in=list(by_account), kind__in=kinds)
                    .values("pk", "account_id", "kind", "occurred_at", "amount", "due_on")):
            facts[row["account_id"]][row["pk"]] = earning.Fact(row["kind"], row["occurred_at"], row["amount"],
                                                               row["due_on"])
        history: dict[tuple[int, int, int], dict] = {}
        for row in (LedgerEntry.objects.filter(enrolment__in=enrolments, kind__in=ACCRUAL_KINDS)
                    .values("enrolment_id", "rule_id", "source_interaction_id", "revision", "points", "rate")
                    .order_by("revision")):
            key = (row["enrolment_id"], row["rule_id"], row["source_interaction_id"])
            item = history.setdefault(key, {"total": 0, "revisions": 0, "rate": row["rate"]})
            item["total"] += row["points"]
            item["revisions"] = max(item["revisions"], row["revision"] + 1)

        sources: dict[tuple[int, int], set[tuple[int, int, int]]] = defaultdict(set)
        for key in history:
            sources[key[:2]].add(key)
        results, new_entries = [], []
        for account_id in ids:
            entries = [
                entry for enrolment in by_account.get(account_id, [])
                for entry in _enrolment_entries(enrolment, rules.get(enrolment.program_id, []), facts[account_id],
                                                history, now=now, currency=currency, sources=sources)
            ]
            new_entries += entries
            results.append(AccrualResult(account_id, len(by_account.get(account_id, [])), len(entries),
                                         sum(e.points for e in entries)))
        LedgerEntry.objects.bulk_create(new_entries, batch_size=1000)
        by_version: dict[int, list[int]] = defaultdict(list)
        for enrolment in enrolments:
            by_version[versions.get(enrolment.account_id, 0)].append(enrolment.pk)
        for version, enrolment_ids in by_version.items():
            Enrolment.objects.filter(pk__in=enrolment_ids, accrued_version__lt=version).update(accrued_version=version)
    return results


def _enrolment_entries(enrolment: Enrolment, rules: list[EarningRule], facts: dict[int, earning.Fact],
                       history: dict[tuple[int, int, int], dict], *, now: datetime, currency: str,
                       sources: dict[tuple[int, int], set[tuple[int, int, int]]]) -> list[LedgerEntry]:
    """The entries that bring one enrolment's accrual in line with the account's interactions (unsaved).
    ``sources`` indexes ``history``'s keys by (enrolment, rule)."""
    program = enrolment.program
    start = max(_midnight(program.starts_on), _midnight(enrolment.enrolled_at.astimezone(UTC).date()))
    # Ending on 31 Dec 9999 is as open-ended as no end at all (and has no next day to stop before).
    end = _midnight(program.ends_on + timedelta(days=1)) if program.ends_on and program.ends_on < date.max else None
    out = []
    for rule in rules:
        rule_kinds = earning.kinds_for(rule.trigger)
        keys = {k[2] for k in sources.get((enrolment.pk, rule.pk), ())}
        keys |= {pk for pk, f in facts.items() if f.kind in rule_kinds
                 and f.occurred_at >= start and (end is None or f.occurred_at < end)}
        for interaction_id in sorted(keys):
            past = history.get((enrolment.pk, rule.pk, interaction_id))
            rate = past["rate"] if past and past["rate"] is not None else rule.points
            fact = facts.get(interaction_id)
            in_window = (fact is not None and fact.kind in rule_kinds and fact.occurred_at >= start
                         and (end is None or fact.occurred_at < end))
            wanted = earning.points_for(rule.trigger, rate, fact) if in_window else 0
            have = past["total"] if past else 0
            delta = wanted - have
            if delta == 0:
                continue
            if not in_window:
                reason = f"Interaction #{interaction_id} was deleted or no longer counts: points reversed"
            else:
                reason = earning.describe(rule.trigger, rate, fact, currency)
                if past:
                    reason += " (changed: corrected)"
            out.append(LedgerEntry(
                enrolment=enrolment,
                kind=LedgerEntry.Kind.EARN if delta > 0 else LedgerEntry.Kind.REVERSE,
                points=delta, occurred_at=fact.occurred_at if fact else now, recorded_at=now,
                reason=reason[:300], rule=rule, source_interaction_id=interaction_id,
                revision=past["revisions"] if past else 0, rate=rate,
            ))
    return out


def stale_accrual_account_ids(*, after: int = 0, limit: int = 10_000) -> list[int]:
    """Accounts (id > ``after``, ascending) with an enrolment in a non-draft program behind their history."""
    from django.db.models import F

    return list(
        Enrolment.objects.filter(accrued_version__lt=F("account__history_version"), account_id__gt=after)
        .exclude(program__status=LoyaltyProgram.Status.DRAFT).order_by("account_id")
        .values_list("account_id", flat=True).distinct()[:limit]
    )


def points_accrue_book(*, now: datetime | None = None, chunk: int = 500) -> dict:
    """Accrue every account whose points are behind its history, ``chunk`` accounts per transaction.

    The book-level path for a change touching many accounts (a whole-book import or seed): one task walks
    the behind accounts in id order instead of hundreds of batch tasks (which, without a broker, would all
    run one after another inside the request that made the change).
    """
    now = now or timezone.now()
    accounts = entries = 0
    after = 0
    while ids := stale_accrual_account_ids(after=after, limit=chunk):
        results = points_accrue_many(account_ids=ids, now=now)
        accounts += len(ids)
        entries += sum(r.entries for r in results)
        after = ids[-1]
    return {"accounts": accounts, "entries": entries}


# --- spending points ---------------------------------------------------------------------------------------


def _locked_enrolment(enrolment_id: int) -> tuple[Enrolment, int]:
    """The enrolment under its row lock, and its balance read after taking the lock."""
    enrolment = Enrolment.objects.select_for_update(of=("self",)).select_related("program", "account").get(
        pk=enrolment_id
    )
    return enrolment, enrolment_balance(enrolment.pk)


@transaction.atomic
def points_redeem(*, enrolment_id: int, reward_id: int, actor, now: datetime | None = None) -> LedgerEntry:  # type: ignore[no-untyped-def]
    """Spend points on a reward. Refused (``LoyaltyError``) when the balance does not cover it."""
    now = now or timezone.now()
    enrolment, balance = _locked_enrolment(enrolment_id)
    program = enrolment.program
    reward = Reward.objects.filter(pk=reward_id, program=program).select_related("upgrade_tier").first()
    if reward is None or not reward.active:
        raise LoyaltyError("That reward is not offered by this program.")
    if not program_is_running(program, today=now.astimezone(UTC).date()):
        raise LoyaltyError(f"{program.name} is not running: points cannot be redeemed now.")
    if balance < reward.point_cost:
        raise LoyaltyError(
            f"Not enough points: {reward.name} costs {reward.point_cost:,} and the balance is {balance:,}."
        )
    entry = LedgerEntry.objects.create(
        enrolment=enrolment, kind=LedgerEntry.Kind.REDEEM, points=-reward.point_cost, occurred_at=now,
        recorded_at=now, reason=f"Redeemed: {reward.name}", reward=reward, actor=actor,
    )
    if reward.kind == Reward.Kind.TIER_UPGRADE:
        RewardGrant.objects.create(
            entry=entry, account_id=enrolment.account_id, tier=reward.upgrade_tier, valid_from=now,
            valid_until=now + timedelta(days=reward.upgrade_days),
        )
        account_id = enrolment.account_id
        transaction.on_commit(lambda: upgrades_apply_sla(account_ids=[account_id]), robust=True)
    return entry


@transaction.atomic
def points_adjust(*, enrolment_id: int, points: int, reason: str, actor, now: datetime | None = None) -> LedgerEntry:  # type: ignore[no-untyped-def]
    """A manual correction with its reason. A deduction may not take the balance below zero either."""
    now = now or timezone.now()
    if points == 0:
        raise LoyaltyError("An adjustment moves at least one point.")
    if not reason.strip():
        raise LoyaltyError("Say why the points are adjusted.")
    enrolment, balance = _locked_enrolment(enrolment_id)
    if balance + points < 0:
        raise LoyaltyError(f"The balance is {balance:,}: deducting {-points:,} would take it below zero.")
    return LedgerEntry.objects.create(
        enrolment=enrolment, kind=LedgerEntry.Kind.ADJUST, points=points, occurred_at=now, recorded_at=now,
        reason=reason.strip()[:300], actor=actor,
    )


def points_expire(*, program_id: int, now: datetime | None = None) -> int:
    """Expire points older than the program's validity, first in first out. Returns the points expired.

    Points earned before the cut-off that later debits (redemptions, reversals, expiries, deductions)
    have not used up expire now; running it again expires nothing more.
    """
    now = now or timezone.now()
    program = LoyaltyProgram.objects.get(pk=program_id)
    if not program.points_validity_days:
        return 0
    # Capped: a validity saved before the bound would overflow the date and stop housekeeping for every program.
    cutoff = now - timedelta(days=min(program.points_validity_days, MAX_DAYS))
    expired = 0
    for enrolment_id in Enrolment.objects.filter(program=program).values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            enrolment, balance = _locked_enrolment(enrolment_id)
            entries = LedgerEntry.objects.filter(enrolment=enrolment)
            earned_before = entries.filter(points__gt=0, occurred_at__lt=cutoff).aggregate(t=Sum("points"))["t"] or 0
            debits = -(entries.filter(points__lt=0).aggregate(t=Sum("points"))["t"] or 0)
            amount = min(max(earned_before - debits, 0), balance)
            if amount > 0:
                LedgerEntry.objects.create(
                    enrolment=enrolment, kind=LedgerEntry.Kind.EXPIRE, points=-amount, occurred_at=now,
                    recorded_at=now,
                    reason=(f"Points earned before {cutoff:%-d %b %Y} expired "
                            f"({program.points_validity_days}-day validity)"),
                )
                expired += amount
    return expired


# --- temporary tier upgrades -------------------------------------------------------------------------------


def upgrades_apply_sla(*, account_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Give open cases of accounts served above their ranked tier (a running tier upgrade) that tier's SLA,
    where it is faster.

    The tier comes from the one place that answers "effective tier of account X now"
    (``profitability.selectors.effective_tier``), the same answer that orders the service queue. Runs after
    the profitability engine has set due times from the account's own tier (on case open, after recomputes
    and the nightly book recompute), and never makes a due time later. When the upgrade ends, cases opened
    during it keep the faster deadlines they were promised; new cases get the ranked tier's.
    """
    from profitability.selectors.effective_tier import effective_tiers

    from ..selectors import running_tier_grants

    now = now or timezone.now()
    grants = running_tier_grants(now)
    if account_ids is not None:
        grants = grants.filter(account_id__in=account_ids)
    candidates = set(grants.values_list("account_id", flat=True))
    best = {a: e.tier for a, e in effective_tiers(account_ids=candidates, now=now).items() if e.upgraded}
    updated = 0
    cases = ServiceCase.objects.filter(account_id__in=list(best)).exclude(status=ServiceCase.Status.RESOLVED)
    with transaction.atomic():
        for case in cases.select_for_update(of=("self",)).only(
            "pk", "account_id", "opened_at", "first_response_due_at", "resolution_due_at"
        ):
            tier = best[case.account_id]
            first = case.opened_at + timedelta(hours=tier.first_response_hours)
            resolution = case.opened_at + timedelta(hours=tier.resolution_hours)
            changes = {}
            if case.first_response_due_at is None or first < case.first_response_due_at:
                changes["first_response_due_at"] = first
            if case.resolution_due_at is None or resolution < case.resolution_due_at:
                changes["resolution_due_at"] = resolution
            if changes:
                ServiceCase.objects.filter(pk=case.pk).update(**changes)
                updated += 1
    return updated


def loyalty_housekeeping(*, now: datetime | None = None) -> dict:
    """End programs past their end date, auto-enrol, expire points, re-apply running tier upgrades."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    ended = 0
    for program in LoyaltyProgram.objects.filter(status=LoyaltyProgram.Status.ACTIVE, ends_on__lt=today):
        program.status = LoyaltyProgram.Status.ENDED
        program.save(update_fields=["status", "updated_at"])  # through save(): the change history records it
        ended += 1
    enrolled = sum(program_auto_enrol(program_id=pk, now=now) for pk in LoyaltyProgram.objects.filter(
        status=LoyaltyProgram.Status.ACTIVE, auto_enrol=True).values_list("pk", flat=True))
    expired = sum(points_expire(program_id=pk, now=now) for pk in LoyaltyProgram.objects.exclude(
        status=LoyaltyProgram.Status.DRAFT).filter(points_validity_days__isnull=False).values_list("pk", flat=True))
    upgraded = upgrades_apply_sla(now=now)
    return {"ended": ended, "enrolled": enrolled, "expired": expired, "cases_upgraded": upgraded}


@transaction.atomic
def program_save(*, form, rules, rewards, actor) -> LoyaltyProgram:  # type: ignore[no-untyped-def]
    """Save a validated program form with its earning-rule and reward formsets (change history records who).

    After commit: a running program with automatic enrolment enrols everyone eligible, and its members'
    points are re-accrued (new rules earn on interactions since enrolment).
    """
    program = form.save(commit=False)
    if program.pk is None:
        program.created_by = actor
    program._history_user = actor
    program.save()
    form.save_m2m()
    rules.instance = program
    rewards.instance = program
    rules.save()
    rewards.save()
    from .. import tasks

    program_id = program.pk
    if program.status == LoyaltyProgram.Status.ACTIVE and program.auto_enrol:
        transaction.on_commit(lambda: tasks.auto_enrol.delay(program_id), robust=True)
    members = list(Enrolment.objects.filter(program=program).values_list("account_id", flat=True))
    if members:
        enqueue_accrual(members)
    return program
