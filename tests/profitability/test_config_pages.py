"""The admin configuration pages: who may use them, inline errors, previews over htmx, the audit trail."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import InteractionKind as K
from profitability import tasks
from profitability.models import AccountSnapshot, ClvModelFit, ClvSettings, CostRate, Tier
from tests.factories import AccountFactory, InteractionFactory

from .conftest import NOW

D = Decimal
pytestmark = pytest.mark.django_db

PAGES = ["config_tiers", "config_cost_rates", "config_clv", "config_history"]
FINANCIAL_WORDS = ["margin", "Net profit", "CLV", "Cost-to-serve"]


# --- helpers ---------------------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Elements with an id (tag, attributes, text inside) — enough to check labels, errors and ARIA."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.labels: dict[str, str] = {}  # for= → label text
        self._open: list[tuple[str, dict, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        attributes = dict(attrs)
        entry = {"tag": tag, "attrs": attributes, "text": []}
        if "id" in attributes:
            self.by_id[attributes["id"]] = entry
        if tag not in {"input", "br", "meta", "link", "img", "option"}:
            self._open.append((tag, attributes, entry["text"]))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        while self._open:
            open_tag, attributes, text = self._open.pop()
            if open_tag == "label" and "for" in attributes:
                self.labels[attributes["for"]] = "".join(text).strip()
            if self._open:
                self._open[-1][2].extend(text)
            if open_tag == tag:
                break

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._open:
            self._open[-1][2].append(data)

    def text(self, element_id: str) -> str:
        return " ".join("".join(self.by_id[element_id]["text"]).split())


def management(total: int, initial: int) -> dict:
    return {"form-TOTAL_FORMS": str(total), "form-INITIAL_FORMS": str(initial), "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000"}


def tiers_post(**changes: dict) -> dict:
    """The tier form as the page submits it, with ``Name={field: value}`` changes."""
    tiers = list(Tier.objects.order_by("position"))
    data = management(len(tiers), len(tiers))
    for i, t in enumerate(tiers):
        row = {"tier_id": t.pk, "name": t.name, "position": t.position, "upper_pct": t.upper_pct,
               "first_response_hours": t.first_response_hours, "resolution_hours": t.resolution_hours,
               "queue_priority": t.queue_priority, "entitlements": t.entitlements, "color": t.color,
               **changes.get(t.name, {})}
        for key, value in row.items():
            if value is not None:
                data[f"form-{i}-{key}"] = str(value)
    return data


def rate_post(**overrides) -> dict:
    return {"activity": "Support calls", "kind": "support_call", "channel": "phone", "basis": "interaction",
            "rate": "20.00", "effective_from": (timezone.now().date() + timedelta(days=30)).isoformat(), **overrides}


def clv_post(**overrides) -> dict:
    return {"discount_rate_pct": "8.5", "horizon_months": "24", "ranking_metric": "net_profit",
            "retention_override_pct": "", **overrides}


def config_state() -> tuple:
    """Everything an admin page may write: tiers, rates, CLV settings and the audit tables."""
    return (
        list(Tier.objects.order_by("pk").values_list()),
        list(CostRate.objects.order_by("pk").values_list()),
        list(ClvSettings.objects.values_list()),
        Tier.history.count(), CostRate.history.count(), ClvSettings.history.count(),
    )


@pytest.fixture
def enqueued(monkeypatch):
    delay = mock.Mock(name="recompute_book.delay")
    monkeypatch.setattr(tasks.recompute_book, "delay", delay)
    monkeypatch.setattr("celery.chain", mock.Mock(name="chain"))
    return delay


@pytest.fixture
def scheduled_rate():
    return CostRate.objects.create(activity="Visits", kind="visit", rate=D("300"),
                                   effective_from=timezone.now().date() + timedelta(days=10))


@pytest.fixture
def book():
    """Twenty ranked accounts (TTM net profit 20,000 … 1,000) in the default bands."""
    tiers = {t.name: t for t in Tier.objects.all()}
    accounts = []
    for i in range(1, 21):
        account = AccountFactory(name=f"Rank {i:02d} GmbH")
        name = "Platinum" if i == 1 else "Gold" if i <= 4 else "Silver" if i <= 10 else "Bronze"
        AccountSnapshot.objects.create(account=account, computed_at=NOW, as_of=NOW.date(),
                                       net_profit_ttm=D(21000 - 1000 * i), net_profit=D(1000 * i), tier=tiers[name])
        accounts.append(account)
    return accounts


def login(client, user) -> None:  # type: ignore[no-untyped-def]
    if user is not None:
        client.force_login(user)


# --- the permission matrix -------------------------------------------------------------------------------

POSTS = [
    ("config_tiers", lambda: tiers_post(Platinum={"upper_pct": "10"}), None),
    ("config_tiers_preview", lambda: tiers_post(Platinum={"upper_pct": "10"}), None),
    ("config_cost_rates", rate_post, None),
    ("config_cost_rate_preview", rate_post, None),
    ("config_cost_rate_delete", dict, "rate"),
    ("config_clv", clv_post, None),
    ("config_clv_preview", clv_post, None),
    ("config_clv_refit", dict, None),
]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ["anonymous", "nobody", "alice", "sam"])
def test_it_denies_the_pages_to_everyone_but_admins(client, request, page, role):
    user = None if role == "anonymous" else request.getfixturevalue(role)
    login(client, user)
    response = client.get(reverse(page))
    if user is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == 403
        body = response.content.decode()
        assert "This page is for admins." in body
        assert not any(word in body for word in FINANCIAL_WORDS)


@pytest.mark.parametrize("page", PAGES)
def test_it_shows_the_pages_to_admins(client, ada, page):
    login(client, ada)
    response = client.get(reverse(page))
    assert response.status_code == 200
    body = response.content.decode()
    # the four tabs on every page, the current one marked
    for name in PAGES:
        assert f'href="{reverse(name)}"' in body
    assert body.count('aria-current="page"') == 1


@pytest.mark.parametrize(("name", "data", "arg"), POSTS, ids=[p[0] for p in POSTS])
@pytest.mark.parametrize("role", ["anonymous", "nobody", "alice", "sam"])
def test_denied_posts_change_nothing(client, request, enqueued, scheduled_rate, django_capture_on_commit_callbacks,
                                     name, data, arg, role):
    user = None if role == "anonymous" else request.getfixturevalue(role)
    login(client, user)
    url = reverse(name, args=[scheduled_rate.pk]) if arg else reverse(name)
    before = config_state()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, data())
    assert response.status_code == (302 if user is None else 403)
    if user is None:
        assert response["Location"].startswith(reverse("login"))
    assert config_state() == before
    assert callbacks == []
    enqueued.assert_not_called()


@pytest.mark.parametrize(("name", "data", "arg"), POSTS, ids=[p[0] for p in POSTS])
def test_admins_may_post_to_every_endpoint(client, ada, enqueued, scheduled_rate, name, data, arg):
    login(client, ada)
    url = reverse(name, args=[scheduled_rate.pk]) if arg else reverse(name)
    response = client.post(url, data())
    assert response.status_code in (200, 302)
    if name.endswith("preview"):
        assert response.status_code == 200  # a preview renders, it never redirects


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_are_not_changed_over_get(client, ada, page):
    """Reads only: a GET with a save's parameters writes nothing."""
    login(client, ada)
    before = config_state()
    client.get(reverse(page), tiers_post(Platinum={"upper_pct": "10"}))
    assert config_state() == before


