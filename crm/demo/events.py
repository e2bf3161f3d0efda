"""Activity: what each account did. Orders, returns, renewals, payments, support, visits, marketing,
complaints (with their service cases) and survey answers, as parallel arrays for one chunk of accounts."""

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from crm.demo.book import Book, Columns
from crm.demo.sampling import DAY, Array, Calendar, Rng, business_seconds, pick, pick_by_group, poisson_events, weights
from crm.demo.vocabulary import (
    ARCH_LATE,
    ARCH_NPS,
    ARCH_ORDER_CHANNELS,
    ARCH_ORDER_VALUE,
    ARCH_RATES,
    ARCH_RETURNS,
    ARCH_TERMS,
    ARCH_TIERS,
    CASE_SUBJECTS,
    CATALOGUE,
    CHANNEL_VALUES,
    FAMILIES,
    FIRST_RESPONSE_HOURS,
    IN_PROGRESS,
    KIND,
    KIND_CHANNELS,
    KIND_NOTES,
    NO_USER,
    NOTE,
    OPEN,
    OWNER,
    POISSON_KINDS,
    PROSPECT,
    RESOLUTION_HOURS,
    RESOLVED,
    SERVICE,
    SEVERITY_WEIGHTS,
    WAITING,
    K,
)


@dataclass
class Events(Columns):
    """Interactions as parallel arrays (money in cents, time in book seconds, -1 = none)."""

    account: Array  # index into the chunk
    kind: Array
    channel: Array
    at: Array
    amount: Array
    cost: Array
    quantity: Array
    product: Array  # index into CATALOGUE
    due: Array  # book day
    note: Array  # index into NOTES
    logged_by: Array  # NO_USER / OWNER / SERVICE
    ref: Array  # case / survey number that the external id reuses

    @classmethod
    def make(cls, account: Array, kind: str, channel: Array, at: Array, **columns: Array) -> "Events":
        n = account.size
        none = np.full(n, -1, dtype=np.int64)
        values = {
            "amount": np.zeros(n, dtype=np.int64),
            "cost": np.zeros(n, dtype=np.int64),
            "quantity": none,
            "product": none,
            "due": none,
            "note": np.zeros(n, dtype=np.int64),
            "logged_by": np.zeros(n, dtype=np.int64),
            "ref": none,
        } | columns
        return cls(account=account, kind=np.full(n, KIND[kind]), channel=channel, at=at, **values)

    @classmethod
    def concat(cls, parts: Sequence["Events"]) -> "Events":
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


@dataclass
class Cases:
    account: Array
    opened: Array
    first_response: Array  # -1 = none yet
    resolved: Array  # -1 = not resolved
    severity: Array
    status: Array
    subject: Array  # index into NOTES
    text: Array  # index into CASE_TEXTS: severity, subject and body
    contact: Array  # uniform draw, resolved to one of the account's contacts when written
    number: Array  # running case number (the helpdesk id)


@dataclass
class Surveys:
    account: Array
    at: Array
    score: Array
    comment: Array  # index into the band's SURVEY_COMMENTS
    contact: Array
    number: Array


@dataclass
class Activity:
    events: Events
    cases: Cases
    surveys: Surveys


@dataclass(frozen=True)
class Catalogue:
    """Product prices as cent arrays, family by family."""

    price: Array
    cost: Array
    family_start: Array
    family_size: Array

    @classmethod
    def build(cls) -> "Catalogue":
        family = np.array([FAMILIES.index(row[0]) for row in CATALOGUE])
        return cls(
            price=np.array([round(float(row[3]) * 100) for row in CATALOGUE]),
            cost=np.array([round(float(row[4]) * 100) for row in CATALOGUE]),
            family_start=np.array([np.flatnonzero(family == f)[0] for f in range(len(FAMILIES))]),
            family_size=np.bincount(family),
        )


KIND_CHANNEL_TABLE = {kind: weights(mix, CHANNEL_VALUES) for kind, mix in KIND_CHANNELS.items()}


