"""Merging two accounts: everything moves, nothing is lost, loyalty adds up, the figures are the sum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.utils import DatabaseError

from campaigns.models import (
    AccountFeatures,
    Campaign,
    CampaignAssignment,
    CampaignVariant,
    EarningRule,
    Enrolment,
    LedgerEntry,
    LoyaltyProgram,
    Opportunity,
    Reward,
    RewardGrant,
    Segment,
    SegmentMember,
)
from campaigns.selectors import enrolment_balance
from campaigns.services.loyalty import points_accrue, points_redeem
from crm.dedupe import scan
from crm.dedupe.services import LEFT_TO_CASCADE, MOVED, MergeError, account_merge, account_relations, relation_label
from crm.models import (
    Account,
    AccountMerge,
    AccountSourceId,
    Contact,
    DuplicateCandidate,
    Interaction,
    InteractionKind,
    Lead,
    ServiceCase,
    SurveyResponse,
)
from profitability import services as engine
from profitability.models import AccountSnapshot, Tier, TierChange
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, ProductFactory, ServiceCaseFactory

from .conftest import NOW

D = Decimal
pytestmark = pytest.mark.django_db
START = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
ENROLLED = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def history(account, *, orders, amount, cost, returns=0, calls=0, surveys=0):  # type: ignore[no-untyped-def]
    for i in range(orders):
        InteractionFactory(account=account, kind=InteractionKind.ORDER, amount=D(amount), direct_cost=D(cost),
                           occurred_at=START + timedelta(days=9 * i))
    for i in range(returns):
        InteractionFactory(account=account, kind=InteractionKind.RETURN, amount=D(amount) / 2,
                           direct_cost=D(cost) / 2, occurred_at=START + timedelta(days=9 * i + 2))
    for i in range(calls):
        InteractionFactory(account=account, kind=InteractionKind.SUPPORT_CALL, amount=D("0"), direct_cost=D("0"),
                           channel="phone", occurred_at=START + timedelta(days=5 * i + 1))
    for i in range(surveys):
        SurveyResponse.objects.create(account=account, score=9 - i, answered_at=START + timedelta(days=30 * i))


@pytest.fixture
def program(db):  # type: ignore[no-untyped-def]
    club = LoyaltyProgram.objects.create(name="Partners Club", status=LoyaltyProgram.Status.ACTIVE,
                                         starts_on=datetime(2024, 1, 1).date())
    EarningRule.objects.create(program=club, trigger=EarningRule.Trigger.NET_REVENUE, points=D("0.1"))
    Reward.objects.create(program=club, name="5 % off", kind=Reward.Kind.DISCOUNT, point_cost=50, discount_pct=D("5"))
    Reward.objects.create(program=club, name="Gold for 30 days", kind=Reward.Kind.TIER_UPGRADE, point_cost=20,
                          upgrade_tier=Tier.objects.order_by("position").first(), upgrade_days=30)
    return club


@pytest.fixture
def loaded_pair(acme_pair, program, ada):  # type: ignore[no-untyped-def]
    """Both records with a full history in every app, including every uniqueness collision a merge meets."""
    erp, sales = acme_pair
    history(erp, orders=6, amount="1000", cost="600", returns=2, calls=3, surveys=2)
    history(sales, orders=4, amount="250", cost="100", returns=1, calls=5, surveys=1)
    for account in (erp, sales):
        ContactFactory(account=account)
        ServiceCaseFactory(account=account)
        Lead.objects.create(company_name=account.name, mql_at=START, account=account)
        engine.snapshot_recompute(account_id=account.pk, now=NOW)
        TierChange.objects.create(account=account, from_tier=None, to_tier=Tier.objects.order_by("position").last(),
                                  changed_at=NOW, metric="net_profit_ttm", reason="First ranking")
        AccountFeatures.objects.create(account=account, computed_at=NOW)
    ContactFactory(account=sales)

    shared, only_sales = ProductFactory(), ProductFactory()
    for account, product, status in ((erp, shared, "open"), (sales, shared, "won"), (sales, only_sales, "open")):
        Opportunity.objects.create(account=account, product=product, source="peers", probability=0.3,
                                   expected_margin=D("100"), reason="Peers buy it", status=status, generated_at=NOW)
    cluster, other = Segment.objects.create(name="Big buyers"), Segment.objects.create(name="Small buyers")
    SegmentMember.objects.create(segment=cluster, account=erp)
    SegmentMember.objects.create(segment=cluster, account=sales)
    SegmentMember.objects.create(segment=other, account=sales)
    campaign = Campaign.objects.create(name="Spring", segment=cluster, offer="bundle", channel="email")
    a, b = (CampaignVariant.objects.create(campaign=campaign, label=x, description=x) for x in "AB")
    CampaignAssignment.objects.create(campaign=campaign, account=erp, variant=a, stage=1, assigned_at=NOW)
    CampaignAssignment.objects.create(campaign=campaign, account=sales, variant=b, stage=1, assigned_at=NOW)

    # Both in the loyalty program (same date, so accrual after the merge changes nothing); the sales record also
    # redeemed a tier upgrade, so it has a reward grant.
    for account in (erp, sales):
        Enrolment.objects.create(program=program, account=account, enrolled_at=ENROLLED, method="manual")
        points_accrue(account_id=account.pk, now=NOW)
    enrolment = Enrolment.objects.get(account=sales)
    points_redeem(enrolment_id=enrolment.pk, reward_id=Reward.objects.get(name="Gold for 30 days").pk, actor=ada,
                  now=NOW)
    return erp, sales


TABLES = {
    "interactions": Interaction, "contacts": Contact, "cases": ServiceCase, "surveys": SurveyResponse,
    "leads": Lead, "source_ids": AccountSourceId, "tier_changes": TierChange, "ledger": LedgerEntry,
    "grants": RewardGrant,
}


def table_totals() -> dict[str, int]:
    return {name: model.objects.count() for name, model in TABLES.items()}


def per_account(account_id: int) -> dict[str, int]:
    counts = {name: model.objects.filter(account_id=account_id).count()
              for name, model in TABLES.items() if name != "ledger"}
    counts["ledger"] = LedgerEntry.objects.filter(enrolment__account_id=account_id).count()
    return counts


def balance(account_id: int) -> int:
    return sum(enrolment_balance(e.pk) for e in Enrolment.objects.filter(account_id=account_id))


def pnl(account_id: int) -> dict[str, Decimal]:
    s = AccountSnapshot.objects.get(account_id=account_id)
    return {"revenue": s.revenue, "returns": s.returns, "cogs": s.cogs, "cost_to_serve": s.cost_to_serve,
            "net_profit": s.net_profit, "orders": s.orders, "gross_margin": s.gross_margin}


def test_merge_moves_everything_and_loses_nothing(loaded_pair, ada):
    erp, sales = loaded_pair
    totals = table_totals()
    mine, theirs = per_account(erp.pk), per_account(sales.pk)
    points = balance(erp.pk) + balance(sales.pk)
    assert theirs["interactions"] == 4 + 1 + 5 and theirs["ledger"] == 6  # 5 earned (4 orders + 1 return), 1 redeemed

    merge = account_merge(survivor_id=erp.pk, merged_id=sales.pk, field_choices={}, user=ada)

    assert not Account.objects.filter(pk=sales.pk).exists()
    assert table_totals() == totals  # nothing cascaded away
    assert per_account(erp.pk) == {name: mine[name] + theirs[name] for name in TABLES}
    assert balance(erp.pk) == points
    assert Enrolment.objects.filter(account=erp).count() == 1  # the two memberships became one
    # Collisions resolved: one opportunity per product, keeping the furthest status; one membership per segment;
    # one assignment per campaign (the survivor's).
    assert sorted(Opportunity.objects.filter(account=erp).values_list("status", flat=True)) == ["open", "won"]
    assert SegmentMember.objects.filter(account=erp).count() == 2
    assert CampaignAssignment.objects.get(account=erp).variant.label == "A"
    assert not AccountSnapshot.objects.filter(account_id=sales.pk).exists()
    assert not AccountFeatures.objects.filter(account_id=sales.pk).exists()
    labelled = TierChange.objects.filter(account=erp, reason__startswith="As Acme Industrial Supply (merged in): ")
    assert labelled.count() == 1
    assert merge.moved["interactions"] == 10
    assert merge.moved["loyalty_enrolments_combined"] == 1
    assert merge.moved["opportunities_combined"] == 1


def test_the_ledger_stays_append_only_and_accrual_awards_nothing_twice(loaded_pair, ada):
    erp, sales = loaded_pair
    entries = LedgerEntry.objects.count()
    account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada)

    result = points_accrue(account_id=erp.pk, now=NOW)

    assert result.entries == 0 and LedgerEntry.objects.count() == entries
    entry = LedgerEntry.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE campaigns_ledgerentry SET points = points + 1 WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        # Moving an entry is refused too, unless a merge switched it on for its own transaction.
        cursor.execute("UPDATE campaigns_ledgerentry SET enrolment_id = enrolment_id WHERE id = %s", [entry.pk])


def test_the_recomputed_survivor_equals_the_sum_of_both_histories(loaded_pair, ada):
    erp, sales = loaded_pair
    mine, theirs = pnl(erp.pk), pnl(sales.pk)
    version = Account.objects.get(pk=erp.pk).history_version

    account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada)
    assert Account.objects.get(pk=erp.pk).history_version == version + 1  # the engines see a change
    engine.snapshot_recompute(account_id=erp.pk, now=NOW)

    assert pnl(erp.pk) == {key: mine[key] + theirs[key] for key in mine}
    assert pnl(erp.pk)["revenue"] == D("7000.00")  # 6 × 1,000 + 4 × 250


def test_the_audit_row_records_who_when_both_records_and_what_moved(loaded_pair, ada):
    erp, sales = loaded_pair
    scan.candidates_find()
    candidate = DuplicateCandidate.objects.get(low=min(erp.pk, sales.pk), high=max(erp.pk, sales.pk))

    merge = account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada, candidate=candidate,
                          field_choices={"industry": "merged", "phone": "survivor"})

    merge.refresh_from_db()
    assert (merge.survivor_id, merge.merged_account_id, merge.merged_name, merge.merged_by) == (
        erp.pk, sales.pk, "Acme Industrial Supply", ada)
    assert merge.score == candidate.score and merge.reasons == candidate.reasons
    assert merge.survivor_before["industry"] == "Manufacturing"
    assert merge.merged_before["source_ids"] == ["salesforce:001A000001"]
    assert merge.merged_before["counts"]["interactions"] == 10
    assert merge.survivor_after["industry"] == "Wholesale & retail"
    assert merge.survivor_after["source_ids"] == ["erp:K-1001", "salesforce:001A000001"]
    assert merge.survivor_after["counts"]["interactions"] == 21
    assert merge.moved["contacts"] == 2 and merge.moved["source_ids"] == 1
    candidate.refresh_from_db()
    assert (candidate.status, candidate.reviewed_by, candidate.merge, candidate.high_id) == (
        "merged", ada, merge, erp.pk if erp.pk > sales.pk else None)
    assert Account.objects.get(pk=erp.pk).industry == "Wholesale & retail"


def test_a_blank_survivor_field_takes_the_merged_value_unless_told_otherwise(acme_pair, ada):
    erp, sales = acme_pair
    erp.region = ""
    erp.save()
    sales.region = "DACH"
    sales.save()
    account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada)
    assert Account.objects.get(pk=erp.pk).region == "DACH"


def test_decisions_about_the_merged_account_carry_over_to_the_survivor(acme_pair, ada):
    erp, sales = acme_pair
    other = AccountFactory(name="Acme Industrial Services")
    stray = AccountFactory(name="Acme Industrial Supplies Group")
    low, high = sorted((sales.pk, other.pk))
    dismissed = DuplicateCandidate.objects.create(low_id=low, high_id=high, low_name="x", high_name="y", score=60,
                                                  status="dismissed", reviewed_by=ada)
    low, high = sorted((sales.pk, stray.pk))
    DuplicateCandidate.objects.create(low_id=low, high_id=high, low_name="x", high_name="y", score=70)

    merge = account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada)

    dismissed.refresh_from_db()
    assert {dismissed.low_id, dismissed.high_id} == {erp.pk, other.pk}
    assert dismissed.status == "dismissed"
    assert not DuplicateCandidate.objects.filter(status="open").exists()
    assert merge.moved == {"source_ids": 1, "candidates_carried_over": 1, "candidates_closed": 1}


def test_it_refuses_impossible_merges_and_changes_nothing(acme_pair, ada):
    erp, sales = acme_pair
    with pytest.raises(MergeError, match="into itself"):
        account_merge(survivor_id=erp.pk, merged_id=erp.pk, user=ada)
    with pytest.raises(MergeError, match="no longer exists"):
        account_merge(survivor_id=erp.pk, merged_id=999_999, user=ada)
    with pytest.raises(MergeError, match="Unknown field"):
        account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada, field_choices={"history_version": "merged"})
    assert Account.objects.filter(pk__in=[erp.pk, sales.pk]).count() == 2
    assert not AccountMerge.objects.exists()


def test_every_relation_to_account_is_handled_by_the_merge():
    labels = {relation_label(r) for r in account_relations()}
    assert labels == MOVED | LEFT_TO_CASCADE, "a new model points at Account: teach crm.dedupe.services to merge it"
    for label in LEFT_TO_CASCADE:
        app, model, field = label.split(".")
        assert apps.get_model(app, model)._meta.get_field(field).remote_field.on_delete.__name__ == "CASCADE"


def test_merging_enqueues_the_recompute_and_a_rescan_after_commit(acme_pair, ada, django_capture_on_commit_callbacks,
                                                                  monkeypatch):
    erp, sales = acme_pair
    sent, scans = [], []
    monkeypatch.setattr("profitability.receivers.recompute_request", lambda account_ids: sent.append(account_ids))
    monkeypatch.setattr("crm.dedupe.tasks.find_duplicates.delay", lambda **kw: scans.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada)
    assert scans == [{"account_ids": [erp.pk]}]
    assert sent == [[erp.pk]]
