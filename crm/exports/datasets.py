"""The exportable datasets: each function returns its columns and a row iterator from one set-based query.

Every dataset reads the precomputed tables (account snapshots, segment P&L, opportunities, the points ledger)
through a server-side cursor in chunks, so an export of 100,000 accounts holds a chunk at a time, never the
book. These read the profitability and campaigns engines' tables: exports sit above all three apps, like a
report, although the package lives under ``crm`` with the other data tools (imports, duplicates).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    DateTimeField,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat
from django.utils.dateparse import parse_datetime

from campaigns.models import Enrolment, LedgerEntry, LoyaltyProgram, Opportunity, Reward
from campaigns.selectors import opportunity_worklist
from crm.models import Account, AccountSourceId
from profitability.models import SegmentPnl
from profitability.selectors.accounts import AccountFilters, account_list

from .formats import DATE, DATETIME, FLOAT, INT, MONEY, PCT, RATIO, Column, Dataset

CHUNK = 2000
CENT = Decimal("0.01")


class _GroupConcat(Aggregate):
    """SQLite's ``group_concat`` (the demo's database); PostgreSQL uses ``string_agg`` below."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, '; ')"
    output_field = CharField()


def _joined_text(expression: Any) -> Aggregate:
    """``a; b; c`` of the grouped texts (sorted on PostgreSQL)."""
    if connection.vendor == "postgresql":
        from django.contrib.postgres.aggregates import StringAgg

        return StringAgg(expression, "; ", order_by=["source_system", "external_id"])
    return _GroupConcat(expression)


def _source_ids() -> Subquery:
    """The account's ids in other systems as ``erp:1001; billing:C-7`` (a correlated subquery on its index)."""
    ids = (
        AccountSourceId.objects.filter(account_id=OuterRef("account_id"))
        .annotate(text=Concat("source_system", Value(":"), "external_id", output_field=CharField()))
        .values("account_id")
        .annotate(joined=_joined_text("text"))
        .values("joined")
    )
    return Subquery(ids, output_field=CharField())


class _UtcWallTime(Func):
    """A ``timestamptz`` read as UTC wall time (``timestamp``): psycopg loads that type in C, while Django's
    time-zone-aware loader for ``timestamptz`` runs in Python and costs more than the rest of an exported row.
    ``_aware`` puts the zone back. SQLite (the demo's database) reads the column as it is."""

    template = "(%(expressions)s AT TIME ZONE 'UTC')"
    output_field = DateTimeField()

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        return compiler.compile(self.source_expressions[0])


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _person(username: str | None, first: str | None, last: str | None) -> str:
    if not username:
        return ""
    return f"{first or ''} {last or ''}".strip() or username


# --- 1. accounts with their profitability ---------------------------------------------------------------------

ACCOUNT_COLUMNS = [
    Column("Account ID", INT), Column("Name", width=32), Column("Source IDs", width=28), Column("Owner"),
    Column("Status", width=10), Column("Industry"), Column("Region", width=14), Column("Country", width=8),
    Column("Segment"), Column("Acquisition channel"), Column("Tier", width=10), Column("Rank", INT),
    Column("Top share %", PCT),
    Column("Revenue", MONEY), Column("Returns", MONEY), Column("COGS", MONEY), Column("Gross margin", MONEY),
    Column("Cost to serve", MONEY), Column("Net profit", MONEY), Column("Net margin %", PCT), Column("Orders", INT),
    Column("Revenue TTM", MONEY), Column("Gross margin TTM", MONEY), Column("Cost to serve TTM", MONEY),
    Column("Net profit TTM", MONEY), Column("Orders TTM", INT),
    Column("CAC", MONEY), Column("CLV historical", MONEY), Column("CLV formula", MONEY),
    Column("CLV predictive", MONEY), Column("CLV model", width=12), Column("P(alive)", FLOAT),
    Column("CLV/CAC", RATIO),
    Column("First order", DATETIME), Column("Last order", DATETIME), Column("Last interaction", DATETIME),
    Column("Figures as of", DATE), Column("Computed at", DATETIME), Column("Figures up to date", width=10),
]
_ACCOUNT_FIELDS = [
    "account_id", "account__name", "source_ids", "account__owner__username", "account__owner__first_name",
    "account__owner__last_name", "account__status", "account__industry", "account__region", "account__country",
    "account__segment", "account__acquisition_channel__name", "tier__name", "rank", "top_share_pct",
    "revenue", "returns", "cogs", "gross_margin", "cost_to_serve", "net_profit", "net_margin_pct", "orders",
    "revenue_ttm", "gross_margin_ttm", "cost_to_serve_ttm", "net_profit_ttm", "orders_ttm",
    "cac", "clv_historical", "clv_formula", "clv_predictive", "clv_model", "p_alive", "clv_cac_ratio",
    "first_order_utc", "last_order_utc", "last_interaction_utc", "as_of", "computed_utc", "up_to_date",
]


