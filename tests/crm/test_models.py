"""The hard rules of the CRM records live in the database: these tests try to break them."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from crm.models import Account, Interaction, Lead, MarketingSpend, SurveyResponse
from tests.factories import AccountFactory, ChannelFactory, InteractionFactory, ServiceCaseFactory

pytestmark = pytest.mark.django_db

WHEN = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_it_rejects_a_second_row_with_the_same_source_id():
    first = InteractionFactory(source_system="erp", external_id="INV-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory(account=first.account, source_system="erp", external_id="INV-1")
    assert Interaction.objects.filter(source_system="erp", external_id="INV-1").count() == 1


def test_it_allows_the_same_external_id_in_different_source_systems():
    first = InteractionFactory(source_system="erp", external_id="42")
    InteractionFactory(account=first.account, source_system="helpdesk", external_id="42")
    assert Interaction.objects.filter(external_id="42").count() == 2


def test_it_gives_interactions_entered_in_tierwise_unique_ids():
    a, b = InteractionFactory(), InteractionFactory()
    assert a.source_system == b.source_system == "tierwise"
    assert a.external_id != b.external_id


@pytest.mark.parametrize(
    "field, value, constraint",
    [
        ("amount", Decimal("-0.01"), "interaction_amount_non_negative"),
        ("direct_cost", Decimal("-5"), "interaction_cost_non_negative"),
    ],
)
def test_it_rejects_negative_money_on_interactions(field, value, constraint):
    account = AccountFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        InteractionFactory(account=account, **{field: value})


@pytest.mark.parametrize("score", [-1, 11])
def test_it_rejects_nps_outside_0_to_10(score):
    account = AccountFactory()
    with pytest.raises(IntegrityError, match="survey_nps_0_10|score_check"), transaction.atomic():
        SurveyResponse.objects.create(account=account, score=score, answered_at=WHEN)


@pytest.mark.parametrize("score", [0, 10])
def test_it_accepts_nps_at_the_edges(score):
    SurveyResponse.objects.create(account=AccountFactory(), score=score, answered_at=WHEN)
    assert SurveyResponse.objects.get().score == score


def test_it_requires_a_churn_date_for_churned_accounts():
    with pytest.raises(IntegrityError, match="account_churned_has_date"), transaction.atomic():
        AccountFactory(status=Account.Status.CHURNED, churned_on=None)


def test_it_rejects_a_first_response_before_the_case_opened():
    with pytest.raises(IntegrityError, match="case_first_response_after_open"), transaction.atomic():
        ServiceCaseFactory(opened_at=WHEN, first_response_at=datetime(2025, 4, 30, tzinfo=UTC))


def test_it_requires_stage_dates_on_leads():
    with pytest.raises(IntegrityError, match="lead_closed_has_date"), transaction.atomic():
        Lead.objects.create(company_name="Acme", stage=Lead.Stage.WON, mql_at=WHEN)
    with pytest.raises(IntegrityError, match="lead_sql_has_date"), transaction.atomic():
        Lead.objects.create(company_name="Acme", stage=Lead.Stage.SQL, mql_at=WHEN)


def test_it_keeps_one_spend_row_per_channel_and_month():
    channel = ChannelFactory(name="Paid search")
    MarketingSpend.objects.create(channel=channel, period="2025-01-01", amount=Decimal("1000"))
    with pytest.raises(IntegrityError, match="spend_channel_period_unique"), transaction.atomic():
        MarketingSpend.objects.create(channel=channel, period="2025-01-01", amount=Decimal("5"))
    with pytest.raises(IntegrityError, match="spend_period_first_of_month"), transaction.atomic():
        MarketingSpend.objects.create(channel=channel, period="2025-02-14", amount=Decimal("5"))


class TestHistoryVersion:
    """Every change to an account's interactions bumps its history version, whatever the ORM path."""

    def test_it_bumps_on_create_update_and_delete(self):
        account = AccountFactory()
        interaction = InteractionFactory(account=account)
        account.refresh_from_db()
        assert account.history_version == 1

        interaction.amount = Decimal("250.00")
        interaction.save()
        account.refresh_from_db()
        assert account.history_version == 2

        interaction.delete()
        account.refresh_from_db()
        assert account.history_version == 3

    def test_it_bumps_both_accounts_when_an_interaction_moves(self):
        old, new = AccountFactory(), AccountFactory()
        interaction = InteractionFactory(account=old)
        moved = Interaction.objects.get(pk=interaction.pk)
        moved.account = new
        moved.save()
        assert Account.objects.get(pk=old.pk).history_version == 2
        assert Account.objects.get(pk=new.pk).history_version == 1

    def test_it_leaves_other_accounts_alone(self):
        bystander = AccountFactory()
        InteractionFactory()
        bystander.refresh_from_db()
        assert bystander.history_version == 0

    def test_it_notifies_listeners_only_after_commit(self, django_capture_on_commit_callbacks):
        from crm.signals import history_changed

        received: list[list[int]] = []

        def listener(sender, account_ids, **kwargs):
            received.append(account_ids)

        history_changed.connect(listener)
        try:
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                interaction = InteractionFactory()
            assert received == []  # nothing before commit
            for callback in callbacks:
                callback()
            assert received[-1] == [interaction.account_id]
        finally:
            history_changed.disconnect(listener)
