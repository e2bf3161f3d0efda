"""Finding candidates on a crafted book: true duplicates with the right reasons, nothing else, decisions kept."""

from decimal import Decimal

import pytest

from crm.dedupe import scan, services
from crm.models import DuplicateCandidate
from crm.models_merge import AccountMatchKey
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(acme_pair):  # type: ignore[no-untyped-def]
    erp, sales = acme_pair
    accounts = {
        "acme_erp": erp,
        "acme_sales": sales,
        "mueller_finance": AccountFactory(name="Müller Maschinenbau GmbH", tax_id="DE 123 456 789", country="DE"),
        "mueller_service": AccountFactory(name="Mueller Maschinenbau AG", tax_id="123456789", country="DE"),
        "blackwood_sales": AccountFactory(name="Blackwood Freight Ltd", phone="+44 20 7946 0958", country="GB"),
        "blackwood_partner": AccountFactory(name="Blackwood Fright", phone="", country="GB"),
        # Look-alikes that are different companies:
        "global_logistics": AccountFactory(name="Global Logistics GmbH", web_domain="global-logistics.de"),
        "global_trading": AccountFactory(name="Global Trading GmbH", web_domain="global-trading.de"),
        "atlas_de": AccountFactory(name="Atlas Components GmbH", tax_id="DE111111111", web_domain="atlas.de"),
        "atlas_gb": AccountFactory(name="Atlas Components Ltd", tax_id="GB222222222", web_domain="atlas.co.uk",
                                   country="GB"),
        "apex": AccountFactory(name="Apex Precision Components GmbH"),
        "atlas_precision": AccountFactory(name="Atlas Precision Components GmbH"),
    }
    return accounts


def pairs() -> dict[frozenset, DuplicateCandidate]:
    return {frozenset((c.low_id, c.high_id)): c for c in DuplicateCandidate.objects.all()}


def pair(a, b) -> frozenset:  # type: ignore[no-untyped-def]
    return frozenset((a.pk, b.pk))


def test_it_finds_the_true_duplicates_with_their_reasons_and_nothing_else(book):
    result = scan.candidates_find()

    found = pairs()
    assert set(found) == {
        pair(book["acme_erp"], book["acme_sales"]),
        pair(book["mueller_finance"], book["mueller_service"]),
        pair(book["blackwood_sales"], book["blackwood_partner"]),
    }
    assert result.candidates == 3
    acme = found[pair(book["acme_erp"], book["acme_sales"])]
    assert acme.status == DuplicateCandidate.Status.OPEN
    assert acme.reasons[:2] == ["same web domain acme-industrial.de", "same phone number …234567"]
    assert acme.reasons[2].startswith("names 9")
    assert acme.score == Decimal("100.00")
    assert {acme.low_name, acme.high_name} == {"ACME Industrial Supplies GmbH", "Acme Industrial Supply"}
    assert acme.low_id < acme.high_id
    mueller = found[pair(book["mueller_finance"], book["mueller_service"])]
    assert mueller.reasons[0] == "same tax id DE123456789"
    blackwood = found[pair(book["blackwood_sales"], book["blackwood_partner"])]
    assert blackwood.reasons == ["names 97 % alike: 'Blackwood Freight Ltd' / 'Blackwood Fright'"]


def test_a_dismissed_pair_never_comes_back_and_a_rescan_changes_nothing(book, ada):
    scan.candidates_find()
    acme = pairs()[pair(book["acme_erp"], book["acme_sales"])]
    services.candidate_dismiss(candidate_id=acme.pk, user=ada)

    again = scan.candidates_find()

    acme.refresh_from_db()
    assert acme.status == DuplicateCandidate.Status.DISMISSED
    assert again.keys_refreshed == 0
    assert DuplicateCandidate.objects.filter(status="open").count() == 2
    assert DuplicateCandidate.objects.count() == 3


def test_an_incremental_scan_looks_only_at_changed_accounts(book):
    scan.candidates_find()
    # The partner portal's record gets the finance system's tax id: a new pair, found without a full scan.
    book["atlas_precision"].name = "Mueller Maschinenbau"
    book["atlas_precision"].tax_id = "DE123456789"
    book["atlas_precision"].save()

    result = scan.candidates_find(full=False)

    assert result.keys_refreshed == 1
    assert pair(book["mueller_finance"], book["atlas_precision"]) in pairs()
    assert pair(book["mueller_service"], book["atlas_precision"]) in pairs()
    assert scan.candidates_find(full=False).pairs_blocked == 0  # nothing changed since


def test_a_pair_that_no_longer_matches_is_withdrawn(book):
    scan.candidates_find()
    blackwood = book["blackwood_partner"]
    blackwood.name = "Redwood Logistics Ltd"
    blackwood.save()

    result = scan.candidates_find()

    assert result.removed == 1
    assert pair(book["blackwood_sales"], blackwood) not in pairs()


def test_keys_are_stored_normalised_and_refreshed_only_when_raw_values_change(acme_pair):
    erp, _sales = acme_pair
    assert len(scan.keys_refresh()) == 2
    key = AccountMatchKey.objects.get(account=erp)
    assert (key.name_key, key.domain_key, key.tax_key, key.phone_key) == (
        "acme industrial supplies", "acme-industrial.de", "DE811569869", "301234567")
    assert "t:DE811569869" in key.block_keys
    assert scan.keys_refresh() == []
    erp.phone = "+49 30 7654321"
    erp.save()
    assert scan.keys_refresh() == [erp.pk]
