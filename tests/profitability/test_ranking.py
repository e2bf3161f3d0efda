"""Tier bands at their edges, the whale curve and the formula CLV (pure functions, no database)."""

import numpy as np
import pytest

from profitability.ranking import (
    Band,
    band_floors,
    band_for_value,
    formula_clv,
    rank_into_bands,
    top_share_for_value,
    validate_bands,
    whale_curve,
)

DEFAULT = [Band(1, 5), Band(2, 20), Band(3, 50), Band(4, 100)]


def test_it_splits_100_accounts_into_the_default_bands_exactly():
    metric = np.arange(100, 0, -1, dtype=float)  # account i has the i-th best figure
    ranking = rank_into_bands(metric, DEFAULT)
    assert ranking.band.tolist() == [1] * 5 + [2] * 15 + [3] * 30 + [4] * 50
    assert ranking.rank[:3].tolist() == [1, 2, 3]


def test_it_puts_the_fifth_and_sixth_account_on_either_side_of_the_platinum_edge():
    ranking = rank_into_bands(np.arange(100, 0, -1, dtype=float), DEFAULT)
    assert ranking.top_share_pct[4] == pytest.approx(4.0) and ranking.band[4] == 1
    assert ranking.top_share_pct[5] == pytest.approx(5.0) and ranking.band[5] == 2


def test_it_gives_tied_accounts_the_same_tier():
    metric = np.array([10, 10, 10, 10, 10, 10, 5, 5, 1, 1], dtype=float)
    ranking = rank_into_bands(metric, DEFAULT)
    assert set(ranking.band[:6].tolist()) == {1}
    assert ranking.rank.tolist() == [1, 1, 1, 1, 1, 1, 7, 7, 9, 9]


def test_it_ranks_a_single_account_into_the_top_tier():
    assert rank_into_bands(np.array([-50.0]), DEFAULT).band.tolist() == [1]


def test_it_handles_an_empty_book():
    assert rank_into_bands(np.array([]), DEFAULT).band.size == 0


@pytest.mark.parametrize(
    "bands, message",
    [
        ([], "At least one"),
        ([Band(1, 5), Band(2, 90)], "must reach 100"),
        ([Band(1, 20), Band(2, 5), Band(3, 100)], "increase strictly"),
        ([Band(1, 0), Band(2, 100)], "above 0"),
    ],
)
def test_it_rejects_bands_that_leave_accounts_without_a_tier(bands, message):
    with pytest.raises(ValueError, match=message):
        validate_bands(bands)


def test_it_places_a_new_value_with_the_band_floors():
    metric = np.arange(100, 0, -1, dtype=float)
    ranking = rank_into_bands(metric, DEFAULT)
    floors = band_floors(metric, ranking, DEFAULT)
    assert floors == {1: 96.0, 2: 81.0, 3: 51.0, 4: 1.0}
    assert band_for_value(96.0, floors, DEFAULT) == 1
    assert band_for_value(95.5, floors, DEFAULT) == 2
    assert band_for_value(-1000.0, floors, DEFAULT) == 4
    assert top_share_for_value(95.5, np.sort(metric)[::-1]) == pytest.approx(5.0)


def test_it_draws_the_whale_curve():
    profit = np.array([600.0, 300.0, 200.0, 100.0, -50.0, -150.0])  # total 1,000
    curve = whale_curve(profit)
    assert curve.total_profit == 1000.0
    assert curve.cumulative_profit_pct.tolist() == pytest.approx([0.0, 60.0, 90.0, 110.0, 120.0, 115.0, 100.0])
    assert curve.peak_profit_pct == pytest.approx(120.0)
    assert curve.peak_customer_pct == pytest.approx(400 / 6)
    assert curve.top20_profit_pct == pytest.approx(90.0)  # ceil(6 × 0.2) = 2 accounts
    assert curve.break_even_customer_pct == pytest.approx(50.0)  # the top 3 of 6 already earn 110 %
    assert curve.loss_makers == 2


def test_it_computes_the_formula_clv_by_hand():
    # m = 100 per year, r = 0.8, d = 0.1: 100 × 0.8 / (1 + 0.1 − 0.8) = 266.67
    assert formula_clv(100.0, 0.8, 0.1) == pytest.approx(266.6667, rel=1e-6)
    assert formula_clv(-30.0, 0.5, 0.0) == pytest.approx(-30.0)
    with pytest.raises(ValueError):
        formula_clv(100.0, 1.2, 0.1)
