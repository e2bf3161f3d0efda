"""Import benchmark: 1,000,000 interaction rows from a CSV file through the real import path.

Run on PostgreSQL (it refuses SQLite), in a database of its own — it writes accounts, products and
interactions under the source system ``bench`` (``--reset`` empties the CRM tables first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierwise_bench DEBUG=1 \\
        .venv/bin/python benchmarks/import_interactions.py --rows 1000000 --accounts 10000

It migrates the database, imports ``--accounts`` accounts (itself an import, timed), writes a CSV of
``--rows`` interactions (orders, returns, payments, support tickets, visits; decimal commas and German
dates, so the parsing is real work) to a temporary directory, then times ``crm.imports.services.import_file``
twice: the first run creates every row, the second (the same file again) finds every row unchanged.
Prints rows/s, seconds, the process's peak RSS and the load average measured under. The engines'
listeners of ``history_changed`` are disconnected for the timing (their recompute is not the import's
work); the script reports how many accounts the one signal named.

On a shared machine wall-clock seconds say little, so each import also prints what it cost in CPU: the
Python process (user + system), and — when PostgreSQL runs on this host, read from ``/proc`` — the
database's backends of this database plus the server's shared helpers (WAL writer, checkpointer,
background writer, autovacuum). And where the time went: the run's own per-phase timers (reading,
validating, waiting for the database in the reading thread; COPY, resolve, upsert, commit in the writing
thread), logged by :mod:`crm.imports.services` at the end of every run.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from crm.imports.services import import_file  # noqa: E402
from crm.models import Account, Interaction, Product  # noqa: E402
from crm.signals import history_changed  # noqa: E402

SOURCE = "bench"
KINDS = [("Order", 50), ("Payment", 25), ("Return", 5), ("Support ticket", 12), ("Call", 3), ("Visit", 5)]


class PhaseLog(logging.Handler):
    """Keeps the per-phase timers of the last finished import run (logged by crm.imports.services)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.phases: dict | None = None

    def emit(self, record: logging.LogRecord) -> None:
        phases = getattr(record, "import_phases", None)
        if phases is not None:
            self.phases = phases


