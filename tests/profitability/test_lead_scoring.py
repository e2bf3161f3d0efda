"""Lead scoring by expected profitability: the pure fitting and scoring, training on a seeded book
(deterministic with a fixed random state), scoring every open lead, and the nightly tasks."""

from datetime import UTC, date, datetime
from decimal import Decimal as D
from io import StringIO

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command

from crm.models import Lead
from profitability import lead_scoring as ls
from profitability import services, tasks_analytics
from profitability.models import AnalyticsRefresh, LeadScore, LeadScoringModel

AS_OF = date(2026, 1, 31)
NOW = datetime(2026, 2, 1, tzinfo=UTC)


# --- pure ----------------------------------------------------------------------------------------------------------


def _rows(n: int, channel: str, industry: str = "Retail") -> list[dict]:
    return [{"channel": channel, "industry": industry, "region": "DACH", "employee_band": "50-249"}] * n


def test_the_value_model_learns_what_a_channels_customers_are_worth():
    X = ls.feature_matrix(_rows(60, "Referral") + _rows(60, "Paid search"))
    y = np.array([5000.0] * 60 + [-500.0] * 60)

    params, metrics = ls.fit_value_model(X, y)

    assert metrics["n_train"] == 96 and metrics["n_holdout"] == 24  # 20 % held out
    assert metrics["r2"] > 0.99 and metrics["mae"] < metrics["baseline_mae"] / 10  # ridge shrinks a little
    referral = ls._linear(params, ["Referral", "Retail", "DACH", "50-249"])[0]
    paid = ls._linear(params, ["Paid search", "Retail", "DACH", "50-249"])[0]
    assert referral == pytest.approx(5000, abs=60) and paid == pytest.approx(-500, abs=60)
    again, _ = ls.fit_value_model(X, y)
    assert again == params  # a fixed random state: the same split, the same model


def test_a_win_model_with_one_outcome_is_that_outcomes_rate():
    X = ls.feature_matrix(_rows(40, "Referral"))
    params, metrics = ls.fit_win_model(X, np.zeros(40, dtype=bool))
    assert ls._sigmoid(params["intercept"]) == pytest.approx(1e-6)
    assert metrics["auc"] is None and metrics["note"]


def test_leads_are_ranked_by_expected_value_not_by_the_chance_of_winning():
    """Paid search closes often but brings loss-makers; referrals close less but are worth a lot."""
    params = {
        "value": {"intercept": 1000.0, "coef": {"channel": {"Referral": 4000.0, "Paid search": -1500.0}},
                  "shares": {"channel": {"Referral": 0.5, "Paid search": 0.5}}},
        "win_mql": {"intercept": 0.0, "coef": {"channel": {"Referral": -1.0, "Paid search": 1.0}},
                    "shares": {"channel": {"Referral": 0.5, "Paid search": 0.5}}},
    }
    params["win_sql"] = params["win_mql"]

    referral = ls.score_lead(params, ["Referral", "Retail", "DACH", "50-249"], stage="mql")
    paid = ls.score_lead(params, ["Paid search", "Retail", "DACH", "50-249"], stage="mql")

    assert paid.p_win > referral.p_win
    assert referral.expected_value > 0 > paid.expected_value
    p = float(1 / (1 + np.exp(1.0)))
    assert referral.predicted_value == D("5000.00")
    assert referral.expected_value == D(repr(p * 5000)).quantize(D("0.01"))
    # the reason: the channel, against an average lead (P(win) 0.5 × value 2,250 = 1,125)
    assert [r.feature for r in referral.reasons] == ["Channel"]
    assert referral.reasons[0].effect == (referral.expected_value - D("1125.00"))


# --- trained on a seeded book -----------------------------------------------------------------------------------------


