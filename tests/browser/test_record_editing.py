"""Correcting the record in a real browser: Alice fixes a mistyped order amount on the account page and sees the
figures follow once the real Celery worker has recomputed them, deletes a call logged by mistake after
confirming, and adds a contact — all without leaving the page.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Contact, Interaction, InteractionKind
from crm.templatetags.tierwise import money
from profitability import services
from profitability.models import AccountSnapshot
from tests import worker as worker_fixtures
from tests.factories import AccountFactory, InteractionFactory, ProductFactory

from .conftest import log_in

celery_worker_stopped = worker_fixtures.celery_worker_stopped

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_a_manager_corrects_an_amount_deletes_a_mistaken_call_and_adds_a_contact(page, alice, celery_worker_stopped):
    # Given Alice's account with an order typed 10× too small and a call logged on the wrong account, ranked
    now = timezone.now()
    account = AccountFactory(name="Harbour Fittings", owner=alice)
    for peer in range(3):
        InteractionFactory(account=AccountFactory(name=f"Peer {peer}"), amount=D("900"), direct_cost=D("500"),
                           occurred_at=now - timedelta(days=20))
    valves = ProductFactory(name="Brass valves", unit_cost=D("6.00"))
    InteractionFactory(account=account, amount=D("3000.00"), direct_cost=D("1800.00"), note="Spring order",
                       product=valves, quantity=300, occurred_at=now - timedelta(days=40))
    typo = InteractionFactory(account=account, amount=D("120.00"), direct_cost=D("120.00"), note="Autumn order",
                              product=valves, quantity=20, occurred_at=now - timedelta(days=10))
    mistake = InteractionFactory(account=account, kind=InteractionKind.SUPPORT_CALL, channel="phone",
                                 amount=D("0"), direct_cost=D("0"), note="Wrong account",
                                 occurred_at=now - timedelta(days=5))
    services.book_recompute(now=now)
    before = AccountSnapshot.objects.get(pk=account.pk)

    log_in(page, "alice")
    page.goto(f"/accounts/{account.pk}/")
    page.wait_for_load_state("load")  # htmx is a deferred script
    net_row = page.locator(".pnl-table tr", has_text="Net profit")
    expect(net_row).to_contain_text(money(before.net_profit))
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    # When she edits the autumn order: the logging form, filled in, takes the row's place
    row = page.locator(f"#interaction-{typo.pk}")
    row.get_by_role("link", name="Edit").click()
    amount = row.get_by_label("Amount")
    expect(amount).to_have_value("120.00")
    expect(row.get_by_label("Kind")).to_be_focused()
    # a mistake is reported next to its field and nothing is saved
    amount.fill("-1200")
    row.get_by_role("button", name="Save changes").click()
    expect(row.locator(f"#interaction{typo.pk}_amount_error")).to_have_text("The amount can't be negative.")
    expect(row.get_by_label("Amount")).to_have_value("-1200")
    assert Interaction.objects.get(pk=typo.pk).amount == D("120.00")
    row.get_by_label("Amount").fill("1200")
    row.get_by_role("button", name="Save changes").click()

    # Then the row shows the new amount and the figures are recomputing
    expect(row).to_contain_text("€1,200.00")
    expect(row.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.locator("#timeline-status")).to_contain_text("was changed. The figures are being recomputed.")
    expect(page.locator("#figures-status")).to_have_text("Recomputing…")
    assert Interaction.objects.get(pk=typo.pk).amount == D("1200.00")

    # and once the worker has recomputed, the net profit includes the corrected revenue
    celery_worker_stopped.start()
    expect(page.locator("#figures-status")).to_have_text("Figures updated.", timeout=20_000)
    after = AccountSnapshot.objects.get(pk=account.pk)
    assert after.net_profit == before.net_profit + D("1080.00")
    expect(net_row).to_contain_text(money(after.net_profit))

    # When she deletes the mistaken call, confirming the browser's question
    dialogs: list[str] = []

    def accept(dialog):  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.locator(f"#interaction-{mistake.pk}").get_by_role("link", name="Delete").click()
    expect(page.locator(f"#interaction-{mistake.pk}")).to_have_count(0)
    assert dialogs and dialogs[0].startswith("Delete the support call of ")
    expect(page.locator("#timeline-status")).to_contain_text("was deleted. The figures are being recomputed.")
    assert not Interaction.objects.filter(pk=mistake.pk).exists()
    expect(page.locator("#figures-status")).to_have_text("Figures updated.", timeout=20_000)

    # And she adds a contact, which appears in the contacts section
    contacts = page.locator("#account-contacts")
    contacts.get_by_text("Add a contact").click()
    contacts.get_by_label("Name").fill("Mia Einkauf")
    contacts.get_by_label("Role").fill("Purchasing")
    contacts.get_by_label("E-mail").fill("mia@harbour.example")
    contacts.get_by_role("button", name="Add contact").click()
    expect(page.locator("#account-contacts .notice")).to_have_text("Contact Mia Einkauf added.")
    expect(page.locator("#account-contacts ul.contacts")).to_contain_text("Mia Einkauf")
    expect(page.locator("#account-contacts ul.contacts")).to_contain_text("mia@harbour.example")
    assert Contact.objects.filter(account=account, name="Mia Einkauf", role="Purchasing").exists()
    assert page.evaluate("window.__sameDocument") is True
