"""The whale curve of cumulative net profit and the list of loss-making accounts with their cost drivers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from crm.models import Account

from ... import analytics as math
from ... import charts
from ...models import AccountSnapshot, BookSummary

LOSS_PAGE_SIZE = 25


@dataclass
class LossMaker:
    snapshot: AccountSnapshot
    driver: math.LossDriver


@dataclass
class WhalePage:
    book: BookSummary | None
    chart: str
    points: list[tuple[float, float]]
    loss_makers: Page | None
    break_even_pct: float | None = None  # the top that many % of accounts earn 100 % of the profit


def _book() -> BookSummary | None:
    return BookSummary.objects.order_by("-computed_at").defer("metric_quantiles", "tier_median_counts").first()


def _loss_makers():  # type: ignore[no-untyped-def]
    return (
        AccountSnapshot.objects.filter(account__status=Account.Status.ACTIVE, net_profit__lt=0)
        .select_related("account", "tier").order_by("net_profit", "account_id")
    )


def _loss_maker(snapshot: AccountSnapshot) -> LossMaker:
    return LossMaker(snapshot, math.loss_driver(snapshot.cost_breakdown, gross_margin=snapshot.gross_margin,
                                                returns=snapshot.returns))


def whale_page(*, page: int | str = 1) -> WhalePage:
    book = _book()
    if book is None:
        return WhalePage(None, "", [], None)
    points = list(zip(book.whale_curve.get("customer_pct", []), book.whale_curve.get("cumulative_profit_pct", []),
                      strict=True))
    break_even = book.break_even_customer_pct
    chart = charts.whale_chart(
        [p[0] for p in points], [p[1] for p in points], chart_id="whale", title="Whale curve: cumulative net profit",
        peak=(book.peak_customer_pct, book.peak_profit_pct) if points else None,
        top20=book.top20_profit_pct if points else None, break_even=break_even,
    )
    paginator = Paginator(_loss_makers(), LOSS_PAGE_SIZE)
    loss_page = paginator.get_page(page)
    loss_page.object_list = [_loss_maker(s) for s in loss_page.object_list]
    return WhalePage(book, chart, points, loss_page, break_even)


def whale_csv_rows() -> tuple[list[str], Iterator[list]]:
    book = _book()
    curve = book.whale_curve if book else {}
    return (["accounts_pct", "cumulative_net_profit_pct"],
            iter([[a, b] for a, b in zip(curve.get("customer_pct", []), curve.get("cumulative_profit_pct", []),
                                         strict=True)]))


def loss_makers_csv_rows() -> tuple[list[str], Iterator[list]]:
    header = ["account_id", "account", "tier", "net_profit", "gross_margin", "cost_to_serve", "driver",
              "driver_count", "driver_cost", "driver_share_of_cost_to_serve_pct", "explanation"]

    def rows() -> Iterator[list]:
        for snapshot in _loss_makers().iterator(chunk_size=2000):
            item = _loss_maker(snapshot)
            yield [snapshot.account_id, snapshot.account.name, snapshot.tier.name if snapshot.tier else "",
                   snapshot.net_profit, snapshot.gross_margin, snapshot.cost_to_serve, item.driver.activity,
                   item.driver.count, item.driver.cost, item.driver.share_pct, " · ".join(snapshot.explanation)]

    return header, rows()