def accounts_dataset(*, filters: AccountFilters, segment: str = "") -> Dataset:
    """Every account the account list's ``filters`` select (plus ``segment``), in the list's order, with its
    snapshot: P&L lifetime and trailing 12 months, CAC, the three CLVs, rank and tier.

    Accounts appear once they have a snapshot, as on the list (every account does after a book recompute);
    "Figures up to date" says whether the snapshot has caught up with the account's latest interactions.
    """
    rows = account_list(filters=filters)
    if segment:
        rows = rows.filter(account__segment=segment)
    rows = rows.annotate(
        source_ids=_source_ids(),
        up_to_date=Case(When(computed_version__gte=F("account__history_version"), then=Value(1)), default=Value(0),
                        output_field=IntegerField()),
        first_order_utc=_UtcWallTime("first_order_at"), last_order_utc=_UtcWallTime("last_order_at"),
        last_interaction_utc=_UtcWallTime("last_interaction_at"), computed_utc=_UtcWallTime("computed_at"),
    ).values_list(*_ACCOUNT_FIELDS)
    status = dict(Account.Status.choices)

    def generate() -> Iterator[tuple]:
        for r in rows.iterator(chunk_size=CHUNK):
            yield (r[0], r[1], r[2], _person(r[3], r[4], r[5]), status.get(r[6], r[6]), *r[7:-6],
                   _aware(r[-6]), _aware(r[-5]), _aware(r[-4]), r[-3], _aware(r[-2]), "yes" if r[-1] else "no")

    return Dataset(ACCOUNT_COLUMNS, generate())


# --- 2. segment P&L -----------------------------------------------------------------------------------------------

SEGMENT_COLUMNS = [
    Column("Dimension", width=18), Column("Segment", width=28), Column("Rank by net profit", INT),
    Column("Accounts", INT), Column("Revenue", MONEY), Column("Gross margin", MONEY), Column("Cost to serve", MONEY),
    Column("Net profit", MONEY), Column("Net margin %", PCT), Column("Net profit per account", MONEY),
    Column("Computed at", DATETIME),
]
DIMENSION_ORDER = [d.value for d in SegmentPnl.Dimension]


def segments_dataset(*, dimension: str = "", sort: str = "profit") -> Dataset:
    """The segment P&L of the last book recompute (trailing 12 months, active accounts): every dimension —
    industry, region, segment, channel, tier and the clusters — or one, each ranked by net profit (or margin)."""
    rows = SegmentPnl.objects.all()
    if dimension:
        rows = rows.filter(dimension=dimension)
    dimension_rank = Case(*(When(dimension=d, then=Value(i)) for i, d in enumerate(DIMENSION_ORDER)),
                          output_field=IntegerField())
    order = [F("net_margin_pct").desc(nulls_last=True), "rank"] if sort == "margin" else ["rank"]
    rows = rows.order_by(dimension_rank, *order, "value").values_list(
        "dimension", "value", "rank", "accounts", "revenue", "gross_margin", "cost_to_serve", "net_profit",
        "net_margin_pct", "net_profit_per_account", "computed_at",
    )
    labels = dict(SegmentPnl.Dimension.choices)

    def generate() -> Iterator[tuple]:
        for r in rows.iterator(chunk_size=CHUNK):
            yield (labels.get(r[0], r[0]), *r[1:])

    return Dataset(SEGMENT_COLUMNS, generate())


