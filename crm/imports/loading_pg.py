"""The PostgreSQL loaders: COPY into a staging table, resolve with joins, upsert with ``ON CONFLICT``.

See :mod:`crm.imports.loading` for the steps and their guarantees. Table and column names below come from
this module, never from the file; every value from the file travels as COPY data or a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, transaction

from ..models_imports import ImportKind
from .copy_format import copy_text
from .fields import FIELDS
from .loading import BatchResult, LoadContext, Loader, Reject, dedupe_batch, duplicate_field, reason_unknown

PG_TYPES = {
    "text": "text", "email": "text", "country": "text", "choice": "text", "decimal": "numeric(14, 2)",
    "int": "bigint", "date": "date", "month": "date", "datetime": "timestamptz",
}


@dataclass(frozen=True)
class Target:
    """One column the upsert writes: its value (SQL over ``r``, the resolved batch) and the fields it comes
    from. It is (over)written on update only when one of ``fields`` is mapped; ``fields=()`` means always."""

    column: str
    value: str
    fields: tuple[str, ...] = ()
    on_update: bool = True


@dataclass(frozen=True)
class Prepared:
    """A batch ready for the database: its rows after in-batch de-duplication (and the rows that repeated
    a key, as rejects), how many rows it had, and the kept rows as COPY text of ``columns``."""

    rows: list[tuple[int, dict[str, Any]]]
    rejects: list[Reject]
    given: int
    columns: list[str]
    data: bytes


@dataclass(frozen=True)
class Check:
    """A lookup that failed: the row is rejected under ``field`` with ``message`` (``{value}``, ``{source}``)."""

    condition: str  # SQL over the resolved row; must be true or false, never NULL
    field: str
    value: str  # SQL for the value shown in the message
    message: str


class PgLoader(Loader):
    #: extra columns of the resolved batch: (name, type, SQL over ``s`` (the staged row) and the joins)
    resolved: tuple[tuple[str, str, str], ...] = ()
    joins: str = ""
    checks: tuple[Check, ...] = ()
    key_sql = "{t}.external_id"  # the row's identity in its source system (``{t}``: the table alias)

    def __init__(self, context: LoadContext) -> None:
        super().__init__(context)
        self.fields = [spec.name for spec in FIELDS[context.kind]]
        self.types = {spec.name: PG_TYPES[spec.type] for spec in FIELDS[context.kind]}
        self.params = {"source": context.source_system, "user": context.user_id}
        # History versions (see _bump): accounts bumped by a batch of this run, and those a later batch
        # changed again, which the run bumps once more when it finishes.
        self.bumped: set[int] = set()
        self.again: set[int] = set()

    # --- the run -----------------------------------------------------------------------------------------

    def start(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS import_seen, import_stage, import_resolved")
            # Keys (64-bit hashes) taken by earlier batches of this file, with their line: a session temp
            # table, gone with the connection. Temp tables live in backend-local buffers (8 MB by default):
            # give a million keys room, where the session still allows it (before its first temp table).
            try:
                with transaction.atomic():
                    cursor.execute("SET temp_buffers = '128MB'")
            except DatabaseError:
                pass
            cursor.execute("CREATE TEMP TABLE import_seen (key bigint PRIMARY KEY, line integer NOT NULL)")

    def finish(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS import_seen, import_stage, import_resolved")
        if self.again:
            with transaction.atomic(), connection.cursor() as cursor:
                _bump_versions(cursor, self.again)
            self.again = set()

    def checkpoint(self) -> Any:
        return set(self.bumped), set(self.again)

    def restore(self, state: Any) -> None:
        self.bumped, self.again = state

    def load(self, rows: list[tuple[int, dict[str, Any]]]) -> BatchResult:
        return self.load_prepared(self.prepare(rows))

    def prepare(self, rows: list[tuple[int, dict[str, Any]]]) -> Prepared:
        """De-duplicate the batch and render its rows as COPY text (pure Python: the run does this in its
        reading thread while the database works on the batch before)."""
        rejects: list[Reject] = []
        kept = dedupe_batch(self.context.kind, rows, rejects)
        # Only the mapped fields travel; the staging table's other columns stay NULL.
        names = [name for name in self.fields if name in self.context.mapped]
        data = copy_text([line for line, _ in kept],
                         [(self.types[name].split("(")[0], [values.get(name) for _, values in kept])
                          for name in names])
        return Prepared(rows=kept, rejects=rejects, given=len(rows), columns=names, data=data)

    def load_prepared(self, prepared: Prepared) -> BatchResult:
        result = BatchResult(rejects=list(prepared.rejects))
        phase = self.phases
        if prepared.rows:
            with connection.cursor() as cursor:
                # The batch's commit need not wait for its WAL to reach the disk: a database crash can lose
                # only the last batches committed, with their job counters, and the re-run redoes them.
                cursor.execute("SET LOCAL synchronous_commit = off")
                with phase("stage (COPY)"):
                    self._stage(cursor, prepared)
                self._resolve(cursor)
                with phase("lookup rejects"):
                    result.rejects += self._lookup_rejects(cursor)
                with phase("upsert"):
                    self.upsert(cursor, result)
        result.unchanged = prepared.given - len(result.rejects) - result.created - result.updated
        return result

    # --- the steps ---------------------------------------------------------------------------------------

    def _stage(self, cursor: Any, prepared: Prepared) -> None:
        cursor.execute("DROP TABLE IF EXISTS import_stage, import_resolved")
        columns = ", ".join(f"{name} {self.types[name]}" for name in self.fields)
        cursor.execute(f"CREATE TEMP TABLE import_stage (line integer NOT NULL, {columns})")
        with cursor.cursor.copy(f"COPY import_stage (line, {', '.join(prepared.columns)}) FROM STDIN") as copy:
            copy.write(prepared.data)
        # No ANALYZE: without statistics the planner sizes a temp table by its pages, which is enough for
        # the hash joins below, and ANALYZE cost more than it saved.

    def _key(self, alias: str) -> str:
        return f"hashtextextended({self.key_sql.format(t=alias)}, 0)"

    def _resolve(self, cursor: Any) -> None:
        extra_defs = "".join(f", {name} {type_}" for name, type_, _ in self.resolved)
        base = ", ".join(f"{name} {self.types[name]}" for name in self.fields)
        cursor.execute(
            f"CREATE TEMP TABLE import_resolved (line integer NOT NULL, {base}, seen_line integer{extra_defs})"
        )
        extra_values = "".join(f", {sql}" for _, _, sql in self.resolved)
        staged = ", ".join(f"s.{name}" for name in self.fields)
        with self.phases("resolve"):
            cursor.execute(
                f"INSERT INTO import_resolved SELECT s.line, {staged}, seen.line{extra_values} FROM import_stage s"  # noqa: S608
                f" LEFT JOIN LATERAL (SELECT x.line FROM import_seen x WHERE x.key = {self._key('s')} LIMIT 1) seen"
                f" ON true {self.joins}",
                self.params,
            )
        # The batch's new keys are taken from here on, whether or not their rows go in (first valid row wins).
        # Keys are unique within the batch (dedupe_batch), so a plain insert of the unseen ones cannot clash.
        with self.phases("seen keys"):
            cursor.execute(
                f"INSERT INTO import_seen SELECT {self._key('r')}, r.line FROM import_resolved r"  # noqa: S608
                " WHERE r.seen_line IS NULL"
            )

    def _lookup_rejects(self, cursor: Any) -> list[tuple[int, str, str]]:
        checks = (self._duplicate_check(), *self.checks)
        where = " OR ".join(f"({check.condition})" for check in checks)
        returning = ", ".join(f"({check.condition}), {check.value}" for check in checks)
        cursor.execute(f"DELETE FROM import_resolved r WHERE {where} RETURNING r.line, {returning}", self.params)  # noqa: S608
        rejects = []
        for line, *flags in cursor.fetchall():
            for i, check in enumerate(checks):
                if flags[2 * i]:
                    message = check.message.format(value=flags[2 * i + 1], source=self.context.source_system)
                    rejects.append((line, check.field, message))
                    if i == 0:
                        break  # a duplicate is only a duplicate
        return rejects

    def _duplicate_check(self) -> Check:
        field, what = duplicate_field(self.context.kind)
        return Check("r.seen_line IS NOT NULL", field, "r.seen_line",
                     f"the same {what} is already on line {{value}} of this file (the first one is imported)")

    def upsert(self, cursor: Any, result: BatchResult) -> None:  # pragma: no cover - per kind
        raise NotImplementedError

    def _bump(self, cursor: Any, touched: set[int], result: BatchResult) -> None:
        """Bump ``history_version`` of the accounts whose interactions this batch changed — in the batch's
        transaction, so a committed change is never without its bump — but each account only the first time
        in a run: a million-row file touches its accounts in every batch, and bumping 10,000 accounts per
        batch (each a non-HOT update through all of crm_account's indexes) cost a quarter of the import.
        Accounts changed again by a later batch are bumped once more when the run finishes (:meth:`finish`),
        so a snapshot the engines took between two batches is never taken for current. A run redone after a
        crash (``context.resumed``) counts every account its rows name as touched: the crashed run may have
        committed changes whose second bump it never made.
        """
        result.touched_account_ids |= touched
        new = touched - self.bumped
        if new:
            _bump_versions(cursor, new)
            self.bumped |= new
        self.again |= touched - new

    def _touched_sql(self, moved_from: str) -> str:
        """SQL for the batch's touched account ids beyond those its writes returned: rows that moved from
        another account (``moved_from``: the stored account column), or every row's account when resumed."""
        sql = f" UNION SELECT r.{moved_from} FROM import_resolved r WHERE r.{moved_from} <> r.account_id"  # noqa: S608
        if self.context.resumed:
            sql += " UNION SELECT r.account_id FROM import_resolved r"
        return sql

    # --- helpers for the upserts -------------------------------------------------------------------------

    def written(self, targets: list[Target]) -> list[Target]:
        """The targets an update writes: those with a mapped source field (or always written)."""
        mapped = self.context.mapped
        return [t for t in targets if t.on_update and (not t.fields or mapped.intersection(t.fields))]

    def upsert_sql(self, table: str, conflict: str, targets: list[Target], *, where: str = "",
                   touch: str = "updated_at", returning: str = "", stored_prefix: str = "",
                   stored_only: bool = False) -> str:
        """``INSERT ... SELECT ... FROM import_resolved r ON CONFLICT DO UPDATE`` writing only changes.

        With ``stored_prefix`` (say ``e_``), the resolved batch carries the stored record's columns
        (``r.e_id``, ``r.e_<column>``) and rows equal to it are left out before the insert — an unchanged
        row then costs no conflict handling and no row lock. ``stored_only`` leaves out the rows that had no
        stored record too (the caller inserts them).
        """
        columns = ", ".join(t.column for t in targets)
        values = ", ".join(t.value for t in targets)
        updates = self.written(targets)
        source = "import_resolved r"
        if stored_prefix:
            stored_row = ", ".join(f"r.{stored_prefix}{t.column}" for t in updates)
            new_row = ", ".join(t.value for t in updates)
            new = f"r.{stored_prefix}id IS NOT NULL AND" if stored_only else f"r.{stored_prefix}id IS NULL OR"
            source += f" WHERE {new} ROW({stored_row}) IS DISTINCT FROM ROW({new_row})"
        set_list = ", ".join(f"{t.column} = EXCLUDED.{t.column}" for t in updates)
        if touch:
            set_list += f", {touch} = EXCLUDED.{touch}"
        stored = ", ".join(f"t.{t.column}" for t in updates)
        new = ", ".join(f"EXCLUDED.{t.column}" for t in updates)
        condition = f"ROW({stored}) IS DISTINCT FROM ROW({new})"
        if where:
            condition = f"{where} AND {condition}"
        return (
            f"INSERT INTO {table} AS t ({columns}) SELECT {values} FROM {source}"  # noqa: S608
            f" ON CONFLICT ({conflict}) DO UPDATE SET {set_list} WHERE {condition}"
            f" RETURNING (t.xmax = 0) AS created{returning}"
        )


# Lookups by a unique key are LATERAL subqueries with LIMIT 1 (which keeps the planner from flattening them
# into joins): always an index probe per staged row. A plain join lets the
# planner hash the whole table once per batch when its statistics lag behind a large import — quadratic.
# The accounts of a source don't change while its interactions load, and a hash of them beats 50,000 probes.
_ACCOUNT_JOIN = (
    "LEFT JOIN crm_accountsourceid a ON a.source_system = %(source)s AND a.external_id = s.account_external_id"
)


def _by_external_id(table: str, alias: str, reference: str = "s.external_id") -> str:
    return (f" LEFT JOIN LATERAL (SELECT * FROM {table} x WHERE x.source_system = %(source)s"  # noqa: S608
            f" AND x.external_id = {reference} LIMIT 1) {alias} ON true")
_ACCOUNT_CHECK = Check("r.account_id IS NULL", "account_external_id", "r.account_external_id",
                       reason_unknown("account", "{value}", "{source}"))


class InteractionLoader(PgLoader):
    may_skip_triggers = False  # set by start(): whether this database role may skip the foreign-key triggers
    resolved = (
        ("account_id", "bigint", "a.account_id"),
        ("product_id", "bigint", "p.id"),
        ("unit_cost", "numeric(14, 2)", "p.unit_cost"),
        # the stored interaction, to leave unchanged rows out of the upsert
        ("e_id", "bigint", "i.id"),
        ("e_account_id", "bigint", "i.account_id"),
        ("e_kind", "text", "i.kind"),
        ("e_occurred_at", "timestamptz", "i.occurred_at"),
        ("e_channel", "text", "i.channel"),
        ("e_amount", "numeric(14, 2)", "i.amount"),
        ("e_direct_cost", "numeric(14, 2)", "i.direct_cost"),
        ("e_quantity", "bigint", "i.quantity"),
        ("e_product_id", "bigint", "i.product_id"),
        ("e_due_on", "date", "i.due_on"),
        ("e_note", "text", "i.note"),
    )
    joins = (
        f"{_ACCOUNT_JOIN} LEFT JOIN crm_product p ON p.sku = s.product_sku"
        + _by_external_id("crm_interaction", "i")
    )
    checks = (
        _ACCOUNT_CHECK,
        Check("r.product_sku IS NOT NULL AND r.product_id IS NULL", "product_sku", "r.product_sku",
              "no product with SKU '{value}'"),
        Check("COALESCE(r.e_kind = 'survey', false)", "external_id", "r.external_id",
              "'{value}' is a survey answer already: import it with the survey answers"),
    )
    DIRECT_COST = (
        "COALESCE(r.direct_cost, CASE WHEN r.kind IN ('order', 'renewal', 'return') AND r.quantity IS NOT NULL"
        " THEN round(r.unit_cost * r.quantity, 2) END, 0)"
    )

    def targets(self) -> list[Target]:
        return [
            Target("account_id", "r.account_id"),
            Target("kind", "r.kind"),
            Target("occurred_at", "r.occurred_at"),
            Target("channel", "COALESCE(r.channel, 'other')", ("channel",)),
            Target("amount", "COALESCE(r.amount, 0)", ("amount",)),
            Target("direct_cost", self.DIRECT_COST, ("direct_cost", "quantity", "product_sku")),
            Target("quantity", "r.quantity", ("quantity",)),
            Target("product_id", "r.product_id", ("product_sku",)),
            Target("due_on", "r.due_on", ("due_on",)),
            Target("note", "COALESCE(r.note, '')", ("note",)),
            Target("logged_by_id", "%(user)s::bigint", on_update=False),
            Target("source_system", "%(source)s", on_update=False),
            Target("external_id", "r.external_id", on_update=False),
            Target("created_at", "now()", on_update=False),
            Target("updated_at", "now()", on_update=False),
        ]

    def start(self) -> None:
        super().start()
        self.may_skip_triggers = _may_skip_triggers()

    def upsert(self, cursor: Any, result: BatchResult) -> None:
        targets = self.targets()
        # Rows with no stored record when the batch was resolved go in with a plain INSERT: ON CONFLICT's
        # speculative insertion costs a third more per row, and a first import is all new rows. Should
        # another writer store one of these keys meanwhile, the INSERT fails on the unique key and the run
        # loads the batch again in halves (services._load), which then resolve that key as stored.
        skip_triggers = False
        if self.may_skip_triggers:
            with self.phases("reference locks"):
                skip_triggers = self._lock_references(cursor)
        if skip_triggers:
            # Every account, product and user the new rows name is now locked as the foreign-key triggers
            # would lock it: skip those triggers for this one statement (see _lock_references).
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            f"INSERT INTO crm_interaction ({', '.join(t.column for t in targets)})"  # noqa: S608
            f" SELECT {', '.join(t.value for t in targets)} FROM import_resolved r WHERE r.e_id IS NULL",
            self.params,
        )
        inserted = cursor.rowcount
        if skip_triggers:
            cursor.execute("SET LOCAL session_replication_role = origin")
        changes = self.upsert_sql("crm_interaction", "source_system, external_id", targets,
                                  returning=", t.account_id", stored_prefix="e_", stored_only=True)
        cursor.execute(
            f"""WITH up AS ({changes})
                SELECT (SELECT count(*) FILTER (WHERE created) FROM up),
                       (SELECT count(*) FILTER (WHERE NOT created) FROM up),
                       (SELECT array_agg(account_id) FROM (
                            SELECT account_id FROM up
                            UNION SELECT r.account_id FROM import_resolved r WHERE r.e_id IS NULL
                            {self._touched_sql("e_account_id")}) touched)""",  # noqa: S608
            self.params,
        )
        created, updated, touched = cursor.fetchone()
        # (an ON CONFLICT insert here is a stored row deleted meanwhile: created again)
        result.created, result.updated = inserted + created, updated
        with self.phases("history versions"):
            self._bump(cursor, set(touched or ()), result)

    def _lock_references(self, cursor: Any) -> bool:
        """Lock the rows the batch's new interactions refer to, as PostgreSQL's foreign-key checks would, and
        say whether their INSERT may skip those checks.

        A foreign-key check is a trigger that runs once per inserted row at commit (``SELECT 1 FROM
        crm_account WHERE id = $1 FOR KEY SHARE``): for a million rows naming 10,000 accounts that is
        1.5 million probes and about a fifth of the import. The same locks taken here once per distinct
        account, product and user keep any of them from being deleted until the batch commits, so the
        INSERT can skip the triggers. An account or product deleted since the batch was resolved raises
        IntegrityError: the run then loads the batch again in halves, whose resolve rejects the rows that
        named it. The importing user deleted meanwhile (no resolve can reject that) returns False: the INSERT
        keeps its triggers, which fail the batch at commit as they always did. So does a batch with no new rows.
        """
        user_table = get_user_model()._meta.db_table
        cursor.execute(
            f"""WITH new AS MATERIALIZED (SELECT account_id, product_id FROM import_resolved WHERE e_id IS NULL),
                accounts AS (SELECT DISTINCT account_id AS id FROM new),
                products AS (SELECT DISTINCT product_id AS id FROM new WHERE product_id IS NOT NULL)
                SELECT (SELECT count(*) FROM new),
                       (SELECT count(*) FROM accounts),
                       (SELECT count(*) FROM (SELECT a.id FROM crm_account a WHERE a.id IN (SELECT id FROM accounts)
                                              ORDER BY a.id FOR KEY SHARE) locked),
                       (SELECT count(*) FROM products),
                       (SELECT count(*) FROM (SELECT p.id FROM crm_product p WHERE p.id IN (SELECT id FROM products)
                                              ORDER BY p.id FOR KEY SHARE) locked),
                       %(user)s::bigint IS NULL
                       OR EXISTS (SELECT 1 FROM {user_table} u WHERE u.id = %(user)s::bigint FOR KEY SHARE)""",  # noqa: S608
            self.params,
        )
        rows, accounts, accounts_locked, products, products_locked, user_locked = cursor.fetchone()
        if (accounts, products) != (accounts_locked, products_locked):
            raise IntegrityError("an account or product this batch refers to was deleted while it loaded")
        return bool(rows) and user_locked


