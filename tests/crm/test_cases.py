"""Service cases: opening a complaint, taking it, answering it, moving it through its statuses."""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Account, Interaction, InteractionChannel, InteractionKind, ServiceCase
from crm.roles import Role
from crm.services import (
    CaseActionRefused,
    case_assign,
    case_first_response,
    case_open,
    case_set_status,
    cases_score,
)
from profitability.models import AccountSnapshot, Tier
from tests.factories import AccountFactory, ContactFactory, ServiceCaseFactory, UserFactory

OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Status = ServiceCase.Status


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Recompute requests (the complaint interaction changes the history) are not what these tests are about."""
    requested = []
    monkeypatch.setattr(
        "profitability.receivers.recompute_request", lambda *, account_ids: requested.append(account_ids)
    )
    return requested


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The production hasher takes a second per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def in_tier(account: Account, tier_name: str) -> Account:
    AccountSnapshot.objects.create(
        account=account, computed_at=OPENED, as_of=OPENED.date(), tier=Tier.objects.get(name=tier_name)
    )
    return account


def service_user(username: str):  # type: ignore[no-untyped-def]
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=Role.SERVICE.value))
    return user


# --- case_open -----------------------------------------------------------------------------------------------


class TestCaseOpen:
    def test_it_scores_the_case_and_records_a_complaint_interaction(self, db, sam):
        account = AccountFactory()
        contact = ContactFactory(account=account)
        version = account.history_version

        case = case_open(
            account=account, opened_by=sam, contact=contact, subject="URGENT production line down",
            body="We cannot ship anything!!", severity="critical", channel=InteractionChannel.EMAIL, opened_at=OPENED,
        )

        case.refresh_from_db()
        assert (case.status, case.severity, case.contact, case.opened_at) == (Status.OPEN, "critical", contact, OPENED)
        assert case.urgency >= 0.6
        assert case.sentiment < 0
        assert case.urgency_reasons[:3] == ["says “urgent”", "says “line down”", "says “cannot”"]
        assert "severity critical" in case.urgency_reasons
        complaint = Interaction.objects.get(account=account)
        assert (complaint.kind, complaint.channel, complaint.occurred_at, complaint.logged_by) == (
            InteractionKind.COMPLAINT, InteractionChannel.EMAIL, OPENED, sam)
        assert complaint.note == "URGENT production line down"
        assert complaint.external_id == case.external_id  # the two can be matched
        assert Account.objects.get(pk=account.pk).history_version == version + 1  # cost-to-serve will count it

    def test_on_commit_it_sets_the_sla_due_times_from_the_accounts_tier(self, sam, django_capture_on_commit_callbacks):
        account = in_tier(AccountFactory(), "Gold")  # first response 4 h, resolution 24 h

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            case = case_open(account=account, opened_by=sam, subject="Late delivery", body="", severity="medium",
                             opened_at=OPENED)
        case.refresh_from_db()
        assert (case.first_response_due_at, case.resolution_due_at) == (None, None)  # not before commit

        for callback in callbacks:
            callback()
        case.refresh_from_db()
        assert case.first_response_due_at == OPENED + timedelta(hours=4)
        assert case.resolution_due_at == OPENED + timedelta(hours=24)

    def test_an_account_without_a_tier_gets_the_lowest_tiers_sla(self, sam, django_capture_on_commit_callbacks):
        """No customer goes without an SLA: an unranked account (a prospect, not yet computed) gets Bronze's."""
        from profitability.models import Tier

        account = AccountFactory()
        with django_capture_on_commit_callbacks(execute=True):
            case = case_open(account=account, opened_by=sam, subject="Question", body="", severity="low")
        case.refresh_from_db()
        bronze = Tier.objects.get(name="Bronze")
        assert case.first_response_due_at == case.opened_at + timedelta(hours=bronze.first_response_hours)
        assert case.resolution_due_at == case.opened_at + timedelta(hours=bronze.resolution_hours)

    def test_a_rolled_back_open_leaves_nothing_and_announces_nothing(self, sam, django_capture_on_commit_callbacks):
        account = in_tier(AccountFactory(), "Gold")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                case_open(account=account, opened_by=sam, subject="Late", body="", severity="low")
                raise RuntimeError("the request failed later")
        assert callbacks == []
        assert not ServiceCase.objects.exists()
        assert not Interaction.objects.exists()

    def test_it_refuses_a_contact_of_another_account(self, db, sam):
        account = AccountFactory()
        stranger = ContactFactory()
        with pytest.raises(ValueError, match="another account"):
            case_open(account=account, opened_by=sam, contact=stranger, subject="x", body="", severity="low")
        assert not ServiceCase.objects.exists()
        assert not Interaction.objects.exists()


# --- case_assign -----------------------------------------------------------------------------------------------


