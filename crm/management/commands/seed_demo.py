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
"""

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils.text import slugify

from crm.bulk import copy_rows, foreign_keys_checked_at_end, indexes_built_at_end, reserve_ids
from crm.demo.campaigns import campaigns_reset, seed_after_ranking, seed_in_book
from crm.models import (
    Account,
    AccountSourceId,
    Channel,
    Contact,
    EmployeeBand,
    Interaction,
    InteractionChannel,
    InteractionKind,
    Lead,
    MarketingSpend,
    Product,
    ServiceCase,
    Severity,
    SurveyResponse,
)
from crm.roles import Role
from crm.signals import case_opened, history_changed
from crm.text_scoring import TextScore, score_case_text

Array = np.ndarray
Rng = np.random.Generator

HISTORY_DAYS = 3 * 365
MONTH_DAYS = 365.25 / 12
DAY = 86_400
CHUNK_ACCOUNTS = 5_000
DEMO_PASSWORD = "tierwise-demo"  # noqa: S105 - the demo's published password
PATRICIA = "Patricia Bulk Supplies Ltd"
PATRICK = "Patrick Small Parts & Co"

# --- The catalogue, channels, places --------------------------------------------------------------------

# (family, sku, name, list price €, unit cost €); tier_in_family is the position within the family.
CATALOGUE: tuple[tuple[str, str, str, str, str], ...] = (
    ("Fasteners", "FAS-100", "Zinc-plated wood screws, box of 200", "9.90", "4.70"),
    ("Fasteners", "FAS-200", "Stainless machine screws, box of 200", "18.50", "8.90"),
    ("Fasteners", "FAS-300", "A4 marine-grade bolts, box of 100", "34.00", "16.20"),
    ("Fasteners", "FAS-400", "Structural anchor kit", "59.00", "28.50"),
    ("Adhesives", "ADH-100", "General-purpose epoxy, 50 ml", "6.40", "2.50"),
    ("Adhesives", "ADH-200", "Industrial cyanoacrylate, 20 g", "11.90", "4.60"),
    ("Adhesives", "ADH-300", "Structural methacrylate, 400 ml", "38.50", "15.40"),
    ("Safety gear", "SAF-100", "Nitrile gloves, box of 100", "8.90", "5.30"),
    ("Safety gear", "SAF-200", "Anti-fog safety goggles, 10-pack", "35.00", "21.00"),
    ("Safety gear", "SAF-300", "Cut-resistant gloves, 12 pairs", "42.00", "25.20"),
    ("Safety gear", "SAF-400", "Powered air-purifying respirator", "420.00", "252.00"),
    ("Tools", "TLS-100", "Hand tool kit, 42 pieces", "49.00", "31.90"),
    ("Tools", "TLS-200", "Cordless drill 18 V", "159.00", "103.00"),
    ("Tools", "TLS-300", "Brushless impact driver 18 V", "249.00", "162.00"),
    ("Tools", "TLS-400", "Digital torque wrench set", "389.00", "253.00"),
    ("Packaging", "PKG-100", "Stretch film, 500 m roll", "14.50", "10.90"),
    ("Packaging", "PKG-200", "Double-wall cartons, bundle of 25", "22.00", "16.40"),
    ("Packaging", "PKG-300", "Air-pillow void fill, 1,000 pieces", "29.00", "21.60"),
)
FAMILIES = tuple(dict.fromkeys(row[0] for row in CATALOGUE))


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    cac: int  # € of sales & marketing spend per customer acquired
    lost_per_won: float  # lost leads per won lead: how well the channel's leads convert


CHANNELS = (
    ChannelSpec("Trade show", 4_200, 1.6),
    ChannelSpec("Paid search", 1_100, 4.5),
    ChannelSpec("Referral", 350, 0.7),
    ChannelSpec("Partner", 1_800, 1.3),
    ChannelSpec("Outbound", 2_600, 3.2),
    ChannelSpec("Content/SEO", 700, 3.8),
)
CHANNEL_NAMES = tuple(c.name for c in CHANNELS)

# (ISO code, region, weight, legal forms, phone prefix)
COUNTRIES: tuple[tuple[str, str, float, tuple[str, ...], str], ...] = (
    ("DE", "DACH", 0.18, ("GmbH", "GmbH", "AG", "GmbH & Co. KG"), "+49"),
    ("AT", "DACH", 0.05, ("GmbH",), "+43"),
    ("CH", "DACH", 0.05, ("AG", "GmbH"), "+41"),
    ("SE", "Nordics", 0.05, ("AB",), "+46"),
    ("NO", "Nordics", 0.03, ("AS",), "+47"),
    ("DK", "Nordics", 0.03, ("A/S", "ApS"), "+45"),
    ("FI", "Nordics", 0.02, ("Oy",), "+358"),
    ("NL", "Benelux", 0.07, ("B.V.",), "+31"),
    ("BE", "Benelux", 0.04, ("NV", "BV"), "+32"),
    ("LU", "Benelux", 0.01, ("S.A.",), "+352"),
    ("GB", "UK & Ireland", 0.12, ("Ltd", "Ltd", "PLC"), "+44"),
    ("IE", "UK & Ireland", 0.02, ("Ltd",), "+353"),
    ("ES", "Iberia", 0.05, ("S.L.", "S.A."), "+34"),
    ("PT", "Iberia", 0.02, ("Lda.",), "+351"),
    ("FR", "France & Italy", 0.05, ("SAS", "SARL"), "+33"),
    ("IT", "France & Italy", 0.04, ("S.r.l.", "S.p.A."), "+39"),
    ("US", "North America", 0.13, ("Inc.", "LLC", "Corp."), "+1"),
    ("CA", "North America", 0.03, ("Inc.", "Ltd."), "+1"),
)
GB = next(i for i, c in enumerate(COUNTRIES) if c[0] == "GB")

# (industry, weight, business nouns that go into company names)
INDUSTRIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Manufacturing", 0.24, ("Components", "Fabrication", "Manufacturing", "Machining", "Plastics", "Metalworks")),
    ("Construction", 0.16, ("Builders", "Construction", "Contractors", "Installations", "Structures")),
    ("Automotive", 0.10, ("Motors", "Automotive", "Vehicle Parts", "Mobility")),
    ("Food & beverage", 0.09, ("Foods", "Beverages", "Bakeries", "Dairy", "Provisions")),
    ("Logistics", 0.12, ("Logistics", "Freight", "Warehousing", "Transport")),
    ("Energy & utilities", 0.08, ("Energy", "Utilities", "Power", "Solar", "Grid Services")),
    ("Healthcare", 0.07, ("Medical", "Health", "Clinics", "Care", "Labs")),
    ("Wholesale & retail", 0.14, ("Supply", "Trading", "Wholesale", "Retail", "Distribution")),
)
NAME_WORDS = (
    "Alder", "Amber", "Anvil", "Apex", "Arden", "Aster", "Atlas", "Avalon", "Beacon", "Birch", "Blackwood",
    "Bolt", "Borealis", "Brightline", "Brookfield", "Cairn", "Calder", "Cedar", "Cobalt", "Copper", "Corvid",
    "Crest", "Crown", "Delta", "Dunmore", "Eastgate", "Ember", "Evergreen", "Falcon", "Fernhill", "Fjord",
    "Flint", "Forge", "Foxglove", "Galena", "Granite", "Greystone", "Halden", "Harbor", "Hawthorn", "Helix",
    "Heron", "Highland", "Holm", "Iron", "Ivory", "Juniper", "Kestrel", "Keystone", "Kingfisher", "Lakeside",
    "Lark", "Linden", "Lumen", "Maple", "Marlow", "Meridian", "Millbrook", "Mistral", "Nordhavn", "Northgate",
    "Oakridge", "Onyx", "Orion", "Osprey", "Palisade", "Pinnacle", "Polaris", "Quarry", "Quartz", "Radiant",
    "Redwood", "Ridge", "Riverside", "Rowan", "Sable", "Saltire", "Sextant", "Silverline", "Skylark",
    "Solstice", "Sparrow", "Stellar", "Sterling", "Stonebridge", "Summit", "Tamarack", "Tern", "Thistle",
    "Timber", "Trident", "Tundra", "Upland", "Vale", "Vantage", "Vector", "Westbrook", "Willow", "Wren",
    "Zenith",
)  # fmt: skip
NAME_QUALIFIERS = (
    "Precision", "Industrial", "Technical", "Applied", "Modular", "Integrated", "United", "Nordic",
    "Continental", "Coastal", "Metro", "Allied", "Advanced", "Prime", "General", "Pioneer", "Heritage",
    "Rapid", "Central", "Northern", "Southern", "Western", "Eastern", "Premier", "Standard",
)  # fmt: skip
FIRST_NAMES = (
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ingrid", "Jan", "Katrin", "Lars",
    "Maria", "Nils", "Olivia", "Paul", "Rosa", "Stefan", "Tanja", "Umar", "Vera", "Willem", "Yara", "Zoe",
    "Luca", "Sofia", "Mateo", "Emma", "Noah", "Mia", "Liam", "Ava", "Oskar", "Freya", "Pieter", "Sanne",
    "Aoife", "Conor", "Ines", "Tomas",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Iversen", "Jansen",
    "Keller", "Larsen", "Meyer", "Nielsen", "O'Brien", "Peeters", "Quinn", "Rossi", "Schmidt", "Turner",
    "Urban", "Visser", "Weber", "Young", "Zimmermann", "Novak", "Murphy", "Walsh", "Lopez", "Moreau",
    "Bianchi", "Silva", "Berg", "Lindqvist", "Virtanen", "Brennan", "Kowalski", "Huber", "Maes", "Taylor",
)  # fmt: skip
SEGMENTS = ("Procurement-led", "Engineer-led", "Owner-operator", "Distributor")
SEGMENT_ROLES = (
    ("Head of procurement", "Strategic buyer"),
    ("Maintenance engineer", "Plant manager"),
    ("Owner", "Managing director"),
    ("Category manager", "Purchasing manager"),
)
OTHER_ROLES = ("Accounts payable", "Operations lead", "Warehouse supervisor", "Quality manager", "Finance controller")
BANDS = tuple(EmployeeBand.values)

# --- Archetypes ------------------------------------------------------------------------------------------

K = InteractionKind
C = InteractionChannel


@dataclass(frozen=True)
class Archetype:
    key: str
    share: float
    contractual: bool
    churn: float  # chance a (non-contractual) customer lapses before --as-of
    order_value: tuple[float, float]  # median € and log-sd of one order
    tiers: tuple[float, float, float, float]  # weights over the good → better → best positions of a family
    rates: dict[str, float]  # events per 30 days while active
    returns: tuple[float, float, float]  # P(order partly returned), min and max share of its quantity
    late: float  # share of invoices paid after their due date
    terms: int  # payment terms, days
    nps: tuple[float, float]  # mean and sd of NPS answers
    discount: tuple[int, int]  # negotiated discount range, % (volume discounts come on top)
    segments: tuple[float, float, float, float]  # weights over SEGMENTS
    bands: tuple[float, float, float, float, float]  # weights over BANDS
    channels: tuple[float, ...]  # weights over CHANNELS
    order_channels: dict[str, float]


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        key="bulk", share=0.08, contractual=False, churn=0.04, order_value=(5_000, 0.5),
        tiers=(0.15, 0.35, 0.35, 0.15),
        rates=dict(order=0.7, support_call=0.05, support_email=0.12, visit=0.2, promotion_response=0.03,
                     inquiry=0.15, marketing_touch=0.2, complaint=0.01, survey=0.06),
        returns=(0.02, 0.05, 0.2), late=0.05, terms=60, nps=(8.6, 1.2), discount=(8, 14),
        segments=(0.45, 0.05, 0.0, 0.5), bands=(0, 0.05, 0.25, 0.45, 0.25),
        channels=(0.35, 0.0, 0.15, 0.25, 0.25, 0.0), order_channels={C.EDI: 0.7, C.EMAIL: 0.2, C.FIELD_SALES: 0.1},
    ),
    Archetype(
        key="needy", share=0.10, contractual=False, churn=0.03, order_value=(40, 0.5),
        tiers=(0.6, 0.3, 0.1, 0.0),
        rates=dict(order=1.8, support_call=1.8, support_email=1.0, visit=0.04, promotion_response=0.2,
                     inquiry=0.3, marketing_touch=0.2, complaint=0.12, survey=0.08),
        returns=(0.8, 0.6, 1.0), late=0.25, terms=30, nps=(5.2, 2.0), discount=(0, 1),
        segments=(0.05, 0.15, 0.8, 0.0), bands=(0.7, 0.3, 0, 0, 0),
        channels=(0.0, 0.45, 0.1, 0.0, 0.1, 0.35), order_channels={C.WEB: 0.5, C.PHONE: 0.3, C.EMAIL: 0.2},
    ),
    Archetype(
        key="demanding", share=0.06, contractual=False, churn=0.06, order_value=(2_500, 0.5),
        tiers=(0.2, 0.3, 0.3, 0.2),
        rates=dict(order=1.2, support_call=1.2, support_email=0.8, visit=2.5, promotion_response=0.1,
                     inquiry=0.3, marketing_touch=0.1, complaint=0.1, survey=0.08),
        returns=(0.15, 0.2, 0.7), late=0.3, terms=90, nps=(6.5, 1.8), discount=(28, 34),
        segments=(0.7, 0.0, 0.0, 0.3), bands=(0, 0, 0.1, 0.4, 0.5),
        channels=(0.3, 0.0, 0.0, 0.3, 0.4, 0.0),
        order_channels={C.EDI: 0.5, C.FIELD_SALES: 0.3, C.EMAIL: 0.2},
    ),
    Archetype(
        key="steady", share=0.28, contractual=False, churn=0.10, order_value=(850, 0.6),
        tiers=(0.3, 0.35, 0.25, 0.1),
        rates=dict(order=0.8, support_call=0.25, support_email=0.3, visit=0.08, promotion_response=0.1,
                     inquiry=0.15, marketing_touch=0.15, complaint=0.03, survey=0.07),
        returns=(0.05, 0.1, 0.5), late=0.1, terms=30, nps=(7.6, 1.6), discount=(0, 3),
        segments=(0.4, 0.4, 0.0, 0.2), bands=(0, 0.35, 0.45, 0.2, 0),
        channels=(0.2, 0.2, 0.15, 0.15, 0.15, 0.15),
        order_channels={C.WEB: 0.4, C.EDI: 0.3, C.EMAIL: 0.2, C.PHONE: 0.1},
    ),
    Archetype(
        key="occasional", share=0.24, contractual=False, churn=0.2, order_value=(650, 0.7),
        tiers=(0.4, 0.35, 0.2, 0.05),
        rates=dict(order=0.18, support_call=0.05, support_email=0.1, visit=0.02, promotion_response=0.2,
                     inquiry=0.12, marketing_touch=0.25, complaint=0.01, survey=0.04),
        returns=(0.06, 0.2, 0.8), late=0.15, terms=30, nps=(7.0, 2.0), discount=(0, 2),
        segments=(0.2, 0.4, 0.4, 0.0), bands=(0.35, 0.45, 0.2, 0, 0),
        channels=(0.15, 0.3, 0.1, 0.0, 0.15, 0.3), order_channels={C.WEB: 0.6, C.EMAIL: 0.3, C.PHONE: 0.1},
    ),
    Archetype(
        key="lapsed", share=0.08, contractual=False, churn=1.0, order_value=(700, 0.6),
        tiers=(0.35, 0.35, 0.25, 0.05),
        rates=dict(order=0.8, support_call=0.7, support_email=0.8, visit=0.05, promotion_response=0.1,
                     inquiry=0.15, marketing_touch=0.2, complaint=0.12, survey=0.06),
        returns=(0.2, 0.3, 0.9), late=0.2, terms=30, nps=(5.0, 2.2), discount=(0, 2),
        segments=(0.3, 0.3, 0.3, 0.1), bands=(0.25, 0.45, 0.25, 0.05, 0),
        channels=(0.15, 0.3, 0.05, 0.1, 0.2, 0.2), order_channels={C.WEB: 0.5, C.EMAIL: 0.3, C.PHONE: 0.2},
    ),
    Archetype(
        key="contract", share=0.13, contractual=True, churn=0.0, order_value=(400, 0.6),
        tiers=(0.2, 0.4, 0.3, 0.1),
        rates=dict(order=0.15, support_call=0.3, support_email=0.3, visit=0.06, promotion_response=0.08,
                     inquiry=0.1, marketing_touch=0.2, complaint=0.03, survey=0.08),
        returns=(0.03, 0.1, 0.5), late=0.08, terms=30, nps=(7.8, 1.5), discount=(2, 5),
        segments=(0.5, 0.3, 0.0, 0.2), bands=(0, 0.3, 0.4, 0.2, 0.1),
        channels=(0.2, 0.0, 0.2, 0.35, 0.25, 0.0), order_channels={C.WEB: 0.5, C.EDI: 0.3, C.EMAIL: 0.2},
    ),
    Archetype(
        key="prospect", share=0.03, contractual=False, churn=0.0, order_value=(0, 0.0),
        tiers=(1, 0, 0, 0),
        rates=dict(visit=0.15, promotion_response=0.2, inquiry=0.4, marketing_touch=1.2, support_call=0.05,
                     support_email=0.1),
        returns=(0, 0, 0), late=0, terms=30, nps=(7.0, 2.0), discount=(0, 0),
        segments=(0.3, 0.4, 0.2, 0.1), bands=(0.2, 0.4, 0.3, 0.1, 0),
        channels=(0.2, 0.3, 0.1, 0.1, 0.2, 0.1), order_channels={C.WEB: 1.0},
    ),
)  # fmt: skip
A = {a.key: i for i, a in enumerate(ARCHETYPES)}
BULK, NEEDY, LAPSED, CONTRACT, PROSPECT = A["bulk"], A["needy"], A["lapsed"], A["contract"], A["prospect"]

# The archetypes as arrays, indexed by archetype code, for vectorised draws.
ARCH_CHURN = np.array([a.churn for a in ARCHETYPES])
ARCH_SEGMENTS = np.array([a.segments for a in ARCHETYPES])
ARCH_BANDS = np.array([a.bands for a in ARCHETYPES])
ARCH_CHANNELS = np.array([a.channels for a in ARCHETYPES])
ARCH_DISCOUNT = np.array([a.discount for a in ARCHETYPES])
ARCH_RATES = {kind: np.array([a.rates.get(kind, 0.0) for a in ARCHETYPES]) for kind in InteractionKind.values}
ARCH_TIERS = np.array([a.tiers for a in ARCHETYPES])
ARCH_ORDER_VALUE = np.array([a.order_value for a in ARCHETYPES])
ARCH_RETURNS = np.array([a.returns for a in ARCHETYPES])
ARCH_LATE = np.array([a.late for a in ARCHETYPES])
ARCH_TERMS = np.array([a.terms for a in ARCHETYPES])
ARCH_NPS = np.array([a.nps for a in ARCHETYPES])
ARCH_ORDER_CHANNELS = np.array([[a.order_channels.get(c, 0.0) for c in InteractionChannel.values] for a in ARCHETYPES])

KINDS = tuple(InteractionKind.values)
KIND = {k: i for i, k in enumerate(KINDS)}
CHANNEL_VALUES = tuple(InteractionChannel.values)
# Activities drawn as Poisson processes; orders, returns, payments and renewals are built separately.
POISSON_KINDS = (
    K.SUPPORT_CALL, K.SUPPORT_EMAIL, K.VISIT, K.PROMOTION_RESPONSE, K.INQUIRY, K.MARKETING_TOUCH,
)  # fmt: skip
# Channel mix of each activity (orders use the archetype's own mix).
KIND_CHANNELS: dict[str, dict[str, float]] = {
    K.RETURN: {C.WEB: 0.5, C.EMAIL: 0.3, C.PHONE: 0.2},
    K.PAYMENT: {C.OTHER: 1.0},
    K.SUPPORT_CALL: {C.PHONE: 1.0},
    K.SUPPORT_EMAIL: {C.EMAIL: 1.0},
    K.VISIT: {C.IN_PERSON: 0.7, C.FIELD_SALES: 0.3},
    K.PROMOTION_RESPONSE: {C.EMAIL: 0.6, C.WEB: 0.3, C.PHONE: 0.1},
    K.INQUIRY: {C.EMAIL: 0.5, C.PHONE: 0.3, C.WEB: 0.2},
    K.SURVEY: {C.EMAIL: 0.7, C.WEB: 0.3},
    K.MARKETING_TOUCH: {C.SOCIAL: 0.4, C.EMAIL: 0.4, C.WEB: 0.2},
    K.COMPLAINT: {C.PHONE: 0.5, C.EMAIL: 0.4, C.WEB: 0.1},
    K.RENEWAL: {C.WEB: 0.4, C.EMAIL: 0.3, C.OTHER: 0.3},
}
SOURCE_OF_KIND = {
    K.ORDER: "erp", K.RETURN: "erp", K.PAYMENT: "erp", K.RENEWAL: "erp",
    K.SUPPORT_CALL: "helpdesk", K.SUPPORT_EMAIL: "helpdesk", K.COMPLAINT: "helpdesk",
    K.PROMOTION_RESPONSE: "marketing", K.MARKETING_TOUCH: "marketing", K.SURVEY: "marketing",
    K.VISIT: "tierwise", K.INQUIRY: "tierwise",
}  # fmt: skip
# External ids: a prefix per kind and a running number; complaints and surveys reuse their case/answer id.
PREFIX_OF_KIND = {
    K.ORDER: "SO-", K.RETURN: "RMA-", K.PAYMENT: "PAY-", K.RENEWAL: "REN-", K.SUPPORT_CALL: "CALL-",
    K.SUPPORT_EMAIL: "MAIL-", K.COMPLAINT: "HD-", K.PROMOTION_RESPONSE: "PROMO-", K.MARKETING_TOUCH: "MKT-",
    K.SURVEY: "NPS-", K.VISIT: "VIS-", K.INQUIRY: "INQ-",
}  # fmt: skip
CASE_PREFIX, SURVEY_PREFIX = PREFIX_OF_KIND[K.COMPLAINT], PREFIX_OF_KIND[K.SURVEY]

SEVERITIES = tuple(Severity.values)  # low, medium, high, critical
SEVERITY_WEIGHTS = (0.35, 0.40, 0.18, 0.07)
CASE_STATUSES = tuple(ServiceCase.Status.values)  # open, in_progress, waiting, resolved
OPEN, IN_PROGRESS, WAITING, RESOLVED = range(4)
# Hours to first response and from there to resolution (medians, by severity): urgent work goes first.
FIRST_RESPONSE_HOURS = np.array([8.0, 4.0, 2.0, 0.75])
RESOLUTION_HOURS = np.array([72.0, 48.0, 24.0, 10.0])
CASE_SUBJECTS = (
    ("Wrong label on delivery", "Invoice address outdated", "Portal login slow"),
    ("Late delivery", "Damaged packaging", "Incorrect invoice amount"),
    ("Wrong items delivered", "Repeated back-orders", "Defective batch"),
    ("Production stop: missing parts", "Safety defect reported", "Shipment lost before site deadline"),
)
# Per severity: a calm, a pressing and an angry body, so text urgency varies within a severity.
CASE_BODIES = (
    ("Small thing, no rush: please correct it with the next shipment. Thanks!",
     "Second time this month, please fix it before the next invoice run.",
     "This keeps happening and nobody answers our emails. Unacceptable."),
    ("Could you let us know when this will be sorted out?",
     "We called twice about this already and expect an answer this week.",
     "Third delay this quarter!! Our customers are waiting and we are losing patience."),
    ("Please arrange a replacement and a credit note.",
     "This affects our own deliveries; we need replacements urgently.",
     "WRONG again! We cannot ship to our customers. Escalate this now or we cancel the contract."),
    ("Please call the site manager to agree the next steps.",
     "Our line is stopped until this is solved; we need an answer immediately.",
     "PRODUCTION IS DOWN!!! We need the parts ASAP or our lawyers get involved."),
)  # fmt: skip
SURVEY_COMMENTS = (
    ("Support takes too long to answer.", "Too many back-orders and wrong items.", "Returns process is painful.", ""),
    ("Fine overall, delivery times could be better.", "Products are good, the portal is clunky.", ""),
    ("Reliable deliveries and a responsive account team.", "Good prices for volume, easy ordering.", ""),
)
# Short notes per kind ("" = no note); index 0 of NOTES is the empty note.
KIND_NOTES: dict[str, tuple[str, ...]] = {
    K.SUPPORT_CALL: ("Order status", "Invoice question", "Technical question", "Delivery delay",
                     "Return authorisation", ""),
    K.SUPPORT_EMAIL: ("Order status", "Invoice question", "Technical question", "Delivery delay",
                      "Return authorisation", ""),
    K.VISIT: ("Quarterly business review", "Site visit", "Product demo", "Contract negotiation"),
    K.PROMOTION_RESPONSE: ("Spring volume promotion", "Bundle offer: gloves + goggles", "Free shipping week",
                           "Upgrade offer: better tier", "Loyalty double points"),
    K.INQUIRY: ("Price request", "Availability check", "Datasheet request", "Quote for bulk order"),
    K.MARKETING_TOUCH: ("Newsletter click", "Webinar attended", "LinkedIn ad engagement", "Case study download",
                        "Trade fair booth visit"),
}  # fmt: skip
NOTES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "",
            *(n for notes in KIND_NOTES.values() for n in notes),
            "New contract", "Monthly renewal", "Annual renewal",
            *(s for subjects in CASE_SUBJECTS for s in subjects),
            *(f"NPS {score}" for score in range(11)),
        ]
    )
)  # fmt: skip
NOTE = {n: i for i, n in enumerate(NOTES)}
NO_USER, OWNER, SERVICE = 0, 1, 2  # who logged an interaction


# --- Small helpers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Book days are counted from ``start``; day ``days`` is ``--as-of`` itself, the horizon (exclusive)."""

    start: date
    days: int

    @classmethod
    def ending(cls, as_of: date) -> "Calendar":
        return cls(start=date.fromordinal(as_of.toordinal() - HISTORY_DAYS), days=HISTORY_DAYS)

    @property
    def horizon(self) -> int:
        """The first second after the history, in book seconds."""
        return self.days * DAY


