"""The import pages, for admins only: upload a file, map its columns with a live preview, start the run and
watch its progress, download the rejected rows.

Each page is one template; htmx requests get a named partial of the same template (the preview while
the mapping changes, the progress region while the job runs). The work itself is the engine's
(:mod:`crm.imports.services`) and the job's state changes are in :mod:`crm.imports.job_actions`.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models_imports import ImportJob
from crm.roles import Role, role_required

from . import job_actions, services
from .errors import ImportFileError, ImportLimitError
from .fields import FIELDS
from .forms import (
    COLUMN_PREFIX,
    DATE_ORDERS,
    DECIMAL_SEPARATORS,
    DELIMITERS,
    ENCODINGS,
    OPTION_NAMES,
    MappingForm,
    UploadForm,
)
from .mapping import suggest_columns
from .reading import detect_format, iter_records
from .validation import ROW

LIST = "crm/imports/list.html"
UPLOAD = "crm/imports/upload.html"
MAPPING = "crm/imports/mapping.html"
DETAIL = "crm/imports/detail.html"

PREVIEW_ROWS = 20
REJECTS_SHOWN = 50
KNOWN_OPTION_VALUES = {
    "encoding": {k for k, _ in ENCODINGS}, "delimiter": {k for k, _ in DELIMITERS},
    "decimal_separator": {k for k, _ in DECIMAL_SEPARATORS}, "date_order": {k for k, _ in DATE_ORDERS},
}


def _job(job_id: Any) -> ImportJob:
    return get_object_or_404(ImportJob.objects.select_related("created_by"), pk=job_id)


# --- list and upload -------------------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at")
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    return render(request, LIST, {"page": page, "jobs": page.object_list})


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            job = job_actions.import_job_create(
                upload=form.cleaned_data["file"], source_system=form.cleaned_data["source_system"],
                kind=form.cleaned_data["kind"], user=request.user)
            return redirect("import_mapping", job_id=job.pk)
        status = 422
    else:
        form = UploadForm(initial={"kind": request.GET.get("kind") or None,
                                   "source_system": request.GET.get("source", "")[:40]})
    context = {"form": form, "sources": job_actions.known_sources(), "kinds": _kinds_help(),
               "max_bytes": settings.TIERWISE_IMPORT_MAX_BYTES, "max_rows": settings.TIERWISE_IMPORT_MAX_ROWS}
    return render(request, UPLOAD, context, status=status)


def _kinds_help() -> list[dict]:
    from crm.models_imports import ImportKind

    return [{"value": kind.value, "label": kind.label, "fields": FIELDS.get(kind.value, [])} for kind in ImportKind]


# --- mapping and preview ---------------------------------------------------------------------------------


def _remembered(job: ImportJob) -> Any:
    return services.mapping_for(job.source_system, job.kind)


def _raw_options(data: QueryDict | None) -> dict[str, str]:
    """The parsing choices a request carries, only those with a value the pages offer."""
    if data is None:
        return {}
    return {name: data[name] for name in OPTION_NAMES if data.get(name) in KNOWN_OPTION_VALUES[name]}


def _mapping_context(job: ImportJob, *, data: QueryDict | None = None, for_start: bool = False) -> dict:
    """The mapping form (pre-filled from the remembered mapping or suggestions) and the preview of the
    first rows. Errors reading the file are shown, never raised."""
    remembered = _remembered(job)
    remembered_columns = dict(getattr(remembered, "columns", None) or {})
    remembered_options = dict(getattr(remembered, "options", None) or {})
    path = job.file.path
    file_error = ""
    overrides = _raw_options(data) if data is not None else {
        k: v for k, v in remembered_options.items() if k in OPTION_NAMES}
    try:
        fmt = detect_format(path, job.original_name, overrides)
    except (ImportFileError, ImportLimitError) as exc:
        file_error = str(exc)
        try:  # show what the file looks like without the choice that broke it
            fmt = detect_format(path, job.original_name, {})
        except (ImportFileError, ImportLimitError, FileNotFoundError):
            fmt = None
    except FileNotFoundError:
        file_error = "The uploaded file is no longer on the server: upload it again."
        fmt = None
    if fmt is None:
        return {"job": job, "form": None, "file_error": file_error, "preview": None, "remembered": remembered}

    headers = list(fmt.headers)
    suggested = suggest_columns(job.kind, headers, remembered_columns)
    detected = fmt.as_options()
    form_kwargs = {"kind": job.kind, "headers": headers, "is_xlsx": fmt.is_xlsx, "detected": detected,
                   "for_start": for_start}
    if data is None:
        form = MappingForm(initial=MappingForm.initial_for(columns=suggested, options=detected), **form_kwargs)
    else:
        # After a change of encoding or delimiter the headers differ: re-suggest the columns that vanished.
        data = data.copy()
        for spec in FIELDS[job.kind]:
            key = COLUMN_PREFIX + spec.name
            if data.get(key) and data[key] not in headers:
                data[key] = suggested.get(spec.name, "")
        for name, value in detected.items():
            data.setdefault(name, value)
        form = MappingForm(data, **form_kwargs)
        form.is_valid()  # for the errors next to the fields; the preview shows whatever is mapped

    preview = None
    raw_rows: list[tuple[int, list[str]]] = []
    missing = form.missing_required()
    try:
        if file_error:
            pass
        elif missing:
            # Rows can't be validated without their key fields: show the file as read, to map by its data.
            raw_rows = [(line, [record.get(h, "") for h in headers])
                        for line, record in islice(iter_records(path, fmt), PREVIEW_ROWS)]
        else:
            preview = services.import_preview(
                path=path, original_name=job.original_name, kind=job.kind, source_system=job.source_system,
                columns=form.columns(), options=form.options(), limit=PREVIEW_ROWS)
    except (ImportFileError, ImportLimitError) as exc:
        file_error = str(exc)
    mapped_specs = [spec for spec in FIELDS[job.kind] if spec.name in form.columns()]
    field_labels = {spec.name: spec.label for spec in FIELDS[job.kind]}
    return {
        "job": job, "form": form, "file_error": file_error, "preview": preview, "remembered": remembered,
        "summary": _preview_summary(preview), "missing": missing, "raw_rows": raw_rows, "headers": headers,
        "mapped_specs": mapped_specs,
        "preview_rows": _preview_table(preview, mapped_specs, field_labels) if preview is not None else [],
    }


def _preview_summary(preview: Any) -> dict | None:
    if preview is None:
        return None
    rows = list(preview.rows)
    valid = sum(1 for row in rows if not row.errors)
    return {"rows": len(rows), "valid": valid, "invalid": len(rows) - valid}


def _error_pairs(errors: Any) -> list[tuple[str, str]]:
    """A preview row's errors as ``(field, message)`` pairs, whichever shape the engine gives them."""
    if not errors:
        return []
    if isinstance(errors, dict):
        items = errors.items()
        return [(f or "", m) for f, ms in items for m in (ms if isinstance(ms, list | tuple) else [ms])]
    pairs = []
    for error in errors:
        if isinstance(error, tuple | list):
            pairs.append((error[0] or "", str(error[-1])))
        else:
            field = getattr(error, "field", "") or ""
            message = getattr(error, "reason", None) or getattr(error, "message", None) or str(error)
            pairs.append((field, str(message)))
    return pairs


