"""BG/NBD: published CDNOW estimates, agreement with ``lifetimes``, stability and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes import BetaGeoFitter
from scipy.optimize import approx_fprime
from scipy.special import beta as beta_fn
from scipy.special import gamma as gamma_fn

from profitability.clv import bgnbd
from profitability.clv.io import SummaryData
from profitability.clv.predict import BgNbdParams, FitResult

PUBLISHED = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def lifetimes_model(params: BgNbdParams) -> BetaGeoFitter:
    """A lifetimes fitter carrying our parameters, so both libraries predict from identical inputs."""
    model = BetaGeoFitter()
    model.params_ = pd.Series({"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b})
    return model


# --- the published check --------------------------------------------------------------------------------


def test_it_reproduces_the_published_cdnow_estimates(cdnow_bgnbd: FitResult) -> None:
    params = cdnow_bgnbd.params
    assert isinstance(params, BgNbdParams)
    assert (round(params.r, 3), round(params.alpha, 3), round(params.a, 3), round(params.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(cdnow_bgnbd.log_likelihood, 1) == -9582.4
    assert cdnow_bgnbd.n == 2357
    assert cdnow_bgnbd.converged


def test_it_gives_the_published_log_likelihood_at_the_published_estimates(cdnow: SummaryData) -> None:
    total = bgnbd.log_likelihood(PUBLISHED, cdnow.frequency, cdnow.recency, cdnow.T).sum()
    assert total == pytest.approx(-9582.4, abs=0.05)


def test_it_finds_the_same_optimum_as_lifetimes(cdnow: SummaryData, cdnow_bgnbd: FitResult) -> None:
    reference = BetaGeoFitter(penalizer_coef=0.0)
    reference.fit(pd.Series(cdnow.frequency), pd.Series(cdnow.recency), pd.Series(cdnow.T), tol=1e-9)
    ours = cdnow_bgnbd.params
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(reference.params_[name], rel=1e-4), name


def test_it_fits_collapsed_weighted_rows_to_the_same_result(cdnow: SummaryData, cdnow_bgnbd: FitResult) -> None:
    x, t_x, big_t, counts = bgnbd.collapse(cdnow.frequency, cdnow.recency, cdnow.T)
    assert counts.sum() == 2357
    assert x.size < 2357  # CDNOW has many identical rows (e.g. all one-off buyers of a cohort)

    weighted = bgnbd.fit(x, t_x, big_t, weights=counts)

    assert weighted.n == 2357
    assert weighted.log_likelihood == pytest.approx(cdnow_bgnbd.log_likelihood, abs=1e-6)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(weighted.params, name) == pytest.approx(getattr(cdnow_bgnbd.params, name), rel=1e-6)


def test_it_treats_integer_weights_as_repeated_rows() -> None:
    x = np.array([0, 1, 3, 2, 0])
    t_x = np.array([0.0, 2.0, 10.0, 5.5, 0.0])
    big_t = np.array([12.0, 12.0, 15.0, 30.0, 30.0])
    counts = np.array([3, 1, 2, 4, 5])

    weighted = bgnbd.log_likelihood(PUBLISHED, x, t_x, big_t) @ counts
    repeated = bgnbd.log_likelihood(PUBLISHED, np.repeat(x, counts), np.repeat(t_x, counts), np.repeat(big_t, counts))

    assert weighted == pytest.approx(repeated.sum(), rel=1e-12)


# --- agreement with lifetimes on the same parameters ---------------------------------------------------------


def test_probability_alive_matches_lifetimes(cdnow: SummaryData, cdnow_bgnbd: FitResult) -> None:
    params = cdnow_bgnbd.params
    ours = bgnbd.probability_alive(params, cdnow.frequency, cdnow.recency, cdnow.T)
    theirs = lifetimes_model(params).conditional_probability_alive(cdnow.frequency, cdnow.recency, cdnow.T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("t", [1.0, 4.345, 10.0, 39.0, 52.0, 104.0])
def test_conditional_expected_purchases_match_lifetimes(cdnow: SummaryData, cdnow_bgnbd: FitResult, t: float) -> None:
    params = cdnow_bgnbd.params
    ours = bgnbd.conditional_expected_purchases(params, t, cdnow.frequency, cdnow.recency, cdnow.T)
    theirs = lifetimes_model(params).conditional_expected_number_of_purchases_up_to_time(
        t, cdnow.frequency, cdnow.recency, cdnow.T
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


def test_unconditional_expected_purchases_match_lifetimes(cdnow_bgnbd: FitResult) -> None:
    params = cdnow_bgnbd.params
    horizon = np.array([0.5, 1.0, 10.0, 39.0, 78.0, 500.0])
    theirs = lifetimes_model(params).expected_number_of_purchases_up_to_time(horizon)
    np.testing.assert_allclose(bgnbd.expected_purchases(params, horizon), theirs, rtol=1e-6, atol=0)


def test_predictions_match_lifetimes_for_a_customer_with_dropout_parameter_above_one() -> None:
    params = BgNbdParams(r=1.7, alpha=12.0, a=2.5, b=6.0)
    x = np.array([0, 1, 4, 25, 80])
    t_x = np.array([0.0, 3.0, 20.0, 51.0, 52.0])
    big_t = np.full(5, 52.0)
    theirs = lifetimes_model(params)
    np.testing.assert_allclose(
        bgnbd.conditional_expected_purchases(params, 26.0, x, t_x, big_t),
        theirs.conditional_expected_number_of_purchases_up_to_time(26.0, x, t_x, big_t),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        bgnbd.probability_alive(params, x, t_x, big_t),
        theirs.conditional_probability_alive(x, t_x, big_t),
        rtol=1e-6,
    )


# --- closed forms and edges -----------------------------------------------------------------------------


def test_log_likelihood_matches_the_naive_formula_for_small_counts() -> None:
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    cases = [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 12.5, 20.0)]
    for x, t_x, big_t in cases:
        common = gamma_fn(r + x) * alpha**r / gamma_fn(r)
        naive = beta_fn(a, b + x) / beta_fn(a, b) * common / (alpha + big_t) ** (r + x)
        if x > 0:
            naive += beta_fn(a + 1, b + x - 1) / beta_fn(a, b) * common / (alpha + t_x) ** (r + x)
        assert bgnbd.log_likelihood(PUBLISHED, x, t_x, big_t) == pytest.approx(math.log(naive), rel=1e-12)


def test_a_customer_without_repeat_purchases_is_alive_with_likelihood_of_no_purchase() -> None:
    assert bgnbd.probability_alive(PUBLISHED, 0, 0.0, 38.86) == 1.0
    # L = (α / (α + T))^r: no purchase from a Poisson–gamma mixture, dropout irrelevant.
    expected = PUBLISHED.r * math.log(PUBLISHED.alpha / (PUBLISHED.alpha + 38.86))
    assert float(bgnbd.log_likelihood(PUBLISHED, 0, 0.0, 38.86)) == pytest.approx(expected, rel=1e-12)


def test_probability_alive_follows_the_closed_form() -> None:
    x, t_x, big_t = 2, 30.43, 38.86
    p = PUBLISHED
    odds = p.a / (p.b + x - 1) * ((p.alpha + big_t) / (p.alpha + t_x)) ** (p.r + x)
    assert bgnbd.probability_alive(p, x, t_x, big_t) == pytest.approx(1 / (1 + odds), rel=1e-12)


def test_expected_purchases_over_zero_time_are_zero() -> None:
    assert bgnbd.expected_purchases(PUBLISHED, 0.0) == 0.0
    assert bgnbd.conditional_expected_purchases(PUBLISHED, 0.0, 3, 20.0, 38.86) == 0.0


def test_scalar_inputs_return_floats_and_arrays_return_arrays() -> None:
    assert isinstance(bgnbd.probability_alive(PUBLISHED, 1, 2.0, 10.0), float)
    assert isinstance(bgnbd.conditional_expected_purchases(PUBLISHED, 5.0, 1, 2.0, 10.0), float)
    out = bgnbd.conditional_expected_purchases(PUBLISHED, np.array([1.0, 2.0]), 1, 2.0, 10.0)
    assert isinstance(out, np.ndarray) and out.shape == (2,)


def test_a_dropout_shape_of_exactly_one_is_evaluated_at_the_limit() -> None:
    near = BgNbdParams(r=0.5, alpha=5.0, a=1.0 + 1e-4, b=2.0)
    exact = BgNbdParams(r=0.5, alpha=5.0, a=1.0, b=2.0)
    value = bgnbd.conditional_expected_purchases(exact, 10.0, 2, 5.0, 20.0)
    assert math.isfinite(value)
    assert value == pytest.approx(bgnbd.conditional_expected_purchases(near, 10.0, 2, 5.0, 20.0), rel=1e-3)


def test_it_rejects_recency_after_T_and_negative_counts() -> None:
    with pytest.raises(ValueError, match="recency must not exceed T"):
        bgnbd.log_likelihood(PUBLISHED, 1, 40.0, 39.0)
    with pytest.raises(ValueError, match=">= 0"):
        bgnbd.probability_alive(PUBLISHED, -1, 0.0, 39.0)
    with pytest.raises(ValueError, match="repeat purchase"):
        bgnbd.fit([0, 0], [0.0, 0.0], [10.0, 20.0])


def test_the_analytic_gradient_matches_finite_differences(cdnow: SummaryData) -> None:
    x, t_x, big_t, w = bgnbd.collapse(cdnow.frequency, cdnow.recency, cdnow.T)
    levels, index = np.unique(x, return_inverse=True)
    args = (levels, np.bincount(index, weights=w), index, x, t_x / 3.886, big_t / 3.886, w, float(w.sum()))
    for point in ([-1.2, 0.3, -0.1, 0.8], [0.5, -0.7, 1.1, -0.4], [0.0, 0.0, 0.0, 0.0]):
        theta = np.array(point)
        _, analytic = bgnbd._negative_mean_log_likelihood(theta, *args)
        numeric = approx_fprime(theta, lambda p: bgnbd._negative_mean_log_likelihood(p, *args)[0], 1e-7)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


# --- numerical stability --------------------------------------------------------------------------------


def test_it_stays_finite_for_a_very_frequent_buyer_over_a_very_long_time() -> None:
    x = np.array([5000, 5000, 5000, 0])
    t_x = np.array([1e6, 5e5, 1.0, 0.0])
    big_t = np.array([1e6, 1e6, 1e6, 1e6])

    ll = bgnbd.log_likelihood(PUBLISHED, x, t_x, big_t)
    alive = bgnbd.probability_alive(PUBLISHED, x, t_x, big_t)
    expected = bgnbd.conditional_expected_purchases(PUBLISHED, 52.0, x, t_x, big_t)

    assert np.all(np.isfinite(ll))
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[0] > 0.99  # bought right up to the end: surely alive
    assert alive[2] < 1e-300 or alive[2] == 0.0  # 5,000 purchases then silence for ~a million weeks
    assert alive[3] == 1.0
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    # Alive, a 5,000-purchase customer buys at ~ (r+x)/(α+T) per week.
    assert expected[0] == pytest.approx(52.0 * (PUBLISHED.r + 5000) / (PUBLISHED.alpha + 1e6), rel=1e-3)


def test_fit_is_finite_on_a_book_with_an_extreme_customer(cdnow: SummaryData) -> None:
    x = np.append(cdnow.frequency, 5000)
    t_x = np.append(cdnow.recency, 38.0)
    big_t = np.append(cdnow.T, 38.86)
    result = bgnbd.fit(x, t_x, big_t)
    assert result.converged
    assert math.isfinite(result.log_likelihood)


# --- properties -----------------------------------------------------------------------------------------

params_strategy = st.builds(
    BgNbdParams,
    r=st.floats(0.05, 20.0),
    alpha=st.floats(0.1, 100.0),
    a=st.floats(0.05, 20.0),
    b=st.floats(0.05, 20.0),
)


@st.composite
def customers(draw: st.DrawFn) -> tuple[int, float, float]:
    big_t = draw(st.floats(0.0, 1e5))
    x = draw(st.integers(0, 10_000))
    t_x = 0.0 if x == 0 else big_t * draw(st.floats(0.0, 1.0))
    return x, t_x, big_t


@settings(max_examples=300, deadline=None)
@given(params=params_strategy, customer=customers())
def test_log_likelihood_is_finite_and_probability_alive_is_a_probability(
    params: BgNbdParams, customer: tuple[int, float, float]
) -> None:
    x, t_x, big_t = customer
    ll = float(bgnbd.log_likelihood(params, x, t_x, big_t))
    alive = bgnbd.probability_alive(params, x, t_x, big_t)
    assert math.isfinite(ll)
    assert 0.0 <= alive <= 1.0
    if x == 0:
        assert alive == 1.0


@settings(max_examples=200, deadline=None)
@given(params=params_strategy, customer=customers(), t1=st.floats(0.0, 500.0), dt=st.floats(0.0, 500.0))
def test_expected_purchases_never_decrease_with_the_horizon(
    params: BgNbdParams, customer: tuple[int, float, float], t1: float, dt: float
) -> None:
    x, t_x, big_t = customer
    short = bgnbd.conditional_expected_purchases(params, t1, x, t_x, big_t)
    long = bgnbd.conditional_expected_purchases(params, t1 + dt, x, t_x, big_t)
    assert math.isfinite(short) and math.isfinite(long)
    assert short >= -1e-12
    assert long >= short - 1e-9 * max(1.0, abs(short))


def test_it_steps_around_scipys_hyp2f1_failure_when_r_minus_a_is_whole() -> None:
    # hyp2f1(1, -0.5, 99.5, z > 0.9) is NaN in scipy: c − a − b = x + r + 1 − a is an integer here.
    whole = BgNbdParams(r=0.5, alpha=1.0, a=0.5, b=2.0)
    nearby = BgNbdParams(r=0.5 + 1e-5, alpha=1.0, a=0.5, b=2.0)
    value = bgnbd.conditional_expected_purchases(whole, 100.0, 98, 9.0, 10.0)
    assert math.isfinite(value)
    assert value == pytest.approx(bgnbd.conditional_expected_purchases(nearby, 100.0, 98, 9.0, 10.0), rel=1e-4)
