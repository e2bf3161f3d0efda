"""The floor of a full book recompute, in SQL alone: what no design of the engine can go below on this machine.

Run on the benchmark book (PostgreSQL; it refuses SQLite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierwise_bench DEBUG=1 \\
        .venv/bin/python benchmarks/recompute_floor.py

It prints, each best of a few runs, against the bare ``SELECT account_id, sum(amount) ... GROUP BY account_id``:
1. the engine's aggregate query as it is (``profitability.sql.pnl_query``), into a temp table (no fetch);
2. the same aggregates on an idealised copy of the interactions (kinds and channels as smallints, money as
   integer cents), and a two-level variant that first groups by (account, kind, channel, rate period, trailing
   year);
3. the narrowest nightly write: only the as-of-dependent figures of every account, COPYed into a temp table and
   applied by one ``UPDATE ... FROM`` to an index-free, fillfactor-80 table, committed.
The copies it makes (``floor_interactions``, ``floor_outlook``) are dropped at the end.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from profitability import sql as pnl_sql  # noqa: E402
from profitability.costing import plan_periods  # noqa: E402
from profitability.services.context import engine_context  # noqa: E402
from profitability.services.rows import BOOK_QUERY_SETTINGS  # noqa: E402

COPY = "floor_interactions"
OUTLOOK = "floor_outlook"


def best_of(label: str, sql: str, params: list | dict | None = None, *, runs: int = 3) -> float:
    """Best wall time of ``sql`` (rolled back each time), with the book query's planner settings."""
    best = float("inf")
    for _ in range(runs):
        with transaction.atomic(), connection.cursor() as cursor:
            for name, value in BOOK_QUERY_SETTINGS.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
            started = time.perf_counter()
            cursor.execute(sql, params)
            best = min(best, time.perf_counter() - started)
            transaction.set_rollback(True)
    return best


def literal(moment) -> str:  # type: ignore[no-untyped-def]
    return f"'{moment.isoformat()}'::timestamptz"


def coded_copy(cursor) -> tuple[dict[str, int], dict[str, int]]:  # type: ignore[no-untyped-def]
    cursor.execute("SELECT DISTINCT kind FROM crm_interaction ORDER BY 1")
    kinds = {k: i for i, (k,) in enumerate(cursor.fetchall())}
    cursor.execute("SELECT DISTINCT channel FROM crm_interaction ORDER BY 1")
    channels = {c: i for i, (c,) in enumerate(cursor.fetchall())}

    def case(column: str, codes: dict[str, int]) -> str:
        return f"CASE {column} " + " ".join(f"WHEN '{v}' THEN {i}" for v, i in codes.items()) + " END::smallint"

    cursor.execute(f"DROP TABLE IF EXISTS {COPY}")
    cursor.execute(
        f"CREATE UNLOGGED TABLE {COPY} AS SELECT account_id, {case('kind', kinds)} AS kind, "
        f"{case('channel', channels)} AS channel, occurred_at, (amount * 100)::bigint AS amount, "
        f"(direct_cost * 100)::bigint AS direct_cost, quantity FROM crm_interaction"
    )
    cursor.execute(f"VACUUM ANALYZE {COPY}")
    return kinds, channels


def coded_aggregates(ctx, kinds: dict[str, int], channels: dict[str, int]) -> str:  # type: ignore[no-untyped-def]
    """Every aggregate of ``pnl_query`` over the coded copy, with integer comparisons and sums."""
    ttm = f"occurred_at >= {literal(ctx.ttm_start)}"
    counts = []
    for c in ctx.plan.classes:
        where = [f"kind = {kinds.get(c.kind, -1)}", f"occurred_at >= {literal(pnl_sql.utc_midnight(c.valid_from))}"]
        if c.valid_to is not None:
            where.append(f"occurred_at < {literal(pnl_sql.utc_midnight(c.valid_to))}")
        if c.channels is not None:
            codes = ",".join(str(channels.get(x, -1)) for x in c.channels) or "-1"
            where.append(f"channel = ANY(ARRAY[{codes}]::smallint[])")
        condition = " AND ".join(where)
        counts += [f"count(*) FILTER (WHERE {condition})", f"count(*) FILTER (WHERE {condition} AND {ttm})"]
    revenue = f"kind IN ({kinds.get('order', -1)}, {kinds.get('renewal', -1)})"
    refund = f"kind = {kinds.get('return', -1)}"
    order = f"kind = {kinds.get('order', -1)}"
    cogs = f"CASE WHEN {revenue} THEN direct_cost WHEN {refund} THEN -direct_cost END"
    figures = [
        f"sum(amount) FILTER (WHERE {revenue})", f"sum(amount) FILTER (WHERE {refund})", f"sum({cogs})",
        f"count(*) FILTER (WHERE {order})",
        f"sum(amount) FILTER (WHERE {revenue} AND {ttm})", f"sum(amount) FILTER (WHERE {refund} AND {ttm})",
        f"sum({cogs}) FILTER (WHERE {ttm})", f"count(*) FILTER (WHERE {order} AND {ttm})",
        f"min(occurred_at) FILTER (WHERE {order})", f"max(occurred_at) FILTER (WHERE {order})", "max(occurred_at)",
        *counts,
    ]
    return f"""
        SELECT account_id, {", ".join(f"{figure} AS f{n}" for n, figure in enumerate(figures))}
        FROM {COPY} GROUP BY account_id
    """


