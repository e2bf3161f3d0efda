"""Reads for the account manager's pages: the account list, an account's figures and its page.

Everything here reads precomputed rows (``AccountSnapshot``) — the list is one query for the page of rows
plus one COUNT, whatever the size of the book. The waterfall geometry is pure (no Django) so the chart is
drawn server-side as SVG and tested without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from crm.models import Account, ServiceCase
from crm.selectors import InteractionPage, account_contacts, interaction_page
from crm.selectors_cases import CaseRow, account_cases

from ..models import AccountSnapshot, SegmentPnl, Tier, TierChange
from .effective_tier import EffectiveTier, effective_tier_annotations, effective_tier_of
from .service import unranked_sla_tier

ZERO = Decimal("0")
PAGE_SIZE = 50
CLV_CAC_TARGET = Decimal("3")

# --- the account list --------------------------------------------------------------------------------------

CLV_EXPRESSION = Coalesce(F("clv_predictive"), F("clv_formula"))

#: sort key → (label, ORDER BY ascending, ORDER BY descending). Missing figures sort below every figure (first
#: ascending, last descending), so each order is one btree index scanned forwards or backwards; the primary
#: key breaks ties so pages are stable. "Tier" sorts by rank: tiers are bands of the ranking, best first.
SORTS: dict[str, tuple[str, list, list]] = {
    "name": ("Name", [F("account__name").asc(), F("account_id").asc()],
             [F("account__name").desc(), F("account_id").desc()]),
    "tier": ("Tier", [F("rank").asc(nulls_last=True), F("account_id").asc()],
             [F("rank").desc(nulls_first=True), F("account_id").desc()]),
    "profit": ("Net profit TTM", [F("net_profit_ttm").asc(), F("account_id").asc()],
               [F("net_profit_ttm").desc(), F("account_id").desc()]),
    "clv": ("CLV", [CLV_EXPRESSION.asc(nulls_first=True), F("account_id").asc()],
            [CLV_EXPRESSION.desc(nulls_last=True), F("account_id").desc()]),
    "ratio": ("CLV/CAC", [F("clv_cac_ratio").asc(nulls_first=True), F("account_id").asc()],
              [F("clv_cac_ratio").desc(nulls_last=True), F("account_id").desc()]),
    "last": ("Last interaction", [F("last_interaction_at").asc(nulls_first=True), F("account_id").asc()],
             [F("last_interaction_at").desc(nulls_last=True), F("account_id").desc()]),
}
DEFAULT_SORT = "-profit"
#: What a list row shows: the snapshot's wide JSON columns (cost breakdowns, explanation) stay on disk, which
#: keeps the rows narrow when a sort without an index has to read every one.
LIST_FIELDS = [
    "account_id", "computed_version", "net_profit_ttm", "clv_predictive", "clv_formula", "clv_cac_ratio",
    "last_interaction_at", "rank", "tier",
    "account__name", "account__status", "account__owner",
    "account__owner__username", "account__owner__first_name", "account__owner__last_name",
    "tier__name", "tier__color", "tier__position",
]


@dataclass(frozen=True)
class AccountFilters:
    """What the list shows. ``owner_id`` None = every account; ``tier`` is a tier id or ``"none"``."""

    owner_id: int | None = None
    q: str = ""
    tier: str = ""
    industry: str = ""
    region: str = ""
    status: str = ""
    below_target: bool = False
    sort: str = DEFAULT_SORT


def tier_movement() -> Subquery:
    """+1 if the account's latest tier change moved it up (to a better tier position), −1 down, 0 otherwise.

    A correlated subquery on ``TierChange(account, -changed_at)``: evaluated for the page's rows only.
    """
    latest = (
        TierChange.objects.filter(account_id=OuterRef("account_id"))
        .order_by("-changed_at", "-id")
        .annotate(move=Case(
            When(from_tier__isnull=True, to_tier__isnull=False, then=Value(1)),
            When(from_tier__isnull=False, to_tier__isnull=True, then=Value(-1)),
            When(to_tier__position__lt=F("from_tier__position"), then=Value(1)),
            When(to_tier__position__gt=F("from_tier__position"), then=Value(-1)),
            default=Value(0),
            output_field=IntegerField(),
        ))
        .values("move")[:1]
    )
    return Subquery(latest, output_field=IntegerField())


def account_list(*, filters: AccountFilters) -> QuerySet[AccountSnapshot]:
    """The snapshots of the accounts ``filters`` selects, with account, owner and tier joined, sorted.

    Accounts appear once they have a snapshot (every account does after a book recompute).
    """
    rows = (
        AccountSnapshot.objects.select_related("account", "account__owner", "tier")
        .only(*LIST_FIELDS)
        .annotate(tier_move=tier_movement())
    )
    if filters.owner_id is not None:
        rows = rows.filter(account__owner_id=filters.owner_id)
    if filters.q:
        rows = rows.filter(account__name__icontains=filters.q)
    if filters.tier == "none":
        rows = rows.filter(tier__isnull=True)
    elif filters.tier:
        rows = rows.filter(tier_id=int(filters.tier))
    if filters.industry:
        rows = rows.filter(account__industry=filters.industry)
    if filters.region:
        rows = rows.filter(account__region=filters.region)
    if filters.status:
        rows = rows.filter(account__status=filters.status)
    if filters.below_target:
        rows = rows.filter(clv_cac_ratio__lt=CLV_CAC_TARGET)
    key = filters.sort.lstrip("-")
    if key not in SORTS:
        key, descending = DEFAULT_SORT.lstrip("-"), True
    else:
        descending = filters.sort.startswith("-")
    _label, ascending_order, descending_order = SORTS[key]
    return rows.order_by(*(descending_order if descending else ascending_order))


@dataclass(frozen=True)
class FilterOptions:
    tiers: list[Tier]
    industries: list[str]
    regions: list[str]


def filter_options() -> FilterOptions:
    """Choices for the list's filters: the tiers, and the industries and regions of the last book ranking.

    Industries and regions come from the precomputed segment P&L (a few dozen rows), not a DISTINCT over
    every account.
    """
    values: dict[str, list[str]] = {SegmentPnl.Dimension.INDUSTRY: [], SegmentPnl.Dimension.REGION: []}
    for dimension, value in SegmentPnl.objects.filter(dimension__in=list(values)).order_by("value").values_list(
        "dimension", "value"
    ):
        if value:
            values[dimension].append(value)
    return FilterOptions(
        tiers=list(Tier.objects.order_by("position")),
        industries=values[SegmentPnl.Dimension.INDUSTRY],
        regions=values[SegmentPnl.Dimension.REGION],
    )


# --- the waterfall (pure) -----------------------------------------------------------------------------------

BAR_WIDTH = 56
BAR_GAP = 30
LEFT = 16
TOP = 22
PLOT_HEIGHT = 220
BELOW_PLOT = 20  # room for the value labels of bars that end at the bottom
AXIS_LABELS = 34
LABEL_CHARS = 13


@dataclass(frozen=True)
class WaterfallStep:
    """One bar: ``amount`` is the signed effect (a total's amount is its level); ``start`` → ``end`` the span."""

    label: str
    amount: Decimal
    start: Decimal
    end: Decimal
    kind: str  # "total", "subtotal", "down", "up"
    count: int | None = None
    x: float = 0.0
    y: float = 0.0
    width: float = BAR_WIDTH
    height: float = 0.0
    center_x: float = 0.0
    value_y: float = 0.0
    lines: tuple[str, ...] = ()
    connector_y: float | None = None
    connector_x1: float = 0.0
    connector_x2: float = 0.0

    @property
    def css_class(self) -> str:
        if self.kind in ("total", "subtotal") and self.end < 0:
            return f"wf-{self.kind} wf-negative"
        return f"wf-{self.kind}"


@dataclass(frozen=True)
class Waterfall:
    steps: list[WaterfallStep]
    width: int
    height: int
    zero_y: float
    axis_y: float
    label_y: float


def _label_lines(label: str) -> tuple[str, ...]:
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= LABEL_CHARS:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    if len(lines) == 2 and len(lines[1]) > LABEL_CHARS + 2:
        lines[1] = lines[1][: LABEL_CHARS] + "…"
    return tuple(lines)


def waterfall_steps(
    *, revenue: Decimal, returns: Decimal, cogs: Decimal, cost_breakdown: dict, cost_to_serve: Decimal,
    net_profit: Decimal,
) -> list[WaterfallStep]:
    """Revenue → −returns → −COGS → gross margin → −each cost-to-serve activity (largest first) → net profit.

    ``cost_breakdown`` is the snapshot's ``{activity: {"count", "cost"}}``; activities costing nothing are
    left out. Any difference between the activities and ``cost_to_serve`` shows as "Other costs", so the bars
    always land on ``net_profit``.
    """
    steps: list[WaterfallStep] = []
    level = ZERO

    def move(label: str, delta: Decimal, count: int | None = None) -> None:
        nonlocal level
        steps.append(WaterfallStep(label, delta, level, level + delta, "up" if delta > 0 else "down", count))
        level += delta

    steps.append(WaterfallStep("Revenue", revenue, ZERO, revenue, "total"))
    level = revenue
    move("Returns", -returns)
    move("COGS", -cogs)
    steps.append(WaterfallStep("Gross margin", level, ZERO, level, "subtotal"))
    activities = sorted(
        ((name, Decimal(str(v["cost"])), int(v.get("count") or 0)) for name, v in (cost_breakdown or {}).items()),
        key=lambda item: (-item[1], item[0]),
    )
    listed = ZERO
    for name, cost, count in activities:
        if cost:
            move(name, -cost, count)
            listed += cost
    if listed != cost_to_serve:
        move("Other costs", -(cost_to_serve - listed))
    steps.append(WaterfallStep("Net profit", net_profit, ZERO, net_profit, "total"))
    return steps


def waterfall(**figures: Decimal | dict) -> Waterfall:
    """The steps of :func:`waterfall_steps` with their SVG geometry (user units of the chart's viewBox)."""
    steps = waterfall_steps(**figures)  # type: ignore[arg-type]
    levels = [ZERO] + [s.start for s in steps] + [s.end for s in steps]
    top, bottom = max(levels), min(levels)
    span = (top - bottom) or Decimal(1)
    scale = PLOT_HEIGHT / float(span)

    def y(value: Decimal) -> float:
        return round(TOP + float(top - value) * scale, 1)

    placed = []
    for i, step in enumerate(steps):
        x = LEFT + i * (BAR_WIDTH + BAR_GAP)
        y_high, y_low = y(max(step.start, step.end)), y(min(step.start, step.end))
        height = max(y_low - y_high, 1.0)
        goes_down = step.end < step.start or (step.kind in ("total", "subtotal") and step.end < 0)
        value_y = y_low + 14 if goes_down else y_high - 6
        last = i == len(steps) - 1
        placed.append(replace(
            step, x=x, y=y_high, height=round(height, 1), center_x=x + BAR_WIDTH / 2, value_y=value_y,
            lines=_label_lines(step.label), connector_y=None if last else y(step.end),
            connector_x1=x + BAR_WIDTH, connector_x2=x + BAR_WIDTH + BAR_GAP,
        ))
    width = LEFT * 2 + len(steps) * BAR_WIDTH + (len(steps) - 1) * BAR_GAP
    axis_y = TOP + PLOT_HEIGHT + BELOW_PLOT
    return Waterfall(
        steps=placed, width=width, height=int(axis_y + AXIS_LABELS), zero_y=y(ZERO), axis_y=axis_y,
        label_y=axis_y + 12,
    )


# --- one account's figures (the live panel of the account page) ---------------------------------------------

PERIODS = {"lifetime": "Lifetime", "ttm": "Last 12 months"}
CLV_MODELS = {
    "bg_nbd+gg": "BG/NBD + Gamma-Gamma (repeat buyer)",
    "sbg": "shifted-beta-geometric (contract)",
    "churned": "churned: no future value",
}


@dataclass(frozen=True)
class AccountFigures:
    account: Account
    snapshot: AccountSnapshot | None
    period: str
    waterfall: Waterfall | None
    tier_changes: list[TierChange]
    #: The tier the account is served as now: its ranked tier, or a better one granted for a while.
    effective: EffectiveTier = field(default_factory=lambda: EffectiveTier(tier=None, own=None))
    #: Without any tier: the one whose SLA its new cases get (the lowest, as ``cases_apply_sla`` sets it).
    unranked_sla: Tier | None = None

    @property
    def tier(self) -> Tier | None:
        """The ranked tier (the snapshot's): what the figures earn, not necessarily the service given."""
        return self.snapshot.tier if self.snapshot else None

    @property
    def recomputing(self) -> bool:
        """The snapshot is missing or older than the account's interaction history: a recompute is due."""
        return self.snapshot is None or self.snapshot.computed_version < self.account.history_version

    @property
    def period_label(self) -> str:
        return PERIODS[self.period]

    @property
    def clv_model_label(self) -> str:
        if self.snapshot is None or not self.snapshot.clv_model:
            return ""
        return CLV_MODELS.get(self.snapshot.clv_model, self.snapshot.clv_model)


def account_figures(
    *, account_id: int, now: datetime, period: str = "lifetime", tier_history: int = 10
) -> AccountFigures:
    """The account with its snapshot, ranked and effective tier at ``now`` (one query; one more for the granted
    tier while upgraded), its latest tier changes (one query), the P&L chart."""
    account = (
        Account.objects.select_related("owner", "snapshot", "snapshot__tier")
        .annotate(**effective_tier_annotations(now=now, account_ref="pk"))
        .get(pk=account_id)
    )
    snapshot = getattr(account, "snapshot", None)  # the reverse one-to-one raises AttributeError when absent
    tiers = {snapshot.tier.pk: snapshot.tier} if snapshot is not None and snapshot.tier is not None else {}
    if account.eff_tier_id is not None and account.eff_tier_id not in tiers:
        tiers.update((t.pk, t) for t in Tier.objects.filter(pk=account.eff_tier_id))
    period = period if period in PERIODS else "lifetime"
    chart = None
    if snapshot is not None:
        suffix = "_ttm" if period == "ttm" else ""
        chart = waterfall(
            revenue=getattr(snapshot, "revenue" + suffix), returns=getattr(snapshot, "returns" + suffix),
            cogs=getattr(snapshot, "cogs" + suffix), cost_breakdown=getattr(snapshot, "cost_breakdown" + suffix),
            cost_to_serve=getattr(snapshot, "cost_to_serve" + suffix),
            net_profit=getattr(snapshot, "net_profit" + suffix),
        )
    changes = list(
        TierChange.objects.filter(account_id=account_id).select_related("from_tier", "to_tier")
        .order_by("-changed_at", "-id")[:tier_history]
    )
    effective = effective_tier_of(account, tiers)
    return AccountFigures(account=account, snapshot=snapshot, period=period, waterfall=chart, tier_changes=changes,
                          effective=effective, unranked_sla=unranked_sla_tier() if effective.tier is None else None)


# --- the account page ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountPage:
    figures: AccountFigures
    timeline: InteractionPage
    contacts: list = field(default_factory=list)
    cases: list[CaseRow] = field(default_factory=list)
    open_cases: int = 0

    @property
    def account(self) -> Account:
        return self.figures.account


def account_page(*, account_id: int, now: datetime, period: str = "lifetime") -> AccountPage:
    """Everything the account page shows: figures, the first page of the timeline, contacts and cases."""
    figures = account_figures(account_id=account_id, now=now, period=period)
    return AccountPage(
        figures=figures,
        timeline=interaction_page(account_id=account_id, page=1),
        contacts=account_contacts(account_id=account_id),
        cases=account_cases(account_id=account_id, now=now),
        open_cases=open_case_count(account_id=account_id),
    )


def open_case_count(*, account_id: int) -> int:
    """The account's cases not resolved yet, all of them (the case table shows only the latest 50)."""
    return ServiceCase.objects.filter(account_id=account_id).exclude(status=ServiceCase.Status.RESOLVED).count()
