"""The analytics pages: the refresh's figures against a hand-computed book, what each page shows, who may see
it (every page × anonymous, nobody, alice, sam, ada), the admins' targets with their audit trail, and the CSV
downloads (escaped against formula injection)."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.urls import reverse

from crm.models import Account, Channel, Lead, MarketingSpend, SurveyResponse
from crm.models import InteractionKind as K
from crm.templatetags.tierwise import money
from profitability import services
from profitability.models import (
    AccountSnapshot,
    BookSummary,
    FunnelStat,
    KpiMonth,
    KpiTarget,
    SegmentPnl,
    SegmentYear,
)
from profitability.selectors.analytics import csv_cell
from profitability.services_analytics import analytics_refresh
from tests.factories import PASSWORD, AccountFactory, InteractionFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
FORBIDDEN_WORDS = ("margin", "Net profit", "CLV", "Cost-to-serve")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def at(y, m, d, hour=10):
    return datetime(y, m, d, hour, tzinfo=UTC)


def log(account, kind, when, amount="0", cost="0", channel="web"):
    InteractionFactory(account=account, kind=kind, occurred_at=when, amount=D(amount), direct_cost=D(cost),
                       channel=channel)


@pytest.fixture
def book(db):
    """A tiny book whose December 2025 KPIs are worked out by hand (default cost rates: order handling 25 +
    shipping 12 per order, returns 35, support calls 18, contract administration 20 per renewal).

    - A1, a customer since June 2024: orders of 1,000 (COGS 600) on 5 Dec and 500 (COGS 300) on 20 Dec;
    - A2, a customer from June 2024 who churned on 15 June 2025: one order of 300 (COGS 200) in March 2025;
    - A3, acquired March 2025: an order of 300 (COGS 200), a return of 100 (goods back 50), a support call;
    - A4, acquired 10 December 2025: a renewal of 200 (delivery cost 90);
    - a prospect with no acquisition date.
    December: revenue 2,000, returns 100, COGS 600 + 300 + 200 + 90 − 50 = 1,140, cost-to-serve 3 × 37 + 35 +
    18 + 20 = 184, net profit 576. The 12 months of 2025 add A2's March order (300 − 200 − 37 = 63): 639.
    """
    trade_show = Channel.objects.get_or_create(name="Trade show")[0]
    a1 = AccountFactory(name="A1", acquired_on=date(2024, 6, 1), acquisition_channel=trade_show)
    a2 = AccountFactory(name="A2", acquired_on=date(2024, 6, 1), acquisition_channel=trade_show,
                        status=Account.Status.CHURNED, churned_on=date(2025, 6, 15))
    a3 = AccountFactory(name="A3", acquired_on=date(2025, 3, 1), acquisition_channel=trade_show, industry="Retail")
    a4 = AccountFactory(name="A4", acquired_on=date(2025, 12, 10), acquisition_channel=trade_show)
    AccountFactory(name="Prospect", acquired_on=None, status=Account.Status.PROSPECT)
    log(a1, K.ORDER, at(2024, 6, 10), "400", "250")  # history starts in June 2024
    log(a1, K.ORDER, at(2025, 12, 5), "1000", "600")
    log(a1, K.ORDER, at(2025, 12, 20), "500", "300")
    log(a2, K.ORDER, at(2025, 3, 3), "300", "200")
    log(a3, K.ORDER, at(2025, 12, 10), "300", "200")
    log(a3, K.RETURN, at(2025, 12, 15), "100", "50")
    log(a3, K.SUPPORT_CALL, at(2025, 12, 16), channel="phone")
    log(a4, K.RENEWAL, at(2025, 12, 12), "200", "90")
    for score, day in ((10, 3), (9, 4), (7, 5), (3, 6)):  # December NPS: 2 promoters, 1 detractor of 4
        SurveyResponse.objects.create(account=a1, score=score, answered_at=at(2025, 12, day))
    SurveyResponse.objects.create(account=a1, score=0, answered_at=at(2025, 11, 3))
    MarketingSpend.objects.create(channel=trade_show, period=date(2025, 3, 1), amount=D("3000"))
    MarketingSpend.objects.create(channel=trade_show, period=date(2025, 12, 1), amount=D("1000"))
    # leads: won, lost straight from MQL, open at SQL, open at MQL
    Lead.objects.create(company_name="Won Co", channel=trade_show, stage="won", mql_at=at(2025, 9, 1),
                        sql_at=at(2025, 9, 11), closed_at=at(2025, 10, 11), account=a3)
    Lead.objects.create(company_name="Lost Co", channel=trade_show, stage="lost", mql_at=at(2025, 10, 1),
                        closed_at=at(2025, 10, 8))
    Lead.objects.create(company_name="Open SQL Co", channel=trade_show, stage="sql", mql_at=at(2025, 11, 1),
                        sql_at=at(2025, 11, 5))
    Lead.objects.create(company_name="Open MQL Co", channel=trade_show, stage="mql", mql_at=at(2025, 12, 1))
    services.book_recompute(now=NOW)
    analytics_refresh(now=NOW)
    return {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "trade_show": trade_show}


def client_for(client, user):
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


# --- the refresh, against the hand-computed book ------------------------------------------------------------------


def test_the_refresh_computes_every_kpi_of_december_exactly(book):
    december = KpiMonth.objects.get(month=date(2025, 12, 1))

    assert (december.revenue, december.returns, december.cogs, december.cost_to_serve, december.net_profit) == (
        D("2000.00"), D("100.00"), D("1140.00"), D("184.00"), D("576.00"))
    assert (december.orders, december.order_revenue, december.customers) == (3, D("1800.00"), 3)
    assert (december.net_profit_ttm, december.spend_ttm, december.acquired_ttm) == (D("639.00"), D("4000.00"), 2)
    assert (december.customers_ttm, december.base_ttm, december.retained_ttm) == (4, 2, 1)
    assert (december.buyers_ttm, december.repeat_buyers_ttm) == (3, 1)
    assert {k: getattr(december, k) for k in (
        "arpu", "aov", "nps", "gross_margin_pct", "net_margin_pct", "cts_share_pct", "retention", "churn",
        "repeat_rate", "cac", "clv", "clv_cac")} == {
        "arpu": D("666.67"),  # 2,000 / 3 customers in December
        "aov": D("600.00"),  # 1,800 / 3 orders
        "nps": D("25.00"),  # (2 − 1) / 4
        "gross_margin_pct": D("40.00"),  # 760 / 1,900
        "net_margin_pct": D("30.32"),  # 576 / 1,900
        "cts_share_pct": D("9.20"),  # 184 / 2,000
        "retention": D("50.00"),  # of A1 and A2 a year ago, A1 is still a customer
        "churn": D("50.00"),
        "repeat_rate": D("33.33"),  # A1 ordered twice; A2 and A3 once
        "cac": D("2000.00"),  # 4,000 / 2 new customers
        "clv": D("133.13"),  # 639 / 4 = 159.75 a customer; 159.75 · 0.5 / (1.10 − 0.5) = 133.125
        "clv_cac": D("0.07"),
    }
    assert december.month == date(2025, 12, 1)
    assert KpiMonth.objects.order_by("month").first().month == date(2024, 6, 1)
    november = KpiMonth.objects.get(month=date(2025, 11, 1))
    assert (november.nps, november.revenue, november.aov) == (D("-100.00"), D("0.00"), None)


def test_the_refresh_is_idempotent(book):
    before = list(KpiMonth.objects.order_by("month").values_list("month", "net_profit", "clv", "cac"))
    analytics_refresh(now=NOW)
    assert list(KpiMonth.objects.order_by("month").values_list("month", "net_profit", "clv", "cac")) == before
    assert FunnelStat.objects.filter(period="ttm", channel__isnull=True).count() == 1


def test_the_funnel_counts_the_periods_cohort_with_median_days_in_stage(book):
    stat = FunnelStat.objects.get(period="ttm", channel=book["trade_show"])

    assert (stat.leads, stat.reached_sql, stat.won, stat.lost, stat.open_mql, stat.open_sql) == (4, 2, 1, 1, 1, 1)
    assert (stat.median_days_mql, stat.median_days_sql, stat.median_days_to_win) == (7.0, 30.0, 40.0)
    assert (stat.spend, stat.acquired) == (D("4000.00"), 2)
    clv = [AccountSnapshot.objects.get(account=book[k]) for k in ("a3", "a4")]
    assert stat.clv_total == sum((s.clv_predictive if s.clv_predictive is not None else s.clv_formula) for s in clv)
    assert stat.period_label == "Last 12 months"


def test_a_segments_what_if_base_is_its_last_year_as_the_engine_counts_it(book):
    segment = SegmentYear.objects.get(dimension="industry", value="Manufacturing")
    pnl_row = SegmentPnl.objects.get(dimension="industry", value="Manufacturing")

    assert segment.accounts == pnl_row.accounts == 2  # A1 and A4 (A2 churned, A3 is in retail)
    base_profit = (segment.order_revenue + segment.renewal_revenue - segment.return_amount
                   - (segment.order_cogs + segment.renewal_cogs - segment.return_cogs)
                   - sum(D(v["cost"]) for v in segment.activities.values()))
    assert base_profit == pnl_row.net_profit


# --- pages -------------------------------------------------------------------------------------------------------


def test_the_dashboard_shows_each_kpi_with_its_state_and_flags_clv_cac_below_3(client, ada, book):
    KpiTarget.objects.create(kpi="nps", target=D("30"), benchmark=D("20"), tolerance_pct=D("20"))

    response = client_for(client, ada).get(reverse("kpi_dashboard"))

    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="kpi-card state-') == 12
    assert body.count("<svg") == 13  # a sparkline per KPI and the selected KPI's trend
    assert "€667" in body and "€600" in body and "+25" in body  # ARPU, AOV, NPS of December
    assert "Below 3" in body  # CLV/CAC is 0.07
    assert "Near target" in body  # NPS 25 vs 30: 5 short, within 20 % of 30
    assert "beats it" in body  # NPS 25 vs benchmark 20
    assert "CLV/CAC: monthly trend" in body  # selected by default


def test_the_dashboard_renders_in_a_handful_of_queries(client, ada, book, django_assert_max_num_queries):
    client_for(client, ada).get(reverse("kpi_dashboard"))  # the first request after login writes the session
    # session, user, roles, the KPI months, the targets, the last refresh and the book's timestamp
    with django_assert_max_num_queries(7):
        response = client.get(reverse("kpi_dashboard"))
    assert response.status_code == 200


def test_an_htmx_click_on_a_kpi_swaps_only_its_trend(client, alice, book):
    response = client_for(client, alice).get(reverse("kpi_dashboard"), {"kpi": "nps"}, **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="kpi-trend"')
    assert "NPS: monthly trend" in body and "<html" not in body
    assert "Dec 2025</th><td class=\"num\">+25" in body


@pytest.mark.parametrize("name", ["kpi_dashboard", "analytics_whale", "analytics_segments", "analytics_channels",
                                  "analytics_funnel", "analytics_leads"])
def test_back_past_htmxs_history_cache_gets_the_whole_page(client, alice, book, name):
    """htmx asks the server again for a pushed URL it no longer caches: a fragment would lose nav and tabs."""
    response = client_for(client, alice).get(reverse(name), {"kpi": "nps"}, HTTP_HX_REQUEST="true",
                                             HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_the_whale_curve_page_shows_the_curves_points_and_the_loss_makers_with_their_driver(client, alice, db):
    # lifetime net profit: 1,000 − 663 − 37 = 300; 500 − 363 − 37 = 100; 200 − 100 − 37 − 10 × 18 = −117
    for name, amount, cost in (("Top", "1000", "663"), ("Middle", "500", "363"), ("Needy", "200", "100")):
        account = AccountFactory(name=name)
        log(account, K.ORDER, at(2025, 6, 1), amount, cost)
    needy = Account.objects.get(name="Needy")
    for day in range(1, 11):
        log(needy, K.SUPPORT_CALL, at(2025, 7, day), channel="phone")
    services.book_recompute(now=NOW)
    analytics_refresh(now=NOW)

    response = client_for(client, alice).get(reverse("analytics_whale"))
    body = response.content.decode()

    assert BookSummary.objects.get().whale_curve == {
        "customer_pct": [0.0, 33.333, 66.667, 100.0], "cumulative_profit_pct": [0.0, 106.007, 141.343, 100.0]}
    for a_pct, b_pct in (("33.33", "106.01"), ("66.67", "141.34"), ("100.00", "100.00")):
        assert f'<td class="num">{a_pct} %</td><td class="num">{b_pct} %</td>' in body
    assert "Peak 141 % at 67 %" in body  # marked on the chart
    assert "33.3 %" in body  # break-even: the first of 3 accounts already earns 106 % of the profit
    assert "Needy" in body and "−€117" in body
    assert "<strong>Support calls</strong>: 10 × €18 = €180" in body and "(83 % of cost-to-serve)" in body
    rows = list(csv.reader(io.StringIO(b"".join(client.get(
        reverse("analytics_csv", args=["whale-curve"]))).decode())))
    assert rows == [["accounts_pct", "cumulative_net_profit_pct"], ["0.0", "0.0"], ["33.333", "106.007"],
                    ["66.667", "141.343"], ["100.0", "100.0"]]


def test_segments_rank_by_profit_or_margin_and_clusters_explain_their_absence(client, alice, book):
    client_for(client, alice)
    by_margin = client.get(reverse("analytics_segments"), {"dimension": "industry", "sort": "margin"})
    clusters = client.get(reverse("analytics_segments"), {"dimension": "cluster"})

    rows = list(SegmentPnl.objects.filter(dimension="industry").order_by("rank"))
    body = by_margin.content.decode()
    for row in rows:
        assert f"<th scope=\"row\">{row.value}</th>" in body
        assert money(row.net_profit) in body
    assert "Clusters appear once segments are clustered" in clusters.content.decode()


def test_the_channels_page_shows_cac_clv_and_the_reallocation_model(client, alice, book):
    response = client_for(client, alice).get(reverse("analytics_channels"), {"period": "ttm"})

    body = response.content.decode()
    assert "<th scope=\"row\">Trade show</th><td class=\"num\">€4,000</td><td class=\"num\">4</td>" in body
    assert "€2,000" in body  # CAC
    assert "marginal CAC is assumed equal to its average CAC" in body
    assert "Left alone (fewer than 5 customers" in body  # two customers are not enough to judge


def test_the_funnel_page_and_its_csv(client, alice, book):
    client_for(client, alice)
    response = client.get(reverse("analytics_funnel"), {"period": "ttm", "channel": book["trade_show"].pk})
    assert "MQL: 4; SQL: 2 (50 % of the stage before); Won: 1 (50 % of the stage before)" in response.content.decode()
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(
        reverse("analytics_csv", args=["funnel"]), {"period": "ttm"})).decode())))
    trade = next(r for r in rows if r["channel"] == "Trade show")
    assert (trade["mql"], trade["won"], trade["mql_to_sql_pct"], trade["median_days_in_mql"]) == ("4", "1", "50.00",
                                                                                                  "7.0")


def test_the_kpi_check_lists_every_kpi_and_admins_can_drop_one(client, ada, book):
    client_for(client, ada)
    page = client.get(reverse("analytics_kpi_check"))
    assert page.content.decode().count('class="verdict-') == 12

    response = client.post(reverse("analytics_kpi_visibility"), {"kpi": "aov", "shown": "0"})

    assert response.status_code == 302
    assert KpiTarget.objects.get(kpi="aov").shown is False
    dashboard = client.get(reverse("kpi_dashboard")).content.decode()
    assert dashboard.count('class="kpi-card state-') == 11
    assert "Hidden by an admin" in dashboard


def test_what_if_for_an_account_starts_from_its_snapshot_and_prices_the_change_like_the_engine(
    client, alice, patrick
):
    services.book_recompute(now=NOW)
    snapshot = AccountSnapshot.objects.get(account=patrick)
    calls = snapshot.cost_breakdown_ttm["Support calls"]

    response = client_for(client, alice).get(reverse("analytics_what_if"), {"account": patrick.pk,
                                                                            "support_calls": "0"})

    outcome = response.context["outcome"]
    assert outcome.before.net_profit == snapshot.net_profit_ttm  # the same year the engine computed
    assert outcome.after.net_profit == snapshot.net_profit_ttm + D(calls["cost"])
    assert outcome.after.breakdown["Support calls"].count == 0
    assert money(outcome.after.net_profit) in response.content.decode()
    assert "0 × €18 = €0" in response.content.decode()  # none left, at the rate they cost


def test_what_if_shows_the_cost_per_interaction_in_each_activitys_line(client, alice, patrick):
    """"2 × → €120" lost the rate: each line reads count × cost per interaction = cost, before and after."""
    services.book_recompute(now=NOW)
    calls = AccountSnapshot.objects.get(account=patrick).cost_breakdown_ttm["Support calls"]

    response = client_for(client, alice).get(reverse("analytics_what_if"), {"account": patrick.pk,
                                                                            "support_calls": "12"})

    body = " ".join(response.content.decode().split())
    assert f"{calls['count']} × €18 = {money(calls['cost'])}" in body  # the default rate of a support call
    assert "12 × €18 = €216" in body
    assert "× →" not in body


def test_the_whale_page_has_no_duplicate_ids(client, alice, book):
    """The section heading and the chart's SVG title were both "whale-title"."""
    import re

    services.book_recompute(now=NOW)
    body = client_for(client, alice).get(reverse("analytics_whale")).content.decode()

    ids = re.findall(r'\sid="([^"]+)"', body)
    assert "whale-title" in ids  # the chart's own title
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_the_kpi_checks_verdict_agrees_with_the_r_it_shows(client, ada, book, monkeypatch):
    """r = −0.2996 shows as −0.30: it is a weak link like any −0.30, not "does not move with profit"."""
    from profitability import analytics

    fake = {"gross_margin_pct": -0.2996, "net_margin_pct": -0.31, "aov": 0.2949}
    order = iter(analytics.KPIS)  # the check correlates the KPIs in this order

    def correlation(kpi, profit):  # type: ignore[no-untyped-def]
        r = fake.get(next(order).key, 0.0)
        return analytics.KpiCorrelation(12, r, 0.2, r, analytics.correlation_verdict(r, 0.2))

    monkeypatch.setattr(analytics, "kpi_profit_correlation", correlation)

    body = " ".join(client_for(client, ada).get(reverse("analytics_kpi_check")).content.decode().split())

    gross = body[body.index('<th scope="row">Gross margin</th>'):]
    gross = gross[:gross.index("</tr>")]
    assert "−0.30" in gross and "Weak link" in gross
    aov = body[body.index('<th scope="row">AOV</th>'):]
    aov = aov[:aov.index("</tr>")]
    assert "+0.29" in aov and "Does not move with profit" in aov


