"""The points ledger: exact accrual from interactions, idempotent and reversible; redemptions that never
overdraw, even when they race on real PostgreSQL; append-only entries; expiry; temporary tier upgrades."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum

from campaigns.models import EarningRule, Enrolment, LedgerEntry, LoyaltyProgram, Reward, RewardGrant
from campaigns.selectors import enrolment_balance
from campaigns.services.loyalty import (
    LoyaltyError,
    points_accrue,
    points_adjust,
    points_expire,
    points_redeem,
    upgrades_apply_sla,
)
from crm.models import InteractionKind as K
from tests.factories import AccountFactory, InteractionFactory, ServiceCaseFactory

from .conftest import ENROLLED, NOW, enrol

D = Decimal
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def entries(enrolment: Enrolment) -> list[tuple[str, int, int | None, int | None]]:
    return list(enrolment.entries.order_by("id").values_list("kind", "points", "source_interaction_id", "revision"))


def balance(enrolment: Enrolment) -> int:
    return enrolment_balance(enrolment.pk)


@pytest.fixture
def member(program):  # type: ignore[no-untyped-def]
    return enrol(program, AccountFactory(name="Member GmbH"))


class TestAccrual:
    def test_it_awards_points_for_net_revenue_on_time_payments_and_surveys(self, member):
        account = member.account
        order = InteractionFactory(account=account, kind=K.ORDER, amount=D("5000.00"), occurred_at=T0)
        renewal = InteractionFactory(account=account, kind=K.RENEWAL, amount=D("1234.56"), occurred_at=T0)
        on_time = InteractionFactory(account=account, kind=K.PAYMENT, amount=D("5000"), occurred_at=T0,
                                     due_on=date(2025, 3, 1))
        InteractionFactory(account=account, kind=K.PAYMENT, amount=D("5000"), occurred_at=T0,
                           due_on=date(2025, 2, 28))  # late: nothing
        survey = InteractionFactory(account=account, kind=K.SURVEY, amount=D("0"), occurred_at=T0)
        InteractionFactory(account=account, kind=K.SUPPORT_CALL, amount=D("0"), occurred_at=T0)  # no rule

        result = points_accrue(account_id=account.pk, now=NOW)

        assert sorted(entries(member), key=lambda e: e[2]) == sorted([
            ("earn", 500, order.pk, 0), ("earn", 123, renewal.pk, 0), ("earn", 50, on_time.pk, 0),
            ("earn", 20, survey.pk, 0),
        ], key=lambda e: e[2])
        assert (result.entries, result.points) == (4, 693)
        assert balance(member) == 693
        assert member.entries.get(source_interaction_id=order.pk).reason == (
            "Order of 1 Mar 2025: EUR 5,000.00 net revenue × 0.1 points")

    def test_processing_the_same_history_twice_never_awards_twice(self, member):
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"), occurred_at=T0)
        points_accrue(account_id=member.account_id, now=NOW)

        again = points_accrue(account_id=member.account_id, now=NOW)

        assert again.entries == 0
        assert balance(member) == 500
        assert member.entries.count() == 1

    def test_a_deleted_order_is_reversed_by_a_new_entry_and_the_earn_entry_stays(self, member):
        order = InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"), occurred_at=T0)
        points_accrue(account_id=member.account_id, now=NOW)
        order_id = order.pk

        order.delete()
        points_accrue(account_id=member.account_id, now=NOW)
        points_accrue(account_id=member.account_id, now=NOW)  # and again: nothing more

        assert entries(member) == [("earn", 500, order_id, 0), ("reverse", -500, order_id, 1)]
        assert balance(member) == 0
        assert member.entries.get(revision=1).reason == (
            f"Interaction #{order_id} was deleted or no longer counts: points reversed")

    def test_a_return_takes_back_the_points_of_the_revenue_it_refunds(self, member):
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"), occurred_at=T0)
        returned = InteractionFactory(account=member.account, kind=K.RETURN, amount=D("1999.99"),
                                      occurred_at=T0 + timedelta(days=3))

        points_accrue(account_id=member.account_id, now=NOW)

        assert member.entries.get(source_interaction_id=returned.pk).points == -199  # toward zero
        assert member.entries.get(source_interaction_id=returned.pk).kind == "reverse"
        assert balance(member) == 301

    def test_an_edited_amount_is_corrected_by_the_difference(self, member):
        order = InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"), occurred_at=T0)
        points_accrue(account_id=member.account_id, now=NOW)

        order.amount = D("3000.00")
        order.save()
        points_accrue(account_id=member.account_id, now=NOW)
        order.amount = D("8000.00")
        order.save()
        points_accrue(account_id=member.account_id, now=NOW)

        assert entries(member) == [("earn", 500, order.pk, 0), ("reverse", -200, order.pk, 1),
                                   ("earn", 500, order.pk, 2)]
        assert balance(member) == 800

    def test_interactions_before_enrolment_or_after_the_program_ended_earn_nothing(self, member, program):
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"),
                           occurred_at=ENROLLED - timedelta(days=1))
        program.ends_on = date(2025, 6, 30)
        program.save()
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("100.00"),
                           occurred_at=datetime(2025, 6, 30, 23, 0, tzinfo=UTC))  # last day counts
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"),
                           occurred_at=datetime(2025, 7, 1, 0, 0, tzinfo=UTC))

        points_accrue(account_id=member.account_id, now=NOW)

        assert balance(member) == 10

    def test_a_changed_rule_rate_applies_to_new_earnings_only(self, member, program):
        first = InteractionFactory(account=member.account, kind=K.ORDER, amount=D("1000.00"), occurred_at=T0)
        points_accrue(account_id=member.account_id, now=NOW)
        rule = program.rules.get(trigger=EarningRule.Trigger.NET_REVENUE)
        rule.points = D("1")
        rule.save()
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("1000.00"), occurred_at=T0)
        first.amount = D("2000.00")  # re-priced at its original rate
        first.save()

        points_accrue(account_id=member.account_id, now=NOW)

        assert balance(member) == 200 + 1000

    def test_a_draft_program_accrues_nothing(self, member, program):
        program.status = "draft"
        program.save()
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"), occurred_at=T0)

        assert points_accrue(account_id=member.account_id, now=NOW).entries == 0
        assert not member.entries.exists()

    def test_it_records_the_history_version_it_accrued_from(self, member):
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("10"), occurred_at=T0)
        member.account.refresh_from_db()

        points_accrue(account_id=member.account_id, now=NOW)

        member.refresh_from_db()
        assert member.accrued_version == member.account.history_version > 0


class TestRedemption:
    def test_it_spends_points_and_keeps_the_balance_the_sum_of_entries(self, member, alice):
        points_adjust(enrolment_id=member.pk, points=700, reason="Welcome bonus", actor=alice, now=NOW)
        discount = member.program.rewards.get(kind=Reward.Kind.DISCOUNT)

        entry = points_redeem(enrolment_id=member.pk, reward_id=discount.pk, actor=alice, now=NOW)

        assert (entry.kind, entry.points, entry.reward_id, entry.actor_id) == ("redeem", -300, discount.pk, alice.pk)
        assert balance(member) == 400

    def test_it_refuses_a_reward_the_balance_does_not_cover_and_writes_nothing(self, member, alice):
        points_adjust(enrolment_id=member.pk, points=299, reason="Goodwill", actor=alice, now=NOW)
        discount = member.program.rewards.get(kind=Reward.Kind.DISCOUNT)

        with pytest.raises(LoyaltyError, match="costs 300 and the balance is 299"):
            points_redeem(enrolment_id=member.pk, reward_id=discount.pk, actor=alice, now=NOW)

        assert member.entries.count() == 1
        assert balance(member) == 299

    def test_it_refuses_a_reward_of_another_program_or_an_inactive_one(self, member, alice, program):
        from campaigns.models import LoyaltyProgram

        other = LoyaltyProgram.objects.create(name="Other", status="active", starts_on=date(2024, 1, 1))
        foreign = Reward.objects.create(program=other, name="Mug", kind="free_service", point_cost=1)
        points_adjust(enrolment_id=member.pk, points=5000, reason="Bonus", actor=alice, now=NOW)
        inactive = program.rewards.get(kind="discount")
        inactive.active = False
        inactive.save()

        for reward in (foreign, inactive):
            with pytest.raises(LoyaltyError, match="not offered by this program"):
                points_redeem(enrolment_id=member.pk, reward_id=reward.pk, actor=alice, now=NOW)
        assert balance(member) == 5000

    def test_a_deduction_may_not_take_the_balance_below_zero_and_needs_a_reason(self, member, alice):
        points_adjust(enrolment_id=member.pk, points=100, reason="Bonus", actor=alice, now=NOW)

        with pytest.raises(LoyaltyError, match="below zero"):
            points_adjust(enrolment_id=member.pk, points=-101, reason="Correction", actor=alice, now=NOW)
        with pytest.raises(LoyaltyError, match="Say why"):
            points_adjust(enrolment_id=member.pk, points=-1, reason="  ", actor=alice, now=NOW)
        points_adjust(enrolment_id=member.pk, points=-100, reason="Correction", actor=alice, now=NOW)

        assert balance(member) == 0

    def test_a_tier_upgrade_grants_the_better_tiers_sla_to_open_cases(self, member, alice):
        from profitability.models import Tier

        gold = Tier.objects.order_by("position").first()
        lowest = Tier.objects.order_by("position").last()
        opened = NOW - timedelta(hours=1)
        case = ServiceCaseFactory(account=member.account, opened_at=opened,
                                  first_response_due_at=opened + timedelta(hours=lowest.first_response_hours),
                                  resolution_due_at=opened + timedelta(hours=lowest.resolution_hours))
        points_adjust(enrolment_id=member.pk, points=1000, reason="Bonus", actor=alice, now=NOW)
        upgrade = member.program.rewards.get(kind=Reward.Kind.TIER_UPGRADE)

        with transaction.atomic():
            entry = points_redeem(enrolment_id=member.pk, reward_id=upgrade.pk, actor=alice, now=NOW)
        upgrades_apply_sla(account_ids=[member.account_id], now=NOW)

        grant = RewardGrant.objects.get(entry=entry)
        assert (grant.tier, grant.valid_until) == (gold, NOW + timedelta(days=30))
        case.refresh_from_db()
        assert case.first_response_due_at == opened + timedelta(hours=gold.first_response_hours)
        assert case.resolution_due_at == opened + timedelta(hours=gold.resolution_hours)


class TestAppendOnly:
    def test_the_orm_refuses_to_change_or_delete_an_entry(self, member, alice):
        entry = points_adjust(enrolment_id=member.pk, points=10, reason="Bonus", actor=alice, now=NOW)

        entry.points = 10_000
        with pytest.raises(ValueError, match="append-only"):
            entry.save()
        with pytest.raises(ValueError, match="append-only"):
            entry.delete()
        assert balance(member) == 10

    @pytest.mark.parametrize("statement", [
        "UPDATE campaigns_ledgerentry SET points = 10000",
        "DELETE FROM campaigns_ledgerentry",
    ])
    def test_the_database_refuses_updates_and_deletes_whatever_the_code_path(self, member, alice, statement):
        points_adjust(enrolment_id=member.pk, points=10, reason="Bonus", actor=alice, now=NOW)

        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        assert balance(member) == 10

    def test_a_queryset_update_is_refused_too(self, member, alice):
        points_adjust(enrolment_id=member.pk, points=10, reason="Bonus", actor=alice, now=NOW)

        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            LedgerEntry.objects.filter(enrolment=member).update(points=1)


class TestExpiry:
    def test_points_older_than_the_validity_expire_first_in_first_out_once(self, member, program, alice):
        program.points_validity_days = 365
        program.save()
        old = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)  # enrolment day, before the 365-day cut-off
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"), occurred_at=old)
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("2000.00"),
                           occurred_at=NOW - timedelta(days=10))
        points_accrue(account_id=member.account_id, now=NOW)  # 500 old + 200 recent
        points_redeem(enrolment_id=member.pk, reward_id=program.rewards.get(kind="discount").pk, actor=alice,
                      now=NOW - timedelta(days=5))  # −300 used the oldest points first

        assert points_expire(program_id=program.pk, now=NOW) == 200
        assert points_expire(program_id=program.pk, now=NOW) == 0
        assert balance(member) == 200
        assert member.entries.filter(kind="expire").get().points == -200

    def test_a_validity_over_a_century_is_refused_on_the_program(self, program):
        program.points_validity_days = 36_500
        program.full_clean()
        program.points_validity_days = 36_501

        with pytest.raises(ValidationError) as refused:
            program.full_clean()

        assert refused.value.message_dict == {
            "points_validity_days": ["Ensure this value is less than or equal to 36500."]}

    def test_a_validity_stored_before_the_bound_expires_instead_of_overflowing(self, member, program):
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"),
                           occurred_at=ENROLLED + timedelta(hours=1))
        points_accrue(account_id=member.account_id, now=NOW)
        LoyaltyProgram.objects.filter(pk=program.pk).update(points_validity_days=1_000_000)

        assert points_expire(program_id=program.pk, now=NOW) == 0
        assert balance(member) == 500

    def test_a_program_ending_on_the_last_day_there_is_accrues_as_an_open_ended_one(self, member, program):
        LoyaltyProgram.objects.filter(pk=program.pk).update(ends_on=date.max)
        InteractionFactory(account=member.account, kind=K.ORDER, amount=D("5000.00"),
                           occurred_at=ENROLLED + timedelta(hours=1))

        points_accrue(account_id=member.account_id, now=NOW)

        assert balance(member) == 500


# --- concurrency on real PostgreSQL -----------------------------------------------------------------------------


def _race(n: int, work) -> list:  # type: ignore[no-untyped-def]
    """Run ``work(i)`` in ``n`` threads released at once, each on its own database connection."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  (the test inspects what each thread got)
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def test_racing_redemptions_never_take_the_balance_below_zero(self, program, alice):
        member = enrol(program, AccountFactory())
        points_adjust(enrolment_id=member.pk, points=1000, reason="Bonus", actor=alice, now=NOW)
        discount = program.rewards.get(kind=Reward.Kind.DISCOUNT)  # 300 points

        results = _race(8, lambda i: points_redeem(enrolment_id=member.pk, reward_id=discount.pk, actor=alice, now=NOW))

        won = [r for r in results if isinstance(r, LedgerEntry)]
        refused = [r for r in results if isinstance(r, LoyaltyError)]
        assert (len(won), len(refused)) == (3, 5), results
        assert balance(member) == 100
        assert member.entries.aggregate(t=Sum("points"))["t"] == 100
        assert member.entries.filter(kind="redeem").count() == 3

    def test_racing_accruals_of_the_same_history_award_once(self, program):
        member = enrol(program, AccountFactory())
        for i in range(20):
            InteractionFactory(account=member.account, kind=K.ORDER, amount=D("1000.00"),
                               occurred_at=T0 + timedelta(days=i))

        results = _race(6, lambda i: points_accrue(account_id=member.account_id, now=NOW))

        assert not [r for r in results if isinstance(r, Exception)], results
        assert sum(r.entries for r in results) == 20
        assert balance(member) == 2000
        assert member.entries.filter(kind="earn").count() == 20
