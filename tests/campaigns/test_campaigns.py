"""Segments, campaigns with A/B variants and staged rollout, per-variant tracking, and program results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.models import Campaign, CampaignAssignment, CampaignVariant, Enrolment, LedgerEntry, Segment
from campaigns.rollout import stage_for, variant_for
from campaigns.segmentation import Criteria
from campaigns.selectors import campaign_results, program_results, segment_accounts
from campaigns.services.campaigns import CampaignError, campaign_expand, campaign_launch, campaign_stop
from campaigns.services.segments import SegmentError, clustering_run, segment_save
from campaigns.windows import Window, _python, _sql, rate_windows, window_figures
from crm.models import InteractionKind as K
from profitability.models import AccountSnapshot, Tier
from tests.factories import AccountFactory, InteractionFactory

from .conftest import NOW, enrol

D = Decimal
LAUNCH = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def manufacturing(db):  # type: ignore[no-untyped-def]
    """200 active Manufacturing accounts and 50 in Retail."""
    makers = [AccountFactory(industry="Manufacturing") for _ in range(200)]
    for _ in range(50):
        AccountFactory(industry="Retail")
    return makers


@pytest.fixture
def segment(manufacturing, ada):  # type: ignore[no-untyped-def]
    return segment_save(segment=None, name="Makers", description="", criteria=Criteria(industries=("Manufacturing",)),
                        actor=ada)


@pytest.fixture
def campaign(segment, ada):  # type: ignore[no-untyped-def]
    c = Campaign.objects.create(name="Spring volume", segment=segment, offer="volume_discount", channel="email",
                                pilot_pct=D("20"), response_window_days=60, created_by=ada)
    CampaignVariant.objects.create(campaign=c, label="A", description="5 % off from 100 units", discount_pct=D("5"))
    CampaignVariant.objects.create(campaign=c, label="B", description="10 % off from 100 units", discount_pct=D("10"))
    return c


class TestSegments:
    def test_rule_criteria_select_exactly_the_matching_accounts(self, manufacturing):
        gold = Tier.objects.get(name="Gold")
        rich = manufacturing[:3]
        for account in manufacturing[:5]:
            AccountSnapshot.objects.create(account=account, computed_at=NOW, as_of=NOW.date(), tier=gold,
                                           revenue_ttm=D("50000") if account in rich else D("10"),
                                           last_order_at=NOW - timedelta(days=10))
        criteria = Criteria(industries=("Manufacturing",), tier_ids=(gold.pk,), spend_min=D("20000"),
                            ordered_within_days=30)

        members = set(segment_accounts(Segment(criteria=criteria.to_json()), today=NOW.date()))

        assert members == set(rich)
        assert criteria.describe(tier_names={gold.pk: "Gold"}, currency="EUR") == (
            "Active accounts with tier Gold; industry Manufacturing; revenue (12 months) at least EUR 20,000; "
            "ordered within 30 days.")

    def test_criteria_round_trip_through_json_and_inconsistent_bounds_are_refused(self, ada):
        criteria = Criteria(regions=("DACH",), return_rate_max=0.1, support_min=3)
        assert Criteria.from_json(criteria.to_json()) == criteria
        assert Criteria(spend_min=D("10"), spend_max=D("5")).errors() == [
            ("spend_max", "The highest spend must not be below the lowest.")]
        with pytest.raises(SegmentError, match="highest spend"):
            segment_save(segment=None, name="Bad", description="", criteria=Criteria(spend_min=D("10"),
                                                                                       spend_max=D("5")), actor=ada)
        assert not Segment.objects.exists()

    def test_a_day_window_over_a_century_is_refused_naming_its_field(self, ada):
        assert Criteria(ordered_within_days=36_500, not_ordered_for_days=30).errors() == []
        assert Criteria(ordered_within_days=36_501).errors() == [
            ("ordered_within_days", "At most 36,500 days (100 years).")]
        assert Criteria(not_ordered_for_days=1_000_000).errors() == [
            ("not_ordered_for_days", "At most 36,500 days (100 years).")]
        with pytest.raises(SegmentError, match="At most 36,500 days"):
            segment_save(segment=None, name="Forever", description="",
                         criteria=Criteria(ordered_within_days=1_000_000), actor=ada)
        assert not Segment.objects.exists()

    def test_a_stored_window_over_a_century_still_queries(self, db):
        """A segment saved before the bound (or edited as JSON in the admin) must not overflow the date math."""
        recent, never = AccountFactory(), AccountFactory()
        AccountSnapshot.objects.create(account=recent, computed_at=NOW, as_of=NOW.date(),
                                       last_order_at=NOW - timedelta(days=10))

        within = Segment(criteria={"ordered_within_days": 1_000_000})
        lapsed = Segment(criteria={"not_ordered_for_days": 1_000_000})

        assert set(segment_accounts(within, today=NOW.date())) == {recent}
        assert set(segment_accounts(lapsed, today=NOW.date())) == {never}

    def test_clustering_is_reproducible_and_makes_archived_history(self, ada):
        for i in range(30):
            account = AccountFactory()
            big = i < 20
            for j in range(6 if big else 1):
                InteractionFactory(account=account, kind=K.ORDER, amount=D("5000") if big else D("40"),
                                   direct_cost=D("3000") if big else D("36"),
                                   occurred_at=NOW - timedelta(days=30 + 20 * j))
            if not big:
                for _ in range(8):
                    InteractionFactory(account=account, kind=K.SUPPORT_CALL, amount=D("0"), direct_cost=D("0"),
                                       occurred_at=NOW - timedelta(days=40))
            AccountSnapshot.objects.create(account=account, computed_at=NOW, as_of=NOW.date(),
                                           net_profit_ttm=D("12000") if big else D("-300"),
                                           net_margin_pct=D("40") if big else D("-60"))

        first = clustering_run(seed=11, actor_id=ada.pk, now=NOW)
        second = clustering_run(seed=11, actor_id=ada.pk, now=NOW)

        def membership(run):  # type: ignore[no-untyped-def]
            return [sorted(s.members.values_list("account_id", flat=True))
                    for s in run.segments.order_by("cluster_index")]

        assert first.k == second.k == 2
        assert membership(first) == membership(second)
        assert [len(m) for m in membership(first)] == [20, 10]
        assert not first.segments.filter(archived=False).exists()
        assert second.segments.filter(archived=False).count() == 2
        assert [s.name.split(": ", 1)[1] for s in first.segments.order_by("cluster_index")] == \
            [s.name.split(": ", 1)[1] for s in second.segments.order_by("cluster_index")]

        # The current clusters are ranked in segment P&L next to industries and tiers (analytics reads them) ...
        from profitability.models import SegmentPnl
        from profitability.services import segment_pnl_recompute

        clusters = list(SegmentPnl.objects.filter(dimension="cluster").order_by("rank")
                        .values_list("accounts", "net_profit", "rank"))
        assert clusters == [(20, D("240000.00"), 1), (10, D("-3000.00"), 2)]
        # ... and the engine's own segment refresh leaves them alone.
        segment_pnl_recompute(now=NOW)
        assert SegmentPnl.objects.filter(dimension="cluster").count() == 2
        assert SegmentPnl.objects.filter(dimension="industry").exists()


class TestRollout:
    def test_launch_assigns_the_hashed_pilot_share_with_reproducible_variants(self, campaign, manufacturing, ada):
        weights = [(v.pk, v.weight) for v in campaign.variants.order_by("label")]
        expected = {a.pk: variant_for(campaign.pk, a.pk, weights) for a in manufacturing
                    if stage_for(campaign.pk, a.pk, D("20")) == 1}

        launched = campaign_launch(campaign_id=campaign.pk, actor=ada, now=LAUNCH)

        got = dict(CampaignAssignment.objects.filter(campaign=campaign).values_list("account_id", "variant_id"))
        assert launched == len(expected) == len(got)
        assert got == expected
        assert 20 <= launched <= 60  # ~20 % of 200
        campaign.refresh_from_db()
        assert (campaign.status, campaign.launched_at) == ("pilot", LAUNCH)

    def test_expand_assigns_the_rest_with_the_chosen_variant(self, campaign, manufacturing, ada):
        pilot = campaign_launch(campaign_id=campaign.pk, actor=ada, now=LAUNCH)
        b = campaign.variants.get(label="B")

        rest = campaign_expand(campaign_id=campaign.pk, actor=ada, variant_id=b.pk, now=LAUNCH + timedelta(days=30))

        assert pilot + rest == 200
        stage2 = CampaignAssignment.objects.filter(campaign=campaign, stage=2)
        assert stage2.count() == rest and set(stage2.values_list("variant_id", flat=True)) == {b.pk}
        with pytest.raises(CampaignError, match="pilot stage"):
            campaign_expand(campaign_id=campaign.pk, actor=ada, now=LAUNCH)

    def test_a_campaign_needs_two_variants_and_a_draft_to_launch(self, campaign, ada):
        campaign.variants.get(label="B").delete()
        with pytest.raises(CampaignError, match="at least two variants"):
            campaign_launch(campaign_id=campaign.pk, actor=ada, now=LAUNCH)
        assert not CampaignAssignment.objects.exists()

    def test_stop(self, campaign, ada):
        campaign_launch(campaign_id=campaign.pk, actor=ada, now=LAUNCH)
        campaign_stop(campaign_id=campaign.pk, actor=ada, now=LAUNCH)
        campaign.refresh_from_db()
        assert campaign.status == "stopped"
        with pytest.raises(CampaignError):
            campaign_stop(campaign_id=campaign.pk, actor=ada, now=LAUNCH)

    def test_a_loyalty_bonus_credits_its_points_to_program_members(self, segment, manufacturing, program, ada):
        members = manufacturing[:100]
        for account in members:
            enrol(program, account)
        bonus = Campaign.objects.create(name="Double points", segment=segment, offer="loyalty_bonus", channel="email",
                                        loyalty_program=program, pilot_pct=D("100"))
        CampaignVariant.objects.create(campaign=bonus, label="A", description="200 bonus points", bonus_points=200)
        CampaignVariant.objects.create(campaign=bonus, label="B", description="No bonus", bonus_points=0)

        campaign_launch(campaign_id=bonus.pk, actor=ada, now=LAUNCH)

        got_a = set(CampaignAssignment.objects.filter(campaign=bonus, variant__label="A",
                                                      account__in=members).values_list("account_id", flat=True))
        credited = LedgerEntry.objects.filter(kind="adjust", reason="Campaign bonus: Double points (variant A)")
        assert set(credited.values_list("enrolment__account_id", flat=True)) == got_a
        assert set(credited.values_list("points", flat=True)) == {200}


class TestTracking:
    def test_per_variant_response_revenue_and_net_profit_over_the_response_window(self, campaign, ada):
        campaign_launch(campaign_id=campaign.pk, actor=ada, now=LAUNCH)
        rows = list(CampaignAssignment.objects.filter(campaign=campaign).select_related("variant"))
        expected: dict[str, dict] = {"A": {"n": 0, "responders": 0, "revenue": D(0), "profit": D(0)},
                                     "B": {"n": 0, "responders": 0, "revenue": D(0), "profit": D(0)}}
        for i, row in enumerate(rows):
            e = expected[row.variant.label]
            e["n"] += 1
            e["profit"] -= D("2.00")  # reaching it by email costs a marketing touch (the default rate)
            if i % 3 == 0:  # responds (promotion fulfilment costs 5.00) and orders 1,000 (COGS 600, handling
                # 25.00 + shipping 12.00) inside the window
                InteractionFactory(account=row.account, kind=K.PROMOTION_RESPONSE, amount=D("0"), direct_cost=D("0"),
                                   occurred_at=LAUNCH + timedelta(days=2))
                InteractionFactory(account=row.account, kind=K.ORDER, amount=D("1000"), direct_cost=D("600"),
                                   occurred_at=LAUNCH + timedelta(days=5))
                e["responders"] += 1
                e["revenue"] += D("1000")
                e["profit"] += D("1000") - D("600") - D("5") - D("25") - D("12")
            # outside the window: not counted
            InteractionFactory(account=row.account, kind=K.ORDER, amount=D("777"), direct_cost=D("1"),
                               occurred_at=LAUNCH + timedelta(days=61))

        campaign.refresh_from_db()
        results = campaign_results(campaign=campaign, now=LAUNCH + timedelta(days=90), currency="EUR")

        got = {r.variant.label: {"n": r.accounts, "responders": r.responders, "revenue": r.revenue,
                                 "profit": r.net_profit} for r in results.variants}
        assert got == expected
        assert results.compared_stage == "pilot"
        assert results.recommendation.action in {"continue", "expand", "stop"}

    def test_sql_and_python_window_figures_agree(self, db):
        account = AccountFactory()
        InteractionFactory(account=account, kind=K.ORDER, amount=D("100"), direct_cost=D("60"), quantity=3,
                           occurred_at=LAUNCH)
        InteractionFactory(account=account, kind=K.RETURN, amount=D("40"), direct_cost=D("20"), occurred_at=LAUNCH)
        InteractionFactory(account=account, kind=K.SUPPORT_CALL, channel="phone", amount=D("0"), direct_cost=D("0"),
                           occurred_at=LAUNCH)
        windows = [Window("in", account.pk, LAUNCH, LAUNCH + timedelta(days=1)),
                   Window("before", account.pk, LAUNCH - timedelta(days=5), LAUNCH)]
        rates = rate_windows()

        assert _sql(windows, rates) == _python(windows, rates)
        got = window_figures(windows)["in"]
        assert (got.revenue, got.returns, got.cogs, got.cost_to_serve) == (D("100"), D("40"), D("40"), D("90"))
        assert got.net_profit == D("-70")  # 100 − 40 − 40 − (25 + 12 + 35 + 18)
        assert window_figures(windows)["before"].net_profit == 0


def test_program_results_compare_members_with_comparable_non_members(program, alice):
    gold = Tier.objects.get(name="Gold")
    enrolled_at = datetime(2025, 3, 1, tzinfo=UTC)
    now = datetime(2025, 8, 28, tzinfo=UTC)  # 180 days after enrolment

    def account(member: bool, before: str, after: str):  # type: ignore[no-untyped-def]
        a = AccountFactory(segment="Operations buyer")
        AccountSnapshot.objects.create(account=a, computed_at=now, as_of=now.date(), tier=gold)
        InteractionFactory(account=a, kind=K.RENEWAL, amount=D(before), direct_cost=D("0"),
                           occurred_at=enrolled_at - timedelta(days=90))
        InteractionFactory(account=a, kind=K.RENEWAL, amount=D(after), direct_cost=D("0"),
                           occurred_at=enrolled_at + timedelta(days=90))
        if member:
            e = enrol(program, a, enrolled_at)
            LedgerEntry.objects.create(enrolment=e, kind="adjust", points=100, occurred_at=now, recorded_at=now,
                                       reason="Bonus")
        return a

    for _ in range(2):
        account(True, "1020", "1620")  # net of 20.00 contract administration: 1,000 → 1,600 per 180 days
    for _ in range(3):
        account(False, "1020", "1320")  # 1,000 → 1,300

    results = program_results(program=program, now=now)

    assert (results.enrolled, results.liability_points, results.liability_value) == (2, 200, D("2.00"))
    (cell,) = results.cells
    assert (cell.tier, cell.segment, cell.members, cell.comparables) == ("Gold", "Operations buyer", 2, 3)
    assert (cell.members_before, cell.members_after) == (D("166.67"), D("266.67"))  # per 30 days
    assert (cell.others_before, cell.others_after) == (D("166.67"), D("216.67"))
    assert cell.difference == results.overall_difference == D("50.00")
    assert results.engagement_pct == 0.0  # nobody earned in the last 90 days (adjustments are not earnings)
    assert Enrolment.objects.count() == 2
