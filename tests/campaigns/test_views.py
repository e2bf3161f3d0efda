"""The campaigns pages and endpoints: who may use them (every role and anonymous), what they show, and that
refused requests change nothing. Service staff see an account's loyalty status, never money figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import (
    Campaign,
    CampaignVariant,
    Enrolment,
    LedgerEntry,
    LoyaltyProgram,
    Opportunity,
    Reward,
    Segment,
)
from campaigns.segmentation import Criteria
from campaigns.services.loyalty import points_adjust
from crm.templatetags.tierwise import money
from profitability.models import AccountSnapshot, Tier
from tests.factories import PASSWORD, AccountFactory, InteractionFactory, ProductFactory

D = Decimal
FINANCIAL_WORDS = ("margin", "Net profit", "CLV", "Cost-to-serve")


@pytest.fixture
def world(db, alice, bob):  # type: ignore[no-untyped-def]
    """Alice's account with a snapshot, an opportunity and a loyalty enrolment; a segment, a program, a campaign."""
    gold = Tier.objects.get(name="Gold")
    account = AccountFactory(name="Alice Works", owner=alice)
    snapshot = AccountSnapshot.objects.create(
        account=account, computed_at=timezone.now(), as_of=date.today(), tier=gold, revenue_ttm=D("48211.00"),
        gross_margin_ttm=D("20111.00"), net_profit_ttm=D("13577.00"), cost_to_serve_ttm=D("6534.00"),
        clv_formula=D("40999.00"), computed_version=account.history_version)
    bobs = AccountFactory(name="Bob Builds", owner=bob)
    product = ProductFactory(name="Epoxy")
    opp = Opportunity.objects.create(account=account, product=product, source="together", probability=0.68,
                                     expected_margin=D("4321.00"), reason="68 % of Gold accounts in Manufacturing "
                                     "that buy Bolt Basic also buy Epoxy.", generated_at=timezone.now())
    bobs_opp = Opportunity.objects.create(account=bobs, product=product, source="peers", probability=0.3,
                                          expected_margin=D("999.00"), reason="30 % of similar accounts buy Epoxy.",
                                          generated_at=timezone.now())
    program = LoyaltyProgram.objects.create(name="Partners Club", status="active", starts_on=date(2024, 1, 1),
                                            min_clv=D("1000"))
    reward = Reward.objects.create(program=program, name="5 % off", kind="discount", point_cost=300, discount_pct=5)
    enrolment = Enrolment.objects.create(program=program, account=account, enrolled_at=timezone.now(),
                                         method="manual")
    points_adjust(enrolment_id=enrolment.pk, points=750, reason="Welcome bonus", actor=alice)
    segment = Segment.objects.create(name="Makers", criteria=Criteria(industries=("Manufacturing",)).to_json())
    campaign = Campaign.objects.create(name="Spring volume", segment=segment, offer="volume_discount", channel="email")
    CampaignVariant.objects.create(campaign=campaign, label="A", description="5 % off")
    CampaignVariant.objects.create(campaign=campaign, label="B", description="10 % off")
    return {"account": account, "snapshot": snapshot, "bobs": bobs, "opp": opp, "bobs_opp": bobs_opp,
            "program": program, "reward": reward, "enrolment": enrolment, "segment": segment, "campaign": campaign}


def login(client, user):  # type: ignore[no-untyped-def]
    assert client.login(username=user.username, password=PASSWORD)


def api_client(user):  # type: ignore[no-untyped-def]
    api = APIClient()
    api.force_authenticate(user)
    return api


def program_post(**over: str) -> dict[str, str]:
    """The program page's form: 'Forever Club' with one survey rule and no rewards, plus ``over``."""
    data = {"name": "Forever Club", "description": "", "status": "active", "starts_on": "2025-01-01",
            "ends_on": "", "min_clv": "", "point_value": "0.01", "points_validity_days": "365",
            "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "5", "rules-0-trigger": "survey", "rules-0-points": "5",
            "rewards-TOTAL_FORMS": "0", "rewards-INITIAL_FORMS": "0", "rewards-MIN_NUM_FORMS": "0",
            "rewards-MAX_NUM_FORMS": "30"}
    return data | over


def pages(w) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "worklist": reverse("opportunity_worklist"),
        "account_opportunities": reverse("account_opportunities", args=[w["account"].pk]),
        "account_loyalty": reverse("account_loyalty", args=[w["account"].pk]),
        "programs": reverse("loyalty_program_list"),
        "program": reverse("loyalty_program_detail", args=[w["program"].pk]),
        "program_new": reverse("loyalty_program_create"),
        "program_edit": reverse("loyalty_program_edit", args=[w["program"].pk]),
        "segments": reverse("segment_list"),
        "segment": reverse("segment_detail", args=[w["segment"].pk]),
        "segment_new": reverse("segment_create"),
        "segment_edit": reverse("segment_edit", args=[w["segment"].pk]),
        "campaigns": reverse("campaign_list"),
        "campaign": reverse("campaign_detail", args=[w["campaign"].pk]),
        "campaign_new": reverse("campaign_create"),
        "campaign_edit": reverse("campaign_edit", args=[w["campaign"].pk]),
    }


