"""An admin's duplicates journey in a real browser, with a real Celery worker recomputing the survivor:
open Duplicates, review a pair side by side, merge it, and see the survivor carry both histories."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.dedupe.scan import candidates_find
from crm.models import Account, AccountSourceId, Interaction, InteractionKind
from profitability.models import AccountSnapshot
from profitability.services import snapshot_recompute
from tests.factories import AccountFactory
from tests.worker import celery_worker_process  # noqa: F401  (fixture)

from .conftest import log_in, save_readme_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def orders(account, count: int, amount: str, now) -> None:  # type: ignore[no-untyped-def]
    Interaction.objects.bulk_create([
        Interaction(account=account, kind=InteractionKind.ORDER, channel="edi", amount=Decimal(amount),
                    direct_cost=Decimal(amount) / 2, occurred_at=now - timedelta(days=20 * (i + 1)))
        for i in range(count)
    ])
    snapshot_recompute(account_id=account.pk, now=now)


def test_an_admin_reviews_a_pair_side_by_side_merges_it_and_sees_both_histories(page, ada, celery_worker_process):  # noqa: F811
    now = timezone.now()
    erp = AccountFactory(name="Kestrel Tooling GmbH", tax_id="DE 811 569 869", web_domain="kestrel-tooling.de")
    AccountSourceId.objects.create(account=erp, source_system="erp", external_id="K-1001")
    sales = AccountFactory(name="Kestrel Tooling", web_domain="www.kestrel-tooling.de", industry="Wholesale & retail")
    AccountSourceId.objects.create(account=sales, source_system="salesforce", external_id="001A01")
    orders(erp, 3, "1000.00", now)
    orders(sales, 2, "500.00", now)
    candidates_find()

    log_in(page, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Duplicates").click()
    row = page.get_by_role("row").filter(has_text="Kestrel Tooling GmbH")
    expect(row).to_contain_text("same web domain kestrel-tooling.de")
    row.get_by_role("link", name="Review").click()

    table = page.locator("table.side-by-side")
    expect(table.locator("th.record.survivor")).to_contain_text("Kestrel Tooling GmbH")
    expect(table.locator("th.record.merged")).to_contain_text("Kestrel Tooling")
    expect(table.locator("tr.differs").filter(has_text="Industry")).to_be_visible()
    expect(table.get_by_role("row", name="Source ids")).to_contain_text("salesforce: 001A01")
    table.locator("tr.differs").filter(has_text="Industry").get_by_label("Wholesale & retail").check()
    save_readme_screenshot(page, "duplicate-review.png")
    page.get_by_role("button", name="Merge…").click()

    expect(page.get_by_role("heading", name="Merge Kestrel Tooling into Kestrel Tooling GmbH?")).to_be_visible()
    expect(page.locator("ul.moves")).to_contain_text("2 interactions")
    page.get_by_role("button", name="Merge", exact=True).click()

    page.wait_for_url(f"**/accounts/{erp.pk}/**")
    expect(page.locator(".messages")).to_contain_text("Merged Kestrel Tooling into Kestrel Tooling GmbH")
    expect(page.locator("#timeline-list .tl-row")).to_have_count(5)
    expect(page.locator("#account-merges")).to_contain_text("Kestrel Tooling")
    # The worker recomputes the survivor from both histories: 3 × 1,000 + 2 × 500.
    expect(page.locator(".pnl-table")).to_contain_text("4,000", timeout=30_000)
    assert not Account.objects.filter(pk=sales.pk).exists()
    assert AccountSnapshot.objects.get(account=erp).revenue == Decimal("4000.00")
    assert Account.objects.get(pk=erp.pk).industry == "Wholesale & retail"