def _may_skip_triggers() -> bool:
    """Whether this connection's role may set ``session_replication_role`` (which skips triggers): a
    superuser may, and on PostgreSQL 15 or later a role granted ``SET ON PARAMETER session_replication_role``.
    Without it imports still work, with PostgreSQL's own per-row foreign-key checks."""
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:
            cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        else:
            cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        return bool(cursor.fetchone()[0])


def _bump_versions(cursor: Any, account_ids: set[int]) -> None:
    # In id order, so two runs bumping overlapping accounts lock them in the same order.
    cursor.execute(
        "UPDATE crm_account SET history_version = history_version + 1 WHERE id IN"
        " (SELECT id FROM crm_account WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE)",
        [sorted(account_ids)],
    )


class SurveyLoader(PgLoader):
    resolved = (
        ("account_id", "bigint", "a.account_id"),
        ("contact_id", "bigint", "c.id"),
        ("contact_account_id", "bigint", "c.account_id"),
        ("contact_name", "text", "c.name"),
        ("existing_kind", "text", "i.kind"),
        ("existing_account_id", "bigint", "i.account_id"),
        ("existing_comment", "text", "e.comment"),
        ("existing_contact_name", "text", "ec.name"),
    )
    joins = (
        _ACCOUNT_JOIN
        + _by_external_id("crm_contact", "c", "s.contact_external_id")
        + _by_external_id("crm_interaction", "i")
        + _by_external_id("crm_surveyresponse", "e")
        + " LEFT JOIN crm_contact ec ON ec.id = e.contact_id"
    )
    checks = (
        _ACCOUNT_CHECK,
        Check("r.contact_external_id IS NOT NULL AND r.contact_id IS NULL", "contact_external_id",
              "r.contact_external_id", reason_unknown("contact", "{value}", "{source}")),
        Check("r.contact_id IS NOT NULL AND r.account_id IS NOT NULL AND r.contact_account_id <> r.account_id",
              "contact_external_id", "r.contact_external_id",
              "the contact '{value}' belongs to another account"),
        Check("COALESCE(r.existing_kind <> 'survey', false)", "external_id", "r.external_id",
              "'{value}' is already an interaction of another kind in this source system"),
    )

    def upsert(self, cursor: Any, result: BatchResult) -> None:
        mapped = self.context.mapped
        comment = "COALESCE(r.comment, '')" if "comment" in mapped else "COALESCE(r.existing_comment, '')"
        contact_name = "r.contact_name" if "contact_external_id" in mapped else "r.existing_contact_name"
        # The note of the survey interaction, as crm.services.interactions.survey_log writes it.
        note = (
            f"'NPS ' || r.score || '/10' || CASE WHEN {comment} <> '' THEN ' — ' || {comment} ELSE '' END"
            f" || COALESCE(' (' || {contact_name} || ')', '')"
        )
        answers = self.upsert_sql("crm_surveyresponse", "source_system, external_id", [
            Target("account_id", "r.account_id"),
            Target("score", "r.score"),
            Target("answered_at", "r.answered_at"),
            Target("comment", "COALESCE(r.comment, '')", ("comment",)),
            Target("contact_id", "r.contact_id", ("contact_external_id",)),
            Target("source_system", "%(source)s", on_update=False),
            Target("external_id", "r.external_id", on_update=False),
        ], touch="", returning=", t.external_id")
        touches = self.upsert_sql("crm_interaction", "source_system, external_id", [
            Target("account_id", "r.account_id"),
            Target("kind", "'survey'"),
            Target("occurred_at", "r.answered_at"),
            Target("note", note),
            Target("channel", "COALESCE(r.channel, 'other')", ("channel",)),
            Target("amount", "0", on_update=False),
            Target("direct_cost", "0", on_update=False),
            Target("logged_by_id", "%(user)s::bigint", on_update=False),
            Target("source_system", "%(source)s", on_update=False),
            Target("external_id", "r.external_id", on_update=False),
            Target("created_at", "now()", on_update=False),
            Target("updated_at", "now()", on_update=False),
        ], where="t.kind = 'survey'", returning=", t.external_id, t.account_id")
        cursor.execute(
            f"""WITH answers AS ({answers}), touches AS ({touches}),
                per_row AS (
                    SELECT external_id, bool_or(created) AS created FROM (
                        SELECT external_id, created FROM answers UNION ALL SELECT external_id, created FROM touches
                    ) x GROUP BY external_id
                ),
                touched AS (SELECT account_id FROM touches {self._touched_sql("existing_account_id")})
                SELECT (SELECT count(*) FILTER (WHERE created) FROM per_row),
                       (SELECT count(*) FILTER (WHERE NOT created) FROM per_row),
                       (SELECT array_agg(account_id) FROM touched)""",  # noqa: S608
            self.params,
        )
        created, updated, touched = cursor.fetchone()
        result.created, result.updated = created, updated
        with self.phases("history versions"):
            self._bump(cursor, set(touched or ()), result)