ADMIN_ONLY = {"program_new", "program_edit", "segment_new", "segment_edit", "campaign_new", "campaign_edit"}
SERVICE_OK = {"account_loyalty"}


@pytest.mark.parametrize("role", ["anonymous", "nobody", "sam", "alice", "ada"])
def test_the_permission_matrix_of_every_page(client, world, role, request):  # type: ignore[no-untyped-def]
    if role != "anonymous":
        login(client, request.getfixturevalue(role))
    for name, url in pages(world).items():
        response = client.get(url)
        if role == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], name
            continue
        allowed = {"nobody": set(), "sam": SERVICE_OK, "alice": set(pages(world)) - ADMIN_ONLY,
                   "ada": set(pages(world))}[role]
        assert response.status_code == (200 if name in allowed else 403), (name, response.status_code)


def test_service_staff_see_the_loyalty_status_and_no_money(client, world, sam):
    login(client, sam)

    body = client.get(reverse("account_loyalty", args=[world["account"].pk])).content.decode()

    assert "Partners Club" in body and 'data-balance="750"' in body and "Welcome bonus" in body
    assert "Redeem" not in body and "Adjust points" not in body and "Enrol in" not in body
    snap = world["snapshot"]
    for figure in (snap.revenue_ttm, snap.gross_margin_ttm, snap.net_profit_ttm, snap.cost_to_serve_ttm,
                   snap.clv_formula, world["program"].min_clv):
        assert money(figure) not in body and money(figure, 2) not in body
    for word in FINANCIAL_WORDS:
        assert word.lower() not in body.lower()


def test_service_staff_read_points_earned_on_revenue_without_the_revenue(client, world, sam, alice):
    """Points earned on an order say "Order of <day>" to service staff, on the panel and in the API."""
    from campaigns.models import EarningRule
    from campaigns.services.loyalty import points_accrue
    from crm.models import InteractionKind

    EarningRule.objects.create(program=world["program"], trigger="net_revenue", points=D("0.1"))
    Enrolment.objects.filter(pk=world["enrolment"].pk).update(enrolled_at=datetime(2025, 1, 1, tzinfo=UTC))
    InteractionFactory(account=world["account"], kind=InteractionKind.ORDER, amount=D("48213.77"),
                       occurred_at=datetime(2025, 3, 1, 10, tzinfo=UTC))
    points_accrue(account_id=world["account"].pk)
    url = reverse("account_loyalty", args=[world["account"].pk])
    api = f"/api/v1/loyalty/ledger/?account={world['account'].pk}"
    login(client, sam)
    body = client.get(url).content.decode()
    reasons = {e["reason"] for e in api_client(sam).get(api).json()["results"]}
    assert "<td>Order of 1 Mar 2025</td>" in body and "48,213" not in body and "net revenue" not in body
    assert "Order of 1 Mar 2025" in reasons and not any("48,213" in r for r in reasons)

    login(client, alice)
    full = "Order of 1 Mar 2025: EUR 48,213.77 net revenue × 0.1 points"
    assert full in client.get(url).content.decode()
    assert full in {e["reason"] for e in api_client(alice).get(api).json()["results"]}