@pytest.fixture
def seeded(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", "--accounts", "300", "--seed", "11", "--as-of", AS_OF.isoformat(), stdout=StringIO())
    services.book_recompute(now=NOW)


def test_it_trains_on_the_book_and_scores_every_open_lead(seeded):
    model = ls.lead_scoring_train(now=NOW)

    customers = LeadScoringModel.objects.get().train_size + model.holdout_size
    assert model.holdout_size == int(np.ceil(customers * 0.2))
    closed = Lead.objects.filter(stage__in=["won", "lost"]).count()
    assert model.metrics["win_mql"]["n_holdout"] == int(np.ceil(closed * 0.2))
    assert -1 < model.metrics["value"]["r2"] <= 1 and model.metrics["value"]["mae"] > 0
    assert 0.5 <= model.metrics["win_mql"]["auc"] <= 1  # channels convert differently in the seeded book

    open_leads = set(Lead.objects.filter(stage__in=["mql", "sql"]).values_list("pk", flat=True))
    scores = list(LeadScore.objects.all())
    assert {s.lead_id for s in scores} == open_leads
    for score in scores:
        assert 0 < score.p_win < 1
        assert abs(score.expected_value - D(repr(score.p_win)) * score.predicted_value) <= D("0.02")
        assert 1 <= len(score.reasons) <= 3
        effects = [abs(D(r["effect"])) for r in score.reasons]
        assert effects == sorted(effects, reverse=True)


def test_training_is_deterministic(seeded):
    first = ls.lead_scoring_train(now=NOW)
    first_scores = dict(LeadScore.objects.values_list("lead_id", "expected_value"))

    second = ls.lead_scoring_train(now=NOW)

    assert second.params == first.params and second.metrics == first.metrics
    assert dict(LeadScore.objects.values_list("lead_id", "expected_value")) == first_scores
    assert LeadScore.objects.filter(model=first).count() == 0  # every score is the newest model's


def test_the_refresh_rescores_open_leads_with_the_latest_model(seeded):
    from profitability.services_analytics import analytics_refresh

    ls.lead_scoring_train(now=NOW)
    lead = Lead.objects.create(company_name="Brand new lead", stage="mql", mql_at=NOW, industry="Logistics")
    assert not LeadScore.objects.filter(lead=lead).exists()

    result = analytics_refresh(now=NOW)

    assert LeadScore.objects.filter(lead=lead).exists()
    assert result.leads_scored == Lead.objects.filter(stage__in=["mql", "sql"]).count()


def test_the_first_refresh_trains_the_model_so_leads_are_scored_without_waiting_a_night(seeded):
    from profitability.services_analytics import analytics_refresh

    assert not LeadScoringModel.objects.exists()

    result = analytics_refresh(now=NOW)

    assert LeadScoringModel.objects.count() == 1
    assert result.leads_scored == Lead.objects.filter(stage__in=["mql", "sql"]).count() > 0
    analytics_refresh(now=NOW)
    assert LeadScoringModel.objects.count() == 1  # later refreshes leave training to the nightly retrain


def test_too_little_data_is_reported_not_trained(db):
    with pytest.raises(ls.NotEnoughData):
        ls.lead_scoring_train(now=NOW)
    assert tasks_analytics.retrain_lead_scoring.apply().get()["skipped"].startswith("0 customers")
    assert LeadScoringModel.objects.count() == 0


# --- tasks ---------------------------------------------------------------------------------------------------------


def test_the_refresh_task_waits_for_a_running_book_recompute(db):
    from celery.exceptions import Retry

    cache.set(tasks_analytics.BOOK_LOCK, 1, timeout=60)
    try:
        with pytest.raises(Retry, match="book recompute is running"):
            tasks_analytics.refresh_analytics.apply()
    finally:
        cache.delete(tasks_analytics.BOOK_LOCK)
    assert AnalyticsRefresh.objects.count() == 0


def test_the_refresh_task_refreshes(db):
    result = tasks_analytics.refresh_analytics.apply().get()
    assert result["months"] == 0 and AnalyticsRefresh.objects.count() == 1


def test_the_nightly_beat_runs_analytics_after_the_book_recompute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    book = schedule["nightly-book-recompute"]["schedule"]
    refresh = schedule["nightly-analytics-refresh"]
    retrain = schedule["nightly-lead-scoring-retrain"]
    assert refresh["task"] == "profitability.tasks_analytics.refresh_analytics"
    assert retrain["task"] == "profitability.tasks_analytics.retrain_lead_scoring"
    minute = lambda c: min(c.hour) * 60 + min(c.minute)  # noqa: E731
    assert minute(book) < minute(retrain["schedule"]) < minute(refresh["schedule"])


def test_a_fresh_worker_process_knows_the_analytics_tasks():
    """Beat sends the tasks by name; a worker that never imported tasks_analytics would reject them."""
    import subprocess
    import sys

    code = ("import django; django.setup(); from crm.celery import app; app.loader.import_default_modules(); "
            "print(sorted(t for t in app.tasks if t.startswith('profitability.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                         env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "crm.settings"}).stdout
    assert "profitability.tasks_analytics.refresh_analytics" in out
    assert "profitability.tasks_analytics.retrain_lead_scoring" in out


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_refresh_queued_after_commit(tmp_path):
    from django.db import transaction

    from profitability.services_analytics import analytics_refresh_request
    from tests import worker

    worker.flush_redis()
    celery = worker.CeleryWorker(tmp_path / "worker.log")
    try:
        celery.start()
        with transaction.atomic():
            analytics_refresh_request()
            assert worker.queue_length() == 0  # nothing is published before the commit
        task = "profitability.tasks_analytics.refresh_analytics"
        # The task commits its row before the worker logs its success: wait for the log line, not the row.
        celery.wait_until(lambda: celery.succeeded(task), timeout=60, message="the analytics refresh")
        assert AnalyticsRefresh.objects.count() == 1
        assert celery.succeeded(task) == 1
    finally:
        celery.kill()
        worker.terminate_worker_backends()
        worker.flush_redis()
