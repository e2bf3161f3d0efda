"""The set-based P&L query, shared by the one-account and the whole-book recompute.

One statement reads the accounts' history versions and aggregates their interactions, so the figures and
the version they are labelled with come from the same MVCC snapshot. Cost rates are passed in as a VALUES
list of resolved windows (see ``costing.resolve_rate_windows``) and joined on (kind, channel, date range).
The result of this query must equal ``costing.account_pnl`` over the same rows; a property test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from .costing import RateWindow

# Kinds, in SQL literals; kept in one place with costing.REVENUE_KINDS / RETURN_KIND.
_REVENUE = "('order', 'renewal')"

PNL_COLUMNS = [
    "account_id", "history_version",
    "revenue", "returns", "cogs", "orders",
    "revenue_ttm", "returns_ttm", "cogs_ttm", "orders_ttm",
    "first_order_at", "last_order_at", "last_interaction_at", "order_revenue",
    "cost_to_serve", "cost_to_serve_ttm", "breakdown", "breakdown_ttm",
]


def _rates_values(windows: Sequence[RateWindow]) -> tuple[str, list]:
    """A VALUES list of rate windows (with one never-matching row so the CTE is never empty)."""
    rows = ["(NULL::text, NULL::text, NULL::text, false, 0::numeric, NULL::timestamptz, NULL::timestamptz)"]
    params: list = []
    for w in windows:
        rows.append("(%s, %s, %s, %s, %s::numeric, %s::timestamptz, %s::timestamptz)")
        params += [w.activity, w.kind, w.channel, w.per_unit, w.rate, _midnight(w.valid_from),
                   _midnight(w.valid_to) if w.valid_to else None]
    return ", ".join(rows), params


def _midnight(day: date) -> datetime:
    from datetime import UTC, time

    return datetime.combine(day, time.min, tzinfo=UTC)


def pnl_query(
    windows: Sequence[RateWindow], *, ttm_start: datetime, account_ids: Sequence[int] | None = None
) -> tuple[str, list]:
    """SQL and params returning one row per account (``PNL_COLUMNS``); all accounts when ``account_ids`` is None.

    Accounts without interactions come back with zeros, so every selected account gets a row.
    """
    values, rate_params = _rates_values(windows)
    only = "WHERE i.account_id = ANY(%s)" if account_ids is not None else ""
    only_accounts = "WHERE a.id = ANY(%s)" if account_ids is not None else ""
    ids = [list(account_ids)] if account_ids is not None else []
    sql = f"""
    WITH rates(activity, kind, channel, per_unit, rate, valid_from, valid_to) AS (VALUES {values}),
    money AS (
        SELECT i.account_id,
            sum(i.amount) FILTER (WHERE i.kind IN {_REVENUE}) AS revenue,
            sum(i.amount) FILTER (WHERE i.kind = 'return') AS returns,
            sum(CASE WHEN i.kind IN {_REVENUE} THEN i.direct_cost
                     WHEN i.kind = 'return' THEN -i.direct_cost END) AS cogs,
            count(*) FILTER (WHERE i.kind = 'order') AS orders,
            sum(i.amount) FILTER (WHERE i.kind IN {_REVENUE} AND i.occurred_at >= %s) AS revenue_ttm,
            sum(i.amount) FILTER (WHERE i.kind = 'return' AND i.occurred_at >= %s) AS returns_ttm,
            sum(CASE WHEN i.kind IN {_REVENUE} THEN i.direct_cost
                     WHEN i.kind = 'return' THEN -i.direct_cost END) FILTER (WHERE i.occurred_at >= %s) AS cogs_ttm,
            count(*) FILTER (WHERE i.kind = 'order' AND i.occurred_at >= %s) AS orders_ttm,
            min(i.occurred_at) FILTER (WHERE i.kind = 'order') AS first_order_at,
            max(i.occurred_at) FILTER (WHERE i.kind = 'order') AS last_order_at,
            max(i.occurred_at) AS last_interaction_at,
            sum(i.amount) FILTER (WHERE i.kind = 'order') AS order_revenue
        FROM crm_interaction i
        {only}
        GROUP BY i.account_id
    ),
    costed AS (
        SELECT i.account_id, r.activity,
            count(*) AS n,
            sum(CASE WHEN r.per_unit THEN coalesce(i.quantity, 0) ELSE 1 END * r.rate) AS cost,
            count(*) FILTER (WHERE i.occurred_at >= %s) AS n_ttm,
            sum(CASE WHEN r.per_unit THEN coalesce(i.quantity, 0) ELSE 1 END * r.rate)
                FILTER (WHERE i.occurred_at >= %s) AS cost_ttm
        FROM crm_interaction i
        JOIN rates r ON r.kind = i.kind AND r.channel = i.channel
            AND i.occurred_at >= r.valid_from AND (r.valid_to IS NULL OR i.occurred_at < r.valid_to)
        {only}
        GROUP BY i.account_id, r.activity
    ),
    costs AS (
        SELECT account_id,
            sum(cost) AS cost_to_serve,
            sum(coalesce(cost_ttm, 0)) AS cost_to_serve_ttm,
            jsonb_object_agg(activity, jsonb_build_object('count', n, 'cost', cost::text)) AS breakdown,
            jsonb_object_agg(activity, jsonb_build_object('count', n_ttm, 'cost', coalesce(cost_ttm, 0)::text))
                FILTER (WHERE n_ttm > 0) AS breakdown_ttm
        FROM costed
        GROUP BY account_id
    )
    SELECT a.id, a.history_version,
        coalesce(m.revenue, 0), coalesce(m.returns, 0), coalesce(m.cogs, 0), coalesce(m.orders, 0),
        coalesce(m.revenue_ttm, 0), coalesce(m.returns_ttm, 0), coalesce(m.cogs_ttm, 0), coalesce(m.orders_ttm, 0),
        m.first_order_at, m.last_order_at, m.last_interaction_at, coalesce(m.order_revenue, 0),
        coalesce(c.cost_to_serve, 0), coalesce(c.cost_to_serve_ttm, 0),
        coalesce(c.breakdown, '{{}}'::jsonb), coalesce(c.breakdown_ttm, '{{}}'::jsonb)
    FROM crm_account a
    LEFT JOIN money m ON m.account_id = a.id
    LEFT JOIN costs c ON c.account_id = a.id
    {only_accounts}
    """
    params = [*rate_params, ttm_start, ttm_start, ttm_start, ttm_start, *ids, ttm_start, ttm_start, *ids, *ids]
    return sql, params
