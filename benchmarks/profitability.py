"""Profitability-engine benchmark: prints the figures the README's performance section quotes.

Run on PostgreSQL + Redis (it refuses SQLite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierwise_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        DEBUG=1 .venv/bin/python benchmarks/profitability.py --accounts 100000

It seeds the book with ``seed_demo`` when the database has fewer accounts than asked (--reset to reseed),
then measures:
1. the full recompute against a bare ``SELECT account_id, sum(amount) ... GROUP BY account_id``, both as a
   nightly run (a new as-of date: every snapshot changes) and as a same-day rerun (unchanged snapshots are
   not rewritten);
2. one-account recompute p50/p95 for an account with 10,000 interactions;
3. interaction committed → snapshot updated by a real Celery worker over Redis, p50/p95 over 200 writes
   spread over 50 accounts, with the recommended workers: one on the ``recompute`` queue, one on the rest.
The BG/NBD + Gamma-Gamma fit against the ``lifetimes`` package is ``benchmarks/clv_fit.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Measured as production runs: DEBUG=1 only spares the benchmark the production settings checks, and its
# per-query log would add its own overhead to every millisecond figure.
settings.DEBUG = False

from common import ms, percentile, seed_book  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.bulk import copy_rows  # noqa: E402
from crm.models import Account, Interaction  # noqa: E402
from crm.services import account_history_touch  # noqa: E402
from profitability import services  # noqa: E402
from profitability.models import AccountSnapshot  # noqa: E402


def bare_group_by() -> float:
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SELECT account_id, sum(amount) FROM crm_interaction GROUP BY account_id")
        cursor.fetchall()
        return time.perf_counter() - started


def full_recompute() -> None:
    """Nightly-style recomputes (a new as-of date, so every snapshot changes) and a same-day rerun."""
    interactions = Interaction.objects.count()
    accounts = Account.objects.count()
    print(f"\n1. Full recompute — {accounts:,} accounts, {interactions:,} interactions  [{load()}]")
    bare = min(bare_group_by() for _ in range(3))
    print(f"   bare GROUP BY account_id (best of 3): {bare:.2f} s")
    today = timezone.now()
    services.book_recompute(now=today - timedelta(days=3))  # warm: fits the CLV models if there are none yet
    nightly = [services.book_recompute(now=today - timedelta(days=days)).seconds for days in (2, 1)]
    rerun = services.book_recompute(now=today - timedelta(days=1) + timedelta(minutes=1)).seconds
    bare_after = min(bare_group_by() for _ in range(2))
    print(f"   bare GROUP BY again after the recomputes (best of 2): {bare_after:.2f} s")
    bare = min(bare, bare_after)
    for label, seconds in (("every snapshot changed (best of 2)", min(nightly, key=lambda s: s["total"])),
                           ("same-day rerun, nothing changed", rerun)):
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items() if k != "total")
        print(f"   full recompute, {label}: {seconds['total']:.2f} s = {seconds['total'] / bare:.1f}× the bare "
              f"GROUP BY  ({parts}; aggregate alone {seconds['aggregate'] / bare:.1f}×)")
    print(f"   [{load()}]")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def big_account(interactions: int = 10_000) -> Account:
    """An account with exactly ``interactions`` interactions, made once and reused."""
    account, created = Account.objects.get_or_create(name="Benchmark Heavy Buyer AG", defaults={"industry": "Retail"})
    have = Interaction.objects.filter(account=account).count()
    if have < interactions:
        now = timezone.now()
        kinds = ["order", "order", "order", "return", "support_call", "support_email", "payment", "visit"]
        rows = (
            (account.pk, kinds[i % len(kinds)], "web", now - timedelta(hours=i), Decimal("120.00"),
             Decimal("70.00"), 3, "", "bench", f"heavy-{account.pk}-{i}", now, now)
            for i in range(have, interactions)
        )
        copy_rows(Interaction, ["account_id", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity",
                                "note", "source_system", "external_id", "created_at", "updated_at"], rows)
        account_history_touch(account_ids=[account.pk])
    return account


def single_account(samples: int = 200) -> None:
    account = big_account()
    n = Interaction.objects.filter(account=account).count()
    print(f"\n2. One-account recompute — an account with {n:,} interactions, {samples} runs  [{load()}]")
    services.snapshot_recompute(account_id=account.pk)  # warm caches and plans (and roll the account up)
    times = []
    for _ in range(samples):
        # As after a real change, each run computes and writes a new history version (no recompute is queued).
        with connection.cursor() as cursor:
            cursor.execute("UPDATE crm_account SET history_version = history_version + 1 WHERE id = %s", [account.pk])
        started = time.perf_counter()
        result = services.snapshot_recompute(account_id=account.pk)
        times.append(time.perf_counter() - started)
        assert result.written
    print(f"   p50 {ms(percentile(times, 50))}, p95 {ms(percentile(times, 95))}, max {ms(max(times))}  [{load()}]")


def start_workers() -> list[subprocess.Popen]:
    """The deployment the README recommends: one worker for per-account recomputes (queue ``recompute``) and one
    for everything else (opportunities, loyalty accrual and other follow-ups of each write)."""
    log = open("/tmp/tierwise-bench-worker.log", "w")  # noqa: SIM115
    env = {**os.environ, "DB_POOL": "0"}
    workers = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/celery"), "-A", "crm", "worker", "-Q", queue, "-n", f"{queue}@%h",
             "--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        for queue in ("recompute", "celery")
    ]
    from crm.celery import app

    deadline = time.time() + 30
    while time.time() < deadline:
        if len(app.control.ping(timeout=0.5)) == len(workers):
            return workers
    for worker in workers:
        worker.kill()
    raise RuntimeError("the Celery workers did not start; see /tmp/tierwise-bench-worker.log")


def end_to_end(writes: int = 200, accounts: int = 50) -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        print("\n3. End to end: skipped — set REDIS_URL so a real worker is used")
        return
    print(f"\n3. End to end — interaction committed → snapshot updated by a real worker, {writes} writes over "
          f"{accounts} accounts")
    ids = list(Account.objects.filter(status="active").exclude(name__startswith="Benchmark")
               .order_by("id").values_list("id", flat=True)[:accounts])
    workers = start_workers()
    latencies = []
    try:
        for i in range(writes):
            account_id = ids[i % len(ids)]
            started = time.perf_counter()
            Interaction.objects.create(account_id=account_id, kind="order", channel="web", occurred_at=timezone.now(),
                                       amount=Decimal("99.00"), direct_cost=Decimal("50.00"), source_system="bench")
            target = Account.objects.values_list("history_version", flat=True).get(pk=account_id)
            while True:
                done = AccountSnapshot.objects.filter(account_id=account_id, computed_version__gte=target).exists()
                if done:
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"snapshot of account {account_id} not updated within 30 s")
                time.sleep(0.001)
            latencies.append(time.perf_counter() - started)
    finally:
        for worker in workers:
            os.killpg(worker.pid, 15)
        for worker in workers:
            worker.wait(timeout=30)
    print(f"   p50 {ms(percentile(latencies, 50))}, p95 {ms(percentile(latencies, 95))}, "
          f"mean {ms(statistics.mean(latencies))}  [{load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--reset", action="store_true", help="reseed even if the book is big enough")
    parser.add_argument("--skip", nargs="*", default=[], choices=["full", "single", "e2e"])
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL: set DATABASE_URL.")
    print(f"Machine: {os.cpu_count()} cores; PostgreSQL {connection.cursor().connection.info.server_version}; "
          f"{load()}")
    seed_book(args.accounts, args.reset)
    if "full" not in args.skip:
        full_recompute()
    if "single" not in args.skip:
        single_account()
    if "e2e" not in args.skip:
        end_to_end()


if __name__ == "__main__":
    main()
