"""Shifted-beta-geometric contractual retention model (Fader & Hardie 2007, "How to project customer retention").

Each subscriber churns at the end of any contract period with a fixed probability θ, θ ~ Beta(α, β) across
the cohort. Periods are the contract's (years, months...): t = 1, 2, ... counts renewal decisions, and every
rate here is per period. Heterogeneity makes the cohort's retention rate rise with tenure.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeResult, minimize
from scipy.special import betaln, digamma, hyp2f1

from .predict import FitResult, SbgParams

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

_LOG_BOUND = 20.0


def _converged(result: OptimizeResult) -> bool:
    """L-BFGS-B's success flag, or a vanishing gradient when its line search merely ran out of precision."""
    return bool(result.success) or float(np.max(np.abs(result.jac))) < 1e-8


def _scalar_or_array(values: ArrayLike, *inputs: ArrayLike) -> FloatArray | float:
    array = np.asarray(values, dtype=float)
    if all(np.ndim(v) == 0 for v in inputs):
        return float(array)
    return array


def _hyp2f1_one(b: FloatArray, c: FloatArray, z: float) -> FloatArray:
    """₂F₁(1, b; c; z) for 0 < b < c and 0 <= z < 1, i.e. E[1 / (1 − z s)] with s ~ Beta(b, c − b).

    scipy's hyp2f1 is accurate where it returns a value in the bounds [1, 1/(1−z)] this mean must lie in,
    but returns NaN or inf for z > 0.9 when c − b − 1 (= α − 1 for DERL) is a whole number, and for z
    very close to 1. There the series Σ_k (b)_k/(c)_k z^k is summed directly: its terms are positive and
    shrink by at least z per step, so plain summation is stable; it runs once per distinct (b, c).
    """
    value = np.ravel(np.array(hyp2f1(1.0, b, c, z), dtype=float))
    upper = math.inf if z >= 1.0 else 1.0 / (1.0 - z)
    failed = ~(np.isfinite(value) & (value >= 1.0 - 1e-12) & (value <= upper * (1.0 + 1e-12)))
    if np.any(failed) and z < 1.0:
        pairs, inverse = np.unique(
            np.column_stack((np.ravel(b)[failed], np.ravel(c)[failed])), axis=0, return_inverse=True
        )
        value[failed] = _series_one(pairs[:, 0], pairs[:, 1], z)[np.ravel(inverse)]
    return value


def _series_one(b: FloatArray, c: FloatArray, z: float, block: int = 4096, max_terms: int = 5_000_000) -> FloatArray:
    total = np.ones_like(b)
    term = np.ones_like(b)
    start = 0
    while start < max_terms:
        k = np.arange(start, start + block, dtype=float)
        terms = term[:, None] * np.cumprod(z * (b[:, None] + k) / (c[:, None] + k), axis=1)
        total += terms.sum(axis=1)
        term = terms[:, -1]
        start += block
        if np.all(term <= 1e-17 * total):
            break
    # Past the cap, the remaining ratios are below z: bound the tail by a geometric series.
    return total + term * z / (1.0 - z)


def _periods(t: ArrayLike, *, minimum: int) -> FloatArray:
    periods = np.asarray(t, dtype=float)
    if np.any(np.isnan(periods)) or np.any(periods < minimum):
        raise ValueError(f"periods must be >= {minimum}")
    return periods


def churn_probability(params: SbgParams, t: ArrayLike) -> FloatArray | float:
    """P(T = t) = B(α+1, β+t−1) / B(α, β): probability a new subscriber churns at the end of period t >= 1."""
    periods = _periods(t, minimum=1)
    alpha, beta = params.alpha, params.beta
    value = np.exp(betaln(alpha + 1.0, beta + periods - 1.0) - betaln(alpha, beta))
    return _scalar_or_array(value, t)


def survival(params: SbgParams, t: ArrayLike) -> FloatArray | float:
    """S(t) = P(T > t) = B(α, β+t) / B(α, β): share of a new cohort still subscribed after t renewals.

    S(0) = 1; decreasing in t; t in contract periods (non-integer t interpolates the closed form).
    """
    periods = _periods(t, minimum=0)
    alpha, beta = params.alpha, params.beta
    value = np.exp(betaln(alpha, beta + periods) - betaln(alpha, beta))
    return _scalar_or_array(value, t)


def retention_rate(params: SbgParams, t: ArrayLike) -> FloatArray | float:
    """r(t) = S(t) / S(t−1) = (β + t − 1) / (α + β + t − 1): share of period-(t−1) survivors renewing at t >= 1."""
    periods = _periods(t, minimum=1)
    alpha, beta = params.alpha, params.beta
    value = (beta + periods - 1.0) / (alpha + beta + periods - 1.0)
    return _scalar_or_array(value, t)


