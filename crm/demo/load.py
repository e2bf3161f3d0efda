"""Loading the demo book into the CRM: the products and channels through the ORM, the generated book through
:func:`crm.bulk.copy_rows` (PostgreSQL COPY; ``bulk_create`` on SQLite), and emptying the CRM before a new book.

Every chunk of accounts draws from its own stream (``[seed, 100, chunk]``) and every other part of the book from
its own (``[seed, 1]`` … ``[seed, 7]``), so the same seed gives the same book whatever came before.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from django.db import connection

from crm.bulk import copy_rows, foreign_keys_checked_at_end, indexes_built_at_end, reserve_ids
from crm.demo.book import Book, company_names, generate_book
from crm.demo.campaigns import campaigns_reset, seed_in_book
from crm.demo.events import Catalogue, generate_activity
from crm.demo.leads import generate_leads, generate_spend
from crm.demo.rows import (
    ACCOUNT_FIELDS,
    CASE_FIELDS,
    CONTACT_FIELDS,
    INTERACTION_FIELDS,
    LEAD_FIELDS,
    SURVEY_FIELDS,
    Ids,
    account_rows,
    case_rows,
    contact_rows,
    interaction_rows,
    lead_rows,
    spend_rows,
    survey_rows,
)
from crm.demo.sampling import Array, Calendar
from crm.demo.users import demo_users_ensure
from crm.demo.vocabulary import CATALOGUE, CHANNEL_NAMES, FAMILIES, PATRICIA, PATRICK
from crm.models import (
    Account,
    AccountSourceId,
    Channel,
    Contact,
    Interaction,
    Lead,
    MarketingSpend,
    Product,
    ServiceCase,
    SurveyResponse,
)

CHUNK_ACCOUNTS = 5_000

Progress = Callable[[str], None]  # reports a step of the load


# --- Reference rows -----------------------------------------------------------------------------------


def catalogue_ensure() -> tuple[Array, Array]:
    """Products and channels through the ORM (a few dozen rows): ids by catalogue / channel index."""
    products = []
    for family in FAMILIES:
        rows = [row for row in CATALOGUE if row[0] == family]
        for tier, (_, sku, name, price, cost) in enumerate(rows, start=1):
            product, _ = Product.objects.update_or_create(
                sku=sku,
                defaults={
                    "name": name,
                    "family": family,
                    "tier_in_family": tier,
                    "list_price": price,
                    "unit_cost": cost,
                },
            )
            products.append(product.pk)
    channels = [Channel.objects.get_or_create(name=name)[0].pk for name in CHANNEL_NAMES]
    return np.array(products), np.array(channels)


# --- Reset ----------------------------------------------------------------------------------------------

BOOK_MODELS = (
    Interaction, ServiceCase, SurveyResponse, Lead, MarketingSpend, Contact, AccountSourceId, Account, Product, Channel,
)  # fmt: skip


# The tables written by COPY (everything but users, products and channels).
LOADED_MODELS = (Account, AccountSourceId, Contact, Interaction, ServiceCase, SurveyResponse, Lead, MarketingSpend)


def book_held() -> dict[str, int]:
    """What the CRM already holds of a book (a half-empty CRM counts: its ids would collide)."""
    return {
        "accounts": Account.objects.count(),
        "leads": Lead.objects.count(),
        "spend rows": MarketingSpend.objects.count(),
    }


def book_reset() -> None:
    """Empty the CRM tables (and, through the cascade, whatever the engines derived from them) and every
    campaigns record (programs, segments and campaigns are made for the book they describe)."""
    campaigns_reset()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tables = ", ".join(quote(m._meta.db_table) for m in BOOK_MODELS)
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            return
        # One statement, so the per-interaction history signals don't fire thousands of times: the seed
        # sends history_changed once for the new book.
        cursor.execute(f"DELETE FROM {quote(Interaction._meta.db_table)}")  # noqa: S608 - name from _meta
    for model in BOOK_MODELS[1:]:
        model.objects.all().delete()


def book_analyze() -> None:
    """Refresh the planner statistics of the book's tables (PostgreSQL) after a load."""
    with connection.cursor() as cursor:
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in BOOK_MODELS)
        cursor.execute(f"ANALYZE {tables}")


# --- Seeding --------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    account_ids: list[int]
    open_case_account_ids: list[int]  # accounts with a case not yet resolved
    counts: dict[str, int]
    seed: int = 0
    as_of: date | None = None
    admin_id: int | None = None
    seeded_at: datetime | None = None


