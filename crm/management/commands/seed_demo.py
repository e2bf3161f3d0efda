"""``manage.py seed_demo``: a reproducible demo book with the shapes customer profitability is about.

Same ``--seed`` and ``--as-of`` give the same book (names, amounts, dates); the clock is read only for the
default ``--as-of`` (today, UTC). History covers the three years before ``--as-of``. Generation is
vectorised NumPy, one chunk of accounts at a time, so memory stays bounded; rows go out through
:func:`crm.bulk.copy_rows` (PostgreSQL COPY; ``bulk_create`` on SQLite). 100,000 accounts give about five
million interactions.

Every account follows one archetype (``ARCHETYPES`` holds the exact rates); rates are per 30 days while the
account is active, and money is net of volume discounts (5/10/15 % from 50/250/1,000 units) and the
account's negotiated discount.

==========  =====  =========================================================================================
archetype   share  behaviour
==========  =====  =========================================================================================
bulk        8 %    *Patricia*: 0.7 large orders (~€5,000, EDI, better/best tiers, 8–14 % negotiated), 2 % of
                   orders partly returned, 0.05 support calls + 0.12 e-mails, a visit every five months,
                   60-day terms paid on time, NPS ~8.6. Clearly profitable: half the book's profit.
needy       10 %   *Patrick*: 1.8 tiny orders (~€40, web/phone), 80 % of them partly returned (60–100 % of the
                   quantity, so returns exceed half the order value), 1.8 calls + 1 e-mail, complaints,
                   a quarter of invoices late, NPS ~5. Loyal for years and loss-making once order handling
                   (€25), shipping (€12), returns (€35), calls (€18) and e-mails (€8) are costed.
demanding   6 %    Big key accounts that lose money (Kaplan's other tail): ~€2,500 orders at 28–34 %
                   negotiated discount, field visits every other week, many calls, 90-day terms.
steady      28 %   Mid-size repeat buyers: 0.8 orders (~€850), few returns, some support. Profitable.
occasional  24 %   0.18 orders (~€650), mostly marketing touches and promotion responses. Marginal.
lapsed      8 %    Unhappy buyers who churned: ``status=churned`` with ``churned_on``, nothing after it;
                   returns and complaints above average, NPS ~5.
contract    13 %   ``relationship=contractual``: a ``renewal`` with revenue every month (60 %) or year
                   (40 %; the first is the new contract, +3 % a year), delivery cost 45 % of the fee; churn
                   drawn per period from a shifted-beta-geometric population (Fader & Hardie 2007).
prospect    3 %    ``status=prospect``, no acquisition date, only inquiries, marketing touches and visits.
==========  =====  =========================================================================================

With the default cost rates about a quarter of the accounts lose money and the whale curve peaks at ~130 %
of total profit. Non-contractual archetypes also churn at a small rate.

Orders and renewals are followed by a payment (``due_on`` = invoice date + terms; most on time, some late;
unpaid ones are still open at ``--as-of``).
Complaints are :class:`~crm.models.ServiceCase` rows of every severity and status, each with a
``complaint`` interaction carrying the case's helpdesk id and a calm, pressing or angry text scored by
:mod:`crm.text_scoring`; a current queue of open / in-progress / waiting cases (Patricia and Patrick
included) is added so the service pages have work. Surveys are NPS answers with a ``survey`` interaction.
Leads come in every stage, one won lead per customer on its acquisition channel, lost and open leads in
ratios that differ by channel; each channel has monthly spend at its own cost per acquisition (Referral
cheapest, Trade show dearest). Products come in five families of three or four good → better → best tiers
with margins that differ by family (Adhesives ~60 %, Packaging ~25 %).

Source systems: orders, returns, payments and renewals come from ``erp``, support and complaints from
``helpdesk``, promotion responses, marketing touches, surveys and leads from ``marketing``, visits and
inquiries were logged in Tierwise. Domains and e-mail addresses use the reserved ``.example`` TLD.

After commit the command sends :data:`~crm.signals.history_changed` once for the whole book (every account
is written with ``history_version`` 1) and :data:`~crm.signals.case_opened` once for the accounts with
unresolved cases, so the engines compute snapshots, tiers and SLA due times; without a broker they run in
the command itself.

The first two accounts are the catnip pair (DOMAIN.md): "Patricia Bulk Supplies Ltd" (bulk) and "Patrick
Small Parts & Co" (needy), both owned by ``manager``. Demo users (password ``tierwise-demo``): ``admin``,
``manager`` and ``manager2``–``manager4`` (account managers), ``service`` (service staff).

The code lives in :mod:`crm.demo`: ``vocabulary`` (catalogue, channels, names, archetypes and the other
constant tables), ``sampling`` (book time and random helpers), ``book`` (who the accounts are), ``events``
(what they did), ``leads`` (leads and spend), ``rows`` (columns formatted for COPY), ``users`` (the demo
users), ``load`` (writing it all, and emptying the CRM) and ``campaigns``; this module only parses the options,
runs the steps and reports.
"""

