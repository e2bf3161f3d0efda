"""Fixtures for the import tests: files written on the fly, uploads stored under a temporary MEDIA_ROOT."""

import csv
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Uploads and rejects files go to a per-test directory, never into the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    # The run's writer thread has its own connection, which can't see a test's uncommitted rows: tests load
    # in the calling thread (a transactional test turns the pipeline back on).
    settings.TIERWISE_IMPORT_PIPELINE = False


@pytest.fixture
def write_csv(tmp_path) -> Callable[..., Path]:  # type: ignore[no-untyped-def]
    """``write_csv(rows, name="x.csv", encoding="utf-8", delimiter=",")``: rows[0] is the header."""

    def write(rows: list[list[str]], name: str = "file.csv", encoding: str = "utf-8", delimiter: str = ",") -> Path:
        path = tmp_path / name
        with open(path, "w", encoding=encoding, newline="") as handle:
            csv.writer(handle, delimiter=delimiter).writerows(rows)
        return path

    return write
