"""The admin's journey: change a tier band, see the preview, save, and watch the account list follow — in a
real browser against a live server on PostgreSQL with a real Celery worker recomputing the book."""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Interaction, InteractionKind
from profitability.models import AccountSnapshot, Tier, TierChange
from profitability.services import book_recompute
from tests.factories import AccountFactory
from tests.worker import celery_worker_process  # noqa: F401  (fixture)

from .conftest import ARTIFACTS, log_in, save_readme_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "static" / "screenshots" / "admin-tiers.png"
UPPER = "Reaches down to (% of ranking)"


def build_book(now):  # type: ignore[no-untyped-def]
    """Twenty customers, "Rank 01" the most profitable: two to four orders each in the last four months,
    together worth 6,000 × (21 − rank) at a 50 % gross margin (varied enough for the CLV models to fit).
    Ranked into the default bands: Platinum 1, Gold 3, Silver 6, Bronze 10."""
    accounts = {}
    orders = []
    for rank in range(1, 21):
        account = AccountFactory(name=f"Rank {rank:02d} Handels GmbH")
        accounts[rank] = account
        count = 2 + rank % 3
        amount = (Decimal(6000 * (21 - rank)) / count).quantize(Decimal("0.01"))
        orders += [Interaction(account=account, kind=InteractionKind.ORDER, channel="edi", amount=amount,
                               direct_cost=(amount / 2).quantize(Decimal("0.01")),
                               occurred_at=now - timedelta(days=30 * (i + 1) - rank)) for i in range(count)]
    Interaction.objects.bulk_create(orders)  # the book's past: no signals, nothing for the worker yet
    book_recompute(now=now)
    return accounts


def tiers_of(accounts) -> dict[int, str]:  # type: ignore[no-untyped-def]
    names = dict(AccountSnapshot.objects.values_list("account_id", "tier__name"))
    return {rank: names[account.pk] for rank, account in accounts.items()}


def expected(platinum: int, gold: int, silver: int) -> dict[int, str]:
    return {rank: "Platinum" if rank <= platinum else "Gold" if rank <= gold else "Silver" if rank <= silver
            else "Bronze" for rank in range(1, 21)}


def test_an_admin_changes_a_band_previews_saves_and_the_book_follows(page, ada, celery_worker_process):  # noqa: F811
    accounts = build_book(timezone.now())
    assert tiers_of(accounts) == expected(platinum=1, gold=4, silver=10)
    changes_before = TierChange.objects.count()

    log_in(page, "ada")
    page.get_by_role("link", name="Configuration").click()
    expect(page.get_by_role("heading", name="Tier bands and service levels")).to_be_visible()
    platinum = page.get_by_role("group", name="Platinum")
    expect(platinum.get_by_text("1 active account today")).to_be_visible()

    # Platinum to the top 25 % — above Gold's 20 %: the preview refuses, next to the field that breaks the order.
    platinum.get_by_label(UPPER).fill("25")
    page.get_by_role("button", name="Preview").click()
    gold_upper = page.get_by_role("group", name="Gold").get_by_label(UPPER)
    expect(gold_upper).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_form-1-upper_pct_error")).to_have_text(
        "Must be above Platinum’s 25 % — bands are cumulative from the top of the ranking.")
    expect(platinum.get_by_label(UPPER)).to_have_value("25")  # what was typed stays

    # Gold down to 40 %: the preview shows the counts and who moves; nothing is saved yet.
    gold_upper.fill("40")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#tier-preview")
    expect(preview.get_by_role("heading", name=re.compile("7 accounts would change tier"))).to_be_visible()
    for tier, count in {"Platinum": 5, "Gold": 3, "Silver": 2, "Bronze": 10}.items():
        expect(preview.locator(f'[data-tier-after="{tier}"]')).to_have_text(str(count))
    movers = preview.locator("table.movers tbody tr")
    expect(movers).to_have_count(7)
    expect(movers.nth(0)).to_contain_text("Rank 02 Handels GmbH")
    expect(movers.nth(0)).to_contain_text("Gold")
    expect(movers.nth(3)).to_contain_text("Rank 05 Handels GmbH")
    expect(movers.nth(6)).to_contain_text("Rank 08 Handels GmbH")
    assert Tier.objects.get(name="Platinum").upper_pct == Decimal("5")
    expect(page.locator("#tier-status")).to_have_text("Preview ready: 7 accounts would change tier.")
    expect(page.locator(".errorlist")).to_have_count(0)  # the earlier error is gone with the valid bands
    expect(page.get_by_role("button", name="Preview")).to_be_focused()  # htmx keeps the focus where it was
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    save_readme_screenshot(page, SCREENSHOT.name)
    # On a tablet the preview goes below the form, and nothing overflows sideways.
    page.set_viewport_size({"width": 800, "height": 1000})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTIFACTS / "admin-tiers-tablet.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Save: the bands change at once, the worker recomputes every account's tier.
    page.get_by_role("button", name="Save tiers").click()
    expect(page.get_by_text("Tiers saved (2 changed). A recompute of every account")).to_be_visible()
    assert list(Tier.objects.values_list("name", "upper_pct")) == [
        ("Platinum", Decimal("25")), ("Gold", Decimal("40")), ("Silver", Decimal("50")), ("Bronze", Decimal("100"))]
    assert Tier.objects.get(name="Platinum").history.latest().history_user == ada

    moved = expected(platinum=5, gold=8, silver=10)
    celery_worker_process.wait_until(lambda: tiers_of(accounts) == moved, timeout=60,
                                     message="the worker to re-rank the book into the new bands")
    assert TierChange.objects.count() - changes_before == 7
    celery_worker_process.wait_until(lambda: celery_worker_process.succeeded("profitability.tasks.recompute_book"),
                                     message="the recompute to finish")
    assert celery_worker_process.succeeded("profitability.tasks.recompute_book") == 1  # one save, one recompute

    # The audit trail names the admin and the old and new bands.
    page.get_by_role("link", name="Change history").click()
    history = page.locator("#history-list")
    change = history.get_by_role("row", name=re.compile("Platinum")).first
    expect(change).to_contain_text("ada")
    expect(change).to_contain_text(re.compile(r"Reaches down to:\s*5 %\s*→\s*changed to\s*25 %"))

    # The account list shows the new tiers.
    try:
        list_url = reverse("account_list")
    except NoReverseMatch:  # the list belongs to another area; the database already showed the new tiers
        return
    platinum_id = Tier.objects.get(name="Platinum").pk
    page.goto(f"{list_url}?tier={platinum_id}&owner=all")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(5)
    for rank in range(1, 6):
        row = page.get_by_role("row", name=re.compile(f"Rank {rank:02d} Handels GmbH"))
        expect(row).to_contain_text("Platinum")
    expect(page.get_by_role("row", name=re.compile("Rank 05 Handels GmbH"))).to_contain_text("moved up")