def _preview_table(preview: Any, specs: list, labels: dict[str, str]) -> list[dict]:
    """Rows of the preview table: each mapped field's value with its errors in place, and the row's other
    errors (an unmapped required field, a whole-row problem) beside it."""
    names = {spec.name for spec in specs}
    labels = {**labels, ROW: "Whole row"}
    table = []
    for row in preview.rows:
        values = row.values
        if not isinstance(values, dict):
            values = dict(zip([s.name for s in specs], values, strict=False))
        pairs = _error_pairs(row.errors)
        cells = [{"spec": spec, "value": values.get(spec.name, ""),
                  "errors": [m for f, m in pairs if f == spec.name]} for spec in specs]
        table.append({"line": row.line, "cells": cells, "ok": not pairs,
                      "other_errors": [(labels.get(f, f), m) for f, m in pairs if f not in names]})
    return table


def _not_editable(request: HttpRequest, job: ImportJob) -> HttpResponse:
    messages.info(request, "This import has already started: its mapping can no longer change.")
    return redirect("import_detail", job_id=job.pk)


@role_required(Role.ADMIN)
@require_GET
def import_mapping(request: HttpRequest, job_id: Any) -> HttpResponse:
    job = _job(job_id)
    if job.status != ImportJob.Status.UPLOADED:
        return _not_editable(request, job)
    return render(request, MAPPING, _mapping_context(job))


