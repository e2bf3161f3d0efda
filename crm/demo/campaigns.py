"""The campaigns part of the demo book: rule segments, an A/B campaign in its pilot with responses, a loyalty
program with its ledger (earnings, redemptions, a running tier upgrade), a clustering run and opportunities.

Two steps, because some of it needs the book ranked first:

- :func:`seed_in_book` runs inside the seeding transaction, after the accounts and interactions are loaded:
  the segments, the draft loyalty program, the campaign launched 40 days before ``--as-of`` and its pilot
  accounts' responses (promotion responses and orders, written into the book so the engine's recompute
  counts them). Nothing here needs a snapshot.
- :func:`seed_after_ranking` runs after commit, once the book is ranked (without a broker the listeners have
  just done it; with one, the workers may still be at it, so the step ranks the book itself — the recompute
  is idempotent, and the workers' later writes of the same versions change nothing): the clustering run,
  the active loyalty program for Gold and Platinum with automatic enrolment and its ledger, a few
  redemptions (one a 30-day Platinum upgrade for a Gold member with an open case, so the service queue
  shows it), and opportunities from the book patterns. No nightly job creates these: the demo needs them
  whichever way it runs.

Same ``--seed``/``--as-of``/size, same data: every draw comes from a seeded generator, the campaign's
assignment from the stable hash of its id (identities restart with ``--reset`` on PostgreSQL).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection
from django.db.models import Sum

from crm.models import Account, Interaction, InteractionChannel, InteractionKind, Product, ServiceCase

PROGRAM = "Partners Club"
DRAFT_PROGRAM = "Growth Club"
CAMPAIGN = "Restock offer: volume discount"
CAMPAIGN_SEGMENT = "Industrial & trade buyers"
LAUNCH_DAYS_BEFORE = 40
PROGRAM_DAYS_BEFORE = 180
OPPORTUNITY_ACCOUNTS = 2_000  # generated in the command; the nightly refresh covers the rest of a larger book
RESPONSE = {"A": 0.10, "B": 0.18}  # share of the pilot that takes each offer up
DISCOUNT = {"A": Decimal("5"), "B": Decimal("10")}
CENT = Decimal("0.01")

Progress = Callable[[str], None]


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def campaigns_reset() -> None:
    """Remove every campaigns record (the demo's and any made on top of it) before a new book is seeded."""
    from campaigns import models as m

    tables = [m.LedgerEntry, m.RewardGrant, m.Enrolment, m.Reward, m.EarningRule, m.CampaignAssignment,
              m.CampaignVariant, m.Campaign, m.SegmentMember, m.Opportunity, m.AccountFeatures, m.AssociationRule,
              m.ProductStat, m.PeerProductStat]
    program_m2m = [m.LoyaltyProgram.eligible_tiers.through, m.LoyaltyProgram.eligible_segments.through]
    tables += [*program_m2m, m.LoyaltyProgram, m.Segment, m.ClusteringRun]
    quote = connection.ops.quote_name
    names = [quote(t._meta.db_table) for t in tables]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE, not DELETE: the ledger's append-only trigger refuses row deletes, rightly. Deferred
            # foreign-key checks of rows written earlier in this transaction must run first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
            return
        for name in names:
            cursor.execute(f"DELETE FROM {name}")  # noqa: S608 - names from _meta
        if connection.vendor == "sqlite":
            plain = ", ".join(f"'{t._meta.db_table}'" for t in tables)
            cursor.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({plain})")  # noqa: S608


# --- inside the seeding transaction -------------------------------------------------------------------------


def seed_in_book(*, seed: int, as_of: date, admin_id: int, progress: Progress) -> dict[str, int]:
    from campaigns.models import Campaign, CampaignAssignment, CampaignVariant, LoyaltyProgram, Segment
    from campaigns.segmentation import Criteria
    from campaigns.selectors import segment_accounts
    from campaigns.services.campaigns import campaign_launch
    from profitability.models import Tier

    rules = {
        CAMPAIGN_SEGMENT: Criteria(industries=("Manufacturing", "Construction", "Logistics", "Wholesale & retail")),
        "Loyal loss-makers": Criteria(net_profit_max=Decimal("0"), ordered_within_days=120, support_min=6),
        "Heavy returners": Criteria(return_rate_min=0.3),
        "Lapsing bulk buyers": Criteria(spend_min=Decimal("20000"), not_ordered_for_days=60),
    }
    segments = {}
    for name, criteria in rules.items():
        segments[name] = Segment.objects.create(name=name, kind=Segment.Kind.RULES, criteria=criteria.to_json(),
                                                description=criteria.describe(), created_by_id=admin_id)
    draft = LoyaltyProgram.objects.create(
        name=DRAFT_PROGRAM, status=LoyaltyProgram.Status.DRAFT, starts_on=as_of + timedelta(days=30),
        description="Points for Silver accounts that grow their spend; being set up.", created_by_id=admin_id,
    )
    draft.eligible_tiers.set(Tier.objects.filter(name="Silver"))

    launch = _at(as_of - timedelta(days=LAUNCH_DAYS_BEFORE))
    members = segment_accounts(segments[CAMPAIGN_SEGMENT], today=launch.date()).count()
    # A fifth of the segment first; ~100 accounts (≥ 30 per variant) in a small book, and some left for stage 2.
    pilot_pct = Decimal(max(20, min(70, math.ceil(10_000 / max(members, 1)))))
    campaign = Campaign.objects.create(
        name=CAMPAIGN, segment=segments[CAMPAIGN_SEGMENT], offer=Campaign.Offer.VOLUME_DISCOUNT,
        channel=InteractionChannel.EMAIL, pilot_pct=pilot_pct, response_window_days=60, created_by_id=admin_id,
        description="Volume discount on orders from 100 units: which discount pays after its cost?",
    )
    for label in ("A", "B"):
        CampaignVariant.objects.create(campaign=campaign, label=label, discount_pct=DISCOUNT[label], weight=50,
                                       description=f"{DISCOUNT[label]:g} % off orders from 100 units")
    pilot = campaign_launch(campaign_id=campaign.pk, actor=None, now=launch)
    rows = list(CampaignAssignment.objects.filter(campaign=campaign).order_by("account_id")
                .values_list("account_id", "variant__label"))
    responses = _responses(rows, launch=launch, as_of=as_of, seed=seed, campaign_id=campaign.pk)
    Interaction.objects.bulk_create(responses, batch_size=2000)
    progress(f"campaigns: {len(segments)} segments, a campaign piloted to {pilot:,} accounts "
             f"with {len(responses):,} response interactions")
    return {"segments": len(segments), "campaign responses": len(responses)}


def _responses(rows: list[tuple[int, str]], *, launch: datetime, as_of: date, seed: int,
               campaign_id: int) -> list[Interaction]:
    """Promotion responses and the orders they bring, for the pilot accounts that take the offer up."""
    rng = np.random.default_rng([seed, 40])
    products = list(Product.objects.order_by("sku").values_list("pk", "list_price", "unit_cost"))
    horizon = _at(as_of, 0)  # the history ends where --as-of begins
    out = []
    for n, (account_id, label) in enumerate(rows):
        draw, product, qty_draw, day, lag = rng.random(), rng.integers(len(products)), rng.lognormal(5, 0.4), \
            rng.uniform(1, 20), rng.uniform(1, 10)
        if draw >= RESPONSE[label]:
            continue
        responded = launch + timedelta(days=float(day))
        ordered = responded + timedelta(days=float(lag))
        if ordered >= horizon:
            continue
        product_id, price, cost = products[int(product)]
        quantity = max(100, int(qty_draw))  # the offer applies from 100 units
        amount = (price * quantity * (1 - DISCOUNT[label] / 100)).quantize(CENT)
        tag = f"CMP{campaign_id}-{n + 1:06d}"
        out += [
            Interaction(account_id=account_id, kind=InteractionKind.PROMOTION_RESPONSE,
                        channel=InteractionChannel.EMAIL, occurred_at=responded, source_system="marketing",
                        external_id=f"{tag}-R", note=f"Took up {CAMPAIGN} (variant {label})"),
            Interaction(account_id=account_id, kind=InteractionKind.ORDER, channel=InteractionChannel.WEB,
                        occurred_at=ordered, amount=amount, direct_cost=(cost * quantity).quantize(CENT),
                        quantity=quantity, product_id=product_id, source_system="erp", external_id=f"{tag}-O",
                        note=f"Order under {CAMPAIGN} (variant {label}, {DISCOUNT[label]:g} % off)"),
        ]
    return out


# --- after the book is ranked -------------------------------------------------------------------------------


def seed_after_ranking(*, seed: int, as_of: date, admin_id: int, seeded_at: datetime,
                       progress: Progress) -> dict[str, int]:
    """Clusters, the loyalty program and its ledger, and opportunities, on the ranked book.

    The book counts as ranked when a full ranking (a ``BookSummary``) was made after ``seeded_at``. Otherwise
    (a small book's history change is recomputed account by account, which does not rank the whole book; or
    the workers are still at it) it is ranked here, as ``manage.py recompute_profitability`` would.
    """
    from profitability.models import BookSummary
    from profitability.services import book_recompute

    if not BookSummary.objects.filter(computed_at__gte=seeded_at).exists():
        book_recompute()
        progress("campaigns: ranked the whole book")
    now = _at(as_of, 18)
    counts: dict[str, int] = {}
    counts |= _clusters(seed=seed, now=now, admin_id=admin_id, progress=progress)
    counts |= _loyalty(as_of=as_of, now=now, admin_id=admin_id, progress=progress)
    counts |= _opportunities(now=now, progress=progress)
    return counts


def _clusters(*, seed: int, now: datetime, admin_id: int, progress: Progress) -> dict[str, int]:
    from campaigns.services.segments import SegmentError, clustering_run

    try:
        run = clustering_run(seed=seed, actor_id=admin_id, now=now)
    except SegmentError as exc:  # a tiny book
        progress(f"campaigns: no clustering ({exc})")
        return {"clusters": 0}
    progress(f"campaigns: clustered {run.accounts:,} accounts into {run.k} clusters "
             f"(silhouette {run.silhouette:.2f})")
    return {"clusters": run.k}


def _loyalty(*, as_of: date, now: datetime, admin_id: int, progress: Progress) -> dict[str, int]:
    from campaigns.models import EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Reward
    from campaigns.services.loyalty import points_accrue_book, points_adjust, points_redeem, program_auto_enrol
    from profitability.models import Tier

    platinum, gold = Tier.objects.get(position=1), Tier.objects.get(position=2)
    start = as_of - timedelta(days=PROGRAM_DAYS_BEFORE)
    program = LoyaltyProgram.objects.create(
        name=PROGRAM, status=LoyaltyProgram.Status.ACTIVE, starts_on=start, auto_enrol=True,
        description="Points for our best accounts: on net revenue, paying on time, renewing and telling us how "
                    "we do.", point_value=Decimal("0.0100"), points_validity_days=365, created_by_id=admin_id,
    )
    program.eligible_tiers.set([platinum, gold])
    for trigger, points in ((EarningRule.Trigger.NET_REVENUE, "0.1"), (EarningRule.Trigger.ON_TIME_PAYMENT, "25"),
                            (EarningRule.Trigger.RENEWAL, "100"), (EarningRule.Trigger.SURVEY, "50")):
        EarningRule.objects.create(program=program, trigger=trigger, points=Decimal(points))
    discount = Reward.objects.create(program=program, name="5 % off the next order", kind=Reward.Kind.DISCOUNT,
                                     point_cost=2500, discount_pct=Decimal("5"))
    Reward.objects.create(program=program, name="Free express delivery for a month", kind=Reward.Kind.FREE_SERVICE,
                          point_cost=1500)
    upgrade = Reward.objects.create(program=program, name=f"{platinum.name} service for 30 days",
                                    kind=Reward.Kind.TIER_UPGRADE, point_cost=4000, upgrade_tier=platinum,
                                    upgrade_days=30)
    enrolled = program_auto_enrol(program_id=program.pk, now=_at(start))
    accrued = points_accrue_book(now=now)  # without a broker the enrolment's accrual already ran: then a no-op

    balances = list(Enrolment.objects.filter(program=program).annotate(b=Sum("entries__points"))
                    .filter(b__gte=discount.point_cost).order_by("-b", "account_id")
                    .values_list("pk", "account_id", "b"))
    redeemed = 0
    for i, (enrolment_id, _account_id, _b) in enumerate(balances[:max(3, len(balances) // 8)]):
        points_redeem(enrolment_id=enrolment_id, reward_id=discount.pk, actor=None,
                      now=now - timedelta(days=60 - i % 50, hours=i % 7))
        redeemed += 1
    # A Gold member with an open case trades points for Platinum service: the queue shows it on top.
    open_cases = ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED).values("account_id")
    gold_members = Enrolment.objects.filter(program=program, account__snapshot__tier=gold).order_by("account_id")
    with_case = (gold_members.filter(account_id__in=open_cases).values_list("pk", flat=True).first()
                 or gold_members.values_list("pk", flat=True).first())
    if with_case is not None:
        balance = LedgerEntry.objects.filter(enrolment_id=with_case).aggregate(t=Sum("points"))["t"] or 0
        points_adjust(enrolment_id=with_case, points=max(500, upgrade.point_cost - balance), actor=None,
                      reason="Goodwill for a delayed delivery (account manager's decision)",
                      now=now - timedelta(days=4))
        points_redeem(enrolment_id=with_case, reward_id=upgrade.pk, actor=None, now=now - timedelta(days=3))
        redeemed += 1
    entries = LedgerEntry.objects.filter(enrolment__program=program).count()
    progress(f"campaigns: {PROGRAM} with {enrolled:,} members, {entries:,} ledger entries "
             f"({accrued['entries']:,} accrued here), {redeemed} redemptions")
    return {"loyalty members": enrolled, "ledger entries": entries}


def _opportunities(*, now: datetime, progress: Progress) -> dict[str, int]:
    from campaigns.models import Opportunity
    from campaigns.services.opportunities import opportunities_generate_many
    from campaigns.services.patterns import book_patterns_refresh

    patterns = book_patterns_refresh(now=now)
    ids = list(Account.objects.filter(status=Account.Status.ACTIVE).order_by("pk")
               .values_list("pk", flat=True)[:OPPORTUNITY_ACCOUNTS])
    for start in range(0, len(ids), 200):
        opportunities_generate_many(account_ids=ids[start:start + 200], now=now)
    count = Opportunity.objects.count()
    progress(f"campaigns: {patterns.rules:,} association rules, {count:,} opportunities for {len(ids):,} accounts")
    return {"opportunities": count}
