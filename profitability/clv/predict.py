"""Fitted-parameter records and closed-form per-customer CLV.

The dataclasses here are what the fitters return and what the app stores (``FitResult.to_dict()`` is JSON
ready; ``FitResult.from_dict`` reads it back). The CLV functions take those parameters and plain floats or
NumPy arrays and return floats or arrays; they never fit anything.

Units: the time unit is whatever the BG/NBD model was fitted in (weeks for CDNOW); money is whatever the
spend model was fitted in. Money here is ``float`` because these are statistical expectations; round to
``Decimal`` at the edge that stores or shows them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """BG/NBD parameters: purchase rate λ ~ Gamma(shape r, rate α), dropout p ~ Beta(a, b).

    ``alpha`` is in the time unit of the fit (e.g. weeks); ``r``, ``a`` and ``b`` are unitless.
    """

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Gamma-Gamma spend parameters: transaction value ~ Gamma(p, ν), ν ~ Gamma(q, γ).

    ``gamma`` is in the money unit of the fit; ``p`` and ``q`` are unitless.
    """

    p: float
    q: float
    gamma: float


@dataclass(frozen=True, slots=True)
class SbgParams:
    """Shifted-beta-geometric parameters: per-period churn probability θ ~ Beta(alpha, beta). Unitless."""

    alpha: float
    beta: float


ModelParams = BgNbdParams | GammaGammaParams | SbgParams

_MODEL_NAMES: dict[type, str] = {BgNbdParams: "bgnbd", GammaGammaParams: "gamma_gamma", SbgParams: "sbg"}
_MODEL_TYPES: dict[str, type] = {name: cls for cls, name in _MODEL_NAMES.items()}


