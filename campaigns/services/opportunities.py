"""Upsell and cross-sell opportunities per account, generated from the book patterns after each recompute.

Three sources, each with a probability p and the margin the product would bring in a year:
- **bought together**: an association rule A → B whose A the account buys and B it doesn't; p = the
  rule's confidence, from the account's tier × industry where that scope has its own rules, else the book;
- **similar accounts**: a product that at least ``MIN_PEER_SHARE`` of the account's peer group (same
  segment, industry and size) buys; p = that share;
- **upgrade**: the next product up in a family the account buys from; the margin is the account's
  quantity × the better product's extra unit margin, p = the share of the two products' buyers on the
  better one.
Expected margin = p × margin (the median trailing-twelve-month margin per buying account for the first two).
Statuses set by people are kept: a dismissed opportunity never comes back, a pursued one stays (and turns
won when the account orders the product), only open ones are refreshed or withdrawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from crm.models import Account, EmployeeBand, Interaction, Product
from crm.templatetags.tierwise import money

from ..models import AssociationRule, Opportunity, PeerProductStat, ProductStat
from .patterns import ProductLine, basket_of, features_refresh, product_lines, ttm_start

CENT = Decimal("0.01")
MIN_PEER_SHARE = 0.25
MAX_OPEN = 8


class OpportunityError(Exception):
    pass


@dataclass(frozen=True)
class Candidate:
    product_id: int
    from_product_id: int | None
    source: str
    probability: float
    expected_margin: Decimal
    reason: str


def _pct(p: float) -> str:
    return f"{p * 100:.0f} %"


@dataclass(frozen=True)
class Catalogue:
    """The products and their statistics: loaded once per batch of accounts, not once per account."""

    products: dict[int, Product]
    stats: dict[int, ProductStat]

    @classmethod
    def load(cls) -> Catalogue:
        return cls({p.pk: p for p in Product.objects.all()}, {s.product_id: s for s in ProductStat.objects.all()})


@dataclass(frozen=True)
class BatchPatterns:
    """The association rules and peer statistics a batch of accounts can use, read in two queries."""

    rules: dict[tuple[int | None, str], list[AssociationRule]]  # by scope (tier id, industry); book: (None, "")
    peers: dict[tuple[str, str, str], list[PeerProductStat]]  # by (segment, industry, employee band)

    @classmethod
    def load(cls, accounts: Sequence[Account], owned: set[int]) -> BatchPatterns:
        from django.db.models import Q

        scopes, groups = Q(tier__isnull=True, industry=""), Q(pk__in=[])
        for account in accounts:
            snapshot = getattr(account, "snapshot", None)
            if snapshot is not None and snapshot.tier_id is not None and account.industry:
                scopes |= Q(tier_id=snapshot.tier_id, industry=account.industry)
            groups |= Q(segment=account.segment, industry=account.industry, employee_band=account.employee_band)
        rules: dict[tuple[int | None, str], list[AssociationRule]] = {}
        if owned:
            for rule in AssociationRule.objects.filter(scopes, antecedent_id__in=owned).order_by("-lift", "pk"):
                rules.setdefault((rule.tier_id, rule.industry), []).append(rule)
        peers: dict[tuple[str, str, str], list[PeerProductStat]] = {}
        for peer in PeerProductStat.objects.filter(groups, share__gte=MIN_PEER_SHARE).order_by("pk"):
            peers.setdefault((peer.segment, peer.industry, peer.employee_band), []).append(peer)
        return cls(rules, peers)


def candidates_for(account: Account, *, now: datetime, catalogue: Catalogue | None = None,
                   lines: dict[int, ProductLine] | None = None,
                   patterns: BatchPatterns | None = None) -> list[Candidate]:
    """Every product the account could be offered, the best source per product, highest expected margin first.

    ``catalogue``, ``lines`` (the account's product lines) and ``patterns`` are loaded here when not given;
    batch callers load them once for the batch.
    """
    snapshot = getattr(account, "snapshot", None)
    tier = snapshot.tier if snapshot is not None else None
    if lines is None:
        lines = product_lines(since=ttm_start(now), account_ids=[account.pk]).get(account.pk, {})
    owned = basket_of(lines)
    catalogue = catalogue or Catalogue.load()
    products, stats = catalogue.products, catalogue.stats
    patterns = patterns or BatchPatterns.load([account], set(owned))
    best: dict[int, Candidate] = {}

    def offer(c: Candidate) -> None:
        if c.product_id in owned or c.expected_margin <= 0:
            return
        if c.product_id not in best or c.expected_margin > best[c.product_id].expected_margin:
            best[c.product_id] = c

    if owned:
        def usable(scope: tuple[int | None, str]) -> list[AssociationRule]:
            return [r for r in patterns.rules.get(scope, []) if r.antecedent_id in owned
                    and r.consequent_id not in owned]

        # The account's own tier × industry where that scope has rules for it, else the whole book's.
        rules = usable((tier.pk, account.industry)) if tier is not None and account.industry else []
        scoped = bool(rules)
        rules = rules or usable((None, ""))
        for rule in rules:
            stat = stats.get(rule.consequent_id)
            if stat is None:
                continue
            a, b = products[rule.antecedent_id], products[rule.consequent_id]
            who = f"{tier.name} accounts in {account.industry}" if scoped else "accounts"
            offer(Candidate(
                b.pk, a.pk, Opportunity.Source.BOUGHT_TOGETHER, rule.confidence,
                (Decimal(str(rule.confidence)) * stat.median_margin_ttm).quantize(CENT),
                f"{_pct(rule.confidence)} of {who} that buy {a.name} also buy {b.name} "
                f"({rule.lift:.1f}× the usual rate); its buyers earn a median {money(stat.median_margin_ttm)} "
                f"margin a year on it.",
            ))

    peers = patterns.peers.get((account.segment, account.industry, account.employee_band), [])
    band = dict(EmployeeBand.choices).get(account.employee_band, "")
    group = " · ".join(x for x in (account.segment, account.industry, f"{band} staff" if band else "") if x)
    for peer in peers:
        stat = stats.get(peer.product_id)
        if stat is None:
            continue
        b = products[peer.product_id]
        offer(Candidate(
            b.pk, None, Opportunity.Source.PEERS, peer.share,
            (Decimal(str(peer.share)) * stat.median_margin_ttm).quantize(CENT),
            f"{_pct(peer.share)} of similar accounts ({group}; {peer.buyers} of {peer.peers}) buy {b.name}; "
            f"this one does not.",
        ))

    for product_id, line in lines.items():
        current = products[product_id]
        if line.quantity <= 0:
            continue
        better = min((p for p in products.values() if p.family == current.family
                      and p.tier_in_family > current.tier_in_family), key=lambda p: p.tier_in_family, default=None)
        if better is None:
            continue
        extra = (better.list_price - better.unit_cost) - (current.list_price - current.unit_cost)
        if extra <= 0:
            continue
        gain = extra * line.quantity
        on_better = stats[better.pk].buyers_ttm if better.pk in stats else 0
        on_current = stats[current.pk].buyers_ttm if current.pk in stats else 0
        if on_better + on_current == 0:
            continue
        p = on_better / (on_better + on_current)
        offer(Candidate(
            better.pk, current.pk, Opportunity.Source.UPGRADE, p, (Decimal(str(p)) * gain).quantize(CENT),
            f"Buys {line.quantity:,} × {current.name} a year; {better.name} earns {money(extra, 2)} more per unit "
            f"({money(gain)} a year). {_pct(p)} of the buyers of the two choose {better.name}.",
        ))
    return sorted(best.values(), key=lambda c: (-c.expected_margin, c.product_id))


@dataclass(frozen=True)
class GenerateResult:
    account_id: int
    created: int
    refreshed: int
    withdrawn: int
    won: int


def opportunities_generate(*, account_id: int, now: datetime | None = None) -> GenerateResult:
    """Regenerate one account's open opportunities from its history and the book patterns (idempotent)."""
    results = opportunities_generate_many(account_ids=[account_id], now=now)
    return results[0] if results else GenerateResult(account_id, 0, 0, 0, 0)


def opportunities_generate_many(*, account_ids: Sequence[int], now: datetime | None = None) -> list[GenerateResult]:
    """Features and opportunities of a batch of accounts: the catalogue, the accounts, their product lines and
    features are read once for the batch; each account's opportunities are then written in its own transaction."""
    now = now or timezone.now()
    accounts = list(Account.objects.select_related("snapshot__tier").filter(pk__in=list(account_ids)).order_by("pk"))
    if not accounts:
        return []
    versions = {}
    for account in accounts:
        snapshot = getattr(account, "snapshot", None)
        versions[account.pk] = snapshot.computed_version if snapshot is not None else 0
    features_refresh(account_ids=[a.pk for a in accounts], now=now, versions=versions)
    catalogue = Catalogue.load()
    lines = product_lines(since=ttm_start(now), account_ids=[a.pk for a in accounts])
    owned = {p for ls in lines.values() for p in basket_of(ls)}
    patterns = BatchPatterns.load(accounts, owned)
    wanted = {
        a.pk: candidates_for(a, now=now, catalogue=catalogue, lines=lines.get(a.pk, {}), patterns=patterns)[:MAX_OPEN]
        if a.status == Account.Status.ACTIVE else []
        for a in accounts
    }
    return _write(wanted, now=now)


REFRESHED_FIELDS = ["from_product_id", "source", "probability", "expected_margin", "reason", "generated_at"]


@transaction.atomic
def _write(wanted: dict[int, list[Candidate]], *, now: datetime) -> list[GenerateResult]:
    """Apply a batch's candidates: refresh open ones, add new ones, withdraw open ones no longer wanted, and
    turn pursued ones won when the account has ordered the product since. The batch's opportunities are
    locked first, so a dismissal made meanwhile is not overwritten (only open ones are touched)."""
    ids = sorted(wanted)
    existing: dict[int, dict[int, Opportunity]] = {i: {} for i in ids}
    for opp in Opportunity.objects.select_for_update().filter(account_id__in=ids).order_by("pk"):
        existing[opp.account_id][opp.product_id] = opp
    pursued = [o for by in existing.values() for o in by.values()
               if o.status == Opportunity.Status.PURSUED and o.status_changed_at]
    won_ids = [o.pk for o in pursued if Interaction.objects.filter(
        account_id=o.account_id, kind="order", product_id=o.product_id, occurred_at__gte=o.status_changed_at).exists()]
    if won_ids:
        Opportunity.objects.filter(pk__in=won_ids).update(status=Opportunity.Status.WON, status_changed_at=now,
                                                          status_changed_by=None)
    won = {o.account_id: 0 for o in pursued}
    for o in pursued:
        won[o.account_id] += o.pk in won_ids
    refresh, touch, new, withdraw = [], [], [], []
    counts: dict[int, list[int]] = {}
    for account_id in ids:
        mine, products = existing[account_id], {c.product_id for c in wanted[account_id]}
        refreshed = created = 0
        for c in wanted[account_id]:
            fields = {"from_product_id": c.from_product_id, "source": c.source, "probability": c.probability,
                      "expected_margin": c.expected_margin, "reason": c.reason[:400], "generated_at": now}
            opp = mine.get(c.product_id)
            if opp is None:
                new.append(Opportunity(account_id=account_id, product_id=c.product_id, **fields))
                created += 1
            elif opp.status == Opportunity.Status.OPEN:
                if any(getattr(opp, name) != value for name, value in fields.items() if name != "generated_at"):
                    for name, value in fields.items():
                        setattr(opp, name, value)
                    refresh.append(opp)
                else:
                    touch.append(opp.pk)  # unchanged: only its generation time moves
                refreshed += 1
        gone = [o.pk for p, o in mine.items() if o.status == Opportunity.Status.OPEN and p not in products]
        withdraw += gone
        counts[account_id] = [created, refreshed, len(gone)]
    Opportunity.objects.bulk_update(refresh, REFRESHED_FIELDS, batch_size=500)
    if touch:
        Opportunity.objects.filter(pk__in=touch).update(generated_at=now)
    Opportunity.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)  # a concurrent run may add one
    if withdraw:
        Opportunity.objects.filter(pk__in=withdraw).delete()
    return [GenerateResult(i, *counts[i], won.get(i, 0)) for i in ids]


