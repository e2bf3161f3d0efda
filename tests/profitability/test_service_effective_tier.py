"""A loyalty reward's temporary tier upgrade counts wherever service staff see the tier — the queue order and its
tier filter, the badge and entitlements on the queue, the lookup and the service view — with the reason shown,
and it ends by itself. The SLA deadlines use the same answer."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Enrolment, LedgerEntry, Reward, RewardGrant
from campaigns.services.loyalty import points_adjust, points_redeem, upgrades_apply_sla
from crm.models import Account, ServiceCase
from profitability.models import AccountSnapshot, Tier
from profitability.selectors.effective_tier import effective_tiers, tier_grant_sources
from profitability.selectors.service import QueueFilters, account_lookup, queue_page, service_account
from tests.campaigns.conftest import program  # noqa: F401  (fixture)
from tests.factories import AccountFactory, ServiceCaseFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db
ROW_ID = re.compile(r'<tr id="case-(\d+)"')


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("profitability.receivers.recompute_request", lambda *, account_ids: 0)
    monkeypatch.setattr("campaigns.receivers._history_changed", lambda *a, **k: None)


def tier(name: str) -> Tier:
    return Tier.objects.get(name=name)


def ranked(name: str, tier_name: str | None) -> Account:
    account = AccountFactory(name=name)
    AccountSnapshot.objects.create(account=account, computed_at=NOW, as_of=NOW.date(),
                                   tier=tier(tier_name) if tier_name else None)
    return account


def open_case(account: Account, *, due_in: timedelta) -> ServiceCase:
    now = timezone.now()
    return ServiceCaseFactory(account=account, opened_at=now - timedelta(hours=1), resolution_due_at=now + due_in,
                              first_response_due_at=None, urgency=0.3, sentiment=0.0, urgency_reasons=[])


def grant(account: Account, tier_name: str, *, days: int, program, since=None) -> RewardGrant:  # noqa: F811
    """Redeem the program's tier-upgrade reward (re-pointed at ``tier_name``) for ``account``."""
    since = since or timezone.now() - timedelta(hours=2)
    reward = Reward.objects.create(program=program, name=f"{tier_name} for {days} days", kind=Reward.Kind.TIER_UPGRADE,
                                   point_cost=100, upgrade_tier=tier(tier_name), upgrade_days=days)
    enrolment, _ = Enrolment.objects.get_or_create(program=program, account=account, defaults={
        "enrolled_at": since - timedelta(days=1), "method": Enrolment.Method.MANUAL})
    points_adjust(enrolment_id=enrolment.pk, points=100, reason="Goodwill", actor=None, now=since)
    entry = points_redeem(enrolment_id=enrolment.pk, reward_id=reward.pk, actor=None, now=since)
    return RewardGrant.objects.get(entry=entry)


@pytest.fixture
def silver_and_gold(program):  # noqa: F811
    """Sid's ranked Silver, Gail's ranked Gold; each has one open case, Sid's due sooner."""
    sid, gail = ranked("Sid Silver Works", "Silver"), ranked("Gail Gold Traders", "Gold")
    return sid, gail, open_case(sid, due_in=timedelta(hours=1)), open_case(gail, due_in=timedelta(hours=6))


def order(now) -> list[int]:  # type: ignore[no-untyped-def]
    page = queue_page(filters=QueueFilters(), user_id=0, page_number=1, now=now)
    return [r.case.pk for r in page.rows]


def test_the_campaigns_app_registers_loyalty_rewards_as_the_source_of_temporary_tiers():
    assert [(s.key, s.reason) for s in tier_grant_sources()] == [("loyalty", "loyalty reward")]


