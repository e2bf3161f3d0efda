"""Campaign contact cost: per-variant net profit = revenue − COGS − cost-to-serve − contact cost − offer cost,
with its breakdown on the campaign page, and the significance test and advice on net profit per contacted
account. Figures worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.contact_cost import AccountOutcome, bonus_cost, contact_rate, variant_pnl
from campaigns.models import Campaign, CampaignAssignment, CampaignVariant
from campaigns.segmentation import Criteria
from campaigns.selectors import campaign_results
from campaigns.services.campaigns import campaign_launch
from campaigns.services.segments import segment_save
from campaigns.windows import rate_windows
from crm.models import InteractionKind as K
from profitability.costing import RateWindow
from profitability.models import CostRate
from tests.factories import AccountFactory, InteractionFactory

from .conftest import enrol

D = Decimal
LAUNCH = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
LATER = LAUNCH + timedelta(days=90)


# --- the pure parts ---------------------------------------------------------------------------------------


def touch(channel: str, rate: str, start: date, end: date | None = None, activity: str = "Marketing touches"):
    return RateWindow(activity, "marketing_touch", channel, False, D(rate), start, end)


def test_contact_rate_is_the_marketing_touch_rates_in_force_on_the_day_for_the_channel():
    rates = [touch("email", "2.00", date(2000, 1, 1), date(2025, 6, 1)), touch("email", "3.50", date(2025, 6, 1)),
             touch("email", "0.40", date(2025, 1, 1), activity="Mailing platform"),
             touch("phone", "9.00", date(2000, 1, 1)),
             RateWindow("Order handling", "order", "email", False, D("25"), date(2000, 1, 1), None)]
    assert contact_rate(rates, channel="email", on=date(2024, 12, 31)) == D("2.00")
    assert contact_rate(rates, channel="email", on=date(2025, 5, 31)) == D("2.40")
    assert contact_rate(rates, channel="email", on=date(2025, 6, 1)) == D("3.90")
    assert contact_rate(rates, channel="phone", on=date(2025, 6, 1)) == D("9.00")
    assert contact_rate(rates, channel="social", on=date(2025, 6, 1)) == D("0")
    assert bonus_cost(200, D("0.0125")) == D("2.5000")


def test_variant_pnl_subtracts_cogs_cost_to_serve_contact_and_offer_cost():
    outcomes = [
        # responded and ordered 1,000 (COGS 600; fulfilment 5 + handling 25 + shipping 12), e-mailed for 2, bonus 2.50
        AccountOutcome(D("1000"), D("600"), D("42"), D("2.00"), D("2.50"), True),
        AccountOutcome(D("0"), D("0"), D("0"), D("2.00"), D("2.50"), False),
        AccountOutcome(D("-40"), D("-20"), D("35"), D("2.00"), D("0"), False),  # a return only; not a member
    ]
    pnl = variant_pnl(outcomes)
    assert (pnl.accounts, pnl.responders) == (3, 1)
    assert (pnl.net_revenue, pnl.cogs, pnl.gross_margin) == (D("960.00"), D("580.00"), D("380.00"))
    assert (pnl.cost_to_serve, pnl.contact_cost, pnl.offer_cost) == (D("77.00"), D("6.00"), D("5.00"))
    assert pnl.net_profit == D("292.00")  # 380 − 77 − 6 − 5
    assert pnl.net_profit_per_account == D("97.33")
    assert pnl.contact_cost_per_account == D("2.00")
    assert [o.net_profit for o in outcomes] == [D("353.50"), D("-4.50"), D("-57.00")]
    assert variant_pnl([]).net_profit_per_account is None


# --- a campaign, end to end ---------------------------------------------------------------------------------


@pytest.fixture
def printers(ada):  # type: ignore[no-untyped-def]
    """100 printing firms, a segment of them, and a catalogue campaign to all of them at once: a hold-out
    control (not contacted) against a printed catalogue."""
    for _ in range(100):
        AccountFactory(industry="Printing")
    segment = segment_save(segment=None, name="Printers", description="", criteria=Criteria(industries=("Printing",)),
                           actor=ada)
    campaign = Campaign.objects.create(name="Catalogue", segment=segment, offer="volume_discount", channel="email",
                                       pilot_pct=D("100"), response_window_days=60)
    CampaignVariant.objects.create(campaign=campaign, label="Control", description="Nothing", contacted=False)
    CampaignVariant.objects.create(campaign=campaign, label="Offer", description="Catalogue, 5 % off",
                                   discount_pct=D("5"))
    campaign_launch(campaign_id=campaign.pk, actor=ada, now=LAUNCH)
    # Every account orders once in its window: the offer's accounts 1,000–1,040 at COGS 900 (margin 100–140),
    # the control's 500–540 at COGS 450 (margin 50–90). Each order costs 25 + 12 to handle and ship. The
    # amounts cycle within each variant, so its spread does not depend on how the ids fell into the variants.
    seen = {"Offer": 0, "Control": 0}
    for row in CampaignAssignment.objects.filter(campaign=campaign).select_related("variant").order_by("account_id"):
        label = row.variant.label
        base, cogs = (D("1000"), D("900")) if label == "Offer" else (D("500"), D("450"))
        InteractionFactory(account_id=row.account_id, kind=K.ORDER, channel="web", amount=base + 10 * (seen[label] % 5),
                           direct_cost=cogs, occurred_at=LAUNCH + timedelta(days=5))
        seen[label] += 1
    campaign.refresh_from_db()
    return campaign


def margins(campaign: Campaign, label: str) -> list[Decimal]:
    """Each account's order margin less handling and shipping, from the rows written above."""
    from crm.models import Interaction

    ids = CampaignAssignment.objects.filter(campaign=campaign, variant__label=label).values("account_id")
    return [a - c - D("37") for a, c in Interaction.objects.filter(account_id__in=ids).values_list(
        "amount", "direct_cost")]