class ContactLoader(PgLoader):
    resolved = (("account_id", "bigint", "a.account_id"),)
    joins = _ACCOUNT_JOIN
    checks = (_ACCOUNT_CHECK,)

    def upsert(self, cursor: Any, result: BatchResult) -> None:
        insert = self.upsert_sql("crm_contact", "source_system, external_id", [
            Target("account_id", "r.account_id"),
            Target("name", "r.name"),
            Target("role", "COALESCE(r.role, '')", ("role",)),
            Target("email", "COALESCE(r.email, '')", ("email",)),
            Target("phone", "COALESCE(r.phone, '')", ("phone",)),
            Target("source_system", "%(source)s", on_update=False),
            Target("external_id", "r.external_id", on_update=False),
        ], touch="")
        cursor.execute(
            f"WITH up AS ({insert}) SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created)"  # noqa: S608
            " FROM up",
            self.params,
        )
        result.created, result.updated = cursor.fetchone()


def _channels_create(cursor: Any, column: str) -> None:
    """Create the channels the batch names that don't exist yet (matched case-insensitively)."""
    cursor.execute(
        f"""INSERT INTO crm_channel (name)
            SELECT DISTINCT ON (lower(r.{column})) r.{column} FROM import_resolved r
            WHERE r.{column} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM crm_channel c WHERE lower(c.name) = lower(r.{column}))
            ORDER BY lower(r.{column}), r.line
            ON CONFLICT (name) DO NOTHING"""  # noqa: S608
    )
    cursor.execute(
        f"""UPDATE import_resolved r SET channel_id = c.id
            FROM (SELECT DISTINCT ON (lower(name)) id, lower(name) AS lname FROM crm_channel
                  ORDER BY lower(name), id) c
            WHERE c.lname = lower(r.{column})"""  # noqa: S608
    )