def narrow_write(cursor, runs: int = 2) -> float:  # type: ignore[no-untyped-def]
    cursor.execute(f"DROP TABLE IF EXISTS {OUTLOOK}")
    cursor.execute(
        f"CREATE TABLE {OUTLOOK} (account_id bigint PRIMARY KEY, as_of date, p_alive float8, expected float8, "
        "clv numeric(14,2), clv_cac numeric(12,2), rank int, share float8) WITH (fillfactor = 80)"
    )
    cursor.execute(f"INSERT INTO {OUTLOOK} SELECT id, current_date, 0.5, 1, 0, 0, 1, 0 FROM crm_account")
    cursor.execute(f"VACUUM ANALYZE {OUTLOOK}")
    cursor.execute("SELECT id FROM crm_account")
    ids = [account_id for (account_id,) in cursor.fetchall()]
    draw = random.Random(1)  # figures to write, not secrets
    rows = [(i, draw.random(), draw.random() * 10, round(draw.random() * 1e5, 2), round(draw.random() * 10, 2), n,
             draw.random() * 100) for n, i in enumerate(ids, start=1)]
    best = float("inf")
    for day in range(1, runs + 1):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as write:
            write.execute("CREATE TEMP TABLE outlook_load (account_id bigint, p_alive float8, expected float8, "
                          "clv numeric, clv_cac numeric, rank int, share float8) ON COMMIT DROP")
            with write.cursor.copy("COPY outlook_load FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            write.execute(
                f"UPDATE {OUTLOOK} o SET as_of = current_date + %s, p_alive = l.p_alive, expected = l.expected, "
                "clv = l.clv, clv_cac = l.clv_cac, rank = l.rank, share = l.share "
                "FROM outlook_load l WHERE o.account_id = l.account_id", [day],
            )
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL (DATABASE_URL).")
    ctx = engine_context(now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM crm_interaction")
        (interactions,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM crm_account")
        (accounts,) = cursor.fetchone()
        print(f"Full-recompute floor — {accounts:,} accounts, {interactions:,} interactions, "
              f"{len(ctx.plan.classes)} cost-plan classes  [load {os.getloadavg()[0]:.2f}]")
        kinds, channels = coded_copy(cursor)
    try:
        bare = best_of("bare", "CREATE TEMP TABLE b AS SELECT account_id, sum(amount) FROM crm_interaction GROUP BY 1")
        print(f"   bare GROUP BY account_id: {bare:.2f} s")

        def report(label: str, seconds: float) -> None:
            print(f"   {label}: {seconds:.2f} s = {seconds / bare:.1f}×")

        query, params = pnl_sql.pnl_query(ctx.plan, ttm_start=ctx.ttm_start)
        columns = ", ".join(pnl_sql.PNL_COLUMNS)
        report("the engine's aggregate query", best_of(
            "engine", f"CREATE TEMP TABLE a AS SELECT * FROM ({query}) AS x({columns})", params, runs=2))
        report("the same aggregates, kinds and channels coded, money in cents",
               best_of("coded", "CREATE TEMP TABLE a AS " + coded_aggregates(ctx, kinds, channels)))
        breaks = ", ".join(literal(pnl_sql.utc_midnight(day)) for day in plan_periods(ctx.plan))
        period = f"width_bucket(occurred_at, ARRAY[{breaks}]::timestamptz[])" if breaks else "0"
        report("two-level, the first level alone (coded)", best_of("groups", f"""
            CREATE TEMP TABLE g AS SELECT account_id, kind, channel, {period} AS period,
                occurred_at >= {literal(ctx.ttm_start)} AS recent, count(*) AS n, sum(amount) AS amount,
                sum(direct_cost) AS direct_cost, min(occurred_at) AS first, max(occurred_at) AS last
            FROM {COPY} GROUP BY 1, 2, 3, 4, 5""", runs=2))
        with connection.cursor() as cursor:
            report("narrowest nightly write (as-of figures, index-free table, COPY + UPDATE … FROM, commit)",
                   narrow_write(cursor))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {COPY}")
            cursor.execute(f"DROP TABLE IF EXISTS {OUTLOOK}")
    print(f"   [load {os.getloadavg()[0]:.2f}]")


if __name__ == "__main__":
    main()
