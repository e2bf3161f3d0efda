"""What the import pages do to an ImportJob: create it from an upload, start it, cancel it; and the reads
the pages need (known source systems, the first rejected rows).

Loading the rows is :func:`crm.imports.services.import_job_run`, run by the Celery task
:func:`crm.imports.tasks.run_import`. State changes are conditional UPDATEs (never check-then-act), so a
double click, two admins or a worker racing a cancel each leave exactly one outcome.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.models_imports import ImportJob, ImportMapping

from . import services

Status = ImportJob.Status
ACTIVE = (Status.QUEUED, Status.RUNNING)
FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)


def import_job_create(*, upload: UploadedFile, source_system: str, kind: str, user: Any) -> ImportJob:
    """Keep the uploaded file (under MEDIA_ROOT) with a job waiting for its mapping."""
    return ImportJob.objects.create(
        source_system=source_system, kind=kind, file=upload, original_name=upload.name[:255],
        size_bytes=upload.size, created_by=user, status=Status.UPLOADED,
    )


def _enqueue(job_id: str) -> None:
    from .tasks import run_import

    run_import.delay(job_id)


def import_job_start(*, job: ImportJob, columns: dict[str, str], options: dict[str, str], user: Any) -> bool:
    """Remember the mapping for the job's source and kind, queue the job and enqueue its run after commit.

    False (and nothing written) when the job was already started, e.g. by a second click.
    """
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job.pk, status=Status.UPLOADED).update(
            status=Status.QUEUED, columns=columns, options=options)
        if not started:
            return False
        services.mapping_remember(source_system=job.source_system, kind=job.kind, columns=columns,
                                  options=options, user=user)
        job_id = str(job.pk)
        transaction.on_commit(lambda: _enqueue(job_id))
    return True


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # never started: cancelled at once
    REQUESTED = "requested"  # running: the run stops after its current batch
    TOO_LATE = "too late"  # already finished (or not started yet)


def import_job_cancel(*, job_id: Any) -> CancelOutcome:
    now = timezone.now()
    # A queued job no worker has claimed yet is cancelled outright; the flag also stops a worker that
    # claims it in the same instant (the run checks it between batches).
    if ImportJob.objects.filter(pk=job_id, status=Status.QUEUED, started_at__isnull=True).update(
            status=Status.CANCELLED, cancel_requested=True, finished_at=now):
        return CancelOutcome.CANCELLED
    if ImportJob.objects.filter(pk=job_id, status__in=ACTIVE).update(cancel_requested=True):
        return CancelOutcome.REQUESTED
    return CancelOutcome.TOO_LATE


def stale_job_ids(*, older_than: datetime) -> list[str]:
    """Jobs queued (never started) or running since before ``older_than``: candidates for a new message."""
    stale = ImportJob.objects.filter(
        Q(status=Status.QUEUED, started_at__isnull=True, created_at__lt=older_than)
        | Q(status=Status.RUNNING, started_at__lt=older_than))
    return [str(pk) for pk in stale.order_by("created_at").values_list("pk", flat=True)[:100]]


def known_sources(limit: int = 200) -> list[str]:
    """Source systems named before (remembered mappings first), for the upload form's suggestions."""
    names = list(ImportMapping.objects.order_by("source_system").values_list("source_system", flat=True).distinct())
    seen = set(names)
    for name in ImportJob.objects.order_by().values_list("source_system", flat=True).distinct():
        if name not in seen:
            names.append(name)
            seen.add(name)
    return sorted(names, key=str.casefold)[:limit]


# --- the rejects file -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reject:
    line: str
    field: str
    reason: str


def _rejects_delimiter(header_line: str) -> str:
    """The rejects file keeps the imported file's delimiter; its header always ends with line, field, reason."""
    text = header_line.rstrip("\r\n")
    for delimiter in (",", ";", "\t", "|"):
        cells = text.split(delimiter)
        if len(cells) >= 3 and cells[-1].strip('"') in ("reason", "reject_reason"):
            return delimiter
    return ","


def rejects_head(text_lines: io.TextIOBase, limit: int = 50) -> list[Reject]:
    """The first ``limit`` rejects of a rejects CSV: the row's own cells, then ``line``, ``field``, ``reason``
    (the last three columns; renamed ``reject_*`` when the file had such a column). Pure: no ORM."""
    header_line = text_lines.readline()
    if not header_line.strip():
        return []
    reader = csv.reader(text_lines, delimiter=_rejects_delimiter(header_line))
    out = []
    for row in reader:
        if len(out) >= limit:
            break
        if len(row) >= 3:
            out.append(Reject(line=row[-3], field=row[-2], reason=row[-1]))
    return out


def job_rejects_head(job: ImportJob, limit: int = 50) -> list[Reject]:
    if not job.rejects_file:
        return []
    try:
        with job.rejects_file.open("rb") as raw:
            return rejects_head(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""), limit)
    except FileNotFoundError:
        return []
