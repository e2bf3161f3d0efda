"""BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Per customer: ``frequency`` x = number of repeat purchases, ``recency`` t_x = time of the last repeat purchase
measured from the first purchase (0 when x = 0), ``T`` = time from first purchase to the end of observation.
All three use one time unit of the caller's choice (weeks for CDNOW); ``alpha`` comes out in that unit and
every ``t`` passed to the prediction functions must be in it too.

Everything is vectorised and computed in log space (gammaln, betaln, logaddexp), so a customer with thousands
of purchases over a very long T neither overflows nor underflows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeResult, minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from .predict import BgNbdParams, FitResult

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# L-BFGS-B works on log-parameters; the box keeps exp() finite and the special functions in range.
_LOG_BOUND = 20.0


def _converged(result: OptimizeResult) -> bool:
    """L-BFGS-B's success flag, or a vanishing gradient when its line search merely ran out of precision."""
    return bool(result.success) or float(np.max(np.abs(result.jac))) < 1e-8


def _dot(a: ArrayLike, b: ArrayLike) -> float:
    """Σ a·b summed by NumPy rather than BLAS: a threaded OpenBLAS dot stalls badly on a busy 2-core machine."""
    return float(np.sum(np.multiply(a, b)))


def _summary_arrays(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, ...]:
    """Broadcast and validate (x, t_x, T); raise ValueError on the first inconsistency."""
    x, t_x, big_t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(big_t))):
        raise ValueError("frequency, recency and T must be finite")
    if np.any(x < 0) or np.any(t_x < 0):
        raise ValueError("frequency and recency must be >= 0")
    if np.any(t_x > big_t):
        raise ValueError("recency must not exceed T")
    return x, t_x, big_t


def collapse(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Merge identical (x, t_x, T) rows into one row each with the summed weight.

    Returns ``(frequency, recency, T, weights)`` for the distinct rows, sorted. Units pass through unchanged;
    ``weights`` default to 1 per customer, so the returned weights are customer counts. The log-likelihood of
    the collapsed, weighted data equals that of the original rows.
    """
    x, t_x, big_t = (np.ravel(v) for v in _summary_arrays(frequency, recency, T))
    w = np.ones_like(x) if weights is None else np.ravel(np.asarray(weights, dtype=float))
    if w.shape != x.shape:
        raise ValueError(f"weights has {w.size} entries for {x.size} customers")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    if x.size == 0:
        return x, t_x, big_t, w
    # lexsort + run boundaries: several times faster than np.unique(axis=0) on 100k rows.
    order = np.lexsort((big_t, t_x, x))
    x, t_x, big_t, w = x[order], t_x[order], big_t[order], w[order]
    starts = np.empty(x.size, dtype=bool)
    starts[0] = True
    starts[1:] = (x[1:] != x[:-1]) | (t_x[1:] != t_x[:-1]) | (big_t[1:] != big_t[:-1])
    summed = np.add.reduceat(w, np.flatnonzero(starts))
    return x[starts], t_x[starts], big_t[starts], summed


def log_likelihood(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood ln L(r, α, a, b | x, t_x, T), constants included.

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
      + [x>0] · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

    Units: t_x and T in the time unit of ``params.alpha``. Summing over the CDNOW calibration sample in weeks
    at the published estimates gives −9,582.4.
    """
    x, t_x, big_t = _summary_arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)  # keeps b + x − 1 > 0 where the term is masked out anyway
    log_a3 = np.where(
        repeat,
        betaln(a + 1.0, b + x_safe - 1.0) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(log_a1 + np.logaddexp(log_a2, log_a3), dtype=float)


def _negative_mean_log_likelihood(
    log_params: FloatArray,
    x_levels: FloatArray,
    level_weight: FloatArray,
    level_index: npt.NDArray[np.intp],
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
    w: FloatArray,
    total_weight: float,
) -> tuple[float, FloatArray]:
    """−(1/W) Σ w ln L and its gradient with respect to log(r, α, a, b).

    Every gamma/digamma depends on x only, so it is computed once per distinct x (``x_levels``) and gathered;
    the per-row work is a handful of logs and exps.
    """
    r, alpha, a, b = np.exp(log_params)
    repeat = x_levels > 0
    x_safe = np.where(repeat, x_levels, 1.0)

    beta_ab = betaln(a, b)
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + x_levels)
    log_a1 = gammaln(r + x_levels) - gammaln(r) + r * np.log(alpha)
    u_level = betaln(a, b + x_levels) - beta_ab
    v_level = np.where(repeat, betaln(a + 1.0, b + x_safe - 1.0) - beta_ab, -np.inf)
    d_a1_r = digamma(r + x_levels) - digamma(r) + np.log(alpha)
    du_a = psi_ab - psi_abx
    du_b = digamma(b + x_levels) - psi_abx - digamma(b) + psi_ab
    dv_a = 1.0 / a + psi_ab - psi_abx  # ψ(a+1) − ψ(a) = 1/a
    dv_b = np.where(repeat, digamma(b + x_safe - 1.0) - psi_abx - digamma(b) + psi_ab, 0.0)

    rx = r + x
    log_alpha_t = np.log(alpha + big_t)
    log_alpha_tx = np.log(alpha + t_x)
    u = u_level[level_index] - rx * log_alpha_t
    v = v_level[level_index] - rx * log_alpha_tx
    mix = np.logaddexp(u, v)
    share_v = np.exp(v - mix)  # weight of the "died after the last purchase" branch; 0 when x = 0
    share_u = 1.0 - share_v

    ll = _dot(level_weight, log_a1) + _dot(w, mix)
    w_u = w * share_u
    w_v = w * share_v
    n_levels = x_levels.size
    w_u_level = np.bincount(level_index, weights=w_u, minlength=n_levels)
    w_v_level = np.bincount(level_index, weights=w_v, minlength=n_levels)

    g_r = _dot(level_weight, d_a1_r) - _dot(w_u, log_alpha_t) - _dot(w_v, log_alpha_tx)
    g_alpha = total_weight * r / alpha - _dot(w_u * rx, 1.0 / (alpha + big_t)) - _dot(w_v * rx, 1.0 / (alpha + t_x))
    g_a = _dot(w_u_level, du_a) + _dot(w_v_level, dv_a)
    g_b = _dot(w_u_level, du_b) + _dot(w_v_level, dv_b)
    grad_log = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -ll / total_weight, -grad_log / total_weight


