"""Opportunities from the book patterns: bought together, similar accounts, upgrades — exact expected margins
and reasons; statuses people set survive regeneration (a dismissed one never comes back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.models import AccountFeatures, AssociationRule, Opportunity, PeerProductStat, ProductStat
from campaigns.selectors import opportunity_worklist
from campaigns.services import patterns
from campaigns.services.opportunities import OpportunityError, opportunities_generate, opportunity_set_status
from campaigns.services.patterns import book_patterns_refresh
from crm.models import InteractionKind as K
from profitability.models import AccountSnapshot, Tier
from tests.factories import AccountFactory, InteractionFactory, ProductFactory

from .conftest import NOW

D = Decimal
BOUGHT = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def buy(account, product, *, qty: int, amount: str, cost: str, at: datetime = BOUGHT):  # type: ignore[no-untyped-def]
    return InteractionFactory(account=account, kind=K.ORDER, product=product, quantity=qty, amount=D(amount),
                              direct_cost=D(cost), occurred_at=at)


@pytest.fixture
def book(db, alice):  # type: ignore[no-untyped-def]
    """21 Manufacturing accounts plus the target, which buys 100 × A a year and nothing else.

    9 buy A and B, 2 only B, 6 only C, 3 only A2 (A's better version): A → B has confidence 9/10 and lift
    0.9 / (11/21); B's buyers earn a median 600 on it, C's 100, A2's 700.
    """
    a = ProductFactory(name="Bolt Basic", family="Fasteners", tier_in_family=1, list_price=D("10"), unit_cost=D("6"))
    a2 = ProductFactory(name="Bolt Pro", family="Fasteners", tier_in_family=2, list_price=D("15"), unit_cost=D("8"))
    b = ProductFactory(name="Epoxy", family="Adhesives", tier_in_family=1, list_price=D("20"), unit_cost=D("8"))
    c = ProductFactory(name="Crate", family="Packaging", tier_in_family=1, list_price=D("5"), unit_cost=D("4"))
    for _ in range(9):
        account = AccountFactory()
        buy(account, a, qty=100, amount="1000", cost="600")
        buy(account, b, qty=50, amount="1000", cost="400")
    for _ in range(2):
        buy(AccountFactory(), b, qty=50, amount="1000", cost="400")
    for _ in range(6):
        buy(AccountFactory(), c, qty=100, amount="500", cost="400")
    for _ in range(3):
        buy(AccountFactory(), a2, qty=100, amount="1500", cost="800")
    target = AccountFactory(name="Target Tools", owner=alice)
    buy(target, a, qty=100, amount="1000", cost="600")
    return {"a": a, "a2": a2, "b": b, "c": c, "target": target}


def opportunities(account) -> list[tuple[str, str, str, Decimal]]:  # type: ignore[no-untyped-def]
    return [(o.product.name, o.source, o.status, o.expected_margin)
            for o in Opportunity.objects.filter(account=account).select_related("product").order_by("-expected_margin")]


class TestPatterns:
    def test_the_book_patterns_hold_the_exact_rules_and_statistics(self, book):
        result = book_patterns_refresh(now=NOW)

        rule = AssociationRule.objects.get(antecedent=book["a"], consequent=book["b"], tier=None, industry="")
        assert (rule.baskets, rule.antecedent_count, rule.both_count) == (21, 10, 9)
        assert rule.confidence == pytest.approx(0.9)
        assert rule.support == pytest.approx(9 / 21)
        assert rule.lift == pytest.approx(0.9 / (11 / 21))
        assert not AssociationRule.objects.filter(lift__lte=1).exists()
        assert {s.product.name: s.median_margin_ttm for s in ProductStat.objects.select_related("product")} == {
            "Bolt Basic": D("400.00"), "Bolt Pro": D("700.00"), "Epoxy": D("600.00"), "Crate": D("100.00")}
        peer = PeerProductStat.objects.get(product=book["b"])
        assert (peer.peers, peer.buyers) == (21, 11)
        assert result.features == AccountFeatures.objects.count() == 21

    def test_features_are_exact(self, book):
        target = book["target"]
        InteractionFactory(account=target, kind=K.RETURN, amount=D("250"), direct_cost=D("0"),
                           occurred_at=BOUGHT + timedelta(days=2))
        for kind in (K.SUPPORT_CALL, K.SUPPORT_EMAIL, K.COMPLAINT):
            InteractionFactory(account=target, kind=kind, amount=D("0"), direct_cost=D("0"), occurred_at=BOUGHT)

        patterns.features_refresh(account_ids=[target.pk], now=NOW)

        f = AccountFeatures.objects.get(account=target)
        assert (f.recency_days, f.orders_ttm, f.net_revenue_ttm, f.return_rate, f.support_contacts_ttm,
                f.complaints_ttm) == ((NOW - BOUGHT).days, 1, D("750.00"), 0.25, 2, 1)


class TestGeneration:
    def test_each_source_gives_its_exact_expected_margin_and_reason(self, book):
        book_patterns_refresh(now=NOW)

        result = opportunities_generate(account_id=book["target"].pk, now=NOW)

        assert result.created == 3
        assert opportunities(book["target"]) == [
            ("Epoxy", "together", "open", D("540.00")),  # 0.9 × 600 (beats the peers' 11/21 × 600)
            ("Bolt Pro", "upgrade", "open", D("69.23")),  # 3/13 × 100 units × (7 − 4) more margin per unit
            ("Crate", "peers", "open", D("28.57")),  # 6/21 × 100
        ]
        reasons = dict(Opportunity.objects.filter(account=book["target"]).values_list("product__name", "reason"))
        assert reasons["Epoxy"] == ("90 % of accounts that buy Bolt Basic also buy Epoxy (1.7× the usual rate); "
                                    "its buyers earn a median €600 margin a year on it.")
        assert reasons["Bolt Pro"] == ("Buys 100 × Bolt Basic a year; Bolt Pro earns €3.00 more per unit (€300 a year)."
                                       " 23 % of the buyers of the two choose Bolt Pro.")
        assert reasons["Crate"] == ("29 % of similar accounts (Operations buyer · Manufacturing · 250–999 staff; "
                                    "6 of 21) "
                                    "buy Crate;"
                                    " this one does not.")

    def test_the_reason_names_the_tier_and_industry_when_that_scope_has_its_own_rules(self, book, monkeypatch):
        gold = Tier.objects.get(name="Gold")
        from crm.models import Account

        for account in Account.objects.all():
            AccountSnapshot.objects.create(account=account, computed_at=NOW, as_of=NOW.date(), tier=gold,
                                           computed_version=account.history_version)
        monkeypatch.setattr(patterns, "MIN_SCOPE_BASKETS", 10)
        book_patterns_refresh(now=NOW)

        opportunities_generate(account_id=book["target"].pk, now=NOW)

        epoxy = Opportunity.objects.get(account=book["target"], product=book["b"])
        assert epoxy.reason.startswith("90 % of Gold accounts in Manufacturing that buy Bolt Basic also buy Epoxy")

    def test_regenerating_is_idempotent(self, book):
        book_patterns_refresh(now=NOW)
        opportunities_generate(account_id=book["target"].pk, now=NOW)
        before = opportunities(book["target"])

        again = opportunities_generate(account_id=book["target"].pk, now=NOW)

        assert (again.created, again.refreshed, again.withdrawn) == (0, 3, 0)
        assert opportunities(book["target"]) == before

    def test_a_dismissed_opportunity_never_comes_back_and_a_pursued_one_is_kept(self, book, alice):
        book_patterns_refresh(now=NOW)
        opportunities_generate(account_id=book["target"].pk, now=NOW)
        epoxy = Opportunity.objects.get(account=book["target"], product=book["b"])
        crate = Opportunity.objects.get(account=book["target"], product=book["c"])
        opportunity_set_status(opportunity_id=epoxy.pk, status="dismissed", actor=alice, now=NOW)
        opportunity_set_status(opportunity_id=crate.pk, status="pursued", actor=alice, now=NOW)

        opportunities_generate(account_id=book["target"].pk, now=NOW + timedelta(days=1))

        assert opportunities(book["target"]) == [
            ("Epoxy", "together", "dismissed", D("540.00")),
            ("Bolt Pro", "upgrade", "open", D("69.23")),
            ("Crate", "peers", "pursued", D("28.57")),
        ]
        assert Opportunity.objects.filter(account=book["target"]).count() == 3

    def test_a_pursued_opportunity_is_won_when_the_account_orders_the_product(self, book, alice):
        book_patterns_refresh(now=NOW)
        opportunities_generate(account_id=book["target"].pk, now=NOW)
        crate = Opportunity.objects.get(account=book["target"], product=book["c"])
        opportunity_set_status(opportunity_id=crate.pk, status="pursued", actor=alice, now=NOW)
        buy(book["target"], book["c"], qty=10, amount="50", cost="40", at=NOW + timedelta(days=3))

        result = opportunities_generate(account_id=book["target"].pk, now=NOW + timedelta(days=4))

        crate.refresh_from_db()
        assert (result.won, crate.status, crate.status_changed_by) == (1, "won", None)

    def test_an_open_opportunity_the_account_now_buys_is_withdrawn(self, book):
        book_patterns_refresh(now=NOW)
        opportunities_generate(account_id=book["target"].pk, now=NOW)
        buy(book["target"], book["b"], qty=50, amount="1000", cost="400", at=NOW - timedelta(days=1))

        result = opportunities_generate(account_id=book["target"].pk, now=NOW)

        assert result.withdrawn == 1
        assert not Opportunity.objects.filter(account=book["target"], product=book["b"]).exists()

    def test_generation_records_the_snapshot_version_it_read(self, book):
        target = book["target"]
        target.refresh_from_db()
        AccountSnapshot.objects.create(account=target, computed_at=NOW, as_of=NOW.date(),
                                       computed_version=target.history_version)

        opportunities_generate(account_id=target.pk, now=NOW)

        assert AccountFeatures.objects.get(account=target).computed_version == target.history_version


class TestStatus:
    def test_only_allowed_transitions(self, book, alice):
        book_patterns_refresh(now=NOW)
        opportunities_generate(account_id=book["target"].pk, now=NOW)
        opp = Opportunity.objects.get(account=book["target"], product=book["b"])

        with pytest.raises(OpportunityError, match="An open opportunity cannot become won"):
            opportunity_set_status(opportunity_id=opp.pk, status="won", actor=alice, now=NOW)
        opportunity_set_status(opportunity_id=opp.pk, status="pursued", actor=alice, now=NOW)
        opportunity_set_status(opportunity_id=opp.pk, status="won", actor=alice, now=NOW)
        with pytest.raises(OpportunityError):
            opportunity_set_status(opportunity_id=opp.pk, status="dismissed", actor=alice, now=NOW)
        opp.refresh_from_db()
        assert (opp.status, opp.status_changed_by) == ("won", alice)


def test_the_worklist_ranks_by_expected_margin_then_tier(book, alice, bob, django_assert_max_num_queries):
    book_patterns_refresh(now=NOW)
    opportunities_generate(account_id=book["target"].pk, now=NOW)
    other = AccountFactory(owner=bob)
    Opportunity.objects.create(account=other, product=book["c"], source="peers", probability=0.5,
                               expected_margin=D("999"), reason="x", generated_at=NOW)

    with django_assert_max_num_queries(1):
        mine = [(o.product.name, o.expected_margin) for o in opportunity_worklist(owner_id=alice.pk)]

    assert mine == [("Epoxy", D("540.00")), ("Bolt Pro", D("69.23")), ("Crate", D("28.57"))]
    assert [o.expected_margin for o in opportunity_worklist(owner_id=None)][0] == D("999.00")
