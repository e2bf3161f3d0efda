"""Downloading an export through the test client and reading it back."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
from django.urls import reverse


def download(client, dataset: str, **params: Any):  # type: ignore[no-untyped-def]
    return client.get(reverse("export_download", args=[dataset]), params)


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(client, dataset: str, **params: Any) -> list[list[str]]:  # type: ignore[no-untyped-def]
    response = download(client, dataset, format="csv", **params)
    assert response.status_code == 200, response.content[:500]
    data = body(response).decode("utf-8")
    assert data.startswith("\ufeff")
    return list(csv.reader(io.StringIO(data[1:])))


def xlsx_sheet(client, dataset: str, **params: Any):  # type: ignore[no-untyped-def]
    response = download(client, dataset, format="xlsx", **params)
    assert response.status_code == 200, response.content[:500]
    return openpyxl.load_workbook(io.BytesIO(body(response))).active


def xlsx_rows(client, dataset: str, **params: Any) -> list[list[Any]]:  # type: ignore[no-untyped-def]
    return [[c.value for c in row] for row in xlsx_sheet(client, dataset, **params).iter_rows()]


def as_dicts(rows: list[list[Any]]) -> list[dict[str, Any]]:
    header, *data = rows
    return [dict(zip(header, row, strict=True)) for row in data]