def stale_opportunity_account_ids(*, after: int = 0, limit: int = 10_000) -> list[int]:
    """Active accounts (id > ``after``, ascending) whose features and opportunities are behind their snapshot."""
    from django.db.models import F, Q

    return list(
        Account.objects.filter(status=Account.Status.ACTIVE, snapshot__isnull=False, pk__gt=after)
        .filter(Q(campaign_features__isnull=True)
                | Q(campaign_features__computed_version__lt=F("snapshot__computed_version")))
        .order_by("pk").values_list("pk", flat=True)[:limit]
    )


def _active_account_ids(*, after: int, limit: int) -> list[int]:
    return list(Account.objects.filter(status=Account.Status.ACTIVE, pk__gt=after).order_by("pk")
                .values_list("pk", flat=True)[:limit])


def opportunities_book(*, everyone: bool = False, now: datetime | None = None, batch: int = 200) -> dict:
    """Features and opportunities of every active account behind its snapshot (of every active account with
    ``everyone``, after new book patterns), ``batch`` accounts at a time, in one process: the book-level path
    after a whole-book change."""
    now = now or timezone.now()
    accounts = created = 0
    after = 0
    pick = _active_account_ids if everyone else stale_opportunity_account_ids
    while ids := pick(after=after, limit=batch):
        created += sum(r.created for r in opportunities_generate_many(account_ids=ids, now=now))
        accounts += len(ids)
        after = ids[-1]
    return {"accounts": accounts, "created": created}


