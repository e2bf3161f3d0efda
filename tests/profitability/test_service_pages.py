"""Service staff's pages: the case queue and its inline actions, account lookup, an account's service view,
and logging a complaint. Who may use them, what they show (never money), in which order, in how many queries."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Interaction, InteractionKind, ServiceCase
from crm.templatetags.tierwise import money
from profitability import services
from profitability.models import AccountSnapshot, Tier
from tests.factories import (
    AccountFactory,
    ContactFactory,
    InteractionFactory,
    ProductFactory,
    ServiceCaseFactory,
)

from .conftest import NOW

pytestmark = pytest.mark.django_db
Status = ServiceCase.Status
HTMX = {"HTTP_HX_REQUEST": "true"}
ROW_ID = re.compile(r'<tr id="case-(\d+)"')
FORBIDDEN_WORDS = ("margin", "Net profit", "CLV", "Cost-to-serve")
MONEY_FIELDS = [
    "revenue", "returns", "cogs", "gross_margin", "cost_to_serve", "net_profit", "revenue_ttm", "returns_ttm",
    "cogs_ttm", "gross_margin_ttm", "cost_to_serve_ttm", "net_profit_ttm", "cac", "clv_historical", "clv_formula",
    "clv_predictive",
]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The role fixtures create five users; the production hasher takes a second for each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Complaints and responses change accounts' histories; enqueueing their recomputes is tested elsewhere."""
    monkeypatch.setattr("profitability.receivers.recompute_request", lambda *, account_ids: 0)


def tier(name: str) -> Tier:
    return Tier.objects.get(name=name)


def in_tier(account: Account, name: str | None) -> Account:
    AccountSnapshot.objects.create(
        account=account, computed_at=NOW, as_of=NOW.date(), tier=tier(name) if name else None
    )
    return account


def open_case(account: Account, *, due_in: timedelta | None, urgency: float | None = 0.3, **fields) -> ServiceCase:
    now = timezone.now()
    due = now + due_in if due_in is not None else None
    defaults = {"opened_at": now - timedelta(hours=1), "resolution_due_at": due, "first_response_due_at": None,
                "urgency": urgency, "sentiment": 0.0, "urgency_reasons": ["says “late”"]}
    defaults.update(fields)
    return ServiceCaseFactory(account=account, **defaults)


def row_order(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(pk) for pk in ROW_ID.findall(response.content.decode())]


def get_as(client, user, url, **extra):  # type: ignore[no-untyped-def]
    if user is not None:
        client.force_login(user)
    return client.get(url, **extra)


def post_as(client, user, url, data=None, **extra):  # type: ignore[no-untyped-def]
    if user is not None:
        client.force_login(user)
    return client.post(url, data or {}, **extra)


# --- who may use what ---------------------------------------------------------------------------------------

ROLES = ["anonymous", "nobody", "alice", "sam", "ada"]
SERVICE_ALLOWED = {"anonymous": 302, "nobody": 403, "alice": 403, "sam": 200, "ada": 200}
# Complaints: service staff, admins and the account's own manager; this account belongs to Bob, not Alice.
COMPLAINT_ALLOWED = {"anonymous": 302, "nobody": 403, "alice": 403, "sam": 200, "ada": 200}


@pytest.fixture
def users(nobody, alice, sam, ada):  # type: ignore[no-untyped-def]
    return {"anonymous": None, "nobody": nobody, "alice": alice, "sam": sam, "ada": ada}


@pytest.fixture
def bobs_case(bob):  # type: ignore[no-untyped-def]
    account = in_tier(AccountFactory(name="Bob's Customer", owner=bob), "Gold")
    ContactFactory(account=account, name="Carla Caller")
    return open_case(account, due_in=timedelta(hours=3))


PAGES = {
    "service_queue": lambda case: reverse("service_queue"),
    "account_lookup": lambda case: reverse("account_lookup") + "?q=Bob",
    "service_account": lambda case: reverse("service_account", args=[case.account_id]),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_permission_matrix_pages(client, users, bobs_case, page, role):
    url = PAGES[page](bobs_case)
    response = get_as(client, users[role], url)
    assert response.status_code == SERVICE_ALLOWED[role]
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))
    if response.status_code == 403:
        assert "This page is for service staff or admins." in response.content.decode()
    # the htmx partials are guarded the same way
    assert get_as(client, users[role], url, **HTMX).status_code == SERVICE_ALLOWED[role]


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_complaint_form(client, users, bobs_case, role):
    url = reverse("case_create", args=[bobs_case.account_id])
    assert get_as(client, users[role], url).status_code == COMPLAINT_ALLOWED[role]
    assert get_as(client, users[role], url, **HTMX).status_code == COMPLAINT_ALLOWED[role]


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_complaint_post(client, users, bobs_case, role):
    url = reverse("case_create", args=[bobs_case.account_id])
    data = {"subject": "Wrong items", "severity": "high", "channel": "phone", "body": ""}
    response = post_as(client, users[role], url, data, **HTMX)
    assert response.status_code == COMPLAINT_ALLOWED[role]
    created = ServiceCase.objects.filter(subject="Wrong items").count()
    complaints = Interaction.objects.filter(kind=InteractionKind.COMPLAINT).count()
    assert (created, complaints) == ((1, 1) if COMPLAINT_ALLOWED[role] == 200 else (0, 0))


