"""Bulk writes that stream rows straight into a table: seeding a demo book, importing a million rows.

:func:`copy_rows` uses PostgreSQL's ``COPY ... FROM STDIN`` through psycopg 3 (about 100k+ rows/s on two
cores, against about 30k for ``bulk_create``) and falls back to batched ``bulk_create`` on other databases.
:func:`reserve_ids` hands out primary keys up front, so rows written by COPY can be referenced by the rows
written after them without reading anything back. :func:`foreign_keys_checked_at_end` swaps the per-row
foreign-key triggers (the largest cost of a big COPY) for one set-based check per constraint, and
:func:`indexes_built_at_end` builds the secondary indexes of tables loaded from empty in one sort each.

All of it bypasses ``Model.save()`` and model signals. In particular the hooks in :mod:`crm.signals` that keep
``Account.history_version`` true do **not** run: a caller that writes interactions must mark the accounts'
histories changed itself — :func:`crm.services.account_history_touch` for a handful of accounts, or, when it
writes a whole book, set ``history_version`` on the accounts it creates and send
:data:`crm.signals.history_changed` once after commit.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import connections, models, transaction
from django.utils import timezone

DEFAULT_BATCH_SIZE = 5_000


def copy_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    using: str = "default",
) -> int:
    """Write ``rows`` (one value per name in ``fields``) into ``model``'s table; return the number written.

    ``fields`` are model field names or attnames (``"account"`` and ``"account_id"`` both mean the column
    ``account_id``). Values are plain Python values with foreign keys given as ids and JSON fields as the
    Python object to store (``None`` is SQL NULL); on PostgreSQL a value
    may also be given in its text form (``"2025-03-01T10:00:00Z"``, ``"12.50"``), which COPY parses itself
    and which is several times cheaper to send than ``datetime`` or ``Decimal`` objects. Fields left out
    get what ``Model()`` would give them: ``auto_now``/``auto_now_add`` the current time (one timestamp per
    call), a default (callables called per row), NULL when nullable, ``""`` for text; a database default
    is left to the database. The auto primary key is left out unless named (see :func:`reserve_ids`).

    ``rows`` is consumed lazily — COPY streams it, the fallback holds one batch of ``batch_size`` rows —
    so memory stays bounded however many rows come. Run it inside a transaction to make it all-or-nothing.
    No ``save()``, no signals: see the module docstring.
    """
    meta = model._meta
    named = [meta.get_field(name) for name in fields]
    extra_fields, extra_value = _fill_in_values(model, named)
    all_fields = [*named, *extra_fields]
    full_rows = _with_extras(rows, len(named), extra_value)
    connection = connections[using]
    if connection.vendor == "postgresql":
        full_rows = _json_as_text(full_rows, named)
        return _copy_postgresql(connection, meta.db_table, [f.column for f in all_fields], full_rows)
    return _bulk_create(model, [f.attname for f in all_fields], full_rows, batch_size, using)


def reserve_ids(model: type[models.Model], count: int, *, using: str = "default") -> list[int]:
    """Take ``count`` fresh primary keys for ``model`` (ascending), for rows about to be written with them.

    On PostgreSQL they come from the table's identity sequence, so concurrent writers never get the same
    id. Elsewhere they continue from the current maximum: call it inside the transaction that writes them.
    """
    if count <= 0:
        return []
    connection = connections[using]
    table = model._meta.db_table
    pk_column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT MAX({quote(pk_column)}) FROM {quote(table)}")  # noqa: S608 - names from _meta
        start = (cursor.fetchone()[0] or 0) + 1
    return list(range(start, start + count))


@contextmanager
def foreign_keys_checked_at_end(*tables: type[models.Model], using: str = "default") -> Iterator[None]:
    """Load into ``tables`` with their foreign keys checked once at the end instead of once per row.

    On PostgreSQL each foreign key costs a trigger call and an index probe per inserted row — measured at
    ~14 µs a row for the three keys of ``crm_interaction``, more than the COPY itself. Inside a savepoint,
    this drops the tables' foreign-key constraints, runs the block, and adds them back with the same names
    and definitions (``pg_get_constraintdef``): PostgreSQL then validates each with one join, and a bad
    reference still fails the load. If the block raises, the savepoint rolls the drops back too, so the
    schema never changes. The tables (and the tables they reference) stay locked until commit. Elsewhere
    it does nothing.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    with transaction.atomic(using=using), connection.cursor() as cursor:
        dropped: list[tuple[str, str, str]] = []
        deferred: list[str] = []
        for model in tables:
            table = model._meta.db_table
            deferred += _run_pending_checks(cursor, quote, quote(table))
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
                [quote(table)],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
                dropped.append((table, name, definition))
        yield
        for table, name, definition in dropped:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        if deferred:
            cursor.execute(f"SET CONSTRAINTS {', '.join(deferred)} DEFERRED")


