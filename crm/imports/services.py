"""Importing files from source systems: checks, preview, remembered mappings and the import run itself.

An import run (:func:`import_job_run`) streams the file in batches of ``TIERWISE_IMPORT_BATCH_ROWS`` rows
(default 50,000). Each batch is one transaction: its valid rows are loaded (see :mod:`crm.imports.loading`),
its rejects written to the rejects file, and the job's counters updated — so the counters on the job row
always match what is committed. Between batches the run checks ``cancel_requested``. Memory is bounded by
one batch whatever the file's size.

After the run, the accounts whose interaction histories changed (their ``history_version`` was bumped in
each batch's transaction) are announced once with :data:`crm.signals.history_changed`.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Account
from ..models_imports import ImportJob, ImportKind, ImportMapping
from .errors import ImportFileError, ImportLimitError
from .fields import FIELDS
from .loading import BatchResult, LoadContext, Loader, loader_for
from .mapping import suggest_columns
from .reading import (
    FileFormat,
    count_rows,
    detect_format,
    estimate_rows,
    is_xlsx_name,
    iter_records,
    iter_rows,
    record_of,
)
from .rejects import RejectsWriter
from .timing import Phases, summary
from .validation import ROW, RowValidator, check_columns, display, reject_field_label

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
OPTION_KEYS = ("encoding", "delimiter", "decimal_separator", "date_order", "sheet")
DEFAULT_BATCH_ROWS = 50_000


def max_bytes() -> int:
    return int(settings.TIERWISE_IMPORT_MAX_BYTES)


def max_rows() -> int:
    return int(settings.TIERWISE_IMPORT_MAX_ROWS)


def batch_rows() -> int:
    return max(int(getattr(settings, "TIERWISE_IMPORT_BATCH_ROWS", DEFAULT_BATCH_ROWS)), 1)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f}" if size >= 10 * 1024 * 1024 else f"{size / (1024 * 1024):,.1f}"


# --- Checks ---------------------------------------------------------------------------------------------


def check_upload(*, size_bytes: int, original_name: str) -> None:
    """Refuse a file by its name and size before it is stored: not CSV/XLSX, empty, or over the size limit."""
    if not original_name.lower().endswith(ALLOWED_SUFFIXES):
        raise ImportFileError(
            f"Not a CSV or XLSX file: '{original_name}'. Upload a .csv (or .txt / .tsv) or an .xlsx workbook."
        )
    if size_bytes <= 0:
        raise ImportFileError("The file is empty: it needs a header row and at least one data row.")
    limit = max_bytes()
    if size_bytes > limit:
        raise ImportLimitError(
            f"The file is {_megabytes(size_bytes)} MB; the limit is {_megabytes(limit)} MB (IMPORT_MAX_BYTES)."
        )


def _row_limit_message(rows: int, limit: int) -> str:
    return (f"The file has more than {limit:,} rows ({rows:,}); the limit is {limit:,} rows (IMPORT_MAX_ROWS). "
            "Split it into smaller files.")


def check_rows(path: str | Path, fmt: FileFormat) -> int:
    """Raise :class:`ImportLimitError` if the file has more data rows than allowed; return the estimate.

    Counting line breaks is cheap and never undercounts; only when that exceeds the limit are the rows
    counted exactly (quoted notes may span lines).
    """
    limit = max_rows()
    estimate = estimate_rows(path, fmt)
    if estimate > limit:
        exact = count_rows(path, fmt)
        if exact > limit:
            raise ImportLimitError(_row_limit_message(exact, limit))
        return exact
    return estimate


def _options(options: dict | None) -> dict[str, str]:
    return {k: str(v) for k, v in (options or {}).items() if k in OPTION_KEYS and v not in (None, "")}


def _columns(columns: dict | None) -> dict[str, str]:
    return {k: v for k, v in (columns or {}).items() if v}


# --- Mappings -------------------------------------------------------------------------------------------


def mapping_for(source_system: str, kind: str) -> ImportMapping | None:
    """The mapping remembered for this source system and kind, if any."""
    return ImportMapping.objects.filter(source_system=source_system, kind=kind).first()


def mapping_remember(*, source_system: str, kind: str, columns: dict, options: dict, user: Any) -> ImportMapping:
    """Remember (create or replace) the column mapping and parsing choices of a source system's files of
    ``kind``; the change is kept in the mapping's history with ``user``."""
    if kind not in FIELDS:
        raise ImportFileError(f"Unknown import kind '{kind}'.")
    with transaction.atomic():
        mapping = (ImportMapping.objects.select_for_update().filter(source_system=source_system, kind=kind).first()
                   or ImportMapping(source_system=source_system, kind=kind))
        mapping.columns = _columns(columns)
        mapping.options = _options(options)
        mapping.updated_by = user if getattr(user, "pk", None) else None
        mapping._history_user = mapping.updated_by  # type: ignore[attr-defined]
        mapping.save()
    return mapping


