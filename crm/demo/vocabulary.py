"""The demo book's constant tables: the product catalogue, acquisition channels, countries, industries, company
and person names, the customer archetypes (as records, and as arrays indexed by archetype code for vectorised
draws), and per interaction kind its channels, source system, external-id prefix and notes, with the service
cases' severities, subjects and bodies and the survey comments.

What the archetypes stand for is tabled in the docstring of :mod:`crm.management.commands.seed_demo`.
"""

from dataclasses import dataclass

import numpy as np

from crm.models import EmployeeBand, InteractionChannel, InteractionKind, ServiceCase, Severity

# The catnip pair (DOMAIN.md): the first two accounts of every book.
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
