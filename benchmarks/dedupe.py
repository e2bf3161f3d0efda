"""Duplicate-scan benchmark: how long finding candidates takes on a big book, and how many planted duplicates
it finds.

Run on PostgreSQL, against a database the caller names (it writes to it):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierwise_bench DEBUG=1 \\
        .venv/bin/python benchmarks/dedupe.py --accounts 100000 --duplicates 500

It seeds the book with ``seed_demo`` when the database has fewer accounts than asked, then plants
``--duplicates`` copies of random accounts the way a second source system would record them (name with or
without its legal form, a typo or other case; the web address written differently; the tax id with spaces or
without its country prefix; the phone in national format — each copy keeps some of these and blanks the rest).
It times a cold full scan (every account's keys computed), a warm full scan (keys stored), and an incremental
scan after 100 accounts changed, and prints recall (planted pairs found) and how many other pairs were
proposed. The planted accounts are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

from common import seed_book  # noqa: E402
from django.db import connection  # noqa: E402

from crm.dedupe import scan  # noqa: E402
from crm.models import Account, DuplicateCandidate  # noqa: E402
from crm.models_merge import AccountMatchKey  # noqa: E402

PLANTED = "bench-duplicate"


def variant(account: Account, rng: random.Random) -> Account:
    words = account.name.split()
    name = " ".join(words[:-1]) if len(words) > 2 and rng.random() < 0.5 else account.name  # drop the legal form
    roll = rng.random()
    if roll < 0.3:
        name = name.upper()
    elif roll < 0.5 and len(words[0]) > 4:
        i = rng.randrange(1, len(words[0]) - 1)
        name = name[:i] + name[i + 1:]  # a typo in the first word
    keep = rng.sample(["domain", "tax", "phone"], k=rng.choice([0, 1, 1, 2]))
    digits = account.tax_id[2:] if account.tax_id[:2].isalpha() else account.tax_id
    phone = account.phone.split(" ", 1)[-1]
    return Account(
        name=name, industry=account.industry, country=account.country, region=account.region,
        segment=PLANTED, owner_id=account.owner_id, status=account.status, churned_on=account.churned_on,
        web_domain=f"https://www.{account.web_domain}/contact" if "domain" in keep else "",
        tax_id=" ".join(digits[i:i + 3] for i in range(0, len(digits), 3)) if "tax" in keep else "",
        phone=f"0{phone}" if "phone" in keep else "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--duplicates", type=int, default=500)
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL (set DATABASE_URL).")
    seed_book(args.accounts, args.reset)

    rng = random.Random(7)
    Account.objects.filter(segment=PLANTED).delete()
    originals = list(Account.objects.order_by("?")[: args.duplicates])
    planted = {}
    for original in originals:
        copy = variant(original, rng)
        copy.save()
        planted[copy.pk] = original.pk
    DuplicateCandidate.objects.all().delete()
    AccountMatchKey.objects.all().delete()
    total = Account.objects.count()
    print(f"{total:,} accounts, {len(planted):,} planted duplicates", flush=True)

    cold = scan.candidates_find()
    print(f"cold full scan: {cold.seconds:.1f} s  {cold.as_dict()}", flush=True)
    warm = scan.candidates_find()
    print(f"warm full scan: {warm.seconds:.1f} s  {warm.as_dict()}", flush=True)

    found = {frozenset(p) for p in DuplicateCandidate.objects.values_list("low_id", "high_id")}
    wanted = {frozenset((a, b)) for a, b in planted.items()}
    hits = len(wanted & found)
    others = len(found - wanted)
    print(f"recall: {hits:,} of {len(wanted):,} planted pairs ({100 * hits / max(len(wanted), 1):.1f} %); "
          f"{others:,} other pairs proposed", flush=True)

    changed = list(Account.objects.exclude(segment=PLANTED).order_by("?")[:100])
    for account in changed:
        account.phone = f"+49 30 {rng.randrange(10**6, 10**7)}"
        account.save(update_fields=["phone"])
    incremental = scan.candidates_find(full=False)
    print(f"incremental scan after 100 changes: {incremental.seconds:.1f} s  {incremental.as_dict()}", flush=True)

    started = time.perf_counter()
    Account.objects.filter(segment=PLANTED).delete()
    print(f"planted accounts removed ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
