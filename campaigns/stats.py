"""Significance tests for campaign variants and the expand / stop recommendation. Pure: no Django.

- Response rates: the pooled two-proportion z-test (two-sided).
- Revenue and net profit per account: Welch's unequal-variances t-test (two-sided), with the
  Welch–Satterthwaite degrees of freedom.
- Sample size: accounts per variant to detect a difference in response rate at a significance level and
  power (normal approximation, Fleiss' formula without continuity correction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import stats as sps

ALPHA = 0.05
POWER = 0.80
MIN_PER_VARIANT = 30  # below this the normal approximations are not trusted
MIN_DETECTABLE_LIFT = 0.20  # relative lift in response rate a test must be able to see before it may stop


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    df: float | None = None  # degrees of freedom (t-tests)

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p_value < alpha


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> TestResult | None:
    """Pooled two-proportion z-test of H0: p1 = p2 against p1 ≠ p2. None when undefined (no data, or 0 or 100 %)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return TestResult(statistic=z, p_value=float(2 * sps.norm.sf(abs(z))))


@dataclass(frozen=True)
class Sample:
    """Summary of one group's per-account values: size, mean and sample variance (ddof = 1)."""

    n: int
    mean: float
    variance: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        n = len(values)
        if n == 0:
            return cls(0, 0.0, 0.0)
        mean = math.fsum(values) / n
        variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
        return cls(n, mean, variance)


def welch_t_test(a: Sample, b: Sample) -> TestResult | None:
    """Welch's t-test of H0: mean a = mean b (two-sided). None with fewer than two values or no variance."""
    if a.n < 2 or b.n < 2:
        return None
    va, vb = a.variance / a.n, b.variance / b.n
    if va + vb <= 0:
        return None
    t = (a.mean - b.mean) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    return TestResult(statistic=t, p_value=float(2 * sps.t.sf(abs(t), df)), df=df)


def sample_size_two_proportions(p1: float, p2: float, *, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Accounts per group to detect p1 vs p2 (two-sided); None when they are equal or out of range."""
    if not (0 < p1 < 1 and 0 < p2 < 1) or p1 == p2:
        return None
    z_a = sps.norm.isf(alpha / 2)
    z_b = sps.norm.isf(1 - power)
    p_bar = (p1 + p2) / 2
    root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p1 - p2) ** 2)


# --- comparing variants ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantFigures:
    """What one variant's accounts did over the response window (money as floats in the currency)."""

    label: str
    accounts: int
    responders: int
    revenue: Sample
    net_profit: Sample

    @property
    def response_rate(self) -> float | None:
        return self.responders / self.accounts if self.accounts else None


@dataclass(frozen=True)
class Comparison:
    """One variant against the baseline."""

    label: str
    baseline: str
    response: TestResult | None
    revenue: TestResult | None
    net_profit: TestResult | None
    response_diff: float | None  # percentage points / 100
    revenue_diff: float
    net_profit_diff: float


@dataclass(frozen=True)
class Recommendation:
    action: str  # "expand", "stop" or "continue"
    variant: str | None
    headline: str
    reasons: list[str] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)


def compare(variant: VariantFigures, baseline: VariantFigures) -> Comparison:
    rr, rb = variant.response_rate, baseline.response_rate
    return Comparison(
        label=variant.label,
        baseline=baseline.label,
        response=two_proportion_z_test(variant.responders, variant.accounts, baseline.responders, baseline.accounts),
        revenue=welch_t_test(variant.revenue, baseline.revenue),
        net_profit=welch_t_test(variant.net_profit, baseline.net_profit),
        response_diff=(rr - rb) if rr is not None and rb is not None else None,
        revenue_diff=variant.revenue.mean - baseline.revenue.mean,
        net_profit_diff=variant.net_profit.mean - baseline.net_profit.mean,
    )


def _p(result: TestResult | None) -> str:
    return "not testable yet" if result is None else f"p = {result.p_value:.3f}"


def recommend(variants: Sequence[VariantFigures], *, alpha: float = ALPHA, currency: str = "EUR") -> Recommendation:
    """Expand, stop or keep testing, from net profit per account first and response rate second.

    The first variant is the baseline (a control, or offer A). Each other variant is compared with it:
    - **expand** with a variant whose net profit per account is significantly higher, or whose response
      rate is significantly higher while its net profit per account is not lower;
    - **stop** when every other variant earns significantly less net profit per account than the
      baseline, or when each variant has enough accounts to see a 20 % relative lift in response rate and
      nothing differs (the offer changes nothing worth its cost);
    - otherwise **continue**, saying how many accounts per variant the test needs.
    """
    if len(variants) < 2:
        only = variants[0].label if variants else None
        return Recommendation("continue", only, "A test needs at least two variants.", [])
    baseline, others = variants[0], list(variants[1:])
    comparisons = [compare(v, baseline) for v in others]
    smallest = min(v.accounts for v in variants)
    if smallest < MIN_PER_VARIANT:
        return Recommendation(
            "continue", None, f"Keep testing: every variant needs at least {MIN_PER_VARIANT} accounts.",
            [f"The smallest variant has {smallest} account{'s' if smallest != 1 else ''}."], comparisons,
        )

    def profit_better(c: Comparison) -> bool:
        return c.net_profit is not None and c.net_profit.significant(alpha) and c.net_profit_diff > 0

    def profit_worse(c: Comparison) -> bool:
        return c.net_profit is not None and c.net_profit.significant(alpha) and c.net_profit_diff < 0

    def response_better(c: Comparison) -> bool:
        return (c.response is not None and c.response.significant(alpha) and (c.response_diff or 0) > 0
                and c.net_profit_diff >= 0 and not profit_worse(c))

    winners = [c for c in comparisons if profit_better(c) or response_better(c)]
    if winners:
        best = max(winners, key=lambda c: (profit_better(c), c.net_profit_diff))
        reasons = [
            f"Net profit per contacted account {best.net_profit_diff:+,.2f} {currency} against {best.baseline} "
            f"({_p(best.net_profit)}).",
        ]
        if best.response_diff is not None:
            reasons.append(f"Response rate {best.response_diff * 100:+.1f} points ({_p(best.response)}).")
        return Recommendation("expand", best.label, f"Expand with variant {best.label}.", reasons, comparisons)

    if all(profit_worse(c) for c in comparisons):
        reasons = [f"{c.label} earns {c.net_profit_diff:+,.2f} {currency} per contacted account against {c.baseline} "
                   f"({_p(c.net_profit)})." for c in comparisons]
        return Recommendation("stop", baseline.label,
                              f"Stop: no offer beats {baseline.label}; they cost net profit.", reasons, comparisons)

    base_rate = baseline.response_rate or 0.0
    lift = f"{MIN_DETECTABLE_LIFT * 100:.0f} %"
    target = min(base_rate * (1 + MIN_DETECTABLE_LIFT), 0.999)
    needed = sample_size_two_proportions(target, base_rate, alpha=alpha) if 0 < base_rate < 1 else None
    if needed is not None and smallest >= needed:
        return Recommendation(
            "stop", None, "Stop: the variants perform the same.",
            [f"Each variant has at least {needed:,} accounts, enough to see a {lift} lift in "
             f"response rate, and no difference is significant at {alpha * 100:g} %."], comparisons,
        )
    more = f" About {needed:,} accounts per variant are needed to see a {lift} lift in response rate." \
        if needed else ""
    return Recommendation(
        "continue", None, "Keep testing: no significant difference yet.",
        [f"Nothing differs at the {alpha * 100:g} % level with {smallest:,} accounts in the smallest variant.{more}"],
        comparisons,
    )
