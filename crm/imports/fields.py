"""The Tierwise fields each kind of import fills, how they are typed, and how file headers map onto them.

Pure data (no ORM): the upload pages list these, the validator parses by them, the loaders write them.

Keys: every kind except marketing spend is keyed by ``external_id`` within its source system (re-importing
updates); marketing spend is keyed by channel + month. References point into the SAME source system:
``account_external_id`` is the account's id there (an :class:`~crm.models.AccountSourceId`),
``contact_external_id`` a contact imported from it; products are referenced by SKU and channels by name.
"""

from dataclasses import dataclass

from ..models import Account, EmployeeBand, InteractionChannel, InteractionKind
from ..models_imports import ImportKind

TEXT, DECIMAL, DATE, DATETIME, INT, CHOICE, EMAIL, COUNTRY, MONTH = (
    "text", "decimal", "date", "datetime", "int", "choice", "email", "country", "month",
)


@dataclass(frozen=True)
class FieldSpec:
    """One field an import can fill.

    ``type`` is one of ``text decimal date datetime int choice email`` plus ``country`` (ISO 3166-1 alpha-2,
    upper-cased) and ``month`` (any date in the month, or ``2025-03`` / ``03/2025``; stored as its first day).
    ``choices`` are ``(value, label)`` pairs; a cell matches a value or a label case-insensitively, or one of
    ``synonyms`` (``(spelling, value)`` pairs, e.g. ``("support ticket", "support_email")``).
    ``aliases`` are lowercase header spellings used to suggest the mapping. ``max_length`` is the model's;
    ``minimum``/``maximum`` bound numbers (money is never negative); ``default`` is what a blank choice means.
    """

    name: str
    label: str
    required: bool = False
    type: str = TEXT
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    synonyms: tuple[tuple[str, str], ...] = ()
    default: str = ""  # what a blank cell means for a choice ("" = nothing)


def _external_id(what: str, *aliases: str) -> FieldSpec:
    return FieldSpec(
        "external_id", "External id", required=True, max_length=100,
        help=f"The {what}'s id in the source system; re-importing the same id updates the record.",
        aliases=("external id", "external_id", "id", *aliases),
    )


ACCOUNT_REF = FieldSpec(
    "account_external_id", "Account external id", required=True, max_length=100,
    help="The account's id in the same source system (imported with the accounts).",
    aliases=("account external id", "account_external_id", "account id", "account_id", "account", "customer id",
             "customer_id", "customer number", "customer no", "customer", "client id", "debtor", "kunden-nr",
             "kundennummer", "kunde", "account number"),
)

INTERACTION_CHANNEL = FieldSpec(
    "channel", "Channel", type=CHOICE, choices=tuple(InteractionChannel.choices),
    help="How the touch happened (phone, e-mail, web, EDI, ...). Blank means Other.", default="other",
    aliases=("channel", "medium", "via", "interaction channel", "kanal"),
    synonyms=(("e-mail", "email"), ("mail", "email"), ("portal", "web"), ("online", "web"), ("webshop", "web"),
              ("call", "phone"), ("telephone", "phone"), ("visit", "in_person"), ("onsite", "in_person"),
              ("on-site", "in_person"), ("meeting", "in_person"), ("field", "field_sales")),
)

_KIND_SYNONYMS = (
    ("sale", "order"), ("sales order", "order"), ("purchase", "order"), ("invoice", "order"),
    ("refund", "return"), ("credit note", "return"), ("rma", "return"), ("returned", "return"),
    ("receipt", "payment"), ("paid", "payment"), ("cash", "payment"),
    ("call", "support_call"), ("phone call", "support_call"), ("support phone", "support_call"),
    ("ticket", "support_email"), ("support ticket", "support_email"), ("support_ticket", "support_email"),
    ("helpdesk ticket", "support_email"), ("support request", "support_email"), ("email", "support_email"),
    ("e-mail", "support_email"), ("escalation", "complaint"), ("claim", "complaint"),
    ("meeting", "visit"), ("promotion", "promotion_response"), ("campaign response", "promotion_response"),
    ("question", "inquiry"), ("enquiry", "inquiry"), ("request for quote", "inquiry"), ("rfq", "inquiry"),
    ("marketing", "marketing_touch"), ("social", "marketing_touch"), ("newsletter", "marketing_touch"),
    ("subscription renewal", "renewal"), ("contract renewal", "renewal"),
)