@contextmanager
def indexes_built_at_end(*tables: type[models.Model], using: str = "default") -> Iterator[None]:
    """Load into (nearly) empty ``tables`` with their secondary indexes built once at the end.

    Inserting into a b-tree row by row costs more than the COPY itself once the index outgrows memory
    (measured: 6 of 7 indexes of ``crm_interaction`` took ~70 % of a 5M-row load); building it from the
    loaded rows is one sort. Inside a savepoint, this drops every index but the primary key — unique
    constraints included — runs the block, and recreates them with the same names and definitions
    (``pg_get_indexdef`` / ``pg_get_constraintdef``); a duplicate still fails the load, and an exception
    rolls the drops back. Only for loads into tables that are empty or small: rebuilding the index of a
    big table costs more than maintaining it for the new rows. Elsewhere it does nothing.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    with transaction.atomic(using=using), connection.cursor() as cursor:
        rebuild: list[str] = []
        for model in tables:
            table = quote(model._meta.db_table)
            _run_pending_checks(cursor, quote, table)
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'u' ORDER BY conname",
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
                rebuild.append(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
                " ORDER BY 1",
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {name}")
                rebuild.append(definition)
        yield
        deferred = [
            name for model in tables for name in _run_pending_checks(cursor, quote, quote(model._meta.db_table))
        ]
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # sorts in memory; reset at commit
        for statement in rebuild:
            cursor.execute(statement)
        if deferred:
            cursor.execute(f"SET CONSTRAINTS {', '.join(deferred)} DEFERRED")


def _run_pending_checks(cursor: Any, quote: Callable[[str], str], table: str) -> list[str]:
    """Run the table's deferred constraint checks now: PostgreSQL won't alter a table while they wait.

    Returns the (quoted) names of the constraints that were deferred, to defer them again afterwards.
    """
    cursor.execute(
        "SELECT conname, condeferred FROM pg_constraint WHERE conrelid = %s::regclass AND condeferrable", [table]
    )
    constraints = cursor.fetchall()
    if constraints:
        cursor.execute(f"SET CONSTRAINTS {', '.join(quote(name) for name, _ in constraints)} IMMEDIATE")
    return [quote(name) for name, deferred in constraints if deferred]


def _fill_in_values(
    model: type[models.Model], named: list[models.Field]
) -> tuple[list[models.Field], Callable[[], tuple[Any, ...]]]:
    """The columns ``fields`` left out that still need a value from us, and a row-of-values maker for them."""
    given = {f.attname for f in named}
    now = timezone.now()
    extra: list[models.Field] = []
    constants: list[Any] = []
    per_row: list[tuple[int, Callable[[], Any]]] = []
    for field in model._meta.concrete_fields:
        if field.attname in given or field.primary_key:
            continue
        if field.db_default is not models.NOT_PROVIDED:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value: Any = now
        elif field.has_default():
            if callable(field.default):
                per_row.append((len(extra), field.default))
                value = None
            else:
                value = field.get_default()
        elif field.null:
            continue
        else:
            value = field.get_default()  # "" for text fields, as Model() gives them
            if value is None:
                raise ValueError(f"{model.__name__}.{field.name} has no default: name it in fields")
        extra.append(field)
        constants.append(_as_text(value))
    fixed = tuple(constants)
    if not per_row:
        return extra, lambda: fixed

    def values() -> tuple[Any, ...]:
        row = list(fixed)
        for index, make in per_row:
            row[index] = make()
        return tuple(row)

    return extra, values


def _as_text(value: Any) -> Any:
    """A constant rendered once in the text form COPY parses (and Django's fields accept), to save per-row work."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _with_extras(
    rows: Iterable[Sequence[Any]], width: int, extra_value: Callable[[], tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} values for {width} fields: {row!r}")
        yield (*row, *extra_value())


def _json_as_text(rows: Iterable[tuple[Any, ...]], named: list[models.Field]) -> Iterable[tuple[Any, ...]]:
    """COPY takes JSON as text: serialise JSON fields' values (with the field's encoder) on the way out."""
    json_columns = [(i, f.encoder) for i, f in enumerate(named) if isinstance(f, models.JSONField)]
    if not json_columns:
        return rows

    def serialised() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            values = list(row)
            for i, encoder in json_columns:
                if values[i] is not None:
                    values[i] = json.dumps(values[i], cls=encoder)
            yield tuple(values)

    return serialised()


def _copy_postgresql(connection: Any, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    written = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper: COPY is not in the DB-API
        with raw.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)
                written += 1
    return written


def _bulk_create(
    model: type[models.Model], attnames: list[str], rows: Iterable[tuple[Any, ...]], batch_size: int, using: str
) -> int:
    written = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        model.objects.using(using).bulk_create(
            [model(**dict(zip(attnames, row, strict=True))) for row in batch], batch_size=batch_size
        )
        written += len(batch)
    return written