# --- Preview --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    line: int
    values: dict[str, str]  # field → the value as it will be stored (the cell's text where it is invalid)
    errors: dict[str, str]  # field (or "(row)") → reason


@dataclass(frozen=True)
class Preview:
    format: FileFormat
    rows: list[PreviewRow] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    rows_estimate: int = 0


def import_preview(*, path: str | Path, original_name: str, kind: str, source_system: str,
                   columns: dict | None, options: dict | None, limit: int = 20) -> Preview:
    """The first ``limit`` data rows validated as the run would: types, required fields, and the lookups
    (unknown account, product, contact, owner; a key repeated in these rows). Writes nothing.

    Raises :class:`ImportFileError` for a file that cannot be read or a mapping that doesn't fit it.
    """
    from .loading_orm import OrmLoader

    fmt = detect_format(path, original_name, _options(options))
    columns = _columns(columns)
    check_columns(kind, columns, fmt.headers)
    validator = RowValidator(kind, columns, fmt, timezone.get_default_timezone())
    records = list(islice(iter_records(path, fmt), limit))
    checked = [(line, record, *validator.validate(record)) for line, record in records]
    valid = [(line, dict(values)) for line, _, values, errors in checked if not errors]
    lookups = BatchResult()
    context = LoadContext(kind=kind, source_system=source_system, mapped=frozenset(columns))
    loader = OrmLoader(context)
    accepted = loader._resolve(valid, lookups)
    seen: dict[str, int] = {}
    from .loading import key_of

    for line, values in accepted:
        first = seen.setdefault(key_of(kind, values), line)
        if first != line:
            lookups.rejects.append((line, "external_id" if kind != ImportKind.MARKETING_SPEND else "month",
                                    f"the same key is already on line {first} of this file"))
    more: dict[int, dict[str, str]] = {}
    for line, name, reason in lookups.rejects:
        more.setdefault(line, {})[name] = reason
    rows = []
    for line, record, values, errors in checked:
        errors = {**errors, **more.get(line, {})}
        shown = {
            name: (record.get(columns[name], "").strip() if name in errors else display(values.get(name)))
            for name in columns
        }
        rows.append(PreviewRow(line=line, values=shown, errors=errors))
    return Preview(format=fmt, rows=rows, columns=columns, rows_estimate=estimate_rows(path, fmt))


# --- The run --------------------------------------------------------------------------------------------


