"""Shifted-beta-geometric: Fader & Hardie (2007) published fits, closed forms, DERL, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

from profitability.clv import sbg
from profitability.clv.predict import SbgParams

# Per cent of 1,000 customers still active at years 0–7 (Fader & Hardie 2007, "How to project customer retention").
REGULAR = np.array([100, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1]) * 10
HIGH_END = np.array([100, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1]) * 10


def test_it_reproduces_the_published_regular_segment_fit() -> None:
    result = sbg.fit(REGULAR)
    assert (round(result.params.alpha, 3), round(result.params.beta, 3)) == (0.704, 1.182)
    assert result.n == 1000
    assert result.converged


def test_it_reproduces_the_published_high_end_segment_fit() -> None:
    result = sbg.fit(HIGH_END)
    assert (round(result.params.alpha, 3), round(result.params.beta, 3)) == (0.668, 3.806)


def test_the_fit_does_not_depend_on_counts_versus_percentages() -> None:
    from_counts = sbg.fit(REGULAR).params
    from_percent = sbg.fit(REGULAR / 10).params
    assert from_percent.alpha == pytest.approx(from_counts.alpha, rel=1e-6)
    assert from_percent.beta == pytest.approx(from_counts.beta, rel=1e-6)


def test_the_log_likelihood_counts_churners_and_the_survivors_at_the_end() -> None:
    params = SbgParams(alpha=0.704, beta=1.182)
    churned = -np.diff(REGULAR)
    by_hand = sum(c * math.log(sbg.churn_probability(params, t)) for t, c in enumerate(churned, start=1))
    by_hand += REGULAR[-1] * math.log(sbg.survival(params, 7))
    assert sbg.log_likelihood(params, REGULAR) == pytest.approx(by_hand, rel=1e-12)


def test_survival_is_the_product_of_retention_rates_and_churn_closes_the_books() -> None:
    params = SbgParams(alpha=0.668, beta=3.806)
    t = np.arange(1, 13)
    assert sbg.survival(params, 0) == 1.0
    np.testing.assert_allclose(sbg.survival(params, t), np.cumprod(sbg.retention_rate(params, t)), rtol=1e-12)
    np.testing.assert_allclose(
        np.cumsum(sbg.churn_probability(params, t)) + sbg.survival(params, t), np.ones(12), rtol=1e-12
    )
    assert sbg.retention_rate(params, 3) == pytest.approx((3.806 + 2) / (0.668 + 3.806 + 2), rel=1e-15)
    assert sbg.churn_probability(params, 1) == pytest.approx(0.668 / (0.668 + 3.806), rel=1e-12)


def test_derl_equals_the_discounted_sum_of_conditional_survival() -> None:
    params = SbgParams(alpha=0.704, beta=1.182)
    d = 0.1
    for n in (0, 1, 4, 20):
        k = np.arange(1, 4000)
        brute = np.sum(sbg.survival(params, n + k) / sbg.survival(params, n) * (1 + d) ** -(k - 1.0))
        assert sbg.derl(params, n, d) == pytest.approx(brute, rel=1e-10)


def test_del_of_a_new_customer_is_the_first_payment_plus_discounted_derl() -> None:
    params = SbgParams(alpha=0.668, beta=3.806)
    d = 0.1
    assert sbg.discounted_expected_lifetime(params, d) == pytest.approx(1 + sbg.derl(params, 0, d) / (1 + d))


def test_derl_without_discounting_is_the_mean_residual_lifetime() -> None:
    assert sbg.derl(SbgParams(alpha=3.0, beta=5.0), 2, 0.0) == pytest.approx((5.0 + 2) / (3.0 - 1), rel=1e-10)
    assert sbg.derl(SbgParams(alpha=0.7, beta=1.2), 2, 0.0) == math.inf
    assert sbg.discounted_expected_lifetime(SbgParams(alpha=0.7, beta=1.2), 0.0) == math.inf


def test_derl_approaches_the_homogeneous_formula_when_churn_is_the_same_for_everyone() -> None:
    # θ concentrated at 0.2: retention r = 0.8 for all, so DERL = r (1+d) / (1+d−r).
    params = SbgParams(alpha=0.2 * 1e7, beta=0.8 * 1e7)
    assert sbg.derl(params, 3, 0.1) == pytest.approx(0.8 * 1.1 / (1.1 - 0.8), rel=1e-5)


def test_loyal_cohorts_are_worth_more_the_longer_they_stay() -> None:
    params = SbgParams(alpha=0.704, beta=1.182)
    values = sbg.derl(params, np.arange(0, 10), 0.1)
    assert np.all(np.diff(values) > 0)


def test_it_rejects_bad_survival_curves_and_rates() -> None:
    with pytest.raises(ValueError, match="must not increase: period 2"):
        sbg.fit([1000, 600, 700])
    with pytest.raises(ValueError, match="at least periods 0 and 1"):
        sbg.fit([1000])
    with pytest.raises(ValueError, match="cohort size"):
        sbg.fit([0, 0])
    with pytest.raises(ValueError, match="discount_rate"):
        sbg.derl(SbgParams(alpha=1.0, beta=1.0), 0, -0.1)
    with pytest.raises(ValueError, match=">= 1"):
        sbg.retention_rate(SbgParams(alpha=1.0, beta=1.0), 0)


def test_the_analytic_gradient_matches_finite_differences() -> None:
    churned, survivors = -np.diff(HIGH_END), float(HIGH_END[-1])
    for point in ([0.0, 0.0], [-0.4, 1.3], [1.0, -1.0]):
        theta = np.array(point)
        _, analytic = sbg._negative_log_likelihood(theta, churned, survivors)
        numeric = approx_fprime(theta, lambda p: sbg._negative_log_likelihood(p, churned, survivors)[0], 1e-8)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


params_strategy = st.builds(SbgParams, alpha=st.floats(0.01, 100.0), beta=st.floats(0.01, 100.0))


@settings(max_examples=300, deadline=None)
@given(params=params_strategy)
def test_survival_decreases_from_one_and_retention_rises(params: SbgParams) -> None:
    t = np.arange(0, 60, dtype=float)
    survival = sbg.survival(params, t)
    assert survival[0] == 1.0
    assert np.all(survival > 0) and np.all(survival <= 1)
    assert np.all(np.diff(survival) < 0)
    retention = sbg.retention_rate(params, t[1:])
    assert np.all(np.diff(retention) >= 0)
    assert np.all(np.isfinite(sbg.derl(params, t, 0.05)))


@st.composite
def survival_curves(draw: st.DrawFn) -> list[int]:
    curve = [draw(st.integers(1, 100_000))]
    for _ in range(draw(st.integers(1, 12))):
        curve.append(draw(st.integers(0, curve[-1])))
    return curve


@settings(max_examples=200, deadline=None)
@given(params=params_strategy, curve=survival_curves())
def test_log_likelihood_is_finite_for_any_valid_curve(params: SbgParams, curve: list[int]) -> None:
    assert math.isfinite(sbg.log_likelihood(params, curve))


@pytest.mark.parametrize(
    ("alpha", "beta", "n", "d"), [(45.0, 43.0, 59, 0.05), (2.0, 130.0, 0, 0.01), (1.0, 0.5, 3, 0.001)]
)
def test_derl_survives_scipys_hyp2f1_failures(alpha: float, beta: float, n: int, d: float) -> None:
    # A whole-number α makes c − a − b an integer, where scipy's hyp2f1 returns NaN for z = 1/(1+d) > 0.9.
    params = SbgParams(alpha=alpha, beta=beta)
    k = np.arange(1, 200_000)
    brute = np.sum(np.exp(np.cumsum(np.log((beta + n + k - 1) / (alpha + beta + n + k - 1)))) * (1 + d) ** -(k - 1.0))
    assert sbg.derl(params, n, d) == pytest.approx(brute, rel=1e-9)


class TestCensoredFit:
    """The individual-level fit used on a book of subscribers acquired at different times."""

    def test_it_matches_the_cohort_fit_when_everyone_is_observed_equally_long(self):
        from profitability.clv.sbg import fit, fit_censored

        alive = np.array([1000, 631, 468, 382, 326, 289, 262, 241])
        churned_per_year = -np.diff(alive)
        periods = np.concatenate([np.repeat(np.arange(1, 8), churned_per_year), np.full(alive[-1], 7)])
        churned = np.concatenate([np.ones(churned_per_year.sum(), bool), np.zeros(alive[-1], bool)])
        cohort, individual = fit(alive), fit_censored(periods, churned)
        assert individual.params.alpha == pytest.approx(cohort.params.alpha, rel=1e-6)
        assert individual.params.beta == pytest.approx(cohort.params.beta, rel=1e-6)
        assert individual.log_likelihood == pytest.approx(cohort.log_likelihood, rel=1e-9)
        assert (round(individual.params.alpha, 3), round(individual.params.beta, 3)) == (0.704, 1.182)

    def test_it_recovers_parameters_from_staggered_right_censored_cohorts(self):
        from profitability.clv.predict import SbgParams
        from profitability.clv.sbg import fit_censored

        rng = np.random.default_rng(11)
        truth = SbgParams(alpha=0.7, beta=2.5)
        theta = rng.beta(truth.alpha, truth.beta, size=40_000)
        lifetime = rng.geometric(theta)  # churns at the end of this period
        observed = rng.integers(0, 9, size=theta.size)  # acquired 0..8 years ago
        churned = lifetime <= observed
        periods = np.where(churned, lifetime, observed)
        result = fit_censored(periods, churned)
        assert result.converged
        assert result.params.alpha == pytest.approx(truth.alpha, rel=0.08)
        assert result.params.beta == pytest.approx(truth.beta, rel=0.08)

    def test_it_rejects_a_churn_before_the_first_period(self):
        from profitability.clv.sbg import fit_censored

        with pytest.raises(ValueError, match="whole numbers"):
            fit_censored(np.array([0, 2]), np.array([True, False]))
