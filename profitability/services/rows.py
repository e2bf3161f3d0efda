"""Fetching the P&L rows the engine computes from: one dict per account, by SQL on PostgreSQL, else by the
Python reference path."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date
from decimal import Decimal

import numpy as np
from django.db import connection, transaction

from crm.models import Account, Interaction

from .. import sql as pnl_sql
from ..costing import (
    ZERO,
    CostPlan,
    GroupFact,
    InteractionFact,
    PnL,
    account_pnl,
    groups_pnl,
    plan_breakdowns,
    plan_periods,
)
from ..models import ChannelCac
from .context import EngineContext, config_fingerprint_columns, fingerprint_of


def fetch_pnl_rows(ctx: EngineContext, account_ids: Sequence[int] | None = None) -> list[dict]:
    """One dict per account: the P&L columns (``sql.PNL_COLUMNS``) plus the account's attributes and CAC."""
    if connection.vendor == "postgresql":
        return _fetch_pnl_rows_sql(ctx, account_ids)  # the query joins the attributes and CAC itself
    rows = _fetch_pnl_rows_python(ctx, account_ids)
    attrs = _account_attributes(account_ids)
    for row in rows:
        row.update(attrs.get(row["account_id"], {}))
    return rows


# For the whole book: group the interactions in one hash table from a sequential scan. Left to itself the
# planner walks the account index to stream sorted groups, which reads the table in index order and sorts on
# the text columns (several times slower); the grouped rows (~1.6 M at 5 M interactions) fit in memory here.
BOOK_QUERY_SETTINGS = {"work_mem": "512MB", "enable_indexscan": "off", "enable_bitmapscan": "off"}