def _channels(rng: Rng, kind: str, size: int) -> Array:
    return pick(rng, KIND_CHANNEL_TABLE[kind], size)


def _notes(rng: Rng, kind: str, size: int) -> Array:
    options = np.array([NOTE[n] for n in KIND_NOTES[kind]])
    return options[rng.integers(0, options.size, size)]


def generate_orders(rng: Rng, book: Book, cat: Catalogue, cal: Calendar) -> Events:
    """Orders: product from the account's main family (60 %) or any, quantity from the order value wanted."""
    arch = book.archetype
    acc, at = poisson_events(rng, book.start, book.end, ARCH_RATES[K.ORDER][arch], cal)
    a = arch[acc]
    n = acc.size
    family = np.where(rng.random(n) < 0.6, book.family[acc], rng.integers(0, len(FAMILIES), n))
    position = np.minimum(pick_by_group(rng, a, ARCH_TIERS), cat.family_size[family] - 1)
    product = cat.family_start[family] + position
    median, sigma = ARCH_ORDER_VALUE[a].T
    wanted = np.exp(np.log(np.maximum(median, 1.0)) + sigma * rng.standard_normal(n)) * 100
    quantity = np.maximum(1, np.rint(wanted / cat.price[product])).astype(np.int64)
    volume = np.select([quantity >= 1000, quantity >= 250, quantity >= 50], [15, 10, 5], 0)
    amount = np.rint(quantity * cat.price[product] * (100 - volume - book.discount[acc]) / 100).astype(np.int64)
    return Events.make(
        acc, K.ORDER, pick_by_group(rng, a, ARCH_ORDER_CHANNELS), at,
        amount=amount, cost=quantity * cat.cost[product], quantity=quantity, product=product,
    )  # fmt: skip


def generate_returns(rng: Rng, orders: Events, book: Book, cat: Catalogue, cal: Calendar) -> Events:
    """Part of an order comes back 2–30 days later: refund pro rata, goods back in stock at unit cost."""
    a = book.archetype[orders.account]
    chance, low, high = ARCH_RETURNS[a].T
    picked = np.flatnonzero(rng.random(len(orders)) < chance)
    o = orders.take(picked)
    share = low[picked] + rng.random(picked.size) * (high[picked] - low[picked])
    quantity = np.clip(np.rint(o.quantity * share), 1, o.quantity).astype(np.int64)
    amount = np.rint(o.amount * quantity / o.quantity).astype(np.int64)
    day = o.at // DAY + rng.integers(2, 31, picked.size)
    at = business_seconds(rng, day, day, cal)
    returns = Events.make(
        o.account, K.RETURN, _channels(rng, K.RETURN, picked.size), at,
        amount=amount, cost=quantity * cat.cost[o.product], quantity=quantity, product=o.product,
    )  # fmt: skip
    return returns.take(np.flatnonzero(at < book.end[o.account] * DAY))


CONTRACT_COST_SHARE = 0.45  # cost of delivering a contract period, as a share of its fee