class TestCaseAssign:
    def test_the_second_agent_is_refused_and_the_assignee_stays(self, db, sam):
        sue = service_user("sue")
        case = ServiceCaseFactory()
        seen_by_sam = ServiceCase.objects.get(pk=case.pk)
        seen_by_sue = ServiceCase.objects.get(pk=case.pk)  # both loaded it while it was unassigned

        case_assign(case=seen_by_sam, user=sam)
        with pytest.raises(CaseActionRefused) as refused:
            case_assign(case=seen_by_sue, user=sue)

        assert str(refused.value) == "sam has already taken this case."
        assert ServiceCase.objects.get(pk=case.pk).assignee == sam

    def test_taking_your_own_case_again_is_fine(self, db, sam):
        case = ServiceCaseFactory(assignee=sam)
        assert case_assign(case=case, user=sam).assignee == sam
        assert ServiceCase.objects.get(pk=case.pk).assignee == sam

    def test_the_refusal_names_the_assignee_by_full_name(self, db, sam):
        sam.first_name, sam.last_name = "Sam", "Service"
        sam.save()
        case = ServiceCaseFactory(assignee=sam)
        with pytest.raises(CaseActionRefused, match="^Sam Service has already taken this case.$"):
            case_assign(case=case, user=service_user("sue"))


@pytest.mark.django_db(transaction=True)
def test_two_agents_pressing_assign_at_the_same_moment_one_wins(sam):
    sue = service_user("sue")
    case = ServiceCaseFactory()
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def take(user) -> None:  # type: ignore[no-untyped-def]
        try:
            stale = ServiceCase.objects.get(pk=case.pk)
            barrier.wait()
            case_assign(case=stale, user=user)
            outcome[user.username] = "took it"
        except CaseActionRefused as refused:
            outcome[user.username] = str(refused)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(user,)) for user in (sam, sue)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winner = ServiceCase.objects.get(pk=case.pk).assignee.username
    loser = "sue" if winner == "sam" else "sam"
    assert outcome == {winner: "took it", loser: f"{winner} has already taken this case."}


# --- case_set_status ---------------------------------------------------------------------------------------------


class TestCaseSetStatus:
    def test_resolving_stamps_resolved_at_and_reopening_clears_it(self, db, sam):
        case = ServiceCaseFactory(opened_at=OPENED)
        before = timezone.now()

        case_set_status(case=case, status=Status.RESOLVED, by=sam)
        case.refresh_from_db()
        assert case.status == Status.RESOLVED
        assert before <= case.resolved_at <= timezone.now()
        resolved_at = case.resolved_at

        case_set_status(case=case, status=Status.RESOLVED, by=sam)  # again: nothing changes
        case.refresh_from_db()
        assert case.resolved_at == resolved_at

        case_set_status(case=case, status=Status.IN_PROGRESS, by=sam)
        case.refresh_from_db()
        assert (case.status, case.resolved_at) == (Status.IN_PROGRESS, None)

    def test_moving_between_open_statuses_leaves_resolved_at_empty(self, db, sam):
        case = ServiceCaseFactory(opened_at=OPENED)
        for status in (Status.IN_PROGRESS, Status.WAITING, Status.OPEN):
            case_set_status(case=case, status=status, by=sam)
            case.refresh_from_db()
            assert (case.status, case.resolved_at) == (status, None)

    def test_resolved_at_is_never_before_the_case_was_opened(self, db, sam):
        future = timezone.now() + timedelta(hours=2)  # an imported case with a clock-skewed opening time
        case = ServiceCaseFactory(opened_at=future)
        case_set_status(case=case, status=Status.RESOLVED, by=sam)
        case.refresh_from_db()
        assert case.resolved_at == future

    def test_a_reopened_case_gets_fresh_due_times_from_the_current_tier(self, sam, django_capture_on_commit_callbacks):
        account = in_tier(AccountFactory(), "Platinum")  # 1 h / 8 h
        case = ServiceCaseFactory(account=account, opened_at=OPENED, status=Status.RESOLVED, resolved_at=OPENED)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            case_set_status(case=case, status=Status.OPEN, by=sam)
        assert len(callbacks) == 1
        case.refresh_from_db()
        assert (case.first_response_due_at, case.resolution_due_at) == (
            OPENED + timedelta(hours=1), OPENED + timedelta(hours=8))

    def test_it_rejects_an_unknown_status(self, db, sam):
        case = ServiceCaseFactory()
        with pytest.raises(ValueError, match="unknown status"):
            case_set_status(case=case, status="lost", by=sam)
        assert ServiceCase.objects.get(pk=case.pk).status == Status.OPEN


# --- case_first_response -------------------------------------------------------------------------------------------


