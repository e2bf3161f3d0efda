"""Closed-form CLV on stored parameters, and the parameter records themselves."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from profitability.clv import bgnbd, gamma_gamma, sbg
from profitability.clv.io import SummaryData
from profitability.clv.predict import (
    BgNbdParams,
    FitResult,
    GammaGammaParams,
    SbgParams,
    contractual_clv,
    repeat_purchase_clv,
)

BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
WEEKS_PER_MONTH = 4.345  # lifetimes' factor for freq="W"


def test_repeat_purchase_clv_matches_lifetimes_customer_lifetime_value(
    cdnow: SummaryData, cdnow_bgnbd: FitResult, cdnow_gamma_gamma: FitResult
) -> None:
    assert cdnow.monetary_value is not None
    transactions = BetaGeoFitter()
    transactions.params_ = pd.Series(dataclasses.asdict(cdnow_bgnbd.params))
    transactions.predict = transactions.conditional_expected_number_of_purchases_up_to_time  # set by fit()
    spend = GammaGammaFitter()
    p = cdnow_gamma_gamma.params
    spend.params_ = pd.Series({"p": p.p, "q": p.q, "v": p.gamma})
    frequency, recency, age, value = (
        pd.Series(a) for a in (cdnow.frequency, cdnow.recency, cdnow.T, cdnow.monetary_value)
    )

    theirs = spend.customer_lifetime_value(
        transactions, frequency, recency, age, value, time=12, discount_rate=0.01, freq="W"
    )
    ours = repeat_purchase_clv(
        cdnow_bgnbd.params,
        cdnow_gamma_gamma.params,
        cdnow.frequency,
        cdnow.recency,
        cdnow.T,
        cdnow.monetary_value,
        periods=12,
        period_length=WEEKS_PER_MONTH,
        discount_rate=0.01,
    )

    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


def test_one_period_of_repeat_purchase_clv_by_hand() -> None:
    purchases = bgnbd.conditional_expected_purchases(BGNBD, 4.0, 3, 30.0, 38.86)
    spend = gamma_gamma.conditional_expected_spend(SPEND, 3, 40.0)

    clv = repeat_purchase_clv(
        BGNBD, SPEND, 3, 30.0, 38.86, 40.0, periods=1, period_length=4.0, discount_rate=0.02, margin_share=0.3
    )

    assert isinstance(clv, float)
    assert clv == pytest.approx(0.3 * spend * purchases / 1.02, rel=1e-12)


def test_repeat_purchase_clv_discounts_each_period_by_its_end() -> None:
    steps = np.array([bgnbd.conditional_expected_purchases(BGNBD, 4.0 * k, 2, 20.0, 38.86) for k in range(4)])
    spend = gamma_gamma.conditional_expected_spend(SPEND, 2, 25.0)
    expected = spend * np.sum(np.diff(steps) / 1.01 ** np.arange(1, 4))

    clv = repeat_purchase_clv(BGNBD, SPEND, 2, 20.0, 38.86, 25.0, periods=3, period_length=4.0, discount_rate=0.01)

    assert clv == pytest.approx(expected, rel=1e-12)


def test_repeat_purchase_clv_of_a_new_customer_uses_population_spend() -> None:
    clv = repeat_purchase_clv(BGNBD, SPEND, 0, 0.0, 0.0, 0.0, periods=6, period_length=1.0, discount_rate=0.0)
    expected = bgnbd.expected_purchases(BGNBD, 6.0) * gamma_gamma.population_mean_spend(SPEND)
    assert clv == pytest.approx(expected, rel=1e-12)


def test_zero_periods_are_worth_nothing_and_bad_horizons_are_refused() -> None:
    assert (
        repeat_purchase_clv(BGNBD, SPEND, 3, 30.0, 38.86, 40.0, periods=0, period_length=4.0, discount_rate=0.01) == 0
    )
    with pytest.raises(ValueError, match="period_length"):
        repeat_purchase_clv(BGNBD, SPEND, 3, 30.0, 38.86, 40.0, periods=3, period_length=0.0, discount_rate=0.01)
    with pytest.raises(ValueError, match="periods"):
        repeat_purchase_clv(BGNBD, SPEND, 3, 30.0, 38.86, 40.0, periods=-1, period_length=1.0, discount_rate=0.01)


def test_a_customer_who_went_quiet_is_worth_less_than_one_still_buying() -> None:
    # Same purchase count and spend; one bought last week, the other not for 30 weeks.
    recent, lapsed = repeat_purchase_clv(
        BGNBD,
        SPEND,
        np.array([5, 5]),
        np.array([38.0, 8.0]),
        np.array([38.86, 38.86]),
        np.array([30.0, 30.0]),
        periods=12,
        period_length=WEEKS_PER_MONTH,
        discount_rate=0.01,
    )
    assert recent > 5 * lapsed


def test_contractual_clv_is_margin_times_derl() -> None:
    params = SbgParams(alpha=0.704, beta=1.182)
    renewals = np.array([0, 1, 4])
    margins = np.array([100.0, 250.0, 80.0])

    clv = contractual_clv(params, margin_per_period=margins, renewals=renewals, discount_rate=0.1)

    np.testing.assert_allclose(clv, margins * sbg.derl(params, renewals, 0.1), rtol=1e-15)
    single = contractual_clv(params, margin_per_period=100.0, renewals=0, discount_rate=0.1)
    assert isinstance(single, float)
    assert single == pytest.approx(100.0 * sbg.derl(params, 0, 0.1), rel=1e-15)


def test_fit_results_round_trip_through_json() -> None:
    result = FitResult(params=BGNBD, log_likelihood=-9582.43, n=2357, converged=True, iterations=16, message="ok")

    restored = FitResult.from_dict(json.loads(json.dumps(result.to_dict())))

    assert restored == result
    assert result.to_dict() == {
        "model": "bgnbd",
        "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "log_likelihood": -9582.43,
        "n": 2357,
        "converged": True,
        "iterations": 16,
        "message": "ok",
    }
    assert FitResult.from_dict(FitResult(SPEND, -1.0, 3, False).to_dict()).params == SPEND
    assert FitResult(SbgParams(0.7, 1.2), -1.0, 1000, True).model == "sbg"


def test_fit_results_from_numpy_fits_serialise_to_plain_json(cdnow_bgnbd: FitResult) -> None:
    text = json.dumps(cdnow_bgnbd.to_dict())
    assert json.loads(text)["params"]["r"] == pytest.approx(0.243, abs=5e-4)


def test_unknown_models_and_missing_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown CLV model"):
        FitResult.from_dict({"model": "pareto", "params": {}, "log_likelihood": 0, "n": 1, "converged": True})
    with pytest.raises(ValueError, match="bad parameters"):
        FitResult.from_dict({"model": "sbg", "params": {"alpha": 1.0}, "log_likelihood": 0, "n": 1, "converged": True})


def test_parameter_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BGNBD.r = 1.0  # type: ignore[misc]


def test_repeat_purchase_clv_keeps_the_shape_of_its_inputs() -> None:
    x = np.array([[0, 2], [5, 1]])
    t_x = np.array([[0.0, 10.0], [30.0, 2.0]])
    big_t = np.full((2, 2), 38.86)
    m = np.array([[0.0, 20.0], [35.0, 12.0]])

    grid = repeat_purchase_clv(BGNBD, SPEND, x, t_x, big_t, m, periods=4, period_length=4.0, discount_rate=0.01)

    assert grid.shape == (2, 2)
    flat = repeat_purchase_clv(
        BGNBD, SPEND, x.ravel(), t_x.ravel(), big_t.ravel(), m.ravel(), periods=4, period_length=4.0, discount_rate=0.01
    )
    np.testing.assert_allclose(grid.ravel(), flat, rtol=1e-15)