# --- the tier page ---------------------------------------------------------------------------------------


class TestTierPage:
    def test_every_input_has_a_label(self, client, ada):
        login(client, ada)
        html = Elements(client.get(reverse("config_tiers")).content.decode())
        inputs = [i for i, e in html.by_id.items() if e["tag"] in ("input", "select", "textarea")
                  and e["attrs"].get("type") != "hidden"]
        assert len(inputs) == 4 * 9  # eight fields and the remove box per tier
        assert all(html.labels.get(i) for i in inputs)
        assert html.labels["id_form-0-upper_pct"] == "Reaches down to (% of ranking):"
        assert html.labels["id_form-2-DELETE"] == "Remove this tier when saving"

    def test_errors_show_next_to_the_field_and_nothing_is_saved(self, client, ada, enqueued):
        login(client, ada)
        before = config_state()
        response = client.post(reverse("config_tiers"), tiers_post(
            Bronze={"upper_pct": "90"}, Gold={"resolution_hours": "2"}, Silver={"first_response_hours": None}))
        assert response.status_code == 200
        html = Elements(response.content.decode())
        expectations = {
            "id_form-3-upper_pct": "The last tier must reach 100 % so every account has a tier.",
            "id_form-1-resolution_hours": "Resolution cannot be due before the first response.",
            "id_form-2-first_response_hours": "Every tier needs a first-response target.",
        }
        for field_id, message in expectations.items():
            attrs = html.by_id[field_id]["attrs"]
            assert attrs["aria-invalid"] == "true"
            assert f"{field_id}_error" in attrs["aria-describedby"].split()
            assert html.text(f"{field_id}_error") == message
        # row errors first; the bands are checked together once every row is valid
        assert "aria-invalid" not in html.by_id["id_form-0-upper_pct"]["attrs"]
        assert config_state() == before
        enqueued.assert_not_called()

    def test_a_blanked_name_keeps_the_tier_named_and_says_what_is_missing(self, client, ada, enqueued):
        login(client, ada)
        before = config_state()
        response = client.post(reverse("config_tiers"), tiers_post(Gold={"name": "", "queue_priority": None}))
        html = Elements(response.content.decode())
        assert html.text("id_form-1-name_error") == "Every tier needs a name."
        assert html.text("id_form-1-queue_priority_error") == "Every tier needs a queue priority (1 is served first)."
        legends = re.findall(r"<legend>\s*(.*?)\s*</legend>", response.content.decode(), re.S)
        assert legends == ["Platinum", "Gold", "Silver", "Bronze"]  # not "New tier"
        assert config_state() == before
        enqueued.assert_not_called()

    def test_band_errors_show_on_the_band_that_breaks_the_order(self, client, ada):
        login(client, ada)
        response = client.post(reverse("config_tiers"), tiers_post(Silver={"upper_pct": "15"}))
        html = Elements(response.content.decode())
        assert html.text("id_form-2-upper_pct_error") == (
            "Must be above Gold’s 20 % — bands are cumulative from the top of the ranking.")
        assert html.by_id["id_form-2-upper_pct"]["attrs"]["value"] == "15"  # what was typed stays

    def test_saving_redirects_with_a_message_that_a_recompute_started(self, client, ada, enqueued,
                                                                      django_capture_on_commit_callbacks):
        login(client, ada)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("config_tiers"), tiers_post(Platinum={"upper_pct": "10"}), follow=True)
        assert response.redirect_chain == [(reverse("config_tiers"), 302)]
        assert "Tiers saved (1 changed). A recompute of every account" in response.content.decode()
        assert Tier.objects.get(name="Platinum").upper_pct == D("10")
        record = Tier.objects.get(name="Platinum").history.latest()
        assert record.history_user == ada  # set from the request by simple_history's middleware
        enqueued.assert_called_once_with()

    def test_add_a_tier_shows_one_more_row_and_saves_it(self, client, ada, enqueued):
        login(client, ada)
        data = tiers_post()
        response = client.post(reverse("config_tiers"), {**data, "action": "add"})
        html = Elements(response.content.decode())
        assert "autofocus" in html.by_id["id_form-4-name"]["attrs"]
        assert Tier.objects.count() == 4  # adding a row saves nothing
        data = {**tiers_post(Bronze={"upper_pct": "90"}), **management(5, 4), "form-4-name": "Copper",
                "form-4-position": "5", "form-4-upper_pct": "100", "form-4-first_response_hours": "48",
                "form-4-resolution_hours": "120", "form-4-queue_priority": "5", "form-4-color": "#b87333",
                "form-4-entitlements": "Self-service portal", "action": "save"}
        response = client.post(reverse("config_tiers"), data)
        assert response.status_code == 302
        assert list(Tier.objects.values_list("name", "upper_pct")) == [
            ("Platinum", D("5")), ("Gold", D("20")), ("Silver", D("50")), ("Bronze", D("90")), ("Copper", D("100"))]

    @pytest.mark.parametrize("action", ["add", "save"])
    def test_a_broken_management_form_is_reported_not_crashed_on(self, client, ada, enqueued, action):
        login(client, ada)
        before = config_state()
        data = {**tiers_post(Platinum={"upper_pct": "10"}), "form-TOTAL_FORMS": "many", "action": action}
        response = client.post(reverse("config_tiers"), data)
        assert response.status_code == 200
        assert "ManagementForm data is missing or has been tampered with" in response.content.decode()
        assert config_state() == before
        enqueued.assert_not_called()

    def test_a_blank_added_row_is_ignored(self, client, ada, enqueued):
        login(client, ada)
        data = {**tiers_post(Gold={"upper_pct": "25"}), **management(5, 4), "form-4-color": "#888888"}
        assert client.post(reverse("config_tiers"), data).status_code == 302
        assert Tier.objects.count() == 4

    def test_removing_a_tier_needs_the_rest_to_reach_100(self, client, ada, enqueued):
        login(client, ada)
        data = {**tiers_post(), "form-3-DELETE": "on"}
        html = Elements(client.post(reverse("config_tiers"), data).content.decode())
        assert html.text("id_form-2-upper_pct_error") == "The last tier must reach 100 % so every account has a tier."
        assert Tier.objects.count() == 4
        data = {**tiers_post(Silver={"upper_pct": "100"}), "form-3-DELETE": "on"}
        assert client.post(reverse("config_tiers"), data).status_code == 302
        assert list(Tier.objects.values_list("name", flat=True)) == ["Platinum", "Gold", "Silver"]

    def test_the_htmx_preview_returns_the_form_with_the_counts_and_movers(self, client, ada, book, enqueued):
        login(client, ada)
        before = config_state()
        response = client.post(reverse("config_tiers_preview"), tiers_post(Platinum={"upper_pct": "10"}),
                               headers={"HX-Request": "true"})
        body = response.content.decode()
        assert response.status_code == 200
        # the form and the preview, no page around them; and a status line for screen readers
        assert body.lstrip().startswith('<div id="tier-editor"')
        assert "<h1>" not in body
        html = Elements(body)
        assert html.text("tier-status") == "Preview ready: 1 account would change tier."
        assert html.by_id["tier-status"]["attrs"]["hx-swap-oob"] == "true"
        assert "data-movers-total>1</span> account would change tier" in " ".join(body.split())
        assert '<a href="{}">Rank 02 GmbH</a>'.format(reverse("account_detail", args=[book[1].pk])) in body
        assert "Rank 03 GmbH" not in body
        assert [e["text"] for i, e in html.by_id.items() if i == "tier-preview-title"] == [["Preview"]]
        assert 'data-tier-after="Platinum">2<' in body
        assert 'data-tier-after="Gold">2<' in body
        assert "€19,000" in body  # the mover's TTM net profit, in the configured currency
        assert config_state() == before
        enqueued.assert_not_called()

    def test_an_invalid_htmx_preview_swaps_the_form_with_its_errors(self, client, ada, book):
        login(client, ada)
        response = client.post(reverse("config_tiers_preview"), tiers_post(Bronze={"upper_pct": "99"}),
                               headers={"HX-Request": "true"})
        body = response.content.decode()
        assert body.lstrip().startswith('<div id="tier-editor"')
        html = Elements(body)
        assert html.text("id_form-3-upper_pct_error") == "The last tier must reach 100 % so every account has a tier."
        assert "Fix the highlighted fields to see the preview." in body
        assert html.text("tier-status") == "The preview needs the highlighted fields fixed first."

    def test_a_valid_preview_after_an_invalid_one_clears_the_errors(self, client, ada, book):
        login(client, ada)
        response = client.post(reverse("config_tiers_preview"), tiers_post(Platinum={"upper_pct": "10"}),
                               headers={"HX-Request": "true"})
        body = response.content.decode()
        assert 'aria-invalid' not in body and "errorlist" not in body

    def test_the_preview_without_htmx_renders_the_whole_page(self, client, ada, book):
        login(client, ada)
        body = client.post(reverse("config_tiers_preview"), tiers_post(Platinum={"upper_pct": "10"})).content.decode()
        assert "<h1>Configuration</h1>" in body
        assert "Rank 02 GmbH" in body
        assert 'value="10"' in body  # the unsaved value stays in the form

    def test_the_page_shows_todays_accounts_per_tier(self, client, ada, book):
        login(client, ada)
        html = Elements(client.get(reverse("config_tiers")).content.decode())
        assert [html.text(f"tier-{i}-count") for i in range(4)] == [
            "1 active account today", "3 active accounts today", "6 active accounts today",
            "10 active accounts today"]