@contextmanager
def _run_lock(job_id: Any) -> Iterator[bool]:
    """Whether this process may run the job: a session advisory lock on PostgreSQL, so a redelivered task
    can't run a job that a live worker is still running (a crashed worker's lock dies with its connection)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [f"tierwise.import.{job_id}"])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [f"tierwise.import.{job_id}"])


@contextmanager
def _local_path(job: ImportJob) -> Iterator[Path]:
    """The job's file as a local path (copied to a temporary file when the storage is remote)."""
    try:
        yield Path(job.file.path)
        return
    except NotImplementedError:
        pass
    suffix = Path(job.original_name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy, job.file.open("rb") as source:
        shutil.copyfileobj(source, copy)
        copy.flush()
        yield Path(copy.name)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a run, collecting only the young objects after each batch.

    A batch allocates about a dozen container objects per row (cells, values, tuples); with the collector on,
    each few hundred allocations triggered a scan and the full scans re-walked the whole live batch, over and
    over — a third of the reader's CPU. The run's objects die by reference counting (a collection after each
    batch found nothing to free, at 0.1 s a time); one every ten batches catches any cycle a library makes,
    and the collector is switched back on at the end whatever happens.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_job_run(*, job_id: Any) -> ImportJob:
    """Run the import job end to end and return it (finished: done, failed or cancelled).

    Safe to call again for the same job — a redelivered task after a worker crash re-runs a job left
    ``running`` from the start and, since every batch is an upsert, converges to the same records (rows
    committed by the crashed run count as unchanged this time). A job already finished is returned as is;
    a second call while a live run holds the job returns at once.

    Cancelling (``cancel_requested``) takes effect between batches: the batches already committed stay
    imported, their rejects are in the rejects file, and the job ends ``cancelled``.
    """
    with _run_lock(job_id) as acquired:
        if not acquired:
            return ImportJob.objects.get(pk=job_id)
        now = timezone.now()
        # A job found running is one whose worker died mid-run (a live run would hold the lock).
        resumed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING).exists()
        claimed = ImportJob.objects.filter(
            pk=job_id, status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
        ).update(
            status=ImportJob.Status.RUNNING, started_at=now, finished_at=None, error="", rows_total=None,
            rows_processed=0, rows_created=0, rows_updated=0, rows_unchanged=0, rows_rejected=0,
        )
        job = ImportJob.objects.get(pk=job_id)
        if not claimed:
            return job
        run = _Run(job, resumed=resumed)
        try:
            run.execute()
        except (ImportFileError, ImportLimitError) as error:
            run.end(ImportJob.Status.FAILED, str(error))
        except Exception as error:
            log.exception("Import %s failed", job_id)
            try:
                run.end(ImportJob.Status.FAILED, f"The import stopped on an unexpected error: {error}")
            except DatabaseError:
                raise error from None
        finally:
            run.notify()
        job.refresh_from_db()
        return job


@dataclass
class _Batch:
    size: int
    valid: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)  # every row's cells by line, for rejects
    rejected: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line, errors) from validation
    prepared: Any = None  # the valid rows as the loader prepared them (Loader.prepare)
    result: BatchResult | None = None


def _pipelined() -> bool:
    return connection.vendor == "postgresql" and bool(getattr(settings, "TIERWISE_IMPORT_PIPELINE", True))


def _close_connection() -> None:
    connection.close()  # looked up in the calling thread: that thread's own connection


class _Writer:
    """Runs the database side of a run: in one helper thread (its own connection) or, if not pipelined,
    right here. A single thread keeps the batches in order and the loader's temp tables on one session."""

    def __init__(self, *, pipelined: bool) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import") if pipelined else None

    def __enter__(self) -> _Writer:
        return self

    def submit(self, fn: Any, *args: Any) -> Future:
        if self.executor is not None:
            return self.executor.submit(fn, *args)
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def call(self, fn: Any, *args: Any) -> Any:
        return self.submit(fn, *args).result()

    def __exit__(self, *exc: Any) -> None:
        if self.executor is not None:
            # the thread's connection goes back (to the pool) before the thread ends
            self.executor.submit(_close_connection).result()
            self.executor.shutdown(wait=True)


