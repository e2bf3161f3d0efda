"""Reading one cell's text as a typed value: numbers, money, dates, e-mails. Pure functions, no ORM.

Each parser takes the stripped, non-empty text and raises :class:`ValueError` whose message is the reason a
user reads in the rejects file ("not a number", "day 31 does not exist in April").
"""

import re
from datetime import UTC, date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..countries import country_code_error

CENT = Decimal("0.01")
MONEY_LIMIT = Decimal("1000000000000")  # 14 digits, 2 of them decimals (crm.models.MONEY)

_CURRENCY = re.compile(r"^(?:[A-Za-z]{3}|[€$£¥₣₹₽₩₺]|CHF|Fr\.)\s*|\s*(?:[A-Za-z]{3}|[€$£¥₣₹₽₩₺]|CHF|Fr\.)$")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'’")  # thousands separators: spaces, apostrophes
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


def parse_decimal(text: str, decimal_separator: str = ".") -> Decimal:
    """A number written as people and exports write it: ``1.234,50`` or ``1,234.50``, ``€ 12``, ``(5.00)``.

    ``decimal_separator`` is ``"."`` or ``","``; the other one (and spaces, apostrophes) may group thousands.
    Accounting negatives (``(5.00)``, ``5.00-``) and a leading sign are understood. Not rounded here.
    """
    s = text.strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    s = _CURRENCY.sub("", s).strip()
    if s.endswith("-"):
        negative, s = True, s[:-1].rstrip()
    if s and s[0] in "+-":
        negative, s = negative or s[0] == "-", s[1:].lstrip()
    s = _CURRENCY.sub("", s).translate(_SPACES)
    if not (s.isdigit() if decimal_separator == "," else _PLAIN_NUMBER.match(s)):
        if decimal_separator == "." and re.fullmatch(r"\d+,\d{1,2}", s):
            raise ValueError(f"not a number: '{text}' (the file's decimal separator is set to '.')")
        thousands = "," if decimal_separator == "." else "."
        whole, sep, fraction = s.rpartition(decimal_separator)
        if not sep:
            whole, fraction = s, ""
        if thousands in whole:
            if not _GROUPED.match(whole):
                raise ValueError(f"not a number: '{text}'")
            whole = whole.replace(thousands, "")
        s = f"{whole}.{fraction}" if fraction else whole
        if not _PLAIN_NUMBER.match(s):
            raise ValueError(f"not a number: '{text}'")
    try:
        value = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regex admits only digits and one dot
        raise ValueError(f"not a number: '{text}'") from None
    return -value if negative else value


_SIMPLE_MONEY = {".": re.compile(r"\d{1,12}(?:\.\d{1,2})?"), ",": re.compile(r"\d{1,12}(?:,\d{1,2})?")}


def parse_money(text: str, decimal_separator: str = ".", *, minimum: int | None = 0) -> Decimal:
    """Money rounded half-up to cents, within the model's 14 digits; never negative unless ``minimum`` is None."""
    if _SIMPLE_MONEY[decimal_separator].fullmatch(text):  # the common case, without the general parser
        return Decimal(text.replace(",", ".") if decimal_separator == "," else text).quantize(CENT)
    value = parse_decimal(text, decimal_separator).quantize(CENT, rounding=ROUND_HALF_UP)
    if minimum is not None and value < minimum:
        raise ValueError(f"must not be negative (got {value}); enter refunds and returns as positive amounts")
    if abs(value) >= MONEY_LIMIT:
        raise ValueError(f"too large: {value} (at most 999,999,999,999.99)")
    return value


def parse_int(text: str, decimal_separator: str = ".") -> int:
    """A whole number; ``3.0`` and ``1,000`` (with the other separator grouping) are accepted."""
    if text.isascii() and text.isdigit():  # the common case, without the general parser
        return int(text)
    value = parse_decimal(text, decimal_separator)
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number: '{text}'")
    return int(value)