import time
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from crm.demo.campaigns import seed_after_ranking
from crm.demo.load import Seeded, book_analyze, book_held, book_reset, seed_book
from crm.demo.rows import case_texts
from crm.demo.sampling import Calendar
from crm.demo.users import DEMO_PASSWORD, DEMO_USERS
from crm.demo.vocabulary import PATRICIA, PATRICK
from crm.models import Account, ServiceCase
from crm.signals import case_opened, history_changed

# book_reset and case_texts are imported from here too (tests, benchmarks).
__all__ = ["Command", "book_reset", "case_texts"]


class Command(BaseCommand):
    help = "Seed a reproducible demo book (accounts, interactions, cases, surveys, leads, spend) and demo users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=300, help="Accounts to create (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed; same seed and --as-of, same book.")
        parser.add_argument("--as-of", help="Last day of history, YYYY-MM-DD (default: today, UTC).")
        parser.add_argument("--reset", action="store_true", help="Empty the CRM tables first.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the CRM already holds a book.")

    def handle(self, *args: Any, **options: Any) -> None:
        n, seed, reset, if_empty = options["accounts"], options["seed"], options["reset"], options["if_empty"]
        if n < 2:
            raise CommandError("--accounts must be at least 2 (the demo needs Patricia and Patrick).")
        if reset and if_empty:
            raise CommandError("--reset and --if-empty exclude each other.")
        as_of = self._as_of(options["as_of"])
        began = time.monotonic()
        with transaction.atomic():
            held = book_held()
            if any(held.values()):
                if if_empty:
                    self.stdout.write("book already seeded, skipping")
                    return
                if not reset:
                    what = ", ".join(f"{v:,} {k}" for k, v in held.items() if v)
                    raise CommandError(f"The CRM already holds a book ({what}). Pass --reset to replace it.")
            # An empty CRM is "reset" too: on PostgreSQL that restarts the ids, so the same seed gives the same
            # ids — and so the same campaign pilot, which is a stable hash of the campaign and account ids.
            book_reset()
            if reset:
                self._progress(began, "emptied the CRM tables")
            seeded = seed_book(n, seed, Calendar.ending(as_of), lambda message: self._progress(began, message))
        if connection.vendor == "postgresql":
            book_analyze()
            self._progress(began, "analyzed the tables")
        self._summary(seeded, as_of, seed, began)
        # Every seeded account was written with history_version = 1 and has no snapshot yet, so one
        # history_changed with the whole book (which the engine treats as a full recompute) replaces a
        # 100k-row version bump and 100k messages. It goes out after commit — and after ANALYZE, so the
        # recompute plans against fresh statistics. Without a broker the listeners run right here. Then,
        # as case_open would, case_opened for the accounts whose cases await an SLA (their due times).
        self.stdout.write(f"\nNotifying listeners that {len(seeded.account_ids):,} account histories changed.")
        transaction.on_commit(lambda: self._notify(seeded))

    def _notify(self, seeded: Seeded) -> None:
        history_changed.send(sender=Account, account_ids=seeded.account_ids)
        if seeded.open_case_account_ids:
            case_opened.send(sender=ServiceCase, account_ids=seeded.open_case_account_ids)
        # What needs the ranked book (clusters, the loyalty ledger, opportunities); without a broker the
        # listeners above have just ranked it, with one the step ranks it itself rather than wait.
        began = time.monotonic()
        seed_after_ranking(seed=seeded.seed, as_of=seeded.as_of, admin_id=seeded.admin_id,
                           seeded_at=seeded.seeded_at, progress=lambda message: self._progress(began, message))

    def _as_of(self, value: str | date | None) -> date:
        if value is None:
            return datetime.now(UTC).date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(f"--as-of must be a date YYYY-MM-DD, not {value!r}.") from exc

    def _progress(self, began: float, message: str) -> None:
        self.stdout.write(f"[{time.monotonic() - began:7.1f} s] {message}")

    def _summary(self, seeded: Seeded, as_of: date, seed: int, began: float) -> None:
        out = self.stdout
        out.write(f"\nSeeded the demo book as of {as_of} (seed {seed}) in {time.monotonic() - began:.1f} s:")
        for name, count in seeded.counts.items():
            out.write(f"  {name:<18} {count:>12,}")
        out.write("\nDemo logins (password for all: tierwise-demo):")
        out.write(f"  {'username':<10} {'role':<18} password")
        for user in DEMO_USERS:
            out.write(f"  {user.username:<10} {user.role.value:<18} {DEMO_PASSWORD}")
        out.write(f'\nThe catnip pair, both owned by manager: "{PATRICIA}" and "{PATRICK}".')
