"""Writing validated rows, one batch per transaction: set-based SQL on PostgreSQL, the ORM elsewhere.

Every batch goes through the same steps:

0. **prepare** (:meth:`Loader.prepare`, no database) — repeated keys within the batch are set aside and, on
   PostgreSQL, the rows rendered as COPY text; the run does this in its reading thread, so it overlaps the
   database's work on the batch before;
1. **stage** — the batch's valid rows are COPYed into a temporary table (typed columns);
2. **resolve** — references are joined in one statement (account by its id in the same source system,
   product by SKU, contact, owner, channel by name, the record as it is stored now); rows whose reference
   can't be found are removed from the batch and come back as rejects with the reason;
3. **de-duplicate** — a key (external id, or channel + month) that an earlier valid row of *this file*
   already had rejects the later row ("the same external id is already on line 12 of this file"); the first
   occurrence is the one imported (if its lookups succeed), so a row is never silently dropped or
   overwritten by a later one of the same file;
4. **upsert** — ``INSERT ... SELECT ... ON CONFLICT (source_system, external_id) DO UPDATE SET ... WHERE
   (stored) IS DISTINCT FROM (new)``: created rows, updated rows and unchanged rows (not touched at all) are
   counted from ``RETURNING (xmax = 0)``. On update only the mapped fields are written, so a file without
   a column leaves that field as it is. Rows equal to their stored record are left out before the write
   (no conflict handling, no row lock), and new interactions go in with a plain ``INSERT`` (see
   ``InteractionLoader.upsert``). Interactions (and survey answers) bump ``history_version`` of every account
   they touch — the new one and, if an interaction moved, the old one — in the batch's transaction, once
   per run and account, plus once more at the end for accounts a later batch changed again
   (``PgLoader._bump``).

The caller runs :meth:`Loader.load` (or :meth:`Loader.load_prepared`) inside ``transaction.atomic()``: a
batch is all or nothing, and rows are never half-applied. Nothing here reads the clock except ``now()`` for
``created_at``/``updated_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from ..models_imports import ImportKind
from .fields import key_fields
from .timing import Phases

#: (line, field name, reason) — field names are Tierwise field names (``(row)`` for the whole row).
Reject = tuple[int, str, str]


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    touched_account_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class LoadContext:
    kind: str
    source_system: str
    mapped: frozenset[str]  # the fields that have a column
    user_id: int | None = None
    resumed: bool = False  # a run redone after a crash (see PgLoader._bump)


def loader_for(context: LoadContext) -> Loader:
    """The loader for the database in use (PostgreSQL's set-based one, or the ORM one)."""
    if connection.vendor == "postgresql":
        from .loading_pg import PG_LOADERS

        return PG_LOADERS[context.kind](context)
    from .loading_orm import OrmLoader

    return OrmLoader(context)


class Loader:
    """Loads batches of ``(line, values)`` rows for one run. ``start``/``finish`` bracket the run."""

    def __init__(self, context: LoadContext) -> None:
        self.context = context
        self.phases = Phases()  # seconds per step, filled by the thread that loads

    def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def load(self, rows: list[tuple[int, dict[str, Any]]]) -> BatchResult:  # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, rows: list[tuple[int, dict[str, Any]]]) -> Any:
        """The batch made ready to load, without the database (the run calls it in its reading thread, so
        this work overlaps the database's on the batch before); :meth:`load_prepared` takes the result."""
        return rows

    def load_prepared(self, prepared: Any) -> BatchResult:
        return self.load(prepared)

    def finish(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def checkpoint(self) -> Any:
        """State outside the database to put back if a batch rolls back (the database's own rolls back)."""
        return None

    def restore(self, state: Any) -> None:
        return None


def key_of(kind: str, values: dict[str, Any]) -> str:
    """The identity of a row within its source system (external id, or channel + month for spend)."""
    if kind == ImportKind.MARKETING_SPEND:
        return f"{str(values['channel']).lower()}\x1f{values['month'].isoformat()}"
    return str(values[key_fields(kind)[0]])


def duplicate_field(kind: str) -> tuple[str, str]:
    """The field a repeated key is reported under, and what the key is called."""
    if kind == ImportKind.MARKETING_SPEND:
        return "month", "channel and month"
    return "external_id", "external id"


def dedupe_batch(kind: str, rows: list[tuple[int, dict[str, Any]]], rejects: list[Reject]
                 ) -> list[tuple[int, dict[str, Any]]]:
    """The rows whose key no earlier row of the batch has; the others are added to ``rejects``."""
    if kind == ImportKind.MARKETING_SPEND:
        keys = [key_of(kind, values) for _, values in rows]
    else:
        name = key_fields(kind)[0]
        keys = [str(values[name]) for _, values in rows]
    lines = [line for line, _ in rows]
    # Built backwards, so each key keeps its first line; as many keys as rows means no repeats (the usual).
    first = dict(zip(reversed(keys), reversed(lines), strict=True))
    if len(first) == len(rows):
        return rows
    kept = []
    field, what = duplicate_field(kind)
    for key, row in zip(keys, rows, strict=True):
        taken = first[key]
        if taken == row[0]:
            kept.append(row)
        else:
            rejects.append((row[0], field, f"the same {what} is already on line {taken} of this file "
                                           "(the first one is imported)"))
    return kept


def reason_unknown(what: str, value: str, source_system: str) -> str:
    return f"no {what} with external id '{value}' in source system '{source_system}'"
