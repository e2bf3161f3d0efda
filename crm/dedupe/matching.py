"""Pure matching rules for duplicate accounts: normalise names, web domains, tax ids and phones, score a pair.

No Django or database in here: the scan (``crm.dedupe.scan``) stores the normalised keys, blocks pairs on
them in SQL and calls :func:`pair_score` on each blocked pair.

The score (0–100) adds evidence and subtracts contradictions:

- names: 0–60 points, from nothing at 60 % alike to 60 at 100 % alike (after normalisation). Similarity is
  the mean of rapidfuzz's token-sort ratio and a token overlap in which words that many companies share
  ("Components", "Logistics", "Global") count a quarter of a distinctive word, so two companies that share
  only common words ("Atlas Precision Components" / "Apex Precision Components") stay low; numbers that
  differ ("Atlas 2" / "Atlas 3") cap it at 50 %;
- the same tax id +50, the same registrable web domain +30, the same phone number +20;
- two different tax ids −35 (two legal entities), two different web domains −10, two different countries −10.

A pair scoring :data:`MIN_SCORE` or more is proposed for review.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz

MIN_SCORE = 50

NAME_POINTS = 60
NAME_FLOOR = 60.0  # % alike below which a name adds nothing
TAX_POINTS = 50
DOMAIN_POINTS = 30
PHONE_POINTS = 20
TAX_CONFLICT = 35
DOMAIN_CONFLICT = 10
COUNTRY_CONFLICT = 10

COMMON_WEIGHT = 0.25
TOKEN_MATCH = 80  # rapidfuzz ratio at which two words count as the same word (typos; plurals are folded)

# Legal forms, as tokens after normalisation (dots removed: "B.V." → "bv", "S.à r.l." → "sarl").
LEGAL_FORMS = frozenset({
    "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "ug", "ev", "se", "co", "and", "cie",
    "ltd", "limited", "plc", "llp", "lp", "llc", "inc", "incorporated", "corp", "corporation", "company",
    "sa", "sas", "sasu", "sarl", "sca", "sl", "slu", "srl", "spa", "sapa", "lda", "bv", "nv", "vof", "cv",
    "ab", "as", "asa", "aps", "oy", "oyj", "hf", "ehf", "kft", "zrt", "rt", "sro", "doo", "dd", "ad",
    "pty", "pte", "pvt", "bhd", "sdn", "kk", "gk", "sp", "zoo", "spzoo",
})  # fmt: skip
# Words so common in company names that sharing them says little (the scan adds the book's own common words).
COMMON_WORDS = frozenset({
    "the", "group", "holding", "holdings", "international", "global", "worldwide", "services", "service",
    "solutions", "systems", "technologies", "technology", "tech", "industries", "industrial", "industry",
    "trading", "logistics", "components", "supply", "supplies", "manufacturing", "products", "partners",
    "consulting", "enterprises", "europe", "european", "america", "north", "south", "east", "west", "central",
    "general", "national", "united", "digital", "energy", "engineering", "management", "retail", "wholesale",
    "distribution", "transport", "construction", "medical", "health", "foods", "motors", "automotive",
})  # fmt: skip
# Domains shared by unrelated companies: a match on them proves nothing.
SHARED_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com",
    "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "proton.me",
    "protonmail.com", "mail.com", "orange.fr", "free.fr", "libero.it", "example.com", "linkedin.com",
    "facebook.com",
})  # fmt: skip
# Second-level public suffixes under which the registrable domain has three labels.
SECOND_LEVEL_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk", "com.au", "net.au", "org.au",
    "co.nz", "org.nz", "co.jp", "or.jp", "ne.jp", "co.za", "com.br", "com.mx", "com.cn", "com.tr", "co.in",
    "co.kr", "com.sg", "com.hk", "co.il", "com.ar", "com.tw", "com.my", "co.id", "co.th", "com.pl", "co.at",
    "or.at", "com.es", "com.pt", "com.gr", "com.cy", "co.hu",
})  # fmt: skip
TAX_PLACEHOLDERS = frozenset({"NA", "NONE", "UNKNOWN", "TBD", "NULL", "N", "0"})
# ITU country calling codes of the countries Tierwise's customers mostly sit in, longest first when matched.
CALLING_CODES = frozenset({
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "54", "55", "56", "57", "60", "61", "62", "63", "64", "65", "66", "81", "82",
    "84", "86", "90", "91", "92", "351", "352", "353", "354", "356", "357", "358", "359", "370", "371",
    "372", "380", "385", "386", "420", "421", "852", "886", "971", "972", "966",
})  # fmt: skip
EU_VAT_ALIASES = {"EL": "GR"}  # Greek VAT numbers start with EL, the ISO code is GR

_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa",
                                "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
_JOINERS = re.compile(r"[.'’`´]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_DIGITS = re.compile(r"\D")
_EXTENSION = re.compile(r"(?:ext\.?|x|#|durchwahl)\s*\d+\s*$", re.IGNORECASE)


# --- normalising -------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case, German/Nordic letters spelt out (ü → ue), other accents dropped (é → e)."""
    text = text.lower().translate(_TRANSLITERATE)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def name_tokens(name: str) -> list[str]:
    """The words of a company name without case, accents, punctuation and trailing legal forms.

    "ACME Industrial Supplies GmbH & Co. KG" → ["acme", "industrial", "supplies"]. A name that is nothing but
    a legal form keeps it (so it never normalises to nothing).
    """
    text = _JOINERS.sub("", _fold(name or "").replace("&", " and ").replace("+", " and "))
    text = re.sub(r"\b([a-z])/([a-z])\b", r"\1\2", text)  # "a/s" → "as"
    tokens = [t for t in _NON_WORD.split(text) if t]
    while len(tokens) > 1 and tokens[-1] in LEGAL_FORMS:
        tokens.pop()
    if tokens and tokens[0] == "the" and len(tokens) > 1:
        tokens = tokens[1:]
    return tokens


