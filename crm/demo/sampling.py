"""Book time and the small random helpers every generator shares (NumPy only, no database).

Book days are counted from :attr:`Calendar.start`, instants are book seconds (``day * DAY`` plus the time of
day); rates are per 30 days (``MONTH_DAYS``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

Array = np.ndarray
Rng = np.random.Generator

HISTORY_DAYS = 3 * 365
MONTH_DAYS = 365.25 / 12
DAY = 86_400


@dataclass(frozen=True)
class Calendar:
    """Book days are counted from ``start``; day ``days`` is ``--as-of`` itself, the horizon (exclusive)."""

    start: date
    days: int

    @classmethod
    def ending(cls, as_of: date) -> "Calendar":
        return cls(start=date.fromordinal(as_of.toordinal() - HISTORY_DAYS), days=HISTORY_DAYS)

    @property
    def horizon(self) -> int:
        """The first second after the history, in book seconds."""
        return self.days * DAY


def weights(mapping: dict[str, float], values: Sequence[str]) -> np.ndarray:
    return np.array([mapping.get(v, 0.0) for v in values])


def pick(rng: Rng, weights: Sequence[float] | np.ndarray, size: int) -> Array:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def pick_by_group(rng: Rng, groups: Array, table: np.ndarray) -> Array:
    """One draw per element from the weight row of its group (rows need not be normalised)."""
    cum = np.cumsum(table, axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(groups.size)
    return np.minimum((u[:, None] >= cum[groups]).sum(axis=1), table.shape[1] - 1)


def business_seconds(rng: Rng, day: Array, floor: Array, cal: Calendar) -> Array:
    """Book seconds on ``day`` between 07:00 and 18:00; weekends move back to Friday (not before ``floor``)."""
    weekday = (day + cal.start.weekday()) % 7
    day = np.where(weekday >= 5, np.maximum(day - (weekday - 4), floor), day)
    return day * DAY + rng.integers(7 * 3600, 18 * 3600, day.size)


def poisson_events(rng: Rng, start: Array, end: Array, rate: Array, cal: Calendar) -> tuple[Array, Array]:
    """Events at ``rate`` per 30 days over each account's [start, end) days: (account index, book seconds)."""
    span = end - start
    counts = rng.poisson(rate * span / MONTH_DAYS)
    index = np.repeat(np.arange(start.size), counts)
    day = start[index] + (rng.random(index.size) * span[index]).astype(np.int64)
    return index, business_seconds(rng, day, start[index], cal)
