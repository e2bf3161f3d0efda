"""Exports benchmark: time, rows/s and peak memory of the accounts export as CSV and XLSX at the book's size.

Run on PostgreSQL (it refuses SQLite), against a database the caller names:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierwise_bench DEBUG=1 \\
        .venv/bin/python benchmarks/exports.py --accounts 20000

It seeds the book with ``seed_demo`` when the database has fewer accounts than asked (``--reset`` to reseed)
and recomputes it if snapshots are missing. Then, as a logged-in admin through Django's test Client with DEBUG
off, it downloads ``/data/exports/accounts/?format=csv`` and ``?format=xlsx`` (``--runs`` times each, default 3,
best and median printed) and reads the whole response as a browser would. Separately it measures:

- the query alone (the dataset's rows iterated, nothing written), to split database time from formatting;
- peak Python memory of one download under ``tracemalloc`` (a separate run: tracing slows it down), next to
  the size of the file — flat memory means the export holds a chunk of rows, never the book;
- the same peak for the top tier only (a few % of the book), to show the peak does not grow with the rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ.setdefault("STATIC_MANIFEST", "0")
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from common import seed_book  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from crm.exports.datasets import accounts_dataset  # noqa: E402
from crm.models import Account  # noqa: E402
from crm.roles import Role  # noqa: E402
from profitability import services  # noqa: E402
from profitability.models import AccountSnapshot, BookSummary, Tier  # noqa: E402
from profitability.selectors.accounts import AccountFilters  # noqa: E402


def ensure_book(accounts: int, reset: bool) -> None:
    seed_book(accounts, reset)
    if BookSummary.objects.exists() and AccountSnapshot.objects.count() >= Account.objects.count():
        return
    print("Recomputing the book ...", flush=True)
    result = services.book_recompute()
    print(f"  {result.accounts:,} accounts in {result.seconds['total']:.1f} s", flush=True)


def admin_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="bench-exports-admin")
    user.groups.add(Group.objects.get(name=Role.ADMIN.value))
    client = Client()
    client.force_login(user)
    return client


def download(client: Client, params: dict) -> tuple[float, int]:
    """Seconds to the last byte, and the bytes received."""
    started = time.perf_counter()
    response = client.get("/data/exports/accounts/", params)
    assert response.status_code == 200, response.status_code
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    response.close()
    return time.perf_counter() - started, size


def traced_peak(client: Client, params: dict) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    download(client, params)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def mb(n: float) -> str:
    return f"{n / 1_048_576:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL: set DATABASE_URL.")
    ensure_book(args.accounts, args.reset)
    settings.DEBUG = False
    setup_test_environment()
    client = admin_client()
    rows = AccountSnapshot.objects.count()
    print(f"Book: {Account.objects.count():,} accounts, {rows:,} with figures; load {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min, {os.cpu_count()} cores)", flush=True)

    started = time.perf_counter()
    count = sum(1 for _row in accounts_dataset(filters=AccountFilters()).rows)
    query = time.perf_counter() - started
    print(f"query only (rows iterated, nothing written): {count:,} rows in {query:.2f} s = {count / query:,.0f} rows/s")

    top_tier = Tier.objects.order_by("position").first()
    subset = AccountSnapshot.objects.filter(tier=top_tier).count()
    for fmt in ("csv", "xlsx"):
        params = {"format": fmt, "owner": "all"}
        times, size = [], 0
        for _ in range(args.runs):
            seconds, size = download(client, params)
            times.append(seconds)
        best, median = min(times), statistics.median(times)
        peak = traced_peak(client, params)
        small = traced_peak(client, {**params, "tier": str(top_tier.pk)})
        print(f"{fmt.upper():4} {rows:,} rows: best {best:.2f} s ({rows / best:,.0f} rows/s), median {median:.2f} s; "
              f"{mb(size)} file; peak Python memory {mb(peak)} ({top_tier.name} only, {subset:,} rows: {mb(small)})",
              flush=True)


if __name__ == "__main__":
    main()
