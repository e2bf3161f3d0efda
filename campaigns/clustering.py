"""Data-driven segments: k-means over recency/frequency/monetary and profitability features.

Features are made comparable first: money and counts are heavy-tailed, so they go through a signed
log1p (sign(x)·log(1 + |x|)), then every feature is standardised (z-scores). k-means (scikit-learn,
k-means++ starts, a fixed seed) is run for each k in a range and the k with the best mean silhouette
(Rousseeuw 1987) wins; on large books the silhouette is computed on a seeded sample. Clusters are numbered
by size (largest first) so a fixed seed always gives the same labels and names. Each cluster is described
in words from the features where its median differs most from the book's. No Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

SILHOUETTE_SAMPLE = 5000

#: feature → (label, words when high, words when low)
FEATURES: dict[str, tuple[str, str, str]] = {
    "recency_days": ("days since the last order", "long since the last order", "ordered recently"),
    "orders_ttm": ("orders in 12 months", "order often", "order rarely"),
    "net_revenue_ttm": ("net revenue in 12 months", "high spend", "low spend"),
    "return_rate": ("return rate", "return a lot", "few returns"),
    "support_contacts_ttm": ("support contacts in 12 months", "heavy support load", "light support load"),
    "net_profit_ttm": ("net profit in 12 months", "very profitable", "least profitable"),
    "net_margin_pct": ("net margin", "high net margin", "thin or negative net margin"),
}
LOG_FEATURES = frozenset({"recency_days", "orders_ttm", "net_revenue_ttm", "support_contacts_ttm", "net_profit_ttm"})


@dataclass(frozen=True)
class Cluster:
    index: int
    size: int
    share: float
    name: str
    description: str
    medians: dict[str, float]
    effects: dict[str, float]  # standardised difference of the cluster's mean from the book's


@dataclass(frozen=True)
class Clustering:
    k: int
    silhouette: float
    silhouette_by_k: dict[int, float]
    labels: np.ndarray  # cluster index per row, 0 = largest cluster
    clusters: list[Cluster]


def transform(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Signed log1p of the heavy-tailed columns, then z-scores (constant columns become 0)."""
    x = np.array(values, dtype=float)
    for j, name in enumerate(names):
        if name in LOG_FEATURES:
            x[:, j] = np.sign(x[:, j]) * np.log1p(np.abs(x[:, j]))
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - mean) / std


def cluster_book(
    values: np.ndarray,
    names: Sequence[str],
    *,
    seed: int,
    k_range: Sequence[int] = range(2, 9),
    currency_symbol: str = "€",
) -> Clustering:
    """Cluster the rows of ``values`` (accounts × ``names``) and pick k by silhouette."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    x = transform(values, names)
    distinct = len(np.unique(x.round(9), axis=0))
    ks = [k for k in k_range if 2 <= k < n and k <= distinct]
    if not ks:
        if n <= 2:
            raise ValueError(f"clustering needs more accounts than clusters (got {n} accounts)")
        raise ValueError("the accounts are all alike: no clustering separates them")
    sample = min(n, SILHOUETTE_SAMPLE)
    scores: dict[int, float] = {}
    fits: dict[int, np.ndarray] = {}
    for k in ks:
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(x, labels, sample_size=sample if sample < n else None, random_state=seed))
        fits[k] = labels
    if not scores:
        raise ValueError("the accounts are all alike: no clustering separates them")
    best = max(scores, key=lambda k: (round(scores[k], 12), -k))
    labels = _relabel_by_size(fits[best])
    clusters = [_describe(i, labels, values, x, names, currency_symbol) for i in range(best)]
    return Clustering(best, scores[best], scores, labels, clusters)


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Number clusters by size, largest first (ties by first appearance), so labels don't depend on k-means ids."""
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-counts[i], first[i]))
    mapping = np.empty(ids.max() + 1, dtype=int)
    for new, old in enumerate(order):
        mapping[ids[old]] = new
    return mapping[labels]


def _fmt(name: str, value: float, symbol: str) -> str:
    if name == "return_rate":
        return f"{value * 100:.0f} %"
    if name == "net_margin_pct":
        return f"{value:.0f} %"
    if name in {"net_revenue_ttm", "net_profit_ttm"}:
        sign = "−" if value < 0 else ""
        return f"{sign}{symbol}{abs(value):,.0f}"
    return f"{value:,.0f}"


def _describe(index: int, labels: np.ndarray, raw: np.ndarray, x: np.ndarray, names: Sequence[str],
              symbol: str) -> Cluster:
    members = labels == index
    size = int(members.sum())
    effects = {name: float(x[members, j].mean()) for j, name in enumerate(names)}
    medians = {name: float(np.median(raw[members, j])) for j, name in enumerate(names)}
    book = {name: float(np.median(raw[:, j])) for j, name in enumerate(names)}
    ranked = sorted((name for name in names if name in FEATURES), key=lambda n: (-abs(effects[n]), n))
    strong = [n for n in ranked if abs(effects[n]) >= 0.25][:3] or ranked[:1]
    phrases = []
    for name in strong:
        _, high, low = FEATURES[name]
        if name == "net_profit_ttm" and effects[name] < 0 and medians[name] < 0:
            low = "loss-making"
        phrases.append(high if effects[name] > 0 else low)
    details = [f"{FEATURES[n][0]} {_fmt(n, medians[n], symbol)} (book {_fmt(n, book[n], symbol)})" for n in strong]
    share = size / len(labels)
    name = ", ".join(phrases)
    name = name[:1].upper() + name[1:]
    accounts = f"{size:,} account{'s' if size != 1 else ''}"
    description = (f"{accounts} ({share * 100:.0f} % of the book): {', '.join(phrases)}. "
                   f"Median {'; '.join(details)}.")
    return Cluster(index, size, share, name, description, medians, effects)