# --- cost rates ------------------------------------------------------------------------------------------



def three_phone_calls_this_year() -> None:
    """Three support calls by phone in the trailing year, on one account: what a phone-rate preview re-prices."""
    account = AccountFactory()
    now = timezone.now()
    for days in (10, 40, 70):
        InteractionFactory(account=account, kind=K.SUPPORT_CALL, channel="phone", amount=D(0),
                           direct_cost=D(0), occurred_at=now - timedelta(days=days))


class TestCostRatePage:
    def test_it_lists_rates_with_their_status_and_deletes_only_scheduled_ones(self, client, ada, scheduled_rate):
        CostRate.objects.create(activity="Visits", kind="visit", rate=D("275"), effective_from=date(2024, 1, 1))
        login(client, ada)
        body = client.get(reverse("config_cost_rates")).content.decode()
        assert body.count('/delete/"') == 1  # one delete form: the scheduled rate
        assert reverse("config_cost_rate_delete", args=[scheduled_rate.pk]) in body
        assert "€275.00" in body and "€300.00" in body
        superseded = CostRate.objects.get(activity="Visits", effective_from=date(2000, 1, 1))
        response = client.post(reverse("config_cost_rate_delete", args=[superseded.pk]), follow=True)
        assert "Only rates that start in the future can be deleted" in response.content.decode()
        assert CostRate.objects.filter(pk=superseded.pk).exists()

    def test_adding_a_rate_on_a_taken_day_shows_the_error_at_the_date(self, client, ada, enqueued):
        login(client, ada)
        count = CostRate.objects.count()
        response = client.post(reverse("config_cost_rates"),
                               rate_post(channel="", effective_from="2000-01-01"))
        html = Elements(response.content.decode())
        assert html.by_id["id_effective_from"]["attrs"]["aria-invalid"] == "true"
        assert html.text("id_effective_from_error").startswith("A rate for this activity, interaction kind and channel")
        assert CostRate.objects.count() == count
        enqueued.assert_not_called()

    def test_a_negative_rate_is_refused_inline(self, client, ada):
        login(client, ada)
        html = Elements(client.post(reverse("config_cost_rates"), rate_post(rate="-1")).content.decode())
        assert html.text("id_rate_error") == "The rate can't be negative."

    @pytest.mark.parametrize(("rate", "message"), [
        ("", "Enter the rate."),
        ("abc", "Enter the rate as a number, e.g. 12.50."),
        ("1.234", "Give the rate with at most 2 decimal places."),
    ])
    def test_rate_errors_name_the_rate(self, client, ada, rate, message):
        login(client, ada)
        response = client.post(reverse("config_cost_rates"), rate_post(rate=rate))
        assert Elements(response.content.decode()).text("id_rate_error") == message

    def test_the_preview_shows_the_change_for_a_year(self, client, ada):
        three_phone_calls_this_year()
        login(client, ada)
        response = client.post(reverse("config_cost_rate_preview"), rate_post(rate="20.00"),
                               headers={"HX-Request": "true"})
        body = response.content.decode()
        assert 'data-annual-delta="6.00"' in body  # 3 phone calls × (20 − 18)
        assert "+€6.00" in body
        assert CostRate.objects.filter(activity="Support calls").count() == 1

    def test_adding_a_rate_confirms_it_in_money_and_the_pages_date(self, client, ada, enqueued):
        starts = date(timezone.now().year + 1, 6, 1)
        login(client, ada)
        response = client.post(reverse("config_cost_rates"), rate_post(rate="30", effective_from=starts.isoformat()),
                               follow=True)
        body = " ".join(response.content.decode().split())
        assert f"Added the rate Support calls: €30.00 from 1 Jun {starts.year}." in body  # not "30 from 01 Jun"

    def test_the_preview_colours_a_cost_increase_as_a_loss_and_a_decrease_as_a_gain(self, client, ada):
        three_phone_calls_this_year()
        login(client, ada)

        def preview(rate: str) -> str:
            return client.post(reverse("config_cost_rate_preview"), rate_post(rate=rate),
                               headers={"HX-Request": "true"}).content.decode()

        dearer, cheaper = preview("20.00"), preview("10.00")  # the phone rate is 18
        assert '<strong class="neg" data-annual-delta="6.00">+€6.00</strong>' in dearer
        assert '<td class="num neg">+€6.00</td>' in dearer
        assert '<strong class="pos" data-annual-delta="-24.00">−€24.00</strong>' in cheaper
        assert '<td class="num pos">−€24.00</td>' in cheaper