class _Run:
    """One run of one job: reads, validates and loads batch by batch, keeping the job row up to date."""

    def __init__(self, job: ImportJob, *, resumed: bool = False) -> None:
        self.job = job
        self.resumed = resumed
        self.touched: set[int] = set()
        self.rejects: RejectsWriter | None = None
        self.processed = 0
        self.phases = Phases()  # this thread's: reading, validating, waiting for the database

    def execute(self) -> None:
        job = self.job
        if job.kind not in FIELDS:
            raise ImportFileError(f"Unknown import kind '{job.kind}'.")
        if job.cancel_requested:
            self.end(ImportJob.Status.CANCELLED)
            return
        with _local_path(job) as path:
            fmt = detect_format(path, job.original_name, _options(job.options))
            columns = _columns(job.columns)
            check_columns(job.kind, columns, fmt.headers)
            total = check_rows(path, fmt)
            ImportJob.objects.filter(pk=job.pk).update(rows_total=total)
            self.rejects = RejectsWriter(fmt.headers, fmt.delimiter or ",")
            try:
                cancelled = self._batches(path, fmt, columns)
                self._save_rejects()
            finally:
                self.rejects.close()
        self.end(ImportJob.Status.CANCELLED if cancelled else ImportJob.Status.DONE,
                 rows_total=self.processed)

    def _batches(self, path: Path, fmt: FileFormat, columns: dict[str, str]) -> bool:
        """Load the file batch by batch; True if it stopped because cancelling was asked for.

        On PostgreSQL the batches are written by one helper thread (with its own connection) while this
        thread reads and validates the next batch: parsing and the database's work overlap, and at most two
        batches are in memory. Each batch still commits on its own, in file order.
        """
        job = self.job
        validator = RowValidator(job.kind, columns, fmt, timezone.get_default_timezone())
        context = LoadContext(kind=job.kind, source_system=job.source_system, mapped=frozenset(columns),
                              user_id=job.created_by_id, resumed=self.resumed)
        loader = loader_for(context)
        size, limit = batch_rows(), max_rows()
        phase = self.phases
        phase.cpu_start()
        with _collector_paused(), _Writer(pipelined=_pipelined()) as writer:
            writer.call(self._start, loader)
            try:
                records = iter_rows(path, fmt)
                pending = None
                batches = 0
                while True:
                    with phase("read"):
                        chunk = list(islice(records, size))
                    if self.processed + len(chunk) > limit:
                        raise ImportLimitError(
                            _row_limit_message(self.processed + len(chunk), limit)
                            + f" Nothing after line {chunk[0][0] - 1:,} was imported."
                        )
                    with phase("validate"):
                        prepared = self._prepare(validator, chunk) if chunk else None
                    if prepared is not None:
                        with phase("prepare for the database"):
                            prepared.prepared = loader.prepare(prepared.valid)
                    if pending is not None:
                        with phase("wait for the database"):
                            done = pending.result()
                        with phase("rejects file, cancel check"):
                            self._record(done, columns)
                            batches += 1
                            if batches % 10 == 0:
                                gc.collect(1)
                            if ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                                return True
                    if prepared is None:
                        return False
                    self.processed += len(chunk)
                    pending = writer.submit(self._load, loader, prepared)
            finally:
                writer.call(self._finish, loader)
                phase.cpu_stop()
                log.info("Import %s phases — %s", job.pk, summary(reader=phase, writer=loader.phases),
                         extra={"import_phases": {"reader": phase, "writer": loader.phases}})

    @staticmethod
    def _start(loader: Loader) -> None:
        loader.phases.cpu_start()  # the thread that loads (the writer thread when pipelined)
        loader.start()

    @staticmethod
    def _finish(loader: Loader) -> None:
        try:
            loader.finish()
        finally:
            loader.phases.cpu_stop()

    @staticmethod
    def _prepare(validator: RowValidator, chunk: list[tuple[int, list[str]]]) -> _Batch:
        """Validate a chunk of rows (pure Python, no database)."""
        valid, rejected = validator.validate_rows(chunk)
        return _Batch(size=len(chunk), valid=valid, cells=dict(chunk), rejected=rejected)

    def _load(self, loader: Loader, batch: _Batch) -> _Batch:
        """Write one batch and its counters in one transaction (runs in the writer thread)."""
        phase = loader.phases
        with transaction.atomic():
            result = _load(loader, batch.valid, batch.prepared)
            lookup_rejected = len({line for line, _, _ in result.rejects})
            # Committed with the batch: the counters always describe what is in the database.
            with phase("progress counters"):
                ImportJob.objects.filter(pk=self.job.pk).update(
                    rows_processed=F("rows_processed") + batch.size,
                    rows_created=F("rows_created") + result.created,
                    rows_updated=F("rows_updated") + result.updated,
                    rows_unchanged=F("rows_unchanged") + result.unchanged,
                    rows_rejected=F("rows_rejected") + len(batch.rejected) + lookup_rejected,
                )
            committing = time.perf_counter()
        phase.add("commit (deferred FK checks)", time.perf_counter() - committing)
        batch.result = result
        return batch

    def _record(self, batch: _Batch, columns: dict[str, str]) -> None:
        """After a batch committed: its rejects into the rejects file (in line order), its accounts noted."""
        assert self.rejects is not None and batch.result is not None
        kind = self.job.kind
        problems: dict[int, list[tuple[str, str]]] = {}
        for line, errors in batch.rejected:
            problems[line] = [(name, reason) for name, reason in errors.items()]
        for line, name, reason in batch.result.rejects:
            problems.setdefault(line, []).append((name, reason))
        headers = self.rejects.headers
        for line in sorted(problems):
            found = [(reject_field_label(columns, name, kind), reason) for name, reason in problems[line]]
            self.rejects.write(line, record_of(headers, batch.cells[line]), found)
        self.touched |= batch.result.touched_account_ids

    def _save_rejects(self) -> None:
        assert self.rejects is not None
        if not self.rejects.count:
            return
        stem = Path(self.job.original_name).stem[:80] or "import"
        self.job.rejects_file.save(f"{stem}-rejects.csv", File(self.rejects.file()), save=False)
        ImportJob.objects.filter(pk=self.job.pk).update(rejects_file=self.job.rejects_file.name)

    def end(self, status: str, error: str = "", rows_total: int | None = None) -> None:
        changes: dict[str, Any] = {"status": status, "error": error, "finished_at": timezone.now()}
        if rows_total is not None:
            changes["rows_total"] = rows_total
        ImportJob.objects.filter(pk=self.job.pk).update(**changes)

    def notify(self) -> None:
        """Tell the engines once which accounts' histories changed (their versions are already bumped)."""
        if not self.touched:
            return
        ids = sorted(self.touched)
        self.touched = set()

        def send() -> None:
            from ..signals import history_changed

            history_changed.send(sender=Account, account_ids=ids)

        transaction.on_commit(send, robust=True)