# --- 3. opportunity worklist --------------------------------------------------------------------------------------

OPPORTUNITY_COLUMNS = [
    Column("Opportunity ID", INT), Column("Account ID", INT), Column("Account", width=32), Column("Account manager"),
    Column("Tier", width=10), Column("Product SKU", width=14), Column("Product", width=28), Column("Upgrade from"),
    Column("Kind", width=26), Column("Probability", FLOAT), Column("Expected margin", MONEY),
    Column("Reason", width=60), Column("Status", width=10), Column("Generated at", DATETIME),
    Column("Status changed at", DATETIME),
]


def opportunities_dataset(*, owner_id: int | None, statuses: Sequence[str], source: str = "") -> Dataset:
    """The worklist of an account manager's accounts (everyone's when ``owner_id`` is None), in the worklist's
    order: highest expected margin first, then the better tier."""
    rows = opportunity_worklist(owner_id=owner_id, statuses=statuses, source=source).values_list(
        "pk", "account_id", "account__name", "account__owner__username", "account__owner__first_name",
        "account__owner__last_name", "account__snapshot__tier__name", "product__sku", "product__name",
        "from_product__name", "source", "probability", "expected_margin", "reason", "status", "generated_at",
        "status_changed_at",
    )
    sources = dict(Opportunity.Source.choices)
    labels = dict(Opportunity.Status.choices)

    def generate() -> Iterator[tuple]:
        for r in rows.iterator(chunk_size=CHUNK):
            yield (r[0], r[1], r[2], _person(r[3], r[4], r[5]), r[6], r[7], r[8], r[9], sources.get(r[10], r[10]),
                   r[11], r[12], r[13], labels.get(r[14], r[14]), r[15], r[16])

    return Dataset(OPPORTUNITY_COLUMNS, generate())


# --- 4. loyalty ledgers -------------------------------------------------------------------------------------------

LEDGER_COLUMNS = [
    Column("Entry ID", INT), Column("Program", width=22), Column("Account ID", INT), Column("Account", width=32),
    Column("Occurred at", DATETIME), Column("Kind", width=10), Column("Points", INT), Column("Running balance", INT),
    Column("Reason", width=50), Column("Reward"), Column("Recorded at", DATETIME), Column("By"),
]


