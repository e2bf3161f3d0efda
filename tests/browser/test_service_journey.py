"""The service agent's journey: take the top case of the tier-ordered queue and record a first response,
in a real browser against a live server on PostgreSQL with a real Celery worker recomputing behind it."""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Account, Interaction, InteractionKind, ServiceCase
from profitability.models import AccountSnapshot, Tier
from profitability.services import book_recompute
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, ServiceCaseFactory
from tests.worker import celery_worker_process  # noqa: F401  (fixture)

from .conftest import log_in, save_readme_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "static" / "screenshots" / "service-queue.png"


def caught_up(account_id: int) -> bool:
    history, computed = Account.objects.filter(pk=account_id).values_list(
        "history_version", "snapshot__computed_version").get()
    return computed is not None and computed >= history


NAMED = {1: "Nordwind Logistics", 6: "Hansa Maschinenbau", 15: "Rhein Elektro", 36: "Kleinteile Koch"}


def build_book(now):  # type: ignore[no-untyped-def]
    """Forty customers from a big regular buyer down to occasional ones (2 Platinum, 6 Gold, 12 Silver, 20
    Bronze once ranked), and open complaints on four of them, one per tier."""
    accounts = {}
    orders = []
    for rank in range(1, 41):
        account = AccountFactory(name=NAMED.get(rank, f"Customer {rank:02d}"))
        accounts[rank] = account
        amount = (Decimal(20000) * Decimal("0.85") ** rank).quantize(Decimal("0.01"))
        orders += [Interaction(account=account, kind=InteractionKind.ORDER, amount=amount,
                               direct_cost=(amount * Decimal("0.6")).quantize(Decimal("0.01")),
                               occurred_at=now - timedelta(days=40 * i + 3)) for i in range(8 - rank // 6)]
    # No model signals: the orders are the book's past, not changes for the worker to pick up.
    Interaction.objects.bulk_create(orders)
    for rank in NAMED:
        ContactFactory(account=accounts[rank], name=f"Buyer at {NAMED[rank].split()[0]}")
    cases = {
        # The top tier's case is due later than the bottom tier's, and still comes first.
        "top": ServiceCaseFactory(account=accounts[1], subject="Pallets missing from delivery",
                                  body="Two pallets short, we need them for Monday.", severity="high",
                                  opened_at=now - timedelta(minutes=20), urgency=0.45, sentiment=-0.3,
                                  urgency_reasons=["says “missing”", "severity high"]),
        "gold": ServiceCaseFactory(account=accounts[6], subject="URGENT: line down, cannot ship!!",
                                   severity="critical", opened_at=now - timedelta(hours=5), urgency=0.85,
                                   sentiment=-0.7, urgency_reasons=["says “urgent”", "says “line down”"]),
        "silver": ServiceCaseFactory(account=accounts[15], subject="Invoice address outdated",
                                     opened_at=now - timedelta(hours=3), urgency=0.1, sentiment=0.2,
                                     urgency_reasons=["severity medium"]),
        "bronze": ServiceCaseFactory(account=accounts[36], subject="Wrong label on delivery",
                                     severity="low", opened_at=now - timedelta(hours=23, minutes=30), urgency=0.3,
                                     sentiment=-0.6, urgency_reasons=["says “wrong”"]),
    }
    book_recompute(now=now)  # ranks the book into tiers and sets every open case's SLA due times
    return accounts, cases


def test_a_service_agent_takes_the_top_case_and_records_a_first_response(page, sam, celery_worker_process):  # noqa: F811
    accounts, cases = build_book(timezone.now())
    top = cases["top"]
    tiers = {key: AccountSnapshot.objects.get(account=case.account).tier.name for key, case in cases.items()}
    assert tiers == {"top": "Platinum", "gold": "Gold", "silver": "Silver", "bronze": "Bronze"}
    top.refresh_from_db()
    assert top.first_response_due_at == top.opened_at + timedelta(hours=1)  # Platinum: first response in 1 h

    log_in(page, "sam")
    page.get_by_role("link", name="Service queue").click()
    page.wait_for_url("**/service/queue/")
    page.evaluate("window.__stillTheSamePage = true")

    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(4)
    first = rows.first
    expect(first).to_have_attribute("id", f"case-{top.pk}")
    expect(first.locator("th.account")).to_have_text("Nordwind Logistics")
    expect(first.locator(".badge.tier")).to_have_text("Platinum")
    # The bottom tier's case is due sooner than the top one, and still comes later.
    bronze = cases["bronze"]
    bronze.refresh_from_db()
    assert bronze.first_response_due_at < top.first_response_due_at
    order = rows.evaluate_all("rows => rows.map(row => row.id)")
    assert order == [f"case-{cases[key].pk}" for key in ("top", "gold", "silver", "bronze")]

    # The SLA countdown is live.
    countdown = first.locator("time[data-sla-countdown]")
    expect(countdown).to_have_text(re.compile(r"^(3\d|4\d) min \d+ s left$"))
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=3000)

    # Take the top case.
    first.get_by_role("button", name=re.compile("^Assign to me")).click()
    expect(first.locator("td.assignee")).to_have_text("sam")
    expect(first.locator(".row-message")).to_have_text("“Pallets missing from delivery” is assigned to you.")
    expect(first.get_by_role("button", name=re.compile("^Assign to me"))).to_have_count(0)

    # Record the first response inline.
    first.locator("summary", has_text="First response").click()
    first.get_by_label("Message to the customer").fill("Sorry about that: the two pallets leave our depot today.")
    first.get_by_role("button", name="Record response").click()
    expect(first.locator(".row-message")).to_have_text("First response recorded.")
    expect(first.locator(".status-label")).to_have_text("In progress")
    expect(first.locator(".first-response")).to_have_text(re.compile(r"^Responded \d{1,2} \w{3} \d\d:\d\d$"))
    expect(first.locator("td.assignee")).to_have_text("sam")
    expect(first.locator("summary", has_text="First response")).to_have_count(0)
    # Without a first response pending, the next deadline is the resolution (8 h for Platinum).
    expect(first.locator(".sla-kind")).to_have_text(re.compile(r"^Resolution due "))
    assert page.evaluate("window.__stillTheSamePage") is True  # no reload happened

    top.refresh_from_db()
    assert (top.status, top.assignee, top.first_response_at is not None) == (ServiceCase.Status.IN_PROGRESS, sam, True)
    response = Interaction.objects.get(account=top.account, kind=InteractionKind.SUPPORT_EMAIL)
    assert response.note == ("First response to “Pallets missing from delivery”: "
                             "Sorry about that: the two pallets leave our depot today.")
    # The response is a support email on the account: the worker recomputes its figures.
    celery_worker_process.wait_until(lambda: caught_up(top.account_id), message="the account's snapshot to catch up")
    assert AccountSnapshot.objects.get(account=top.account).tier.name == "Platinum"

    # The filters narrow the table without a reload: "assigned to me" leaves the case just taken.
    page.get_by_label("Assigned to").select_option("me")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("id", f"case-{top.pk}")
    assert "assignee=me" in page.url
    page.get_by_label("Assigned to").select_option("")
    expect(rows).to_have_count(4)

    # At 1280 px the whole queue fits: no column (the actions last) hides behind a horizontal scroll.
    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth")
    save_readme_screenshot(page, SCREENSHOT.name)


def test_the_queue_works_at_tablet_width_and_the_lookup_finds_the_caller(page, sam):
    now = timezone.now()
    account = AccountFactory(name="Nordwind Logistics", phone="+49 30 1234 5678")
    ContactFactory(account=account, name="Greta Hansen", email="greta@nordwind.example")
    InteractionFactory(account=account, occurred_at=now - timedelta(days=5))
    ServiceCaseFactory(account=account, subject="Late delivery", opened_at=now - timedelta(hours=30))
    book_recompute(now=now)  # one account: Platinum; its case is long past its 1 h first-response deadline

    page.set_viewport_size({"width": 800, "height": 1000})
    log_in(page, "sam")
    page.goto("/service/queue/")
    row = page.locator("table.queue tbody tr").first
    expect(row).to_have_class(re.compile(r"\bbreached\b"))
    expect(row.locator("time[data-sla-countdown]")).to_have_text(re.compile(r"^breached 1 d 5 h ago$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 800  # the table scrolls inside its wrapper

    page.goto("/service/lookup/")
    page.get_by_label("Account name, contact name, email or phone").press_sequentially("3012345", delay=30)
    hit = page.locator(".lookup-hit")
    expect(hit).to_have_count(1)
    expect(hit.get_by_role("link", name="Nordwind Logistics")).to_be_visible()
    expect(hit.locator(".entitlements")).to_contain_text("Direct line to the account team")
    assert "q=3012345" in page.url
    hit.get_by_role("link", name="Nordwind Logistics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nordwind Logistics")
    expect(page.locator("#open-cases-title")).to_be_visible()
    # The complaint form loads into the page; a logged complaint appears in the open cases without a reload.
    page.get_by_label("Subject").fill("Invoice sent twice")
    page.get_by_role("button", name="Log complaint").click()
    expect(page.get_by_role("status").filter(has_text="Complaint “Invoice sent twice” logged")).to_be_visible()
    expect(page.locator(f"#account-cases-{account.pk} tr")).to_have_count(2)
    expect(page.locator(f"#account-cases-{account.pk} tr").first).to_contain_text("Invoice sent twice")


def test_the_queue_filters_follow_the_url_through_back_and_the_count_follows_inline_actions(page, sam):
    now = timezone.now()
    gold, silver = Tier.objects.get(name="Gold"), Tier.objects.get(name="Silver")
    for name, tier, severity in [("Gold High", gold, "high"), ("Gold Low", gold, "low"),
                                 ("Silver High", silver, "high")]:
        account = AccountFactory(name=name)
        AccountSnapshot.objects.create(account=account, computed_at=now, as_of=now.date(), tier=tier)
        ServiceCaseFactory(account=account, subject=f"Problem at {name}", severity=severity,
                           opened_at=now - timedelta(hours=1), resolution_due_at=now + timedelta(hours=20))
    log_in(page, "sam")
    page.goto("/service/queue/")
    page.wait_for_load_state("load")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(3)

    # Filter by tier, then severity, then go back: the tier select shows the URL's tier
    page.locator("#queue_tier").select_option(str(gold.pk))
    page.wait_for_url(f"**tier={gold.pk}*")
    expect(rows).to_have_count(2)
    page.locator("#queue_severity").select_option("high")
    page.wait_for_url("**severity=high*")
    expect(rows).to_have_count(1)
    page.go_back()
    page.wait_for_url(lambda url: "severity=high" not in url and f"tier={gold.pk}" in url)
    expect(rows).to_have_count(2)
    expect(page.locator("#queue_tier")).to_have_value(str(gold.pk))
    expect(page.locator("#queue_severity")).to_have_value("")

    # Resolving a case inline updates the count above the table
    expect(page.locator("#queue-total")).to_have_text("2 open cases")
    row = rows.filter(has_text="Problem at Gold Low")
    row.get_by_label("Status of “Problem at Gold Low”").select_option("resolved")
    row.get_by_role("button", name="Set").click()
    expect(page.locator("#queue-total")).to_have_text("1 open case")
    expect(page.locator("#queue_tier")).to_have_value(str(gold.pk))  # the filter is still what the URL says
