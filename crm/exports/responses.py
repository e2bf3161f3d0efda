"""Turning a dataset into a download: a streamed CSV or an XLSX file, named, uncached and audited."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import tzinfo
from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header

from .audit import export_logged
from .formats import Dataset, csv_chunks, xlsx_write
from .forms import ExportForm
from .registry import Export

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_filename(key: str, fmt: str) -> str:
    return f"tierwise-{key}-{timezone.localdate():%Y-%m-%d}.{fmt}"


class _Counted:
    """The rows, counted as they go by."""

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for row in self.rows:
            yield row
            self.count += 1


def _audited_csv(dataset: Dataset, *, tz: tzinfo, done: Callable[[int, bool], None]) -> Iterator[bytes]:
    """The CSV chunks; ``done(rows, complete)`` runs once at the end, or when the client goes away mid-way
    (the server closes the response's iterator, which lands in ``finally``)."""
    rows = _Counted(dataset.rows)
    complete = False
    try:
        yield from csv_chunks(dataset.columns, rows, tz=tz)
        complete = True
    finally:
        done(rows.count, complete)


def export_response(*, export: Export, form: ExportForm) -> HttpResponse:
    """The validated ``form``'s dataset as a download, and one audit record for it.

    CSV streams straight from the database cursor (nothing is held but a chunk of rows). XLSX is written to a
    temporary file first (a zip needs its parts before it can be sent) and that file is streamed.
    """
    fmt = form.cleaned_data["format"]
    dataset = export.build(form)
    tz = timezone.get_current_timezone()
    name = export_filename(export.key, fmt)

    def logged(rows: int, complete: bool) -> None:
        export_logged(user=form.user, dataset=export.key, fmt=fmt, filters=form.filters_for_audit(), rows=rows,
                      complete=complete)

    response: HttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(_audited_csv(dataset, tz=tz, done=logged), content_type=CONTENT_TYPES["csv"])
        response["Content-Disposition"] = content_disposition_header(True, name)
    else:
        target = tempfile.TemporaryFile(prefix="tierwise-export-")  # noqa: SIM115 (FileResponse closes it)
        try:
            rows = xlsx_write(dataset.columns, dataset.rows, target=target, tz=tz, title=export.title)
        except BaseException:
            target.close()
            raise
        logged(rows, True)
        target.seek(0)
        response = FileResponse(target, as_attachment=True, filename=name, content_type=CONTENT_TYPES["xlsx"])
    add_never_cache_headers(response)  # financial data: no copy in a shared or browser cache
    return response