# --- CLV -------------------------------------------------------------------------------------------------


class TestClvPage:
    def test_it_shows_the_settings_as_percentages_and_the_fitted_models(self, client, ada):
        ClvModelFit.objects.create(model="bg_nbd", params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                                   log_likelihood=-9582.43, sample_size=2357, time_unit="weeks", converged=True,
                                   fitted_at=NOW)
        ClvModelFit.objects.create(model="gamma_gamma", params={"p": 6.25, "q": 3.74, "gamma": 15.44},
                                   log_likelihood=-1.0, sample_size=946, time_unit="money", converged=True,
                                   fitted_at=NOW, diagnostics={"spend_frequency_correlation": 0.1138})
        login(client, ada)
        body = client.get(reverse("config_clv")).content.decode()
        html = Elements(body)
        assert html.by_id["id_discount_rate_pct"]["attrs"]["value"] == "10.00"
        assert html.by_id["id_horizon_months"]["attrs"]["value"] == "36"
        for text in ("0.2430", "4.4140", "0.7930", "2.4260", "6.2500", "15.4400", "0.114", "2,357",
                     "-9,582.4", "weeks", "Not fitted yet"):
            assert text in body

    def test_it_shows_the_fit_in_use_and_says_truthfully_what_happens_to_one_that_did_not_converge(self, client,
                                                                                                    ada):
        from datetime import timedelta

        from profitability.services import latest_fits

        at_limit = {"r": 0.5, "alpha": 3.0, "a": 1e6, "b": 2e6}  # a, b → ∞: a usable limit model
        ClvModelFit.objects.create(model="bg_nbd", params=at_limit, log_likelihood=-100.0, sample_size=500,
                                   time_unit="weeks", converged=False, fitted_at=NOW - timedelta(days=1))
        ClvModelFit.objects.create(model="bg_nbd", params={"r": 0.5, "alpha": "nan", "a": 1.0, "b": 1.0},
                                   log_likelihood=-1.0, sample_size=500, time_unit="weeks", converged=False,
                                   fitted_at=NOW)
        login(client, ada)
        body = " ".join(client.get(reverse("config_clv")).content.decode().split())

        assert latest_fits()["bg_nbd"] == at_limit  # what predictions use ...
        assert "3.0000" in body  # ... is the fit shown
        assert "its parameters are in use all the same" in body
        assert "an earlier converged fit stays in use" not in body
        assert "gave no usable parameters; the fit above stays in use" in body

    def test_saving_converts_percentages_and_audits(self, client, ada, enqueued, django_capture_on_commit_callbacks):
        login(client, ada)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("config_clv"), clv_post(retention_override_pct="81.25"), follow=True)
        assert "CLV settings saved." in response.content.decode()
        settings = ClvSettings.current()
        assert (settings.discount_rate, settings.horizon_months, settings.ranking_metric,
                settings.retention_override) == (D("0.0850"), 24, "net_profit", D("0.8125"))
        assert settings.history.latest().history_user == ada
        enqueued.assert_called_once_with()

    def test_out_of_range_values_are_refused_inline(self, client, ada, enqueued):
        login(client, ada)
        before = config_state()
        html = Elements(client.post(reverse("config_clv"), clv_post(discount_rate_pct="120", horizon_months="0"))
                        .content.decode())
        assert html.text("id_discount_rate_pct_error") == "The discount rate can't be more than 100."
        assert html.text("id_horizon_months_error") == "The horizon (months) can't be less than 1."
        assert config_state() == before
        enqueued.assert_not_called()

    def test_the_ranking_preview_counts_the_accounts_that_would_change_tier(self, client, ada, book):
        login(client, ada)
        body = client.post(reverse("config_clv_preview"), clv_post(), headers={"HX-Request": "true"}).content.decode()
        assert body.lstrip().startswith('<div id="clv-editor">')
        assert 'data-movers-total>20<' in body  # lifetime net profit reverses the order: everybody moves
        assert ClvSettings.current().ranking_metric == "net_profit_ttm"

    def test_refit_enqueues_the_fit_and_then_the_recompute(self, client, ada, enqueued,
                                                          django_capture_on_commit_callbacks):
        import celery

        login(client, ada)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("config_clv_refit"), follow=True)
        assert "Refitting the CLV models has started" in response.content.decode()
        (fit, recompute), _ = celery.chain.call_args
        assert (fit.task, recompute.task) == ("profitability.tasks.fit_clv_models",
                                              "profitability.tasks.recompute_book")
        celery.chain.return_value.delay.assert_called_once_with()