def test_a_running_upgrade_moves_the_account_up_the_queue_and_it_ends_by_itself(silver_and_gold, program):  # noqa: F811
    sid, gail, sid_case, gail_case = silver_and_gold
    now = timezone.now()
    assert order(now) == [gail_case.pk, sid_case.pk]  # Gold before Silver, whatever the deadlines

    g = grant(sid, "Platinum", days=10, program=program)

    assert order(now) == [sid_case.pk, gail_case.pk]
    row = queue_page(filters=QueueFilters(), user_id=0, page_number=1, now=now).rows[0]
    assert (row.tier.name, row.effective.own.name, row.effective.until, row.effective.reason) == (
        "Platinum", "Silver", g.valid_until, "loyalty reward")
    # the day after it ends: Silver again, with nobody having to take it back
    assert order(g.valid_until + timedelta(seconds=1)) == [gail_case.pk, sid_case.pk]
    assert order(g.valid_from - timedelta(seconds=1)) == [gail_case.pk, sid_case.pk]


def test_the_tier_filter_uses_the_effective_tier(silver_and_gold, program):  # noqa: F811
    sid, _gail, sid_case, gail_case = silver_and_gold
    grant(sid, "Gold", days=5, program=program)
    gold = queue_page(filters=QueueFilters(tier=str(tier("Gold").pk)), user_id=0, page_number=1, now=timezone.now())
    silver = queue_page(filters=QueueFilters(tier=str(tier("Silver").pk)), user_id=0, page_number=1,
                        now=timezone.now())
    assert sorted(r.case.pk for r in gold.rows) == sorted([sid_case.pk, gail_case.pk])
    assert silver.rows == []


def test_an_upgrade_to_a_tier_no_better_than_the_ranked_one_changes_nothing(program):  # noqa: F811
    gail = ranked("Gail Gold Traders", "Gold")
    grant(gail, "Silver", days=5, program=program)
    effective = effective_tiers(account_ids=[gail.pk], now=timezone.now())[gail.pk]
    assert (effective.tier.name, effective.own.name, effective.upgraded, effective.reason) == (
        "Gold", "Gold", False, "")


def test_an_unranked_account_gets_the_upgraded_tier_and_the_best_of_two_grants_counts(program):  # noqa: F811
    newbie = ranked("New Customer Ltd", None)
    grant(newbie, "Silver", days=30, program=program)
    best = grant(newbie, "Gold", days=3, program=program)
    effective = effective_tiers(account_ids=[newbie.pk], now=timezone.now())[newbie.pk]
    assert (effective.tier.name, effective.own, effective.until) == ("Gold", None, best.valid_until)


def test_the_queue_lookup_and_service_view_show_the_upgrade_and_its_reason(client, sam, silver_and_gold, program):  # noqa: F811
    sid, _gail, sid_case, gail_case = silver_and_gold
    g = grant(sid, "Gold", days=10, program=program)
    client.force_login(sam)
    until = f"{g.valid_until:%-d %b}"
    reason = re.compile(rf"Gold until <time datetime=\"[^\"]+\">{until}</time> — loyalty reward")

    queue = client.get(reverse("service_queue")).content.decode()
    sid_row = re.search(rf'<tr id="case-{sid_case.pk}".*?</tr>', queue, re.S).group(0)
    assert 'badge tier" style="--tier-color: ' in sid_row and ">Gold</span>" in sid_row
    assert reason.search(sid_row)
    assert ROW_ID.findall(queue) == [str(sid_case.pk), str(gail_case.pk)]  # Gold ties: the nearer deadline first

    lookup = client.get(reverse("account_lookup"), {"q": "Sid Silver"}).content.decode()
    assert reason.search(lookup)
    assert f"resolution within <strong>{tier('Gold').resolution_hours} h</strong>" in lookup

    page = client.get(reverse("service_account", args=[sid.pk])).content.decode()
    assert reason.search(page)
    assert "Service level: Gold" in page
    assert "ranked Silver. It returns to the ranked tier by itself." in page
    for line in tier("Gold").entitlement_list:
        assert f"<li>{line}</li>" in page
    # the loyalty panel loads on the service view (it used to be placed outside the account's scope)
    assert f'hx-get="{reverse("account_loyalty", args=[sid.pk])}"' in page


