"""Gamma-Gamma spend model (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and CLV").

Each transaction of a customer has value z ~ Gamma(shape p, rate ν) and ν ~ Gamma(shape q, rate γ) across
customers. Fitted on customers with x >= 1 repeat purchases from (x, m̄), m̄ = the mean value of those x
transactions. Money is in the caller's unit; ``gamma`` comes out in it. The model assumes spend is
independent of purchase frequency: ``spend_frequency_correlation`` gives the number to report.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeResult, minimize
from scipy.special import digamma, gammaln

from .predict import FitResult, GammaGammaParams

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

_LOG_BOUND = 20.0


def _converged(result: OptimizeResult) -> bool:
    """L-BFGS-B's success flag, or a vanishing gradient when its line search merely ran out of precision."""
    return bool(result.success) or float(np.max(np.abs(result.jac))) < 1e-8


def _dot(a: ArrayLike, b: ArrayLike) -> float:
    """Σ a·b summed by NumPy rather than BLAS: a threaded OpenBLAS dot stalls badly on a busy 2-core machine."""
    return float(np.sum(np.multiply(a, b)))


def _repeat_buyers(
    frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Keep customers with x >= 1 (and positive weight); validate their mean values."""
    x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
    x, m = np.ravel(x), np.ravel(m)
    w = np.ones_like(x) if weights is None else np.ravel(np.asarray(weights, dtype=float))
    if w.shape != x.shape:
        raise ValueError(f"weights has {w.size} entries for {x.size} customers")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("frequency must be finite and >= 0")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    keep = (x >= 1) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError("monetary_value must be finite and > 0 for customers with frequency >= 1")
    return x, m, w


def log_likelihood(params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
    """Per-customer log-density of the mean spend m̄ given x >= 1 transactions, constants included:

        ln f(m̄ | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m̄ + px ln x − (px+q) ln(γ + x m̄)

    Units: ``monetary_value`` in the money unit of ``params.gamma``. Customers with x = 0 carry no spend
    information and get NaN.
    """
    x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
    p, q, gamma = params.p, params.q, params.gamma
    repeat = x >= 1
    x_safe = np.where(repeat, x, 1.0)
    m_safe = np.where(repeat, m, 1.0)
    px = p * x_safe
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m_safe)
        + px * np.log(x_safe)
        - (px + q) * np.log(gamma + x_safe * m_safe)
    )
    return np.asarray(np.where(repeat, ll, np.nan), dtype=float)


def _negative_mean_log_likelihood(
    log_params: FloatArray,
    x_levels: FloatArray,
    level_weight: FloatArray,
    level_index: npt.NDArray[np.intp],
    x: FloatArray,
    log_m: FloatArray,
    xm: FloatArray,
    w: FloatArray,
    total_weight: float,
) -> tuple[float, FloatArray]:
    """−(1/W) Σ w ln f and its gradient with respect to log(p, q, γ); gamma functions once per distinct x."""
    p, q, gamma = np.exp(log_params)
    px_level = p * x_levels
    level_terms = gammaln(px_level + q) - gammaln(px_level) + px_level * np.log(x_levels)
    psi_pxq = digamma(px_level + q)
    psi_px = digamma(px_level)

    px = p * x
    log_gxm = np.log(gamma + xm)
    ll = (
        _dot(level_weight, level_terms)
        + total_weight * (q * np.log(gamma) - gammaln(q))
        + _dot(w, (px - 1.0) * log_m - (px + q) * log_gxm)
    )
    wx = w * x
    g_p = _dot(level_weight * x_levels, psi_pxq - psi_px + np.log(x_levels)) + _dot(wx, log_m - log_gxm)
    g_q = _dot(level_weight, psi_pxq) - total_weight * (digamma(q) - np.log(gamma)) - _dot(w, log_gxm)
    g_gamma = total_weight * q / gamma - _dot(w, (px + q) / (gamma + xm))
    grad_log = np.array([g_p * p, g_q * q, g_gamma * gamma])
    return -ll / total_weight, -grad_log / total_weight


def fit(
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    initial: GammaGammaParams | None = None,
    tol: float = 1e-14,
    max_iterations: int = 2000,
) -> FitResult:
    """Maximum-likelihood Gamma-Gamma fit of (p, q, γ) on the customers with ``frequency`` >= 1.

    Customers with x = 0 are dropped (their mean spend is undefined); ``n`` is the number of repeat buyers
    used. Money is internally divided by the mean of m̄ so γ starts near 1; the returned ``gamma`` and
    ``log_likelihood`` are in the caller's money unit. L-BFGS-B over log-parameters, analytic gradient.
    """
    x, m, w = _repeat_buyers(frequency, monetary_value, weights)
    if w.size == 0:
        raise ValueError("Gamma-Gamma needs at least one customer with frequency >= 1")
    total_weight = float(w.sum())
    scale = 1.0 / float(np.average(m, weights=w))
    m_scaled = m * scale
    x_levels, level_index = np.unique(x, return_inverse=True)
    level_index = np.ravel(level_index)
    level_weight = np.bincount(level_index, weights=w, minlength=x_levels.size)

    start = np.zeros(3) if initial is None else np.log([initial.p, initial.q, initial.gamma * scale])
    result = minimize(
        _negative_mean_log_likelihood,
        np.clip(start, -_LOG_BOUND, _LOG_BOUND),
        args=(x_levels, level_weight, level_index, x, np.log(m_scaled), x * m_scaled, w, total_weight),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
        options={"ftol": tol, "gtol": 1e-10, "maxiter": max_iterations, "maxcor": 20},
    )
    p, q, gamma_scaled = np.exp(result.x)
    params = GammaGammaParams(p=float(p), q=float(q), gamma=float(gamma_scaled / scale))
    ll = _dot(w, log_likelihood(params, x, m))
    return FitResult(
        params=params,
        log_likelihood=ll,
        n=int(round(total_weight)),
        converged=_converged(result),
        iterations=int(result.nit),
        message=str(result.message),
    )


def conditional_expected_spend(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray | float:
    """E[M | x, m̄] = p (γ + x m̄) / (p x + q − 1): expected value of a future transaction.

    A credibility-weighted blend of the customer's own mean m̄ and the population mean p γ / (q − 1); for
    x = 0 it is the population mean whatever ``monetary_value`` holds. Infinite when q <= 1 (the population
    mean does not exist). Units: money, as ``monetary_value`` and ``params.gamma``.
    """
    x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
    p, q, gamma = params.p, params.q, params.gamma
    own_total = np.where(x > 0, x * m, 0.0)  # m̄ is meaningless (often 0 or blank) without repeat purchases
    denominator = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        spend = np.where(denominator > 0, p * (gamma + own_total) / np.where(denominator > 0, denominator, 1.0), np.inf)
    if np.ndim(frequency) == 0 and np.ndim(monetary_value) == 0:
        return float(spend)
    return np.asarray(spend, dtype=float)


def population_mean_spend(params: GammaGammaParams) -> float:
    """E[Z] = p γ / (q − 1), the mean transaction value across all customers (inf when q <= 1). Money."""
    return params.p * params.gamma / (params.q - 1.0) if params.q > 1.0 else float("inf")


def spend_frequency_correlation(frequency: ArrayLike, monetary_value: ArrayLike) -> float:
    """Pearson correlation between x and m̄ over customers with x >= 1.

    Gamma-Gamma assumes spend is independent of frequency; a value near 0 supports it (CDNOW: 0.11). Returns
    NaN when fewer than two repeat buyers or either variable is constant. Unitless.
    """
    x, m, _ = _repeat_buyers(frequency, monetary_value, None)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return float("nan")
    return float(np.corrcoef(x, m)[0, 1])
