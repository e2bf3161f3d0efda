"""Segment writes: saving rule-based segments and running the k-means clustering of the book."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils import timezone

from crm.models import Account
from crm.templatetags.tierwise import currency_symbol

from ..clustering import FEATURES, cluster_book
from ..models import ClusteringRun, Segment, SegmentMember
from ..segmentation import Criteria
from .patterns import features_refresh

NO_ORDER_RECENCY_DAYS = 730  # an account that never ordered counts as two years since its last order


class SegmentError(Exception):
    pass


@transaction.atomic
def segment_save(*, segment: Segment | None, name: str, description: str, criteria: Criteria, actor) -> Segment:  # type: ignore[no-untyped-def]
    """Create or update a rule-based segment (clusters are written by ``clustering_run`` only)."""
    errors = criteria.errors()
    if errors:
        raise SegmentError(errors[0][1])
    if segment is None:
        segment = Segment(kind=Segment.Kind.RULES, created_by=actor)
    elif segment.kind != Segment.Kind.RULES:
        raise SegmentError("Clusters are described by the clustering, not edited by hand.")
    segment.name, segment.description, segment.criteria = name.strip(), description.strip(), criteria.to_json()
    segment.full_clean()
    segment.save()
    return segment


def clustering_features(*, now: datetime) -> tuple[list[int], np.ndarray]:
    """Account ids and the feature matrix (columns in ``clustering.FEATURES`` order) of active, computed accounts."""
    rows = list(
        Account.objects.filter(status=Account.Status.ACTIVE, snapshot__isnull=False, campaign_features__isnull=False)
        .order_by("pk").values_list(
            "pk", "campaign_features__recency_days", "campaign_features__orders_ttm",
            "campaign_features__net_revenue_ttm", "campaign_features__return_rate",
            "campaign_features__support_contacts_ttm", "snapshot__net_profit_ttm", "snapshot__net_margin_pct",
        )
    )
    ids = [r[0] for r in rows]
    values = np.array([
        [NO_ORDER_RECENCY_DAYS if r[1] is None else min(r[1], NO_ORDER_RECENCY_DAYS), r[2], float(r[3]), r[4], r[5],
         float(r[6]), 0.0 if r[7] is None else max(min(float(r[7]), 100.0), -200.0)]
        for r in rows
    ], dtype=float).reshape(len(rows), len(FEATURES))
    return ids, values


def clustering_run(*, seed: int, actor_id: int | None = None, now: datetime | None = None) -> ClusteringRun:
    """Cluster the active book by behaviour and profitability; each cluster becomes a (new) segment.

    The clusters of earlier runs are archived, not deleted: campaigns that targeted them keep their members.
    """
    now = now or timezone.now()
    features_refresh(now=now)
    ids, values = clustering_features(now=now)
    if len(ids) < 3:
        raise SegmentError("Clustering needs at least three active accounts with computed figures.")
    try:
        result = cluster_book(values, list(FEATURES), seed=seed, currency_symbol=currency_symbol())
    except ValueError as exc:
        raise SegmentError(str(exc)) from exc
    with transaction.atomic():
        run = ClusteringRun.objects.create(
            computed_at=now, seed=seed, accounts=len(ids), k=result.k, silhouette=result.silhouette,
            silhouette_by_k={str(k): round(v, 4) for k, v in result.silhouette_by_k.items()},
            features=list(FEATURES), created_by_id=actor_id,
        )
        for old in Segment.objects.filter(kind=Segment.Kind.CLUSTER, archived=False):
            old.archived = True
            old.save(update_fields=["archived", "updated_at"])
        members = []
        for cluster in result.clusters:
            segment = Segment.objects.create(
                name=f"Cluster {run.pk}.{cluster.index + 1}: {cluster.name}"[:120], kind=Segment.Kind.CLUSTER,
                description=cluster.description, clustering_run=run, cluster_index=cluster.index,
                centroid={k: round(v, 4) for k, v in cluster.medians.items()}, created_by_id=actor_id,
            )
            members += [SegmentMember(segment=segment, account_id=account_id)
                        for account_id, label in zip(ids, result.labels.tolist(), strict=True)
                        if label == cluster.index]
        SegmentMember.objects.bulk_create(members, batch_size=5000)
        cluster_pnl_refresh(now=now)
    return run


def cluster_pnl_refresh(*, now: datetime) -> int:
    """The current clusters' P&L (trailing 12 months) as segment P&L rows, ranked with the other dimensions."""
    from profitability.models import AccountSnapshot, SegmentPnl
    from profitability.services import SEGMENT_SUMS, segment_pnl_write

    groups = []
    for segment in Segment.objects.filter(kind=Segment.Kind.CLUSTER, archived=False):
        sums = AccountSnapshot.objects.filter(
            account__status=Account.Status.ACTIVE,
            account_id__in=SegmentMember.objects.filter(segment=segment).values("account_id"),
        ).aggregate(**SEGMENT_SUMS)
        if sums["n"]:
            groups.append({"key": segment.name, **sums})
    return segment_pnl_write(dimension=SegmentPnl.Dimension.CLUSTER, groups=groups, now=now)