def test_after_the_upgrade_the_pages_show_the_ranked_tier_again(client, sam, program):  # noqa: F811
    sid = ranked("Sid Silver Works", "Silver")
    grant(sid, "Gold", days=1, program=program, since=timezone.now() - timedelta(days=2))
    client.force_login(sam)
    page = client.get(reverse("service_account", args=[sid.pk])).content.decode()
    assert "Service level: Silver" in page
    assert "loyalty reward" not in page.split('id="service-level-title"')[0] + page.split("</section>")[0]
    assert "tier-upgrade" not in page


def test_sla_deadlines_and_the_queue_use_the_same_effective_tier(silver_and_gold, program):  # noqa: F811
    sid, _gail, sid_case, _gail_case = silver_and_gold
    ServiceCase.objects.filter(pk=sid_case.pk).update(resolution_due_at=sid_case.opened_at + timedelta(hours=48))
    grant(sid, "Platinum", days=10, program=program)  # applies the SLA on commit; apply it here directly too
    upgrades_apply_sla(account_ids=[sid.pk])
    sid_case.refresh_from_db()
    assert sid_case.resolution_due_at == sid_case.opened_at + timedelta(hours=tier("Platinum").resolution_hours)


def test_selectors_keep_their_query_counts_with_upgrades(django_assert_num_queries, silver_and_gold, program):  # noqa: F811
    sid, gail, *_ = silver_and_gold
    grant(sid, "Gold", days=10, program=program)
    now = timezone.now()
    with django_assert_num_queries(4):  # tiers, count, page of cases, account names
        queue_page(filters=QueueFilters(), user_id=0, page_number=1, now=now)
    with django_assert_num_queries(4):  # accounts (with contacts prefetched), open cases, tiers
        account_lookup(query="Traders", now=now)
    tiers = {t.pk: t for t in Tier.objects.all()}
    with django_assert_num_queries(1):
        effective_tiers(account_ids=[sid.pk, gail.pk], now=now, tiers=tiers)
    view = service_account(account_id=sid.pk, now=now)
    assert (view.tier.name, view.effective.own.name) == ("Gold", "Silver")
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1


def test_the_account_page_shows_the_service_level_applied_and_the_ranked_tier(client, ada, silver_and_gold,
                                                                             program):  # noqa: F811
    # Given Gail, ranked Gold, on a running Platinum loyalty upgrade
    _sid, gail, *_ = silver_and_gold
    until = grant(gail, "Platinum", days=10, program=program).valid_until
    platinum = tier("Platinum")
    client.force_login(ada)

    # When an admin opens her account page (and its live figures panel)
    for url in (reverse("account_detail", args=[gail.pk]), reverse("account_figures", args=[gail.pk])):
        card = client.get(url).content.decode().split('id="service-level-title"')[1].split("</section>")[0]

        # Then the tier card shows Platinum's service level, why and until when, and the tier its figures rank it in
        assert re.search(r'<span id="account-tier"><span class="badge tier"[^>]*>Platinum</span></span>', card)
        day = timezone.localtime(until)
        assert f'Platinum until <time datetime="{day.isoformat()}">{day.day} {day:%b}</time> — loyalty reward' in card
        assert '<span id="account-ranked" class="muted">ranked Gold</span>' in card
        assert f"<dd>within {platinum.first_response_hours} h</dd>" in card
        assert f"<dd>within {platinum.resolution_hours} h</dd>" in card
        assert f"<dd>{platinum.queue_priority}</dd>" in card
        assert f"within {tier('Gold').first_response_hours} h" not in card


def test_the_account_page_without_an_upgrade_shows_the_ranked_tier_only(client, ada, silver_and_gold):
    sid, *_ = silver_and_gold
    client.force_login(ada)
    card = client.get(reverse("account_detail", args=[sid.pk])).content.decode().split(
        'id="service-level-title"')[1].split("</section>")[0]
    assert re.search(r'<span id="account-tier"><span class="badge tier"[^>]*>Silver</span></span>', card)
    assert f"<dd>within {tier('Silver').first_response_hours} h</dd>" in card
    assert "tier-upgrade" not in card and "account-ranked" not in card and "Served as" not in card