def _weights(mapping: dict[str, float], values: Sequence[str]) -> np.ndarray:
    return np.array([mapping.get(v, 0.0) for v in values])


def _pick(rng: Rng, weights: Sequence[float] | np.ndarray, size: int) -> Array:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def _pick_by_group(rng: Rng, groups: Array, table: np.ndarray) -> Array:
    """One draw per element from the weight row of its group (rows need not be normalised)."""
    cum = np.cumsum(table, axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(groups.size)
    return np.minimum((u[:, None] >= cum[groups]).sum(axis=1), table.shape[1] - 1)


def _business_seconds(rng: Rng, day: Array, floor: Array, cal: Calendar) -> Array:
    """Book seconds on ``day`` between 07:00 and 18:00; weekends move back to Friday (not before ``floor``)."""
    weekday = (day + cal.start.weekday()) % 7
    day = np.where(weekday >= 5, np.maximum(day - (weekday - 4), floor), day)
    return day * DAY + rng.integers(7 * 3600, 18 * 3600, day.size)


def _poisson_events(rng: Rng, start: Array, end: Array, rate: Array, cal: Calendar) -> tuple[Array, Array]:
    """Events at ``rate`` per 30 days over each account's [start, end) days: (account index, book seconds)."""
    span = end - start
    counts = rng.poisson(rate * span / MONTH_DAYS)
    index = np.repeat(np.arange(start.size), counts)
    day = start[index] + (rng.random(index.size) * span[index]).astype(np.int64)
    return index, _business_seconds(rng, day, start[index], cal)


# --- The book: who the accounts are ---------------------------------------------------------------------


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

    country = _pick(rng, [c[2] for c in COUNTRIES], n)
    country[:2] = GB
    segment = _pick_by_group(rng, arch, ARCH_SEGMENTS)
    segment[:2] = (SEGMENTS.index("Distributor"), SEGMENTS.index("Owner-operator"))
    channel = _pick_by_group(rng, arch, ARCH_CHANNELS)
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
        industry=_pick(rng, [i[1] for i in INDUSTRIES], n),
        band=_pick_by_group(rng, arch, ARCH_BANDS),
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


# --- Activity: what each account did -------------------------------------------------------------------


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


KIND_CHANNEL_TABLE = {kind: _weights(mix, CHANNEL_VALUES) for kind, mix in KIND_CHANNELS.items()}


def _channels(rng: Rng, kind: str, size: int) -> Array:
    return _pick(rng, KIND_CHANNEL_TABLE[kind], size)


def _notes(rng: Rng, kind: str, size: int) -> Array:
    options = np.array([NOTE[n] for n in KIND_NOTES[kind]])
    return options[rng.integers(0, options.size, size)]


def generate_orders(rng: Rng, book: Book, cat: Catalogue, cal: Calendar) -> Events:
    """Orders: product from the account's main family (60 %) or any, quantity from the order value wanted."""
    arch = book.archetype
    acc, at = _poisson_events(rng, book.start, book.end, ARCH_RATES[K.ORDER][arch], cal)
    a = arch[acc]
    n = acc.size
    family = np.where(rng.random(n) < 0.6, book.family[acc], rng.integers(0, len(FAMILIES), n))
    position = np.minimum(_pick_by_group(rng, a, ARCH_TIERS), cat.family_size[family] - 1)
    product = cat.family_start[family] + position
    median, sigma = ARCH_ORDER_VALUE[a].T
    wanted = np.exp(np.log(np.maximum(median, 1.0)) + sigma * rng.standard_normal(n)) * 100
    quantity = np.maximum(1, np.rint(wanted / cat.price[product])).astype(np.int64)
    volume = np.select([quantity >= 1000, quantity >= 250, quantity >= 50], [15, 10, 5], 0)
    amount = np.rint(quantity * cat.price[product] * (100 - volume - book.discount[acc]) / 100).astype(np.int64)
    return Events.make(
        acc, K.ORDER, _pick_by_group(rng, a, ARCH_ORDER_CHANNELS), at,
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
    at = _business_seconds(rng, day, day, cal)
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
    at = _business_seconds(rng, day, day, cal)
    payments = Events.make(
        invoices.account, K.PAYMENT, _channels(rng, K.PAYMENT, n), at, amount=invoices.amount, due=due
    )
    return payments.take(np.flatnonzero(at < book.end[invoices.account] * DAY))


def generate_activities(rng: Rng, book: Book, cal: Calendar) -> Events:
    """Support, visits, promotion responses, inquiries and marketing touches (no money)."""
    parts = []
    for kind in POISSON_KINDS:
        acc, at = _poisson_events(rng, book.start, book.end, ARCH_RATES[kind][book.archetype], cal)
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
    acc, opened = _poisson_events(rng, book.start, book.end, ARCH_RATES[K.COMPLAINT][book.archetype], cal)
    severity = _pick(rng, SEVERITY_WEIGHTS, acc.size)
    first_response, resolved, status = _case_timeline(rng, opened, severity, cal)

    active = np.flatnonzero((book.end == cal.days) & (book.archetype != PROSPECT))
    queue_size = min(active.size, max(4, round(0.04 * active.size)))
    weight = ARCH_RATES[K.COMPLAINT][book.archetype[active]] + 0.01
    queue = rng.choice(active, size=queue_size, replace=False, p=weight / weight.sum())
    named = [i for i in named if i not in queue and book.end[i] == cal.days]
    queue = np.concatenate([named, queue[: queue.size - len(named)]]).astype(np.int64)
    q_status = np.arange(queue.size) % 3  # open, in progress, waiting in turn
    q_severity = _pick(rng, SEVERITY_WEIGHTS, queue.size)
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
    acc, at = _poisson_events(rng, book.start, book.end, ARCH_RATES[K.SURVEY][book.archetype], cal)
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


# --- Leads and spend ------------------------------------------------------------------------------------


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
        country=np.concatenate([book.country[won], _pick(rng, [c[2] for c in COUNTRIES], others)]),
        industry=np.concatenate([book.industry[won], _pick(rng, [i[1] for i in INDUSTRIES], others)]),
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


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role
    superuser: bool = False


DEMO_USERS = (
    DemoUser("admin", "Avery", "Quinn", Role.ADMIN, superuser=True),
    DemoUser("manager", "Maria", "Lindqvist", Role.ACCOUNT_MANAGER),
    DemoUser("manager2", "Jonas", "Becker", Role.ACCOUNT_MANAGER),
    DemoUser("manager3", "Chloe", "Martin", Role.ACCOUNT_MANAGER),
    DemoUser("manager4", "Daniel", "Okafor", Role.ACCOUNT_MANAGER),
    DemoUser("service", "Sam", "Rivera", Role.SERVICE),
)


def demo_users_ensure() -> dict[str, int]:
    """Create or reset the demo users (password, flags, exactly their role's group); return their ids."""
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: every demo user shares the known password
    ids = {}
    for spec in DEMO_USERS:
        group, _ = Group.objects.get_or_create(name=spec.role.value)
        user, _ = user_model.objects.update_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@tierwise.example",
                "is_active": True,
                "is_staff": spec.superuser,
                "is_superuser": spec.superuser,
                "password": password,
            },
        )
        user.groups.set([group])
        ids[spec.username] = user.pk
    return ids


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