def generate_renewals(rng: Rng, book: Book, cal: Calendar) -> Events:
    """One renewal per contract period from the start (the first is the new contract); +3 % a year."""
    contract = np.flatnonzero(book.plan_days > 0)
    period = book.plan_days[contract]
    count = np.ceil((book.end[contract] - book.start[contract]) / period).astype(np.int64)
    acc = np.repeat(contract, count)
    k = np.arange(acc.size) - np.repeat(np.cumsum(count) - count, count)
    day = book.start[acc] + np.floor(k * book.plan_days[acc]).astype(np.int64)
    keep = day < book.end[acc]
    acc, k, day = acc[keep], k[keep], day[keep]
    amount = np.rint(book.fee[acc] * 1.03 ** ((day - book.start[acc]) // 365)).astype(np.int64)
    annual = book.plan_days[acc] > 40
    note = np.where(k == 0, NOTE["New contract"], np.where(annual, NOTE["Annual renewal"], NOTE["Monthly renewal"]))
    at = day * DAY + rng.integers(6 * 3600, 9 * 3600, acc.size)  # billing runs early in the morning
    return Events.make(
        acc, K.RENEWAL, _channels(rng, K.RENEWAL, acc.size), at,
        amount=amount, cost=np.rint(amount * CONTRACT_COST_SHARE).astype(np.int64), note=note,
    )  # fmt: skip


def generate_payments(rng: Rng, invoices: Events, book: Book, cal: Calendar) -> Events:
    """One payment per invoice, due after the archetype's terms; on time mostly, late for some.

    Payments that would land after ``--as-of`` (or after the account churned) are still open.
    """
    a = book.archetype[invoices.account]
    n = len(invoices)
    due = invoices.at // DAY + ARCH_TERMS[a]
    late = rng.random(n) < ARCH_LATE[a]
    very_late = rng.random(n) < 0.1
    delay = np.where(
        late,
        np.where(very_late, rng.integers(46, 121, n), 1 + rng.geometric(1 / 12, n)),
        -rng.integers(0, np.minimum(ARCH_TERMS[a], 21)),
    )
    day = np.maximum(due + delay, invoices.at // DAY + 1)
    at = business_seconds(rng, day, day, cal)
    payments = Events.make(
        invoices.account, K.PAYMENT, _channels(rng, K.PAYMENT, n), at, amount=invoices.amount, due=due
    )
    return payments.take(np.flatnonzero(at < book.end[invoices.account] * DAY))


def generate_activities(rng: Rng, book: Book, cal: Calendar) -> Events:
    """Support, visits, promotion responses, inquiries and marketing touches (no money)."""
    parts = []
    for kind in POISSON_KINDS:
        acc, at = poisson_events(rng, book.start, book.end, ARCH_RATES[kind][book.archetype], cal)
        logged = {K.VISIT: OWNER, K.SUPPORT_CALL: SERVICE, K.SUPPORT_EMAIL: SERVICE}.get(kind, NO_USER)
        parts.append(
            Events.make(
                acc,
                kind,
                _channels(rng, kind, acc.size),
                at,
                note=_notes(rng, kind, acc.size),
                logged_by=np.full(acc.size, logged),
            )  # fmt: skip
        )
    return Events.concat(parts)


def _case_timeline(rng: Rng, opened: Array, severity: Array, cal: Calendar) -> tuple[Array, Array, Array]:
    """First response and resolution drawn per severity; what has not happened by the horizon is pending."""
    n = opened.size
    respond = np.rint(FIRST_RESPONSE_HOURS[severity] * 3600 * np.exp(0.8 * rng.standard_normal(n))).astype(np.int64)
    resolve = np.rint(RESOLUTION_HOURS[severity] * 3600 * np.exp(0.9 * rng.standard_normal(n))).astype(np.int64)
    first_response = opened + 60 + respond
    resolved = first_response + resolve
    status = np.where(first_response >= cal.horizon, OPEN, np.where(resolved >= cal.horizon, IN_PROGRESS, RESOLVED))
    # A few old cases got stuck waiting on the customer.
    stuck = (status == RESOLVED) & (rng.random(n) < 0.02)
    status = np.where(stuck, WAITING, status)
    first_response = np.where(status == OPEN, -1, first_response)
    resolved = np.where(status == RESOLVED, resolved, -1)
    return first_response, resolved, status


def generate_cases(rng: Rng, book: Book, cal: Calendar, first_number: int, named: Sequence[int] = ()) -> Cases:
    """Complaints over the history, plus today's queue: open, in progress and waiting cases of every severity.

    The ``named`` accounts (chunk indices of Patricia and Patrick) always have a case in the queue.
    """
    acc, opened = poisson_events(rng, book.start, book.end, ARCH_RATES[K.COMPLAINT][book.archetype], cal)
    severity = pick(rng, SEVERITY_WEIGHTS, acc.size)
    first_response, resolved, status = _case_timeline(rng, opened, severity, cal)

    active = np.flatnonzero((book.end == cal.days) & (book.archetype != PROSPECT))
    queue_size = min(active.size, max(4, round(0.04 * active.size)))
    weight = ARCH_RATES[K.COMPLAINT][book.archetype[active]] + 0.01
    queue = rng.choice(active, size=queue_size, replace=False, p=weight / weight.sum())
    named = [i for i in named if i not in queue and book.end[i] == cal.days]
    queue = np.concatenate([named, queue[: queue.size - len(named)]]).astype(np.int64)
    q_status = np.arange(queue.size) % 3  # open, in progress, waiting in turn
    q_severity = pick(rng, SEVERITY_WEIGHTS, queue.size)
    q_severity[: min(4, queue.size)] = np.arange(min(4, queue.size))[::-1]  # every severity is in the queue
    age = rng.integers(2 * 3600, 10 * DAY, queue.size)
    q_opened = cal.horizon - age
    q_first = np.where(q_status == OPEN, -1, q_opened + 60 + (rng.random(queue.size) * 0.8 * age).astype(np.int64))

    acc = np.concatenate([acc, queue])
    severity = np.concatenate([severity, q_severity])
    subject_options = np.array([[NOTE[s] for s in subjects] for subjects in CASE_SUBJECTS])
    subject, body = rng.integers(0, 3, acc.size), rng.integers(0, 3, acc.size)
    return Cases(
        account=acc,
        opened=np.concatenate([opened, q_opened]),
        first_response=np.concatenate([first_response, q_first]),
        resolved=np.concatenate([resolved, np.full(queue.size, -1)]),
        severity=severity,
        status=np.concatenate([status, q_status]),
        subject=subject_options[severity, subject],
        text=(severity * 3 + subject) * 3 + body,
        contact=rng.random(acc.size),
        number=first_number + np.arange(acc.size),
    )


def generate_surveys(rng: Rng, book: Book, cal: Calendar, first_number: int) -> Surveys:
    """NPS answers: each archetype has its own mean, so needy customers lean towards detractors."""
    acc, at = poisson_events(rng, book.start, book.end, ARCH_RATES[K.SURVEY][book.archetype], cal)
    mean, sd = ARCH_NPS[book.archetype[acc]].T
    score = np.clip(np.rint(mean + sd * rng.standard_normal(acc.size)), 0, 10).astype(np.int64)
    return Surveys(
        account=acc,
        at=at,
        score=score,
        comment=rng.integers(0, 4, acc.size),
        contact=rng.random(acc.size),
        number=first_number + np.arange(acc.size),
    )


def generate_activity(
    rng: Rng, book: Book, cat: Catalogue, cal: Calendar, first_case: int, first_survey: int, named: Sequence[int] = ()
) -> Activity:
    """Everything a chunk of accounts did, sorted by account and time (``named``: see :func:`generate_cases`)."""
    orders = generate_orders(rng, book, cat, cal)
    renewals = generate_renewals(rng, book, cal)
    invoices = Events.concat([orders, renewals])
    cases = generate_cases(rng, book, cal, first_case, named)
    surveys = generate_surveys(rng, book, cal, first_survey)
    complaints = Events.make(
        cases.account, K.COMPLAINT, _channels(rng, K.COMPLAINT, cases.account.size), cases.opened,
        note=cases.subject, logged_by=np.full(cases.account.size, SERVICE), ref=cases.number,
    )  # fmt: skip
    answers = Events.make(
        surveys.account, K.SURVEY, _channels(rng, K.SURVEY, surveys.account.size), surveys.at,
        note=np.array([NOTE[f"NPS {s}"] for s in range(11)])[surveys.score], ref=surveys.number,
    )  # fmt: skip
    events = Events.concat(
        [
            orders,
            generate_returns(rng, orders, book, cat, cal),
            renewals,
            generate_payments(rng, invoices, book, cal),
            generate_activities(rng, book, cal),
            complaints,
            answers,
        ]
    )
    return Activity(events=events.take(np.lexsort((events.at, events.account))), cases=cases, surveys=surveys)
