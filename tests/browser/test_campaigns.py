"""An account manager works the opportunity worklist: pursues one, dismisses another, and the dismissed one
does not come back when the opportunities are regenerated."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from campaigns.models import Opportunity
from campaigns.services.opportunities import opportunities_generate
from campaigns.services.patterns import book_patterns_refresh
from crm.models import InteractionKind as K
from tests.factories import AccountFactory, InteractionFactory, ProductFactory

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Decimal
NOW = datetime.now(UTC)
BOUGHT = datetime(NOW.year, NOW.month, 1, tzinfo=UTC)


def buy(account, product, *, qty, amount, cost):  # type: ignore[no-untyped-def]
    InteractionFactory(account=account, kind=K.ORDER, product=product, quantity=qty, amount=D(amount),
                       direct_cost=D(cost), occurred_at=BOUGHT)


@pytest.fixture
def target(alice):  # type: ignore[no-untyped-def]
    """Alice's account buys Bolt Basic only; 9 of the 10 accounts that buy it also buy Epoxy, 6 others buy Crate."""
    bolt = ProductFactory(name="Bolt Basic", family="Fasteners", list_price=D("10"), unit_cost=D("6"))
    epoxy = ProductFactory(name="Epoxy", family="Adhesives", list_price=D("20"), unit_cost=D("8"))
    crate = ProductFactory(name="Crate", family="Packaging", list_price=D("5"), unit_cost=D("4"))
    for _ in range(9):
        account = AccountFactory()
        buy(account, bolt, qty=100, amount="1000", cost="600")
        buy(account, epoxy, qty=50, amount="1000", cost="400")
    for _ in range(2):
        buy(AccountFactory(), epoxy, qty=50, amount="1000", cost="400")
    for _ in range(6):
        buy(AccountFactory(), crate, qty=100, amount="500", cost="400")
    account = AccountFactory(name="Target Tools", owner=alice)
    buy(account, bolt, qty=100, amount="1000", cost="600")
    book_patterns_refresh(now=NOW)
    opportunities_generate(account_id=account.pk, now=NOW)
    return account


def test_an_account_manager_pursues_one_and_a_dismissed_one_does_not_come_back(page, target):
    log_in(page, "alice")
    page.get_by_role("link", name="Opportunities", exact=True).first.click()
    page.wait_for_url("**/opportunities/")

    rows = page.locator("table.worklist tbody tr")
    assert rows.count() == 2
    assert "Epoxy" in rows.nth(0).inner_text() and "€540" in rows.nth(0).inner_text()  # highest expected margin first
    assert "90 % of accounts that buy Bolt Basic also buy Epoxy" in rows.nth(0).inner_text()

    page.get_by_role("button", name="Pursue Epoxy for Target Tools").click()
    epoxy_row = page.locator("tr", has_text="Epoxy")
    epoxy_row.get_by_text("Pursued", exact=True).wait_for()
    assert epoxy_row.get_by_role("button", name="Mark Epoxy for Target Tools won").is_visible()

    page.get_by_role("button", name="Dismiss Crate for Target Tools").click()
    page.locator("tr", has_text="Crate").get_by_text("Dismissed", exact=True).wait_for()

    opportunities_generate(account_id=target.pk)  # what the worker does after the next recompute
    page.reload()

    assert page.locator("table.worklist tbody tr").count() == 1
    assert "Epoxy" in page.locator("table.worklist tbody tr").first.inner_text()
    assert page.get_by_text("Crate").count() == 0
    crate = Opportunity.objects.get(account=target, product__name="Crate")
    assert crate.status == "dismissed"
    assert Opportunity.objects.get(account=target, product__name="Epoxy").status == "pursued"
    page.get_by_label("Status").select_option("dismissed")
    page.locator("table.worklist tbody tr", has_text="Crate").wait_for()
