"""Association rules over baskets (products bought by the same account): support, confidence and lift.

For two products A and B over N baskets (Agrawal, Imieliński & Swami 1993):
- support(A → B)    = baskets with A and B / N
- confidence(A → B) = baskets with A and B / baskets with A        (an estimate of P(B | A))
- lift(A → B)       = confidence(A → B) / (baskets with B / N)      (> 1: bought together more than by chance)

Only one-to-one rules (A → B): in B2B cross-selling "accounts that buy A also buy B" is the question, and
the pair counts of a whole book come from one matrix product. Pure NumPy, no Django.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rule:
    antecedent: Hashable
    consequent: Hashable
    baskets: int
    antecedent_count: int
    consequent_count: int
    both_count: int

    @property
    def support(self) -> float:
        return self.both_count / self.baskets

    @property
    def confidence(self) -> float:
        return self.both_count / self.antecedent_count

    @property
    def lift(self) -> float:
        return self.confidence / (self.consequent_count / self.baskets)


def association_rules(
    baskets: Sequence[Iterable[Hashable]],
    *,
    min_support: float = 0.0,
    min_confidence: float = 0.0,
    min_lift: float = 0.0,
    min_count: int = 1,
) -> list[Rule]:
    """Every rule A → B (A ≠ B) meeting the thresholds, by descending lift, then confidence, then items.

    Empty baskets count in N (an account that bought nothing still lowers every support). ``min_count`` is
    the least number of baskets holding both items.
    """
    sets = [frozenset(b) for b in baskets]
    n = len(sets)
    if n == 0:
        return []
    items = sorted({item for basket in sets for item in basket}, key=lambda i: (str(type(i)), i))
    if not items:
        return []
    index = {item: i for i, item in enumerate(items)}
    matrix = np.zeros((n, len(items)), dtype=np.int32)
    for row, basket in enumerate(sets):
        matrix[row, [index[i] for i in basket]] = 1
    both = matrix.T @ matrix  # both[a, b] = baskets with a and b; the diagonal is each item's count
    counts = np.diag(both).copy()
    rules = []
    for a, b in zip(*np.nonzero(both), strict=True):
        if a == b or both[a, b] < min_count:
            continue
        rule = Rule(items[a], items[b], n, int(counts[a]), int(counts[b]), int(both[a, b]))
        if rule.support >= min_support and rule.confidence >= min_confidence and rule.lift >= min_lift:
            rules.append(rule)
    rules.sort(key=lambda r: (-r.lift, -r.confidence, index[r.antecedent], index[r.consequent]))
    return rules
