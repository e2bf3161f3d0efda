"""Monthly sums of a heavy account's interactions, kept by PostgreSQL in the same transaction as every change.

Recomputing one account reads its interactions; at 10,000 of them that read alone is ~10–15 ms. So once a
recompute sees ``ROLLUP_MIN_INTERACTIONS``, the account is *rolled up*: its interactions are summed by kind,
channel and UTC month into ``InteractionMonth``, and from then on statement-level triggers on crm_interaction
apply every insert, update and delete to those sums in the writing transaction. The sums are never stale,
whoever writes (ORM, admin, API, import, merge, raw SQL), and they are read in the same MVCC snapshot as
the account's history version. The one-account query (``sql.account_query``) then takes whole months from
the sums and only the months that a rate change or the start of the trailing year cuts in two from the
interactions themselves.

Only heavy accounts: keeping sums for all of them would cost a bulk import about one upsert per interaction
(typical accounts have one or two interactions of a kind in a month), for recomputes that are fast anyway.

Concurrency: the triggers key-share-lock the accounts a statement touched before they look for the
enrolment, and enrolment locks the account ``FOR UPDATE`` before it sums. A write therefore either
commits before the enrolment sums (and is in them) or sees the enrolment and adds itself, never neither
and never both. This needs READ COMMITTED, Django's default: each statement of a trigger sees what
committed before it.

The triggers are ``ENABLE ALWAYS``, so they fire even under ``session_replication_role = replica``,
which bulk imports set to skip the per-row foreign-key checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection, transaction

# Below this an account's recompute reads its interactions directly (~1.5 ms at 2,000).
ROLLUP_MIN_INTERACTIONS = 2_000

# What each operation's statement added (+) and removed (-): its transition tables.
_TRANSITIONS = {
    "insert": [("new_rows", "")],
    "update": [("new_rows", ""), ("old_rows", "-")],
    "delete": [("old_rows", "-")],
}
_REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


# The SQL below is assembled from the constants above only (S608).
def _trigger_function(operation: str) -> str:
    sources = _TRANSITIONS[operation]
    touched = " UNION ".join(f"SELECT account_id FROM {table}" for table, _ in sources)  # noqa: S608
    changes = " UNION ALL ".join(
        f"SELECT account_id, kind, channel, date_trunc('month', occurred_at, 'UTC') AS month, {sign}1 AS n, "  # noqa: S608
        f"{sign}amount AS amount, {sign}direct_cost AS direct_cost, {sign}coalesce(quantity, 0) AS units "
        f"FROM {table}"
        for table, sign in sources
    )
    return f"""
CREATE OR REPLACE FUNCTION profitability_interaction_months_{operation}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rolled_up bigint[];
BEGIN
    -- Before looking for enrolments: see the module docstring of profitability.rollup.
    PERFORM 1 FROM crm_account WHERE id IN ({touched}) ORDER BY id FOR KEY SHARE;
    SELECT array_agg(account_id) INTO rolled_up
    FROM profitability_rolledupaccount WHERE account_id IN ({touched});
    IF rolled_up IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO profitability_interactionmonth AS m (account_id, kind, channel, month, n, amount, direct_cost, units)
    SELECT account_id, kind, channel, month, sum(n), sum(amount), sum(direct_cost), sum(units)
    FROM ({changes}) AS change
    WHERE account_id = ANY(rolled_up)
    GROUP BY 1, 2, 3, 4
    HAVING sum(n) <> 0 OR sum(amount) <> 0 OR sum(direct_cost) <> 0 OR sum(units) <> 0
    ORDER BY 1, 2, 3, 4  -- the same lock order in every transaction
    ON CONFLICT (account_id, kind, channel, month) DO UPDATE SET
        n = m.n + excluded.n, amount = m.amount + excluded.amount,
        direct_cost = m.direct_cost + excluded.direct_cost, units = m.units + excluded.units;
    DELETE FROM profitability_interactionmonth WHERE account_id = ANY(rolled_up) AND n = 0;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS interaction_months_{operation} ON crm_interaction;
CREATE TRIGGER interaction_months_{operation} AFTER {operation.upper()} ON crm_interaction
    {_REFERENCING[operation]} FOR EACH STATEMENT EXECUTE FUNCTION profitability_interaction_months_{operation}();
ALTER TABLE crm_interaction ENABLE ALWAYS TRIGGER interaction_months_{operation};
"""  # noqa: S608


TRIGGERS_SQL = "".join(_trigger_function(operation) for operation in _TRANSITIONS)
DROP_TRIGGERS_SQL = "".join(
    f"DROP TRIGGER IF EXISTS interaction_months_{operation} ON crm_interaction;"
    f"DROP FUNCTION IF EXISTS profitability_interaction_months_{operation}();"
    for operation in _TRANSITIONS
)

_SUM_MONTHS = """
INSERT INTO profitability_interactionmonth (account_id, kind, channel, month, n, amount, direct_cost, units)
SELECT account_id, kind, channel, date_trunc('month', occurred_at, 'UTC'), count(*), sum(amount), sum(direct_cost),
    coalesce(sum(quantity), 0)
FROM crm_interaction WHERE account_id = %s
GROUP BY 1, 2, 3, 4
"""


def account_roll_up(*, account_id: int) -> bool:
    """Enrol the account and sum its interactions by month (PostgreSQL only). False when it already was, or
    is gone. Blocks the account's interaction writes for the few milliseconds it takes."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Waits for every transaction that has written the account's interactions (see the docstring).
        cursor.execute("SELECT 1 FROM crm_account WHERE id = %s FOR UPDATE", [account_id])
        if cursor.fetchone() is None:
            return False
        cursor.execute(
            "INSERT INTO profitability_rolledupaccount (account_id, enrolled_at) VALUES (%s, now()) "
            "ON CONFLICT DO NOTHING RETURNING account_id", [account_id],
        )
        if cursor.fetchone() is None:
            return False
        cursor.execute(_SUM_MONTHS, [account_id])
    return True


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def split_months(boundaries: Iterable[datetime]) -> list[datetime]:
    """The months some boundary cuts in two (one that falls on a month's first instant cuts none), sorted."""
    return sorted({month_start(b) for b in boundaries if b != month_start(b)})
