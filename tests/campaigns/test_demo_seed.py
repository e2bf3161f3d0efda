"""``seed_demo`` fills the campaigns pages: rule segments and a clustering run, an active loyalty program with
automatic enrolment, earning rules, rewards and ledger history (a running tier upgrade included), a campaign
with A/B variants mid-rollout with responses, and opportunities — reproducibly, and only once the book is ranked."""

from datetime import date
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db.models import Sum

from campaigns.models import (
    Campaign,
    CampaignAssignment,
    ClusteringRun,
    EarningRule,
    Enrolment,
    LedgerEntry,
    LoyaltyProgram,
    Opportunity,
    Reward,
    RewardGrant,
    Segment,
)
from campaigns.selectors import campaign_results
from crm.management.commands import seed_demo
from crm.models import Interaction, ServiceCase

AS_OF = date(2026, 6, 30)
pytestmark = pytest.mark.django_db


def seed(*extra: str, accounts: int = 300) -> StringIO:
    """Output continues after the command returns: the after-commit step writes to it too."""
    out = StringIO()
    # The engines' listeners are tested elsewhere; here the command ranks the book itself, as it does without
    # a broker.
    with mock.patch.object(seed_demo, "history_changed"), mock.patch.object(seed_demo, "case_opened"):
        call_command("seed_demo", "--accounts", str(accounts), "--seed", "5", "--as-of", AS_OF.isoformat(), *extra,
                     stdout=out)
    return out


@pytest.fixture
def eager(settings):  # type: ignore[no-untyped-def]
    settings.CELERY_TASK_ALWAYS_EAGER = True


def snapshot_of_campaigns() -> dict:
    return {
        "segments": sorted(Segment.objects.values_list("name", "kind")),
        "assignments": sorted(CampaignAssignment.objects.values_list("account__name", "variant__label", "stage")),
        "responses": sorted(Interaction.objects.filter(external_id__startswith="CMP").values_list(
            "account__name", "kind", "occurred_at", "amount")),
        "ledger": sorted(LedgerEntry.objects.values_list("enrolment__account__name", "kind", "points", "occurred_at")),
        "opportunities": sorted(Opportunity.objects.values_list("account__name", "product__sku", "expected_margin")),
        "clusters": sorted(Segment.objects.filter(kind="cluster").values_list("cluster_index", "description")),
    }


def test_the_demo_book_has_loyalty_segments_clusters_a_campaign_and_opportunities(django_capture_on_commit_callbacks,
                                                                                   eager):
    with django_capture_on_commit_callbacks(execute=True):
        out = seed()

    program = LoyaltyProgram.objects.get(name="Partners Club")
    assert (program.status, program.auto_enrol) == ("active", True)
    assert sorted(t.name for t in program.eligible_tiers.all()) == ["Gold", "Platinum"]
    assert EarningRule.objects.filter(program=program).count() == 4
    assert set(Reward.objects.filter(program=program).values_list("kind", flat=True)) == {
        "discount", "free_service", "tier_upgrade"}
    members = Enrolment.objects.filter(program=program)
    assert members.exists() and not members.exclude(method="automatic").exists()
    assert not members.exclude(account__snapshot__tier__position__lte=2).exists()
    kinds = set(LedgerEntry.objects.values_list("kind", flat=True))
    assert {"earn", "redeem", "adjust"} <= kinds
    for enrolment in members.annotate(b=Sum("entries__points")):
        assert (enrolment.b or 0) >= 0
    grant = RewardGrant.objects.select_related("tier").get()
    assert grant.tier.name == "Platinum"
    assert grant.account.snapshot.tier.name == "Gold"
    gold_with_case = members.filter(account__snapshot__tier__name="Gold", account__cases__in=ServiceCase.objects
                                    .exclude(status="resolved"))
    if gold_with_case.exists():  # the queue shows it then
        assert ServiceCase.objects.filter(account_id=grant.account_id).exclude(status="resolved").exists()
    assert LoyaltyProgram.objects.filter(status="draft").count() == 1

    assert Segment.objects.filter(kind="rules").count() == 4
    assert ClusteringRun.objects.count() == 1 and Segment.objects.filter(kind="cluster").count() >= 2

    campaign = Campaign.objects.get()
    assert campaign.status == "pilot"
    assigned = CampaignAssignment.objects.filter(campaign=campaign)
    assert set(assigned.values_list("stage", flat=True)) == {1}
    assert {"A", "B"} == set(assigned.values_list("variant__label", flat=True))
    assert min(assigned.filter(variant__label=v).count() for v in "AB") >= 30  # enough for the tests to run
    assert Interaction.objects.filter(kind="promotion_response", account_id__in=assigned.values("account_id")).exists()
    results = campaign_results(campaign=campaign, now=campaign.launched_at.replace(year=2026, month=7, day=30),
                               currency="EUR")
    assert sum(v.responders for v in results.variants) > 0
    assert all(v.pnl.contact_cost > 0 for v in results.variants)
    assert results.recommendation.comparisons  # the significance test ran

    assert Opportunity.objects.filter(status="open").count() > 0
    assert "campaigns: ranked the whole book" in out.getvalue() and "Partners Club with" in out.getvalue()


def test_with_a_broker_it_ranks_the_book_itself_and_seeds_the_rest(django_capture_on_commit_callbacks):
    # The recomputes go to a broker with no worker behind it: the command must not leave the loyalty program,
    # its ledger and the opportunities to jobs that never create them.
    with django_capture_on_commit_callbacks(execute=True):
        out = seed(accounts=40)
    assert "campaigns: ranked the whole book" in out.getvalue()
    assert LoyaltyProgram.objects.filter(status="active", name="Partners Club").exists()
    assert LedgerEntry.objects.exists() and Opportunity.objects.exists()
    assert Campaign.objects.get().status == "pilot"

    # the same seed and date give the same campaigns data, after --reset too (identities restart)
    first = snapshot_of_campaigns()
    with django_capture_on_commit_callbacks(execute=True):
        seed("--reset", accounts=40)
    assert snapshot_of_campaigns() == first and first["assignments"] and first["responses"]