def fit(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    initial: BgNbdParams | None = None,
    tol: float = 1e-14,
    max_iterations: int = 2000,
    max_dropout_param: float | None = None,
) -> FitResult:
    """Maximum-likelihood BG/NBD fit by L-BFGS-B over log-parameters with the analytic gradient.

    ``max_dropout_param`` caps a and b. When every buyer has the same dropout probability the likelihood
    keeps rising as a, b → ∞ with a/(a+b) fixed (a degenerate beta); a cap such as 1e4 keeps that limit
    model numerically usable (₂F₁ fails for huge parameters). A fit that ends on the cap reports
    ``converged=False`` with a message saying so.

    Identical (x, t_x, T) rows are collapsed first (see ``collapse``); ``weights`` (e.g. counts of customers
    already collapsed by the caller) multiply each row's log-likelihood. Time is internally rescaled so the
    oldest customer has T = 10, which keeps α near 1 for the optimiser; the returned ``alpha`` and
    ``log_likelihood`` are in the caller's time unit. ``n`` is the number of customers (sum of weights).

    ``tol`` is L-BFGS-B's relative function tolerance on the mean log-likelihood; the default pins the
    parameters to about seven significant digits. ``converged`` is L-BFGS-B's success flag, also granted when
    its line search stops for lack of precision with the gradient already below 1e-8.
    """
    x, t_x, big_t, w = collapse(frequency, recency, T, weights)
    keep = w > 0
    x, t_x, big_t, w = x[keep], t_x[keep], big_t[keep], w[keep]
    if w.size == 0:
        raise ValueError("no customers to fit")
    if not np.any(x > 0):
        raise ValueError("BG/NBD needs at least one customer with a repeat purchase")
    max_t = float(big_t.max())
    if max_t <= 0:
        raise ValueError("T must be > 0 for at least one customer")

    scale = 10.0 / max_t
    x_levels, level_index = np.unique(x, return_inverse=True)
    level_index = np.ravel(level_index)
    level_weight = np.bincount(level_index, weights=w, minlength=x_levels.size)
    total_weight = float(w.sum())

    start = np.zeros(4) if initial is None else np.log([initial.r, initial.alpha * scale, initial.a, initial.b])
    cap = _LOG_BOUND if max_dropout_param is None else min(_LOG_BOUND, float(np.log(max_dropout_param)))
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * 2 + [(-_LOG_BOUND, cap)] * 2
    result = minimize(
        _negative_mean_log_likelihood,
        np.clip(start, [b[0] for b in bounds], [b[1] for b in bounds]),
        args=(x_levels, level_weight, level_index, x, t_x * scale, big_t * scale, w, total_weight),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": tol, "gtol": 1e-10, "maxiter": max_iterations, "maxcor": 20},
    )
    r, alpha_scaled, a, b = np.exp(result.x)
    params = BgNbdParams(r=float(r), alpha=float(alpha_scaled / scale), a=float(a), b=float(b))
    ll = _dot(w, log_likelihood(params, x, t_x, big_t))
    on_cap = max_dropout_param is not None and max(result.x[2], result.x[3]) >= cap - 1e-6
    return FitResult(
        params=params,
        log_likelihood=ll,
        n=int(round(total_weight)),
        converged=_converged(result) and not on_cap,
        iterations=int(result.nit),
        message=f"a or b reached the cap {max_dropout_param:g}" if on_cap else str(result.message),
    )


