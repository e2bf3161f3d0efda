"""Leads and spend: a won lead per customer, lost and open leads in each channel's proportions, and each
channel's monthly spend at its own cost per acquisition."""

from dataclasses import dataclass
from datetime import date

import numpy as np

from crm.demo.book import Book, Columns
from crm.demo.sampling import DAY, MONTH_DAYS, Array, Calendar, Rng, pick
from crm.demo.vocabulary import ARCH_ORDER_VALUE, ARCH_RATES, BANDS, CHANNELS, COUNTRIES, INDUSTRIES, K


@dataclass
class Leads(Columns):
    stage: Array  # index into Lead.Stage values: mql, sql, won, lost
    channel: Array
    mql: Array  # book seconds (before day 0 for leads that started before the history)
    sql: Array  # NEVER = not reached
    closed: Array  # NEVER = still open
    account: Array  # book index of the account it became, -1 = none
    owner: Array  # account manager index, -1 = none
    value: Array  # expected value, cents
    country: Array
    industry: Array
    band: Array


MQL, SQL, WON, LOST = range(4)
NEVER = np.iinfo(np.int64).min  # lead times can be negative, so "none" needs its own marker


def generate_leads(rng: Rng, book: Book, cal: Calendar) -> Leads:
    """A won lead per customer, on its channel; lost and open leads in the channel's own proportions."""
    days = cal.days
    won = np.flatnonzero(book.acquired >= 0)
    w_closed = book.acquired[won] * DAY + rng.integers(9 * 3600, 17 * 3600, won.size)
    w_sql = w_closed - rng.integers(7, 91, won.size) * DAY
    w_mql = w_sql - rng.integers(3, 31, won.size) * DAY
    arch = book.archetype[won]
    yearly = ARCH_ORDER_VALUE[arch, 0] * ARCH_RATES[K.ORDER][arch] * 12 + book.fee[won] / 100 * 12 * (
        MONTH_DAYS / np.maximum(book.plan_days[won], MONTH_DAYS)
    )
    w_value = np.rint(yearly * np.exp(0.3 * rng.standard_normal(won.size)) / 100) * 10_000

    won_per_channel = np.bincount(book.channel[won], minlength=len(CHANNELS))
    ratios = np.array([c.lost_per_won for c in CHANNELS])
    n_lost = np.maximum(1, np.rint(won_per_channel * ratios)).astype(np.int64)
    n_mql = np.maximum(1, np.rint(won_per_channel * 0.06)).astype(np.int64)
    n_sql = np.maximum(1, np.rint(won_per_channel * 0.05)).astype(np.int64)
    lost_channel = np.repeat(np.arange(len(CHANNELS)), n_lost)
    l_mql = rng.integers(-60, days - 130, lost_channel.size) * DAY + rng.integers(
        8 * 3600, 18 * 3600, lost_channel.size
    )
    reached_sql = rng.random(lost_channel.size) < 0.55
    l_sql = np.where(reached_sql, l_mql + rng.integers(3, 31, lost_channel.size) * DAY, NEVER)
    l_closed = np.maximum(l_mql, l_sql) + rng.integers(7, 91, lost_channel.size) * DAY
    mql_channel = np.repeat(np.arange(len(CHANNELS)), n_mql)
    o_mql = (days - rng.integers(1, 61, mql_channel.size)) * DAY + rng.integers(8 * 3600, 18 * 3600, mql_channel.size)
    sql_channel = np.repeat(np.arange(len(CHANNELS)), n_sql)
    s_mql = (days - rng.integers(40, 121, sql_channel.size)) * DAY + rng.integers(8 * 3600, 18 * 3600, sql_channel.size)
    s_sql = s_mql + rng.integers(3, 31, sql_channel.size) * DAY

    others = lost_channel.size + mql_channel.size + sql_channel.size
    other_owner = np.where(
        np.concatenate([reached_sql, np.zeros(mql_channel.size, bool), np.ones(sql_channel.size, bool)]),
        rng.integers(0, 4, others),
        -1,
    )
    return Leads(
        stage=np.concatenate(
            [
                np.full(won.size, WON),
                np.full(lost_channel.size, LOST),
                np.full(mql_channel.size, MQL),
                np.full(sql_channel.size, SQL),
            ]
        ),  # fmt: skip
        channel=np.concatenate([book.channel[won], lost_channel, mql_channel, sql_channel]),
        mql=np.concatenate([w_mql, l_mql, o_mql, s_mql]),
        sql=np.concatenate([w_sql, l_sql, np.full(mql_channel.size, NEVER), s_sql]),
        closed=np.concatenate([w_closed, l_closed, np.full(mql_channel.size + sql_channel.size, NEVER)]),
        account=np.concatenate([won, np.full(others, -1)]),
        owner=np.concatenate([book.owner[won], other_owner]),
        value=np.concatenate([w_value, np.rint(np.exp(rng.normal(np.log(8_000), 1.0, others)) / 100) * 10_000]).astype(
            np.int64
        ),
        country=np.concatenate([book.country[won], pick(rng, [c[2] for c in COUNTRIES], others)]),
        industry=np.concatenate([book.industry[won], pick(rng, [i[1] for i in INDUSTRIES], others)]),
        band=np.concatenate([book.band[won], rng.integers(0, len(BANDS), others)]),
    )


def generate_spend(rng: Rng, book: Book, cal: Calendar) -> tuple[Array, Array, Array]:
    """Monthly spend per channel = the channel's CAC × customers it brought (half that month, half the average).

    Returns (channel, month offset from the first month, cents).
    """
    first = np.datetime64(cal.start, "M")
    last = np.datetime64(date.fromordinal(cal.start.toordinal() + cal.days - 1), "M")
    months = int((last - first).astype(np.int64)) + 1
    won = book.acquired >= 0
    acquired_month = ((np.datetime64(cal.start, "D") + book.acquired[won]).astype("datetime64[M]") - first).astype(
        np.int64
    )
    counts = np.zeros((len(CHANNELS), months))
    np.add.at(counts, (book.channel[won], acquired_month), 1)
    smooth = 0.5 * counts + 0.5 * np.maximum(counts.mean(axis=1, keepdims=True), 0.2)
    cac = np.array([c.cac for c in CHANNELS])[:, None]
    cents = np.rint(cac * smooth * rng.uniform(0.85, 1.15, counts.shape) * 100).astype(np.int64)
    channel, month = np.indices(counts.shape)
    return channel.ravel(), month.ravel(), cents.ravel()