_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january", "jän", "januar", "janv", "janvier", "gen", "ene"),
    ("feb", "february", "februar", "fév", "fev", "février"),
    ("mar", "march", "mär", "märz", "maerz", "mars"),
    ("apr", "april", "avr", "avril"),
    ("may", "mai"),
    ("jun", "june", "juni", "juin"),
    ("jul", "july", "juli", "juil", "juillet"),
    ("aug", "august", "août", "aout"),
    ("sep", "sept", "september", "septembre"),
    ("oct", "october", "okt", "oktober", "octobre"),
    ("nov", "november", "novembre"),
    ("dec", "december", "dez", "dezember", "déc", "décembre"),
), start=1) for m in names}

_NUMERIC_DATE = re.compile(r"^(\d{1,4})([-./])(\d{1,2})\2(\d{1,4})$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})\.?[\s\-/]*([^\W\d_]+)\.?[\s\-/,]*(\d{2}|\d{4})$")
_MONTH_NAME_DAY = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_TIME = re.compile(
    r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?\s*([AaPp][Mm])?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
ORDERS = {"ymd": "year-month-day", "dmy": "day/month/year", "mdy": "month/day/year"}


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:  # two-digit years: 00–69 are 2000s, 70–99 the 1900s
        year += 2000 if year < 70 else 1900
    elif len(text) != 4:
        raise ValueError
    return year


def _make_date(year: int, month: int, day: int, text: str, order: str) -> date:
    if not 1 <= month <= 12:
        hint = f" (dates are read as {ORDERS[order]})" if order != "ymd" else ""
        raise ValueError(f"not a valid date: '{text}' — month {month} does not exist{hint}")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"not a valid date: '{text}' — day {day} does not exist in that month") from None


def parse_date(text: str, date_order: str = "dmy") -> date:
    """A calendar date: ISO ``2025-03-01``, ``01.03.2025``, ``01/03/2025`` or ``03/01/2025`` per ``date_order``
    (``"dmy"`` or ``"mdy"``; a four-digit first part is always year-month-day), ``20250301``,
    ``1 Mar 2025``, ``March 1, 2025``. A time after the date is not allowed here (see :func:`parse_datetime`).
    """
    s = text.strip()
    if m := _NUMERIC_DATE.match(s):
        a, sep, b, c = m.groups()
        try:
            if len(a) == 4:
                return _make_date(int(a), int(b), int(c), text, "ymd")
            if len(a) > 2 or len(c) not in (2, 4):
                raise ValueError
            year = _year(c)
        except ValueError as error:
            if str(error):
                raise
            raise ValueError(f"not a date: '{text}'") from None
        if date_order == "mdy" and sep != ".":
            return _make_date(year, int(a), int(b), text, "mdy")
        return _make_date(year, int(b), int(a), text, "dmy")
    if m := _COMPACT_DATE.match(s):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), text, "ymd")
    m = _DAY_MONTH_NAME.match(s)
    if m and m[2].lower() in _MONTHS:
        return _make_date(_year(m[3]), _MONTHS[m[2].lower()], int(m[1]), text, "ymd")
    m = _MONTH_NAME_DAY.match(s)
    if m and m[1].lower() in _MONTHS:
        return _make_date(int(m[3]), _MONTHS[m[1].lower()], int(m[2]), text, "ymd")
    raise ValueError(f"not a date: '{text}'")


def _parse_time(text: str, whole: str) -> tuple[time, tzinfo | None]:
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"not a date and time: '{whole}'")
    hour, minute = int(m[1]), int(m[2])
    second = int(m[3] or 0)
    micro = int((m[4] or "0").ljust(6, "0"))
    if m[5]:
        if not 1 <= hour <= 12:
            raise ValueError(f"not a valid time: '{whole}'")
        hour = hour % 12 + (12 if m[5].lower() == "pm" else 0)
    zone: tzinfo | None = None
    if m[6]:
        zone = UTC if m[6] == "Z" else datetime.strptime(m[6].replace(":", ""), "%z").tzinfo
    try:
        return time(hour, minute, second, micro), zone
    except ValueError:
        raise ValueError(f"not a valid time: '{whole}'") from None


