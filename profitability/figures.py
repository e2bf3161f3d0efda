"""Per-account CLV, CAC ratio and ranking metric, vectorised over accounts — pure NumPy, no Django.

The same function serves a one-account recompute (arrays of length 1) and the whole book (100,000 rows),
so both paths produce identical figures by construction.

Units: money in the book currency; BG/NBD time in weeks; the sBG period is one year; the discount rate is
annual (converted to monthly for the repeat-purchase sum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .clv.gamma_gamma import conditional_expected_spend
from .clv.predict import BgNbdParams, GammaGammaParams, SbgParams, contractual_clv, discounted_expected_purchases
from .ranking import formula_clv

FloatArray = npt.NDArray[np.float64]
WEEKS_PER_YEAR = 52.1775
DEFAULT_RETENTION = 0.8  # used for the formula CLV until the book has a measured retention


@dataclass(frozen=True)
class ClvInputs:
    """Per-account inputs, each an array of the same length."""

    net_profit: FloatArray  # lifetime
    net_revenue: FloatArray  # lifetime revenue − returns
    net_profit_ttm: FloatArray
    orders: FloatArray
    order_revenue: FloatArray
    weeks_first_to_last_order: FloatArray  # t_x
    weeks_since_first_order: FloatArray  # T
    tenure_years: FloatArray  # since acquisition (contractual renewals so far)
    contractual: npt.NDArray[np.bool_]
    churned: npt.NDArray[np.bool_]
    cac: FloatArray  # NaN where unknown


@dataclass(frozen=True)
class ClvParams:
    discount_rate: float  # annual
    horizon_months: int
    retention: float  # annual, for the formula CLV
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    sbg: SbgParams | None


@dataclass(frozen=True)
class ClvFigures:
    clv_formula: FloatArray
    clv_predictive: FloatArray  # NaN where no model applies yet
    clv_model: npt.NDArray[np.str_]
    p_alive: FloatArray  # NaN for contractual accounts
    expected_purchases_12m: FloatArray
    clv_cac_ratio: FloatArray  # NaN where CAC is unknown or zero


def compute_clv(inputs: ClvInputs, params: ClvParams) -> ClvFigures:
    """Formula and predictive CLV, P(alive), expected purchases in the next 12 months, and CLV/CAC.

    - Formula CLV: Gupta & Lehmann, m = TTM net profit, annual retention and discount rate.
    - Repeat-purchase accounts: BG/NBD (x = orders − 1, t_x, T in weeks) with Gamma-Gamma expected order
      value (mean order value as m̄; the account's own mean where Gamma-Gamma has no finite answer), times
      the account's lifetime net margin share (clipped to [−1, 1]), so
      a loss-making account carries a negative predictive CLV; monthly steps over the horizon, discounted.
    - Contractual accounts: TTM net profit per year × sBG discounted expected residual lifetime after
      ``floor(tenure_years)`` renewals.
    - Churned accounts: predictive CLV 0, P(alive) 0.
    - CLV/CAC uses the predictive CLV where there is one, else the formula CLV.
    """
    from .clv.bgnbd import conditional_expected_purchases, probability_alive

    n = inputs.net_profit.size
    d = params.discount_rate
    clv_formula = np.asarray(formula_clv(inputs.net_profit_ttm, params.retention, d), dtype=float)

    clv_predictive = np.full(n, np.nan)
    model = np.full(n, "", dtype=object)
    p_alive = np.full(n, np.nan)
    expected_12m = np.full(n, np.nan)

    repeat = ~inputs.contractual & ~inputs.churned & (inputs.orders > 0)
    if params.bgnbd is not None and params.gamma_gamma is not None and repeat.any():
        x = np.maximum(inputs.orders[repeat] - 1, 0)
        t_x = inputs.weeks_first_to_last_order[repeat]
        big_t = np.maximum(inputs.weeks_since_first_order[repeat], t_x)
        orders = inputs.orders[repeat]
        mean_value = np.where(orders > 0, inputs.order_revenue[repeat] / np.maximum(orders, 1), 0)
        margin = np.clip(
            np.divide(inputs.net_profit[repeat], inputs.net_revenue[repeat],
                      out=np.zeros(int(repeat.sum())), where=inputs.net_revenue[repeat] > 0),
            -1.0, 1.0,
        )
        monthly = (1 + d) ** (1 / 12) - 1
        purchases_pv = discounted_expected_purchases(
            params.bgnbd, x, t_x, big_t,
            periods=params.horizon_months, period_length=WEEKS_PER_YEAR / 12, discount_rate=monthly,
        )
        spend = np.asarray(conditional_expected_spend(params.gamma_gamma, x, mean_value), dtype=float)
        # With heavy-tailed B2B spend the fitted q can be <= 1: the population mean then does not exist and
        # Gamma-Gamma has no answer for one-order accounts; fall back to the account's own mean order value.
        spend = np.where(np.isfinite(spend), spend, mean_value)
        clv_predictive[repeat] = purchases_pv * spend * margin
        p_alive[repeat] = probability_alive(params.bgnbd, x, t_x, big_t)
        expected_12m[repeat] = conditional_expected_purchases(params.bgnbd, WEEKS_PER_YEAR, x, t_x, big_t)
        model[repeat] = "bg_nbd+gg"

    contractual = inputs.contractual & ~inputs.churned
    if params.sbg is not None and contractual.any():
        clv_predictive[contractual] = contractual_clv(
            params.sbg,
            margin_per_period=inputs.net_profit_ttm[contractual],
            renewals=np.floor(np.maximum(inputs.tenure_years[contractual], 0)),
            discount_rate=d,
        )
        model[contractual] = "sbg"

    clv_predictive[inputs.churned] = 0.0
    p_alive[inputs.churned] = 0.0
    expected_12m[inputs.churned] = 0.0
    model[inputs.churned] = "churned"

    basis = np.where(np.isnan(clv_predictive), clv_formula, clv_predictive)
    ratio = np.divide(basis, inputs.cac, out=np.full(n, np.nan), where=(inputs.cac > 0) & ~np.isnan(inputs.cac))
    return ClvFigures(clv_formula, clv_predictive, model.astype(str), p_alive, expected_12m, ratio)
