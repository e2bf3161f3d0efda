"""Reads of the campaigns app: eligibility, segment members, loyalty status, worklists and results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from crm.models import Account, EmployeeBand
from profitability.models import Tier

from .models import (
    Enrolment,
    LedgerEntry,
    LoyaltyProgram,
    Opportunity,
    Reward,
    RewardGrant,
    Segment,
    SegmentMember,
)
from .segmentation import Criteria

# --- segments ------------------------------------------------------------------------------------------------


def segment_q(segment: Segment, *, today: date) -> Q:
    """The filter over ``crm.Account`` selecting the segment's members."""
    if segment.kind == Segment.Kind.CLUSTER:
        return Q(pk__in=SegmentMember.objects.filter(segment_id=segment.pk).values("account_id"))
    return Criteria.from_json(segment.criteria).q(today=today)


def segment_accounts(segment: Segment, *, today: date) -> QuerySet[Account]:
    return Account.objects.filter(segment_q(segment, today=today))


def criteria_accounts(criteria: Criteria, *, today: date) -> QuerySet[Account]:
    return Account.objects.filter(criteria.q(today=today))


# --- loyalty ------------------------------------------------------------------------------------------------


def clv_expression():  # type: ignore[no-untyped-def]
    """The CLV eligibility uses: predictive CLV where a model fits the account, else the formula CLV."""
    return Coalesce("snapshot__clv_predictive", "snapshot__clv_formula")


def eligible_accounts(
    *, tier_ids: Iterable[int], segments: Sequence[Segment], min_clv: Decimal | None, today: date
) -> QuerySet[Account]:
    """Active accounts in any of the tiers (all when none), any of the segments (all when none), CLV ≥ min."""
    accounts = Account.objects.filter(status=Account.Status.ACTIVE)
    tier_ids = list(tier_ids)
    if tier_ids:
        accounts = accounts.filter(snapshot__tier_id__in=tier_ids)
    if segments:
        q = Q()
        for segment in segments:
            q |= segment_q(segment, today=today)
        accounts = accounts.filter(q)
    if min_clv is not None:
        accounts = accounts.alias(clv=clv_expression()).filter(clv__gte=min_clv)
    return accounts


def program_eligible_accounts(*, program: LoyaltyProgram, today: date) -> QuerySet[Account]:
    return eligible_accounts(
        tier_ids=[tier.pk for tier in program.eligible_tiers.all()],  # uses a prefetch when there is one
        segments=list(program.eligible_segments.all()),
        min_clv=program.min_clv,
        today=today,
    )


@dataclass(frozen=True)
class EligibilityPreview:
    total: int
    by_tier: list[tuple[str, int]]
    sample: list[Account]
    already_enrolled: int | None


def eligibility_preview(accounts: QuerySet[Account], *, program: LoyaltyProgram | None = None,
                        sample: int = 15) -> EligibilityPreview:
    by_tier = [
        (row["snapshot__tier__name"] or "No tier", row["n"])
        for row in accounts.values("snapshot__tier__name", "snapshot__tier__position")
        .annotate(n=Count("pk")).order_by("snapshot__tier__position")
    ]
    enrolled = None
    if program is not None and program.pk:
        enrolled = accounts.filter(loyalty_enrolments__program=program).count()
    return EligibilityPreview(
        total=sum(n for _, n in by_tier), by_tier=by_tier,
        sample=list(accounts.select_related("snapshot__tier").order_by("name")[:sample]),
        already_enrolled=enrolled,
    )


def enrolment_balance(enrolment_id: int) -> int:
    return LedgerEntry.objects.filter(enrolment_id=enrolment_id).aggregate(t=Sum("points"))["t"] or 0


@dataclass(frozen=True)
class PointsPart:
    key: str
    points: int  # signed: what this part adds to the balance
    label: str  # in words, e.g. "2,500 redeemed"


