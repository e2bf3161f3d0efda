"""The pure math of the campaigns app, without a database: association rules, reproducible assignment,
significance tests and the expand / stop recommendation, k-means clustering."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from campaigns import stats
from campaigns.association import association_rules
from campaigns.clustering import FEATURES, cluster_book
from campaigns.earning import Fact, points_for
from campaigns.rollout import stable_hash, stage_for, variant_for

# --- association rules -----------------------------------------------------------------------------------------

# Han, Kamber & Pei, "Data Mining: Concepts and Techniques", 3rd ed. (2011), Table 6.1: the AllElectronics
# transactions T100–T900 used for the Apriori worked example (and its rule I5 → I1 with confidence 100 %).
ALL_ELECTRONICS = [
    {"I1", "I2", "I5"}, {"I2", "I4"}, {"I2", "I3"}, {"I1", "I2", "I4"}, {"I1", "I3"},
    {"I2", "I3"}, {"I1", "I3"}, {"I1", "I2", "I3", "I5"}, {"I1", "I2", "I3"},
]


def as_dict(rules):  # type: ignore[no-untyped-def]
    return {(r.antecedent, r.consequent): r for r in rules}


class TestAssociationRules:
    def test_support_confidence_and_lift_are_exact_on_the_textbook_baskets(self):
        rules = as_dict(association_rules(ALL_ELECTRONICS))

        expected = {  # (support, confidence, lift) as exact fractions
            ("I5", "I1"): (Fraction(2, 9), Fraction(1), Fraction(3, 2)),
            ("I1", "I5"): (Fraction(2, 9), Fraction(1, 3), Fraction(3, 2)),
            ("I4", "I2"): (Fraction(2, 9), Fraction(1), Fraction(9, 7)),
            ("I2", "I4"): (Fraction(2, 9), Fraction(2, 7), Fraction(9, 7)),
            ("I1", "I2"): (Fraction(4, 9), Fraction(4, 6), Fraction(6, 7)),
            ("I2", "I3"): (Fraction(4, 9), Fraction(4, 7), Fraction(6, 7)),
            ("I3", "I5"): (Fraction(1, 9), Fraction(1, 6), Fraction(3, 4)),
        }
        for key, (support, confidence, lift) in expected.items():
            rule = rules[key]
            assert rule.support == pytest.approx(float(support), abs=1e-12), key
            assert rule.confidence == pytest.approx(float(confidence), abs=1e-12), key
            assert rule.lift == pytest.approx(float(lift), abs=1e-12), key
        assert (rules[("I5", "I1")].antecedent_count, rules[("I5", "I1")].both_count) == (2, 2)
        assert len(rules) == 16  # every ordered pair bought together at least once
        assert ("I4", "I5") not in rules and ("I3", "I4") not in rules

    def test_thresholds_keep_only_the_strong_rules_ordered_by_lift(self):
        rules = association_rules(ALL_ELECTRONICS, min_confidence=0.5, min_lift=1.0 + 1e-9, min_count=2)

        # ties on lift and confidence go by item order
        assert [(r.antecedent, r.consequent) for r in rules] == [("I5", "I1"), ("I4", "I2"), ("I5", "I2")]
        assert rules[1].lift == pytest.approx(9 / 7)

    def test_empty_baskets_count_in_the_support(self):
        rules = as_dict(association_rules([{"A", "B"}, {"A"}, set(), set()]))

        assert rules[("A", "B")].support == 0.25
        assert rules[("A", "B")].confidence == 0.5
        assert rules[("A", "B")].lift == 2.0

    def test_no_baskets_no_rules(self):
        assert association_rules([]) == []
        assert association_rules([set(), set()]) == []


# --- reproducible assignment -------------------------------------------------------------------------------------


class TestRollout:
    def test_assignment_is_reproducible_and_independent_of_order(self):
        weights = [("A", 50), ("B", 50)]
        first = {a: (stage_for(7, a, Decimal("20")), variant_for(7, a, weights)) for a in range(1, 2001)}
        again = {a: (stage_for(7, a, Decimal("20")), variant_for(7, a, weights)) for a in reversed(range(1, 2001))}

        assert first == again

    def test_the_hash_is_stable_across_machines(self):
        # SHA-256 of "tierwise:stage:7:42", first 8 bytes big-endian: a change here would reshuffle live campaigns.
        import hashlib

        expected = int.from_bytes(hashlib.sha256(b"tierwise:stage:7:42").digest()[:8], "big")
        assert stable_hash(7, 42, salt="stage") == expected

    def test_the_right_share_is_rolled_out_first(self):
        n = 20_000
        pilot = sum(stage_for(3, a, Decimal("20")) == 1 for a in range(1, n + 1))

        # Binomial(20,000, 0.2): mean 4,000, sd ≈ 56.6; the hash is deterministic, so this is exact.
        assert abs(pilot - 4000) < 4 * 56.6
        assert sum(stage_for(3, a, Decimal("100")) == 1 for a in range(1, 1001)) == 1000

    def test_a_larger_pilot_contains_the_smaller_one(self):
        small = {a for a in range(1, 5001) if stage_for(9, a, Decimal("10")) == 1}
        large = {a for a in range(1, 5001) if stage_for(9, a, Decimal("25")) == 1}

        assert small < large

    def test_variants_follow_their_weights_inside_and_outside_the_pilot(self):
        weights = [("A", 70), ("B", 30)]
        everyone = Counter(variant_for(5, a, weights) for a in range(1, 20_001))
        pilot = Counter(variant_for(5, a, weights) for a in range(1, 20_001) if stage_for(5, a, Decimal("20")) == 1)

        assert abs(everyone["A"] / 20_000 - 0.7) < 0.015
        assert abs(pilot["A"] / sum(pilot.values()) - 0.7) < 0.03  # stage and variant are independent

    def test_other_campaigns_shuffle_differently(self):
        same = sum(stage_for(1, a, 50) == stage_for(2, a, 50) for a in range(1, 4001))
        assert 1800 < same < 2200  # ~ half agree, as for independent draws

    @pytest.mark.parametrize("pct", [0, -5, 101])
    def test_a_pilot_share_outside_0_to_100_is_refused(self, pct):
        with pytest.raises(ValueError):
            stage_for(1, 1, pct)

    def test_variants_need_positive_weights(self):
        with pytest.raises(ValueError):
            variant_for(1, 1, [("A", 0), ("B", 1)])


# --- significance -------------------------------------------------------------------------------------------------


class TestSignificance:
    def test_two_proportion_z_test_matches_the_textbook(self):
        # Illowsky & Dean, "Introductory Statistics" (OpenStax), "Comparing Two Independent Population
        # Proportions", the hives example: 20 of 200 on medication A vs 12 of 200 on medication B still had
        # hives; pooled proportion 0.08, two-tailed p-value = 0.1404.
        result = stats.two_proportion_z_test(20, 200, 12, 200)

        assert result.statistic == pytest.approx(0.04 / (0.08 * 0.92 * (2 / 200)) ** 0.5)
        assert round(result.p_value, 4) == 0.1404
        assert not result.significant(0.01)

    def test_welch_t_test_matches_the_textbook(self):
        # Student's (1908) sleep data (Cushny & Peebles), as analysed in R's documentation of t.test:
        # t.test(extra ~ group, data = sleep) → t = -1.8608, df = 17.776, p-value = 0.07939 (Welch).
        group1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
        group2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

        result = stats.welch_t_test(stats.Sample.of(group1), stats.Sample.of(group2))

        assert round(result.statistic, 4) == -1.8608
        assert round(result.df, 3) == 17.776
        assert round(result.p_value, 5) == 0.07939

    def test_undefined_tests_return_none(self):
        assert stats.two_proportion_z_test(0, 0, 1, 10) is None
        assert stats.two_proportion_z_test(0, 10, 0, 10) is None  # no variance
        assert stats.welch_t_test(stats.Sample.of([1.0]), stats.Sample.of([1.0, 2.0])) is None
        assert stats.welch_t_test(stats.Sample.of([1.0, 1.0]), stats.Sample.of([2.0, 2.0])) is None

    def test_sample_size_for_ten_against_fifteen_per_cent(self):
        # Fleiss' normal approximation without continuity correction, alpha 5 % two-sided, power 80 %: 686.
        assert stats.sample_size_two_proportions(0.10, 0.15) == 686
        assert stats.sample_size_two_proportions(0.1, 0.1) is None


def figures(label, n, responders, profit_mean, profit_sd=50.0, revenue_mean=1000.0):  # type: ignore[no-untyped-def]
    return stats.VariantFigures(label, n, responders, stats.Sample(n, revenue_mean, 100.0**2),
                                stats.Sample(n, profit_mean, profit_sd**2))


class TestRecommendation:
    def test_expand_with_the_variant_that_earns_significantly_more(self):
        rec = stats.recommend([figures("A", 400, 40, 100.0), figures("B", 400, 60, 130.0)])

        assert (rec.action, rec.variant) == ("expand", "B")
        assert rec.headline == "Expand with variant B."
        assert rec.comparisons[0].net_profit.p_value < 0.001

    def test_expand_when_more_respond_and_profit_is_not_lower(self):
        rec = stats.recommend([figures("Control", 500, 25, 100.0, profit_sd=400), figures("A", 500, 50, 101.0,
                                                                                        profit_sd=400)])
        assert (rec.action, rec.variant) == ("expand", "A")

    def test_stop_when_every_offer_costs_net_profit(self):
        rec = stats.recommend([figures("Control", 400, 40, 100.0), figures("A", 400, 60, 70.0),
                               figures("B", 400, 62, 60.0)])

        assert (rec.action, rec.variant) == ("stop", "Control")
        assert rec.headline == "Stop: no offer beats Control; they cost net profit."

    def test_stop_when_a_well_powered_test_finds_nothing(self):
        rec = stats.recommend([figures("A", 20_000, 2000, 100.0, profit_sd=5000),
                               figures("B", 20_000, 2010, 100.5, profit_sd=5000)])

        assert rec.action == "stop"
        assert rec.headline == "Stop: the variants perform the same."

    def test_continue_while_too_small_or_inconclusive(self):
        small = stats.recommend([figures("A", 10, 1, 100.0), figures("B", 10, 5, 500.0)])
        unclear = stats.recommend([figures("A", 200, 20, 100.0, profit_sd=500), figures("B", 200, 22, 110.0,
                                                                                        profit_sd=500)])

        assert small.action == unclear.action == "continue"
        assert small.headline == "Keep testing: every variant needs at least 30 accounts."
        # baseline response 10 %: seeing 12 % needs 3,841 accounts per variant (Fleiss, alpha 5 %, power 80 %)
        assert unclear.reasons == ["Nothing differs at the 5 % level with 200 accounts in the smallest variant. "
                                   "About 3,841 accounts per variant are needed to see a 20 % lift in response rate."]


# --- clustering ---------------------------------------------------------------------------------------------------


def two_groups(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = np.column_stack([rng.normal(10, 2, 120), rng.normal(20, 3, 120), rng.normal(50_000, 5000, 120),
                           rng.uniform(0, 0.05, 120), rng.poisson(2, 120), rng.normal(10_000, 2000, 120),
                           rng.normal(20, 3, 120)])
    small = np.column_stack([rng.normal(200, 20, 60), rng.normal(2, 1, 60).clip(0), rng.normal(800, 100, 60),
                             rng.uniform(0.4, 0.6, 60), rng.poisson(30, 60), rng.normal(-3000, 500, 60),
                             rng.normal(-40, 5, 60)])
    return np.vstack([big, small])


class TestClustering:
    def test_a_fixed_seed_gives_the_same_clusters_labels_and_names(self):
        values = two_groups()
        first = cluster_book(values, list(FEATURES), seed=42)
        again = cluster_book(values, list(FEATURES), seed=42)

        assert np.array_equal(first.labels, again.labels)
        assert first.silhouette_by_k == again.silhouette_by_k
        assert [c.name for c in first.clusters] == [c.name for c in again.clusters]

    def test_it_picks_k_by_silhouette_and_describes_the_clusters_in_words(self):
        result = cluster_book(two_groups(), list(FEATURES), seed=42)

        assert result.k == 2
        assert result.silhouette == max(result.silhouette_by_k.values())
        assert sorted(result.silhouette_by_k) == list(range(2, 9))
        assert [c.size for c in result.clusters] == [120, 60]  # numbered by size
        assert list(result.labels[:120]) == [0] * 120 and list(result.labels[120:]) == [1] * 60
        loss = result.clusters[1]
        assert "loss-making" in loss.name.lower()
        assert loss.description.startswith("60 accounts (33 % of the book): ")
        assert "Median net profit in 12 months −€" in loss.description

    def test_too_few_accounts_is_refused(self):
        with pytest.raises(ValueError, match="more accounts than clusters"):
            cluster_book(np.zeros((2, len(FEATURES))), list(FEATURES), seed=1)


# --- earning ------------------------------------------------------------------------------------------------------


def test_points_round_toward_zero_for_orders_and_returns():
    from datetime import UTC, date, datetime

    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert points_for("net_revenue", Decimal("0.1"), Fact("order", at, Decimal("19.99"))) == 1
    assert points_for("net_revenue", Decimal("0.1"), Fact("return", at, Decimal("19.99"))) == -1
    assert points_for("on_time_payment", Decimal("50"), Fact("payment", at, Decimal("1"), date(2025, 1, 1))) == 50
    assert points_for("on_time_payment", Decimal("50"), Fact("payment", at, Decimal("1"), None)) == 0
    assert points_for("survey", Decimal("20.9"), Fact("survey", at, Decimal("0"))) == 20