def normalise_name(name: str) -> str:
    """The name's words (see :func:`name_tokens`) joined by single spaces: the key stored and blocked on."""
    return " ".join(name_tokens(name))


def normalise_domain(value: str) -> str:
    """The registrable domain of a web address or e-mail address, or "" when there is none worth comparing.

    "https://www.Acme.co.uk/contact" → "acme.co.uk"; "sales@acme.com" → "acme.com"; free-mail and other
    shared domains (gmail.com, ...) → "".
    """
    text = _fold((value or "").strip())
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    text = _SCHEME.sub("", text)
    host = re.split(r"[/?#]", text, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    labels = [label for label in host.split(".") if label]
    if len(labels) < 2 or not all(re.fullmatch(r"[a-z0-9-]+", label) for label in labels):
        return ""
    last_two = ".".join(labels[-2:])
    if last_two in SECOND_LEVEL_SUFFIXES:
        if len(labels) < 3:
            return ""
        domain = ".".join(labels[-3:])
    else:
        domain = last_two
    return "" if domain in SHARED_DOMAINS else domain


def normalise_tax_id(value: str, country: str = "") -> str:
    """A tax / VAT id without spaces and punctuation, always with its country prefix, or "" if it is none.

    "DE 123 456 789" → "DE123456789"; "123456789" of a German account → "DE123456789"; US EIN "12-3456789" →
    "US123456789"; "n/a", "000000" → "".
    """
    text = re.sub(r"[^A-Z0-9]", "", _fold(value or "").upper())
    if text in TAX_PLACEHOLDERS or not text or set(text) <= {"0"}:
        return ""
    prefix = text[:2]
    if prefix.isalpha() and len(text) > 2:
        prefix = EU_VAT_ALIASES.get(prefix, prefix)
        body = text[2:]
    else:
        prefix, body = (EU_VAT_ALIASES.get(country.upper(), country.upper()) if country else ""), text
    if sum(c.isdigit() for c in body) < 5 or set(body) <= {"0"}:
        return ""
    return f"{prefix}{body}"


def normalise_phone(value: str) -> str:
    """The national significant number of a phone number (digits only), or "" if too short to identify.

    The international prefix (``+`` or ``00``) and a known country calling code are dropped, as is a national
    trunk ``0``: "+49 (0)30 1234-567" → "301234567", "030 1234567" → "301234567", "0049 30 1234567" →
    "301234567". An extension ("x 12") is ignored.
    """
    text = _EXTENSION.sub("", (value or "").strip())
    text = text.replace("(0)", "")
    international = text.startswith("+") or text.startswith("00")
    digits = _DIGITS.sub("", text)
    if international:
        digits = digits[2:] if digits.startswith("00") else digits
        for size in (3, 2, 1):
            if digits[:size] in CALLING_CODES:
                digits = digits[size:]
                break
    digits = digits.lstrip("0")
    return digits if len(digits) >= 6 else ""


# --- scoring -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What the matcher knows of one account (raw values for the reasons, normalised keys for comparing)."""

    name: str
    name_key: str
    domain: str = ""
    tax_id: str = ""
    phone: str = ""
    country: str = ""


def record_for(*, name: str, web_domain: str = "", tax_id: str = "", phone: str = "", country: str = "") -> Record:
    """A :class:`Record` with its keys normalised from raw account values."""
    return Record(
        name=name, name_key=normalise_name(name), domain=normalise_domain(web_domain),
        tax_id=normalise_tax_id(tax_id, country), phone=normalise_phone(phone), country=(country or "").upper(),
    )


@dataclass(frozen=True)
class PairScore:
    score: Decimal  # 0–100, two places
    name_similarity: float  # 0–100
    reasons: tuple[str, ...]

    @property
    def is_candidate(self) -> bool:
        return self.score >= MIN_SCORE


def _singular(token: str) -> str:
    """A crude English singular, enough for company words: "supplies" → "supply", "motors" → "motor"."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _numbers(tokens: list[str]) -> set[str]:
    return {t for t in tokens if t.isdigit()}


def name_similarity(a: str, b: str, common: Collection[str] = ()) -> float:
    """How alike two normalised names are, 0–100 (see the module docstring)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 100.0
    ta, tb = a.split(), b.split()
    sort_ratio = fuzz.token_sort_ratio(a, b)

    def weight(token: str) -> float:
        return COMMON_WEIGHT if token in COMMON_WORDS or token in common else 1.0

    def matched(left: list[str], right: list[str]) -> float:
        total = 0.0
        for token in left:
            if token.isdigit():  # numbers match exactly or not at all: "Atlas 2" is not "Atlas 3"
                best = 100.0 if token in right else 0.0
            else:
                best = max((fuzz.ratio(_singular(token), _singular(other)) for other in right if not other.isdigit()),
                           default=0.0)
            if best >= TOKEN_MATCH:
                total += weight(token) * best / 100
        return total

    weights = sum(weight(t) for t in ta) + sum(weight(t) for t in tb)
    overlap = 100 * (matched(ta, tb) + matched(tb, ta)) / weights
    similarity = (sort_ratio + overlap) / 2
    na, nb = _numbers(ta), _numbers(tb)
    if na and nb and na != nb:
        similarity = min(similarity, 50.0)
    return round(similarity, 1)


def _identifier_shared(a: Record, b: Record) -> bool:
    return bool(a.tax_id and a.tax_id == b.tax_id or a.domain and a.domain == b.domain
                or a.phone and a.phone == b.phone)


# A pair sharing no identifier needs its names ≥ this % alike to reach MIN_SCORE; as the name similarity is
# the mean of the token-sort ratio and an overlap of at most 100, the token-sort ratio must reach twice that
# minus 100.
_NAME_ONLY_MIN_SIMILARITY = NAME_FLOOR + (100 - NAME_FLOOR) * MIN_SCORE / NAME_POINTS
_NAME_ONLY_MIN_SORT_RATIO = 2 * _NAME_ONLY_MIN_SIMILARITY - 100


def cannot_match(a: Record, b: Record) -> bool:
    """True when the pair surely scores below :data:`MIN_SCORE` (one cheap ratio instead of a full score)."""
    if _identifier_shared(a, b):
        return False
    return fuzz.token_sort_ratio(a.name_key, b.name_key, score_cutoff=_NAME_ONLY_MIN_SORT_RATIO) == 0


def pair_score(a: Record, b: Record, *, common: Collection[str] = ()) -> PairScore:
    """Score two accounts as the same company, with the reasons in words (strongest evidence first)."""
    reasons: list[str] = []
    points = 0.0
    if a.tax_id and a.tax_id == b.tax_id:
        points += TAX_POINTS
        reasons.append(f"same tax id {a.tax_id}")
    if a.domain and a.domain == b.domain:
        points += DOMAIN_POINTS
        reasons.append(f"same web domain {a.domain}")
    if a.phone and a.phone == b.phone:
        points += PHONE_POINTS
        reasons.append(f"same phone number …{a.phone[-6:]}")

    similarity = name_similarity(a.name_key, b.name_key, common)
    points += max(0.0, min(1.0, (similarity - NAME_FLOOR) / (100 - NAME_FLOOR))) * NAME_POINTS
    if similarity >= 100:
        reasons.append(f"same name once legal forms and punctuation are ignored: '{a.name}' / '{b.name}'")
    elif similarity >= NAME_FLOOR:
        reasons.append(f"names {similarity:.0f} % alike: '{a.name}' / '{b.name}'")

    if a.tax_id and b.tax_id and a.tax_id != b.tax_id:
        points -= TAX_CONFLICT
        reasons.append(f"but different tax ids {a.tax_id} / {b.tax_id}")
    if a.domain and b.domain and a.domain != b.domain:
        points -= DOMAIN_CONFLICT
        reasons.append(f"but different web domains {a.domain} / {b.domain}")
    if a.country and b.country and a.country != b.country:
        points -= COUNTRY_CONFLICT
        reasons.append(f"but different countries {a.country} / {b.country}")
    score = Decimal(str(round(max(0.0, min(100.0, points)), 2))).quantize(Decimal("0.01"))
    return PairScore(score=score, name_similarity=similarity, reasons=tuple(reasons))


# --- blocking ----------------------------------------------------------------------------------------------

IDENTIFIER_PREFIXES = ("t:", "d:", "p:")


def block_keys(record: Record) -> list[str]:
    """The keys a scan joins accounts on: two accounts sharing any key become a pair to score.

    ``t:`` tax id, ``d:`` web domain, ``p:`` phone; ``n:`` the whole normalised name, ``s:`` its distinctive
    words sorted (word order and common words ignored), ``w:`` each distinctive word and ``b:`` each pair of
    adjacent words. Keys shared by too many accounts are skipped by the scan (they identify nobody).
    """
    keys = []
    if record.tax_id:
        keys.append(f"t:{record.tax_id}")
    if record.domain:
        keys.append(f"d:{record.domain}")
    if record.phone:
        keys.append(f"p:{record.phone}")
    tokens = record.name_key.split()
    if tokens:
        keys.append(f"n:{record.name_key}")
        distinctive = sorted({t for t in tokens if t not in COMMON_WORDS and not t.isdigit() and len(t) >= 3})
        if distinctive:
            keys.append(f"s:{' '.join(distinctive)}")
        keys += [f"w:{t}" for t in distinctive]
        keys += [f"b:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    return list(dict.fromkeys(k[:200] for k in keys))


def blocked_pairs(keys_by_account: dict[int, list[str]], *, name_cap: int, id_cap: int,
                  scope: Collection[int] | None = None) -> set[tuple[int, int]]:
    """Pairs (low id, high id) of accounts sharing a block key whose block is small enough.

    The portable twin of the scan's SQL (used on databases without it, and to test the rule).
    ``scope``: only pairs with at least one of these accounts.
    """
    blocks: dict[str, list[int]] = {}
    for account_id, keys in keys_by_account.items():
        for key in keys:
            blocks.setdefault(key, []).append(account_id)
    pairs: set[tuple[int, int]] = set()
    for key, ids in blocks.items():
        cap = id_cap if key.startswith(IDENTIFIER_PREFIXES) else name_cap
        if not 2 <= len(ids) <= cap:
            continue
        ids = sorted(ids)
        for i, low in enumerate(ids):
            for high in ids[i + 1:]:
                if scope is None or low in scope or high in scope:
                    pairs.add((low, high))
    return pairs