@dataclass(frozen=True)
class PointsBreakdown:
    """Where a balance comes from, by kind of ledger entry. The one definition of "earned" (net of reversals:
    a returned order takes its points back) for the account panel and the program page; the parts always sum
    to the balance, since every entry is of exactly one kind."""

    earned: int  # earnings net of reversals
    redeemed: int  # spent on rewards (positive)
    expired: int  # positive
    adjusted: int  # manual corrections and campaign bonuses, signed

    @classmethod
    def of(cls, totals: Mapping[str, int | None]) -> PointsBreakdown:
        """From the sum of points per ledger kind (missing kinds count as zero)."""
        t = {kind: totals.get(kind) or 0 for kind in LedgerEntry.Kind.values}
        return cls(earned=t["earn"] + t["reverse"], redeemed=-t["redeem"], expired=-t["expire"], adjusted=t["adjust"])

    @property
    def balance(self) -> int:
        return self.earned - self.redeemed - self.expired + self.adjusted

    @property
    def parts(self) -> list[PointsPart]:
        """The non-zero parts, to show beside the balance."""
        parts = [
            PointsPart("earned", self.earned, f"{self.earned:,} earned net of reversals"),
            PointsPart("redeemed", -self.redeemed, f"{self.redeemed:,} redeemed"),
            PointsPart("expired", -self.expired, f"{self.expired:,} expired"),
            PointsPart("adjusted", self.adjusted, f"{self.adjusted:+,} adjusted"),
        ]
        return [part for part in parts if part.points]


def ledger_kind_sums(prefix: str = "") -> dict[str, Coalesce]:
    """Annotations ``points_<kind>``: the sum of points per ledger kind (``prefix`` reaches the entries)."""
    return {f"points_{kind}": Coalesce(Sum(f"{prefix}points", filter=Q(**{f"{prefix}kind": kind})), 0)
            for kind in LedgerEntry.Kind.values}


def reward_shortfall(rewards: Sequence[Reward], balance: int) -> str:
    """Why no reward can be redeemed ("" when the balance covers the cheapest one, or there is none)."""
    cheapest = min((r.point_cost for r in rewards), default=None)
    if cheapest is None or balance >= cheapest:
        return ""
    return f"The cheapest reward needs {cheapest:,} points; {balance:,} available."


def enrolment_reward_shortfall(enrolment: Enrolment) -> str:
    return reward_shortfall(list(Reward.objects.filter(program_id=enrolment.program_id, active=True)),
                            enrolment_balance(enrolment.pk))


@dataclass(frozen=True)
class EnrolmentStatus:
    enrolment: Enrolment
    points: PointsBreakdown
    recent: list[LedgerEntry]
    rewards: list[Reward]  # active rewards of the program, cheapest first
    running: bool

    @property
    def balance(self) -> int:
        return self.points.balance

    @property
    def affordable(self) -> list[Reward]:
        return [r for r in self.rewards if r.point_cost <= self.balance]

    @property
    def shortfall(self) -> str:
        return reward_shortfall(self.rewards, self.balance)


@dataclass(frozen=True)
class AccountLoyalty:
    account: Account
    enrolments: list[EnrolmentStatus]
    joinable: list[LoyaltyProgram]  # running programs the account is eligible for and not in
    upgrades: list[RewardGrant]


