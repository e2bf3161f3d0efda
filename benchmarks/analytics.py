"""Analytics benchmark: the KPI dashboard's render time on a big book (the issue's bar: ≤ 300 ms at 100,000
accounts / 5,000,000 interactions), and what the nightly refresh costs.

Run on PostgreSQL (it refuses SQLite), against a database the caller names:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierwise_bench DEBUG=1 \\
        .venv/bin/python benchmarks/analytics.py --accounts 100000

It seeds the book with ``seed_demo`` when the database has fewer accounts than asked (``--reset`` to reseed),
recomputes the book if its snapshots are missing, retrains lead scoring and runs the analytics refresh
(timed), then renders ``/analytics/`` ``--renders`` times (default 30) through Django's test Client as a
logged-in admin, with DEBUG off, and prints p50 / p95 / max and the queries per render. The other analytics
pages are timed the same way (fewer renders) for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ.setdefault("STATIC_MANIFEST", "0")  # no collectstatic manifest needed to render {% static %}
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic output here

import django  # noqa: E402

django.setup()

from common import ms, percentile, seed_book  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from crm.models import Account, Interaction  # noqa: E402
from crm.roles import Role  # noqa: E402
from profitability import services  # noqa: E402
from profitability.lead_scoring import NotEnoughData, lead_scoring_train  # noqa: E402
from profitability.models import AccountSnapshot, BookSummary  # noqa: E402
from profitability.services_analytics import analytics_refresh  # noqa: E402

PAGES = [
    ("/analytics/whale-curve/", "whale curve"), ("/analytics/segments/", "segments"),
    ("/analytics/channels/", "channels"), ("/analytics/funnel/", "funnel"), ("/analytics/leads/", "lead scoring"),
    ("/analytics/kpi-check/", "KPI check"),
]


def ensure_book(accounts: int, reset: bool) -> None:
    seed_book(accounts, reset)
    if BookSummary.objects.exists() and AccountSnapshot.objects.count() >= Account.objects.count():
        return
    print("Recomputing the book ...", flush=True)
    result = services.book_recompute()
    print(f"  {result.accounts:,} accounts in {result.seconds['total']:.1f} s", flush=True)


def refresh() -> None:
    started = time.perf_counter()
    try:
        model = lead_scoring_train()
        value = model.metrics["value"]
        print(f"Lead scoring retrained in {time.perf_counter() - started:.1f} s: R² {value['r2']}, MAE "
              f"{value['mae']:,.0f} (mean-only baseline {value['baseline_mae']:,.0f}) on {model.holdout_size:,} "
              "held-out accounts", flush=True)
    except NotEnoughData as exc:
        print(f"Lead scoring not trained: {exc}")
    result = analytics_refresh()
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in result.seconds.items() if k != "total")
    print(f"Analytics refresh: {result.seconds['total']:.2f} s ({parts}); {result.months} months, "
          f"{result.funnel_rows} funnel rows, {result.leads_scored:,} leads scored", flush=True)


def admin_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="benchmark-admin", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=Role.ADMIN.value))
    client = Client()
    client.force_login(user)
    return client


def render(client: Client, url: str, renders: int) -> tuple[list[float], int]:
    for _ in range(3):  # warm caches, plans and the session write
        assert client.get(url).status_code == 200
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return times, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--reset", action="store_true", help="Reseed even if the book is big enough.")
    parser.add_argument("--skip-refresh", action="store_true", help="Use the aggregates already there.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL: set DATABASE_URL.")

    ensure_book(args.accounts, args.reset)
    if not args.skip_refresh:
        refresh()
    setup_test_environment(debug=False)  # production-like rendering: no template debug, no query log
    client = admin_client()
    print(f"\nBook: {Account.objects.count():,} accounts, {Interaction.objects.count():,} interactions")

    times, queries = render(client, "/analytics/", args.renders)
    verdict = "within" if percentile(times, 95) <= 0.300 else "OVER"
    print(f"KPI dashboard, {args.renders} renders: p50 {ms(percentile(times, 50))}, p95 {ms(percentile(times, 95))}, "
          f"max {ms(max(times))}, mean {ms(statistics.mean(times))}; {queries} queries — {verdict} the 300 ms bar")
    for url, label in PAGES:
        times, queries = render(client, url, max(args.renders // 3, 5))
        print(f"  {label:<13} p50 {ms(percentile(times, 50))}, p95 {ms(percentile(times, 95))}; {queries} queries")


if __name__ == "__main__":
    main()