ACTIONS = {
    "service_case_assign": ({}, lambda c: c.assignee_id),
    "service_case_status": ({"status": "resolved"}, lambda c: (c.status, c.resolved_at)),
    "service_case_respond": ({"message": "On it", "channel": "email"}, lambda c: (c.first_response_at, c.status)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_permission_matrix_queue_actions(client, users, bobs_case, action, role):
    data, state = ACTIONS[action]
    before = state(ServiceCase.objects.get(pk=bobs_case.pk))
    interactions = Interaction.objects.count()

    response = post_as(client, users[role], reverse(action, args=[bobs_case.pk]), data, **HTMX)

    assert response.status_code == SERVICE_ALLOWED[role]
    after = state(ServiceCase.objects.get(pk=bobs_case.pk))
    if SERVICE_ALLOWED[role] == 200:
        assert after != before
    else:
        assert after == before  # a denied POST changed nothing
        assert Interaction.objects.count() == interactions


def test_queue_dates_carry_the_year_unless_it_is_this_one(client, sam):
    account = in_tier(AccountFactory(name="Old Case Co"), "Gold")
    now = timezone.now()
    open_case(account, due_in=timedelta(hours=-1), opened_at=datetime(now.year - 1, 2, 17, 11, 1, tzinfo=UTC),
              first_response_at=datetime(now.year - 1, 2, 17, 12, 30, tzinfo=UTC))
    open_case(account, due_in=timedelta(hours=5), opened_at=now)
    client.force_login(sam)

    body = client.get(reverse("service_queue")).content.decode()

    assert f">17 Feb {now.year - 1} 11:01</time>" in body and f">17 Feb {now.year - 1} 12:30</time>" in body
    assert f">{timezone.localtime(now):%-d %b %H:%M}</time>" in body


def test_sla_due_dates_carry_the_year_like_the_opened_column(client, sam):
    """"Opened 16 Feb 2024 14:07 … Resolution due 18 Feb 14:07" dropped the year of the deadline."""
    account = in_tier(AccountFactory(name="Old Case Co"), "Gold")
    now = timezone.now()
    opened = datetime(now.year - 2, 2, 16, 14, 7, tzinfo=UTC)
    open_case(account, due_in=None, opened_at=opened, resolution_due_at=opened + timedelta(days=2))
    open_case(account, due_in=None, opened_at=now, first_response_due_at=now + timedelta(days=400))
    client.force_login(sam)

    body = " ".join(client.get(reverse("service_queue")).content.decode().split())

    def local(moment):  # type: ignore[no-untyped-def]
        return f"{timezone.localtime(moment):%-d %b %Y %H:%M}"

    assert f">{local(opened)}</time>" in body  # opened
    assert f"Resolution due {local(opened + timedelta(days=2))}</span>" in body
    assert f"First response due {local(now + timedelta(days=400))}</span>" in body  # next year's


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_queue_actions_refuse_get(client, sam, bobs_case, action):
    response = get_as(client, sam, reverse(action, args=[bobs_case.pk]))
    assert response.status_code == 405
    assert ServiceCase.objects.get(pk=bobs_case.pk).assignee_id is None


def test_the_accounts_own_manager_may_log_a_complaint(client, alice):
    account = AccountFactory(owner=alice)
    response = post_as(client, alice, reverse("case_create", args=[account.pk]),
                       {"subject": "Late again", "severity": "medium", "channel": "email"}, **HTMX)
    assert response.status_code == 200
    assert ServiceCase.objects.get(account=account).subject == "Late again"


# --- the queue ---------------------------------------------------------------------------------------------


def test_queue_order_tier_first_then_time_to_breach_then_urgency(client, sam):
    platinum = in_tier(AccountFactory(name="Plat"), "Platinum")
    gold = in_tier(AccountFactory(name="Gold Co"), "Gold")
    silver = in_tier(AccountFactory(name="Silver Co"), "Silver")
    bronze = in_tier(AccountFactory(name="Bronze Co"), "Bronze")
    unranked = in_tier(AccountFactory(name="New Co"), None)
    no_snapshot = AccountFactory(name="Prospect Co")
    now = timezone.now()

    p1 = open_case(platinum, due_in=timedelta(hours=6), first_response_at=now - timedelta(minutes=30))
    b1 = open_case(bronze, due_in=timedelta(hours=1), urgency=0.99)  # due sooner, lower tier: after Platinum
    g1 = open_case(gold, due_in=timedelta(hours=3), urgency=0.2)
    g2 = open_case(gold, due_in=timedelta(hours=2), urgency=0.1)  # sooner due first
    g3 = open_case(gold, due_in=timedelta(hours=5), urgency=0.9)  # equal due: more urgent first
    g4 = open_case(gold, due_in=timedelta(hours=5), urgency=0.3)
    g5 = open_case(gold, due_in=timedelta(hours=5), urgency=None)  # unscored: after the scored ones
    # Silver: the first-response deadline counts until a first response is given.
    s1 = open_case(silver, due_in=timedelta(hours=20), first_response_due_at=now + timedelta(minutes=30))
    s2 = open_case(silver, due_in=timedelta(hours=1), first_response_due_at=now + timedelta(minutes=10),
                   first_response_at=now - timedelta(minutes=5))
    n1 = open_case(unranked, due_in=None, urgency=0.95)
    n2 = open_case(no_snapshot, due_in=None, urgency=0.5)
    open_case(gold, due_in=timedelta(hours=-1), status=Status.RESOLVED, resolved_at=now)  # not in the queue

    response = get_as(client, sam, reverse("service_queue"))

    assert response.status_code == 200
    assert row_order(response) == [p.pk for p in (p1, g2, g1, g3, g4, g5, s1, s2, b1, n1, n2)]
    assert "11 open cases" in response.content.decode()


def test_breached_cases_are_highlighted_server_side(client, sam):
    account = in_tier(AccountFactory(), "Gold")
    late = open_case(account, due_in=timedelta(minutes=-25, seconds=-10))
    fine = open_case(account, due_in=timedelta(hours=2, minutes=13, seconds=30))

    html = get_as(client, sam, reverse("service_queue")).content.decode()

    late_row = re.search(rf'<tr id="case-{late.pk}" class="([^"]*)"', html).group(1)
    fine_row = re.search(rf'<tr id="case-{fine.pk}" class="([^"]*)"', html).group(1)
    assert "breached" in late_row.split()
    assert "breached" not in fine_row.split()
    assert re.search(r"data-sla-countdown>breached 25 min \d+ s ago</time>", html)
    assert re.search(r"data-sla-countdown>2 h 13 min left</time>", html)
    assert 'src="/static/js/sla-countdown.js"' in html


def test_the_urgency_column_shows_a_label_the_score_and_the_reasons(client, sam):
    account = in_tier(AccountFactory(), "Gold")
    open_case(account, due_in=timedelta(hours=1), urgency=0.72, urgency_reasons=["says “outage”", "severity high"])
    html = get_as(client, sam, reverse("service_queue")).content.decode()
    assert ('class="urgency urgency-high" title="says “outage”; severity high">'
            'High <span class="urgency-score">0.72</span>') in html


def test_queue_filters_by_tier_severity_and_assignee_and_htmx_gets_the_table_only(client, sam, ada):
    gold = in_tier(AccountFactory(), "Gold")
    bronze = in_tier(AccountFactory(), "Bronze")
    unranked = AccountFactory()
    mine = open_case(gold, due_in=timedelta(hours=1), severity="high", assignee=sam)
    theirs = open_case(gold, due_in=timedelta(hours=2), severity="low", assignee=ada)
    free = open_case(bronze, due_in=timedelta(hours=1), severity="high")
    new = open_case(unranked, due_in=None, severity="critical")
    url = reverse("service_queue")
    client.force_login(sam)

    def rows(**params):  # type: ignore[no-untyped-def]
        return row_order(client.get(url, params))

    assert rows(tier=tier("Gold").pk) == [mine.pk, theirs.pk]
    assert rows(tier="none") == [new.pk]
    assert rows(severity="high") == [mine.pk, free.pk]
    assert rows(assignee="me") == [mine.pk]
    assert rows(assignee="unassigned") == [free.pk, new.pk]
    assert rows(tier=tier("Gold").pk, assignee="unassigned") == []
    assert rows(tier="99999", severity="nonsense") == [mine.pk, theirs.pk, free.pk, new.pk]  # invalid: ignored

    partial = client.get(url, {"severity": "high"}, **HTMX)
    body = partial.content.decode()
    assert body.lstrip().startswith('<div id="queue-filter-controls" class="filter-controls" hx-swap-oob="true">')
    assert '<div id="queue-table">' in body
    assert "<html" not in body
    assert row_order(partial) == [mine.pk, free.pk]
    assert "HX-Request" in partial["Vary"]
    empty = client.get(url, {"tier": tier("Platinum").pk}, **HTMX).content.decode()
    assert "No open cases match these filters." in empty


def test_queue_paginates_by_fifty_with_real_links_keeping_the_filters(client, sam):
    account = in_tier(AccountFactory(), "Silver")
    cases = [open_case(account, due_in=timedelta(minutes=10 + i), severity="high") for i in range(55)]
    client.force_login(sam)

    first = client.get(reverse("service_queue"), {"severity": "high"})
    second = client.get(reverse("service_queue"), {"severity": "high", "page": 2})

    assert row_order(first) == [c.pk for c in cases[:50]]
    assert row_order(second) == [c.pk for c in cases[50:]]
    assert 'href="?severity=high&amp;page=2"' in first.content.decode()
    assert "page 1 of 2" in first.content.decode()


@pytest.mark.parametrize("count", [5, 60])
def test_queue_query_count_does_not_grow_with_the_cases(client, sam, count, django_assert_max_num_queries):
    accounts = [in_tier(AccountFactory(), name) for name in ("Platinum", "Gold", "Silver", "Bronze")]
    for i in range(count):
        open_case(accounts[i % 4], due_in=timedelta(hours=i), assignee=sam if i % 2 else None,
                  contact=ContactFactory(account=accounts[i % 4]))
    client.force_login(sam)
    # session, user, groups (role check), tiers, count, page, its accounts + the session's idle-timeout save (3)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("service_queue"))
    assert len(row_order(response)) == min(count, 50)


def test_an_empty_queue_says_so(client, sam):
    html = get_as(client, sam, reverse("service_queue")).content.decode()
    assert "No open cases — the queue is empty." in html
    assert "0 open cases" in html


# --- inline actions ---------------------------------------------------------------------------------------


@pytest.fixture
def case(db):  # type: ignore[no-untyped-def]
    return open_case(in_tier(AccountFactory(name="Acme"), "Gold"), due_in=timedelta(hours=3), subject="Late delivery")


def test_assign_to_me_returns_the_updated_row(client, sam, case):
    response = post_as(client, sam, reverse("service_case_assign", args=[case.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="case-{case.pk}"')
    assert "“Late delivery” is assigned to you." in html
    assert '<td class="assignee">sam</td>' in html
    assert "Assign to me" not in html
    assert ServiceCase.objects.get(pk=case.pk).assignee == sam


def test_assign_to_me_when_someone_else_took_it_is_refused_with_409_and_the_row_shows_who(client, sam, ada, case):
    ServiceCase.objects.filter(pk=case.pk).update(assignee=ada)
    response = post_as(client, sam, reverse("service_case_assign", args=[case.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 409
    assert 'role="alert" tabindex="-1">ada has already taken this case.</p>' in html
    assert '<td class="assignee">ada</td>' in html
    assert ServiceCase.objects.get(pk=case.pk).assignee == ada


def test_status_change_returns_the_row_and_resolving_stamps_the_time(client, sam, case):
    response = post_as(client, sam, reverse("service_case_status", args=[case.pk]), {"status": "resolved"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Status set to resolved." in html
    assert 'class="queue-row resolved"' in html
    assert '<span class="status-label">Resolved</span>' in html
    case.refresh_from_db()
    assert case.status == Status.RESOLVED and case.resolved_at is not None


def test_an_unknown_status_is_refused_with_422_and_nothing_changes(client, sam, case):
    response = post_as(client, sam, reverse("service_case_status", args=[case.pk]), {"status": "gone"}, **HTMX)
    assert response.status_code == 422
    assert "Choose one of the statuses." in response.content.decode()
    assert ServiceCase.objects.get(pk=case.pk).status == Status.OPEN


def test_first_response_returns_the_row_with_its_time_and_in_progress(client, sam, case):
    url = reverse("service_case_respond", args=[case.pk])
    response = post_as(client, sam, url, {"message": "New ETA tomorrow", "channel": "email"}, **HTMX)
    html = response.content.decode()
    case.refresh_from_db()
    assert response.status_code == 200
    assert "First response recorded." in html
    stamp = timezone.localtime(case.first_response_at)
    assert f'Responded <time datetime="{stamp.isoformat()}">{stamp:%-d %b %H:%M}</time>' in html
    assert '<span class="status-label">In progress</span>' in html
    assert '<td class="assignee">sam</td>' in html
    assert 'name="message"' not in html  # no second first response offered
    assert (case.status, case.assignee) == (Status.IN_PROGRESS, sam)
    response_logged = Interaction.objects.get(account=case.account)
    assert (response_logged.kind, response_logged.note) == (
        InteractionKind.SUPPORT_EMAIL, "First response to “Late delivery”: New ETA tomorrow")

    again = post_as(client, sam, url, {"message": "Hello?", "channel": "email"}, **HTMX)
    assert again.status_code == 409
    assert "A first response was already recorded on" in again.content.decode()
    assert Interaction.objects.filter(account=case.account).count() == 1


def test_first_response_without_a_message_shows_the_error_next_to_the_field(client, sam, case):
    response = post_as(client, sam, reverse("service_case_respond", args=[case.pk]),
                       {"message": "  ", "channel": "email"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert f'aria-invalid="true" aria-describedby="respond{case.pk}_message_error"' in html
    assert f'<p class="field-error" id="respond{case.pk}_message_error">Enter the message to the customer.</p>' in html
    assert '<details class="respond" open>' in html
    case.refresh_from_db()
    assert (case.first_response_at, case.status) == (None, Status.OPEN)
    assert not Interaction.objects.exists()


def test_without_htmx_actions_redirect_back_to_the_queue_with_a_message(client, sam, case):
    back = reverse("service_queue") + "?severity=medium"
    response = post_as(client, sam, reverse("service_case_assign", args=[case.pk]), {"next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    page = client.get(back)
    assert "“Late delivery” is assigned to you." in page.content.decode()
    evil = post_as(client, sam, reverse("service_case_status", args=[case.pk]),
                   {"status": "waiting", "next": "https://evil.example/"})
    assert evil["Location"] == reverse("service_queue")


def test_actions_on_a_missing_case_are_404(client, sam):
    assert post_as(client, sam, reverse("service_case_assign", args=[999999]), **HTMX).status_code == 404


# --- account lookup ----------------------------------------------------------------------------------------


@pytest.fixture
def callers(db):  # type: ignore[no-untyped-def]
    plat = in_tier(AccountFactory(name="Nordwind Logistics", phone="+49 30 1234-5678"), "Platinum")
    ContactFactory(account=plat, name="Greta Hansen", email="greta@nordwind.example", phone="+49 30 999 000")
    bronze = in_tier(AccountFactory(name="Kleinteile Koch"), "Bronze")
    ContactFactory(account=bronze, name="Karl Koch", email="karl@kleinteile.example", phone="0171 555 12 12")
    open_case(bronze, due_in=timedelta(hours=5))
    open_case(bronze, due_in=None, status=Status.RESOLVED, resolved_at=timezone.now())
    return plat, bronze


@pytest.mark.parametrize("query, expected", [
    ("nordwind", ["Nordwind Logistics"]),  # account name, any case
    ("greta hansen", ["Nordwind Logistics"]),  # contact name
    ("karl@kleinteile", ["Kleinteile Koch"]),  # email
    ("01715551212", ["Kleinteile Koch"]),  # contact phone without the spaces
    ("30 12345678", ["Nordwind Logistics"]),  # account phone, spaced differently
    ("koch", ["Kleinteile Koch"]),
    ("example", ["Kleinteile Koch", "Nordwind Logistics"]),  # both contacts' emails, by name
    ("zzz", []),
])
def test_lookup_finds_accounts_by_name_contact_email_or_phone(client, sam, callers, query, expected):
    response = get_as(client, sam, reverse("account_lookup"), data={"q": query})
    names = re.findall(r'<h2><a href="/service/accounts/\d+/">([^<]+)</a></h2>', response.content.decode())
    assert names == expected


def test_lookup_shows_tier_entitlements_open_cases_and_the_matching_contact(client, sam, callers):
    html = get_as(client, sam, reverse("account_lookup"), data={"q": "greta"}).content.decode()
    assert '<span class="badge tier" style="--tier-color: #5b6b8c">Platinum</span>' in html
    assert "<li>Direct line to the account team</li>" in html
    assert "First response within <strong>1 h</strong>, resolution within <strong>8 h</strong>" in html
    assert "Greta Hansen · greta@nordwind.example · +49 30 999 000" in html
    assert "No open cases" in html
    koch = get_as(client, sam, reverse("account_lookup"), data={"q": "koch"}).content.decode()
    assert "1 open case<" in koch  # the resolved one does not count


def test_lookup_as_you_type_returns_only_the_results(client, sam, callers):
    response = get_as(client, sam, reverse("account_lookup"), data={"q": "nord"}, **HTMX)
    body = response.content.decode()
    assert "<html" not in body and "<form" not in body
    assert "1 account matches “nord”" in body
    short = get_as(client, sam, reverse("account_lookup"), data={"q": "no"}, **HTMX).content.decode()
    assert "Type at least 3 characters." in short
    start = get_as(client, sam, reverse("account_lookup")).content.decode()
    assert "Type a name, an email address or a phone number" in start


def test_lookup_query_count_is_bounded(client, sam, django_assert_max_num_queries):
    for i in range(30):
        account = in_tier(AccountFactory(name=f"Lookup {i:02d}"), "Silver")
        ContactFactory(account=account, name=f"Lookup contact {i}")
    client.force_login(sam)
    # session, user, groups, accounts, matched contacts, open cases, tiers + the session save (3)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("account_lookup"), {"q": "lookup"})
    html = response.content.decode()
    assert "More than 25 accounts match “lookup”; showing the first 25 by name" in html
    assert len(re.findall(r'<li class="card lookup-hit">', html)) == 25


# --- an account as service sees it ------------------------------------------------------------------------------


def test_service_account_shows_service_level_contacts_open_cases_and_interactions_without_money(client, sam, bob):
    account = in_tier(AccountFactory(name="Nordwind", owner=bob, phone="+49 30 1"), "Platinum")
    bob.first_name, bob.last_name = "Bob", "Berger"
    bob.save()
    ContactFactory(account=account, name="Greta Hansen", role="Buyer", email="greta@nordwind.example")
    product = ProductFactory(name="Hex bolts M8", sku="HB-M8", list_price=Decimal("12.34"), unit_cost=Decimal("7.89"))
    InteractionFactory(account=account, kind=InteractionKind.ORDER, amount=Decimal("4321.00"),
                       direct_cost=Decimal("2345.00"), quantity=250, product=product)
    open_case(account, due_in=timedelta(hours=2), subject="Missing pallet")
    open_case(account, due_in=None, subject="Old resolved thing", status=Status.RESOLVED, resolved_at=timezone.now())

    html = get_as(client, sam, reverse("service_account", args=[account.pk])).content.decode()

    assert "<h1>Nordwind</h1>" in html
    assert "Service level: Platinum" in html
    assert "<li>Dedicated account manager</li>" in html
    assert "Bob Berger" in html
    assert "Greta Hansen" in html and "Buyer" in html
    assert "Missing pallet" in html
    assert "Old resolved thing" not in html
    assert "<td>Order</td><td>Web / portal</td>" in html
    assert '<td class="num">250</td>' in html
    assert "Hex bolts M8" in html
    for figure in ("4321", "4,321", "2345", "2,345", "12.34", "7.89"):
        assert figure not in html
    assert f'hx-get="{reverse("case_create", args=[account.pk])}"' in html


def test_service_account_of_a_missing_account_is_404(client, sam):
    assert get_as(client, sam, reverse("service_account", args=[999999])).status_code == 404


def test_service_account_query_count_is_bounded(client, sam, django_assert_max_num_queries):
    account = in_tier(AccountFactory(), "Gold")
    for i in range(10):
        ContactFactory(account=account)
        open_case(account, due_in=timedelta(hours=i), assignee=sam)
        InteractionFactory(account=account, product=ProductFactory())
    client.force_login(sam)
    # session, user, groups, account, tier, contacts, interactions, cases + the session save (3)
    with django_assert_max_num_queries(11):
        assert client.get(reverse("service_account", args=[account.pk])).status_code == 200


# --- logging a complaint -----------------------------------------------------------------------------------------


def test_complaint_form_partial_offers_only_the_accounts_contacts(client, sam):
    account = AccountFactory()
    ContactFactory(account=account, name="Own Contact", role="Buyer")
    ContactFactory(name="Someone Else")
    response = get_as(client, sam, reverse("case_create", args=[account.pk]), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<section id="complaint-form-{account.pk}"')
    assert "Own Contact (Buyer)" in html
    assert "Someone Else" not in html
    assert f'<label for="complaint{account.pk}_subject">Subject</label>' in html


def test_logging_a_complaint_returns_a_fresh_form_and_the_new_row_out_of_band(
    client, sam, django_capture_on_commit_callbacks
):
    account = in_tier(AccountFactory(), "Gold")
    contact = ContactFactory(account=account)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_as(client, sam, reverse("case_create", args=[account.pk]), {
            "subject": "URGENT line down", "contact": contact.pk, "severity": "critical", "channel": "phone",
            "body": "We cannot ship!!"}, **HTMX)
    html = response.content.decode()
    case = ServiceCase.objects.get(account=account)
    assert response.status_code == 200
    assert "Complaint “URGENT line down” logged (high urgency)." in html
    oob_row = rf'<tbody hx-swap-oob="afterbegin:#account-cases-{account.pk}">\s*<tr id="account-case-{case.pk}"'
    assert re.search(oob_row, html)
    assert f'<tr id="account-cases-empty-{account.pk}" hx-swap-oob="delete">' in html
    prefix = f"complaint{account.pk}"
    assert (f'<input type="text" name="subject" maxlength="200" required aria-describedby="{prefix}_subject_helptext"'
            f' id="{prefix}_subject">') in html  # the fresh form is empty
    assert 'value="URGENT line down"' not in html
    assert response["HX-Trigger"] == f'{{"caseOpened": {{"account": {account.pk}, "case": {case.pk}}}}}'
    assert (case.contact, case.severity, case.urgency >= 0.6) == (contact, "critical", True)
    assert case.resolution_due_at is not None  # the tier's SLA, applied on commit before the row was read
    assert Interaction.objects.get(account=account).kind == InteractionKind.COMPLAINT


def test_a_complaint_logged_on_the_account_page_refreshes_the_figures_and_the_timeline(
    client, alice, django_capture_on_commit_callbacks
):
    """Like a logged interaction (a complaint is a cost-to-serve event): the figures panel's "Recomputing…"
    status and the complaint's timeline row, out of band; the empty-table row is always there to delete."""
    account = in_tier(AccountFactory(owner=alice), "Gold")
    ServiceCaseFactory(account=account, subject="Earlier complaint")  # the table has rows: no visible empty row
    page = get_as(client, alice, reverse("account_detail", args=[account.pk])).content.decode()
    assert f'<tr id="account-cases-empty-{account.pk}" hidden>' in page  # the oob delete's target exists

    detail = reverse("account_detail", args=[account.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = post_as(client, alice, reverse("case_create", args=[account.pk]), {
            "subject": "Pallet arrived broken", "severity": "high", "channel": "phone"},
            HTTP_HX_CURRENT_URL=f"http://testserver{detail}?period=ttm", **HTMX)
    html = response.content.decode()
    complaint = Interaction.objects.get(account=account, kind=InteractionKind.COMPLAINT, note="Pallet arrived broken")

    assert response.status_code == 200
    assert "The figures are being recomputed." in html
    assert re.search(r'<p id="figures-status" class="recomputing" role="status" aria-live="polite" '
                     r'hx-swap-oob="outerHTML"\s+hx-get="' + reverse("account_figures", args=[account.pk]) +
                     r'\?poll=1"', html)
    assert re.search(rf'<ol hx-swap-oob="afterbegin:#timeline-list">\s*<li class="tl-row kind-complaint is-new" '
                     rf'id="interaction-{complaint.pk}">', html)
    assert f'<tr id="account-cases-empty-{account.pk}" hx-swap-oob="delete">' in html


def test_a_complaint_logged_elsewhere_sends_no_timeline_or_figures(client, sam):
    """The service pages have neither: an oob element without its target is an htmx:oobErrorNoTarget."""
    account = in_tier(AccountFactory(), "Gold")
    service_page = reverse("service_account", args=[account.pk])
    response = post_as(client, sam, reverse("case_create", args=[account.pk]), {
        "subject": "Invoice wrong", "severity": "low", "channel": "email"},
        HTTP_HX_CURRENT_URL=f"http://testserver{service_page}", **HTMX)
    html = response.content.decode()

    assert response.status_code == 200
    assert "#timeline-list" not in html and "figures-status" not in html
    assert "The figures are being recomputed." not in html
    page = get_as(client, sam, service_page).content.decode()
    assert f'<tbody id="account-cases-{account.pk}">' in page
    assert f'<tr id="account-cases-empty-{account.pk}" hidden>' in page  # the new case fills the table


def test_the_empty_cases_row_shows_only_without_cases(client, sam):
    account = in_tier(AccountFactory(), "Gold")
    page = get_as(client, sam, reverse("service_account", args=[account.pk])).content.decode()
    assert (f'<tr id="account-cases-empty-{account.pk}"><td colspan="7" class="empty">No open cases.</td></tr>'
            in page)


def test_first_response_errors_name_their_field_without_htmx_too(client, sam, case):
    response = post_as(client, sam, reverse("service_case_respond", args=[case.pk]),
                       {"message": "x" * 2001, "channel": "fax", "next": reverse("service_queue")})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert ("The message to the customer can be at most 2000 characters long (it has 2001). "
            "Choose how the response was sent: email or phone.") in page
    assert "The first response needs a message." not in page  # what it said whatever was wrong


def test_complaint_errors_are_inline_with_422_and_nothing_is_created(client, sam):
    account = AccountFactory()
    stranger = ContactFactory()
    response = post_as(client, sam, reverse("case_create", args=[account.pk]),
                       {"subject": "", "contact": stranger.pk, "severity": "dire", "channel": "phone"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    prefix = f"complaint{account.pk}"
    assert f'aria-invalid="true" aria-describedby="{prefix}_subject_helptext {prefix}_subject_error"' in html
    assert f'<p class="field-error" id="{prefix}_subject_error">Enter the subject.</p>' in html
    assert f'id="{prefix}_contact_error">Choose who complained from this account&#x27;s contacts.' in html
    assert f'id="{prefix}_severity_error">Choose one of the listed options for the severity.' in html
    assert not ServiceCase.objects.exists()
    assert not Interaction.objects.exists()


def test_complaint_page_without_htmx_lists_the_cases_and_redirects_after_logging(client, sam):
    account = AccountFactory(name="Plain Co")
    ServiceCaseFactory(account=account, subject="Earlier complaint")
    page = get_as(client, sam, reverse("case_create", args=[account.pk]))
    assert "<h1>Log a complaint</h1>" in page.content.decode()
    assert "Earlier complaint" in page.content.decode()
    response = client.post(reverse("case_create", args=[account.pk]),
                           {"subject": "Second complaint", "severity": "low", "channel": "email"})
    assert response.status_code == 302
    assert response["Location"] == reverse("case_create", args=[account.pk])
    assert "Complaint “Second complaint” logged." in client.get(response["Location"]).content.decode()


# --- service staff never see money -------------------------------------------------------------------------------


def test_service_responses_contain_no_margin_cost_clv_or_profit_figures(client, sam, patricia, patrick):
    services.book_recompute(now=NOW)
    cases = [open_case(account, due_in=timedelta(hours=2), subject=f"Complaint of {account.name}")
             for account in (patricia, patrick)]
    snapshots = AccountSnapshot.objects.filter(account__in=[patricia, patrick])
    figures = set()
    for snapshot in snapshots:
        for field in MONEY_FIELDS:
            value = getattr(snapshot, field)
            if value:
                figures |= {money(value), money(value, 2), money(abs(value))}
                if abs(value) >= 1000:  # a bare figure only where its thousands separator makes it distinctive
                    figures.add(f"{abs(value):,.0f}")
    assert "€23,538" in figures and "€10,470" in figures  # Patricia's net profit, Patrick's cost-to-serve
    client.force_login(sam)
    responses = [
        client.get(reverse("service_queue")),
        client.get(reverse("service_queue"), **HTMX),
        client.get(reverse("account_lookup"), {"q": "Pat"}),
        client.get(reverse("account_lookup"), {"q": "Pat"}, **HTMX),
        client.get(reverse("service_account", args=[patricia.pk])),
        client.get(reverse("service_account", args=[patrick.pk])),
        client.get(reverse("case_create", args=[patrick.pk])),
        client.get(reverse("case_create", args=[patrick.pk]), **HTMX),
        client.post(reverse("case_create", args=[patrick.pk]),
                    {"subject": "Returns again", "severity": "high", "channel": "phone"}, **HTMX),
        client.post(reverse("service_case_assign", args=[cases[0].pk]), **HTMX),
        client.post(reverse("service_case_status", args=[cases[0].pk]), {"status": "waiting"}, **HTMX),
        client.post(reverse("service_case_respond", args=[cases[1].pk]), {"message": "Hi", "channel": "phone"}, **HTMX),
    ]
    for response in responses:
        assert response.status_code == 200, response.request
        # CSRF tokens are random text: one may spell "clv" or a figure by chance, so they are not checked.
        body = re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*"', r"\1", response.content.decode())
        for figure in figures:
            assert figure not in body, (figure, response.request["PATH_INFO"])
        assert "€" not in body
        for word in FORBIDDEN_WORDS:
            assert word.lower() not in body.lower(), (word, response.request["PATH_INFO"])
    assert "Patricia Bulk Supplies" in responses[0].content.decode()



# --- accounts without a tier, and counters after inline actions ---------------------------------------------


def test_lookup_of_a_churned_account_shows_its_status_and_the_sla_its_cases_get(
    client, sam, django_capture_on_commit_callbacks
):
    # Given a churned account the ranking leaves without a tier
    churned = in_tier(AccountFactory(name="Gone Trading", status=Account.Status.CHURNED,
                                            churned_on=NOW.date()), None)
    bronze = tier("Bronze")  # the lowest tier
    client.force_login(sam)

    # When service staff look it up
    html = client.get(reverse("account_lookup"), {"q": "Gone Trading"}, **HTMX).content.decode()

    # Then they see it has churned, and the lowest tier's SLA its new cases get
    assert '<span class="badge status-churned">Churned</span>' in html
    assert "Churned: not ranked in a tier." in html
    assert (f"New cases get the lowest tier's service level (Bronze): first response within "
            f"<strong>{bronze.first_response_hours} h</strong>, resolution within "
            f"<strong>{bronze.resolution_hours} h</strong>") in html
    assert "SLA deadlines are set once the account is ranked" not in html
    view = client.get(reverse("service_account", args=[churned.pk])).content.decode()
    assert "Churned: not ranked in a tier." in view and f"<strong>{bronze.resolution_hours} h</strong>" in view

    # and a complaint opened on it gets exactly those deadlines
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("case_create", args=[churned.pk]),
                    {"subject": "Invoice", "severity": "low", "channel": "phone", "body": "Old invoice"}, **HTMX)
    case = ServiceCase.objects.get(account=churned)
    assert case.first_response_due_at == case.opened_at + timedelta(hours=bronze.first_response_hours)
    assert case.resolution_due_at == case.opened_at + timedelta(hours=bronze.resolution_hours)


def test_lookup_of_a_new_account_says_it_is_ranked_at_its_first_recompute(client, sam):
    AccountFactory(name="Fresh Start GmbH")  # active, no snapshot yet
    client.force_login(sam)
    html = client.get(reverse("account_lookup"), {"q": "Fresh Start"}, **HTMX).content.decode()
    assert "Not in a tier yet: ranked at its first recompute." in html
    assert "New cases get the lowest tier's service level (Bronze)" in html
    assert "badge status-" not in html


@pytest.mark.parametrize("action, data, total", [
    ("service_case_status", {"status": "resolved"}, "1 open case"),
    ("service_case_assign", {}, "2 open cases"),
])
def test_an_inline_action_returns_the_queues_new_count_out_of_band(client, sam, case, action, data, total):
    # Given a queue of two open cases, filtered to Gold
    open_case(case.account, due_in=timedelta(hours=5), subject="Second")
    queue = reverse("service_queue") + f"?tier={tier('Gold').pk}"
    client.force_login(sam)
    assert '<span id="queue-total">2 open cases</span> matching the filters' in client.get(queue).content.decode()

    # When sam acts on one inline
    response = client.post(reverse(action, args=[case.pk]), {**data, "next": queue}, **HTMX)

    # Then the row comes back with the count of that (filtered) queue, out of band
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="case-{case.pk}"')
    assert f'<template><span id="queue-total" hx-swap-oob="true">{total}</span></template>' in html


def test_the_queue_count_after_an_action_follows_the_queues_filters(client, sam, case):
    other = open_case(in_tier(AccountFactory(), "Bronze"), due_in=timedelta(hours=5))
    client.force_login(sam)
    queue = reverse("service_queue") + f"?tier={tier('Bronze').pk}"
    html = client.post(reverse("service_case_status", args=[other.pk]), {"status": "resolved", "next": queue},
                       **HTMX).content.decode()
    assert '<span id="queue-total" hx-swap-oob="true">0 open cases</span>' in html


def test_queue_filter_changes_bring_the_filter_controls_back_out_of_band(client, sam, case):
    client.force_login(sam)
    gold = tier("Gold").pk
    html = client.get(reverse("service_queue"), {"tier": gold, "severity": "high"}, **HTMX).content.decode()
    controls = html.split('<div id="queue-table">')[0]
    assert '<div id="queue-filter-controls" class="filter-controls" hx-swap-oob="true">' in controls
    assert f'<option value="{gold}" selected>Gold</option>' in controls
    assert '<option value="high" selected>High</option>' in controls
    assert f'<a href="{reverse("service_queue")}">Clear filters</a>' in controls