def account_loyalty(*, account: Account, now: datetime, recent: int = 5) -> AccountLoyalty:
    """The account's programs with balances, recent entries, rewards, joinable programs and running upgrades."""
    today = now.astimezone(UTC).date()
    enrolments = list(
        Enrolment.objects.filter(account=account).select_related("program")
        .annotate(**ledger_kind_sums("entries__")).order_by("program__name")
    )
    program_ids = [e.program_id for e in enrolments]
    rewards: dict[int, list[Reward]] = {pid: [] for pid in program_ids}
    for reward in Reward.objects.filter(program_id__in=program_ids, active=True).select_related("upgrade_tier"):
        rewards[reward.program_id].append(reward)
    entries: dict[int, list[LedgerEntry]] = {e.pk: [] for e in enrolments}
    if enrolments:
        # the latest few entries of each enrolment, in one query
        from django.db.models import F, Window
        from django.db.models.functions import RowNumber

        ranked = (LedgerEntry.objects.filter(enrolment__in=enrolments)
                  .annotate(n=Window(RowNumber(), partition_by=[F("enrolment_id")],
                                     order_by=[F("occurred_at").desc(), F("id").desc()]))
                  .select_related("reward"))
        for entry in ranked.filter(n__lte=recent).order_by("-occurred_at", "-id"):
            entries[entry.enrolment_id].append(entry)
    from .services.loyalty import program_is_running

    statuses = [
        EnrolmentStatus(e, PointsBreakdown.of({k: getattr(e, f"points_{k}") for k in LedgerEntry.Kind.values}),
                        entries[e.pk], rewards[e.program_id], program_is_running(e.program, today=today))
        for e in enrolments
    ]
    running = LoyaltyProgram.objects.filter(status=LoyaltyProgram.Status.ACTIVE, starts_on__lte=today).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today)
    ).exclude(pk__in=program_ids).prefetch_related("eligible_tiers", "eligible_segments")
    joinable = [p for p in running if program_eligible_accounts(program=p, today=today).filter(pk=account.pk).exists()]
    upgrades = list(running_tier_grants(now).filter(account=account).select_related("tier"))
    return AccountLoyalty(account, statuses, joinable, upgrades)


def running_tier_grants(now: datetime) -> QuerySet[RewardGrant]:
    """Temporary tier upgrades (loyalty rewards) in force at ``now``: the one definition of "running"."""
    return RewardGrant.objects.filter(valid_from__lte=now, valid_until__gt=now)


def program_ledger_totals(program: LoyaltyProgram) -> dict[str, int]:
    rows = LedgerEntry.objects.filter(enrolment__program=program).values("kind").annotate(t=Sum("points"))
    return {row["kind"]: row["t"] for row in rows}




# --- opportunities ------------------------------------------------------------------------------------------

WORKING = (Opportunity.Status.OPEN, Opportunity.Status.PURSUED)


def opportunity_worklist(*, owner_id: int | None, statuses: Sequence[str] = WORKING, source: str = "") -> QuerySet:
    """Open and pursued opportunities of an account manager's accounts (everyone's when ``owner_id`` is None),
    highest expected margin first, then the better tier."""
    from django.db.models import F

    qs = Opportunity.objects.filter(status__in=list(statuses), account__status=Account.Status.ACTIVE)
    if owner_id is not None:
        qs = qs.filter(account__owner_id=owner_id)
    if source:
        qs = qs.filter(source=source)
    return (qs.select_related("account__owner", "account__snapshot__tier", "product", "from_product")
            .order_by("-expected_margin", F("account__snapshot__tier__position").asc(nulls_last=True), "pk"))


def account_opportunities(*, account_id: int) -> list[Opportunity]:
    """An account's opportunities: the ones being worked first (by expected margin), then won, then dismissed."""
    order = {Opportunity.Status.PURSUED: 0, Opportunity.Status.OPEN: 1, Opportunity.Status.WON: 2,
             Opportunity.Status.DISMISSED: 3}
    rows = list(Opportunity.objects.filter(account_id=account_id).select_related("product", "from_product",
                                                                                 "status_changed_by"))
    return sorted(rows, key=lambda o: (order[o.status], -o.expected_margin, o.pk))


# --- program results ----------------------------------------------------------------------------------------

ENGAGEMENT_DAYS = 90
COMPARISON_DAYS = 180
MIN_AFTER_DAYS = 30
COMPARABLES_PER_CELL = 500


@dataclass(frozen=True)
class CellComparison:
    tier: str
    segment: str
    members: int
    comparables: int
    members_before: Decimal  # net profit per account per 30 days
    members_after: Decimal
    others_before: Decimal
    others_after: Decimal

    @property
    def difference(self) -> Decimal:
        """Difference in differences: members' change minus comparable non-members' change."""
        return (self.members_after - self.members_before) - (self.others_after - self.others_before)