@dataclass(frozen=True)
class LedgerFilters:
    program_id: int | None = None
    account_id: int | None = None
    kind: str = ""
    occurred_from: datetime | None = None  # inclusive
    occurred_before: datetime | None = None  # exclusive


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _db_datetime(value: Any) -> datetime | None:
    """A raw query's timestamp as an aware datetime (SQLite, the demo's database, hands back UTC text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def ledger_dataset(*, filters: LedgerFilters) -> Dataset:
    """Points movements per program and account, oldest first, each with the enrolment's running balance.

    The running balance counts every earlier entry of the enrolment, also those before the chosen dates or of
    other kinds: the window is computed over the whole enrolment first and the date and kind filters apply
    after it (one statement; PostgreSQL walks the ``(enrolment, occurred_at)`` index).
    """
    inner_where, inner_params = ["1=1"], []
    if filters.program_id is not None:
        inner_where.append("en.program_id = %s")
        inner_params.append(filters.program_id)
    if filters.account_id is not None:
        inner_where.append("en.account_id = %s")
        inner_params.append(filters.account_id)
    outer_where, outer_params = ["1=1"], []
    if filters.kind:
        outer_where.append("le.kind = %s")
        outer_params.append(filters.kind)
    if filters.occurred_from is not None:
        outer_where.append("le.occurred_at >= %s")
        outer_params.append(filters.occurred_from)
    if filters.occurred_before is not None:
        outer_where.append("le.occurred_at < %s")
        outer_params.append(filters.occurred_before)
    sql = f"""
        SELECT le.id, p.name, a.id, a.name, le.occurred_at, le.kind, le.points, le.balance, le.reason, r.name,
               le.recorded_at, u.username
        FROM (
            SELECT e.id, e.enrolment_id, e.occurred_at, e.kind, e.points, e.reason, e.reward_id, e.recorded_at,
                   e.actor_id,
                   SUM(e.points) OVER (PARTITION BY e.enrolment_id ORDER BY e.occurred_at, e.id) AS balance
            FROM {_table(LedgerEntry)} e JOIN {_table(Enrolment)} en ON en.id = e.enrolment_id
            WHERE {" AND ".join(inner_where)}
        ) le
        JOIN {_table(Enrolment)} en ON en.id = le.enrolment_id
        JOIN {_table(LoyaltyProgram)} p ON p.id = en.program_id
        JOIN {_table(Account)} a ON a.id = en.account_id
        LEFT JOIN {_table(Reward)} r ON r.id = le.reward_id
        LEFT JOIN {_table(get_user_model())} u ON u.id = le.actor_id
        WHERE {" AND ".join(outer_where)}
        ORDER BY p.name, p.id, a.name, a.id, le.occurred_at, le.id
    """  # noqa: S608 (only table names are interpolated; every value is a parameter)
    kinds = dict(LedgerEntry.Kind.choices)

    def generate() -> Iterator[tuple]:
        # A server-side cursor on PostgreSQL (what QuerySet.iterator uses), so rows arrive a chunk at a time.
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, inner_params + outer_params)
            while batch := cursor.fetchmany(CHUNK):
                for r in batch:
                    yield (r[0], r[1], r[2], r[3], _db_datetime(r[4]), kinds.get(r[5], r[5]), r[6], int(r[7]), r[8],
                           r[9], _db_datetime(r[10]), r[11])

    return Dataset(LEDGER_COLUMNS, generate())


BALANCE_COLUMNS = [
    Column("Program", width=22), Column("Account ID", INT), Column("Account", width=32), Column("Account manager"),
    Column("Enrolled at", DATETIME), Column("Enrolment", width=10), Column("Earned", INT), Column("Reversed", INT),
    Column("Redeemed", INT), Column("Expired", INT), Column("Adjusted", INT), Column("Balance", INT),
    Column("Point value", FLOAT, number_format="0.0000"), Column("Liability", MONEY), Column("Last movement", DATETIME),
]


def balances_dataset(*, program_id: int | None = None, account_id: int | None = None) -> Dataset:
    """One row per enrolment: points by kind, the balance (the sum of the ledger) and what it is worth (the
    points liability at the program's point value), in one grouped query."""
    rows = Enrolment.objects.all()
    if program_id is not None:
        rows = rows.filter(program_id=program_id)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)

    def total(kind: str) -> Coalesce:
        return Coalesce(Sum("entries__points", filter=Q(entries__kind=kind)), 0)

    K = LedgerEntry.Kind
    rows = rows.annotate(
        earned=total(K.EARN), reversed=total(K.REVERSE), redeemed=total(K.REDEEM), expired=total(K.EXPIRE),
        adjusted=total(K.ADJUST), balance=Coalesce(Sum("entries__points"), 0), last=Max("entries__occurred_at"),
    ).order_by("program__name", "program_id", "account__name", "account_id").values_list(
        "program__name", "account_id", "account__name", "account__owner__username", "account__owner__first_name",
        "account__owner__last_name", "enrolled_at", "method", "earned", "reversed", "redeemed", "expired",
        "adjusted", "balance", "program__point_value", "last",
    )
    methods = dict(Enrolment.Method.choices)

    def generate() -> Iterator[tuple]:
        for r in rows.iterator(chunk_size=CHUNK):
            liability = (Decimal(r[13]) * r[14]).quantize(CENT, rounding=ROUND_HALF_UP)
            yield (r[0], r[1], r[2], _person(r[3], r[4], r[5]), r[6], methods.get(r[7], r[7]), *r[8:14], r[14],
                   liability, r[15])

    return Dataset(BALANCE_COLUMNS, generate())