FIELDS: dict[str, list[FieldSpec]] = {
    ImportKind.ACCOUNTS: [
        _external_id("account", "account id", "account_id", "customer id", "customer number", "customer no",
                     "account number", "kunden-nr", "kundennummer", "debtor"),
        FieldSpec("name", "Name", required=True, max_length=200,
                  aliases=("name", "account name", "account", "company", "company name", "customer name",
                           "customer", "firma", "organisation", "organization")),
        FieldSpec("industry", "Industry", max_length=80, aliases=("industry", "sector", "branche", "vertical")),
        FieldSpec("country", "Country", type=COUNTRY, max_length=2,
                  help="ISO 3166-1 two-letter code (DE, FR, US, ...).",
                  aliases=("country", "country code", "land", "iso country")),
        FieldSpec("region", "Region", max_length=80, aliases=("region", "territory", "sales region")),
        FieldSpec("employee_band", "Employees", type=CHOICE, choices=tuple(EmployeeBand.choices),
                  help="Employee band: 1-49, 50-249, 250-999, 1000-4999 or 5000+.",
                  aliases=("employees", "employee band", "employee_band", "company size", "size")),
        FieldSpec("segment", "Segment", max_length=80, aliases=("segment", "persona", "buyer persona")),
        FieldSpec("acquisition_channel", "Acquisition channel", max_length=80,
                  help="Channel name; an unknown name creates the channel.",
                  aliases=("acquisition channel", "acquisition_channel", "lead source", "source channel",
                           "channel")),
        FieldSpec("acquired_on", "Acquired on", type=DATE,
                  aliases=("acquired on", "acquired_on", "acquired", "customer since", "first order date",
                           "won on", "signup date", "kunde seit")),
        FieldSpec("status", "Status", type=CHOICE, choices=tuple(Account.Status.choices),
                  help="Prospect, Active or Churned (a churned account needs a churn date). Blank means Active.",
                  default="active",
                  aliases=("status", "account status"),
                  synonyms=(("lost", "churned"), ("inactive", "churned"), ("customer", "active"),
                            ("lead", "prospect"))),
        FieldSpec("churned_on", "Churned on", type=DATE, aliases=("churned on", "churned_on", "churn date",
                                                                  "lost on", "closed on")),
        FieldSpec("relationship", "Relationship", type=CHOICE, choices=tuple(Account.Relationship.choices),
                  help="Repeat purchase or contractual / subscription. Blank means repeat purchase.", default="repeat",
                  aliases=("relationship", "customer type", "contract type"),
                  synonyms=(("subscription", "contractual"), ("contract", "contractual"),
                            ("transactional", "repeat"))),
        FieldSpec("web_domain", "Web domain", max_length=200, aliases=("web domain", "website", "domain", "url")),
        FieldSpec("tax_id", "Tax id", max_length=40, aliases=("tax id", "tax_id", "vat id", "vat", "vat number",
                                                              "ust-idnr")),
        FieldSpec("phone", "Phone", max_length=40, aliases=("phone", "telephone", "phone number", "tel")),
        FieldSpec("owner", "Owner", max_length=150,
                  help="User name or e-mail of the account manager in Tierwise.",
                  aliases=("owner", "account manager", "account owner", "manager", "sales rep")),
    ],
    ImportKind.CONTACTS: [
        _external_id("contact", "contact id", "contact_id", "person id"),
        ACCOUNT_REF,
        FieldSpec("name", "Name", required=True, max_length=200,
                  aliases=("name", "contact name", "full name", "contact", "person")),
        FieldSpec("role", "Role", max_length=120, aliases=("role", "title", "job title", "position", "function")),
        FieldSpec("email", "E-mail", type=EMAIL, max_length=254, aliases=("email", "e-mail", "email address",
                                                                         "mail")),
        FieldSpec("phone", "Phone", max_length=40, aliases=("phone", "telephone", "phone number", "mobile", "tel")),
    ],
    ImportKind.INTERACTIONS: [
        _external_id("interaction", "interaction id", "order id", "order number", "order no", "transaction id",
                     "ticket id", "document number", "invoice number", "beleg", "belegnummer", "belegnr"),
        ACCOUNT_REF,
        FieldSpec("kind", "Kind", required=True, type=CHOICE,
                  choices=tuple(c for c in InteractionKind.choices if c[0] != InteractionKind.SURVEY),
                  help="Order, return, payment, support call / e-mail (a ticket), complaint, visit, ... "
                       "(survey answers have their own import).",
                  aliases=("kind", "type", "interaction type", "interaction kind", "activity", "event",
                           "transaction type", "document type", "typ", "art", "belegart"),
                  synonyms=_KIND_SYNONYMS),
        FieldSpec("occurred_at", "Date", required=True, type=DATETIME,
                  help="When it happened; a date without time means midnight.",
                  aliases=("occurred at", "occurred_at", "date", "datetime", "timestamp", "created", "created at",
                           "order date", "event date", "transaction date", "time", "datum", "belegdatum")),
        INTERACTION_CHANNEL,
        FieldSpec("amount", "Amount", type=DECIMAL, minimum=0,
                  help="Net revenue of an order or renewal, refund of a return, cash of a payment (never "
                       "negative).",
                  aliases=("amount", "net amount", "value", "revenue", "total", "net", "price", "net revenue",
                           "betrag", "nettobetrag")),
        FieldSpec("direct_cost", "Direct cost", type=DECIMAL, minimum=0,
                  help="Cost of goods sold (or of goods back in stock for a return). Blank: the product's unit "
                       "cost × quantity.",
                  aliases=("direct cost", "direct_cost", "cost", "cogs", "cost of goods")),
        FieldSpec("quantity", "Quantity", type=INT, minimum=0, maximum=2_147_483_647,
                  aliases=("quantity", "qty", "units", "menge", "anzahl")),
        FieldSpec("product_sku", "Product SKU", max_length=60, help="SKU of a product known to Tierwise.",
                  aliases=("product sku", "product_sku", "sku", "product", "item", "article", "item number",
                           "product code", "artikel", "artikelnummer")),
        FieldSpec("due_on", "Due on", type=DATE, help="Invoice due date (payments).",
                  aliases=("due on", "due_on", "due date", "due", "payment due")),
        FieldSpec("note", "Note", aliases=("note", "notes", "description", "comment", "subject", "memo", "notiz",
                                           "bemerkung")),
    ],
    ImportKind.SURVEY_ANSWERS: [
        _external_id("survey answer", "response id", "answer id", "survey id"),
        ACCOUNT_REF,
        FieldSpec("score", "NPS score", required=True, type=INT, minimum=0, maximum=10,
                  help="Net Promoter Score answer, 0–10.",
                  aliases=("score", "nps", "nps score", "rating", "answer")),
        FieldSpec("answered_at", "Answered at", required=True, type=DATETIME,
                  aliases=("answered at", "answered_at", "date", "submitted", "submitted at", "response date",
                           "timestamp")),
        FieldSpec("comment", "Comment", aliases=("comment", "comments", "feedback", "verbatim", "reason")),
        FieldSpec("contact_external_id", "Contact external id", max_length=100,
                  help="The answering contact's id in the same source system (optional).",
                  aliases=("contact external id", "contact_external_id", "contact id", "contact_id",
                           "respondent id")),
        INTERACTION_CHANNEL,
    ],
    ImportKind.MARKETING_SPEND: [
        FieldSpec("channel", "Channel", required=True, max_length=80,
                  help="Channel name; an unknown name creates the channel.",
                  aliases=("channel", "marketing channel", "source", "campaign channel")),
        FieldSpec("month", "Month", required=True, type=MONTH,
                  help="The month the spend belongs to (2025-03, 03/2025 or any date in it).",
                  aliases=("month", "period", "date", "spend month")),
        FieldSpec("amount", "Amount", required=True, type=DECIMAL, minimum=0,
                  aliases=("amount", "spend", "cost", "budget", "spent", "value", "total")),
    ],
}


def field_map(kind: str) -> dict[str, FieldSpec]:
    """The kind's fields by name (raises ``KeyError`` for an unknown kind)."""
    return {spec.name: spec for spec in FIELDS[kind]}


def key_fields(kind: str) -> tuple[str, ...]:
    """The fields that identify a record of ``kind`` within its source system."""
    return ("channel", "month") if kind == ImportKind.MARKETING_SPEND else ("external_id",)