def test_service_staff_cannot_configure_programs_or_move_points(client, world, sam):
    login(client, sam)
    before = LedgerEntry.objects.count()
    program = world["program"]

    posts = [
        (reverse("loyalty_program_create"), {"name": "Sneaky", "status": "active", "starts_on": "2025-01-01"}),
        (reverse("loyalty_program_edit", args=[program.pk]), {"name": "Renamed", "status": "ended",
                                                               "starts_on": "2024-01-01"}),
        (reverse("loyalty_program_preview"), {"name": "x"}),
        (reverse("loyalty_program_enrol_all", args=[program.pk]), {}),
        (reverse("loyalty_redeem", args=[world["enrolment"].pk]), {"reward": world["reward"].pk}),
        (reverse("loyalty_adjust", args=[world["enrolment"].pk]), {"points": "100", "reason": "x"}),
        (reverse("loyalty_enrol", args=[world["bobs"].pk]), {"program": program.pk}),
        (reverse("opportunity_status", args=[world["opp"].pk]), {"status": "dismissed"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url

    program.refresh_from_db()
    assert (program.name, program.status) == ("Partners Club", "active")
    assert not LoyaltyProgram.objects.filter(name="Sneaky").exists()
    assert LedgerEntry.objects.count() == before
    assert not Enrolment.objects.filter(account=world["bobs"]).exists()
    assert Opportunity.objects.get(pk=world["opp"].pk).status == "open"


class TestOpportunityPages:
    def test_the_worklist_shows_my_opportunities_ranked(self, client, world, alice, django_assert_max_num_queries):
        login(client, alice)
        with django_assert_max_num_queries(12):
            body = client.get(reverse("opportunity_worklist")).content.decode()

        assert "Alice Works" in body and money(D("4321.00")) in body and "68 % of Gold accounts" in body
        assert "Bob Builds" not in body
        everyone = client.get(reverse("opportunity_worklist") + "?owner=all").content.decode()
        assert everyone.index("Alice Works") < everyone.index("Bob Builds")

    def test_pursue_and_dismiss_return_the_updated_row(self, client, world, alice):
        login(client, alice)
        url = reverse("opportunity_status", args=[world["opp"].pk])

        row = client.post(url, {"status": "pursued"}, HTTP_HX_REQUEST="true").content.decode()

        assert 'id="opp-' in row and "Pursued" in row and 'value="won"' in row
        world["opp"].refresh_from_db()
        assert (world["opp"].status, world["opp"].status_changed_by) == ("pursued", alice)

    def test_an_impossible_transition_is_explained_and_changes_nothing(self, client, world, alice):
        login(client, alice)
        row = client.post(reverse("opportunity_status", args=[world["opp"].pk]), {"status": "won"},
                          HTTP_HX_REQUEST="true").content.decode()
        assert "An open opportunity cannot become won." in row
        assert Opportunity.objects.get(pk=world["opp"].pk).status == "open"

    def test_an_account_manager_cannot_work_another_managers_opportunities(self, client, world, alice):
        login(client, alice)
        response = client.post(reverse("opportunity_status", args=[world["bobs_opp"].pk]), {"status": "dismissed"})
        assert response.status_code == 403
        assert Opportunity.objects.get(pk=world["bobs_opp"].pk).status == "open"

    def test_the_account_panel_shows_reason_and_margin_and_actions_only_to_the_owner(self, client, world, alice, bob):
        login(client, alice)
        own = client.get(reverse("account_opportunities", args=[world["account"].pk])).content.decode()
        login(client, bob)
        other = client.get(reverse("account_opportunities", args=[world["account"].pk])).content.decode()

        assert money(D("4321.00")) in own and "68 % of Gold accounts" in own and "Pursue" in own
        assert money(D("4321.00")) in other and "Pursue" not in other


class TestLoyaltyPages:
    def test_the_owner_redeems_and_the_panel_shows_the_new_balance(self, client, world, alice):
        login(client, alice)

        body = client.post(reverse("loyalty_redeem", args=[world["enrolment"].pk]), {"reward": world["reward"].pk},
                           HTTP_HX_REQUEST="true").content.decode()

        assert 'data-balance="450"' in body and "Redeemed 5 % off for 300 points." in body

    def test_a_redemption_beyond_the_balance_is_refused_with_the_reason(self, client, world, alice):
        dear = Reward.objects.create(program=world["program"], name="Free audit", kind="free_service", point_cost=5000)
        login(client, alice)

        body = client.post(reverse("loyalty_redeem", args=[world["enrolment"].pk]), {"reward": dear.pk},
                           HTTP_HX_REQUEST="true").content.decode()

        assert "Not enough points: Free audit costs 5,000 and the balance is 750." in body
        assert LedgerEntry.objects.filter(kind="redeem").count() == 0

    def test_another_manager_cannot_redeem_or_enrol(self, client, world, bob):
        login(client, bob)
        assert client.post(reverse("loyalty_redeem", args=[world["enrolment"].pk]),
                           {"reward": world["reward"].pk}).status_code == 403
        assert LedgerEntry.objects.filter(kind="redeem").count() == 0

    def test_enrolment_needs_eligibility(self, client, world, bob):
        login(client, bob)
        body = client.post(reverse("loyalty_enrol", args=[world["bobs"].pk]), {"program": world["program"].pk},
                           HTTP_HX_REQUEST="true").content.decode()
        assert "Bob Builds does not meet the eligibility rules of Partners Club." in body  # no CLV, min 1,000
        assert not Enrolment.objects.filter(account=world["bobs"]).exists()

    def test_admin_creates_a_program_with_rules_and_rewards(self, client, world, ada):
        login(client, ada)
        data = {
            "name": "Growth Club", "description": "", "status": "active", "starts_on": "2025-01-01", "ends_on": "",
            "min_clv": "", "point_value": "0.01", "points_validity_days": "365",
            "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "5", "rules-0-trigger": "net_revenue", "rules-0-points": "0.1",
            "rewards-TOTAL_FORMS": "1", "rewards-INITIAL_FORMS": "0", "rewards-MIN_NUM_FORMS": "0",
            "rewards-MAX_NUM_FORMS": "30", "rewards-0-name": "Gold for a month", "rewards-0-kind": "tier_upgrade",
            "rewards-0-point_cost": "1000", "rewards-0-upgrade_tier": str(Tier.objects.get(name="Gold").pk),
            "rewards-0-upgrade_days": "30", "rewards-0-active": "on",
        }

        response = client.post(reverse("loyalty_program_create"), data)

        program = LoyaltyProgram.objects.get(name="Growth Club")
        assert response.status_code == 302 and response["Location"] == reverse("loyalty_program_detail",
                                                                               args=[program.pk])
        assert list(program.rules.values_list("trigger", "points")) == [("net_revenue", D("0.1000"))]
        assert program.rewards.get().upgrade_days == 30
        assert program.created_by == ada and program.history.first().history_user == ada

    def test_an_invalid_program_shows_errors_next_to_the_fields_and_saves_nothing(self, client, world, ada):
        login(client, ada)
        data = {"name": "Bad", "status": "active", "starts_on": "2025-06-01", "ends_on": "2025-01-01",
                "point_value": "0.01", "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0",
                "rewards-TOTAL_FORMS": "1", "rewards-INITIAL_FORMS": "0", "rewards-0-name": "Off",
                "rewards-0-kind": "discount", "rewards-0-point_cost": "10", "rewards-0-active": "on"}

        response = client.post(reverse("loyalty_program_create"), data)

        body = response.content.decode()
        assert response.status_code == 422
        assert "The program cannot end before it starts." in body and "A discount needs its percentage." in body
        assert 'aria-invalid="true"' in body and 'id="id_ends_on_error"' in body
        assert not LoyaltyProgram.objects.filter(name="Bad").exists()

    def test_a_validity_over_a_century_is_refused_next_to_its_field_on_the_page_and_the_api(self, client, world,
                                                                                            ada):
        login(client, ada)
        page = client.post(reverse("loyalty_program_create"), program_post(points_validity_days="1000000"))
        api = api_client(ada).post("/api/v1/loyalty/programs/", {
            "name": "Forever Club", "starts_on": "2025-01-01", "points_validity_days": 1_000_000}, format="json")

        assert page.status_code == 422 and 'id="id_points_validity_days_error"' in page.content.decode()
        assert "Ensure this value is less than or equal to 36500." in page.content.decode()
        assert api.status_code == 400 and api.json() == {
            "points_validity_days": ["Ensure this value is less than or equal to 36500."]}
        assert not LoyaltyProgram.objects.filter(name="Forever Club").exists()

    def test_a_negative_minimum_clv_is_refused_next_to_its_field_on_the_page_and_the_api(self, client, world, ada):
        login(client, ada)
        page = client.post(reverse("loyalty_program_create"), program_post(min_clv="-5"))
        api = api_client(ada).post("/api/v1/loyalty/programs/", {
            "name": "Forever Club", "starts_on": "2025-01-01", "min_clv": "-5"}, format="json")

        assert page.status_code == 422 and 'id="id_min_clv_error"' in page.content.decode()
        assert "Constraint" not in page.content.decode()
        assert api.status_code == 400 and api.json() == {
            "min_clv": ["Ensure this value is greater than or equal to 0.00."]}
        assert not LoyaltyProgram.objects.filter(name="Forever Club").exists()

    def test_the_eligibility_preview_counts_accounts_and_writes_nothing(self, client, world, ada):
        login(client, ada)
        gold = Tier.objects.get(name="Gold")

        body = client.post(reverse("loyalty_program_preview"), {
            "name": "Preview", "status": "draft", "starts_on": "2025-01-01", "point_value": "0.01",
            "eligible_tiers": [gold.pk]}, HTTP_HX_REQUEST="true").content.decode()

        assert "data-eligible-total>1<" in body and "Alice Works" in body and "Bob Builds" not in body
        assert not LoyaltyProgram.objects.filter(name="Preview").exists()

    def test_the_program_page_shows_its_results(self, client, world, alice):
        login(client, alice)
        body = client.get(reverse("loyalty_program_detail", args=[world["program"].pk])).content.decode()
        assert "Enrolled accounts" in body and "750" in body and money(D("7.50")) in body


class TestSegmentAndCampaignPages:
    def test_admin_builds_a_segment_with_a_preview(self, client, world, ada):
        login(client, ada)
        data = {"name": "Gold makers", "industries": ["Manufacturing"], "statuses": ["active"],
                "tier_ids": [str(Tier.objects.get(name="Gold").pk)]}

        preview = client.post(reverse("segment_preview"), data, HTTP_HX_REQUEST="true").content.decode()
        assert "data-segment-total>1<" in preview and not Segment.objects.filter(name="Gold makers").exists()

        response = client.post(reverse("segment_create"), data)
        segment = Segment.objects.get(name="Gold makers")
        assert response.status_code == 302
        assert segment.criteria == {"industries": ["Manufacturing"], "tier_ids": [segment.criteria["tier_ids"][0]],
                                    "statuses": ["active"]}

    def test_an_inconsistent_segment_is_refused_next_to_the_field(self, client, world, ada):
        login(client, ada)
        response = client.post(reverse("segment_create"), {"name": "Odd", "statuses": ["active"],
                                                           "spend_min": "100", "spend_max": "10"})
        assert response.status_code == 422
        assert "The highest spend must not be below the lowest." in response.content.decode()
        assert not Segment.objects.filter(name="Odd").exists()

    def test_a_day_window_over_a_century_is_refused_next_to_the_field(self, client, world, ada):
        login(client, ada)
        response = client.post(reverse("segment_create"), {"name": "Forever", "statuses": ["active"],
                                                           "ordered_within_days": "1000000"})
        body = response.content.decode()
        assert response.status_code == 422 and 'id="id_ordered_within_days_error"' in body
        assert "Ensure this value is less than or equal to 36500." in body
        assert not Segment.objects.filter(name="Forever").exists()

    def test_a_program_limited_to_a_segment_saved_with_a_huge_window_still_shows_pages(self, client, world, ada,
                                                                                         sam):
        """Saved before the bound existed: the segment page and every account's loyalty panel still answer."""
        segment = Segment.objects.create(name="Ever ordered", criteria={"ordered_within_days": 1_000_000})
        world["program"].eligible_segments.add(segment)

        login(client, ada)
        assert client.get(reverse("segment_detail", args=[segment.pk])).status_code == 200
        login(client, sam)
        assert client.get(reverse("account_loyalty", args=[world["bobs"].pk])).status_code == 200

    def test_admin_creates_launches_and_sees_the_campaign(self, client, world, ada):
        login(client, ada)
        data = {"name": "Bundle test", "segment": world["segment"].pk, "offer": "bundle", "channel": "email",
                "pilot_pct": "50", "response_window_days": "30", "variants-TOTAL_FORMS": "2",
                "variants-INITIAL_FORMS": "0", "variants-0-label": "A", "variants-0-description": "Bundle",
                "variants-0-weight": "50", "variants-1-label": "Control", "variants-1-description": "Nothing",
                "variants-1-weight": "50"}
        response = client.post(reverse("campaign_create"), data)
        campaign = Campaign.objects.get(name="Bundle test")
        assert response.status_code == 302

        client.post(reverse("campaign_launch", args=[campaign.pk]))

        campaign.refresh_from_db()
        assert campaign.status == "pilot"
        body = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
        assert "Recommendation: Keep testing: every variant needs at least 30 accounts." in body

    def test_a_campaign_with_one_variant_is_refused(self, client, world, ada):
        login(client, ada)
        data = {"name": "Lonely", "segment": world["segment"].pk, "offer": "bundle", "channel": "email",
                "pilot_pct": "50", "response_window_days": "30", "variants-TOTAL_FORMS": "1",
                "variants-INITIAL_FORMS": "0", "variants-0-label": "A", "variants-0-description": "Bundle",
                "variants-0-weight": "50"}
        response = client.post(reverse("campaign_create"), data)
        assert response.status_code == 422 and "Add at least two variants" in response.content.decode()
        assert not Campaign.objects.filter(name="Lonely").exists()

    def test_account_managers_cannot_launch(self, client, world, alice):
        login(client, alice)
        assert client.post(reverse("campaign_launch", args=[world["campaign"].pk])).status_code == 403
        assert Campaign.objects.get(pk=world["campaign"].pk).status == "draft"




# --- the campaign form after a failed save ------------------------------------------------------------------------


def test_a_failed_save_shows_the_reach_of_the_chosen_segment_and_share(client, world, ada):
    """A segment chosen, the default 20 % first stage, a variant without its description: the Reach panel shows
    the reach (it asked to "Choose a segment and a first-stage share" although both were chosen)."""
    from campaigns.selectors import segment_accounts

    AccountFactory(industry="Manufacturing")
    members = segment_accounts(world["segment"], today=timezone.now().astimezone(UTC).date()).count()
    login(client, ada)

    response = client.post(reverse("campaign_create"), _campaign_post(
        "Reach check", world["segment"], pilot_pct="20", **{"variants-1-description": ""}))

    body = " ".join(response.content.decode().split())
    assert response.status_code == 422
    assert not Campaign.objects.filter(name="Reach check").exists()
    assert "Choose a segment and a first-stage share to see the reach." not in body
    accounts = "account" if members == 1 else "accounts"
    assert f"<strong data-segment-members>{members}</strong> {accounts} in Makers today" in body
    assert f"The first stage reaches about <strong>{round(members * 20 / 100)}</strong> of them (20 %)" in body
    assert "Enter the description." in body  # the error that stopped the save, named


def test_a_failed_edit_shows_the_exact_reach_of_the_saved_campaign(client, world, ada):
    campaign = world["campaign"]
    login(client, ada)

    response = client.post(reverse("campaign_edit", args=[campaign.pk]), _campaign_post(
        "Spring volume", world["segment"], pilot_pct="20", **{
            "variants-INITIAL_FORMS": "2", "variants-1-label": "B", "variants-0-description": "",
            **{f"variants-{i}-id": str(v.pk) for i, v in enumerate(campaign.variants.order_by("label"))}}))

    body = " ".join(response.content.decode().split())
    assert response.status_code == 422
    assert response.context["preview"]["exact_pilot"] is not None
    assert "Choose a segment and a first-stage share to see the reach." not in body
    assert "The first stage reaches <strong>" in body


def test_a_failed_save_without_a_segment_still_asks_for_one(client, world, ada):
    login(client, ada)

    response = client.post(reverse("campaign_create"), _campaign_post("No segment", world["segment"]) | {"segment": ""})

    body = response.content.decode()
    assert response.status_code == 422
    assert "Choose a segment and a first-stage share to see the reach." in body
    assert "Choose the segment." in body


def test_variant_errors_name_their_field(client, world, ada):
    login(client, ada)

    response = client.post(reverse("campaign_create"), _campaign_post("Named", world["segment"], **{
        "variants-0-description": "", "variants-0-discount_pct": "150", "variants-0-weight": "0",
        "variants-1-weight": "101"}))

    variants = response.context["variants"]
    assert response.status_code == 422
    assert variants.forms[0].errors == {
        "description": ["Enter the description."],
        "discount_pct": ["The discount percentage can't be more than 100."],
        "weight": ["The share (weight) can't be less than 1."],
    }
    assert variants.forms[1].errors == {"weight": ["The share (weight) can't be more than 100."]}
    body = response.content.decode()
    for generic in ("This field is required.", "Ensure this value"):
        assert generic not in body


# --- QA walkthrough: loyalty panel, opportunity rows --------------------------------------------------------------


def _parts(html: str, container: str) -> tuple[int, list[tuple[str, int]]]:
    """The first balance (``data-balance``) and the parts (``data-part``, signed ``data-points``) shown in the
    paragraph starting at ``container``."""
    import re

    start = html.index(container)
    chunk = html[start:html.index("</p>", start)]
    parts = [(key, int(points)) for key, points in re.findall(r'data-part="(\w+)" data-points="(-?\d+)"', chunk)]
    balances = re.findall(r'data-balance="(-?\d+)"', html)
    return int(balances[0]), parts


class TestLoyaltyFigures:
    @pytest.fixture
    def member(self, world, alice):  # type: ignore[no-untyped-def]
        """Alice's account in a program of its own with every kind of ledger entry: a balance of 2,870."""
        from campaigns.models import EarningRule

        program = LoyaltyProgram.objects.create(name="Makers Club", status="active", starts_on=date(2024, 1, 1))
        rule = EarningRule.objects.create(program=program, trigger="net_revenue", points=D("0.1"))
        reward = Reward.objects.create(program=program, name="Free audit", kind="free_service", point_cost=2500)
        enrolment = Enrolment.objects.create(program=program, account=world["account"],
                                             enrolled_at=datetime(2025, 1, 1, tzinfo=UTC), method="manual")
        at = datetime(2025, 3, 1, tzinfo=UTC)
        for kind, points, extra in [
            ("earn", 5000, {"rule": rule, "source_interaction_id": 1, "revision": 1}),
            ("earn", 468, {"rule": rule, "source_interaction_id": 2, "revision": 1}),
            ("reverse", -20, {"rule": rule, "source_interaction_id": 2, "revision": 2}),
            ("redeem", -2500, {"reward": reward}),
            ("expire", -100, {}),
            ("adjust", 30, {}),
            ("adjust", -8, {}),
        ]:
            LedgerEntry.objects.create(enrolment=enrolment, kind=kind, points=points, occurred_at=at, recorded_at=at,
                                       reason=f"{kind} {points}", **extra)
        return program

    def test_the_panels_parts_sum_to_the_balance(self, client, world, alice, member):
        login(client, alice)
        body = client.get(reverse("account_loyalty", args=[world["account"].pk])).content.decode()

        balance, parts = _parts(body[body.index("Makers Club"):], "Member since")
        assert balance == 2870 and sum(points for _, points in parts) == balance
        assert parts == [("earned", 5448), ("redeemed", -2500), ("expired", -100), ("adjusted", 22)]
        assert ("5,448 earned net of reversals</span> · "
                '<span class="points-part" data-part="redeemed" data-points="-2500">2,500 redeemed') in body
        assert "100 expired" in body and "+22 adjusted" in body

    def test_the_panel_shows_only_the_parts_that_are_not_zero(self, client, world, alice):
        login(client, alice)
        body = client.get(reverse("account_loyalty", args=[world["account"].pk])).content.decode()

        balance, parts = _parts(body, "Member since")
        assert (balance, parts) == (750, [("adjusted", 750)])  # the welcome bonus only

    def test_the_program_pages_parts_sum_to_its_unredeemed_points(self, client, world, alice, member):
        login(client, alice)
        body = client.get(reverse("loyalty_program_detail", args=[member.pk])).content.decode()

        balance, parts = _parts(body, 'class="muted points-breakdown"')
        assert balance == 2870 and sum(points for _, points in parts) == balance
        assert parts == [("earned", 5448), ("redeemed", -2500), ("expired", -100), ("adjusted", 22)]
        assert "= 2,870 unredeemed." in body
        # the redemption rate uses the same "earned": 2,500 of 5,448
        assert "points redeemed (2,500) over points earned net of reversals (5,448)" in body
        assert "<dt>Redemption rate</dt><dd>45.9 %</dd>" in body

    def test_without_enough_points_for_any_reward_the_panel_says_so_instead_of_offering_a_blank_form(
            self, client, world, alice):
        points_adjust(enrolment_id=world["enrolment"].pk, points=-642, reason="Correction", actor=alice)  # 108 left
        Reward.objects.create(program=world["program"], name="Free audit", kind="free_service", point_cost=900)
        login(client, alice)

        body = client.get(reverse("account_loyalty", args=[world["account"].pk])).content.decode()

        assert 'data-balance="108"' in body
        assert "The cheapest reward needs 300 points; 108 available." in body
        assert "redeem-form" not in body and 'name="reward"' not in body

    def test_with_enough_points_for_some_reward_the_redeem_form_is_offered(self, client, world, alice):
        login(client, alice)
        body = client.get(reverse("account_loyalty", args=[world["account"].pk])).content.decode()
        assert "redeem-form" in body and "The cheapest reward needs" not in body

    def test_a_redeem_without_enough_points_for_any_reward_says_there_are_not_enough_points(self, client, world,
                                                                                               alice):
        points_adjust(enrolment_id=world["enrolment"].pk, points=-642, reason="Correction", actor=alice)  # 108 left
        login(client, alice)
        url = reverse("loyalty_redeem", args=[world["enrolment"].pk])

        blank = client.post(url, {}, HTTP_HX_REQUEST="true").content.decode()  # every option was disabled
        chosen = client.post(url, {"reward": world["reward"].pk}, HTTP_HX_REQUEST="true").content.decode()

        assert "Not enough points. The cheapest reward needs 300 points; 108 available." in blank
        assert "Choose a reward" not in blank
        assert "Not enough points: 5 % off costs 300 and the balance is 108." in chosen
        assert LedgerEntry.objects.filter(kind="redeem").count() == 0

    def test_a_redeem_without_a_reward_while_one_is_affordable_asks_to_choose(self, client, world, alice):
        login(client, alice)
        body = client.post(reverse("loyalty_redeem", args=[world["enrolment"].pk]), {},
                           HTTP_HX_REQUEST="true").content.decode()
        assert "Choose a reward of this program." in body and "Not enough points" not in body


class TestOpportunityRows:
    def test_an_admin_starts_on_everybodys_opportunities(self, client, world, ada):
        login(client, ada)
        body = client.get(reverse("opportunity_worklist")).content.decode()

        assert "Alice Works" in body and "Bob Builds" in body
        assert "No open opportunities on your accounts" not in body
        assert '<option value="all" selected>Everyone</option>' in body

    def test_an_account_manager_still_starts_on_their_own_accounts(self, client, world, alice):
        login(client, alice)
        body = client.get(reverse("opportunity_worklist")).content.decode()
        assert "Alice Works" in body and "Bob Builds" not in body

    @staticmethod
    def _row(html: str, opp_id: int, tag: str = "tr") -> str:
        """The row's markup without the CSRF token (masked differently on each render) and the return address."""
        import re

        start = html.index(f'<{tag} id="{"opp" if tag == "tr" else "account-opp"}-{opp_id}"')
        row = html[start:html.index(f"</{tag}>", start) + len(tag) + 3]
        return re.sub(r'name="(csrfmiddlewaretoken|next)" value="[^"]*"', "", row)

    @staticmethod
    def _form(html: str, opp_id: int, tag: str = "tr") -> dict[str, str]:
        import re

        start = html.index(f'<{tag} id="{"opp" if tag == "tr" else "account-opp"}-{opp_id}"')
        row = html[start:html.index(f"</{tag}>", start)]
        return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', row))

    @pytest.mark.parametrize(("who", "owner"), [("alice", ""), ("ada", ""), ("ada", "all")])
    def test_the_swapped_row_is_the_row_the_page_shows(self, client, world, who, owner, request):
        """Pursue, then dismiss: each swapped row has the page's columns, its rank and its owner line."""
        login(client, request.getfixturevalue(who))
        opp, worklist = world["opp"], reverse("opportunity_worklist")
        page_url = f"{worklist}?owner={owner}" if owner else worklist
        for status in ("pursued", "dismissed"):
            page = client.get(page_url).content.decode()
            data = self._form(page, opp.pk)

            response = client.post(reverse("opportunity_status", args=[opp.pk]), data | {"status": status},
                                   HTTP_HX_REQUEST="true").content.decode()

            after = client.get(f"{worklist}?status={status}" + (f"&owner={owner}" if owner else "")).content.decode()
            swapped = self._row(response, opp.pk)
            assert swapped == self._row(after, opp.pk)
            assert self._form(response, opp.pk)["next"] == data["next"] == page_url
            assert swapped.count("<td") == 9 and '<td class="num">1</td>' in swapped  # the rank stays
            assert swapped.count('<small class="muted">') == (2 if who == "ada" else 1)  # owner line for admins

    def test_the_swapped_account_panel_row_is_the_panels_row(self, client, world, alice):
        login(client, alice)
        panel_url = reverse("account_opportunities", args=[world["account"].pk])
        opp = world["opp"]
        data = self._form(client.get(panel_url).content.decode(), opp.pk, "li")

        swapped = client.post(reverse("opportunity_status", args=[opp.pk]), data | {"status": "pursued"},
                              HTTP_HX_REQUEST="true").content.decode()

        assert self._row(swapped, opp.pk, "li") == self._row(client.get(panel_url).content.decode(), opp.pk, "li")


# --- re-authentication before configuration changes -------------------------------------------------------------


def _age_the_confirmation(client, seconds: int) -> None:  # type: ignore[no-untyped-def]
    import time

    from crm.reauth import REAUTH_AT_KEY

    session = client.session
    session[REAUTH_AT_KEY] = int(time.time()) - seconds
    session.save()


def _campaign_post(name: str, segment: Segment, **over: str) -> dict[str, str]:
    return {"name": name, "segment": str(segment.pk), "offer": "bundle", "channel": "email", "pilot_pct": "50",
            "response_window_days": "30", "variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "0",
            "variants-0-label": "A", "variants-0-description": "Bundle", "variants-0-weight": "50",
            "variants-1-label": "Control", "variants-1-description": "Nothing", "variants-1-weight": "50"} | over


def configuration_changes(w) -> list[tuple[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Every campaigns page that changes configuration, with a valid submission, in an order that works."""
    program, segment, campaign = w["program"], w["segment"], w["campaign"]
    return [
        (reverse("loyalty_program_create"), program_post()),
        (reverse("loyalty_program_edit", args=[program.pk]), program_post(name="Partners Club Plus")),
        (reverse("loyalty_program_enrol_all", args=[program.pk]), {}),
        (reverse("segment_create"), {"name": "Gold makers", "industries": ["Manufacturing"], "statuses": ["active"]}),
        (reverse("segment_edit", args=[segment.pk]), {"name": "Makers renamed", "industries": ["Manufacturing"],
                                                      "statuses": ["active"]}),
        (reverse("segment_cluster"), {"seed": "7"}),
        (reverse("campaign_create"), _campaign_post("Bundle test", segment)),
        (reverse("campaign_edit", args=[campaign.pk]), _campaign_post("Spring volume 2", segment, **{
            "variants-INITIAL_FORMS": "2", "variants-1-label": "B",
            **{f"variants-{i}-id": str(v.pk) for i, v in enumerate(campaign.variants.order_by("label"))}})),
        (reverse("campaign_launch", args=[campaign.pk]), {}),
        (reverse("campaign_expand", args=[campaign.pk]), {"variant": ""}),
        (reverse("campaign_stop", args=[campaign.pk]), {}),
    ]


CONFIGURATION_PAGES = ["program_new", "program_edit", "segment_new", "segment_edit", "campaign_new", "campaign_edit"]


def _configuration_state() -> tuple:
    return (sorted(LoyaltyProgram.objects.values_list("name", "status")), Enrolment.objects.count(),
            sorted(Segment.objects.values_list("name", "archived")),
            sorted(Campaign.objects.values_list("name", "status")), CampaignVariant.objects.count())


class TestReauthentication:
    def test_after_the_window_closed_each_configuration_page_asks_for_the_password_first(self, client, world, ada,
                                                                                        settings):
        settings.REAUTH_WINDOW = 600
        login(client, ada)
        _age_the_confirmation(client, 601)

        for name in CONFIGURATION_PAGES:
            response = client.get(pages(world)[name])
            assert response.status_code == 302, name
            assert response.url.startswith(reverse("reauth_confirm")), name

    def test_after_the_window_closed_no_configuration_change_is_applied(self, client, world, ada, settings,
                                                                        django_capture_on_commit_callbacks):
        settings.REAUTH_WINDOW = 600
        login(client, ada)
        _age_the_confirmation(client, 601)
        before = _configuration_state()

        with django_capture_on_commit_callbacks() as callbacks:
            for url, data in configuration_changes(world):
                response = client.post(url, data)
                assert response.status_code == 302 and response.url.startswith(reverse("reauth_confirm")), url
                htmx = client.post(url, data, HTTP_HX_REQUEST="true")
                assert htmx.status_code == 204 and htmx["HX-Redirect"].startswith(reverse("reauth_confirm")), url

        assert _configuration_state() == before
        assert callbacks == []  # no enrolment or clustering queued

    def test_within_the_window_every_configuration_change_goes_through(self, client, world, ada, settings,
                                                                       django_capture_on_commit_callbacks):
        settings.REAUTH_WINDOW = 600
        login(client, ada)
        for name in CONFIGURATION_PAGES:
            assert client.get(pages(world)[name]).status_code == 200, name

        with django_capture_on_commit_callbacks() as callbacks:
            for url, data in configuration_changes(world):
                response = client.post(url, data)
                assert response.status_code == 302 and not response.url.startswith(reverse("reauth_confirm")), url

        assert LoyaltyProgram.objects.filter(name="Forever Club").exists()
        assert LoyaltyProgram.objects.get(pk=world["program"].pk).name == "Partners Club Plus"
        assert Segment.objects.filter(name="Gold makers").exists()
        assert Segment.objects.get(pk=world["segment"].pk).name == "Makers renamed"
        assert Campaign.objects.filter(name="Bundle test", status="draft").exists()
        campaign = Campaign.objects.get(pk=world["campaign"].pk)
        assert (campaign.name, campaign.status) == ("Spring volume 2", "stopped")
        assert None not in (campaign.launched_at, campaign.expanded_at, campaign.stopped_at)
        assert len(callbacks) == 3  # re-accruing the edited program, enrolling the eligible accounts, clustering

    def test_account_level_actions_need_no_fresh_confirmation(self, client, world, alice, settings):
        """Enrolling, redeeming and working opportunities are the account manager's daily work, not configuration."""
        settings.REAUTH_WINDOW = 600
        login(client, alice)
        _age_the_confirmation(client, 601)

        redeemed = client.post(reverse("loyalty_redeem", args=[world["enrolment"].pk]),
                               {"reward": world["reward"].pk}, HTTP_HX_REQUEST="true")
        pursued = client.post(reverse("opportunity_status", args=[world["opp"].pk]), {"status": "pursued"},
                              HTTP_HX_REQUEST="true")

        assert redeemed.status_code == 200 and pursued.status_code == 200
        assert LedgerEntry.objects.filter(kind="redeem").count() == 1
        assert Opportunity.objects.get(pk=world["opp"].pk).status == "pursued"
