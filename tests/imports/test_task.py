"""The import task with a real Celery worker on Redis and committed PostgreSQL data: an admin uploads, maps
and starts through the pages; the worker imports; the job ends done with the right counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse

from crm.imports import job_actions, tasks
from crm.models import Account, AccountSourceId
from crm.models_imports import ImportJob, ImportMapping
from tests import worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ACCOUNTS_CSV = (
    "\ufeffCustomer ID;Company;Country;Revenue band\n"  # Excel's "CSV UTF-8": a BOM and semicolons
    "C-1;Müller Maschinenbau GmbH;DE;A\n"
    "C-2;;FR;B\n"
    "C-3;Atelier Dupont;FR;B\n"
    "C-4;Nordlicht AS;NOR;C\n"
    "C-5;Brouwerij Van Dijk;NL;A\n"
).encode()


@pytest.fixture
def import_worker(transactional_db, tmp_path, settings) -> Iterator[worker.CeleryWorker]:  # type: ignore[no-untyped-def]
    """A running worker that shares this test's MEDIA_ROOT (where uploads and rejects live)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    worker.flush_redis()
    process = worker.CeleryWorker(tmp_path / "celery-worker.log", extra_env={"MEDIA_ROOT": str(settings.MEDIA_ROOT)})
    try:
        process.start()
        yield process
    finally:
        process.kill()
        worker.terminate_worker_backends()
        worker.flush_redis()


def upload_and_start(client, content: bytes, *, name: str = "customers.csv") -> ImportJob:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("import_upload"), {
        "source_system": "Legacy ERP", "kind": "accounts", "file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get(original_name=name, status=ImportJob.Status.UPLOADED)
    response = client.post(reverse("import_start", args=[job.pk]), {
        "col_external_id": "Customer ID", "col_name": "Company", "col_country": "Country",
        "encoding": "utf-8-sig", "delimiter": ";", "decimal_separator": ",", "date_order": "dmy"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return job


def finished(job_id) -> ImportJob | None:  # type: ignore[no-untyped-def]
    job = ImportJob.objects.get(pk=job_id)
    return job if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED, ImportJob.Status.CANCELLED) else None


def test_the_worker_imports_a_started_job_and_reports_its_counts(client, ada, import_worker):  # type: ignore[no-untyped-def]
    client.force_login(ada)
    job = upload_and_start(client, ACCOUNTS_CSV)

    done = import_worker.wait_until(lambda: finished(job.pk), timeout=60, message="the import to finish")
    assert done.status == ImportJob.Status.DONE, done.error
    assert (done.rows_processed, done.rows_created, done.rows_updated, done.rows_unchanged, done.rows_rejected) == (
        5, 3, 0, 0, 2)
    assert done.started_at and done.finished_at
    # The job row says done inside the task, a moment before the worker logs the task's success.
    import_worker.wait_until(lambda: import_worker.succeeded("crm.imports.tasks.run_import") >= 1, timeout=30,
                             message="the worker to report the task's success")
    assert import_worker.succeeded("crm.imports.tasks.run_import") == 1
    names = dict(AccountSourceId.objects.filter(source_system="Legacy ERP").values_list("external_id", "account__name"))
    assert names == {"C-1": "Müller Maschinenbau GmbH", "C-3": "Atelier Dupont", "C-5": "Brouwerij Van Dijk"}
    assert Account.objects.get(name="Atelier Dupont").country == "FR"
    assert ImportMapping.objects.get(source_system="Legacy ERP", kind="accounts").columns == done.columns

    # The rejects come back through the page with their line, field and reason.
    response = client.get(reverse("import_detail", args=[job.pk]))
    assert [(r["line"], r["field_label"]) for r in response.context["rejects"]] == [("3", "Company"), ("5", "Country")]
    rejects = b"".join(client.get(reverse("import_rejects", args=[job.pk])).streaming_content).decode("utf-8-sig")
    assert "C-2" in rejects and "C-4" in rejects and "C-1" not in rejects

    # The same file again: the worker finds nothing new (re-importing updates, never duplicates).
    again = upload_and_start(client, ACCOUNTS_CSV, name="customers-again.csv")
    done = import_worker.wait_until(lambda: finished(again.pk), timeout=60, message="the re-import to finish")
    assert (done.status, done.rows_created, done.rows_updated, done.rows_unchanged, done.rows_rejected) == (
        ImportJob.Status.DONE, 0, 0, 3, 2)
    assert AccountSourceId.objects.filter(source_system="Legacy ERP").count() == 3


def test_the_task_run_twice_imports_once(client, ada, settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A redelivered message (acks_late after a crash) finds the job done and changes nothing."""
    settings.MEDIA_ROOT = tmp_path / "media"
    sent = []
    monkeypatch.setattr(job_actions, "_enqueue", sent.append)  # no broker: the task runs in this process
    client.force_login(ada)
    job = upload_and_start(client, ACCOUNTS_CSV)
    assert sent == [str(job.pk)]
    first = tasks.run_import.apply(args=[str(job.pk)]).get()
    second = tasks.run_import.apply(args=[str(job.pk)]).get()
    assert first["status"] == second["status"] == "done"
    assert (first["created"], first["rejected"]) == (3, 2)
    assert second == first
    assert AccountSourceId.objects.filter(source_system="Legacy ERP").count() == 3
    assert Path(ImportJob.objects.get(pk=job.pk).rejects_file.path).exists()


def test_the_sweep_re_enqueues_only_jobs_left_queued_or_running_too_long(monkeypatch, settings, tmp_path):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    settings.MEDIA_ROOT = tmp_path / "media"
    long_ago = timezone.now() - timedelta(minutes=30)
    S = ImportJob.Status

    def job(status, **fields):  # type: ignore[no-untyped-def]
        made = ImportJob.objects.create(source_system="ERP", kind="accounts", original_name="x.csv", status=status,
                                        **fields)
        ImportJob.objects.filter(pk=made.pk).update(created_at=fields.get("started_at") or long_ago)
        return str(made.pk)

    lost = job(S.QUEUED)
    stuck = job(S.RUNNING, started_at=long_ago)
    job(S.RUNNING, started_at=timezone.now())  # running normally
    fresh = ImportJob.objects.create(source_system="ERP", kind="accounts", original_name="y.csv", status=S.QUEUED)
    job(S.UPLOADED)
    job(S.DONE, started_at=long_ago)
    job(S.CANCELLED)
    sent = []
    monkeypatch.setattr(tasks.run_import, "delay", sent.append)
    swept = tasks.sweep_import_jobs()
    assert sorted(swept) == sorted([lost, stuck]) and sent == swept
    assert str(fresh.pk) not in sent
