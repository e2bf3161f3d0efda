"""The set-based P&L query, shared by the one-account and the whole-book recompute.

One statement reads the accounts' history versions and aggregates their interactions, so the figures and
the version they are labelled with come from the same MVCC snapshot. It is a single ``GROUP BY account_id``
pass: money, order dates and, for cost-to-serve, one filtered count (and unit total where a per-unit rate
needs it) per class of the cost plan (``costing.cost_plan``), lifetime and trailing twelve months. Python
turns the class counts into the breakdown by activity (``costing.plan_breakdown``). Over the whole book the
pass is a parallel hash aggregate of ~100,000 groups, about as fast as a bare ``GROUP BY account_id``.
The figures must equal ``costing.account_pnl`` over the same rows; a property test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from .costing import CostPlan, RateWindow
from .rollup import next_month, split_months

# Kinds, in SQL literals; kept in one place with costing.REVENUE_KINDS / RETURN_KIND.
_REVENUE = "('order', 'renewal')"

PNL_COLUMNS = [
    "account_id", "history_version",
    "revenue", "returns", "cogs", "orders",
    "revenue_ttm", "returns_ttm", "cogs_ttm", "orders_ttm",
    "first_order_at", "last_order_at", "last_interaction_at", "order_revenue",
    # the account's attributes the CLV needs, and the CAC of its channel's acquisition quarter
    "status", "relationship", "acquisition_channel_id", "acquired_on", "cac",
    # per class of the cost plan: interaction counts and unit totals, lifetime and trailing year
    "class_counts", "class_units", "class_counts_ttm", "class_units_ttm",
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


def utc_midnight(day: date) -> datetime:
    """The start of ``day`` in UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def pnl_query(
    plan: CostPlan, *, ttm_start: datetime, account_ids: Sequence[int] | None = None
) -> tuple[str, dict]:
    """SQL and params returning one row per account (``PNL_COLUMNS``); all accounts when ``account_ids`` is None.

    Accounts without interactions come back with zeros (and empty class counts).
    """
    params: dict = {"ttm": ttm_start, "ids": list(account_ids) if account_ids is not None else None}
    ttm = "i.occurred_at >= %(ttm)s"
    counts, units, counts_ttm, units_ttm = [], [], [], []
    for n, c in enumerate(plan.classes):
        params.update({
            f"kind{n}": c.kind, f"from{n}": utc_midnight(c.valid_from),
            f"to{n}": utc_midnight(c.valid_to) if c.valid_to else None, f"channels{n}": list(c.channels or ()),
        })
        parts = [f"i.kind = %(kind{n})s", f"i.occurred_at >= %(from{n})s"]
        if c.valid_to is not None:
            parts.append(f"i.occurred_at < %(to{n})s")
        if c.channels is not None:
            parts.append(f"i.channel = ANY(%(channels{n})s)")
        where = " AND ".join(parts)
        counts.append(f"count(*) FILTER (WHERE {where})")
        counts_ttm.append(f"count(*) FILTER (WHERE {where} AND {ttm})")
        units.append(f"coalesce(sum(i.quantity) FILTER (WHERE {where}), 0)" if c.needs_units else "0")
        units_ttm.append(f"coalesce(sum(i.quantity) FILTER (WHERE {where} AND {ttm}), 0)" if c.needs_units else "0")

    def array(items: list[str]) -> str:
        return f"ARRAY[{', '.join(items)}]::bigint[]" if items else "'{}'::bigint[]"

    only = "WHERE i.account_id = ANY(%(ids)s)" if account_ids is not None else ""
    cogs = f"CASE WHEN i.kind IN {_REVENUE} THEN i.direct_cost WHEN i.kind = 'return' THEN -i.direct_cost END"
    aggregated = f"""
        SELECT i.account_id,
            sum(i.amount) FILTER (WHERE i.kind IN {_REVENUE}) AS revenue,
            sum(i.amount) FILTER (WHERE i.kind = 'return') AS returns,
            sum({cogs}) AS cogs,
            count(*) FILTER (WHERE i.kind = 'order') AS orders,
            sum(i.amount) FILTER (WHERE i.kind IN {_REVENUE} AND {ttm}) AS revenue_ttm,
            sum(i.amount) FILTER (WHERE i.kind = 'return' AND {ttm}) AS returns_ttm,
            sum({cogs}) FILTER (WHERE {ttm}) AS cogs_ttm,
            count(*) FILTER (WHERE i.kind = 'order' AND {ttm}) AS orders_ttm,
            min(i.occurred_at) FILTER (WHERE i.kind = 'order') AS first_order_at,
            max(i.occurred_at) FILTER (WHERE i.kind = 'order') AS last_order_at,
            max(i.occurred_at) AS last_interaction_at,
            sum(i.amount) FILTER (WHERE i.kind = 'order') AS order_revenue,
            {array(counts)} AS class_counts, {array(units)} AS class_units,
            {array(counts_ttm)} AS class_counts_ttm, {array(units_ttm)} AS class_units_ttm
        FROM crm_interaction i
        {only}
        GROUP BY i.account_id
    """
    only_accounts = "WHERE a.id = ANY(%(ids)s)" if account_ids is not None else ""
    sql = f"""
    SELECT a.id, a.history_version,
        coalesce(m.revenue, 0), coalesce(m.returns, 0), coalesce(m.cogs, 0), coalesce(m.orders, 0),
        coalesce(m.revenue_ttm, 0), coalesce(m.returns_ttm, 0), coalesce(m.cogs_ttm, 0), coalesce(m.orders_ttm, 0),
        m.first_order_at, m.last_order_at, m.last_interaction_at, coalesce(m.order_revenue, 0),
        a.status, a.relationship, a.acquisition_channel_id, a.acquired_on, cac.cac,
        m.class_counts, m.class_units, m.class_counts_ttm, m.class_units_ttm
    FROM crm_account a
    LEFT JOIN ({aggregated}) m ON m.account_id = a.id
    LEFT JOIN profitability_channelcac cac
        ON cac.channel_id = a.acquisition_channel_id AND cac.quarter_start = date_trunc('quarter', a.acquired_on)::date
    {only_accounts}
    """
    return sql, params


