"""Gamma-Gamma spend model: published CDNOW estimates, agreement with ``lifetimes``, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import GammaGammaFitter
from scipy.optimize import approx_fprime

from profitability.clv import gamma_gamma
from profitability.clv.io import SummaryData
from profitability.clv.predict import FitResult, GammaGammaParams


def lifetimes_model(params: GammaGammaParams) -> GammaGammaFitter:
    model = GammaGammaFitter()
    model.params_ = pd.Series({"p": params.p, "q": params.q, "v": params.gamma})
    return model


def test_it_reproduces_the_published_cdnow_estimates(cdnow_gamma_gamma: FitResult) -> None:
    params = cdnow_gamma_gamma.params
    assert isinstance(params, GammaGammaParams)
    assert round(params.p, 2) == 6.25
    assert round(params.q, 2) == 3.74
    # Published γ = 15.44; the maximum is at 15.4477 (lifetimes agrees), so 15.44 to 0.01 and 15.4 to 3 s.f.
    assert params.gamma == pytest.approx(15.44, abs=0.01)
    assert float(f"{params.gamma:.3g}") == 15.4
    assert cdnow_gamma_gamma.n == 946  # repeat buyers only
    assert cdnow_gamma_gamma.converged


def test_it_finds_the_same_optimum_and_log_likelihood_as_lifetimes(
    cdnow: SummaryData, cdnow_gamma_gamma: FitResult
) -> None:
    repeat = cdnow.frequency > 0
    assert cdnow.monetary_value is not None
    reference = GammaGammaFitter(penalizer_coef=0.0)
    reference.fit(pd.Series(cdnow.frequency[repeat]), pd.Series(cdnow.monetary_value[repeat]), tol=1e-9)
    params = cdnow_gamma_gamma.params
    assert params.p == pytest.approx(reference.params_["p"], rel=1e-4)
    assert params.q == pytest.approx(reference.params_["q"], rel=1e-4)
    assert params.gamma == pytest.approx(reference.params_["v"], rel=1e-4)
    # lifetimes reports the mean negative log-likelihood with the same constants.
    assert cdnow_gamma_gamma.log_likelihood / 946 == pytest.approx(-reference._negative_log_likelihood_, rel=1e-6)


def test_conditional_expected_spend_matches_lifetimes(cdnow: SummaryData, cdnow_gamma_gamma: FitResult) -> None:
    params = cdnow_gamma_gamma.params
    assert cdnow.monetary_value is not None
    ours = gamma_gamma.conditional_expected_spend(params, cdnow.frequency, cdnow.monetary_value)
    theirs = lifetimes_model(params).conditional_expected_average_profit(
        pd.Series(cdnow.frequency), pd.Series(cdnow.monetary_value)
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


def test_a_customer_without_repeat_purchases_is_expected_to_spend_the_population_mean() -> None:
    params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    population = 6.25 * 15.44 / 2.74
    assert gamma_gamma.population_mean_spend(params) == pytest.approx(population, rel=1e-15)
    assert gamma_gamma.conditional_expected_spend(params, 0, 0.0) == pytest.approx(population, rel=1e-15)
    assert gamma_gamma.conditional_expected_spend(params, 0, float("nan")) == pytest.approx(population, rel=1e-15)


def test_conditional_expected_spend_follows_the_closed_form() -> None:
    params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    expected = 6.25 * (15.44 + 3 * 40.0) / (6.25 * 3 + 3.74 - 1)
    assert gamma_gamma.conditional_expected_spend(params, 3, 40.0) == pytest.approx(expected, rel=1e-15)


def test_the_population_mean_is_infinite_when_q_is_at_most_one() -> None:
    params = GammaGammaParams(p=2.0, q=0.9, gamma=10.0)
    assert gamma_gamma.population_mean_spend(params) == math.inf
    assert gamma_gamma.conditional_expected_spend(params, 0, 0.0) == math.inf
    assert math.isfinite(gamma_gamma.conditional_expected_spend(params, 2, 30.0))


def test_spend_is_only_weakly_correlated_with_frequency_on_cdnow(cdnow: SummaryData) -> None:
    assert cdnow.monetary_value is not None
    correlation = gamma_gamma.spend_frequency_correlation(cdnow.frequency, cdnow.monetary_value)
    repeat = cdnow.frequency > 0
    assert correlation == pytest.approx(np.corrcoef(cdnow.frequency[repeat], cdnow.monetary_value[repeat])[0, 1])
    assert round(correlation, 3) == 0.114


def test_correlation_is_nan_without_variation() -> None:
    assert math.isnan(gamma_gamma.spend_frequency_correlation([1, 1, 1], [10.0, 20.0, 30.0]))
    assert math.isnan(gamma_gamma.spend_frequency_correlation([0, 2], [0.0, 10.0]))


def test_fit_ignores_customers_without_repeat_purchases() -> None:
    x = np.array([1, 2, 3, 5, 1, 4, 2, 8])
    m = np.array([10.0, 12.0, 30.0, 22.0, 8.0, 40.0, 15.0, 25.0])
    with_zeros = gamma_gamma.fit(np.append(x, [0, 0]), np.append(m, [0.0, 0.0]))
    without = gamma_gamma.fit(x, m)
    assert with_zeros.n == without.n == 8
    assert with_zeros.log_likelihood == pytest.approx(without.log_likelihood, rel=1e-12)


def test_weights_act_as_repeated_customers() -> None:
    params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    x = np.array([1, 2, 7])
    m = np.array([10.0, 31.5, 18.25])
    counts = np.array([4, 1, 3])
    weighted = gamma_gamma.log_likelihood(params, x, m) @ counts
    repeated = gamma_gamma.log_likelihood(params, np.repeat(x, counts), np.repeat(m, counts)).sum()
    assert weighted == pytest.approx(repeated, rel=1e-12)


def test_it_rejects_non_positive_spend_for_repeat_buyers() -> None:
    with pytest.raises(ValueError, match="monetary_value must be finite and > 0"):
        gamma_gamma.fit([1, 2], [10.0, 0.0])
    with pytest.raises(ValueError, match="at least one customer"):
        gamma_gamma.fit([0, 0], [0.0, 0.0])


def test_the_analytic_gradient_matches_finite_differences(cdnow: SummaryData) -> None:
    assert cdnow.monetary_value is not None
    repeat = cdnow.frequency > 0
    x, m = cdnow.frequency[repeat], cdnow.monetary_value[repeat] / 35.0
    w = np.ones_like(x)
    levels, index = np.unique(x, return_inverse=True)
    args = (levels, np.bincount(index), index, x, np.log(m), x * m, w, float(x.size))
    for point in ([1.8, 1.3, -0.8], [0.0, 0.0, 0.0], [-0.5, 2.0, 1.0]):
        theta = np.array(point)
        _, analytic = gamma_gamma._negative_mean_log_likelihood(theta, *args)
        numeric = approx_fprime(theta, lambda p: gamma_gamma._negative_mean_log_likelihood(p, *args)[0], 1e-7)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


params_strategy = st.builds(
    GammaGammaParams, p=st.floats(0.1, 50.0), q=st.floats(1.01, 50.0), gamma=st.floats(0.01, 1e4)
)


@settings(max_examples=300, deadline=None)
@given(params=params_strategy, x=st.integers(1, 10_000), m=st.floats(1e-3, 1e6))
def test_expected_spend_lies_between_own_mean_and_population_mean(params: GammaGammaParams, x: int, m: float) -> None:
    spend = gamma_gamma.conditional_expected_spend(params, x, m)
    population = gamma_gamma.population_mean_spend(params)
    assert math.isfinite(spend)
    assert min(m, population) * (1 - 1e-12) <= spend <= max(m, population) * (1 + 1e-12)
    assert math.isfinite(float(gamma_gamma.log_likelihood(params, x, m)))