def _load(loader: Loader, rows: list[tuple[int, dict[str, Any]]], prepared: Any = None) -> BatchResult:
    """Load rows (``prepared`` by the loader, if they were) in a savepoint; if the database refuses them,
    split the batch until the refused rows are isolated and reject just those (a guard for anything
    validation could not foresee, or a row another writer inserted meanwhile: the halves resolve again)."""
    state = loader.checkpoint()
    try:
        with transaction.atomic():
            return loader.load(rows) if prepared is None else loader.load_prepared(prepared)
    except (IntegrityError, DataError) as error:
        loader.restore(state)
        if len(rows) <= 1:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return BatchResult(rejects=[(line, ROW, f"the database refused the row: {reason}") for line, _ in rows])
        middle = len(rows) // 2
        first, second = _load(loader, rows[:middle]), _load(loader, rows[middle:])
        return BatchResult(
            created=first.created + second.created, updated=first.updated + second.updated,
            unchanged=first.unchanged + second.unchanged, rejects=first.rejects + second.rejects,
            touched_account_ids=first.touched_account_ids | second.touched_account_ids,
        )


# --- For scheduled loads --------------------------------------------------------------------------------


def import_file(*, path: str | Path, original_name: str, source_system: str, kind: str,
                columns: dict | None = None, options: dict | None = None, user: Any = None) -> ImportJob:
    """Import a file on disk synchronously (``manage.py import_data``) and return the finished job.

    The file is copied into the job's storage like an upload. Without ``columns`` the source system's
    remembered mapping is used (where its columns are in the file), completed by suggestions from the
    headers; likewise its remembered parsing options, which ``options`` override.
    """
    path = Path(path)
    if kind not in FIELDS:
        raise ImportFileError(f"Unknown import kind '{kind}': use one of {', '.join(FIELDS)}.")
    size = os.path.getsize(path)
    name = original_name or path.name
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        name += ".xlsx" if is_xlsx_name(path.name) else ".csv"
    check_upload(size_bytes=size, original_name=name)
    remembered = mapping_for(source_system, kind)
    merged_options = {**(remembered.options if remembered else {}), **_options(options)}
    if not columns:
        fmt = detect_format(path, name, merged_options)
        columns = suggest_columns(kind, fmt.headers, remembered.columns if remembered else None)
    job = ImportJob(source_system=source_system, kind=kind, original_name=name, size_bytes=size,
                    columns=_columns(columns), options=merged_options, status=ImportJob.Status.QUEUED,
                    created_by=user if getattr(user, "pk", None) else None)
    with open(path, "rb") as handle:
        job.file.save(name, File(handle), save=False)
    job.save()
    return import_job_run(job_id=job.pk)
