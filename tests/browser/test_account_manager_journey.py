"""The account manager's journey, end to end: a real browser, the live server, PostgreSQL, Redis and a real
Celery worker. Alice opens a loss-making Bronze account, logs a large order through the htmx form, sees the
row appear without a reload and the figures say "Recomputing…", and once the worker has recomputed the
snapshot sees the new net profit and the Platinum badge swap in.
"""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Account, InteractionKind
from crm.templatetags.tierwise import money
from profitability import services
from profitability.models import AccountSnapshot, ClvModelFit, SegmentPnl, Tier
from tests import worker as worker_fixtures
from tests.factories import AccountFactory, InteractionFactory, ProductFactory

from .conftest import log_in, save_readme_screenshot

celery_worker_stopped = worker_fixtures.celery_worker_stopped

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "static" / "screenshots" / "account-page.png"
D = Decimal


def small_book(owner):  # type: ignore[no-untyped-def]
    """Nineteen profitable peers and one loyal loss-maker (Patrick's shape), all active in the last year."""
    now = timezone.now()
    for model, params, unit in [  # stored population fits: the journey is about pages, not model fitting
        ("bg_nbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, "weeks"),
        ("gamma_gamma", {"p": 6.25, "q": 3.74, "gamma": 15.44}, "money"),
        ("sbg", {"alpha": 0.704, "beta": 1.182}, "years"),
    ]:
        ClvModelFit.objects.create(model=model, params=params, log_likelihood=0.0, sample_size=20, time_unit=unit,
                                   converged=True, fitted_at=now)
    for i in range(19):
        peer = AccountFactory(name=f"Peer Trading {i + 1:02d}", owner=owner if i % 3 == 0 else None)
        for month in range(4):
            InteractionFactory(account=peer, amount=D(2000 + 1500 * i), direct_cost=D(1200 + 900 * i),
                               occurred_at=now - timedelta(days=30 + 80 * month, hours=i))
    small = AccountFactory(name="Small Parts & Co", owner=owner, industry="Retail")
    for day in range(0, 300, 6):
        InteractionFactory(account=small, amount=D("60"), direct_cost=D("36"),
                           occurred_at=now - timedelta(days=day + 2))
        InteractionFactory(account=small, kind=InteractionKind.SUPPORT_CALL, channel="phone", amount=D("0"),
                           direct_cost=D("0"), occurred_at=now - timedelta(days=day + 3))
    services.book_recompute(now=now)
    return small


def test_an_account_manager_logs_a_large_order_and_sees_the_figures_and_tier_update(
    page, alice, celery_worker_stopped
):
    # Given Alice's small book, ranked, with the loss-maker in the bottom tier
    small = small_book(alice)
    before = AccountSnapshot.objects.select_related("tier").get(pk=small.pk)
    assert before.tier.name == "Bronze" and before.net_profit < 0
    pallet = ProductFactory(name="Catnip pallet", unit_cost=D("20.00"), list_price=D("100.00"))

    # When she opens the account from her list
    log_in(page, "alice")
    page.get_by_role("link", name="Accounts").click()
    page.wait_for_url("**/accounts/")
    page.wait_for_load_state("load")  # htmx is a deferred script: typing before it runs would go unheard
    page.get_by_label("Search by name").fill("small parts")
    expect(page.locator("#account-results tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Small Parts & Co").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Small Parts & Co")
    expect(page.locator("#account-tier")).to_have_text("Bronze")
    net_row = page.locator(".pnl-table tr", has_text="Net profit")
    expect(net_row).to_contain_text(money(before.net_profit))
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    # and logs a large order, first with a mistake the form reports next to the field
    page.get_by_text("Log an interaction").click()
    page.get_by_label("Kind").select_option("order")
    page.get_by_label("Channel").select_option("edi")
    page.get_by_label("Product").select_option(str(pallet.pk))
    page.get_by_label("Quantity").fill("5000")
    page.get_by_label("Amount").fill("-500000")
    page.get_by_label("Note").fill("Five thousand pallets for the new distribution centre")
    page.get_by_role("button", name="Log interaction").click()
    amount = page.get_by_label("Amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#interaction_amount_error")).to_have_text("The amount can't be negative.")
    expect(amount).to_be_focused()
    assert small.interactions.filter(amount=D("500000")).count() == 0

    amount.fill("500000")
    page.get_by_role("button", name="Log interaction").click()

    # Then the row appears at the top of the timeline without a reload, and the figures are recomputing
    new_row = page.locator("#timeline-list > li").first
    expect(new_row).to_contain_text("5000 × Catnip pallet")
    expect(new_row).to_contain_text("€500,000.00")
    expect(page.locator(".notice.saved")).to_have_text("Order logged. The figures are being recomputed.")
    expect(page.locator("#figures-status")).to_have_text("Recomputing…")
    expect(page.locator("#account-figures")).to_have_attribute("hx-trigger", "every 1s")
    expect(page.locator("#account-tier")).to_have_text("Bronze")  # nothing moves until the worker has run
    assert page.evaluate("window.__sameDocument") is True
    assert Account.objects.get(pk=small.pk).history_version > before.computed_version

    # When the worker picks the recompute up, the new figures and the tier swap in within seconds
    celery_worker_stopped.start()
    expect(page.locator("#account-tier")).to_have_text("Platinum", timeout=20_000)
    after = AccountSnapshot.objects.select_related("tier").get(pk=small.pk)
    assert after.tier.name == "Platinum"
    # 500,000 revenue − 5,000 × 20.00 COGS − 25 order handling − 12 shipping
    assert after.net_profit == before.net_profit + D("500000") - D("100000") - D("37")
    expect(net_row).to_contain_text(money(after.net_profit))
    expect(page.locator("#figures-status")).to_have_text("Figures updated.")
    expect(page.locator("#account-figures")).not_to_have_attribute("hx-trigger", "every 1s")
    expect(page.locator(".tier-history")).to_contain_text("Bronze → Platinum")
    expect(page.locator(".service-terms")).to_contain_text("within 1 h")
    assert page.evaluate("window.__sameDocument") is True

    page.evaluate("window.scrollTo(0, 0)")
    save_readme_screenshot(page, SCREENSHOT.name)


def test_the_account_page_works_at_tablet_width(page, alice, celery_worker_stopped):
    small = small_book(alice)
    page.set_viewport_size({"width": 800, "height": 1000})
    log_in(page, "alice")
    # the list sorts in place when a column header is clicked, and the URL follows
    page.goto("/accounts/")
    expect(page.locator("#account-results tbody tr").first).to_contain_text("Peer Trading 19")  # most profitable
    page.get_by_role("link", name="Net profit TTM").click()
    expect(page.locator("#account-results tbody tr").first).to_contain_text("Small Parts & Co")
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    assert "sort=profit" in page.url
    page.goto(f"/accounts/{small.pk}/")
    expect(page.locator("#account-tier")).to_have_text("Bronze")
    # no horizontal scrolling of the page itself: everything fits in 800 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    # the timeline loads older interactions as it scrolls into view (100 rows, 25 at a time)
    rows = page.locator("#timeline-list > li.tl-row")
    expect(rows).to_have_count(25)
    page.locator("#timeline-list > li.tl-more").scroll_into_view_if_needed()
    expect(rows).to_have_count(50)
    page.locator("#timeline-list > li.tl-more").scroll_into_view_if_needed()
    expect(rows).to_have_count(75)
    page.evaluate("window.scrollTo(0, 0)")
    # the period switch swaps the chart in place
    page.get_by_role("link", name="Last 12 months").click()
    expect(page.locator("#figures-period")).to_have_value("ttm")
    expect(page.get_by_role("link", name="Last 12 months")).to_have_attribute("aria-current", "true")


def ranked_in_regions(owner):  # type: ignore[no-untyped-def]
    """Six of the owner's accounts with figures: Gold and Silver ones in DACH and the Nordics (the regions offered)."""
    now = timezone.now()
    gold, silver = Tier.objects.get(name="Gold"), Tier.objects.get(name="Silver")
    for i, (name, tier, region) in enumerate([
        ("Alder Metals", gold, "DACH"), ("Birch Fittings", gold, "Nordics"), ("Cedar Tools", gold, "DACH"),
        ("Dune Supplies", silver, "Nordics"), ("Elm Parts", silver, "DACH"), ("Fir Works", silver, "Nordics"),
    ]):
        account = AccountFactory(name=name, owner=owner, region=region)
        AccountSnapshot.objects.create(account=account, computed_at=now, as_of=now.date(), tier=tier,
                                       net_profit_ttm=D(1000 * (i % 3 + 1)))
    for rank, region in enumerate(["DACH", "Nordics"], start=1):
        SegmentPnl.objects.create(dimension=SegmentPnl.Dimension.REGION, value=region, accounts=3, revenue=0,
                                  gross_margin=0, cost_to_serve=0, net_profit=0, net_profit_per_account=0, rank=rank,
                                  computed_at=now)
    return gold, silver


def test_the_list_filters_follow_the_url_through_back_and_keep_the_column_sort(page, alice):
    gold, silver = ranked_in_regions(alice)
    rows = page.locator("#account-results tbody tr")
    log_in(page, "alice")
    page.goto("/accounts/")
    page.wait_for_load_state("load")  # htmx is a deferred script
    expect(rows).to_have_count(6)

    # Filter by tier, then by region, then go back: the form shows the tier the URL and the results have
    page.locator("#filter-tier").select_option(str(gold.pk))
    page.wait_for_url(f"**/accounts/?*tier={gold.pk}*")
    expect(rows).to_have_count(3)
    page.locator("#filter-region").select_option("Nordics")
    page.wait_for_url("**region=Nordics*")
    expect(rows).to_have_count(1)
    page.go_back()
    page.wait_for_url(lambda url: "region=Nordics" not in url and f"tier={gold.pk}" in url)
    expect(rows).to_have_count(3)
    expect(page.locator("#filter-tier")).to_have_value(str(gold.pk))
    expect(page.locator("#filter-region")).to_have_value("")
    # and the next filter change keeps the tier
    page.locator("#filter-status").select_option("active")
    page.wait_for_url("**status=active*")
    assert f"tier={gold.pk}" in page.url
    expect(rows).to_have_count(3)

    # Sort by name in the table, then change the tier: the sort stays
    page.get_by_role("link", name="Name").click()
    page.wait_for_url("**sort=name*")
    expect(rows.first).to_contain_text("Alder Metals")
    page.locator("#filter-tier").select_option(str(silver.pk))
    page.wait_for_url(f"**tier={silver.pk}*")
    assert "sort=name" in page.url
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("th[aria-sort]")).to_contain_text("Name")
    expect(rows).to_have_text([re.compile(r"^\s*Dune Supplies"), re.compile(r"^\s*Elm Parts"),
                               re.compile(r"^\s*Fir Works")])
    # Back restores the gold list sorted by name, and the form with it
    page.go_back()
    page.wait_for_url(f"**tier={gold.pk}*")
    expect(page.locator("#filter-tier")).to_have_value(str(gold.pk))
    expect(page.locator("#filter-status")).to_have_value("active")
    expect(page.locator("#account-filter-controls input[name=sort]")).to_have_value("name")
