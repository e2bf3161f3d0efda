"""The KPI dashboard in a real browser: its charts render, a KPI card swaps the trend in place, and the
CSV download works."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm.models import InteractionKind as K
from crm.models import MarketingSpend, SurveyResponse
from profitability import services
from profitability.services_analytics import analytics_refresh
from tests.factories import AccountFactory, ChannelFactory, InteractionFactory

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def analysed_book(db):
    """Twelve accounts ordering monthly in 2025 (from January to April on, so they differ), with spend and
    survey answers, refreshed."""
    channel = ChannelFactory(name="Referral")
    for i in range(12):
        acquired = date(2024, 12, 1) if i % 2 else date(2025, 1, 1)  # half of them new in 2025: a CAC
        account = AccountFactory(name=f"Account {i}", acquired_on=acquired, acquisition_channel=channel)
        for month in range(1 + i % 4, 13):
            InteractionFactory(account=account, kind=K.ORDER, occurred_at=datetime(2025, month, 3 + i, tzinfo=UTC),
                               amount=Decimal(400 + 50 * i), direct_cost=Decimal(250))
        SurveyResponse.objects.create(account=account, score=5 + i % 6, answered_at=NOW - timedelta(days=20 + i))
    for month in range(1, 13):
        MarketingSpend.objects.create(channel=channel, period=date(2025, month, 1), amount=Decimal("500"))
    services.book_recompute(now=NOW)
    analytics_refresh(now=NOW)


def test_the_dashboard_draws_its_charts_and_downloads_the_numbers(page, ada, analysed_book):
    log_in(page, "ada")
    page.get_by_role("link", name="Analytics").click()

    assert page.get_by_role("heading", name="KPI dashboard").is_visible()
    assert page.locator(".kpi-card svg[role=img]").count() == 12
    assert page.locator("#kpi-trend svg circle").count() == 1  # CLV/CAC: December is its first full year

    page.get_by_role("link", name="AOV").click()  # htmx swaps the trend, the URL follows
    page.get_by_role("heading", name="AOV: monthly trend").wait_for()
    assert "kpi=aov" in page.url
    assert page.locator(".kpi-card.selected .kpi-name").inner_text() == "AOV"  # static/js/analytics.js
    trend = page.locator("#kpi-trend svg polyline")
    assert len(trend.get_attribute("points").split()) == 12  # a point for each month of 2025

    with page.expect_download() as download:
        page.get_by_role("link", name="Download every KPI by month (CSV)").first.click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    december = next(r for r in rows if r["month"] == "2025-12-01")
    assert december["aov"] == "675.00"  # 12 orders of 400 + 50 i: 8,100 / 12
    assert december["customers"] == "12"