def _validate_alive(alive: ArrayLike) -> FloatArray:
    counts = np.asarray(alive, dtype=float)
    if counts.ndim != 1 or counts.size < 2:
        raise ValueError("alive must be a 1-D curve with at least periods 0 and 1")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("alive counts must be finite and >= 0")
    if counts[0] <= 0:
        raise ValueError("alive at period 0 (the cohort size) must be > 0")
    if np.any(np.diff(counts) > 0):
        first = int(np.argmax(np.diff(counts) > 0)) + 1
        raise ValueError(f"alive must not increase: period {first} has more than period {first - 1}")
    return counts


def log_likelihood(params: SbgParams, alive: ArrayLike) -> float:
    """Log-likelihood of a cohort's survival curve ``alive`` = [n_0, n_1, ..., n_k] (n_t still active after t).

    Σ_{t=1..k} (n_{t−1} − n_t) ln P(T = t) + n_k ln S(k): the churners of each period plus the survivors
    still active at the end. Counts may be non-integer (e.g. per cent of the cohort); the MLE is unchanged by
    rescaling the counts, the log-likelihood scales with them.
    """
    counts = _validate_alive(alive)
    k = counts.size - 1
    periods = np.arange(1, k + 1, dtype=float)
    churned = -np.diff(counts)
    alpha, beta = params.alpha, params.beta
    log_churn = betaln(alpha + 1.0, beta + periods - 1.0) - betaln(alpha, beta)
    log_survive = betaln(alpha, beta + k) - betaln(alpha, beta)
    # 0 · ln P is 0 even where a probability underflows.
    return float(
        np.sum(np.where(churned > 0, churned * log_churn, 0.0)) + (counts[-1] * log_survive if counts[-1] else 0.0)
    )


def _negative_log_likelihood(log_params: FloatArray, churned: FloatArray, survivors: float) -> tuple[float, FloatArray]:
    alpha, beta = np.exp(log_params)
    k = churned.size
    periods = np.arange(1, k + 1, dtype=float)
    beta_ab = betaln(alpha, beta)
    psi_ab = digamma(alpha + beta)
    psi_abt = digamma(alpha + beta + periods)
    psi_abk = digamma(alpha + beta + k)
    ll = churned @ (betaln(alpha + 1.0, beta + periods - 1.0) - beta_ab) + survivors * (
        betaln(alpha, beta + k) - beta_ab
    )
    # d/dα ln B(α+1, β+t−1)/B(α, β) = ψ(α+1) − ψ(α) − ψ(α+β+t) + ψ(α+β), and ψ(α+1) − ψ(α) = 1/α.
    g_alpha = churned @ (1.0 / alpha - psi_abt + psi_ab) + survivors * (psi_ab - psi_abk)
    g_beta = churned @ (digamma(beta + periods - 1.0) - psi_abt - digamma(beta) + psi_ab) + survivors * (
        digamma(beta + k) - psi_abk - digamma(beta) + psi_ab
    )
    total = churned.sum() + survivors
    return -ll / total, -np.array([g_alpha * alpha, g_beta * beta]) / total


def fit(alive: ArrayLike, *, tol: float = 1e-14, max_iterations: int = 1000) -> FitResult:
    """Maximum-likelihood sBG fit of (α, β) from one cohort's survival curve ``alive`` = [n_0, ..., n_k].

    Uses periods 1..k (k >= 1); ``n`` is the cohort size n_0 rounded. L-BFGS-B over log-parameters with the
    analytic gradient. When nobody ever churns (or everybody churns at once) the MLE runs off to the bounds
    and ``converged`` may still be True: check the parameters' size.
    """
    counts = _validate_alive(alive)
    churned = -np.diff(counts)
    survivors = float(counts[-1])
    result = minimize(
        _negative_log_likelihood,
        np.zeros(2),
        args=(churned, survivors),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 2,
        options={"ftol": tol, "gtol": 1e-12, "maxiter": max_iterations},
    )
    alpha, beta = np.exp(result.x)
    params = SbgParams(alpha=float(alpha), beta=float(beta))
    return FitResult(
        params=params,
        log_likelihood=log_likelihood(params, counts),
        n=int(round(counts[0])),
        converged=_converged(result),
        iterations=int(result.nit),
        message=str(result.message),
    )


def derl(params: SbgParams, renewals: ArrayLike, discount_rate: float) -> FloatArray | float:
    """Discounted expected residual lifetime of a subscriber who has renewed ``renewals`` = n times.

    Fader & Hardie (2010), "Customer-base valuation in a contractual setting":

        DERL(d | α, β, n) = Σ_{k>=1} S(n+k)/S(n) · (1+d)^−(k−1)
                          = (β+n)/(α+β+n) · ₂F₁(1, β+n+1; α+β+n+1; 1/(1+d))

    The customer has paid for n+1 periods and is at the renewal decision that ends the last one: the next
    payment counts in full if they renew, each later one is discounted by one more period, each weighted by
    the probability they are still subscribed. Multiply by the margin per period for the residual CLV.
    ``discount_rate`` d is per contract period, d >= 0; with d = 0 the sum is finite only for α > 1 (inf
    otherwise).
    """
    n = _periods(renewals, minimum=0)
    if not discount_rate >= 0:
        raise ValueError(f"discount_rate must be >= 0, got {discount_rate}")
    alpha, beta = params.alpha, params.beta
    z = 1.0 / (1.0 + discount_rate)
    if discount_rate == 0:
        # Undiscounted: the mean residual lifetime (β+n)/(α−1), finite only when α > 1.
        value = (beta + n) / (alpha - 1.0) if alpha > 1.0 else np.full_like(n, np.inf)
        return _scalar_or_array(value, renewals)
    hyp = _hyp2f1_one(np.ravel(beta + n + 1.0), np.ravel(alpha + beta + n + 1.0), z).reshape(n.shape)
    value = (beta + n) / (alpha + beta + n) * hyp
    return _scalar_or_array(value, renewals)


