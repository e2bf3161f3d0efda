"""The set-based P&L query, shared by the one-account and the whole-book recompute.

One statement reads the accounts' history versions and aggregates their interactions, so the figures and
the version they are labelled with come from the same MVCC snapshot. Cost rates are passed in as arrays of
resolved windows (see ``costing.resolve_rate_windows``) and joined on (kind, channel, date range).
The result of this query must equal ``costing.account_pnl`` over the same rows; a property test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from .costing import RateWindow

# Kinds, in SQL literals; kept in one place with costing.REVENUE_KINDS / RETURN_KIND.
_REVENUE = "('order', 'renewal')"

PNL_COLUMNS = [
    "account_id", "history_version",
    "revenue", "returns", "cogs", "orders",
    "revenue_ttm", "returns_ttm", "cogs_ttm", "orders_ttm",
    "first_order_at", "last_order_at", "last_interaction_at", "order_revenue",
    "cost_to_serve", "cost_to_serve_ttm", "breakdown", "breakdown_ttm",
    # the account's attributes the CLV needs, and the CAC of its channel's acquisition quarter
    "status", "relationship", "acquisition_channel_id", "acquired_on", "cac",
    # the lifetime breakdown again as parallel arrays, so the book path builds P&Ls without parsing JSON; the
    # JSON columns above come back as text and are written as they come
    "activities", "activity_counts", "activity_costs",
]


def rate_breaks(windows: Sequence[RateWindow]) -> list[datetime]:
    """Every date a rate starts or stops, as UTC midnights: interactions between two of them share their rates."""
    days = {w.valid_from for w in windows} | {w.valid_to for w in windows if w.valid_to is not None}
    return [utc_midnight(day) for day in sorted(days)] or [utc_midnight(date(1900, 1, 1))]


def rates_values(windows: Sequence[RateWindow], breaks: Sequence[datetime]) -> tuple[str, list]:
    """A VALUES list of rate windows as ranges of period buckets (with one never-matching row)."""
    position = {moment: index + 1 for index, moment in enumerate(breaks)}  # width_bucket numbering
    rows = ["(NULL::text, NULL::text, NULL::text, false, 0::numeric, 0, 0)"]
    params: list = []
    for w in windows:
        rows.append("(%s, %s, %s, %s, %s::numeric, %s, %s)")
        end = position[utc_midnight(w.valid_to)] if w.valid_to else len(breaks) + 1
        params += [w.activity, w.kind, w.channel, w.per_unit, w.rate, position[utc_midnight(w.valid_from)], end]
    return ", ".join(rows), params


def rates_arrays(windows: Sequence[RateWindow], breaks: Sequence[datetime]) -> list[list]:
    """The rate windows as seven parallel arrays for ``unnest``: a query text that does not grow with the
    number of rates, so a one-account recompute does not pay for planning a long VALUES list."""
    position = {moment: index + 1 for index, moment in enumerate(breaks)}  # width_bucket numbering
    return [
        [w.activity for w in windows], [w.kind for w in windows], [w.channel for w in windows],
        [w.per_unit for w in windows], [w.rate for w in windows],
        [position[utc_midnight(w.valid_from)] for w in windows],
        [position[utc_midnight(w.valid_to)] if w.valid_to else len(breaks) + 1 for w in windows],
    ]


def utc_midnight(day: date) -> datetime:
    """The start of ``day`` in UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def pnl_query(
    windows: Sequence[RateWindow], *, ttm_start: datetime, account_ids: Sequence[int] | None = None
) -> tuple[str, list]:
    """SQL and params returning one row per account (``PNL_COLUMNS``); all accounts when ``account_ids`` is None.

    One pass over the interactions groups them by account, kind, channel, rate period (the bucket between two
    rate changes) and whether they fall in the trailing twelve months; money, counts and cost-to-serve are
    then worked out on that much smaller set. Accounts without interactions come back with zeros.
    """
    breaks = rate_breaks(windows)
    rate_params = rates_arrays(windows, breaks)
    only = "WHERE i.account_id = ANY(%s)" if account_ids is not None else ""
    only_accounts = "WHERE a.id = ANY(%s)" if account_ids is not None else ""
    ids = [list(account_ids)] if account_ids is not None else []
    sql = f"""
    WITH rates(activity, kind, channel, per_unit, rate, bucket_from, bucket_to) AS (
        SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::boolean[], %s::numeric[], %s::int[], %s::int[])
    ),
    grouped AS (
        SELECT i.account_id, i.kind, i.channel,
            width_bucket(i.occurred_at, %s::timestamptz[]) AS bucket,
            i.occurred_at >= %s AS ttm,
            count(*) AS n, sum(i.amount) AS amount, sum(i.direct_cost) AS direct_cost,
            sum(coalesce(i.quantity, 0)) AS units, min(i.occurred_at) AS first_at, max(i.occurred_at) AS last_at
        FROM crm_interaction i
        {only}
        GROUP BY 1, 2, 3, 4, 5
    ),
    money AS (
        SELECT g.account_id,
            sum(g.amount) FILTER (WHERE g.kind IN {_REVENUE}) AS revenue,
            sum(g.amount) FILTER (WHERE g.kind = 'return') AS returns,
            sum(CASE WHEN g.kind IN {_REVENUE} THEN g.direct_cost
                     WHEN g.kind = 'return' THEN -g.direct_cost END) AS cogs,
            sum(g.n) FILTER (WHERE g.kind = 'order') AS orders,
            sum(g.amount) FILTER (WHERE g.kind IN {_REVENUE} AND g.ttm) AS revenue_ttm,
            sum(g.amount) FILTER (WHERE g.kind = 'return' AND g.ttm) AS returns_ttm,
            sum(CASE WHEN g.kind IN {_REVENUE} THEN g.direct_cost
                     WHEN g.kind = 'return' THEN -g.direct_cost END) FILTER (WHERE g.ttm) AS cogs_ttm,
            sum(g.n) FILTER (WHERE g.kind = 'order' AND g.ttm) AS orders_ttm,
            min(g.first_at) FILTER (WHERE g.kind = 'order') AS first_order_at,
            max(g.last_at) FILTER (WHERE g.kind = 'order') AS last_order_at,
            max(g.last_at) AS last_interaction_at,
            sum(g.amount) FILTER (WHERE g.kind = 'order') AS order_revenue
        FROM grouped g
        GROUP BY g.account_id
    ),
    costed AS (
        SELECT g.account_id, r.activity,
            sum(g.n) AS n,
            sum(CASE WHEN r.per_unit THEN g.units ELSE g.n END * r.rate) AS cost,
            sum(g.n) FILTER (WHERE g.ttm) AS n_ttm,
            sum(CASE WHEN r.per_unit THEN g.units ELSE g.n END * r.rate) FILTER (WHERE g.ttm) AS cost_ttm
        FROM grouped g
        JOIN rates r ON r.kind = g.kind AND r.channel = g.channel
            AND g.bucket >= r.bucket_from AND g.bucket < r.bucket_to
        GROUP BY g.account_id, r.activity
    ),
    costs AS (
        SELECT account_id,
            sum(cost) AS cost_to_serve,
            sum(coalesce(cost_ttm, 0)) AS cost_to_serve_ttm,
            jsonb_object_agg(activity, jsonb_build_object('count', n, 'cost', cost::text)) AS breakdown,
            jsonb_object_agg(activity, jsonb_build_object('count', n_ttm, 'cost', coalesce(cost_ttm, 0)::text))
                FILTER (WHERE n_ttm > 0) AS breakdown_ttm,
            array_agg(activity) AS activities, array_agg(n) AS activity_counts, array_agg(cost) AS activity_costs
        FROM costed
        GROUP BY account_id
    )
    SELECT a.id, a.history_version,
        coalesce(m.revenue, 0), coalesce(m.returns, 0), coalesce(m.cogs, 0), coalesce(m.orders, 0),
        coalesce(m.revenue_ttm, 0), coalesce(m.returns_ttm, 0), coalesce(m.cogs_ttm, 0), coalesce(m.orders_ttm, 0),
        m.first_order_at, m.last_order_at, m.last_interaction_at, coalesce(m.order_revenue, 0),
        coalesce(c.cost_to_serve, 0), coalesce(c.cost_to_serve_ttm, 0),
        coalesce(c.breakdown, '{{}}'::jsonb)::text, coalesce(c.breakdown_ttm, '{{}}'::jsonb)::text,
        a.status, a.relationship, a.acquisition_channel_id, a.acquired_on, cac.cac,
        coalesce(c.activities, '{{}}'), coalesce(c.activity_counts, '{{}}'), coalesce(c.activity_costs, '{{}}')
    FROM crm_account a
    LEFT JOIN money m ON m.account_id = a.id
    LEFT JOIN costs c ON c.account_id = a.id
    LEFT JOIN profitability_channelcac cac
        ON cac.channel_id = a.acquisition_channel_id AND cac.quarter_start = date_trunc('quarter', a.acquired_on)::date
    {only_accounts}
    """
    params = [*rate_params, breaks, ttm_start, *ids, *ids]
    return sql, params
