"""Rows for COPY: the generated columns turned into rows of values, a slice at a time, for
:func:`crm.bulk.copy_rows`; with the field list each kind of row matches and the database ids the rows refer to."""

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.text import slugify

from crm.demo.book import Book
from crm.demo.events import Cases, Events, Surveys
from crm.demo.leads import NEVER, Leads
from crm.demo.sampling import Array, Calendar, Rng
from crm.demo.vocabulary import (
    BANDS,
    CASE_BODIES,
    CASE_PREFIX,
    CASE_STATUSES,
    CASE_SUBJECTS,
    CHANNEL_VALUES,
    COUNTRIES,
    FIRST_NAMES,
    INDUSTRIES,
    KINDS,
    LAST_NAMES,
    NOTES,
    OPEN,
    OTHER_ROLES,
    OWNER,
    PREFIX_OF_KIND,
    PROSPECT,
    SEGMENT_ROLES,
    SEGMENTS,
    SERVICE,
    SEVERITIES,
    SOURCE_OF_KIND,
    SURVEY_COMMENTS,
    SURVEY_PREFIX,
)
from crm.models import Lead
from crm.text_scoring import TextScore, score_case_text

# --- Formatting for COPY (vectorised text; see crm.bulk.copy_rows) -------------------------------------

ROW_SLICE = 50_000  # rows formatted at once: bounds the Python objects alive while a COPY streams


def _timestamps(cal: Calendar, seconds: Array) -> np.ndarray:
    base = np.datetime64(cal.start, "s")
    return np.datetime_as_string(base + seconds.astype("timedelta64[s]"), unit="s", timezone="UTC")


def _dates(cal: Calendar, days: Array) -> np.ndarray:
    return np.datetime_as_string(np.datetime64(cal.start, "D") + days.astype("timedelta64[D]"))


def _money(cents: Array) -> np.ndarray:
    whole = (cents // 100).astype(str)
    return np.strings.add(np.strings.add(whole, "."), np.strings.zfill((cents % 100).astype(str), 2))


def _numbered(prefix: np.ndarray | str, numbers: Array) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(str), 9))


def _or_none(values: np.ndarray, present: Array) -> list[Any]:
    out = values.astype(object)
    out[~present] = None
    return out.tolist()


def _lookup(table: Sequence[Any], codes: Array) -> list[Any]:
    return np.array(table, dtype=object)[codes].tolist()


# --- Writing --------------------------------------------------------------------------------------------

INTERACTION_FIELDS = [
    "account_id", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity", "product_id", "due_on",
    "note", "logged_by_id", "source_system", "external_id",
]  # fmt: skip


@dataclass(frozen=True)
class Ids:
    """Database ids the rows refer to."""

    accounts: Array
    contacts: Array
    contact_start: Array  # per account: offset of its first contact in ``contacts``
    contact_count: Array
    products: Array  # by catalogue index
    channels: Array
    managers: Array
    service: int


def interaction_rows(ev: Events, cal: Calendar, ids: Ids, book: Book, offset: int, first_number: int) -> Iterator:
    """Rows for :data:`INTERACTION_FIELDS`, formatted a slice at a time; ``offset``: the chunk's first account."""
    for start in range(0, len(ev), ROW_SLICE):
        yield from _interaction_slice(
            ev.take(slice(start, start + ROW_SLICE)), cal, ids, book, offset, first_number + start
        )


def _interaction_slice(ev: Events, cal: Calendar, ids: Ids, book: Book, offset: int, first_number: int) -> Iterator:
    account = ids.accounts[offset + ev.account]
    logged_by = np.select(
        [ev.logged_by == OWNER, ev.logged_by == SERVICE], [ids.managers[book.owner[ev.account]], ids.service], -1
    )
    prefixes = np.array([PREFIX_OF_KIND.get(k, "X-") for k in KINDS])[ev.kind]
    numbers = np.where(ev.ref >= 0, ev.ref, first_number + np.arange(len(ev)))
    return zip(
        account.tolist(),
        _lookup(KINDS, ev.kind),
        _lookup(CHANNEL_VALUES, ev.channel),
        _timestamps(cal, ev.at).tolist(),
        _money(ev.amount).tolist(),
        _money(ev.cost).tolist(),
        _or_none(ev.quantity, ev.quantity >= 0),
        _or_none(ids.products[np.maximum(ev.product, 0)], ev.product >= 0),
        _or_none(_dates(cal, np.maximum(ev.due, 0)), ev.due >= 0),
        _lookup(NOTES, ev.note),
        _or_none(logged_by, logged_by >= 0),
        _lookup([SOURCE_OF_KIND[k] for k in KINDS], ev.kind),
        _numbered(prefixes, numbers).tolist(),
        strict=True,
    )