def _account_rows(book: Book, names: list[str], domains: list[str], ids: Ids, cal: Calendar, rng: Rng) -> Iterator:
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


def _contact_rows(book: Book, domains: list[str], ids: Ids, rng: Rng) -> Iterator:
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


# --- The command ----------------------------------------------------------------------------------------


@dataclass
class Seeded:
    account_ids: list[int]
    open_case_account_ids: list[int]  # accounts with a case not yet resolved
    counts: dict[str, int]
    seed: int = 0
    as_of: date | None = None
    admin_id: int | None = None
    seeded_at: datetime | None = None


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
            seeded = self._seed(n, seed, Calendar.ending(as_of), began)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in BOOK_MODELS)
                cursor.execute(f"ANALYZE {tables}")
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
        # listeners above have just ranked it.
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

    def _seed(self, n: int, seed: int, cal: Calendar, began: float) -> Seeded:
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
            counts |= self._load(book, names, domains, ids, cal, seed, began)
        self._progress(began, "built the indexes and checked the foreign keys")
        counts |= seed_in_book(seed=seed, as_of=cal.start + timedelta(days=cal.days), admin_id=users["admin"],
                               progress=lambda message: self._progress(began, message))
        open_cases = ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED).values_list(
            "account_id", flat=True
        )
        return Seeded(account_ids=ids.accounts.tolist(), open_case_account_ids=sorted(set(open_cases)), counts=counts,
                      seed=seed, as_of=cal.start + timedelta(days=cal.days), admin_id=users["admin"],
                      seeded_at=seeded_at)

    def _load(
        self, book: Book, names: list[str], domains: list[str], ids: Ids, cal: Calendar, seed: int, began: float
    ) -> dict[str, int]:
        counts = {}
        details = np.random.default_rng([seed, 4])
        counts["accounts"] = copy_rows(Account, ACCOUNT_FIELDS, _account_rows(book, names, domains, ids, cal, details))
        counts["source ids"] = copy_rows(
            AccountSourceId,
            ["account_id", "source_system", "external_id"],
            ((int(a), "erp", f"C{i + 1:07d}") for i, a in enumerate(ids.accounts)),
        )
        counts["contacts"] = copy_rows(Contact, CONTACT_FIELDS, _contact_rows(book, domains, ids, details))
        self._progress(began, f"{counts['accounts']:,} accounts, {counts['contacts']:,} contacts")

        counts |= self._seed_activity(book, ids, cal, seed, began)

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
        self._progress(began, f"{counts['leads']:,} leads, {counts['spend rows']:,} monthly spend rows")
        return counts

    def _seed_activity(self, book: Book, ids: Ids, cal: Calendar, seed: int, began: float) -> dict[str, int]:
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
            self._progress(began, f"activity of {hi:,}/{len(book):,} accounts: {counts['interactions']:,} interactions")
        return counts

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