class ServerCpu:
    """CPU seconds of PostgreSQL's processes on this host while a block runs, sampled from /proc.

    Backends connected to ``database`` are counted as this import's; the shared helpers (WAL writer,
    checkpointer, background writer, autovacuum workers) separately, since other databases use them too.
    A backend that exits is counted up to its last sample (every 0.2 s).
    """

    TICK = os.sysconf("SC_CLK_TCK")
    SHARED = ("walwriter", "checkpointer", "background writer", "autovacuum")

    def __init__(self, database: str) -> None:
        self.database = database
        self.start: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.stop = threading.Event()

    @classmethod
    def available(cls) -> bool:
        return Path("/proc/self/stat").exists()

    def _sample(self) -> dict[int, tuple[str, float]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                if not title.startswith("postgres:"):
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (title, (int(fields[11]) + int(fields[12])) / self.TICK)
        return found

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.last.update(self._sample())

    def __enter__(self) -> ServerCpu:
        self.start = {pid: cpu for pid, (_, cpu) in self._sample().items()}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.last.update(self._sample())
        self.stop.set()
        self.thread.join()

    def seconds(self) -> tuple[float, float]:
        """(this database's backends, the shared helpers)."""
        own = shared = 0.0
        for pid, (title, cpu) in self.last.items():
            spent = cpu - self.start.get(pid, 0.0)
            words = title.split()
            if self.database in words and "autovacuum" not in title:
                own += spent
            elif any(name in title for name in self.SHARED):
                shared += spent
        return own, shared


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def write_accounts(path: Path, accounts: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Customer ID", "Company", "Country", "Industry", "Customer since"])
        for i in range(accounts):
            out.writerow([f"C{i:06d}", f"Bench customer {i}", "DE", "Manufacturing", "2023-01-15"])


def write_interactions(path: Path, rows: int, accounts: int, skus: list[str], seed: int) -> None:
    rng = random.Random(seed)
    kinds = [k for k, weight in KINDS for _ in range(weight)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["Beleg", "Kunde", "Typ", "Datum", "Betrag", "Menge", "Artikel", "Kanal", "Notiz"])
        for i in range(rows):
            kind = rng.choice(kinds)
            goods = kind in ("Order", "Return")
            money = kind in ("Order", "Return", "Payment")
            day, month, hour = rng.randint(1, 28), rng.randint(1, 12), rng.randint(7, 18)
            out.writerow([
                f"D{i:08d}", f"C{rng.randrange(accounts):06d}", kind, f"{day:02d}.{month:02d}.2024 {hour:02d}:15",
                f"{rng.randint(10, 500_000) / 100:.2f}".replace(".", ",") if money else "",
                rng.randint(1, 50) if goods else "", rng.choice(skus) if goods else "",
                rng.choice(["EDI", "Web", "Phone", "E-mail"]),
                "Bench row" if i % 10 == 0 else "",
            ])


PHASES = PhaseLog()


def python_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_import(path: Path, kind: str) -> tuple[float, object, str]:
    """Run one import; return its seconds, the finished job and a line of CPU figures."""
    database = str(connection.settings_dict["NAME"])
    local = ServerCpu.available() and connection.settings_dict.get("HOST") in ("", "localhost", "127.0.0.1", "::1")
    server = ServerCpu(database) if local else None
    cpu = python_cpu()
    started = time.perf_counter()
    if server:
        with server:
            job = import_file(path=path, original_name=path.name, source_system=SOURCE, kind=kind)
    else:
        job = import_file(path=path, original_name=path.name, source_system=SOURCE, kind=kind)
    seconds = time.perf_counter() - started
    figures = f"CPU: Python process {python_cpu() - cpu:.1f} s"
    if server:
        own, shared = server.seconds()
        figures += f", PostgreSQL backends of {database} {own:.1f} s, server's shared helpers {shared:.1f} s"
    return seconds, job, figures


def report(label: str, seconds: float, job, cpu: str) -> None:  # type: ignore[no-untyped-def]
    rate = job.rows_processed / seconds if seconds else 0
    print(f"{label}: {job.rows_processed:,} rows in {seconds:.1f} s = {rate:,.0f} rows/s — "
          f"{job.rows_created:,} created, {job.rows_updated:,} updated, {job.rows_unchanged:,} unchanged, "
          f"{job.rows_rejected:,} rejected ({job.status}{': ' + job.error if job.error else ''}); "
          f"peak RSS so far {peak_rss_mb():.0f} MB; {load()}", flush=True)
    print(f"  {cpu}", flush=True)
    if PHASES.phases:
        for thread, phases in PHASES.phases.items():
            items = ", ".join(f"{name} {spent:.1f}" for name, spent in phases.seconds.items())
            print(f"  {thread} thread (s): {items}; thread CPU {phases.cpu:.1f}", flush=True)
        PHASES.phases = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reset", action="store_true", help="Empty the CRM tables first.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The import benchmark runs on PostgreSQL: set DATABASE_URL.")
    services_log = logging.getLogger("crm.imports.services")
    services_log.addHandler(PHASES)
    services_log.setLevel(logging.INFO)
    services_log.propagate = False  # printed below, laid out; not a second time by the console handler
    call_command("migrate", verbosity=0)
    if args.reset:
        from crm.management.commands.seed_demo import book_reset

        book_reset()
    print(f"Start: peak RSS {peak_rss_mb():.0f} MB; {load()}", flush=True)
    skus = [f"BENCH-{n:02d}" for n in range(20)]
    for n, sku in enumerate(skus):
        Product.objects.get_or_create(sku=sku, defaults={
            "name": f"Bench product {n}", "family": "Bench", "list_price": 20 + n, "unit_cost": 12 + n})
    with connection.cursor() as cursor:  # raw: an ORM delete would send a signal per interaction
        cursor.execute("DELETE FROM crm_interaction WHERE source_system = %s", [SOURCE])
    notified: list[int] = []
    saved = history_changed.receivers
    history_changed.receivers = []
    history_changed.connect(lambda sender, account_ids, **kw: notified.append(len(account_ids)), weak=False)
    try:
        with tempfile.TemporaryDirectory() as directory:
            settings.MEDIA_ROOT = Path(directory, "media")  # the job's copy of the file goes here, not media/
            accounts_csv, interactions_csv = Path(directory, "accounts.csv"), Path(directory, "interactions.csv")
            write_accounts(accounts_csv, args.accounts)
            seconds, job, cpu = timed_import(accounts_csv, "accounts")
            report(f"Accounts import ({args.accounts:,})", seconds, job, cpu)
            started = time.perf_counter()
            write_interactions(interactions_csv, args.rows, args.accounts, skus, args.seed)
            size = interactions_csv.stat().st_size
            print(f"Wrote {args.rows:,} interaction rows ({size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            notified.clear()
            seconds, job, cpu = timed_import(interactions_csv, "interactions")
            report("First import (all new)", seconds, job, cpu)
            print(f"  history_changed sent {len(notified)} time(s), naming {sum(notified):,} accounts", flush=True)
            seconds, job, cpu = timed_import(interactions_csv, "interactions")
            report("Second import (same file: all unchanged)", seconds, job, cpu)
            print(f"Interactions from '{SOURCE}' in the database: "
                  f"{Interaction.objects.filter(source_system=SOURCE).count():,}; "
                  f"accounts: {Account.objects.count():,}", flush=True)
    finally:
        history_changed.receivers = saved
        history_changed.sender_receivers_cache.clear()


if __name__ == "__main__":
    main()