class TestCaseFirstResponse:
    def test_it_is_recorded_once_with_its_interaction(self, db, sam):
        sue = service_user("sue")
        case = ServiceCaseFactory(opened_at=OPENED, subject="Late delivery")
        before = timezone.now()

        case_first_response(case=case, by=sam, message="We are on it; new ETA tomorrow 10:00.")
        case.refresh_from_db()
        assert before <= case.first_response_at <= timezone.now()
        assert case.status == Status.IN_PROGRESS
        assert case.assignee == sam  # an unassigned case goes to whoever answered
        response = Interaction.objects.get(account=case.account)
        assert (response.kind, response.channel, response.logged_by) == (
            InteractionKind.SUPPORT_EMAIL, InteractionChannel.EMAIL, sam)
        assert response.note == "First response to “Late delivery”: We are on it; new ETA tomorrow 10:00."
        first = case.first_response_at

        with pytest.raises(CaseActionRefused, match="^A first response was already recorded on "):
            case_first_response(case=case, by=sue, message="Hello again")
        case.refresh_from_db()
        assert (case.first_response_at, case.assignee) == (first, sam)
        assert Interaction.objects.filter(account=case.account).count() == 1

    def test_by_phone_it_records_a_support_call_and_keeps_the_assignee_and_a_waiting_status(self, db, sam):
        sue = service_user("sue")
        case = ServiceCaseFactory(opened_at=OPENED, assignee=sue, status=Status.WAITING)
        case_first_response(case=case, by=sam, message="Called back", channel=InteractionChannel.PHONE)
        case.refresh_from_db()
        assert (case.status, case.assignee) == (Status.WAITING, sue)
        assert Interaction.objects.get(account=case.account).kind == InteractionKind.SUPPORT_CALL

    def test_an_empty_message_is_refused_before_anything_is_written(self, db, sam):
        case = ServiceCaseFactory(opened_at=OPENED)
        with pytest.raises(ValueError, match="needs a message"):
            case_first_response(case=case, by=sam, message="   ")
        case.refresh_from_db()
        assert (case.first_response_at, case.status) == (None, Status.OPEN)
        assert not Interaction.objects.exists()


# --- scoring in bulk --------------------------------------------------------------------------------------------


def test_cases_score_scores_only_unscored_cases_unless_asked(db):
    unscored = ServiceCaseFactory(subject="Outage at the plant", body="", severity="high")
    scored = ServiceCaseFactory(subject="Outage", urgency=0.123, sentiment=0.0, urgency_reasons=["kept"])

    assert cases_score() == 1
    unscored.refresh_from_db()
    scored.refresh_from_db()
    assert unscored.urgency > 0.5
    assert unscored.urgency_reasons[0] == "says “outage”"
    assert (scored.urgency, scored.urgency_reasons) == (0.123, ["kept"])

    out = StringIO()
    call_command("score_cases", "--all", stdout=out)
    assert out.getvalue().strip() == "Scored 2 cases."
    scored.refresh_from_db()
    assert scored.urgency_reasons[0] == "says “outage”"


# --- how an account's cases show their dates --------------------------------------------------------------------


def test_the_account_case_table_shows_opened_and_due_dates_with_the_year_unless_it_is_this_one(db):
    """The account page's case table (and the service account page's) writes dates like the service queue:
    the year whenever it is not this one, on the opened date and the SLA deadline alike."""
    from django.template.loader import render_to_string

    from crm.selectors_cases import account_cases

    account = AccountFactory(name="Old Case Co")
    now = timezone.now()
    opened = datetime(now.year - 2, 2, 16, 14, 7, tzinfo=UTC)
    ServiceCaseFactory(account=account, subject="Old", opened_at=opened, first_response_due_at=None,
                       resolution_due_at=opened + timedelta(days=2))
    ServiceCaseFactory(account=account, subject="New", opened_at=now, first_response_due_at=now + timedelta(hours=1),
                       resolution_due_at=now + timedelta(hours=2))

    html = " ".join(render_to_string("crm/cases/case_table.html", {
        "rows": account_cases(account_id=account.pk, now=now), "account": account}).split())

    def local(moment):  # type: ignore[no-untyped-def]
        moment = timezone.localtime(moment)
        return f"{moment:%-d %b %H:%M}" if moment.year == timezone.localdate().year else f"{moment:%-d %b %Y %H:%M}"

    def row(subject: str) -> str:
        start = html.index(f"<td>{subject}</td>")
        return html[start:html.index("</tr>", start)]

    assert str(now.year - 2) in local(opened)
    assert f">{local(opened)}</time>" in row("Old")
    assert f"Resolution due {local(opened + timedelta(days=2))}</span>" in row("Old")
    assert f">{local(now)}</time>" in row("New")
    assert f"First response due {local(now + timedelta(hours=1))}</span>" in row("New")
