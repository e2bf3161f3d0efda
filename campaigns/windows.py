"""Revenue and net profit of accounts over their own time windows (campaign response windows, before and
after a loyalty enrolment).

Same definitions as the profitability engine (``profitability.costing``): revenue = orders + renewals,
net revenue = revenue − returns, gross margin = net revenue − COGS, cost-to-serve from the effective-dated
cost rates, net profit = gross margin − cost-to-serve. On PostgreSQL one set-based statement computes every
window (the windows go in as arrays); elsewhere ``costing.account_pnl`` does the same in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from django.db import connection

from crm.models import Interaction, InteractionChannel
from profitability.costing import CostRateInput, InteractionFact, RateWindow, account_pnl, resolve_rate_windows
from profitability.models import CostRate

ZERO = Decimal("0")


@dataclass(frozen=True)
class Window:
    key: object
    account_id: int
    start: datetime  # inclusive
    end: datetime  # exclusive


@dataclass(frozen=True)
class WindowFigures:
    revenue: Decimal = ZERO
    returns: Decimal = ZERO
    cogs: Decimal = ZERO
    cost_to_serve: Decimal = ZERO
    responses: int = 0  # promotion responses in the window

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.returns

    @property
    def net_profit(self) -> Decimal:
        return self.revenue - self.returns - self.cogs - self.cost_to_serve


def rate_windows() -> list[RateWindow]:
    rates = [CostRateInput(r.activity, r.kind, r.channel or None, r.per_unit, r.rate, r.effective_from)
             for r in CostRate.objects.all()]
    return resolve_rate_windows(rates, channels=InteractionChannel.values)


def window_figures(
    windows: Sequence[Window], *, rates: Sequence[RateWindow] | None = None
) -> dict[object, WindowFigures]:
    """Figures per window key; windows without interactions get zeros."""
    if not windows:
        return {}
    rates = rate_windows() if rates is None else rates
    if connection.vendor == "postgresql":
        return _sql(windows, rates)
    return _python(windows, rates)


def _midnight(day) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.combine(day, time.min, tzinfo=UTC)


def _sql(windows: Sequence[Window], rates: Sequence[RateWindow]) -> dict[object, WindowFigures]:
    keys = list(dict.fromkeys(w.key for w in windows))
    index = {k: i for i, k in enumerate(keys)}
    values = ["(NULL::text, NULL::text, NULL::text, false, 0::numeric, NULL::timestamptz, NULL::timestamptz)"]
    params: list = []
    for r in rates:
        values.append("(%s, %s, %s, %s, %s::numeric, %s::timestamptz, %s::timestamptz)")
        params += [r.activity, r.kind, r.channel, r.per_unit, r.rate, _midnight(r.valid_from),
                   _midnight(r.valid_to) if r.valid_to else None]
    params += [[index[w.key] for w in windows], [w.account_id for w in windows], [w.start for w in windows],
               [w.end for w in windows]]
    # Only placeholders are interpolated (one per rate window); every value goes in as a parameter.
    sql = f"""
    WITH rates(activity, kind, channel, per_unit, rate, valid_from, valid_to) AS (VALUES {', '.join(values)}),
    w(k, account_id, starts, ends) AS (
        SELECT * FROM unnest(%s::int[], %s::bigint[], %s::timestamptz[], %s::timestamptz[])
    ),
    hits AS (
        SELECT w.k, i.kind, i.channel, i.occurred_at, i.amount, i.direct_cost, i.quantity
        FROM w JOIN crm_interaction i ON i.account_id = w.account_id
            AND i.occurred_at >= w.starts AND i.occurred_at < w.ends
    ),
    money AS (
        SELECT k,
            coalesce(sum(amount) FILTER (WHERE kind IN ('order', 'renewal')), 0) AS revenue,
            coalesce(sum(amount) FILTER (WHERE kind = 'return'), 0) AS returns,
            coalesce(sum(CASE WHEN kind IN ('order', 'renewal') THEN direct_cost
                              WHEN kind = 'return' THEN -direct_cost END), 0) AS cogs,
            count(*) FILTER (WHERE kind = 'promotion_response') AS responses
        FROM hits GROUP BY k
    ),
    costs AS (
        SELECT h.k, sum(CASE WHEN r.per_unit THEN coalesce(h.quantity, 0) ELSE 1 END * r.rate) AS cost
        FROM hits h JOIN rates r ON r.kind = h.kind AND r.channel = h.channel
            AND h.occurred_at >= r.valid_from AND (r.valid_to IS NULL OR h.occurred_at < r.valid_to)
        GROUP BY h.k
    )
    SELECT m.k, m.revenue, m.returns, m.cogs, coalesce(c.cost, 0), m.responses
    FROM money m LEFT JOIN costs c ON c.k = m.k
    """  # noqa: S608
    out = {k: WindowFigures() for k in keys}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for k, revenue, returns, cogs, cost, responses in cursor.fetchall():
            out[keys[k]] = WindowFigures(revenue, returns, cogs, cost, responses)
    return out


def _python(windows: Sequence[Window], rates: Sequence[RateWindow]) -> dict[object, WindowFigures]:
    by_account: dict[int, list] = defaultdict(list)
    for row in Interaction.objects.filter(account_id__in={w.account_id for w in windows}).values_list(
        "account_id", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity"
    ):
        by_account[row[0]].append(row[1:])
    out = {}
    for w in windows:
        rows = [r for r in by_account[w.account_id] if w.start <= r[2] < w.end]
        facts = [InteractionFact(k, c, t.astimezone(UTC).date(), a, d, q) for k, c, t, a, d, q in rows]
        pnl = account_pnl(facts, rates)
        out[w.key] = WindowFigures(pnl.revenue, pnl.returns, pnl.cogs, pnl.cost_to_serve,
                                   sum(1 for r in rows if r[0] == "promotion_response"))
    return out
