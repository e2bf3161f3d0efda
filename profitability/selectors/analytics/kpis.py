"""The KPI dashboard (cards, trends, CSV) and the KPI check (does each KPI move with next month's profit)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ... import analytics as math
from ... import charts
from ...models_analytics import KpiMonth, KpiTarget
from .formatting import axis_formatter, format_kpi, month_label
from .refresh import RefreshInfo, refresh_info

DASHBOARD_MONTHS = 24
DEFAULT_TARGETS = {"clv_cac": math.CLV_CAC_FLOOR}  # source 000's floor, until an admin sets a target


# --- KPI dashboard -------------------------------------------------------------------------------------------------


@dataclass
class KpiCard:
    kpi: math.KpiDef
    month: date | None
    value: Decimal | None
    previous: Decimal | None
    target: Decimal | None
    target_is_default: bool
    benchmark: Decimal | None
    benchmark_source: str
    tolerance_pct: Decimal
    state: str | None
    benchmark_gap: str | None
    shown: bool
    labels: list[str] = field(default_factory=list)
    series: list[Decimal | None] = field(default_factory=list)
    spark: str = ""

    @property
    def display(self) -> str:
        return format_kpi(self.kpi.unit, self.value)

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_display(self) -> str:
        change = self.change
        if change is None:
            return ""
        sign = "+" if change > 0 else ("−" if change < 0 else "±")
        if self.kpi.unit == math.PCT:
            return f"{sign}{abs(change):,.1f} pts"
        return sign + format_kpi(self.kpi.unit, abs(change)).lstrip("+")

    @property
    def change_is_good(self) -> bool | None:
        change = self.change
        if not change:
            return None
        return (change > 0) == self.kpi.higher_is_better

    @property
    def target_display(self) -> str:
        return format_kpi(self.kpi.unit, self.target)

    @property
    def benchmark_display(self) -> str:
        return format_kpi(self.kpi.unit, self.benchmark)

    @property
    def below_clv_cac_floor(self) -> bool:
        return self.kpi.key == "clv_cac" and self.value is not None and self.value < math.CLV_CAC_FLOOR


@dataclass
class Dashboard:
    cards: list[KpiCard]
    hidden: list[KpiCard]
    selected: KpiCard | None
    chart: str
    months: list[KpiMonth]  # oldest first
    refresh: RefreshInfo | None

    @property
    def kpis(self) -> tuple[math.KpiDef, ...]:
        return math.KPIS

    @property
    def selected_rows(self) -> list[tuple[str, str]]:
        if self.selected is None:
            return []
        unit = self.selected.kpi.unit
        return [(label, format_kpi(unit, v)) for label, v in zip(self.selected.labels, self.selected.series,
                                                                   strict=True)]

    @property
    def table_rows(self) -> list[tuple[str, list[str]]]:
        return [(month_label(m.month), [format_kpi(k.unit, getattr(m, k.key)) for k in math.KPIS])
                for m in self.months]


def targets_by_kpi() -> dict[str, KpiTarget]:
    return {t.kpi: t for t in KpiTarget.objects.all()}


def kpi_cards(rows: Sequence[KpiMonth], targets: dict[str, KpiTarget]) -> list[KpiCard]:
    cards = []
    labels = [month_label(r.month) for r in rows]
    for kpi in math.KPIS:
        series = [getattr(r, kpi.key) for r in rows]
        known = [(r.month, v) for r, v in zip(rows, series, strict=True) if v is not None]
        month, value = known[-1] if known else (None, None)
        previous = known[-2][1] if len(known) > 1 else None
        row = targets.get(kpi.key)
        target = row.target if row and row.target is not None else DEFAULT_TARGETS.get(kpi.key)
        tolerance = row.tolerance_pct if row else Decimal("10")
        cards.append(KpiCard(
            kpi=kpi, month=month, value=value, previous=previous, target=target,
            target_is_default=(row is None or row.target is None) and kpi.key in DEFAULT_TARGETS,
            benchmark=row.benchmark if row else None, benchmark_source=row.benchmark_source if row else "",
            tolerance_pct=tolerance,
            state=math.kpi_state(value, target, higher_is_better=kpi.higher_is_better, tolerance_pct=tolerance),
            benchmark_gap=math.benchmark_gap(value, row.benchmark if row else None,
                                             higher_is_better=kpi.higher_is_better),
            shown=row.shown if row else True, labels=labels, series=series,
        ))
    return cards


def kpi_dashboard(*, selected: str | None = None, months: int = DASHBOARD_MONTHS) -> Dashboard:
    rows = list(KpiMonth.objects.order_by("-month")[:months])[::-1]
    cards = kpi_cards(rows, targets_by_kpi())
    for card in cards:
        card.spark = charts.line_chart(
            card.labels, [float(v) if v is not None else None for v in card.series],
            chart_id=f"spark-{card.kpi.key}", title=f"{card.kpi.label}, last {len(rows)} months",
            fmt=axis_formatter(card.kpi.unit), target=float(card.target) if card.target is not None else None,
            width=240, height=64, compact=True,
        )
    shown = [c for c in cards if c.shown]
    chosen = next((c for c in cards if c.kpi.key == selected), None) or next(
        (c for c in shown if c.kpi.key == "clv_cac"), shown[0] if shown else None)
    chart = ""
    if chosen is not None:
        chart = charts.line_chart(
            chosen.labels, [float(v) if v is not None else None for v in chosen.series],
            chart_id=f"trend-{chosen.kpi.key}", title=f"{chosen.kpi.label}: monthly trend",
            fmt=axis_formatter(chosen.kpi.unit),
            target=float(chosen.target) if chosen.target is not None else None,
            benchmark=float(chosen.benchmark) if chosen.benchmark is not None else None, width=960, height=260,
        )
    return Dashboard(shown, [c for c in cards if not c.shown], chosen, chart, rows, refresh_info())


def kpi_csv_rows() -> tuple[list[str], Iterator[list]]:
    header = ["month", *[k.key for k in math.KPIS], "revenue", "returns", "cogs", "cost_to_serve", "net_profit",
              "orders", "customers", "spend", "acquired"]

    def rows() -> Iterator[list]:
        for m in KpiMonth.objects.order_by("month"):
            yield [m.month.isoformat(), *[getattr(m, k.key) for k in math.KPIS], m.revenue, m.returns, m.cogs,
                   m.cost_to_serve, m.net_profit, m.orders, m.customers, m.spend, m.acquired]

    return header, rows()


# --- KPI check ---------------------------------------------------------------------------------------------------


@dataclass
class KpiCheckRow:
    kpi: math.KpiDef
    correlation: math.KpiCorrelation
    shown: bool

    @property
    def r_display(self) -> str:
        return _signed(self.correlation.r, math.R_PLACES)

    @property
    def p_display(self) -> str:
        p = self.correlation.p_value
        return f"{p:.{math.P_PLACES}f}" if p is not None else "—"

    @property
    def r_changes_display(self) -> str:
        return _signed(self.correlation.r_changes, math.R_PLACES)


def _signed(value: float | None, places: int) -> str:
    """r as the KPI check shows it (the verdict is taken on this figure): "+0.31", "−0.30"."""
    return f"{value:+.{places}f}".replace("-", "−") if value is not None else "—"


@dataclass
class KpiCheck:
    rows: list[KpiCheckRow]
    months: int
    chart: str
    refresh: RefreshInfo | None


VERDICTS = {
    "moves": "Moves with profit — keep",
    "weak": "Weak link — watch",
    "none": "Does not move with profit — candidate to drop",
    "short": "Not enough history yet",
}


def kpi_check() -> KpiCheck:
    rows = list(KpiMonth.objects.order_by("month"))
    profit = [r.net_profit for r in rows]
    targets = targets_by_kpi()
    out = []
    for kpi in math.KPIS:
        correlation = math.kpi_profit_correlation([getattr(r, kpi.key) for r in rows], profit)
        out.append(KpiCheckRow(kpi, correlation, targets[kpi.key].shown if kpi.key in targets else True))
    chart = charts.bar_chart(
        [(row.kpi.label, row.correlation.r) for row in out], chart_id="kpi-check",
        title="Correlation of each KPI with next month's net profit", fmt=lambda v: _signed(v, math.R_PLACES),
    )
    return KpiCheck(out, len(rows), chart, refresh_info())


def kpi_check_csv_rows() -> tuple[list[str], Iterator[list]]:
    check = kpi_check()
    header = ["kpi", "months_paired", "r_next_month_net_profit", "p_value", "r_month_on_month_changes", "verdict"]
    return header, iter([
        [row.kpi.label, row.correlation.pairs, _round(row.correlation.r, 4), _round(row.correlation.p_value, 4),
         _round(row.correlation.r_changes, 4), VERDICTS[row.correlation.verdict]]
        for row in check.rows
    ])


def _round(value: float | None, places: int) -> float | None:
    return round(value, places) if value is not None else None
