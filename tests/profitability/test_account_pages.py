"""The account manager's pages: the account list, the account page and its live figures panel."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import Account, InteractionKind
from profitability import services
from profitability.models import AccountSnapshot, ClvModelFit, Tier, TierChange
from profitability.selectors.accounts import AccountFilters, account_list, waterfall_steps
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, ServiceCaseFactory

from .conftest import NOW

D = Decimal
pytestmark = pytest.mark.django_db

USERS = ["anonymous", "nobody", "sam", "alice", "bob", "ada"]
FORBIDDEN_WORDS = ["margin", "Net profit", "CLV", "Cost-to-serve"]


def client_for(client, request, who):  # type: ignore[no-untyped-def]
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    return client


def names(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The account names in the list's rows, in order (read from the HTML, as htmx partials carry no context)."""
    return re.findall(r'<td><a href="/accounts/\d+/">([^<]+)</a>', response.content.decode())


def tier(name: str) -> Tier:
    return Tier.objects.get(name=name)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def clv_fits(db):  # type: ignore[no-untyped-def]
    """Stored population fits (the published CDNOW values), so book recomputes don't refit every test."""
    for model, params, unit in [
        ("bg_nbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, "weeks"),
        ("gamma_gamma", {"p": 6.25, "q": 3.74, "gamma": 15.44}, "money"),
        ("sbg", {"alpha": 0.704, "beta": 1.182}, "years"),
    ]:
        ClvModelFit.objects.create(model=model, params=params, log_likelihood=0.0, sample_size=1, time_unit=unit,
                                   converged=True, fitted_at=NOW)


@pytest.fixture
def book(alice, bob, patricia, patrick):  # type: ignore[no-untyped-def]
    """Alice manages Patricia and Patrick; Bob manages a steady buyer in another industry and region."""
    Account.objects.filter(pk__in=[patricia.pk, patrick.pk]).update(owner=alice)
    steady = AccountFactory(name="Steady Tools AG", owner=bob, industry="Retail", region="Nordics")
    for month in range(1, 12):
        InteractionFactory(account=steady, amount=D("1000"), direct_cost=D("700"),
                           occurred_at=datetime(2025, month, 3, 10, 0, tzinfo=UTC))
    services.book_recompute(now=NOW)
    return {"patricia": patricia, "patrick": patrick, "steady": steady}


# --- permissions ----------------------------------------------------------------------------------------------

PAGES = ["account_list", "account_detail", "account_figures"]
EXPECTED = {"anonymous": 302, "nobody": 403, "sam": 403, "alice": 200, "bob": 200, "ada": 200}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", USERS)
def test_it_allows_account_managers_and_admins_only(client, request, book, page, who):
    account = book["patrick"]
    url = reverse(page) if page == "account_list" else reverse(page, args=[account.pk])
    response = client_for(client, request, who).get(url)
    assert response.status_code == EXPECTED[who]
    if who == "anonymous":
        assert response["Location"].startswith(reverse("login"))
    if who in ("sam", "nobody"):
        body = response.content.decode()
        assert "You don't have access to this page" in body
        assert "account managers or admins" in body
        snap = AccountSnapshot.objects.get(pk=account.pk)
        for figure in ("−€8,470", "€9,000", "€10,470", "€2,000"):
            assert figure not in body
        for word in FORBIDDEN_WORDS:
            assert word not in body
        assert str(snap.net_profit) not in body


def test_it_shows_bob_alices_account_read_only(client, book, bob):
    client.force_login(bob)
    response = client.get(reverse("account_detail", args=[book["patrick"].pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "−€8,470" in body
    assert 'id="interaction-form"' not in body
    assert "Only the account's manager or an admin logs interactions" in body


def test_it_answers_404_for_an_unknown_account(client, book, alice):
    client.force_login(alice)
    assert client.get(reverse("account_detail", args=[999_999])).status_code == 404
    assert client.get(reverse("account_figures", args=[999_999])).status_code == 404


# --- the list -------------------------------------------------------------------------------------------------


def test_it_lists_my_accounts_by_default_and_all_on_request(client, book, alice, bob, ada):
    client.force_login(alice)
    response = client.get(reverse("account_list"))
    assert names(response) == ["Patricia Bulk Supplies", "Patrick Small Parts"]  # net profit TTM, highest first
    assert "My accounts" in response.content.decode()
    assert names(client.get(reverse("account_list"), {"owner": "all"})) == [
        "Patricia Bulk Supplies", "Steady Tools AG", "Patrick Small Parts"]

    client.force_login(bob)
    assert names(client.get(reverse("account_list"))) == ["Steady Tools AG"]

    client.force_login(ada)  # admins own no accounts: they start on everybody's
    assert len(names(client.get(reverse("account_list")))) == 3


@pytest.mark.parametrize(("params", "expected"), [
    ({"tier": "TIER:Platinum"}, ["Patricia Bulk Supplies"]),
    ({"tier": "TIER:Bronze"}, ["Patrick Small Parts"]),
    ({"tier": "none"}, []),
    ({"industry": "Retail"}, ["Steady Tools AG"]),
    ({"region": "DACH"}, ["Patricia Bulk Supplies", "Patrick Small Parts"]),
    ({"status": "churned"}, []),
    ({"status": "active", "region": "Nordics"}, ["Steady Tools AG"]),
    ({"q": "small"}, ["Patrick Small Parts"]),
    ({"q": "PAT"}, ["Patricia Bulk Supplies", "Patrick Small Parts"]),
    ({"q": "nobody-has-this"}, []),
    ({"sort": "name"}, ["Patricia Bulk Supplies", "Patrick Small Parts", "Steady Tools AG"]),
    ({"sort": "-name"}, ["Steady Tools AG", "Patrick Small Parts", "Patricia Bulk Supplies"]),
    ({"sort": "profit"}, ["Patrick Small Parts", "Steady Tools AG", "Patricia Bulk Supplies"]),
    ({"sort": "tier"}, ["Patricia Bulk Supplies", "Steady Tools AG", "Patrick Small Parts"]),
    ({"sort": "-tier"}, ["Patrick Small Parts", "Steady Tools AG", "Patricia Bulk Supplies"]),
    ({"sort": "last"}, ["Patrick Small Parts", "Patricia Bulk Supplies", "Steady Tools AG"]),
    ({"sort": "-last"}, ["Steady Tools AG", "Patricia Bulk Supplies", "Patrick Small Parts"]),
    ({"sort": "bogus", "tier": "x'; drop"}, ["Patricia Bulk Supplies", "Steady Tools AG", "Patrick Small Parts"]),
])
def test_it_filters_searches_and_sorts(client, book, alice, params, expected):
    params = {"owner": "all", **params}
    if params.get("tier", "").startswith("TIER:"):
        params["tier"] = str(tier(params["tier"][5:]).pk)
    client.force_login(alice)
    assert names(client.get(reverse("account_list"), params)) == expected


def test_it_sorts_by_clv_and_clv_cac_with_missing_figures_lowest(client, book, alice):
    AccountSnapshot.objects.filter(pk=book["patricia"].pk).update(clv_predictive=D("500"), clv_cac_ratio=D("2.5"))
    AccountSnapshot.objects.filter(pk=book["steady"].pk).update(clv_predictive=None, clv_formula=D("900"),
                                                                  clv_cac_ratio=D("4"))
    AccountSnapshot.objects.filter(pk=book["patrick"].pk).update(clv_predictive=D("-100"), clv_cac_ratio=None)
    client.force_login(alice)
    url = reverse("account_list")
    assert names(client.get(url, {"owner": "all", "sort": "-clv"})) == [
        "Steady Tools AG", "Patricia Bulk Supplies", "Patrick Small Parts"]
    assert names(client.get(url, {"owner": "all", "sort": "ratio"})) == [
        "Patrick Small Parts", "Patricia Bulk Supplies", "Steady Tools AG"]
    assert names(client.get(url, {"owner": "all", "sort": "-ratio"})) == [
        "Steady Tools AG", "Patricia Bulk Supplies", "Patrick Small Parts"]
    body = client.get(url, {"owner": "all"}).content.decode()
    assert "€900 <span class=\"clv-kind\" title=\"Formula CLV: m·r/(1+d−r)\">formula</span>" in body
    assert "€500 <span class=\"clv-kind\" title=\"Predictive CLV\">pred.</span>" in body


def test_it_flags_clv_cac_below_3_and_filters_on_it(client, book, alice):
    AccountSnapshot.objects.filter(pk=book["patricia"].pk).update(clv_cac_ratio=D("2.99"))
    AccountSnapshot.objects.filter(pk=book["patrick"].pk).update(clv_cac_ratio=D("3.00"))
    client.force_login(alice)
    response = client.get(reverse("account_list"))
    rows = re.findall(r"<tr>(.*?)</tr>", response.content.decode(), re.S)
    patricia_row = next(r for r in rows if "Patricia" in r)
    patrick_row = next(r for r in rows if "Patrick" in r)
    assert "2.99 <span class=\"badge flag-bad\"" in patricia_row  # not "3.0 below 3"
    assert "below 3" in patricia_row
    assert "3.00" in patrick_row and "below 3" not in patrick_row
    assert names(client.get(reverse("account_list"), {"below": "1"})) == ["Patricia Bulk Supplies"]


@pytest.mark.parametrize(("value", "shown"), [
    (D("2.97"), "2.97"), (D("2.999"), "2.99"), (D("3"), "3.00"), (D("12.5"), "12.50"), (D("1234.567"), "1,234.56"),
    (D("-0.004"), "−0.01"), (None, "—"),
])
def test_a_clv_cac_ratio_is_shown_so_it_never_reaches_3_unless_it_is_3(value, shown):
    """The "below 3" flag compares the ratio itself: the figure next to it must not read 3 or more."""
    from crm.templatetags.tierwise import ratio

    assert ratio(value) == shown


def test_the_first_ranked_account_reads_at_the_very_top_and_the_others_their_share(client, book, alice):
    client.force_login(alice)
    ranked = {s.account_id: s for s in AccountSnapshot.objects.filter(rank__isnull=False)}
    first = next(s for s in ranked.values() if s.rank == 1)
    other = next(s for s in ranked.values() if s.rank > 1)

    first_page = client.get(reverse("account_detail", args=[first.account_id])).content.decode()
    other_page = client.get(reverse("account_detail", args=[other.account_id])).content.decode()

    assert "rank 1 · at the very top" in first_page and "top 0.0 %" not in first_page
    assert f"rank {other.rank} · top {other.top_share_pct:.1f} %" in other_page


def test_it_shows_the_tier_movement_arrow_from_the_latest_tier_change(client, book, alice):
    patricia, patrick = book["patricia"], book["patrick"]
    when = datetime(2025, 6, 1, tzinfo=UTC)
    # Patricia: Silver → Gold (up) is older than Gold → Silver (down): the latest decides.
    TierChange.objects.create(account=patricia, from_tier=tier("Silver"), to_tier=tier("Gold"), changed_at=when,
                              metric="net_profit_ttm", reason="test")
    TierChange.objects.create(account=patricia, from_tier=tier("Gold"), to_tier=tier("Silver"),
                              changed_at=datetime(2025, 7, 1, tzinfo=UTC), metric="net_profit_ttm", reason="test")
    TierChange.objects.create(account=patrick, from_tier=tier("Bronze"), to_tier=tier("Silver"), changed_at=when,
                              metric="net_profit_ttm", reason="test")
    moves = {s.account.name: s.tier_move for s in account_list(filters=AccountFilters())}
    assert moves == {"Patricia Bulk Supplies": -1, "Patrick Small Parts": 1, "Steady Tools AG": None}

    client.force_login(alice)
    body = client.get(reverse("account_list")).content.decode()
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    assert "↓<span class=\"sr-only\"> moved down</span>" in next(r for r in rows if "Patricia" in r)
    assert "↑<span class=\"sr-only\"> moved up</span>" in next(r for r in rows if "Patrick" in r)


def test_it_pages_50_rows_at_a_time_with_the_same_number_of_queries(client, alice, django_assert_num_queries):
    for i in range(120):
        account = AccountFactory(name=f"Account {i:03d}", owner=alice)
        InteractionFactory(account=account, amount=D(1000 + i), direct_cost=D("500"))
        InteractionFactory(account=account, amount=D("10"), direct_cost=D("5"),
                           occurred_at=datetime(2025, 9, 1, tzinfo=UTC))
        ContactFactory(account=account)
    services.book_recompute(now=NOW)
    for i in range(0, 120, 7):  # some tier history, so the arrow's subquery has rows to read
        TierChange.objects.create(account=Account.objects.get(name=f"Account {i:03d}"), from_tier=tier("Gold"),
                                  to_tier=tier("Platinum"), changed_at=NOW, metric="net_profit_ttm", reason="t")
    client.force_login(alice)
    url = reverse("account_list")
    client.get(url)  # the session's first request writes its last-seen time; measure steady state
    # session, user, groups; page rows, COUNT; filter choices: tiers, segment values
    with django_assert_num_queries(7):
        first = client.get(url, {"sort": "name"})
    with django_assert_num_queries(7):
        last = client.get(url, {"sort": "name", "page": 3})
    assert len(names(first)) == 50
    assert names(last) == [f"Account {i:03d}" for i in range(100, 120)]
    assert first.context["page"].paginator.count == 120
    # htmx requests get the table, and the filter controls out of band (so their choices are read too)
    with django_assert_num_queries(7):
        partial = client.get(url, {"q": "Account 11", "sort": "name"}, HTTP_HX_REQUEST="true")
    assert names(partial) == [f"Account {i:03d}" for i in range(110, 120)]
    body = partial.content.decode()
    assert body.lstrip().startswith('<div id="account-filter-controls" class="filter-controls" hx-swap-oob="true">')
    assert '<div id="account-results"' in body
    assert "<html" not in body
    assert partial["Vary"] and "HX-Request" in partial["Vary"]


def test_it_reads_the_list_with_one_row_query_using_the_indexes(book):
    from django.db import connection

    sql, params = account_list(filters=AccountFilters(q="small")).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'crm_account'")
        indexes = {row[0] for row in cursor.fetchall()}
    assert {"crm_account_name_upper_trgm", "crm_account_name"} <= indexes
    assert 'UPPER("crm_account"."name"::text) LIKE UPPER(' in sql  # the expression the trigram index covers


def test_it_renders_the_search_box_as_a_real_form_with_search_as_you_type(client, book, alice):
    client.force_login(alice)
    body = client.get(reverse("account_list")).content.decode()
    assert '<form class="toolbar account-filters" role="search" method="get" action="/accounts/"' in body
    assert 'hx-trigger="input changed delay:300ms, search"' in body
    assert '<label for="account-search">Search by name</label>' in body


def test_it_explains_an_empty_book(client, bob):
    client.force_login(bob)
    body = client.get(reverse("account_list")).content.decode()
    assert "You don't manage any accounts yet." in body


# --- the account page -----------------------------------------------------------------------------------------


def test_it_draws_the_pnl_waterfall_with_the_snapshots_numbers(client, book, alice):
    patrick = book["patrick"]
    snap = AccountSnapshot.objects.get(pk=patrick.pk)
    steps = waterfall_steps(revenue=snap.revenue, returns=snap.returns, cogs=snap.cogs,
                            cost_breakdown=snap.cost_breakdown, cost_to_serve=snap.cost_to_serve,
                            net_profit=snap.net_profit)
    assert [(s.label, s.amount, s.end) for s in steps] == [
        ("Revenue", D("9000"), D("9000")),
        ("Returns", D("-3200"), D("5800")),
        ("COGS", D("-3800"), D("2000")),
        ("Gross margin", D("2000"), D("2000")),
        ("Order handling", D("-3750"), D("-1750")),
        ("Returns processing", D("-2800"), D("-4550")),
        ("Shipping", D("-1800"), D("-6350")),
        ("Support calls", D("-1800"), D("-8150")),
        ("Support emails", D("-320"), D("-8470")),
        ("Net profit", D("-8470"), D("-8470")),
    ]

    client.force_login(alice)
    response = client.get(reverse("account_detail", args=[patrick.pk]))
    body = response.content.decode()
    svg = body[body.index("<svg"):body.index("</svg>")]
    assert len(re.findall(r"<rect ", svg)) == 10
    for label in ("−€3,200", "−€3,800", "€2,000", "−€3,750", "−€2,800", "−€1,800", "−€320", "−€8,470"):
        assert f">{label}</text>" in svg
    assert 'class="wf-total wf-negative"' in svg  # the net loss bar
    table = body[body.index('<table class="pnl-table">'):]
    table = table[:table.index("</table>")]
    assert re.findall(r'<td class="num[^"]*">([^<]+)</td>', table) == [
        "€9,000", "€9,000", "−€3,200", "€5,800", "−€3,800", "€2,000", "€2,000", "€2,000", "−€3,750", "−€1,750",
        "−€2,800", "−€4,550", "−€1,800", "−€6,350", "−€1,800", "−€8,150", "−€320", "−€8,470", "−€8,470", "−€8,470"]
    assert "Returns take back 36 % of revenue" in body
    assert "(80×)" in table


def test_it_switches_the_waterfall_to_the_last_12_months(client, book, alice):
    patricia = book["patricia"]
    client.force_login(alice)
    response = client.get(reverse("account_figures", args=[patricia.pk]), {"period": "ttm"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="account-figures"')
    assert "Profit and loss waterfall, last 12 months" in body
    assert ">€11,778</text>" in body  # Patricia's TTM net profit (see the engine tests)
    assert 'value="ttm"' in body


def test_it_shows_tier_service_level_clvs_history_contacts_and_cases(client, book, alice):
    patricia = book["patricia"]
    ContactFactory(account=patricia, name="Pat Buyer", email="pat@example.com")
    ServiceCaseFactory(account=patricia, subject="Late delivery", severity="high")
    TierChange.objects.create(account=patricia, from_tier=tier("Gold"), to_tier=tier("Platinum"), changed_at=NOW,
                              metric="net_profit_ttm",
                              reason="Net profit, trailing 12 months EUR 11,778: Gold → Platinum")
    AccountSnapshot.objects.filter(pk=patricia.pk).update(cac=D("4000"), clv_cac_ratio=D("2.5"), p_alive=0.873,
                                                          expected_purchases_12m=5.24, clv_model="bg_nbd+gg",
                                                          clv_predictive=D("10000"))
    client.force_login(alice)
    body = client.get(reverse("account_detail", args=[patricia.pk])).content.decode()
    assert "within 1 h" in body and "within 8 h" in body  # Platinum's first response and resolution
    assert "<li>Direct line to the account team</li>" in body
    assert "Historical CLV" in body and "Formula CLV" in body and "Predictive CLV" in body
    assert "BG/NBD + Gamma-Gamma (repeat buyer)" in body
    assert "<dd>87 %</dd>" in body
    assert "<dd>5.2</dd>" in body
    assert "€4,000" in body
    assert '<span class="badge flag-bad">below 3</span>' in body
    assert "Gold → Platinum" in body
    assert "Pat Buyer" in body and "mailto:pat@example.com" in body
    assert "Late delivery" in body and "1 open" in body
    # the campaigns app's panels load themselves with htmx
    assert f'hx-get="{reverse("account_opportunities", args=[patricia.pk])}"' in body
    assert f'hx-get="{reverse("account_loyalty", args=[patricia.pk])}"' in body
    assert 'hx-trigger="every 1s"' not in body


def test_it_renders_the_account_page_with_a_bounded_number_of_queries(client, book, alice,
                                                                     django_assert_max_num_queries):
    patrick = book["patrick"]
    for i in range(5):
        ContactFactory(account=patrick)
        ServiceCaseFactory(account=patrick, subject=f"Case {i}")
    client.force_login(alice)
    client.get(reverse("account_detail", args=[patrick.pk]))
    # session, user, groups; account+snapshot+tier, tier changes; timeline; contacts; cases (count, rows);
    # the form's products and the survey form's contacts
    with django_assert_max_num_queries(12):
        response = client.get(reverse("account_detail", args=[patrick.pk]))
    assert response.status_code == 200
    assert len(response.context["timeline"].rows) == 25


def test_it_loads_the_complaint_form_from_the_service_pages_when_they_exist(client, book, alice):
    from django.urls import NoReverseMatch

    client.force_login(alice)
    body = client.get(reverse("account_detail", args=[book["patricia"].pk])).content.decode()
    try:
        url = reverse("case_create", args=[book["patricia"].pk])
    except NoReverseMatch:
        assert "Log a complaint" not in body
    else:
        assert f'hx-get="{url}" hx-trigger="load"' in body


# --- the live figures -----------------------------------------------------------------------------------------


def test_it_polls_while_recomputing_and_stops_once_caught_up(client, book, alice):
    patrick = book["patrick"]
    url = reverse("account_figures", args=[patrick.pk])
    client.force_login(alice)

    caught_up = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' not in caught_up
    assert "Recomputing" not in caught_up

    InteractionFactory(account=patrick, kind=InteractionKind.ORDER, amount=D("500000"), direct_cost=D("100000"),
                       occurred_at=datetime(2025, 12, 1, tzinfo=UTC))
    behind = client.get(url, {"poll": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in behind
    assert f'hx-get="{url}?period=lifetime&amp;poll=1"' in behind
    assert '<p id="figures-status" class="recomputing" role="status" aria-live="polite">Recomputing…</p>' in behind
    assert "Bronze" in behind and "−€8,470" in behind  # the old figures stay visible, dimmed

    services.snapshot_recompute(account_id=patrick.pk, now=NOW)
    done = client.get(url, {"poll": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' not in done
    assert "Recomputing" not in done
    assert "Figures updated." in done
    # −8,470 + 500,000 revenue − 100,000 COGS − 25 order handling − 12 shipping
    assert AccountSnapshot.objects.get(pk=patrick.pk).net_profit == D("391493")
    assert ">€391,493</text>" in done
    assert '<span class="badge tier" style="--tier-color: #5b6b8c">Platinum</span>' in done


def test_it_shows_recomputing_for_an_account_without_figures(client, alice):
    account = AccountFactory(owner=alice)
    InteractionFactory(account=account)
    client.force_login(alice)
    body = client.get(reverse("account_detail", args=[account.pk])).content.decode()
    assert "Recomputing…" in body and 'hx-trigger="every 1s"' in body
    assert "No figures yet" in body
    # no tier yet, and the service level its cases get meanwhile (as the service pages say)
    flat = " ".join(body.split())
    assert "Not in a tier yet: ranked at its first recompute." in flat
    assert "New cases get the lowest tier's service level (Bronze)" in flat


# --- filters that follow the results, and counters that follow actions --------------------------------------


def test_htmx_results_bring_the_filter_controls_with_the_sort_out_of_band(client, book, alice):
    # Given Alice sorted her list by name (a click in the table, outside the filter form)
    client.force_login(alice)
    gold = tier("Gold").pk

    # When she then filters by tier
    body = client.get(reverse("account_list"), {"sort": "name", "tier": gold, "owner": "all"},
                      HTTP_HX_REQUEST="true").content.decode()

    # Then the form comes back with the results, showing the tier and keeping the sort for the next change
    controls = body.split('<div id="account-results"')[0]
    assert '<div id="account-filter-controls" class="filter-controls" hx-swap-oob="true">' in controls
    assert '<input type="hidden" name="sort" value="name">' in controls
    assert '<input type="hidden" name="owner" value="all">' in controls
    assert f'<option value="{gold}" selected>Gold</option>' in controls
    assert '<option value="">Any tier</option>' in controls  # not selected
    # and on the full page the controls sit in the form, once
    page = client.get(reverse("account_list"), {"sort": "name", "tier": gold}).content.decode()
    assert page.count('id="account-filter-controls"') == 1 and "hx-swap-oob" not in page
    assert '<input type="hidden" name="sort" value="name">' in page


def test_the_open_cases_badge_counts_every_open_case_and_refreshes_when_a_complaint_is_logged(client, book, alice):
    patricia = book["patricia"]
    ServiceCaseFactory(account=patricia, subject="Late delivery")
    ServiceCaseFactory(account=patricia, subject="Wrong item")
    ServiceCaseFactory(account=patricia, subject="Old", status="resolved")
    client.force_login(alice)
    url = reverse("account_detail", args=[patricia.pk])
    page = client.get(url).content.decode()
    badge = (f'<span id="account-open-cases" hx-get="{url}" hx-trigger="caseOpened from:body" hx-swap="outerHTML">'
             '<span class="badge flag-warn">{} open</span></span>')
    assert badge.format(2) in page

    # When a complaint is logged (the CRM's form announces caseOpened), the badge asks for its count again
    ServiceCaseFactory(account=patricia, subject="Damaged pallet")
    response = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-open-cases")
    assert response.content.decode().strip() == badge.format(3)
    assert "HX-Target" in response["Vary"]
    missing = client.get(reverse("account_detail", args=[999999]), HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="account-open-cases")
    assert missing.status_code == 404