def _fetch_pnl_rows_sql(ctx: EngineContext, account_ids: Sequence[int] | None) -> list[dict]:
    if account_ids is not None:
        return [row for account_id in account_ids if (row := _fetch_account_row(ctx, account_id)) is not None]
    query, params = pnl_sql.pnl_query(ctx.plan, ttm_start=ctx.ttm_start)
    settings_sql = ", ".join(f"set_config('{name}', %s, true)" for name in BOOK_QUERY_SETTINGS)
    with transaction.atomic(), connection.cursor() as cursor:
        # Transaction-local, and put back afterwards: the caller's transaction may go on to other queries.
        cursor.execute(f"SELECT {', '.join(f'current_setting({name!r})' for name in BOOK_QUERY_SETTINGS)}")
        previous = list(cursor.fetchone())
        cursor.execute(f"SELECT {settings_sql}", list(BOOK_QUERY_SETTINGS.values()))
        cursor.execute(query, params)
        rows = [dict(zip(pnl_sql.PNL_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute(f"SELECT {settings_sql}", previous)
    _add_breakdowns(rows, ctx.plan)
    return rows


def _fetch_account_row(ctx: EngineContext, account_id: int) -> dict | None:
    """One account's P&L row (as the book query's) from its interactions summed into a few groups."""
    return account_row_and_config(ctx, account_id, check_config=False)[0]


def account_row_and_config(ctx: EngineContext, account_id: int, *, check_config: bool) -> tuple[dict | None, tuple]:
    """The account's P&L row and, with ``check_config``, the configuration's fingerprint read with it."""
    query, params = pnl_sql.account_query(plan_periods(ctx.plan), ttm_start=ctx.ttm_start, account_id=account_id,
                                          also=config_fingerprint_columns() if check_config else "")
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        found = cursor.fetchone()
    if found is None:
        return None, ()
    width = len(pnl_sql.ACCOUNT_COLUMNS)
    row = dict(zip(pnl_sql.ACCOUNT_COLUMNS, found[:width], strict=True))
    fingerprint = fingerprint_of(found[width:]) if check_config else ()
    groups = [GroupFact(*group)
              for group in zip(*(row[name] or () for name in pnl_sql.ACCOUNT_GROUP_COLUMNS), strict=True)]
    lifetime = groups_pnl(ctx.plan, groups)
    ttm = groups_pnl(ctx.plan, groups, recent_only=True)
    return {name: row[name] for name in pnl_sql.ACCOUNT_ATTRIBUTE_COLUMNS} | {
        "interactions": sum(g.count for g in groups),
        "revenue": lifetime.revenue, "returns": lifetime.returns, "cogs": lifetime.cogs, "orders": lifetime.orders,
        "revenue_ttm": ttm.revenue, "returns_ttm": ttm.returns, "cogs_ttm": ttm.cogs, "orders_ttm": ttm.orders,
        "order_revenue": sum((g.amount for g in groups if g.kind == "order"), ZERO),
        "cost_to_serve": lifetime.cost_to_serve, "cost_to_serve_ttm": ttm.cost_to_serve,
        "breakdown": lifetime.breakdown, "breakdown_ttm": ttm.breakdown,
    }, fingerprint


def _add_breakdowns(rows: list[dict], plan: CostPlan) -> None:
    """Cost-to-serve and the breakdown by activity (lifetime and trailing year) from the rows' class counts,
    for all rows at once; an account without interactions has none."""
    empty = [0] * len(plan.classes)
    for suffix in ("", "_ttm"):
        counts = np.array([r.pop("class_counts" + suffix) or empty for r in rows], dtype=np.int64)
        units = np.array([r.pop("class_units" + suffix) or empty for r in rows], dtype=np.int64)
        for row, breakdown in zip(rows, plan_breakdowns(plan, counts.reshape(len(rows), len(empty)),
                                                        units.reshape(len(rows), len(empty))), strict=True):
            row["breakdown" + suffix] = breakdown
            row["cost_to_serve" + suffix] = sum((c.cost for c in breakdown.values()), ZERO)


def _fetch_pnl_rows_python(ctx: EngineContext, account_ids: Sequence[int] | None) -> list[dict]:
    """The reference path (SQLite, the embedded default): same figures via ``costing.account_pnl``."""
    accounts = Account.objects.all()
    interactions = Interaction.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(id__in=account_ids)
        interactions = interactions.filter(account_id__in=account_ids)
    with transaction.atomic():  # one consistent read of versions and interactions
        versions = dict(accounts.values_list("id", "history_version"))
        facts: dict[int, list] = defaultdict(list)
        times: dict[int, list] = defaultdict(list)
        for row in interactions.values_list(
            "account_id", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity"
        ):
            account_id, kind, channel, occurred_at, amount, direct_cost, quantity = row
            facts[account_id].append(
                InteractionFact(kind, channel, occurred_at.astimezone(UTC).date(), amount, direct_cost, quantity)
            )
            times[account_id].append((kind, occurred_at, amount))
    rows = []
    for account_id, version in versions.items():
        lifetime = account_pnl(facts[account_id], ctx.windows)
        ttm = account_pnl(facts[account_id], ctx.windows, since=ctx.ttm_start.date())
        order_times = [t for k, t, _ in times[account_id] if k == "order"]
        rows.append({
            "account_id": account_id, "history_version": version,
            "revenue": lifetime.revenue, "returns": lifetime.returns, "cogs": lifetime.cogs,
            "orders": lifetime.orders, "revenue_ttm": ttm.revenue, "returns_ttm": ttm.returns,
            "cogs_ttm": ttm.cogs, "orders_ttm": ttm.orders,
            "first_order_at": min(order_times, default=None), "last_order_at": max(order_times, default=None),
            "last_interaction_at": max((t for _, t, _ in times[account_id]), default=None),
            "order_revenue": sum((a for k, _, a in times[account_id] if k == "order"), ZERO),
            "cost_to_serve": lifetime.cost_to_serve, "cost_to_serve_ttm": ttm.cost_to_serve,
            "breakdown": lifetime.breakdown, "breakdown_ttm": ttm.breakdown,
        })
    return rows


def _account_attributes(account_ids: Sequence[int] | None) -> dict[int, dict]:
    """Status, relationship, channel and acquisition date, with the CAC of the channel's acquisition quarter."""
    accounts = Account.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(id__in=account_ids)
    cac = {
        (c.channel_id, c.quarter_start): c.cac
        for c in ChannelCac.objects.filter(cac__isnull=False).only("channel_id", "quarter_start", "cac")
    } if account_ids is None or accounts.filter(acquisition_channel__isnull=False).exists() else {}
    out = {}
    for account_id, status, relationship, channel_id, acquired_on in accounts.values_list(
        "id", "status", "relationship", "acquisition_channel_id", "acquired_on"
    ):
        out[account_id] = {
            "status": status, "relationship": relationship, "acquisition_channel_id": channel_id,
            "acquired_on": acquired_on,
            "cac": cac.get((channel_id, quarter_start(acquired_on))) if channel_id and acquired_on else None,
        }
    return out


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def pnl_from_row(row: dict, *, ttm: bool) -> PnL:
    """The lifetime or trailing-year P&L with its breakdown by activity."""
    suffix = "_ttm" if ttm else ""
    return PnL(
        revenue=Decimal(row["revenue" + suffix]), returns=Decimal(row["returns" + suffix]),
        cogs=Decimal(row["cogs" + suffix]), cost_to_serve=Decimal(row["cost_to_serve" + suffix]),
        orders=int(row["orders" + suffix]),
        breakdown=row["breakdown" + suffix],
    )