@role_required(Role.ADMIN)
@require_POST
def import_preview(request: HttpRequest, job_id: Any) -> HttpResponse:
    """The mapping form and the preview for the submitted (unsaved) choices. Writes nothing."""
    job = _job(job_id)
    if job.status != ImportJob.Status.UPLOADED:
        return _not_editable(request, job)
    context = _mapping_context(job, data=request.POST)
    template = f"{MAPPING}#mapping-editor" if request.htmx else MAPPING
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@role_required(Role.ADMIN)
@require_POST
def import_start(request: HttpRequest, job_id: Any) -> HttpResponse:
    """Remember the mapping for this source and kind, queue the job, enqueue its run after commit."""
    job = _job(job_id)
    if job.status != ImportJob.Status.UPLOADED:
        return _not_editable(request, job)
    context = _mapping_context(job, data=request.POST, for_start=True)
    form = context["form"]
    if form is None or context["file_error"] or not form.is_valid():
        context["start_refused"] = True
        return render(request, MAPPING, context, status=422)
    if job_actions.import_job_start(job=job, columns=form.columns(), options=form.options(), user=request.user):
        messages.success(request, f"Import of {job.original_name} queued. The mapping is remembered for "
                                  f"{job.source_system} · {job.get_kind_display()}.")
    return redirect("import_detail", job_id=job.pk)


# --- progress, cancel, rejects -----------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_GET
def import_detail(request: HttpRequest, job_id: Any) -> HttpResponse:
    job = _job(job_id)
    finished = job.status in job_actions.FINISHED
    rejects = job_actions.job_rejects_head(job, REJECTS_SHOWN) if finished and job.rows_rejected else []
    context = {
        "job": job,
        "active": job.status in job_actions.ACTIVE,
        "finished": finished,
        # The rejects file names the failing columns as the file calls them; "(row)" is a whole-row problem.
        "rejects": [{"line": r.line, "field_label": "Whole row" if r.field == ROW else r.field, "reason": r.reason}
                    for r in rejects],
        "percent": _percent(job),
        # In the kind's field order (jsonb keeps its keys in its own order).
        "mapping_used": [(spec.label, (job.columns or {})[spec.name]) for spec in FIELDS.get(job.kind, [])
                         if (job.columns or {}).get(spec.name)],
    }
    template = f"{DETAIL}#job-status" if request.htmx and not request.htmx.history_restore_request else DETAIL
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    response["Cache-Control"] = "no-store"  # progress must never come from a cache
    return response


def _percent(job: ImportJob) -> int | None:
    if job.status == ImportJob.Status.DONE:
        return 100
    if not job.rows_total:
        return None
    return min(100, int(job.rows_processed * 100 / job.rows_total))


@role_required(Role.ADMIN)
@require_POST
def import_cancel(request: HttpRequest, job_id: Any) -> HttpResponse:
    job = _job(job_id)
    outcome = job_actions.import_job_cancel(job_id=job.pk)
    if outcome is job_actions.CancelOutcome.CANCELLED:
        messages.success(request, f"Import of {job.original_name} cancelled before it started: nothing was imported.")
    elif outcome is job_actions.CancelOutcome.REQUESTED:
        messages.success(request, "Cancelling: the import stops after the batch it is loading. Rows already "
                                  "loaded stay; the rejects so far can be downloaded.")
    else:
        messages.info(request, "This import is not running, so there is nothing to cancel.")
    return redirect("import_detail", job_id=job.pk)


@role_required(Role.ADMIN)
@require_GET
def import_rejects(request: HttpRequest, job_id: Any) -> FileResponse:
    """The rejected rows as CSV, through this role-checked view (MEDIA is never served directly)."""
    job = _job(job_id)
    if not job.rejects_file:
        raise Http404("This import has no rejected rows.")
    try:
        handle = job.rejects_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The rejects file is no longer on the server.") from exc
    name = f"{Path(job.original_name).stem or 'import'}-rejects.csv"
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="text/csv; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
