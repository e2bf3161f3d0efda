"""The import pages: who may use them, the upload checks, the mapping and its preview, starting, cancelling
and the rejects download. The run itself is the engine's (tests/imports/test_task.py runs it for real)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.imports import tasks
from crm.models_imports import ImportJob, ImportKind, ImportMapping

pytestmark = pytest.mark.django_db

ACCOUNTS_CSV = (
    "Customer ID;Company;Country;Customer since\n"
    "C-1;Müller Maschinenbau GmbH;DE;01.03.2024\n"
    "C-2;;FR;15.04.2024\n"
    "C-3;Atelier Dupont;FRA;31.04.2024\n"
).encode()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def job_with(content: bytes = ACCOUNTS_CSV, *, name: str = "customers.csv", kind: str = ImportKind.ACCOUNTS,
             source: str = "Legacy ERP", status: str = ImportJob.Status.UPLOADED, user=None, **fields) -> ImportJob:  # type: ignore[no-untyped-def]
    job = ImportJob(source_system=source, kind=kind, original_name=name, size_bytes=len(content),
                    status=status, created_by=user, **fields)
    job.file.save(name, ContentFile(content), save=False)
    job.save()
    return job


def csv_upload(content: bytes = ACCOUNTS_CSV, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# --- who may use the pages ---------------------------------------------------------------------------------


def _urls(job: ImportJob) -> list[tuple[str, str, dict]]:
    """(method, url, data) of every import URL."""
    pk = job.pk
    return [
        ("get", reverse("import_list"), {}),
        ("get", reverse("import_upload"), {}),
        ("post", reverse("import_upload"), {"source_system": "X", "kind": "accounts", "file": csv_upload()}),
        ("get", reverse("import_detail", args=[pk]), {}),
        ("get", reverse("import_mapping", args=[pk]), {}),
        ("post", reverse("import_preview", args=[pk]), {}),
        ("post", reverse("import_start", args=[pk]), {}),
        ("post", reverse("import_cancel", args=[pk]), {}),
        ("get", reverse("import_rejects", args=[pk]), {}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "nobody", "alice", "sam"])
def test_it_lets_only_admins_in(client, request, who):  # type: ignore[no-untyped-def]
    job = job_with(rejects_file="imports/rejects/x.csv")
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    for method, url, data in _urls(job):
        response = getattr(client, method)(url, data)
        if who == "anonymous":
            assert response.status_code == 302 and response.url.startswith(reverse("login")), (method, url)
        else:
            assert response.status_code == 403, (who, method, url)
            assert "This page is for admins." in response.content.decode()
    assert ImportJob.objects.count() == 1  # the refused upload created nothing
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED and not job.cancel_requested
    assert not ImportMapping.objects.exists()


def test_it_lets_an_admin_use_every_page(client, ada):  # type: ignore[no-untyped-def]
    job = job_with()
    client.force_login(ada)
    for url in (reverse("import_list"), reverse("import_upload"), reverse("import_detail", args=[job.pk]),
                reverse("import_mapping", args=[job.pk])):
        assert client.get(url).status_code == 200, url


def test_it_answers_404_for_a_job_that_does_not_exist(client, ada):  # type: ignore[no-untyped-def]
    job_with()
    client.force_login(ada)
    for method, url, data in _urls(ImportJob(pk=uuid.uuid4())):
        if "/data/imports/" in url and url.count("/") > 4:  # the job URLs
            assert getattr(client, method)(url, data).status_code == 404, url


@pytest.mark.parametrize("name", ["import_preview", "import_start", "import_cancel"])
def test_it_changes_nothing_over_get(client, ada, name):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.QUEUED)
    client.force_login(ada)
    assert client.get(reverse(name, args=[job.pk])).status_code == 405
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED and not job.cancel_requested


# --- upload ------------------------------------------------------------------------------------------------


def test_it_keeps_an_upload_and_goes_on_to_the_mapping(client, ada, media):  # type: ignore[no-untyped-def]
    client.force_login(ada)
    response = client.post(reverse("import_upload"), {
        "source_system": "  Legacy   ERP ", "kind": "accounts", "file": csv_upload()})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("import_mapping", args=[job.pk])
    assert (job.source_system, job.kind, job.original_name, job.size_bytes, job.created_by, job.status) == (
        "Legacy ERP", "accounts", "customers.csv", len(ACCOUNTS_CSV), ada, ImportJob.Status.UPLOADED)
    assert job.file.path.startswith(str(media))
    with job.file.open("rb") as handle:
        assert handle.read() == ACCOUNTS_CSV


def test_it_refuses_a_file_that_is_not_csv_or_xlsx(client, ada):  # type: ignore[no-untyped-def]
    client.force_login(ada)
    response = client.post(reverse("import_upload"), {
        "source_system": "Legacy ERP", "kind": "accounts", "file": csv_upload(b"%PDF-1.4", "customers.pdf")})
    assert response.status_code == 422
    errors = response.context["form"].errors["file"]
    assert len(errors) == 1 and "CSV" in errors[0] and "XLSX" in errors[0], errors
    assert _escaped(errors[0]) in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_that_only_looks_like_csv_is_explained_on_the_mapping_page(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(b"%PDF-1.4 binary", name="customers.csv")
    client.force_login(ada)
    response = client.get(reverse("import_mapping", args=[job.pk]))
    assert response.status_code == 200 and response.context["form"] is None
    assert response.context["file_error"] == "Not a CSV or XLSX file."
    assert "Upload another file" in response.content.decode()


def test_it_refuses_a_file_above_the_size_limit_with_the_limit_in_the_message(client, ada, settings):  # type: ignore[no-untyped-def]
    settings.TIERWISE_IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(ada)
    big = b"id,name\n" + b"1,x\n" * (3 * 1024 * 1024 // 8)  # 1.5 MB
    response = client.post(reverse("import_upload"), {
        "source_system": "Legacy ERP", "kind": "accounts", "file": csv_upload(big)})
    assert response.status_code == 422
    assert response.context["form"].errors["file"] == [
        "The file is 1.5 MB; the limit is 1.0 MB (IMPORT_MAX_BYTES)."]
    assert "The file is 1.5 MB; the limit is 1.0 MB (IMPORT_MAX_BYTES)." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_it_names_each_missing_upload_field(client, ada):  # type: ignore[no-untyped-def]
    client.force_login(ada)
    response = client.post(reverse("import_upload"), {"source_system": " ", "kind": "nonsense"})
    assert response.status_code == 422
    assert response.context["form"].errors == {
        "source_system": ["Name the source system the file comes from."],
        "kind": ["Choose what the file holds from the list."],
        "file": ["Choose the file to import."],
    }


def test_it_suggests_known_source_systems(client, ada):  # type: ignore[no-untyped-def]
    ImportMapping.objects.create(source_system="Zendesk", kind="interactions", columns={})
    job_with(source="Legacy ERP")
    client.force_login(ada)
    body = client.get(reverse("import_upload")).content.decode()
    datalist = re.search(r'<datalist id="known-sources">(.*?)</datalist>', body, re.S)[1]
    assert re.findall(r'value="([^"]+)"', datalist) == ["Legacy ERP", "Zendesk"]


# --- mapping and preview -------------------------------------------------------------------------------------


def _selected(body: str, name: str) -> str | None:
    select = re.search(rf'<select name="{name}".*?</select>', body, re.S)
    assert select, f"no select {name}"
    chosen = re.search(r'<option value="([^"]*)" selected>', select[0])
    return chosen[1] if chosen and chosen[1] else None  # None: "not imported"


def test_the_mapping_page_suggests_columns_from_the_headers_and_detects_the_format(client, ada):  # type: ignore[no-untyped-def]
    job = job_with()
    client.force_login(ada)
    body = client.get(reverse("import_mapping", args=[job.pk])).content.decode()
    assert _selected(body, "col_external_id") == "Customer ID"
    assert _selected(body, "col_name") == "Company"
    assert _selected(body, "col_country") == "Country"
    assert _selected(body, "col_acquired_on") == "Customer since"
    assert _selected(body, "col_industry") is None
    assert _selected(body, "delimiter") == ";"
    assert _selected(body, "encoding") == "utf-8"
    assert _selected(body, "date_order") == "dmy"
    assert "(required)" in re.search(r'<label for="id_col_name">.*?</label>', body, re.S)[0]


def test_the_mapping_page_prefills_the_mapping_remembered_for_the_source(client, ada):  # type: ignore[no-untyped-def]
    # Headers no suggestion would pick for these fields: only the remembered mapping explains the choice.
    content = b"Ref;Label;Land\nK1;Alpha AG;DE\n"
    ImportMapping.objects.create(source_system="Legacy ERP", kind="accounts",
                                 columns={"external_id": "Ref", "name": "Label", "region": "Land"},
                                 options={"delimiter": ";", "date_order": "mdy"})
    job = job_with(content)
    client.force_login(ada)
    body = client.get(reverse("import_mapping", args=[job.pk])).content.decode()
    assert _selected(body, "col_external_id") == "Ref"
    assert _selected(body, "col_name") == "Label"
    assert _selected(body, "col_region") == "Land"
    assert _selected(body, "col_country") is None
    assert _selected(body, "date_order") == "mdy"  # the remembered parsing choice, not the detected one
    assert "Using the mapping remembered for Legacy ERP" in body


def _mapping_post(**changes: str) -> dict[str, str]:
    data = {"col_external_id": "Customer ID", "col_name": "Company", "col_country": "Country",
            "col_acquired_on": "Customer since", "encoding": "utf-8", "delimiter": ";", "decimal_separator": ",",
            "date_order": "dmy"}
    data.update(changes)
    return data


def test_the_preview_shows_each_rows_values_and_errors_in_place(client, ada):  # type: ignore[no-untyped-def]
    job = job_with()
    client.force_login(ada)
    response = client.post(reverse("import_preview", args=[job.pk]), _mapping_post(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="mapping-editor">')  # the partial only
    assert "1 of 3 rows valid" in body
    rows = {row.line: row for row in response.context["preview"].rows}
    assert set(rows) == {2, 3, 4} and not rows[2].errors and rows[3].errors and rows[4].errors
    table = response.context["preview_rows"]
    assert [r["ok"] for r in table] == [True, False, False]
    name_cell = next(c for c in table[1]["cells"] if c["spec"].name == "name")
    assert name_cell["errors"], table[1]
    for cell in table[2]["cells"]:
        if cell["spec"].name in ("country", "acquired_on"):
            assert cell["errors"], cell
            for message in cell["errors"]:
                assert str(message) in body or _escaped(message) in body
    assert "Müller Maschinenbau GmbH" in body
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED and job.columns == {}  # a preview writes nothing
    assert not ImportMapping.objects.exists()


def _escaped(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def test_the_preview_follows_a_changed_delimiter_and_names_unmapped_required_fields(client, ada):  # type: ignore[no-untyped-def]
    job = job_with()
    client.force_login(ada)
    # Read with a comma, the whole line is one column: the columns chosen before vanish, nothing fits.
    response = client.post(reverse("import_preview", args=[job.pk]), _mapping_post(delimiter=","),
                           HTTP_HX_REQUEST="true")
    body = response.content.decode()
    form = response.context["form"]
    assert form.headers == ["Customer ID;Company;Country;Customer since"]
    assert form.columns() == {}
    assert "Map the required fields External id, Name before starting." in body
    # The rows are shown as read, so the admin can see the delimiter is wrong.
    assert response.context["preview"] is None
    assert response.context["raw_rows"][0] == (2, ["C-1;Müller Maschinenbau GmbH;DE;01.03.2024"])


def test_without_its_required_fields_the_preview_shows_the_file_as_read(client, ada):  # type: ignore[no-untyped-def]
    job = job_with()
    client.force_login(ada)
    response = client.post(reverse("import_preview", args=[job.pk]), _mapping_post(col_name=""),
                           HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Map the required field Name before starting." in body
    assert response.context["raw_rows"] == [
        (2, ["C-1", "Müller Maschinenbau GmbH", "DE", "01.03.2024"]), (3, ["C-2", "", "FR", "15.04.2024"]),
        (4, ["C-3", "Atelier Dupont", "FRA", "31.04.2024"])]
    assert '<th scope="col">Customer since</th>' in body


def test_a_started_jobs_mapping_cannot_change(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.RUNNING)
    client.force_login(ada)
    for name, method in (("import_mapping", "get"), ("import_preview", "post"), ("import_start", "post")):
        response = getattr(client, method)(reverse(name, args=[job.pk]), _mapping_post())
        assert response.status_code == 302 and response.url == reverse("import_detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.columns == {}


# --- start ---------------------------------------------------------------------------------------------------


def test_start_remembers_the_mapping_queues_the_job_and_enqueues_its_run_on_commit(
        client, ada, monkeypatch, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    job = job_with()
    sent = []
    monkeypatch.setattr(tasks.run_import, "delay", lambda job_id: sent.append(job_id))
    client.force_login(ada)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("import_start", args=[job.pk]), _mapping_post())
    assert response.status_code == 302 and response.url == reverse("import_detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    assert job.columns == {"external_id": "Customer ID", "name": "Company", "country": "Country",
                           "acquired_on": "Customer since"}
    assert job.options == {"encoding": "utf-8", "delimiter": ";", "decimal_separator": ",", "date_order": "dmy"}
    remembered = ImportMapping.objects.get(source_system="Legacy ERP", kind="accounts")
    assert remembered.columns == job.columns and remembered.updated_by == ada
    assert sent == []  # nothing is published before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [str(job.pk)]

    # A second click starts nothing more.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("import_start", args=[job.pk]), _mapping_post())
    assert response.status_code == 302 and callbacks == [] and sent == [str(job.pk)]


def test_start_refuses_while_a_required_field_is_unmapped(client, ada, monkeypatch,
                                                          django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    job = job_with()
    monkeypatch.setattr(tasks.run_import, "delay", lambda job_id: pytest.fail("enqueued"))
    client.force_login(ada)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("import_start", args=[job.pk]), _mapping_post(col_name=""))
    assert response.status_code == 422 and callbacks == []
    assert response.context["form"].errors == {"col_name": ["Choose the column that holds “Name”: it is required."]}
    assert "The import was not started" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED
    assert not ImportMapping.objects.exists()


# --- progress and cancel ---------------------------------------------------------------------------------


def test_the_progress_region_polls_while_running_and_stops_when_finished(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.RUNNING, rows_total=200, rows_processed=50, rows_created=40,
                   rows_updated=5, rows_unchanged=3, rows_rejected=2)
    client.force_login(ada)
    response = client.get(reverse("import_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="job-status"')
    assert 'hx-trigger="every 1s"' in body
    assert '<progress id="import-progress-bar" max="200" value="50">25 %</progress>' in body
    assert "50 of about 200 rows processed (25 %)" in body
    assert 'aria-live="polite"' in body
    assert "Cancel import" in body
    assert response["Cache-Control"] == "no-store"

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE, rows_processed=200)
    body = client.get(reverse("import_detail", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in body and "Cancel import" not in body
    assert "Done: 200 rows processed" in body


def test_a_finished_job_shows_its_first_rejects_and_the_download(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.DONE, rows_total=3, rows_processed=3, rows_created=1, rows_rejected=2)
    job.rejects_file.save("customers-rejects.csv", ContentFile(
        "Customer ID;Company;line;field;reason\nC-2;;3;Company;required\n"
        "C-3;x;4;Country;'FRA' is not an ISO 3166-1 two-letter country code (e.g. DE, FR, GB, US).\n"))
    client.force_login(ada)
    response = client.get(reverse("import_detail", args=[job.pk]))
    assert [(r["line"], r["field_label"], r["reason"]) for r in response.context["rejects"]] == [
        ("3", "Company", "required"),
        ("4", "Country", "'FRA' is not an ISO 3166-1 two-letter country code (e.g. DE, FR, GB, US).")]
    body = response.content.decode()
    assert reverse("import_rejects", args=[job.pk]) in body and "Download the rejects CSV" in body


def test_cancelling_a_queued_job_cancels_it_at_once(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.QUEUED)
    client.force_login(ada)
    response = client.post(reverse("import_cancel", args=[job.pk]), follow=True)
    assert "cancelled before it started" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED and job.cancel_requested and job.finished_at


def test_cancelling_a_running_job_asks_it_to_stop_after_its_batch(client, ada):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    job = job_with(status=ImportJob.Status.RUNNING, started_at=timezone.now())
    client.force_login(ada)
    response = client.post(reverse("import_cancel", args=[job.pk]), follow=True)
    assert "the import stops after the batch it is loading" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.cancel_requested


@pytest.mark.parametrize("status", [ImportJob.Status.DONE, ImportJob.Status.FAILED, ImportJob.Status.UPLOADED])
def test_cancelling_a_job_that_is_not_running_changes_nothing(client, ada, status):  # type: ignore[no-untyped-def]
    job = job_with(status=status)
    client.force_login(ada)
    response = client.post(reverse("import_cancel", args=[job.pk]), follow=True)
    assert "there is nothing to cancel" in response.content.decode()
    job.refresh_from_db()
    assert job.status == status and not job.cancel_requested


# --- rejects download ------------------------------------------------------------------------------------------


def test_the_rejects_download_is_an_attachment_of_csv(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.DONE, rows_rejected=1)
    content = "Customer ID;Company;line;field;reason\nC-2;;3;Company;required\n"
    job.rejects_file.save("anything.csv", ContentFile(content))
    client.force_login(ada)
    response = client.get(reverse("import_rejects", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="customers-rejects.csv"'
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).decode() == content


def test_there_is_no_rejects_download_without_a_rejects_file(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.DONE)
    client.force_login(ada)
    assert client.get(reverse("import_rejects", args=[job.pk])).status_code == 404


def test_media_files_are_not_served_by_url(client, ada):  # type: ignore[no-untyped-def]
    job = job_with(status=ImportJob.Status.DONE, rows_rejected=1)
    job.rejects_file.save("r.csv", ContentFile("line,field,reason\n"))
    client.force_login(ada)
    assert client.get("/media/" + job.rejects_file.name).status_code == 404
    assert client.get("/media/" + job.file.name).status_code == 404


# --- list ------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_job_with_its_counts_and_links(client, ada, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    waiting = job_with(name="new.csv", user=ada)
    done = job_with(name="old.csv", status=ImportJob.Status.DONE, rows_processed=10, rows_created=7,
                    rows_updated=1, rows_unchanged=0, rows_rejected=2, user=ada)
    done.rejects_file.save("r.csv", ContentFile("line,field,reason\n"))
    for _ in range(5):
        job_with(status=ImportJob.Status.DONE, user=ada)
    client.force_login(ada)
    with django_assert_max_num_queries(8):
        body = client.get(reverse("import_list")).content.decode()
    assert reverse("import_mapping", args=[waiting.pk]) in body and "Waiting for mapping" in body
    assert reverse("import_detail", args=[done.pk]) in body
    assert reverse("import_rejects", args=[done.pk]) in body
    row = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"[^\"]+\">old.csv</a></th>.*?</tr>", body, re.S)[0]
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)
    assert cells == ["10", "7", "1", "0", "2"]


def test_a_workbook_is_mapped_without_encoding_or_delimiter(client, ada, monkeypatch):  # type: ignore[no-untyped-def]
    import io
    from datetime import date

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Channel", "Month", "Spend"])
    sheet.append(["LinkedIn", date(2025, 3, 1), 1250.5])
    sheet.append(["Trade fairs", "2025-13", 900])
    buffer = io.BytesIO()
    book.save(buffer)
    job = job_with(buffer.getvalue(), name="spend.xlsx", kind=ImportKind.MARKETING_SPEND)
    monkeypatch.setattr(tasks.run_import, "delay", lambda job_id: None)
    client.force_login(ada)

    body = client.get(reverse("import_mapping", args=[job.pk])).content.decode()
    assert 'name="encoding"' not in body and 'name="delimiter"' not in body
    assert "An Excel workbook" in body
    assert [_selected(body, f"col_{name}") for name in ("channel", "month", "amount")] == ["Channel", "Month", "Spend"]
    response = client.post(reverse("import_preview", args=[job.pk]), {
        "col_channel": "Channel", "col_month": "Month", "col_amount": "Spend", "decimal_separator": ".",
        "date_order": "dmy"}, HTTP_HX_REQUEST="true")
    assert "1 of 2 rows valid" in response.content.decode()
    assert [row["ok"] for row in response.context["preview_rows"]] == [True, False]

    response = client.post(reverse("import_start", args=[job.pk]), {
        "col_channel": "Channel", "col_month": "Month", "col_amount": "Spend", "decimal_separator": ".",
        "date_order": "dmy"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    assert job.options == {"decimal_separator": ".", "date_order": "dmy"}
