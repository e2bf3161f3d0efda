"""Reproducible campaign assignment: variant and stage from a stable hash of (campaign id, account id).

No random-number state: the same campaign and account always get the same variant and stage, on any
machine, in any order, so a campaign can be re-assigned, audited and expanded without storing a seed.
The stage and the variant come from two independent hashes (different salts), so the pilot share has the
same variant split as the whole segment. Pure Python, no Django.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from decimal import Decimal

_SPACE = 1 << 64  # hashes are 64-bit unsigned integers, uniform on [0, 2**64)


def stable_hash(*parts: object, salt: str) -> int:
    """A 64-bit integer from SHA-256 of the salt and the parts (stable across processes and Python versions)."""
    text = ":".join(["tierwise", salt, *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def stage_for(campaign_id: int, account_id: int, pilot_pct: Decimal | float | int) -> int:
    """1 if the account is in the first-stage (pilot) share of ``pilot_pct`` per cent, else 2.

    Exact integer arithmetic: the account is in the pilot when hash / 2**64 < pilot_pct / 100.
    """
    pct = Decimal(str(pilot_pct))
    if not Decimal(0) < pct <= Decimal(100):
        raise ValueError("pilot_pct must be in (0, 100]")
    numerator, denominator = (pct / 100).as_integer_ratio()
    return 1 if stable_hash(campaign_id, account_id, salt="stage") * denominator < numerator * _SPACE else 2


def variant_for(campaign_id: int, account_id: int, weights: Sequence[tuple[Hashable, int]]) -> Hashable:
    """The variant key for the account, each variant drawn with probability weight / total weight.

    ``weights`` are (key, positive integer weight) pairs; their order is part of the assignment, so callers
    pass them in a stable order (e.g. by label).
    """
    if not weights or any(w <= 0 for _, w in weights):
        raise ValueError("every variant needs a positive weight")
    total = sum(w for _, w in weights)
    point = stable_hash(campaign_id, account_id, salt="variant") * total // _SPACE  # uniform on [0, total)
    cumulative = 0
    for key, weight in weights:
        cumulative += weight
        if point < cumulative:
            return key
    raise AssertionError("unreachable: point < total")
