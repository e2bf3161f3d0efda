"""The pure matching rules: normalising names, domains, tax ids and phones, and scoring a pair."""

from decimal import Decimal

import pytest

from crm.dedupe.matching import (
    MIN_SCORE,
    block_keys,
    blocked_pairs,
    cannot_match,
    name_similarity,
    normalise_domain,
    normalise_name,
    normalise_phone,
    normalise_tax_id,
    pair_score,
    record_for,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("ACME GmbH", "acme"),
    ("Acme Industrial Supplies GmbH & Co. KG", "acme industrial supplies"),
    ("Société Générale S.A.", "societe generale"),
    ("Müller Maschinenbau AG", "mueller maschinenbau"),
    ("Nordhavn Logistics A/S", "nordhavn logistics"),
    ("Smith & Sons Ltd.", "smith and sons"),
    ("The Widget Company, Inc.", "widget"),
    ("O'Brien Holdings B.V.", "obrien holdings"),
    ("AG", "ag"),  # nothing but a legal form: kept rather than emptied
    ("", ""),
])
def test_it_normalises_company_names(raw, expected):
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://www.Acme.co.uk/contact?x=1", "acme.co.uk"),
    ("acme.com", "acme.com"),
    ("http://shop.acme.de:8080/", "acme.de"),
    ("sales@acme.com", "acme.com"),
    ("WWW.ACME.COM.", "acme.com"),
    ("gmail.com", ""),  # shared by unrelated companies
    ("co.uk", ""),
    ("not a domain", ""),
    ("", ""),
])
def test_it_normalises_web_domains_to_the_registrable_domain(raw, expected):
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("DE 123 456 789", "", "DE123456789"),
    ("de-123.456.789", "", "DE123456789"),
    ("123456789", "DE", "DE123456789"),
    ("12-3456789", "US", "US123456789"),
    ("EL094014201", "", "GR094014201"),
    ("n/a", "DE", ""),
    ("000000", "DE", ""),
    ("1234", "DE", ""),
])
def test_it_normalises_tax_ids_with_their_country_prefix(raw, country, expected):
    assert normalise_tax_id(raw, country) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("+49 (0)30 1234-567", "301234567"),
    ("030 1234567", "301234567"),
    ("0049 30 1234567", "301234567"),
    ("+44 20 7946 0958", "2079460958"),
    ("020 7946 0958", "2079460958"),
    ("+1 (555) 123-4567 x 12", "5551234567"),
    ("555.123.4567", "5551234567"),
    ("12", ""),
    ("", ""),
])
def test_it_normalises_phones_to_the_national_number(raw, expected):
    assert normalise_phone(raw) == expected


class TestNameSimilarity:
    def test_it_finds_the_same_name_behind_case_accents_and_legal_forms(self):
        a, b = normalise_name("Müller Maschinenbau GmbH"), normalise_name("Mueller Maschinenbau")
        assert name_similarity(a, b) == 100

    def test_it_tolerates_typos_and_plurals(self):
        assert name_similarity("blackwood freight", "blackwood fright") > 93
        assert name_similarity("acme industrial supplies", "acme industrial supply") > 93

    def test_it_stays_low_when_only_common_words_are_shared(self):
        assert name_similarity("global logistics", "global trading") < 60
        assert name_similarity("atlas precision components", "apex precision components") < 75

    def test_the_books_own_common_words_count_less(self):
        plain = name_similarity("kestrel tooling", "heron tooling")
        assert name_similarity("kestrel tooling", "heron tooling", common={"tooling"}) < plain

    def test_different_numbers_mean_different_companies(self):
        assert name_similarity("atlas components 2", "atlas components 3") == 50