# --- history ---------------------------------------------------------------------------------------------


class TestHistoryPage:
    def test_it_shows_who_changed_what_from_old_to_new(self, client, ada, enqueued):
        ada.first_name, ada.last_name = "Ada", "Lovelace"
        ada.save()
        login(client, ada)
        client.post(reverse("config_tiers"), tiers_post(Platinum={"upper_pct": "10", "first_response_hours": "2"}))
        client.post(reverse("config_clv"), clv_post())
        body = client.get(reverse("config_history")).content.decode()
        flat = " ".join(body.split())
        assert "Ada Lovelace" in body
        assert ('<span class="field-name">Reaches down to:</span> <del class="old">5 %</del> <span aria-hidden="true">→'
                '</span><span class="sr-only">changed to</span> <ins class="new">10 %</ins>') in flat
        assert '<del class="old">1 h</del>' in flat and '<ins class="new">2 h</ins>' in flat
        assert '<del class="old">10 %</del>' in flat and '<ins class="new">8.5 %</ins>' in flat
        assert '<del class="old">Net profit, trailing 12 months</del>' in flat
        # newest first: the CLV change before the tier change
        assert flat.index("CLV settings edited") < flat.index("Tier bands edited")

    def test_the_django_admin_shows_the_configuration_but_leaves_changes_to_the_settings_pages(self, client, ada):
        """The admin would skip the whole-set validation (bands reaching 100 %, rates never edited in place)
        and the recompute: it shows the rows and their history, and refuses to add, change or delete."""
        login(client, ada)
        rate, tier = CostRate.objects.first(), Tier.objects.get(name="Gold")
        before = config_state()
        added = client.post("/admin/profitability/costrate/add/", {
            "activity": "Packaging", "kind": "order", "channel": "", "rate": "1.50", "effective_from": "2030-01-01"})
        changed = client.post(f"/admin/profitability/tier/{tier.pk}/change/", {
            "name": "Gold", "position": "2", "upper_pct": "1.00", "first_response_hours": "4",
            "resolution_hours": "24", "queue_priority": "2", "entitlements": "x", "color": "#888888"})
        deleted = client.post(f"/admin/profitability/costrate/{rate.pk}/delete/", {"post": "yes"})
        assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
        assert config_state() == before
        assert client.get(f"/admin/profitability/tier/{tier.pk}/change/").status_code == 200  # view only
        assert client.get(f"/admin/profitability/tier/{tier.pk}/history/").status_code == 200

    def test_loyalty_segment_and_kpi_target_changes_are_on_the_trail_with_names_for_their_tiers(self, client, ada):
        from campaigns.models import LoyaltyProgram, Segment
        from tests.campaigns.test_views import program_post

        ada.first_name, ada.last_name = "Ada", "Lovelace"
        ada.save()
        login(client, ada)
        assert client.post(reverse("loyalty_program_create"), program_post()).status_code == 302
        program = LoyaltyProgram.objects.get(name="Forever Club")
        gold = Tier.objects.get(name="Gold")
        edited = program_post(name="Forever Club", points_validity_days="730", eligible_tiers=str(gold.pk),
                              **{"rules-INITIAL_FORMS": "1", "rules-0-id": str(program.rules.get().pk),
                                 "rules-0-program": str(program.pk)})
        assert client.post(reverse("loyalty_program_edit", args=[program.pk]), edited).status_code == 302
        Segment.objects.create(name="Makers", criteria={"industries": ["Manufacturing"]})  # centroid not audited

        body = " ".join(client.get(reverse("config_history"), {"model": "loyalty_program"}).content.decode().split())
        everything = " ".join(client.get(reverse("config_history")).content.decode().split())

        assert "Created</span> loyalty program <strong>Forever Club</strong>" in body
        assert '<del class="old">365</del>' in body and '<ins class="new">730</ins>' in body
        assert '<ins class="new">Gold</ins>' in body  # the eligible tiers by name, not ids
        assert "Ada Lovelace" in body
        assert "segment <strong>Makers</strong>" in everything
        assert '<option value="loyalty_program"' in everything and '<option value="kpi_target"' in everything

    def test_a_record_pointing_to_a_deleted_user_still_shows(self, client, ada):
        """History keeps only the ids of related records: one deleted since must not break the trail."""
        from django.contrib.auth import get_user_model

        from campaigns.models import LoyaltyProgram

        gone = get_user_model().objects.create(username="left-the-company")
        program = LoyaltyProgram(name="Old Club", starts_on=date(2025, 1, 1), created_by=gone)
        program._history_user = ada
        program.save()
        gone_id = gone.pk
        LoyaltyProgram.objects.filter(pk=program.pk).update(created_by=None)
        gone.delete()
        login(client, ada)

        response = client.get(reverse("config_history"), {"model": "loyalty_program"})

        body = " ".join(response.content.decode().split())
        assert response.status_code == 200
        assert "loyalty program <strong>Old Club</strong>" in body
        assert f"#{gone_id} (deleted)" in body

    def test_segment_criteria_are_worded_with_one_tier_query_however_many(self, client, ada):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from campaigns.models import Segment

        login(client, ada)

        def tier_queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(reverse("config_history") + "?source=segment").status_code == 200
            return sum('FROM "profitability_tier"' in q["sql"] for q in captured.captured_queries)

        for n in range(6):
            segment = Segment(name=f"Returners {n}", criteria={"return_rate_min": 0.3})
            segment._history_user = ada
            segment.save()
        assert tier_queries() == 1

    def test_it_reads_like_the_pages_labels_per_model_choices_dates_kpis_and_segment_criteria(self, client, ada):
        """A reward's kind is not an "Interaction kind"; choices show their labels, moments and days as the pages
        write them, a KPI target is named by its KPI (not "benchmark None"), criteria in the segment page's words."""
        from django.utils.formats import date_format

        from campaigns.models import Campaign, EarningRule, LoyaltyProgram, Reward, Segment
        from profitability.models import KpiTarget

        def audited(obj):  # type: ignore[no-untyped-def]
            obj._history_user = ada
            obj.save()
            return obj

        program = audited(LoyaltyProgram(name="Forever Club", starts_on=date(2026, 1, 5)))
        audited(EarningRule(program=program, trigger="net_revenue", points=D("0.1")))
        audited(Reward(program=program, name="Gold week", kind="tier_upgrade", point_cost=500,
                       upgrade_tier=Tier.objects.get(name="Gold"), upgrade_days=7))
        segment = audited(Segment(name="Returners", criteria={"return_rate_min": 0.3}))
        launched = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
        audited(Campaign(name="Autumn push", segment=segment, offer="volume_discount", channel="email",
                         launched_at=launched))
        target = audited(KpiTarget(kpi="churn", target=D("5")))
        target.target = D("4.5")
        audited(target)
        login(client, ada)

        def trail(model: str) -> str:
            return " ".join(client.get(reverse("config_history"), {"model": model}).content.decode().split())

        reward, rule, campaign, kpi, seg, program_page = (trail(m) for m in (
            "reward", "earning_rule", "campaign", "kpi_target", "segment", "loyalty_program"))
        assert '<span class="field-name">Kind:</span> <span class="new">Temporary tier upgrade</span>' in reward
        assert "Interaction kind" not in reward and "tier_upgrade" not in reward
        assert '<span class="new">Per currency unit of net revenue</span>' in rule and "net_revenue" not in rule
        assert '<span class="new">Volume discount</span>' in campaign and "volume_discount" not in campaign
        moment = date_format(timezone.localtime(launched), "j M Y, H:i")
        assert f'<span class="field-name">Launched at:</span> <span class="new">{moment}</span>' in campaign
        assert "2026-10-14" not in campaign
        assert '<span class="new">5 Jan 2026</span>' in program_page and "2026-01-05" not in program_page
        assert "KPI target <strong>Churn</strong>" in kpi and "None" not in kpi
        assert '<span class="field-name">KPI:</span> <span class="new">Churn</span>' in kpi
        assert '<del class="old">5.0 %</del>' in kpi and '<ins class="new">4.5 %</ins>' in kpi
        assert "Active accounts with return rate at least 30 %." in seg and "return_rate_min" not in seg

    def test_a_cost_rate_reads_with_its_money_and_day(self, client, ada):
        rate = CostRate(activity="Visits", kind="visit", rate=D("250"), effective_from=date(2030, 6, 1))
        rate._history_user = ada
        rate.save()
        login(client, ada)
        body = " ".join(client.get(reverse("config_history"), {"model": "cost_rate"}).content.decode().split())
        assert "cost rate <strong>Visits (Visit / meeting, every channel) from 1 Jun 2030</strong>" in body
        assert '<span class="field-name">Interaction kind:</span> <span class="new">Visit / meeting</span>' in body
        assert '<span class="field-name">Rate:</span> <span class="new">€250.00</span>' in body
        assert '<span class="new">1 Jun 2030</span>' in body and "2030-06-01" not in body

    def test_it_filters_by_model_and_pages(self, client, ada):
        for i in range(30):
            rate = CostRate(activity=f"Activity {i}", kind="visit", rate=D(i), effective_from=date(2030, 1, 1))
            rate._history_user = ada
            rate.save()
        login(client, ada)
        first = client.get(reverse("config_history"), {"model": "cost_rate"}).content.decode()
        assert "Page 1 of 2" in first
        assert "Activity 29" in first and "Activity 4 " not in first
        second = client.get(reverse("config_history"), {"model": "cost_rate", "page": "2"},
                            headers={"HX-Request": "true"}).content.decode()
        assert second.lstrip().startswith('<div id="history-list">')
        assert "Activity 4 " in second and "Activity 29" not in second
        restored = client.get(reverse("config_history"), {"model": "cost_rate", "page": "2"},
                              headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
        assert "<html" in restored.content.decode()  # Back past htmx's cache: the whole page again
        tiers_only = client.get(reverse("config_history"), {"model": "tier"}).content.decode()
        # only the default tiers' baseline records (from the migration), none of the cost rates
        assert "Activity" not in tiers_only
        assert all(name in tiers_only for name in ("Platinum", "Gold", "Silver", "Bronze"))


# --- query counts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "limit"), [("config_tiers", 8), ("config_cost_rates", 6), ("config_clv", 10),
                                             ("config_history", 11)])
def test_the_pages_take_a_bounded_number_of_queries(client, ada, book, django_assert_max_num_queries, page, limit):
    """Whatever the number of tiers, rates and changes: 30 rates changed twice, tiers and settings edited."""
    for i in range(30):
        rate = CostRate(activity=f"Activity {i}", kind="visit", rate=D(i), effective_from=date(2030, 1, 1))
        rate._history_user = ada
        rate.save()
        rate.rate = D(i + 1)
        rate.save()
    for tier in Tier.objects.all():
        tier.queue_priority += 10
        tier._history_user = ada
        tier.save()
    settings = ClvSettings.current()
    settings.horizon_months = 48
    settings.save()
    login(client, ada)
    client.get(reverse(page))  # warm the session
    with django_assert_max_num_queries(limit):
        assert client.get(reverse(page)).status_code == 200


def test_the_tier_preview_takes_a_bounded_number_of_queries(client, ada, book, django_assert_max_num_queries):
    login(client, ada)
    client.get(reverse("config_tiers"))  # warm the session
    with django_assert_max_num_queries(12):
        client.post(reverse("config_tiers_preview"), tiers_post(Platinum={"upper_pct": "10"}),
                    headers={"HX-Request": "true"})