def test_net_profit_counts_the_channel_rate_per_contacted_account_and_none_for_the_hold_out(printers):
    results = campaign_results(campaign=printers, now=LATER, currency="EUR")
    control, offer = results.variants
    offer_margins, control_margins = margins(printers, "Offer"), margins(printers, "Control")
    n_offer, n_control = len(offer_margins), len(control_margins)
    assert n_offer + n_control == 100 and min(n_offer, n_control) >= 30

    assert (offer.pnl.contact_cost, offer.cost_per_contact) == (D("2.00") * n_offer, D("2.00"))
    assert (control.pnl.contact_cost, control.cost_per_contact) == (D("0.00"), None)
    assert offer.pnl.cost_to_serve == D("37.00") * n_offer
    assert offer.net_profit == sum(offer_margins) - D("2.00") * n_offer
    assert control.net_profit == sum(control_margins)
    assert offer.net_profit_per_account == (offer.net_profit / n_offer).quantize(D("0.01"))
    assert results.recommendation.action == "expand" and results.recommendation.variant == "Offer"
    assert "marketing touch by email" in results.contact_cost_source


def test_an_expensive_contact_turns_the_advice_from_expand_to_stop(printers):
    # A printed catalogue at 60.00 a piece: the offer's ~+50 per account over the control is gone.
    Campaign.objects.filter(pk=printers.pk).update(cost_per_contact=D("60.00"))
    printers.refresh_from_db()

    results = campaign_results(campaign=printers, now=LATER, currency="EUR")

    control, offer = results.variants
    n_offer = offer.accounts
    assert offer.pnl.contact_cost == D("60.00") * n_offer
    assert offer.net_profit == sum(margins(printers, "Offer")) - D("60.00") * n_offer
    rec = results.recommendation
    assert (rec.action, rec.variant) == ("stop", "Control")
    assert "per contacted account" in rec.reasons[0]
    # the test compared net profit per contacted account: the difference is exactly the means' difference
    diff = rec.comparisons[0].net_profit_diff
    assert diff == pytest.approx(float(offer.net_profit / n_offer - control.net_profit / control.accounts))


def test_a_newer_channel_rate_applies_to_contacts_made_after_it(printers):
    CostRate.objects.create(activity="Marketing touches", kind="marketing_touch", channel="email", rate=D("3.50"),
                            effective_from=LAUNCH.date() + timedelta(days=1))
    assert contact_rate(rate_windows(), channel="email", on=LAUNCH.date()) == D("2.00")
    results = campaign_results(campaign=printers, now=LATER, currency="EUR")
    assert results.variants[1].cost_per_contact == D("2.00")  # contacted at launch, before the new rate


def test_a_loyalty_bonus_costs_its_points_for_members_only(program, ada):  # type: ignore[no-untyped-def]
    accounts = [AccountFactory(industry="Printing") for _ in range(40)]
    for account in accounts[:20]:
        enrol(program, account, when=LAUNCH - timedelta(days=30))
    segment = segment_save(segment=None, name="Printers", description="", criteria=Criteria(industries=("Printing",)),
                           actor=ada)
    bonus = Campaign.objects.create(name="Double points", segment=segment, offer="loyalty_bonus", channel="phone",
                                    loyalty_program=program, pilot_pct=D("100"), cost_per_contact=D("4.00"))
    CampaignVariant.objects.create(campaign=bonus, label="A", description="500 points", bonus_points=500)
    CampaignVariant.objects.create(campaign=bonus, label="B", description="No bonus", bonus_points=0)
    campaign_launch(campaign_id=bonus.pk, actor=ada, now=LAUNCH)
    bonus.refresh_from_db()

    results = {v.variant.label: v for v in campaign_results(campaign=bonus, now=LATER, currency="EUR").variants}

    members = set(a.pk for a in accounts[:20])
    a_members = CampaignAssignment.objects.filter(campaign=bonus, variant__label="A", account_id__in=members).count()
    assert results["A"].pnl.offer_cost == D("5.00") * a_members  # 500 points × 0.01
    assert results["B"].pnl.offer_cost == D("0.00")
    assert results["A"].pnl.contact_cost == D("4.00") * results["A"].accounts
    assert results["A"].net_profit == -(D("5.00") * a_members + D("4.00") * results["A"].accounts)


def test_the_campaign_page_shows_the_breakdown(client, alice, printers):
    client.force_login(alice)
    html = client.get(reverse("campaign_detail", args=[printers.pk])).content.decode()
    assert "Net profit by variant" in html
    assert "− Contact cost" in html and "not contacted" in html
    assert "Net profit per contacted account" in html
    assert "Discounts are already inside revenue" in html