def _contact_of(ids: Ids, offset: int, account: Array, draw: Array) -> Array:
    book_index = offset + account
    return ids.contacts[ids.contact_start[book_index] + (draw * ids.contact_count[book_index]).astype(np.int64)]


@functools.cache
def case_texts() -> list[tuple[str, str, str, TextScore]]:
    """Every (severity, subject, body) a seeded case can have, scored once: cases carry an index into it."""
    return [
        (severity, subject, body, score_case_text(subject=subject, body=body, severity=severity))
        for severity, subjects, bodies in zip(SEVERITIES, CASE_SUBJECTS, CASE_BODIES, strict=True)
        for subject in subjects
        for body in bodies
    ]


def case_rows(cases: Cases, cal: Calendar, ids: Ids, offset: int) -> Iterator:
    texts = [case_texts()[t] for t in cases.text.tolist()]
    return zip(
        ids.accounts[offset + cases.account].tolist(),
        _contact_of(ids, offset, cases.account, cases.contact).tolist(),
        [subject for _, subject, _, _ in texts],
        [body for _, _, body, _ in texts],
        _lookup(SEVERITIES, cases.severity),
        _lookup(CASE_STATUSES, cases.status),
        _timestamps(cal, cases.opened).tolist(),
        _or_none(_timestamps(cal, np.maximum(cases.first_response, 0)), cases.first_response >= 0),
        _or_none(_timestamps(cal, np.maximum(cases.resolved, 0)), cases.resolved >= 0),
        _or_none(np.full(cases.status.size, ids.service), cases.status != OPEN),
        [score.urgency for *_, score in texts],
        [score.sentiment for *_, score in texts],
        [list(score.reasons) for *_, score in texts],
        ["helpdesk"] * cases.status.size,
        _numbered(CASE_PREFIX, cases.number).tolist(),
        strict=True,
    )


def survey_rows(surveys: Surveys, cal: Calendar, ids: Ids, offset: int) -> Iterator:
    band = np.select([surveys.score >= 9, surveys.score >= 7], [2, 1], 0)
    comments = [
        SURVEY_COMMENTS[b][c % len(SURVEY_COMMENTS[b])]
        for b, c in zip(band.tolist(), surveys.comment.tolist(), strict=True)
    ]
    return zip(
        ids.accounts[offset + surveys.account].tolist(),
        _contact_of(ids, offset, surveys.account, surveys.contact).tolist(),
        surveys.score.tolist(),
        comments,
        _timestamps(cal, surveys.at).tolist(),
        ["marketing"] * surveys.score.size,
        _numbered(SURVEY_PREFIX, surveys.number).tolist(),
        strict=True,
    )


def account_rows(book: Book, names: list[str], domains: list[str], ids: Ids, cal: Calendar, rng: Rng) -> Iterator:
    n = len(book)
    country = [COUNTRIES[c] for c in book.country.tolist()]
    status = np.where(book.archetype == PROSPECT, "prospect", np.where(book.churned, "churned", "active"))
    digits = rng.integers(10**8, 10**9, n).tolist()
    phone_digits = rng.integers(10**7, 10**8, n).tolist()
    acquired = _or_none(_dates(cal, np.maximum(book.acquired, 0)), book.acquired >= 0)
    churned_on = _or_none(_dates(cal, book.end), book.churned)
    for i in range(n):
        code, region, _, _, prefix = country[i]
        tax_id = f"{digits[i] // 10**7}-{digits[i] % 10**7:07d}" if code in {"US", "CA"} else f"{code}{digits[i]}"
        yield (
            int(ids.accounts[i]),
            names[i],
            INDUSTRIES[book.industry[i]][0],
            code,
            region,
            BANDS[book.band[i]],
            SEGMENTS[book.segment[i]],
            int(ids.managers[book.owner[i]]),
            int(ids.channels[book.channel[i]]),
            acquired[i],
            status[i],
            churned_on[i],
            "contractual" if book.plan_days[i] > 0 else "repeat",
            domains[i],
            tax_id,
            f"{prefix} {phone_digits[i]}",
            1,  # history_version: the engines' first snapshot of a seeded account compares against 1
        )