@dataclass(frozen=True)
class ProgramResults:
    enrolled: int
    automatic: int
    engaged: int
    engagement_pct: float | None
    points: PointsBreakdown  # of every member together
    redemption_rate_pct: float | None
    redeemers: int
    liability_points: int
    liability_value: Decimal
    cells: list[CellComparison]
    too_recent: int  # members enrolled less than MIN_AFTER_DAYS ago (left out of the comparison)
    overall_difference: Decimal | None

    @property
    def earned(self) -> int:
        return self.points.earned

    @property
    def redeemed(self) -> int:
        return self.points.redeemed


def _per_30_days(total: Decimal, days: float) -> Decimal:
    return (total * Decimal(30) / Decimal(str(days))).quantize(Decimal("0.01")) if days > 0 else Decimal("0.00")


def program_results(*, program: LoyaltyProgram, now: datetime) -> ProgramResults:
    from django.db.models import Exists, OuterRef

    from .windows import Window, rate_windows, window_figures

    enrolments = Enrolment.objects.filter(program=program)
    since = now - timedelta(days=ENGAGEMENT_DAYS)
    counts = enrolments.aggregate(
        n=Count("pk"), auto=Count("pk", filter=Q(method=Enrolment.Method.AUTOMATIC)),
    )
    engaged = enrolments.filter(Exists(LedgerEntry.objects.filter(
        enrolment=OuterRef("pk"), kind=LedgerEntry.Kind.EARN, occurred_at__gte=since))).count()
    points = PointsBreakdown.of(program_ledger_totals(program))
    balances = enrolments.annotate(b=Coalesce(Sum("entries__points"), 0))
    liability = balances.filter(b__gt=0).aggregate(t=Coalesce(Sum("b"), 0))["t"]
    redeemers = enrolments.filter(Exists(LedgerEntry.objects.filter(enrolment=OuterRef("pk"), kind="redeem"))).count()

    # Members against comparable non-members (same tier and segment), before and after enrolment.
    members = list(enrolments.filter(enrolled_at__lte=now - timedelta(days=MIN_AFTER_DAYS)).values_list(
        "account_id", "enrolled_at", "account__snapshot__tier__name", "account__snapshot__tier_id", "account__segment"))
    too_recent = counts["n"] - len(members)
    cells: dict[tuple, list] = {}
    for account_id, enrolled_at, tier_name, tier_id, segment in members:
        cells.setdefault((tier_id, tier_name or "No tier", segment), []).append((account_id, enrolled_at))
    windows: list[Window] = []
    member_ids = set(enrolments.values_list("account_id", flat=True))
    plan = []
    for (tier_id, tier_name, segment), rows in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        pivot = sorted(t for _, t in rows)[len(rows) // 2]
        others = list(Account.objects.filter(status=Account.Status.ACTIVE, snapshot__tier_id=tier_id, segment=segment)
                      .exclude(pk__in=member_ids).order_by("pk").values_list("pk", flat=True)[:COMPARABLES_PER_CELL])
        cell = (tier_name, segment)
        for account_id, enrolled_at in rows:
            after_end = min(enrolled_at + timedelta(days=COMPARISON_DAYS), now)
            windows += [Window((cell, "m", "b", account_id), account_id, enrolled_at - timedelta(days=COMPARISON_DAYS),
                               enrolled_at),
                        Window((cell, "m", "a", account_id), account_id, enrolled_at, after_end)]
        pivot_end = min(pivot + timedelta(days=COMPARISON_DAYS), now)
        for account_id in others:
            windows += [Window((cell, "o", "b", account_id), account_id, pivot - timedelta(days=COMPARISON_DAYS),
                               pivot),
                        Window((cell, "o", "a", account_id), account_id, pivot, pivot_end)]
        plan.append((cell, rows, others, pivot, pivot_end))
    figures = window_figures(windows, rates=rate_windows()) if windows else {}
    spans = {w.key: (w.end - w.start).total_seconds() / 86400 for w in windows}

    def mean_rate(cell, who, when, ids) -> Decimal:  # type: ignore[no-untyped-def]
        if not ids:
            return Decimal("0.00")
        rates = [_per_30_days(figures[(cell, who, when, i)].net_profit, spans[(cell, who, when, i)]) for i in ids]
        return (sum(rates, Decimal(0)) / len(rates)).quantize(Decimal("0.01"))

    results = []
    for cell, rows, others, _pivot, _end in plan:
        ids = [a for a, _ in rows]
        results.append(CellComparison(
            tier=cell[0], segment=cell[1] or "(no segment)", members=len(ids), comparables=len(others),
            members_before=mean_rate(cell, "m", "b", ids), members_after=mean_rate(cell, "m", "a", ids),
            others_before=mean_rate(cell, "o", "b", others), others_after=mean_rate(cell, "o", "a", others),
        ))
    comparable = [c for c in results if c.comparables]
    weight = sum(c.members for c in comparable)
    overall = (sum((c.difference * c.members for c in comparable), Decimal(0)) / weight).quantize(Decimal("0.01")) \
        if weight else None
    n = counts["n"]
    return ProgramResults(
        enrolled=n, automatic=counts["auto"], engaged=engaged,
        engagement_pct=round(engaged * 100 / n, 1) if n else None,
        points=points,
        redemption_rate_pct=round(points.redeemed * 100 / points.earned, 1) if points.earned > 0 else None,
        redeemers=redeemers,
        liability_points=liability,
        liability_value=(Decimal(liability) * program.point_value).quantize(Decimal("0.01")),
        cells=results, too_recent=too_recent, overall_difference=overall,
    )


# --- campaign results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantResult:
    variant: object  # CampaignVariant
    accounts: int  # compared accounts (the pilot's while piloting)
    pilot_accounts: int
    pnl: object  # contact_cost.VariantPnl
    response_rate_pct: float | None
    in_window: int  # accounts whose response window is still open
    cost_per_contact: Decimal | None  # None: not contacted (hold-out), or rates differ between contact days

    @property
    def responders(self) -> int:
        return self.pnl.responders

    @property
    def revenue(self) -> Decimal:
        return self.pnl.net_revenue

    @property
    def net_profit(self) -> Decimal:
        return self.pnl.net_profit

    @property
    def revenue_per_account(self) -> Decimal | None:
        return self.pnl.revenue_per_account

    @property
    def net_profit_per_account(self) -> Decimal | None:
        return self.pnl.net_profit_per_account


@dataclass(frozen=True)
class CampaignResults:
    variants: list[VariantResult]
    recommendation: object  # stats.Recommendation
    compared_stage: str
    contact_cost_source: str  # in words: where the cost per contact comes from


def campaign_results(*, campaign, now: datetime, currency: str) -> CampaignResults:  # type: ignore[no-untyped-def]
    """Per-variant response, revenue and net profit after contact and offer costs, the tests and the advice.

    While piloting only the pilot's accounts are compared (the pilot decides the expansion); afterwards all.
    Each account's net profit counts over its own response window, less its contact cost (contacted variants)
    and its offer cost (loyalty-bonus points credited to members), so the significance test and the
    recommendation are on net profit per contacted account.
    """
    from . import stats
    from .contact_cost import AccountOutcome, bonus_cost, contact_rate, variant_pnl
    from .windows import Window, rate_windows, window_figures

    variants = sorted(campaign.variants.all(), key=lambda v: (v.label.lower() != "control", v.label, v.pk))
    assignments = list(campaign.assignments.values_list("pk", "account_id", "variant_id", "stage", "assigned_at"))
    window = timedelta(days=campaign.response_window_days)
    rates = rate_windows()
    windows = [Window(pk, account_id, at, min(at + window, now)) for pk, account_id, _, _, at in assignments
               if at < now]
    figures = window_figures(windows, rates=rates)
    members: dict[int, datetime] = {}
    if campaign.offer == "loyalty_bonus" and campaign.loyalty_program_id:
        members = dict(Enrolment.objects.filter(
            program_id=campaign.loyalty_program_id, account_id__in=[a for _, a, _, _, _ in assignments])
            .values_list("account_id", "enrolled_at"))
    point_value = campaign.loyalty_program.point_value if members else Decimal(0)
    by_id = {v.pk: v for v in variants}
    rate_by_day: dict[date, Decimal] = {}

    def contact_cost(variant, at: datetime) -> Decimal:  # type: ignore[no-untyped-def]
        if not variant.contacted:
            return Decimal(0)
        if campaign.cost_per_contact is not None:
            return campaign.cost_per_contact
        day = at.astimezone(UTC).date()
        if day not in rate_by_day:
            rate_by_day[day] = contact_rate(rates, channel=campaign.channel, on=day)
        return rate_by_day[day]

    compare_stage = 1 if campaign.status == "pilot" else None
    per_variant: dict[int, dict] = {v.pk: {"rows": [], "pilot": 0, "open": 0, "rates": set()} for v in variants}
    for pk, account_id, variant_id, stage, at in assignments:
        item, variant = per_variant[variant_id], by_id[variant_id]
        item["pilot"] += stage == 1
        item["open"] += at + window > now
        if compare_stage is not None and stage != compare_stage:
            continue
        f = figures.get(pk)
        contact = contact_cost(variant, at)
        item["rates"].add(contact)
        enrolled_at = members.get(account_id)
        bonus = variant.bonus_points or 0
        offer = bonus_cost(bonus, point_value) if enrolled_at is not None and enrolled_at <= at and bonus else \
            Decimal(0)
        if f is None:  # assigned in the future: contacted, nothing in its window yet
            item["rows"].append(AccountOutcome(Decimal(0), Decimal(0), Decimal(0), contact, offer, False))
        else:
            item["rows"].append(AccountOutcome(f.net_revenue, f.cogs, f.cost_to_serve, contact, offer,
                                               f.responses > 0))
    results, figures_for_test = [], []
    for v in variants:
        rows = per_variant[v.pk]["rows"]
        pnl = variant_pnl(rows)
        n = pnl.accounts
        rates_seen = per_variant[v.pk]["rates"]
        results.append(VariantResult(
            variant=v, accounts=n, pilot_accounts=per_variant[v.pk]["pilot"], pnl=pnl,
            response_rate_pct=round(pnl.responders * 100 / n, 1) if n else None,
            in_window=per_variant[v.pk]["open"],
            cost_per_contact=next(iter(rates_seen)) if v.contacted and len(rates_seen) == 1 else None,
        ))
        figures_for_test.append(stats.VariantFigures(
            v.label, n, pnl.responders, stats.Sample.of([float(o.net_revenue) for o in rows]),
            stats.Sample.of([float(o.net_profit) for o in rows]),
        ))
    recommendation = stats.recommend(figures_for_test, currency=currency)
    if campaign.cost_per_contact is not None:
        source = f"the campaign's own cost per contact, {campaign.cost_per_contact} {currency}"
    else:
        source = (f"the cost rate of a marketing touch by {campaign.get_channel_display().lower()} on the day "
                  f"each account was contacted")
    return CampaignResults(results, recommendation, "pilot" if compare_stage == 1 else "all stages", source)


def criteria_words(criteria: Criteria, tier_names: dict[int, str] | None = None) -> str:
    """A rule segment's criteria in words ("Active accounts with return rate at least 30 %."), as the segment
    pages and the change history show them. Pass ``tier_names`` when describing many."""
    if tier_names is None:
        tier_names = dict(Tier.objects.values_list("pk", "name"))
    return criteria.describe(tier_names=tier_names, currency=settings.TIERWISE_CURRENCY,
                             band_labels=dict(EmployeeBand.choices))