def test_what_if_for_a_segment_starts_from_its_segment_pnl(client, alice, book):
    response = client_for(client, alice).get(reverse("analytics_what_if"), {"segment": "industry|Manufacturing",
                                                                            "price_pct": "10"})

    outcome = response.context["outcome"]
    row = SegmentPnl.objects.get(dimension="industry", value="Manufacturing")
    assert outcome.before.net_profit == row.net_profit
    assert outcome.after.revenue == outcome.before.revenue * D("1.1")
    assert outcome.per_account and outcome.accounts == 2


def test_what_if_shows_invalid_levers_next_to_the_field(client, alice, book):
    response = client_for(client, alice).get(reverse("analytics_what_if"), {"account": book["a1"].pk,
                                                                            "price_pct": "-95"})
    body = response.content.decode()
    assert 'aria-invalid="true"' in body and 'id="id_price_pct_error"' in body
    assert response.context["outcome"] is None
    assert f'name="account" value="{book["a1"].pk}"' in body  # the choice survives the error


# --- targets (admins) and their audit trail ---------------------------------------------------------------------------


def test_an_admin_sets_a_target_and_the_change_is_recorded_with_who_made_it(client, ada, book):
    client_for(client, ada)
    response = client.post(reverse("analytics_targets"), {
        "kpi": "retention", "target": "85", "benchmark": "80", "benchmark_source": "Industry survey 2025",
        "tolerance_pct": "10", "shown": "on"})

    assert response.status_code == 302
    target = KpiTarget.objects.get(kpi="retention")
    assert (target.target, target.benchmark, target.tolerance_pct, target.shown) == (
        D("85.00"), D("80.00"), D("10.00"), True)
    record = target.history.get()
    assert record.history_user == ada
    page = client.get(reverse("analytics_targets")).content.decode()
    assert "Target: — → <strong>85.00</strong>" in page
    dashboard = client.get(reverse("kpi_dashboard")).content.decode()
    assert "Off target" in dashboard  # retention 50 % against 85 %