class TestPairScore:
    def test_same_tax_id_and_alike_names_score_high_with_reasons_in_words(self):
        a = record_for(name="Müller Maschinenbau GmbH", tax_id="DE 123 456 789", country="DE")
        b = record_for(name="Muller Maschinenbau AG", tax_id="123456789", country="DE")
        result = pair_score(a, b)
        assert result.score == Decimal("100.00")
        assert result.reasons[0] == "same tax id DE123456789"
        assert result.reasons[1].startswith("names 9")
        assert result.reasons[1].endswith("'Müller Maschinenbau GmbH' / 'Muller Maschinenbau AG'")

    def test_same_domain_and_same_normalised_name(self):
        a = record_for(name="ACME GmbH", web_domain="https://www.acme.com/", country="DE")
        b = record_for(name="Acme", web_domain="acme.com")
        result = pair_score(a, b)
        assert result.score == Decimal("90.00")  # 60 name + 30 domain
        assert result.reasons == ("same web domain acme.com",
                                  "same name once legal forms and punctuation are ignored: 'ACME GmbH' / 'Acme'")

    def test_a_name_alone_is_enough_only_when_nearly_identical(self):
        assert pair_score(record_for(name="Blackwood Freight Ltd"), record_for(name="Blackwood Fright")).is_candidate
        assert not pair_score(record_for(name="Apex Manufacturing"), record_for(name="Apex Machining")).is_candidate

    def test_same_common_words_but_different_companies_score_low(self):
        a = record_for(name="Global Logistics GmbH", web_domain="global-logistics.de", country="DE")
        b = record_for(name="Global Trading GmbH", web_domain="globaltrading.de", country="DE")
        assert pair_score(a, b).score == 0

    def test_same_name_but_different_tax_ids_and_countries_is_not_proposed(self):
        a = record_for(name="Atlas Components GmbH", tax_id="DE111111111", web_domain="atlas.de", country="DE")
        b = record_for(name="Atlas Components Ltd", tax_id="GB222222222", web_domain="atlas.co.uk", country="GB")
        result = pair_score(a, b)
        assert result.score < MIN_SCORE
        assert "but different tax ids DE111111111 / GB222222222" in result.reasons
        assert "but different countries DE / GB" in result.reasons

    def test_same_phone_and_alike_names(self):
        a = record_for(name="Harbor Freight Services", phone="+44 20 7946 0958", country="GB")
        b = record_for(name="Harbour Freight Services Ltd", phone="020 7946 0958", country="GB")
        result = pair_score(a, b)
        assert result.is_candidate
        assert result.reasons[0] == "same phone number …460958"

    def test_the_cheap_prefilter_never_rejects_a_candidate(self):
        names = ["Acme", "ACME GmbH", "Acme Industrial", "Blackwood Freight", "Blackwood Fright", "Apex Tools",
                 "Apex Tooling", "Global Trading", "Global Logistics", "Atlas 2", "Atlas 3", "Mueller", "Muller"]
        for x in names:
            for y in names:
                a, b = record_for(name=x), record_for(name=y)
                if cannot_match(a, b):
                    assert not pair_score(a, b).is_candidate, (x, y)


def test_blocking_pairs_accounts_sharing_a_key_and_skips_oversized_blocks():
    keys = {
        1: block_keys(record_for(name="Acme GmbH", web_domain="acme.com")),
        2: block_keys(record_for(name="Acme", web_domain="www.acme.com")),
        3: block_keys(record_for(name="Zenith Tools", phone="+49 30 1234567")),
        4: block_keys(record_for(name="Zenit Werkzeuge", phone="030 1234567")),
        5: block_keys(record_for(name="Unrelated Company")),
    }
    assert blocked_pairs(keys, name_cap=10, id_cap=10) == {(1, 2), (3, 4)}
    assert blocked_pairs(keys, name_cap=10, id_cap=10, scope={3}) == {(3, 4)}
    # A phone shared by more accounts than the cap identifies nobody.
    crowd = {i: ["p:301234567"] for i in range(10, 20)}
    assert blocked_pairs(crowd, name_cap=5, id_cap=5) == set()