@dataclass(frozen=True, slots=True)
class FitResult:
    """Outcome of one maximum-likelihood fit.

    ``log_likelihood`` is the full log-likelihood (constants included) in the data's own units, summed over
    the sample; ``n`` is the sample size the fit used (customers, weighted counts included; for sBG the
    cohort size at period 0); ``converged`` is the optimiser's success flag, or its gradient having vanished
    (below 1e-8 per log-parameter) when only its line search gave up for lack of floating-point precision.
    """

    params: BgNbdParams | GammaGammaParams | SbgParams
    log_likelihood: float
    n: int
    converged: bool
    iterations: int = 0
    message: str = ""

    @property
    def model(self) -> str:
        """Short model name: ``"bgnbd"``, ``"gamma_gamma"`` or ``"sbg"``."""
        return _MODEL_NAMES[type(self.params)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (floats, ints, bools, strings)."""
        return {
            "model": self.model,
            "params": {k: float(v) for k, v in asdict(self.params).items()},
            "log_likelihood": float(self.log_likelihood),
            "n": int(self.n),
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "message": str(self.message),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitResult:
        """Inverse of ``to_dict``; raises ``ValueError`` on an unknown model name or missing parameter."""
        model = data.get("model")
        if model not in _MODEL_TYPES:
            raise ValueError(f"unknown CLV model {model!r}; expected one of {sorted(_MODEL_TYPES)}")
        params_cls = _MODEL_TYPES[model]
        try:
            params = params_cls(**{k: float(v) for k, v in data["params"].items()})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad parameters for model {model!r}: {exc}") from exc
        return cls(
            params=params,
            log_likelihood=float(data["log_likelihood"]),
            n=int(data["n"]),
            converged=bool(data["converged"]),
            iterations=int(data.get("iterations", 0)),
            message=str(data.get("message", "")),
        )


def _as_output(values: FloatArray, *inputs: ArrayLike) -> FloatArray | float:
    """Return a Python float when every input was a scalar, else the array."""
    if all(np.ndim(v) == 0 for v in inputs):
        return float(values)
    return values


def repeat_purchase_clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    periods: int,
    period_length: float,
    discount_rate: float,
    margin_share: float = 1.0,
) -> FloatArray | float:
    """Expected discounted margin from a non-contractual customer over the next ``periods`` periods.

    CLV = margin_share · E[M | x, m̄] · Σ_{k=1..periods} (C(k·L) − C((k−1)·L)) / (1 + d)^k

    where C(t) is the BG/NBD conditional expected number of repeat purchases in (T, T + t] (eq. 10 of Fader,
    Hardie & Lee 2005), L = ``period_length`` and d = ``discount_rate``. Each period's purchases are
    discounted as if they all fell at the end of that period (``k`` whole periods), the same convention as the
    ``lifetimes`` package's ``customer_lifetime_value`` with ``period_length`` = its ``freq`` factor.
    E[M | x, m̄] is the Gamma-Gamma conditional expected average spend (the population mean when x = 0).

    Units: ``recency`` (t_x), ``T`` and ``period_length`` in the BG/NBD time unit (e.g. weeks, with
    ``period_length`` = 52/12 for monthly steps); ``discount_rate`` per period of that length;
    ``monetary_value`` in the Gamma-Gamma money unit; ``margin_share`` the fraction of spend that is margin
    (1.0 values revenue). Included: only future repeat purchases after T, nothing already observed, no
    acquisition cost, no cost-to-serve beyond what ``margin_share`` represents.
    """
    # Imported here: gamma_gamma imports the dataclasses above from this module.
    from .gamma_gamma import conditional_expected_spend

    x, t_x, big_t, m = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (frequency, recency, T, monetary_value))
    )
    purchases_pv = discounted_expected_purchases(
        bgnbd, x, t_x, big_t, periods=periods, period_length=period_length, discount_rate=discount_rate
    )
    spend = np.asarray(conditional_expected_spend(gamma_gamma, x, m), dtype=float)
    clv = margin_share * spend * purchases_pv
    return _as_output(np.asarray(clv, dtype=float), frequency, recency, T, monetary_value)


def discounted_expected_purchases(
    bgnbd: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    periods: int,
    period_length: float,
    discount_rate: float,
) -> FloatArray:
    """Σ_{k=1..periods} (C(k·L) − C((k−1)·L)) / (1 + d)^k: the present value of expected repeat purchases.

    C(t) is the BG/NBD conditional expected number of purchases in (T, T + t]; each period's purchases are
    discounted as if they fell at its end. Multiply by an expected spend and a margin share for a CLV (see
    ``repeat_purchase_clv``). Same units as there; returns an array shaped like the broadcast inputs.
    """
    from .bgnbd import conditional_expected_purchases

    if periods < 0:
        raise ValueError(f"periods must be >= 0, got {periods}")
    if not period_length > 0:
        raise ValueError(f"period_length must be > 0, got {period_length}")
    if not discount_rate > -1:
        raise ValueError(f"discount_rate must be > -1, got {discount_rate}")
    x, t_x, big_t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (frequency, recency, T)))
    horizon = np.arange(periods + 1, dtype=float) * period_length  # 0, L, 2L, ...
    # One hyp2f1 evaluation per (customer, step); the cumulative curve starts at exactly 0.
    cumulative = np.asarray(
        conditional_expected_purchases(
            bgnbd, horizon.reshape((-1,) + (1,) * x.ndim), x[None, ...], t_x[None, ...], big_t[None, ...]
        ),
        dtype=float,
    ).reshape((periods + 1, *x.shape))
    cumulative[0] = 0.0
    per_period = np.diff(cumulative, axis=0)
    discount = (1.0 + discount_rate) ** -np.arange(1, periods + 1, dtype=float)
    return np.asarray(np.tensordot(discount, per_period, axes=(0, 0)), dtype=float)


def contractual_clv(
    sbg: SbgParams,
    *,
    margin_per_period: ArrayLike,
    renewals: ArrayLike,
    discount_rate: float,
) -> FloatArray | float:
    """Expected discounted residual margin of a subscriber who has renewed ``renewals`` times.

    CLV = margin_per_period · DERL(d | α, β, n), the sBG discounted expected residual lifetime of Fader &
    Hardie (2010): the next renewal's payment counts in full (it is due now), each later one is discounted by
    one more period, each weighted by the probability the customer is still there. See ``sbg.derl``.

    Units: ``margin_per_period`` in money per contract period; ``discount_rate`` per contract period;
    ``renewals`` a count (0 = in the first period). Included: future payments only, not the ones already
    made; no acquisition cost.
    """
    from .sbg import derl

    residual = derl(sbg, renewals, discount_rate)
    value = np.asarray(margin_per_period, dtype=float) * np.asarray(residual, dtype=float)
    return _as_output(np.asarray(value, dtype=float), margin_per_period, renewals)