def test_an_invalid_target_is_refused_next_to_its_field_and_saves_nothing(client, ada, book):
    response = client_for(client, ada).post(reverse("analytics_targets"), {
        "kpi": "nps", "target": "250", "tolerance_pct": "150"})

    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_target" aria-invalid="true"' in body or 'aria-invalid="true"' in body
    assert 'id="id_target_error"' in body and 'id="id_tolerance_pct_error"' in body
    assert KpiTarget.objects.count() == 0
    assert KpiTarget.history.count() == 0


@pytest.mark.parametrize(("kpi", "value", "field", "message"), [
    ("churn", "150", "target", "The target for Churn must be from 0 to 100 %."),
    ("churn", "-5", "target", "The target for Churn must be from 0 to 100 %."),
    ("retention", "100.01", "benchmark", "The industry benchmark for Retention must be from 0 to 100 %."),
    ("repeat_rate", "101", "target", "The target for Repeat-purchase rate must be from 0 to 100 %."),
    ("gross_margin_pct", "120", "target", "The target for Gross margin must be from −1,000 to 100 %."),
    ("cts_share_pct", "-1", "target", "The target for Cost-to-serve share must be from 0 to 1,000 %."),
    ("cac", "-10", "target", "The target for CAC must be from 0 to 1,000,000,000 EUR."),
    ("nps", "101", "benchmark", "The industry benchmark for NPS must be from −100 to 100."),
])
def test_a_target_outside_its_kpis_range_is_refused_naming_the_field_and_range(client, ada, book, kpi, value,
                                                                              field, message):
    """Churn, retention and the repeat rate are shares (0–100 %); a margin can't exceed 100 %; ..."""
    response = client_for(client, ada).post(reverse("analytics_targets"), {
        "kpi": kpi, field: value, "tolerance_pct": "10", "shown": "on"})

    assert response.status_code == 422
    assert list(response.context["form"].errors) == [field]
    assert response.context["form"].errors[field] == [message]
    assert f'<ul class="errorlist" id="id_{field}_error"><li>{message}</li></ul>' in response.content.decode()
    assert KpiTarget.objects.count() == 0 and KpiTarget.history.count() == 0


