"""Helpers the benchmark scripts share (they run with Django already set up)."""

import time


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(pct / 100 * (len(ordered) - 1))), len(ordered) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def seed_book(accounts: int, reset: bool) -> None:
    """Seed a demo book of ``accounts`` accounts unless the database already has that many (or ``reset``)."""
    from django.core.management import call_command

    from crm.models import Account

    have = Account.objects.count()
    if reset or have < accounts:
        print(f"Seeding {accounts:,} accounts (have {have:,}) ...", flush=True)
        started = time.perf_counter()
        call_command("seed_demo", accounts=accounts, reset=True, seed=42)
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
