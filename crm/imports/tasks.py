"""Celery tasks of the imports: thin, an id in and one service call.

``run_import`` is enqueued after commit when an admin starts a job. It is acknowledged late and the
service is idempotent (it claims the job under a lock, re-runs a job left running, returns a finished one
as is), so a redelivered message after a worker crash converges instead of importing twice.
``sweep_import_jobs`` (every few minutes from beat) re-enqueues jobs whose message was lost.
"""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from . import job_actions, services


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=60,
             max_retries=5)
def run_import(job_id: str) -> dict:
    job = services.import_job_run(job_id=job_id)
    return {
        "job_id": str(job.pk), "status": job.status, "processed": job.rows_processed, "created": job.rows_created,
        "updated": job.rows_updated, "unchanged": job.rows_unchanged, "rejected": job.rows_rejected,
    }


#: A job queued or running longer than this without finishing gets its run enqueued again by the sweep.
STALE_AFTER = timedelta(minutes=10)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
             soft_time_limit=60, time_limit=90)
def sweep_import_jobs() -> list[str]:
    """Re-enqueue jobs whose message was lost (the process died between commit and publish, Redis lost its
    data) or whose worker died mid-run. Safe for a job that is in fact running: the run holds a lock per
    job, so the extra message returns at once; a finished job is returned as is."""
    job_ids = job_actions.stale_job_ids(older_than=timezone.now() - STALE_AFTER)
    for job_id in job_ids:
        run_import.delay(job_id)
    return job_ids
