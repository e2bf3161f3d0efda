"""Ranking accounts into service tiers, and the whale curve — pure NumPy, no Django.

A tier band is defined by the cumulative share of the ranked book it reaches down to, from the top:
Platinum 5 means the top 5 %, Gold 20 the next 15 %, and so on; the last band must reach 100.
An account ranked ``rank`` (1 = best, ties share the best rank) among ``n`` sits at top-share
``(rank − 1) / n × 100`` and belongs to the first band whose upper bound exceeds that share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata


@dataclass(frozen=True)
class Band:
    key: int  # the tier's id
    upper_pct: float  # cumulative share of the book from the top, 0 < upper_pct <= 100


@dataclass(frozen=True)
class Ranking:
    rank: np.ndarray  # 1 = best; ties share the smallest rank
    top_share_pct: np.ndarray  # (rank - 1) / n * 100
    band: np.ndarray  # Band.key per account


def validate_bands(bands: Sequence[Band]) -> None:
    """Bands must be strictly increasing and end at 100 — so every account gets a tier."""
    if not bands:
        raise ValueError("At least one tier band is needed.")
    uppers = [b.upper_pct for b in bands]
    if any(not 0 < u <= 100 for u in uppers):
        raise ValueError("Each band's upper bound must be above 0 and at most 100 %.")
    if any(b >= a for a, b in zip(uppers[1:], uppers, strict=False)):
        raise ValueError("Band bounds must increase strictly from the top tier down.")
    if uppers[-1] != 100:
        raise ValueError("The last band must reach 100 % so every account has a tier.")


def rank_into_bands(metric: np.ndarray, bands: Sequence[Band]) -> Ranking:
    """Rank by ``metric`` (higher is better) and assign each account its band."""
    validate_bands(bands)
    metric = np.asarray(metric, dtype=float)
    n = metric.size
    if n == 0:
        empty = np.array([], dtype=int)
        return Ranking(empty, np.array([], dtype=float), empty)
    rank = rankdata(-metric, method="min").astype(int)
    top_share = (rank - 1) / n * 100.0
    uppers = np.array([b.upper_pct for b in bands])
    keys = np.array([b.key for b in bands])
    # first band whose upper bound is strictly above the account's top share
    index = np.searchsorted(uppers, top_share, side="right")
    return Ranking(rank, top_share, keys[np.minimum(index, len(bands) - 1)])


def band_floors(metric: np.ndarray, ranking: Ranking, bands: Sequence[Band]) -> dict[int, float | None]:
    """The lowest metric value inside each band (None for an empty band).

    A later one-account recompute compares against these instead of re-ranking the whole book.
    """
    floors: dict[int, float | None] = {}
    for band in bands:
        inside = metric[ranking.band == band.key]
        floors[band.key] = float(inside.min()) if inside.size else None
    return floors


def band_runners_up(metric: np.ndarray, ranking: Ranking, bands: Sequence[Band]) -> dict[int, float | None]:
    """For each band, the best metric value just outside it (in any lower band); None if nobody is below.

    An account already inside a band keeps its place there as long as it stays at or above this value:
    comparing it with the band's floor would compare it with its own old value.
    """
    order = {band.key: index for index, band in enumerate(bands)}
    position = np.array([order[key] for key in ranking.band.tolist()], dtype=int) if metric.size else np.array([])
    runners: dict[int, float | None] = {}
    for index, band in enumerate(bands):
        below = metric[position > index]
        runners[band.key] = float(below.max()) if below.size else None
    return runners


def band_for_value(
    value: float,
    floors: dict[int, float | None],
    bands: Sequence[Band],
    *,
    runners_up: dict[int, float | None] | None = None,
    previous: int | None = None,
) -> int:
    """The band a metric value lands in given the book's last ranking (best band first).

    Without ``previous`` (a newcomer, or a what-if) the value must reach a band's floor. With ``previous``,
    the account's band at the last ranking, it keeps every band it was inside (that band or a better one)
    while it stays at or above the best value just outside that band (``runners_up``); the other accounts
    are as they were ranked.
    """
    keys = [band.key for band in bands]
    previous_index = keys.index(previous) if previous in keys else len(keys)
    for index, band in enumerate(bands[:-1]):
        if runners_up is not None and index >= previous_index:
            runner = runners_up.get(band.key)
            if runner is None or value >= runner:
                return band.key
            continue
        floor = floors.get(band.key)
        if floor is not None and value >= floor:
            return band.key
    return bands[-1].key


def top_share_for_value(value: float, sorted_desc: np.ndarray) -> float:
    """Top-share % a value would have in a book whose metric values are ``sorted_desc`` (descending)."""
    n = sorted_desc.size
    if n == 0:
        return 0.0
    better = np.searchsorted(-sorted_desc, -value, side="left")  # accounts strictly better
    return float(better) / n * 100.0


@dataclass(frozen=True)
class WhaleCurve:
    """Cumulative net profit (as % of total) against accounts ranked most → least profitable (as % of book)."""

    customer_pct: np.ndarray
    cumulative_profit_pct: np.ndarray
    total_profit: float
    peak_profit_pct: float
    peak_customer_pct: float
    top20_profit_pct: float
    break_even_customer_pct: float | None  # where the curve first reaches 100 % (None if it never peaks above)
    loss_makers: int


def whale_curve(net_profit: np.ndarray, points: int = 200) -> WhaleCurve:
    """Kaplan's whale curve, downsampled to about ``points`` points for charts."""
    profit = np.sort(np.asarray(net_profit, dtype=float))[::-1]
    n = profit.size
    total = float(profit.sum())
    if n == 0 or total == 0:
        zero = np.zeros(1)
        return WhaleCurve(zero, zero, total, 0.0, 0.0, 0.0, None, int((profit < 0).sum()))
    cumulative = np.cumsum(profit) / total * 100.0
    customer_pct = np.arange(1, n + 1) / n * 100.0
    peak_index = int(np.argmax(cumulative))
    top20 = float(cumulative[max(int(np.ceil(n * 0.2)) - 1, 0)])
    # Break-even: the first account at which the curve reaches 100 % of total profit — the top that many %
    # earn all the profit and everyone after them nets to zero. None when no account destroys value.
    break_even = None
    if cumulative[peak_index] > 100.0 + 1e-9:
        break_even = float(customer_pct[np.argmax(cumulative >= 100.0 - 1e-9)])
    step = max(n // points, 1)
    keep = np.unique(np.concatenate([np.arange(0, n, step), [peak_index, n - 1]]))
    return WhaleCurve(
        customer_pct=np.concatenate([[0.0], customer_pct[keep]]),
        cumulative_profit_pct=np.concatenate([[0.0], cumulative[keep]]),
        total_profit=total,
        peak_profit_pct=float(cumulative[peak_index]),
        peak_customer_pct=float(customer_pct[peak_index]),
        top20_profit_pct=top20,
        break_even_customer_pct=break_even,
        loss_makers=int((profit < 0).sum()),
    )


def formula_clv(margin_per_period: float, retention: float, discount_rate: float) -> float:
    """Gupta & Lehmann (2003): CLV = m · r / (1 + d − r), margin per period, retention and discount per period."""
    if not 0 <= retention < 1 + discount_rate:
        raise ValueError("Retention must be in [0, 1 + discount rate).")
    return margin_per_period * retention / (1 + discount_rate - retention)