ACCOUNT_ATTRIBUTE_COLUMNS = [
    "account_id", "history_version", "status", "relationship", "acquisition_channel_id", "acquired_on", "cac",
    "rolled_up", "first_order_at", "last_order_at", "last_interaction_at", "snapshot_version", "snapshot_tier_id",
]
# The groups, one array per field of ``costing.GroupFact`` in its order (one row in all: the account's own
# columns are parsed once).
ACCOUNT_GROUP_COLUMNS = ["kinds", "channels", "periods", "recents", "counts", "amounts", "direct_costs", "units"]
ACCOUNT_COLUMNS = ACCOUNT_ATTRIBUTE_COLUMNS + ACCOUNT_GROUP_COLUMNS


def account_query(
    periods: Sequence[date], *, ttm_start: datetime, account_id: int, also: str = ""
) -> tuple[str, dict]:
    """SQL and params for one account: its attributes, CAC, history version, first and last order and its
    current snapshot's version and tier, with its interactions summed by kind, channel, rate period
    (``costing.plan_periods``) and trailing year — all in one row, the groups as parallel arrays (NULL
    without interactions). A few dozen groups even for an account with 10,000 interactions;
    ``costing.class_measures`` and the money sums in Python do the rest. One statement, so the figures and
    the version they are labelled with come from the same MVCC snapshot.

    A rolled-up account (``profitability.rollup``) is read from its monthly sums, except for the months that
    a rate period or the trailing year starts inside: those come from its interactions. ``also``: more
    columns (SQL) after ``ACCOUNT_COLUMNS``, read in the same snapshot.
    """
    breaks = [utc_midnight(day) for day in periods]
    split = split_months([*breaks, ttm_start])

    def bucket(moment: str) -> str:
        return f"width_bucket({moment}, %(breaks)s::timestamptz[])" if breaks else "0"

    # ``kind || ''`` keeps the planner off the (kind, occurred_at) index, which would walk every order in
    # the book looking for this account's first one.
    def order_time(direction: str) -> str:
        return (f"(SELECT i.occurred_at FROM crm_interaction i WHERE i.account_id = a.id AND i.kind || '' = 'order' "
                f"ORDER BY i.occurred_at {direction} LIMIT 1)")

    sql = f"""
    SELECT a.id, a.history_version, a.status, a.relationship, a.acquisition_channel_id, a.acquired_on, cac.cac,
        r.account_id IS NOT NULL, {order_time("ASC")}, {order_time("DESC")},
        (SELECT max(i.occurred_at) FROM crm_interaction i WHERE i.account_id = a.id), s.computed_version, s.tier_id,
        g.kinds, g.channels, g.periods, g.recents, g.counts, g.amounts, g.direct_costs, g.units
        {", " + also if also else ""}
    FROM crm_account a
    LEFT JOIN profitability_channelcac cac
        ON cac.channel_id = a.acquisition_channel_id AND cac.quarter_start = date_trunc('quarter', a.acquired_on)::date
    LEFT JOIN profitability_rolledupaccount r ON r.account_id = a.id
    LEFT JOIN profitability_accountsnapshot s ON s.account_id = a.id
    CROSS JOIN LATERAL (
        SELECT array_agg(kind) AS kinds, array_agg(channel) AS channels, array_agg(period) AS periods,
            array_agg(recent) AS recents, array_agg(n) AS counts, array_agg(amount) AS amounts,
            array_agg(direct_cost) AS direct_costs, array_agg(units) AS units
        FROM (
            SELECT x.kind, x.channel, {bucket("x.at")} AS period, x.at >= %(ttm)s AS recent, sum(x.n) AS n,
                sum(x.amount) AS amount, sum(x.direct_cost) AS direct_cost, sum(x.units)::bigint AS units
            FROM (
                -- whole months from the sums of a rolled-up account
                SELECT m.kind, m.channel, m.month AS at, m.n, m.amount, m.direct_cost, m.units
                FROM profitability_interactionmonth m
                WHERE r.account_id IS NOT NULL AND m.account_id = a.id AND m.month <> ALL(%(split)s::timestamptz[])
                UNION ALL
                -- the interactions themselves: all of them, or only the split months' of a rolled-up account
                SELECT i.kind, i.channel, i.occurred_at, 1, i.amount, i.direct_cost, coalesce(i.quantity, 0)
                FROM (
                    SELECT * FROM unnest(%(split)s::timestamptz[], %(split_end)s::timestamptz[])
                    WHERE r.account_id IS NOT NULL
                    UNION ALL
                    SELECT '-infinity'::timestamptz, 'infinity'::timestamptz WHERE r.account_id IS NULL
                ) AS span (lo, hi)
                JOIN crm_interaction i
                    ON i.account_id = a.id AND i.occurred_at >= span.lo AND i.occurred_at < span.hi
            ) AS x
            GROUP BY 1, 2, 3, 4
        ) AS grouped
    ) g
    WHERE a.id = %(id)s
    """
    return sql, {"breaks": breaks, "ttm": ttm_start, "id": account_id, "split": split,
                 "split_end": [next_month(m) for m in split]}