ACCOUNT_FIELDS = [
    "id", "name", "industry", "country", "region", "employee_band", "segment", "owner_id", "acquisition_channel_id",
    "acquired_on", "status", "churned_on", "relationship", "web_domain", "tax_id", "phone", "history_version",
]  # fmt: skip


def contact_rows(book: Book, domains: list[str], ids: Ids, rng: Rng) -> Iterator:
    total = int(ids.contact_count.sum())
    first = rng.integers(0, len(FIRST_NAMES), total).tolist()
    last = rng.integers(0, len(LAST_NAMES), total).tolist()
    role_pick = rng.integers(0, 10, total).tolist()
    phone = rng.integers(10**6, 10**7, total).tolist()
    account_of = np.repeat(np.arange(len(book)), ids.contact_count)
    position = np.arange(total) - ids.contact_start[account_of]
    used: set[str] = set()
    for j, (i, pos) in enumerate(zip(account_of.tolist(), position.tolist(), strict=True)):
        name = f"{FIRST_NAMES[first[j]]} {LAST_NAMES[last[j]]}"
        roles = SEGMENT_ROLES[book.segment[i]] if pos == 0 else OTHER_ROLES
        local = slugify(name).replace("-", ".")
        used = {local} if pos == 0 else used
        if pos and local in used:  # two contacts of one account with the same name
            local = f"{local}{pos}"
        used.add(local)
        yield (
            int(ids.contacts[j]),
            int(ids.accounts[i]),
            name,
            roles[role_pick[j] % len(roles)],
            f"{local}@{domains[i]}",
            f"{COUNTRIES[book.country[i]][4]} {phone[j]}",
            "erp",
            f"CT-{j + 1:09d}",
        )


LEAD_FIELDS = [
    "company_name", "industry", "country", "region", "employee_band", "channel_id", "owner_id", "stage",
    "expected_value", "mql_at", "sql_at", "closed_at", "account_id", "source_system", "external_id",
]  # fmt: skip
CASE_FIELDS = [
    "account_id", "contact_id", "subject", "body", "severity", "status", "opened_at", "first_response_at",
    "resolved_at", "assignee_id", "urgency", "sentiment", "urgency_reasons", "source_system", "external_id",
]  # fmt: skip
SURVEY_FIELDS = ["account_id", "contact_id", "score", "comment", "answered_at", "source_system", "external_id"]
CONTACT_FIELDS = ["id", "account_id", "name", "role", "email", "phone", "source_system", "external_id"]


def lead_rows(leads: Leads, company: list[str], ids: Ids, cal: Calendar) -> Iterator:
    for start in range(0, len(leads), ROW_SLICE):
        part = slice(start, start + ROW_SLICE)
        yield from _lead_slice(leads.take(part), company[part], ids, cal, start + 1)


def _lead_slice(leads: Leads, company: list[str], ids: Ids, cal: Calendar, first_number: int) -> Iterator:
    country = [COUNTRIES[c] for c in leads.country.tolist()]
    return zip(
        company,
        [INDUSTRIES[i][0] for i in leads.industry.tolist()],
        [c[0] for c in country],
        [c[1] for c in country],
        _lookup(BANDS, leads.band),
        _lookup(ids.channels.tolist(), leads.channel),
        _or_none(ids.managers[np.maximum(leads.owner, 0)], leads.owner >= 0),
        _lookup(Lead.Stage.values, leads.stage),
        _money(leads.value).tolist(),
        _timestamps(cal, leads.mql).tolist(),
        _or_none(_timestamps(cal, np.where(leads.sql == NEVER, 0, leads.sql)), leads.sql != NEVER),
        _or_none(_timestamps(cal, np.where(leads.closed == NEVER, 0, leads.closed)), leads.closed != NEVER),
        _or_none(ids.accounts[np.maximum(leads.account, 0)], leads.account >= 0),
        ["marketing"] * leads.stage.size,
        _numbered("LEAD-", first_number + np.arange(leads.stage.size)).tolist(),
        strict=True,
    )


def spend_rows(channel: Array, month: Array, cents: Array, ids: Ids, cal: Calendar) -> Iterator:
    periods = np.datetime_as_string(np.datetime64(cal.start, "M") + month.astype("timedelta64[M]"), unit="D")
    return zip(ids.channels[channel].tolist(), periods.tolist(), _money(cents).tolist(), strict=True)