class AccountLoader(PgLoader):
    resolved = (
        ("account_id", "bigint", "a.account_id"),
        ("is_new", "boolean", "a.account_id IS NULL"),
        ("channel_id", "bigint", "NULL::bigint"),
        ("owner_id", "bigint",
         "(SELECT u.id FROM auth_user u WHERE lower(u.username) = lower(s.owner) OR lower(u.email) = lower(s.owner)"
         " ORDER BY lower(u.username) = lower(s.owner) DESC, u.id LIMIT 1)"),
        ("stored_status", "text", "acc.status"),
        ("stored_churned_on", "date", "acc.churned_on"),
    )
    joins = (
        _by_external_id("crm_accountsourceid", "a") + " LEFT JOIN crm_account acc ON acc.id = a.account_id"
    )

    @property
    def checks(self) -> tuple[Check, ...]:  # type: ignore[override]
        mapped = self.context.mapped
        status = "r.status" if "status" in mapped else "COALESCE(r.stored_status, 'active')"
        churned_on = "r.churned_on" if "churned_on" in mapped else "r.stored_churned_on"
        return (
            Check("r.owner IS NOT NULL AND r.owner_id IS NULL", "owner", "r.owner",
                  "no Tierwise user with the user name or e-mail '{value}'"),
            Check(f"COALESCE({status} = 'churned' AND {churned_on} IS NULL, false)",
                  "churned_on" if "churned_on" in mapped else "status", "r.external_id",
                  "a churned account needs a churn date"),
        )

    def targets(self) -> list[Target]:
        blank = "COALESCE(r.{0}, '')"
        text_fields = ("industry", "country", "region", "employee_band", "segment", "web_domain", "tax_id", "phone")
        return [
            Target("name", "r.name"),
            *(Target(name, blank.format(name), (name,)) for name in text_fields),
            Target("acquisition_channel_id", "r.channel_id", ("acquisition_channel",)),
            Target("acquired_on", "r.acquired_on", ("acquired_on",)),
            Target("status", "COALESCE(r.status, 'active')", ("status",)),
            Target("churned_on", "r.churned_on", ("churned_on",)),
            Target("relationship", "COALESCE(r.relationship, 'repeat')", ("relationship",)),
            Target("owner_id", "r.owner_id", ("owner",)),
        ]

    def upsert(self, cursor: Any, result: BatchResult) -> None:
        # Two runs creating the same new external id at once would both insert an account; serialise the
        # account loads of one source system (held to the end of this batch's transaction).
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('tierwise.import.accounts.' || %s, 0))",
                       [self.context.source_system])
        if "acquisition_channel" in self.context.mapped:
            _channels_create(cursor, "acquisition_channel")
        cursor.execute(
            "UPDATE import_resolved SET account_id = nextval(pg_get_serial_sequence('crm_account', 'id'))"
            " WHERE account_id IS NULL"
        )
        targets = self.targets()
        columns = ", ".join(t.column for t in targets)
        values = ", ".join(t.value for t in targets)
        cursor.execute(
            f"""INSERT INTO crm_account (id, {columns}, history_version, created_at, updated_at)
                SELECT r.account_id, {values}, 0, now(), now() FROM import_resolved r WHERE r.is_new"""  # noqa: S608
        )
        result.created = cursor.rowcount
        cursor.execute(
            """INSERT INTO crm_accountsourceid (account_id, source_system, external_id)
               SELECT r.account_id, %(source)s, r.external_id FROM import_resolved r WHERE r.is_new""",
            self.params,
        )
        updates = self.written(targets)
        set_list = ", ".join(f"{t.column} = {t.value}" for t in updates)
        stored = ", ".join(f"acc.{t.column}" for t in updates)
        new = ", ".join(t.value for t in updates)
        cursor.execute(
            f"""UPDATE crm_account acc SET {set_list}, updated_at = now() FROM import_resolved r
                WHERE acc.id = r.account_id AND NOT r.is_new AND ROW({stored}) IS DISTINCT FROM ROW({new})"""  # noqa: S608
        )
        result.updated = cursor.rowcount


class SpendLoader(PgLoader):
    resolved = (("channel_id", "bigint", "NULL::bigint"),)
    key_sql = "lower({t}.channel) || chr(31) || {t}.month::text"

    def upsert(self, cursor: Any, result: BatchResult) -> None:
        _channels_create(cursor, "channel")
        cursor.execute(
            """WITH up AS (
                   INSERT INTO crm_marketingspend AS t (channel_id, period, amount)
                   SELECT r.channel_id, r.month, r.amount FROM import_resolved r
                   ON CONFLICT (channel_id, period) DO UPDATE SET amount = EXCLUDED.amount
                   WHERE t.amount IS DISTINCT FROM EXCLUDED.amount
                   RETURNING (t.xmax = 0) AS created
               )
               SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up"""
        )
        result.created, result.updated = cursor.fetchone()


PG_LOADERS: dict[str, type[PgLoader]] = {
    ImportKind.ACCOUNTS: AccountLoader,
    ImportKind.CONTACTS: ContactLoader,
    ImportKind.INTERACTIONS: InteractionLoader,
    ImportKind.SURVEY_ANSWERS: SurveyLoader,
    ImportKind.MARKETING_SPEND: SpendLoader,
}
