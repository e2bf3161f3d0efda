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

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from crm.models import Account, EmployeeBand, Interaction, Product
from crm.templatetags.tierwise import money

from ..models import AssociationRule, Opportunity, PeerProductStat, ProductStat
from .patterns import basket_of, features_refresh, product_lines, ttm_start

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


def candidates_for(account: Account, *, now: datetime) -> list[Candidate]:
    """Every product the account could be offered, the best source per product, highest expected margin first."""
    snapshot = getattr(account, "snapshot", None)
    tier = snapshot.tier if snapshot is not None else None
    lines = product_lines(since=ttm_start(now), account_ids=[account.pk]).get(account.pk, {})
    owned = basket_of(lines)
    products = {p.pk: p for p in Product.objects.all()}
    stats = {s.product_id: s for s in ProductStat.objects.all()}
    best: dict[int, Candidate] = {}

    def offer(c: Candidate) -> None:
        if c.product_id in owned or c.expected_margin <= 0:
            return
        if c.product_id not in best or c.expected_margin > best[c.product_id].expected_margin:
            best[c.product_id] = c

    if owned:
        rules = AssociationRule.objects.filter(antecedent_id__in=owned).exclude(consequent_id__in=owned)
        scoped = tier is not None and account.industry and rules.filter(
            tier=tier, industry=account.industry).exists()
        rules = rules.filter(tier=tier, industry=account.industry) if scoped else rules.filter(
            tier__isnull=True, industry="")
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

    peers = PeerProductStat.objects.filter(segment=account.segment, industry=account.industry,
                                           employee_band=account.employee_band, share__gte=MIN_PEER_SHARE)
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
    now = now or timezone.now()
    account = Account.objects.select_related("snapshot__tier").filter(pk=account_id).first()
    if account is None:
        return GenerateResult(account_id, 0, 0, 0, 0)
    snapshot = getattr(account, "snapshot", None)
    version = snapshot.computed_version if snapshot is not None else 0
    features_refresh(account_ids=[account_id], now=now, versions={account_id: version})
    wanted = candidates_for(account, now=now)[:MAX_OPEN] if account.status == Account.Status.ACTIVE else []

    with transaction.atomic():
        existing = {o.product_id: o for o in Opportunity.objects.filter(account_id=account_id)}
        won = 0
        for opp in existing.values():
            if opp.status == Opportunity.Status.PURSUED and opp.status_changed_at and Interaction.objects.filter(
                account_id=account_id, kind="order", product_id=opp.product_id, occurred_at__gte=opp.status_changed_at
            ).exists():
                won += Opportunity.objects.filter(pk=opp.pk, status=Opportunity.Status.PURSUED).update(
                    status=Opportunity.Status.WON, status_changed_at=now, status_changed_by=None)
        refreshed = 0
        new = []
        for c in wanted:
            fields = {"from_product_id": c.from_product_id, "source": c.source, "probability": c.probability,
                      "expected_margin": c.expected_margin, "reason": c.reason[:400], "generated_at": now}
            if c.product_id in existing:
                # Only open ones are refreshed; the status filter makes a concurrent dismissal win.
                refreshed += Opportunity.objects.filter(
                    pk=existing[c.product_id].pk, status=Opportunity.Status.OPEN).update(**fields)
            else:
                new.append(Opportunity(account_id=account_id, product_id=c.product_id, **fields))
        created = Opportunity.objects.bulk_create(new, ignore_conflicts=True)
        withdrawn, _ = Opportunity.objects.filter(account_id=account_id, status=Opportunity.Status.OPEN).exclude(
            product_id__in=[c.product_id for c in wanted]).delete()
    return GenerateResult(account_id, len(created), refreshed, withdrawn, won)


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


