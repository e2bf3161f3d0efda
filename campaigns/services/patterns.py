"""Book-wide patterns the opportunities are generated from, and each account's behaviour features.

- ``features_refresh``: recency, frequency, monetary, return rate, support load and complaints per
  account over the trailing twelve months (one grouped query, bulk upsert);
- ``book_patterns_refresh``: the features of every account, then association rules over account baskets
  (products ordered in the trailing twelve months) for the whole book and per tier × industry, what each
  product typically earns per buying account, and what share of each peer group (same segment, industry
  and size) buys each product. Each table is replaced in one transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.db.models import Case, Count, DecimalField, F, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Account, Interaction

from ..association import association_rules
from ..models import AccountFeatures, AssociationRule, PeerProductStat, ProductStat

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
TTM_DAYS = 365
MIN_SCOPE_BASKETS = 30  # a tier × industry gets its own rules from this many buying accounts
MIN_RULE_COUNT = 5  # accounts buying both products
MIN_CONFIDENCE = 0.10
MIN_PEERS = 5
SUPPORT_KINDS = ("support_call", "support_email")


def ttm_start(now: datetime) -> datetime:
    return now - timedelta(days=TTM_DAYS)


# --- features -----------------------------------------------------------------------------------------------


def features_refresh(*, account_ids: Sequence[int] | None = None, now: datetime | None = None,
                     versions: dict[int, int] | None = None) -> int:
    """Recompute the behaviour features of the accounts (all when None). Returns the rows written.

    ``versions`` maps account id → snapshot version the caller generated opportunities from; accounts
    not in it keep version 0 (their opportunities are due).
    """
    now = now or timezone.now()
    since = ttm_start(now)
    interactions = Interaction.objects.all()
    accounts = Account.objects.all()
    if account_ids is not None:
        interactions = interactions.filter(account_id__in=list(account_ids))
        accounts = accounts.filter(pk__in=list(account_ids))
    money = DecimalField(max_digits=14, decimal_places=2)
    rows = {
        r["account_id"]: r for r in interactions.values("account_id").annotate(
            last_order=Max("occurred_at", filter=Q(kind="order")),
            orders=Count("id", filter=Q(kind="order", occurred_at__gte=since)),
            revenue=Coalesce(Sum("amount", filter=Q(kind__in=["order", "renewal"], occurred_at__gte=since)),
                             Value(Decimal(0)), output_field=money),
            refunded=Coalesce(Sum("amount", filter=Q(kind="return", occurred_at__gte=since)), Value(Decimal(0)),
                              output_field=money),
            ordered=Coalesce(Sum("amount", filter=Q(kind="order", occurred_at__gte=since)), Value(Decimal(0)),
                             output_field=money),
            support=Count("id", filter=Q(kind__in=SUPPORT_KINDS, occurred_at__gte=since)),
            complaints=Count("id", filter=Q(kind="complaint", occurred_at__gte=since)),
        ).order_by()
    }
    versions = versions or {}
    objs = []
    for account_id in accounts.values_list("pk", flat=True).iterator(chunk_size=5000):
        r = rows.get(account_id)
        if r is None:
            objs.append(AccountFeatures(account_id=account_id, computed_at=now,
                                        computed_version=versions.get(account_id, 0)))
            continue
        objs.append(AccountFeatures(
            account_id=account_id, computed_at=now, computed_version=versions.get(account_id, 0),
            recency_days=(now - r["last_order"]).days if r["last_order"] else None,
            orders_ttm=r["orders"], net_revenue_ttm=(r["revenue"] - r["refunded"]).quantize(CENT),
            return_rate=round(float(r["refunded"] / r["ordered"]), 4) if r["ordered"] > 0 else 0.0,
            support_contacts_ttm=r["support"], complaints_ttm=r["complaints"],
        ))
    fields = ["computed_at", "computed_version", "recency_days", "orders_ttm", "net_revenue_ttm", "return_rate",
              "support_contacts_ttm", "complaints_ttm"]
    if account_ids is None:
        fields.remove("computed_version")  # the book refresh doesn't generate opportunities itself
    AccountFeatures.objects.bulk_create(objs, update_conflicts=True, unique_fields=["account"],
                                        update_fields=fields, batch_size=2000)
    return len(objs)


# --- baskets ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductLine:
    """One account's trailing-twelve-month business in one product."""

    product_id: int
    orders: int
    quantity: int
    margin: Decimal  # (order amount − COGS) − (returned amount − cost back in stock)