def seed_book(n: int, seed: int, cal: Calendar, progress: Progress) -> Seeded:
    seeded_at = datetime.now(UTC)  # rankings made after this one rank the new book
    users = demo_users_ensure()
    product_ids, channel_ids = catalogue_ensure()
    book = generate_book(np.random.default_rng([seed, 1]), n, cal)
    names, domains = company_names(np.random.default_rng([seed, 2]), book.country, book.industry)
    names[:2] = [PATRICIA, PATRICK]
    domains[:2] = ["patricia-bulk-supplies-gb.example", "patrick-small-parts-gb.example"]
    contact_count = np.random.default_rng([seed, 3]).integers(1, 4, n)
    contact_count[:2] = (3, 1)
    ids = Ids(
        accounts=np.array(reserve_ids(Account, n)),
        contacts=np.array(reserve_ids(Contact, int(contact_count.sum()))),
        contact_start=np.cumsum(contact_count) - contact_count,
        contact_count=contact_count,
        products=product_ids,
        channels=channel_ids,
        managers=np.array([users[u] for u in ("manager", "manager2", "manager3", "manager4")]),
        service=users["service"],
    )
    counts = {"users": len(users), "products": len(product_ids), "channels": len(channel_ids)}
    # The tables are empty (a book is only seeded into an empty CRM), so build their indexes and check
    # their foreign keys once after the load instead of row by row: about twice as fast at 100k accounts.
    with foreign_keys_checked_at_end(*LOADED_MODELS), indexes_built_at_end(*LOADED_MODELS):
        counts |= load_book(book, names, domains, ids, cal, seed, progress)
    progress("built the indexes and checked the foreign keys")
    counts |= seed_in_book(seed=seed, as_of=cal.start + timedelta(days=cal.days), admin_id=users["admin"],
                           progress=progress)
    open_cases = ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED).values_list(
        "account_id", flat=True
    )
    return Seeded(account_ids=ids.accounts.tolist(), open_case_account_ids=sorted(set(open_cases)), counts=counts,
                  seed=seed, as_of=cal.start + timedelta(days=cal.days), admin_id=users["admin"],
                  seeded_at=seeded_at)


def load_book(
    book: Book, names: list[str], domains: list[str], ids: Ids, cal: Calendar, seed: int, progress: Progress
) -> dict[str, int]:
    counts = {}
    details = np.random.default_rng([seed, 4])
    counts["accounts"] = copy_rows(Account, ACCOUNT_FIELDS, account_rows(book, names, domains, ids, cal, details))
    counts["source ids"] = copy_rows(
        AccountSourceId,
        ["account_id", "source_system", "external_id"],
        ((int(a), "erp", f"C{i + 1:07d}") for i, a in enumerate(ids.accounts)),
    )
    counts["contacts"] = copy_rows(Contact, CONTACT_FIELDS, contact_rows(book, domains, ids, details))
    progress(f"{counts['accounts']:,} accounts, {counts['contacts']:,} contacts")

    counts |= load_activity(book, ids, cal, seed, progress)

    leads = generate_leads(np.random.default_rng([seed, 5]), book, cal)
    won = leads.account >= 0
    other_names, _ = company_names(
        np.random.default_rng([seed, 6]), leads.country[~won], leads.industry[~won], taken=names
    )
    company = [names[a] for a in leads.account[won].tolist()] + other_names
    counts["leads"] = copy_rows(Lead, LEAD_FIELDS, lead_rows(leads, company, ids, cal))
    channel, month, cents = generate_spend(np.random.default_rng([seed, 7]), book, cal)
    counts["spend rows"] = copy_rows(
        MarketingSpend, ["channel_id", "period", "amount"], spend_rows(channel, month, cents, ids, cal)
    )
    progress(f"{counts['leads']:,} leads, {counts['spend rows']:,} monthly spend rows")
    return counts


def load_activity(book: Book, ids: Ids, cal: Calendar, seed: int, progress: Progress) -> dict[str, int]:
    """Interactions, cases and surveys, one chunk of accounts at a time (bounded memory)."""
    cat = Catalogue.build()
    counts = {"interactions": 0, "service cases": 0, "survey responses": 0}
    for chunk, lo in enumerate(range(0, len(book), CHUNK_ACCOUNTS)):
        hi = min(lo + CHUNK_ACCOUNTS, len(book))
        part = book.take(slice(lo, hi))
        rng = np.random.default_rng([seed, 100, chunk])  # per-chunk stream: same book whatever came before
        named = (0, 1) if lo == 0 else ()  # Patricia and Patrick always have a case open
        activity = generate_activity(
            rng, part, cat, cal, counts["service cases"] + 1, counts["survey responses"] + 1, named
        )
        counts["interactions"] += copy_rows(
            Interaction,
            INTERACTION_FIELDS,
            interaction_rows(activity.events, cal, ids, part, lo, counts["interactions"] + 1),
        )
        counts["service cases"] += copy_rows(ServiceCase, CASE_FIELDS, case_rows(activity.cases, cal, ids, lo))
        counts["survey responses"] += copy_rows(
            SurveyResponse, SURVEY_FIELDS, survey_rows(activity.surveys, cal, ids, lo)
        )
        progress(f"activity of {hi:,}/{len(book):,} accounts: {counts['interactions']:,} interactions")
    return counts