@pytest.mark.parametrize(("kpi", "target"), [
    ("churn", "0"), ("churn", "100"), ("retention", "95.5"), ("net_margin_pct", "-250"),
    ("gross_margin_pct", "100"), ("cts_share_pct", "140"), ("clv", "-500"), ("nps", "-100"),
])
def test_a_target_within_its_kpis_range_is_saved(client, ada, book, kpi, target):
    response = client_for(client, ada).post(reverse("analytics_targets"), {
        "kpi": kpi, "target": target, "tolerance_pct": "10", "shown": "on"})

    assert response.status_code == 302
    assert KpiTarget.objects.get(kpi=kpi).target == D(target)


def test_the_target_form_states_each_kpis_range(client, ada, book):
    body = client_for(client, ada).get(reverse("analytics_targets"), {"kpi": "churn"}).content.decode()

    assert "From 0 to 100 %." in body
    assert 'max="100"' in body and 'min="0"' in body


def test_the_kpi_target_model_refuses_a_value_outside_the_kpis_range(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        KpiTarget(kpi="churn", target=D("150"), benchmark=D("-1")).full_clean()
    assert refused.value.message_dict == {
        "target": ["The target for Churn must be from 0 to 100 %."],
        "benchmark": ["The industry benchmark for Churn must be from 0 to 100 %."],
    }
    KpiTarget(kpi="net_margin_pct", target=D("-20"), benchmark=D("12")).full_clean()  # margins may be negative


def test_only_admins_write_targets_visibility_or_refreshes(client, alice, book, django_capture_on_commit_callbacks):
    client_for(client, alice)
    with django_capture_on_commit_callbacks() as callbacks:
        responses = [
            client.post(reverse("analytics_targets"), {"kpi": "nps", "target": "10", "tolerance_pct": "10"}),
            client.post(reverse("analytics_kpi_visibility"), {"kpi": "nps", "shown": "0"}),
            client.post(reverse("analytics_refresh")),
        ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert callbacks == []
    assert KpiTarget.objects.count() == 0 and KpiTarget.history.count() == 0


def test_refresh_now_queues_the_task_after_commit(client, ada, book, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("profitability.tasks_analytics.refresh_analytics.delay", lambda: queued.append(1))
    client_for(client, ada)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("analytics_refresh"), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("kpi_dashboard")
    assert queued == [1]


# --- CSV ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+SUM(A1)", "'+SUM(A1)"),
    ("-2+3", "'-2+3"),
    ("@cmd", "'@cmd"),
    ("\tTab", "'\tTab"),
    ("\rCR", "'\rCR"),
    ("Plain", "Plain"),
    (D("-117.00"), D("-117.00")),  # a negative amount is a number, not a formula
    (3, 3),
    (None, ""),
])
def test_csv_cells_are_escaped_against_formula_injection(value, cell):
    assert csv_cell(value) == cell


def test_a_hostile_account_name_is_escaped_in_the_download(client, alice, db):
    hostile = AccountFactory(name="=HYPERLINK(\"http://evil.example\",\"x\")")
    log(hostile, K.ORDER, at(2025, 6, 1), "100", "90")  # 100 − 90 − 37 = −27
    services.book_recompute(now=NOW)

    response = client_for(client, alice).get(reverse("analytics_csv", args=["loss-makers"]))

    assert response["Content-Disposition"].startswith('attachment; filename="tierwise-loss-makers-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert rows[1][3] == "-27.00"


# --- who may see what ------------------------------------------------------------------------------------------------

READ_PAGES = [
    ("kpi_dashboard", []), ("analytics_whale", []), ("analytics_segments", []), ("analytics_channels", []),
    ("analytics_funnel", []), ("analytics_leads", []), ("analytics_kpi_check", []), ("analytics_what_if", []),
    *[("analytics_csv", [name]) for name in ("kpis", "kpi-check", "whale-curve", "loss-makers", "segments",
                                              "channels", "reallocation", "funnel", "leads")],
]
ADMIN_PAGES = [("analytics_targets", [])]


def _body(response) -> str:
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


@pytest.mark.parametrize(("name", "args"), READ_PAGES + ADMIN_PAGES)
@pytest.mark.parametrize("who", ["anonymous", "nobody", "sam", "alice", "ada"])
def test_who_may_open_each_analytics_page(client, request, book, name, args, who):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    client_for(client, user)
    admin_only = (name, args) in ADMIN_PAGES
    allowed = who == "ada" or (who == "alice" and not admin_only)

    response = client.get(reverse(name, args=args))

    if who == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    elif allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        body = _body(response)
        for word in FORBIDDEN_WORDS:
            assert word not in body
        for snapshot in AccountSnapshot.objects.all():
            for value in (snapshot.net_profit, snapshot.net_profit_ttm, snapshot.clv_formula, snapshot.revenue):
                if value:
                    assert money(value) not in body


def test_service_staff_get_no_analytics_link(client, sam, book):
    body = client_for(client, sam).get(reverse("home")).content.decode()
    assert reverse("kpi_dashboard") not in body


def test_pages_before_the_first_refresh_say_so(client, alice, db):
    client_for(client, alice)
    for name in ("kpi_dashboard", "analytics_whale", "analytics_channels", "analytics_funnel", "analytics_kpi_check"):
        body = client.get(reverse(name)).content.decode()
        assert "have not been computed yet" in body, name
    assert "No lead-scoring model has been trained yet" in client.get(reverse("analytics_leads")).content.decode()


def test_kpi_targets_ask_for_the_password_after_the_window_closed_and_save_nothing(client, ada, book, settings):
    import time

    from crm.reauth import REAUTH_AT_KEY

    settings.REAUTH_WINDOW = 600
    client_for(client, ada)
    session = client.session
    session[REAUTH_AT_KEY] = int(time.time()) - 601
    session.save()
    data = {"kpi": "retention", "target": "85", "benchmark": "80", "benchmark_source": "Industry survey 2025",
            "tolerance_pct": "10", "shown": "on"}

    page = client.get(reverse("analytics_targets"))
    post = client.post(reverse("analytics_targets"), data)
    hide = client.post(reverse("analytics_kpi_visibility"), {"kpi": "aov", "shown": "0"})

    assert page.status_code == 302 and page.url.startswith(reverse("reauth_confirm"))
    assert post.status_code == 302 and post.url.startswith(reverse("reauth_confirm"))
    assert hide.status_code == 302 and hide.url.startswith(reverse("reauth_confirm"))
    assert KpiTarget.objects.count() == 0 and KpiTarget.history.count() == 0

    client_for(client, ada)  # a fresh login opens the window again
    assert client.get(reverse("analytics_targets")).status_code == 200
    assert client.post(reverse("analytics_targets"), data).status_code == 302
    assert KpiTarget.objects.get(kpi="retention").target == D("85.00")