def product_lines(*, since: datetime, account_ids: Sequence[int] | None = None) -> dict[int, dict[int, ProductLine]]:
    """{account id: {product id: line}} for products ordered or returned since ``since``."""
    rows = Interaction.objects.filter(kind__in=["order", "return"], occurred_at__gte=since, product__isnull=False)
    if account_ids is not None:
        rows = rows.filter(account_id__in=list(account_ids))
    money = DecimalField(max_digits=14, decimal_places=2)
    out: dict[int, dict[int, ProductLine]] = defaultdict(dict)
    for r in rows.values("account_id", "product_id").annotate(
        orders=Count("id", filter=Q(kind="order")),
        quantity=Coalesce(Sum(Case(When(kind="order", then=F("quantity")), When(kind="return", then=-F("quantity")),
                                   output_field=IntegerField())), 0),
        margin=Coalesce(Sum(Case(When(kind="order", then=F("amount") - F("direct_cost")),
                                 When(kind="return", then=F("direct_cost") - F("amount")), output_field=money)),
                        Value(Decimal(0)), output_field=money),
    ).order_by():
        out[r["account_id"]][r["product_id"]] = ProductLine(r["product_id"], r["orders"], r["quantity"], r["margin"])
    return out


def basket_of(lines: dict[int, ProductLine]) -> frozenset[int]:
    return frozenset(p for p, line in lines.items() if line.orders > 0)


# --- the whole book -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatternsResult:
    features: int
    rules: int
    scoped_rule_sets: int
    products: int
    peer_rows: int


def book_patterns_refresh(*, now: datetime | None = None) -> PatternsResult:
    now = now or timezone.now()
    features = features_refresh(now=now)
    lines = product_lines(since=ttm_start(now))
    attrs = {
        a["pk"]: a for a in Account.objects.filter(status=Account.Status.ACTIVE)
        .values("pk", "industry", "segment", "employee_band", "snapshot__tier_id")
    }
    baskets = {account_id: basket_of(ls) for account_id, ls in lines.items() if account_id in attrs}
    baskets = {k: v for k, v in baskets.items() if v}

    rule_rows = _rules(baskets.values(), tier_id=None, industry="", now=now)
    scopes: dict[tuple[int, str], list[frozenset[int]]] = defaultdict(list)
    for account_id, basket in baskets.items():
        a = attrs[account_id]
        if a["snapshot__tier_id"] is not None and a["industry"]:
            scopes[(a["snapshot__tier_id"], a["industry"])].append(basket)
    scoped = 0
    for (tier_id, industry), scope_baskets in sorted(scopes.items()):
        if len(scope_baskets) >= MIN_SCOPE_BASKETS:
            rule_rows += _rules(scope_baskets, tier_id=tier_id, industry=industry, now=now)
            scoped += 1

    stats = []
    by_product: dict[int, list[ProductLine]] = defaultdict(list)
    for account_id, ls in lines.items():
        if account_id in attrs:
            for line in ls.values():
                if line.orders > 0:
                    by_product[line.product_id].append(line)
    for product_id, buyers in sorted(by_product.items()):
        stats.append(ProductStat(
            product_id=product_id, buyers_ttm=len(buyers), computed_at=now,
            median_margin_ttm=Decimal(str(float(np.median([float(b.margin) for b in buyers])))).quantize(CENT),
            median_quantity_ttm=max(int(np.median([b.quantity for b in buyers])), 0),
        ))

    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for account_id, a in attrs.items():
        groups[(a["segment"], a["industry"], a["employee_band"])].append(account_id)
    peer_rows = []
    for (segment, industry, band), members in sorted(groups.items()):
        if len(members) < MIN_PEERS:
            continue
        counts: dict[int, int] = defaultdict(int)
        for account_id in members:
            for product_id in baskets.get(account_id, ()):
                counts[product_id] += 1
        for product_id, buyers in sorted(counts.items()):
            peer_rows.append(PeerProductStat(segment=segment, industry=industry, employee_band=band,
                                             product_id=product_id, peers=len(members), buyers=buyers,
                                             share=buyers / len(members), computed_at=now))

    with transaction.atomic():
        AssociationRule.objects.all().delete()
        AssociationRule.objects.bulk_create(rule_rows, batch_size=2000)
        ProductStat.objects.all().delete()
        ProductStat.objects.bulk_create(stats)
        PeerProductStat.objects.all().delete()
        PeerProductStat.objects.bulk_create(peer_rows, batch_size=2000)
    log.info("Book patterns: %d rules (%d scoped sets), %d products, %d peer rows",
             len(rule_rows), scoped, len(stats), len(peer_rows))
    return PatternsResult(features, len(rule_rows), scoped, len(stats), len(peer_rows))


def _rules(baskets, *, tier_id: int | None, industry: str, now: datetime) -> list[AssociationRule]:  # type: ignore[no-untyped-def]
    return [
        AssociationRule(
            antecedent_id=r.antecedent, consequent_id=r.consequent, tier_id=tier_id, industry=industry,
            baskets=r.baskets, antecedent_count=r.antecedent_count, both_count=r.both_count,
            support=r.support, confidence=r.confidence, lift=r.lift, computed_at=now,
        )
        for r in association_rules(list(baskets), min_confidence=MIN_CONFIDENCE, min_count=MIN_RULE_COUNT,
                                   min_lift=1.0 + 1e-9)
    ]