TRANSITIONS = {
    Opportunity.Status.OPEN: {Opportunity.Status.PURSUED, Opportunity.Status.DISMISSED},
    Opportunity.Status.PURSUED: {Opportunity.Status.WON, Opportunity.Status.DISMISSED, Opportunity.Status.OPEN},
    Opportunity.Status.DISMISSED: {Opportunity.Status.OPEN},
    Opportunity.Status.WON: set(),
}


@transaction.atomic
def opportunity_set_status(*, opportunity_id: int, status: str, actor, now: datetime | None = None) -> Opportunity:  # type: ignore[no-untyped-def]
    """Move an opportunity along open → pursued → won, or dismiss it (and undo a dismissal)."""
    now = now or timezone.now()
    if status not in Opportunity.Status.values:
        raise OpportunityError(f"Unknown status {status!r}.")
    opp = Opportunity.objects.select_for_update(of=("self",)).select_related("product").get(pk=opportunity_id)
    if status not in TRANSITIONS.get(opp.status, set()):
        now_is = opp.get_status_display().lower()
        article = "An" if now_is[0] in "aeiou" else "A"
        raise OpportunityError(
            f"{article} {now_is} opportunity cannot become {Opportunity.Status(status).label.lower()}."
        )
    opp.status, opp.status_changed_at, opp.status_changed_by = status, now, actor
    opp.save(update_fields=["status", "status_changed_at", "status_changed_by"])
    return opp


