"""Writes of the snapshot table: one account's guarded update and locked row, the whole book's bulk upsert.
None of them overwrites a newer version."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection

from ..models import AccountSnapshot
from .compute import Computed
from .context import EngineContext

SNAPSHOT_FIELDS = [
    "computed_version", "computed_at", "as_of", "revenue", "returns", "cogs", "gross_margin", "cost_to_serve",
    "net_profit", "net_margin_pct", "orders", "revenue_ttm", "returns_ttm", "cogs_ttm", "gross_margin_ttm",
    "cost_to_serve_ttm", "net_profit_ttm", "orders_ttm", "cost_breakdown", "cost_breakdown_ttm",
    "first_order_at", "last_order_at", "last_interaction_at", "cac", "clv_historical", "clv_formula",
    "clv_predictive", "clv_model", "p_alive", "expected_purchases_12m", "clv_cac_ratio", "rank",
    "top_share_pct", "tier_id", "explanation",
]
_JSON_FIELDS = {"cost_breakdown", "cost_breakdown_ttm", "explanation"}


def snapshot_write_unless_moved(account_id: int, fields: dict, *, tier_id: int | None) -> bool:
    """Write the snapshot's figures unless a newer version is already there or its tier is no longer
    ``tier_id`` (a tier change must be recorded with it: the caller then takes the locked path). The check
    and the write are one statement, so a concurrent writer cannot slip between them.

    Outside a transaction the commit does not wait for the WAL flush (~0.5 ms): a database crash can lose
    only this derived write, which leaves the snapshot behind its account's durable history version, and
    the stale sweep recomputes it.
    """
    columns = list(fields)
    assignments = ", ".join(f"{c} = %s::jsonb" if c in _JSON_FIELDS else f"{c} = %s" for c in columns)
    values = [_json_text(fields[c]) if c in _JSON_FIELDS else fields[c] for c in columns]
    asynchronous = not connection.in_atomic_block
    with connection.cursor() as cursor:
        # Both statements in one round trip and one implicit transaction, which bounds the SET LOCAL.
        cursor.execute(
            ("SET LOCAL synchronous_commit = off; " if asynchronous else "")
            + f"UPDATE profitability_accountsnapshot SET {assignments} "  # noqa: S608 - column names are ours
            "WHERE account_id = %s AND computed_version <= %s AND tier_id IS NOT DISTINCT FROM %s",
            [*values, account_id, fields["computed_version"], tier_id],
        )
        if asynchronous:
            cursor.cursor.nextset()
        return cursor.rowcount == 1


def snapshot_locked(account_id: int, ctx: EngineContext) -> AccountSnapshot:
    """The account's snapshot row, locked; created empty (version 0) first if the account has none yet."""
    locked = AccountSnapshot.objects.select_for_update().only("computed_version", "tier_id")
    current = locked.filter(pk=account_id).first()
    if current is None:
        AccountSnapshot.objects.bulk_create(
            [AccountSnapshot(account_id=account_id, computed_at=ctx.now, as_of=ctx.as_of)], ignore_conflicts=True
        )
        current = locked.get(pk=account_id)
    return current


def upsert_snapshots_copy(items: Sequence[Computed]) -> None:
    """COPY into a temp table, then one INSERT ... ON CONFLICT that never regresses a newer version.

    A snapshot whose figures, version and as-of date are all unchanged is left alone (its ``computed_at``
    stays the time those figures were first written): rewriting it would only cost a new row version and an
    entry in each of the table's indexes.
    """
    columns = ["account_id", *SNAPSHOT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS snapshot_load")  # two recomputes in one outer transaction
        cursor.execute(
            "CREATE TEMP TABLE snapshot_load (LIKE profitability_accountsnapshot INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        raw = cursor.cursor
        with raw.copy(f"COPY snapshot_load ({', '.join(columns)}) FROM STDIN") as copy:
            for item in items:
                copy.write_row([item.row["account_id"]] + [
                    _json_text(item.fields[f]) if f in _JSON_FIELDS else item.fields[f] for f in SNAPSHOT_FIELDS
                ])
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SNAPSHOT_FIELDS)
        compared = [c for c in SNAPSHOT_FIELDS if c != "computed_at"]
        # Drop the unchanged rows first (one hash join): the upsert would otherwise still lock each of them,
        # dirtying every page of the table for nothing.
        stored, loaded = ", ".join(f"s.{c}" for c in compared), ", ".join(f"l.{c}" for c in compared)
        cursor.execute(
            f"""
            DELETE FROM snapshot_load l USING profitability_accountsnapshot s
            WHERE s.account_id = l.account_id AND ({stored}) IS NOT DISTINCT FROM ({loaded})
            """
        )
        old = ", ".join(f"profitability_accountsnapshot.{c}" for c in compared)
        new = ", ".join(f"EXCLUDED.{c}" for c in compared)
        cursor.execute(
            f"""
            INSERT INTO profitability_accountsnapshot ({', '.join(columns)})
            SELECT {', '.join(columns)} FROM snapshot_load
            ON CONFLICT (account_id) DO UPDATE SET {updates}
            WHERE profitability_accountsnapshot.computed_version <= EXCLUDED.computed_version
                AND ({old}) IS DISTINCT FROM ({new})
            """
        )


def _json_text(value: dict | list) -> str:
    return json.dumps(value)


def upsert_snapshots_orm(items: Sequence[Computed]) -> None:
    AccountSnapshot.objects.bulk_create(
        [AccountSnapshot(account_id=item.row["account_id"], **item.fields) for item in items],
        update_conflicts=True, unique_fields=["account"], update_fields=SNAPSHOT_FIELDS, batch_size=500,
    )
