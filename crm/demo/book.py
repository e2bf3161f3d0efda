"""The book: who the accounts are. One array element per account, drawn from a seeded generator."""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Self

import numpy as np
from django.utils.text import slugify

from crm.demo.sampling import MONTH_DAYS, Array, Calendar, Rng, pick, pick_by_group
from crm.demo.vocabulary import (
    ARCH_BANDS,
    ARCH_CHANNELS,
    ARCH_CHURN,
    ARCH_DISCOUNT,
    ARCH_SEGMENTS,
    ARCHETYPES,
    BULK,
    CHANNEL_NAMES,
    CONTRACT,
    COUNTRIES,
    FAMILIES,
    GB,
    INDUSTRIES,
    LAPSED,
    NAME_QUALIFIERS,
    NAME_WORDS,
    NEEDY,
    PROSPECT,
    SEGMENTS,
)


class Columns:
    """A dataclass of equal-length arrays: one element per row."""

    def take(self, index: Array | slice) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))  # type: ignore[arg-type]


@dataclass
class Book(Columns):
    """Per-account attributes, one array element per account (index 0 is Patricia, 1 is Patrick)."""

    archetype: Array
    start: Array  # first active day (acquisition, or first touch for prospects)
    end: Array  # first inactive day: the churn day, or the horizon
    acquired: Array  # acquisition day, -1 for prospects
    churned: Array  # bool
    plan_days: Array  # contract period in days (0 = not contractual)
    fee: Array  # contract fee per period, cents
    family: Array  # main product family
    discount: Array  # negotiated discount, %
    country: Array
    industry: Array
    band: Array
    segment: Array
    channel: Array
    owner: Array  # index into the account managers


def archetype_mix(rng: Rng, n: int) -> Array:
    """Archetypes of ``n`` accounts: Patricia and Patrick first, then the shares (largest remainder), shuffled."""
    rest = n - 2
    shares = np.array([a.share for a in ARCHETYPES])
    counts = np.floor(shares * rest).astype(np.int64)
    order = np.argsort(-(shares * rest - counts), kind="stable")
    counts[order[: rest - counts.sum()]] += 1
    if rest >= len(ARCHETYPES):  # even a tiny book shows every shape
        for i in np.flatnonzero(counts == 0):
            counts[i] += 1
            counts[np.argmax(counts)] -= 1
    mix = rng.permutation(np.repeat(np.arange(len(ARCHETYPES)), counts))
    return np.concatenate([[BULK, NEEDY], mix]).astype(np.int64)


def generate_book(rng: Rng, n: int, cal: Calendar) -> Book:
    arch = archetype_mix(rng, n)
    days = cal.days
    acquired = rng.integers(0, days - 21, n)
    acquired = np.where(arch == LAPSED, rng.integers(0, days - 240, n), acquired)
    acquired[:2] = (20, 12)  # Patricia and Patrick have been customers for (almost) three years
    start = np.where(arch == PROSPECT, days - rng.integers(30, 270, n), acquired)
    acquired = np.where(arch == PROSPECT, -1, acquired)

    # Repeat buyers lapse at their archetype's rate, some time after their first three months.
    earliest = start + 90
    lapses = (rng.random(n) < ARCH_CHURN[arch]) & (earliest < days - 14)
    lapse_day = earliest + (rng.random(n) * np.maximum(days - 14 - earliest, 1)).astype(np.int64)

    # Contracts end after a shifted-beta-geometric number of periods (Fader & Hardie 2007).
    contractual = arch == CONTRACT
    monthly = rng.random(n) < 0.6
    plan_days = np.where(contractual, np.where(monthly, MONTH_DAYS, 365.25), 0.0)
    p_churn = np.where(monthly, rng.beta(0.7, 9.0, n), rng.beta(0.704, 1.182, n))
    periods = rng.geometric(np.clip(p_churn, 1e-6, 1.0))
    contract_end = start + np.ceil(np.minimum(periods, 10_000) * np.maximum(plan_days, 1.0)).astype(np.int64)
    ends_contract = contractual & (contract_end < days)

    churned = np.where(contractual, ends_contract, lapses)
    churned[:2] = False
    end = np.where(contractual & churned, contract_end, np.where(churned, lapse_day, days))
    monthly_fee = np.round(np.exp(rng.normal(np.log(450), 0.6, n)), 0) * 100
    fee = np.where(contractual, np.where(monthly, monthly_fee, 11 * monthly_fee), 0).astype(np.int64)

    country = pick(rng, [c[2] for c in COUNTRIES], n)
    country[:2] = GB
    segment = pick_by_group(rng, arch, ARCH_SEGMENTS)
    segment[:2] = (SEGMENTS.index("Distributor"), SEGMENTS.index("Owner-operator"))
    channel = pick_by_group(rng, arch, ARCH_CHANNELS)
    channel[:2] = (CHANNEL_NAMES.index("Trade show"), CHANNEL_NAMES.index("Paid search"))
    family = rng.integers(0, len(FAMILIES), n)
    family[:2] = FAMILIES.index("Fasteners")  # the same catnip: only the buying behaviour differs
    owner = rng.integers(0, 4, n)
    owner[:2] = 0  # `manager` owns the catnip pair
    return Book(
        archetype=arch,
        start=start.astype(np.int64),
        end=end.astype(np.int64),
        acquired=acquired.astype(np.int64),
        churned=churned,
        plan_days=plan_days,
        fee=fee,
        family=family,
        discount=rng.integers(ARCH_DISCOUNT[arch, 0], ARCH_DISCOUNT[arch, 1] + 1),
        country=country,
        industry=pick(rng, [i[1] for i in INDUSTRIES], n),
        band=pick_by_group(rng, arch, ARCH_BANDS),
        segment=segment,
        channel=channel,
        owner=owner,
    )


def company_names(rng: Rng, country: Array, industry: Array, taken: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Unique company names (also unlike ``taken``) and their ``.example`` domains; numbered only on a clash."""
    n = country.size
    word = rng.integers(0, len(NAME_WORDS), n)
    qualifier = np.where(rng.random(n) < 0.55, rng.integers(0, len(NAME_QUALIFIERS), n), -1)
    noun_u = rng.random(n)
    form_u = rng.random(n)
    used, used_domains = set(taken), set()
    names, domains = [], []
    for i in range(n):
        nouns = INDUSTRIES[industry[i]][2]
        forms = COUNTRIES[country[i]][3]
        parts = [NAME_WORDS[word[i]]]
        if qualifier[i] >= 0:
            parts.append(NAME_QUALIFIERS[qualifier[i]])
        parts.append(nouns[int(noun_u[i] * len(nouns))])
        form = forms[int(form_u[i] * len(forms))]
        base = stem = " ".join(parts)
        number = 1
        while f"{base} {form}" in used:
            number += 1
            base = f"{stem} {number}"
        used.add(f"{base} {form}")
        names.append(f"{base} {form}")
        domain = slug = f"{slugify(base)}-{COUNTRIES[country[i]][0].lower()}"
        while f"{domain}.example" in used_domains:  # the same stem under another legal form
            number += 1
            domain = f"{slug}{number}"
        used_domains.add(f"{domain}.example")
        domains.append(f"{domain}.example")
    return names, domains