def parse_datetime(text: str, date_order: str = "dmy", default_tz: tzinfo = UTC) -> datetime:
    """A moment: any date :func:`parse_date` reads, optionally followed (after ``T`` or a space) by a time
    ``HH:MM[:SS[.ffffff]]`` with optional AM/PM and ``Z``/``±HH:MM``. No time means midnight; no zone means
    ``default_tz`` (the installation's time zone). Always returns an aware datetime.
    """
    s = text.strip()
    try:  # the fast path: ISO 8601 as databases and APIs write it
        value = datetime.fromisoformat(s)
    except ValueError:
        value = None
    if value is None:
        date_part, zone = s, None
        clock = time()
        m = re.match(r"^(\d{4}-\d{1,2}-\d{1,2})T(.+)$", s) or re.match(r"^(\S+(?:\s+\S+,?\s+\d{4})?)\s+(\d.*)$", s)
        if m and ":" in m[2]:
            date_part = m[1]
            clock, zone = _parse_time(m[2], text)
        try:
            day = parse_date(date_part, date_order)
        except ValueError as error:
            message = str(error)
            raise ValueError(message.replace("not a date:", "not a date and time:")) from None
        value = datetime.combine(day, clock, zone)
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    if not 1900 <= value.year <= 2999:
        raise ValueError(f"year {value.year} is out of range: '{text}'")
    return value


def parse_month(text: str, date_order: str = "dmy") -> date:
    """The first day of the month: ``2025-03``, ``03/2025``, ``03.2025``, ``Mar 2025`` or any date in it."""
    s = text.strip()
    if m := re.match(r"^(\d{4})[-/.](\d{1,2})$", s):
        year, month = int(m[1]), int(m[2])
    elif m := re.match(r"^(\d{1,2})[-/.](\d{4})$", s):
        year, month = int(m[2]), int(m[1])
    elif (m := re.match(r"^([^\W\d_]+)\.?[\s\-/]+(\d{4})$", s)) and m[1].lower() in _MONTHS:
        year, month = int(m[2]), _MONTHS[m[1].lower()]
    else:
        try:
            day = parse_datetime(s, date_order).date()
        except ValueError:
            raise ValueError(f"not a month: '{text}'") from None
        return day.replace(day=1)
    return _make_date(year, month, 1, text, "ymd")


_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]{2,}$")


def parse_email(text: str) -> str:
    """An e-mail address (checked for shape only: one ``@``, a dotted domain), lower-cased domain."""
    s = text.strip()
    if not _EMAIL.match(s) or ".." in s:
        raise ValueError(f"not an e-mail address: '{text}'")
    local, _, domain = s.rpartition("@")
    return f"{local}@{domain.lower()}"


def parse_country(text: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased."""
    error = country_code_error(text)
    if error:
        raise ValueError(error)
    return text.strip().upper()


def choice_lookup(choices: tuple[tuple[str, str], ...], synonyms: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """Lowercase spelling → stored value, for values, labels and synonyms (``_`` and ``-`` read as spaces)."""
    table: dict[str, str] = {}
    for spelling, value in (*synonyms, *((label, value) for value, label in choices), *((v, v) for v, _ in choices)):
        for key in {spelling.lower(), _loose(spelling)}:
            table[key] = value
    return table


def _loose(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").replace("/", " ").split())


def parse_choice(text: str, table: dict[str, str], choices: tuple[tuple[str, str], ...]) -> str:
    """The stored value of a choice written as its value, label or a synonym, case-insensitively."""
    s = text.strip()
    value = table.get(s.lower()) or table.get(_loose(s))
    if value is None:
        shown = ", ".join(label for _, label in choices[:12])
        raise ValueError(f"unknown value '{text}' (expected one of: {shown})")
    return value