def probability_alive(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray | float:
    """P(customer still active at T | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)).

    Equals 1 for x = 0 (the model lets customers drop out only right after a repeat purchase). Units: t_x and
    T in the time unit of ``params.alpha``. Returns a float for scalar inputs.
    """
    x, t_x, big_t = _summary_arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x_safe = np.where(x > 0, x, 1.0)
    log_odds_dead = np.log(a) - np.log(b + x_safe - 1.0) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    alive = np.where(x > 0, expit(-log_odds_dead), 1.0)
    return _scalar_or_array(alive, frequency, recency, T)


def conditional_expected_purchases(
    params: BgNbdParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray | float:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] for a customer with history (x, t_x, T).

    Eq. (10) of Fader, Hardie & Lee (2005):

        (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive)

    evaluated through Euler's transformation ₂F₁(A, B; C; z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z), which turns
    the bracket into 1 − (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z): no huge ₂F₁ values for large x or t.
    Units: t, t_x and T in the time unit of ``params.alpha``; the result is a count of purchases. ``a`` = 1
    exactly is a removable singularity; it is evaluated at a = 1 ± 1e-6.
    """
    x, t_x, big_t, horizon = np.broadcast_arrays(*_summary_arrays(frequency, recency, T), np.asarray(t, dtype=float))
    if np.any(horizon < 0) or np.any(np.isnan(horizon)):
        raise ValueError("t must be >= 0")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-6:
        a = 1.0 + (1e-6 if a >= 1.0 else -1e-6)
    log_one_minus_z = np.log(alpha + big_t) - np.log(alpha + big_t + horizon)
    z = horizon / (alpha + big_t + horizon)
    bracket = 1.0 - np.exp((a - 1.0) * log_one_minus_z) * _hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    expected = (a + b + x - 1.0) / (a - 1.0) * bracket
    alive = np.asarray(probability_alive(params, x, t_x, big_t), dtype=float)
    # t = 0 gives exactly 0 (0 · ∞ would otherwise appear when a < 1 and t = ∞ elsewhere in the batch).
    result = np.where(horizon == 0, 0.0, expected * alive)
    return _scalar_or_array(result, t, frequency, recency, T)


def expected_purchases(params: BgNbdParams, t: ArrayLike) -> FloatArray | float:
    """E[X(t)]: expected repeat purchases in (0, t] for a customer just acquired (eq. 7 of the paper).

    (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))], i.e. the conditional expectation with
    x = t_x = T = 0. Units: t in the time unit of ``params.alpha``.
    """
    horizon = np.asarray(t, dtype=float)
    zeros = np.zeros_like(horizon)
    result = np.asarray(conditional_expected_purchases(params, horizon, zeros, zeros, zeros), dtype=float)
    return _scalar_or_array(result, t)


def _hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """scipy's ₂F₁ for 0 <= z < 1, stepping around its known failure when c − a − b is an integer.

    For z > 0.9 and integer c − a − b, scipy's real hyp2f1 takes a digamma-series branch that returns NaN or
    inf for large c − a − b (e.g. hyp2f1(1, −0.5, 99.5, 0.91)); the BG/NBD hits it whenever r − a is a whole
    number. ₂F₁ is smooth in a, so the mean of the values at a ± 1e-6 replaces the failed one (error ~1e-12).
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z)))
    value = np.ravel(np.array(hyp2f1(a, b, c, z), dtype=float))
    failed = ~np.isfinite(value) & np.ravel(z < 1.0)
    if np.any(failed):
        a_f, b_f, c_f, z_f = (np.ravel(v)[failed] for v in (a, b, c, z))
        step = 1e-6 * np.maximum(1.0, np.abs(a_f))
        value[failed] = 0.5 * (hyp2f1(a_f + step, b_f, c_f, z_f) + hyp2f1(a_f - step, b_f, c_f, z_f))
    return value.reshape(a.shape)


def _scalar_or_array(values: ArrayLike, *inputs: ArrayLike) -> FloatArray | float:
    """Python float when every input was a scalar, else a float array."""
    array = np.asarray(values, dtype=float)
    if all(np.ndim(v) == 0 for v in inputs):
        return float(array)
    return array