def discounted_expected_lifetime(params: SbgParams, discount_rate: float) -> float:
    """DEL(d | α, β) = ₂F₁(1, β; α+β; 1/(1+d)): expected discounted number of payments of a new subscriber.

    Σ_{t>=0} S(t) (1+d)^−t (Fader & Hardie 2010): includes the first payment, made undiscounted at
    acquisition. Multiply by the margin per period for a new customer's expected CLV. ``discount_rate`` per
    period, >= 0; inf when d = 0 and α <= 1.
    """
    if not discount_rate >= 0:
        raise ValueError(f"discount_rate must be >= 0, got {discount_rate}")
    if discount_rate == 0:
        return 1.0 + params.beta / (params.alpha - 1.0) if params.alpha > 1.0 else math.inf
    z = 1.0 / (1.0 + discount_rate)
    return float(_hyp2f1_one(np.array([params.beta]), np.array([params.alpha + params.beta]), z)[0])


def _negative_censored_log_likelihood(
    log_params: FloatArray, churn_t: FloatArray, churn_n: FloatArray, alive_t: FloatArray, alive_n: FloatArray
) -> tuple[float, FloatArray]:
    alpha, beta = np.exp(log_params)
    beta_ab, psi_ab = betaln(alpha, beta), digamma(alpha + beta)
    # churned at the end of period t: ln P(T = t) = ln B(α+1, β+t−1) − ln B(α, β)
    psi_c = digamma(alpha + beta + churn_t)
    ll = churn_n @ (betaln(alpha + 1.0, beta + churn_t - 1.0) - beta_ab)
    g_alpha = churn_n @ (1.0 / alpha - psi_c + psi_ab)
    g_beta = churn_n @ (digamma(beta + churn_t - 1.0) - psi_c - digamma(beta) + psi_ab)
    # still subscribed after t periods (right-censored): ln S(t) = ln B(α, β+t) − ln B(α, β)
    psi_s = digamma(alpha + beta + alive_t)
    ll += alive_n @ (betaln(alpha, beta + alive_t) - beta_ab)
    g_alpha += alive_n @ (psi_ab - psi_s)
    g_beta += alive_n @ (digamma(beta + alive_t) - psi_s - digamma(beta) + psi_ab)
    total = churn_n.sum() + alive_n.sum()
    return -ll / total, -np.array([g_alpha * alpha, g_beta * beta]) / total


def fit_censored(
    periods: ArrayLike, churned: ArrayLike, *, tol: float = 1e-14, max_iterations: int = 1000
) -> FitResult:
    """Maximum-likelihood sBG fit from individual subscribers observed for different lengths of time.

    ``periods[i]`` is how many contract periods subscriber i was observed; ``churned[i]`` says whether they
    churned at the end of period ``periods[i]`` (>= 1) or are still subscribed after it (right-censored; 0
    is allowed and contributes nothing). This is the likelihood of a whole customer base acquired at
    different times; a single cohort's survival curve (``fit``) is the special case where every survivor is
    observed for the same k periods. Identical (periods, churned) pairs are collapsed into counts.
    """
    t = np.asarray(periods, dtype=float)
    is_churn = np.asarray(churned, dtype=bool)
    if t.shape != is_churn.shape or t.ndim != 1:
        raise ValueError("periods and churned must be 1-D arrays of the same length")
    if np.any(t < 0) or np.any(t[is_churn] < 1) or np.any(t != np.round(t)):
        raise ValueError("periods must be whole numbers, >= 1 for churned subscribers and >= 0 otherwise")
    churn_t, churn_n = np.unique(t[is_churn], return_counts=True)
    alive_t, alive_n = np.unique(t[~is_churn & (t > 0)], return_counts=True)
    args = (churn_t, churn_n.astype(float), alive_t, alive_n.astype(float))
    result = minimize(
        _negative_censored_log_likelihood, np.zeros(2), args=args, jac=True, method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 2, options={"ftol": tol, "gtol": 1e-12, "maxiter": max_iterations},
    )
    alpha, beta = np.exp(result.x)
    params = SbgParams(alpha=float(alpha), beta=float(beta))
    negative_mean, _ = _negative_censored_log_likelihood(result.x, *args)
    return FitResult(
        params=params,
        log_likelihood=float(-negative_mean * (churn_n.sum() + alive_n.sum())),
        n=int(t.size),
        converged=_converged(result),
        iterations=int(result.nit),
        message=str(result.message),
    )
