"""Urgency and sentiment of a service case's text — pure Python, no Django, nothing downloaded at run time.

Sentiment is VADER's compound score (Hutto & Gilbert 2014, the ``vaderSentiment`` package, whose lexicon
ships inside the wheel), from −1 (most negative) to +1 (most positive). VADER was built on social-media
text, where "urgent" reads as exciting; :data:`DOMAIN_VALENCE` corrects the handful of words whose meaning
in a customer complaint is clearly negative.

Urgency is a number from 0 to 1, a weighted sum of four parts, each itself from 0 to 1::

    urgency = 0.35 · keywords + 0.30 · negativity + 0.10 · emphasis + 0.25 · severity

- **keywords**: urgency words and phrases (:data:`KEYWORDS`, each with a weight from 0 to 1) combined as a
  noisy-OR, ``1 − Π(1 − wᵢ)`` over the distinct keywords found, so one "outage" counts fully and several
  mild words add up without passing 1. A keyword right after a negation ("not urgent", "no outage") does
  not count; a phrase beats the single words inside it ("line down", not "down").
- **negativity**: ``max(0, −compound)``; positive or neutral text adds nothing.
- **emphasis**: the mean of ``min(exclamation marks, 3) / 3`` and ``min(shouted words, 3) / 3``, where a
  shouted word is written in capitals and is at least four letters long or an urgency keyword (so "EDI"
  or "SKU" are not shouting, "URGENT" and "ASAP" are).
- **severity**: the severity the case was logged with: low 0, medium ⅓, high ⅔, critical 1.

The weights make the text decide between cases of the same severity while severity still separates a
calm critical case from an angry low one. :func:`score_case_text` returns the score with its reasons, the
words that triggered it, so a page can explain why a case looks urgent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

WEIGHTS = {"keywords": 0.35, "negativity": 0.30, "emphasis": 0.10, "severity": 0.25}

SEVERITY_WEIGHT = {"low": 0.0, "medium": 1 / 3, "high": 2 / 3, "critical": 1.0}

#: (pattern, weight). Patterns are matched case-insensitively on word boundaries; ``\w*`` catches forms.
KEYWORDS: tuple[tuple[str, float], ...] = (
    # the customer's operations are stopped
    (r"outages?", 1.0),
    (r"emergency", 1.0),
    (r"(?:production|line|site|plant|system|server|portal|website|edi)s? (?:is |are )?down", 1.0),
    (r"production (?:stop|stopped|halted|standstill)", 1.0),
    (r"down", 0.6),
    (r"stopped", 0.7),
    (r"standstill", 0.8),
    (r"safety", 0.8),
    (r"injur\w*", 1.0),
    # time pressure
    (r"urgent\w*", 0.7),
    (r"asap", 0.7),
    (r"as soon as possible", 0.7),
    (r"immediately", 0.6),
    (r"right away", 0.6),
    (r"deadline", 0.5),
    (r"critical", 0.6),
    # it does not work
    (r"cannot", 0.6),
    (r"can'?t", 0.6),
    (r"unable", 0.6),
    (r"not working", 0.6),
    (r"broken", 0.5),
    (r"fail\w*", 0.5),
    # the relationship is at risk
    (r"legal", 0.7),
    (r"lawyers?", 0.8),
    (r"lawsuit", 0.9),
    (r"cancel\w*", 0.6),
    (r"terminat\w*", 0.6),
    (r"escalat\w*", 0.5),
    (r"unacceptable", 0.5),
    # something went wrong
    (r"late", 0.3),
    (r"delay\w*", 0.3),
    (r"wrong", 0.3),
    (r"damaged", 0.3),
    (r"defective", 0.4),
    (r"missing", 0.3),
    (r"lost", 0.3),
    (r"again", 0.2),
    (r"refund\w*", 0.3),
)

#: Words VADER scores by their social-media meaning that are negative in a complaint (VADER's scale, −4..4).
DOMAIN_VALENCE = {
    "urgent": -1.0,
    "urgently": -1.0,
    "asap": -1.0,
    "outage": -2.5,
    "outages": -2.5,
    "down": -1.2,
    "defective": -1.8,
    "damaged": -1.6,
    "late": -0.8,
    "delayed": -1.0,
    "missing": -1.0,
    "legal": -0.5,
    "lawyer": -1.0,
    "escalate": -1.0,
}

NEGATIONS = frozenset({"not", "no", "never", "isn't", "isnt", "wasn't", "wasnt", "without", "non"})
ACRONYM_MIN_LETTERS = 4
EMPHASIS_CAP = 3
LABELS = ((0.6, "High"), (0.35, "Medium"), (0.0, "Low"))

_KEYWORD_RE = [(re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE), weight) for pattern, weight in KEYWORDS]
_TOKEN_RE = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True)
class TextScore:
    """The urgency (0..1) and sentiment (−1..1) of a case, and why."""

    urgency: float
    sentiment: float
    keywords: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return urgency_label(self.urgency)


def urgency_label(urgency: float | None) -> str:
    """"High" (≥ 0.6), "Medium" (≥ 0.35) or "Low"; "Not scored" without a score."""
    if urgency is None:
        return "Not scored"
    return next(label for floor, label in LABELS if urgency >= floor)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()  # reads the lexicon shipped in the package
    analyzer.lexicon.update(DOMAIN_VALENCE)
    return analyzer


def sentiment_compound(text: str) -> float:
    """VADER's compound score of ``text`` with the domain corrections, −1..1 (0 for empty text)."""
    if not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])


def _negated(text: str, start: int) -> bool:
    before = _TOKEN_RE.findall(text[max(0, start - 30):start].lower())
    return bool(before) and before[-1] in NEGATIONS


def find_keywords(text: str) -> list[tuple[str, float]]:
    """Urgency keywords in ``text`` in reading order as ``(matched words, weight)``; longest match wins."""
    found: list[tuple[int, int, str, float]] = []
    for regex, weight in _KEYWORD_RE:
        for match in regex.finditer(text):
            found.append((match.start(), match.end(), match.group(0).lower(), weight))
    found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    taken: list[tuple[str, float]] = []
    end = -1
    for start, stop, words, weight in found:
        if start < end:  # inside a longer phrase already taken
            continue
        end = stop
        if not _negated(text, start):
            taken.append((words, weight))
    return taken


def _shouted_words(text: str, keywords: set[str]) -> list[str]:
    words = []
    for token in _TOKEN_RE.findall(text):
        letters = token.replace("'", "")
        if letters.isupper() and (len(letters) >= ACRONYM_MIN_LETTERS or letters.lower() in keywords):
            words.append(token)
    return words


def score_case_text(*, subject: str, body: str, severity: str) -> TextScore:
    """Score a case's subject and body (see the module docstring for the formula).

    ``severity`` is one of ``low``, ``medium``, ``high``, ``critical``. Deterministic and pure.
    """
    if severity not in SEVERITY_WEIGHT:
        raise ValueError(f"unknown severity {severity!r}")
    text = f"{subject.strip()}. {body.strip()}" if body.strip() else subject.strip()

    matches = find_keywords(text)
    distinct: dict[str, float] = {}
    for words, weight in matches:
        distinct.setdefault(words, weight)
    missing = 1.0
    for weight in distinct.values():
        missing *= 1.0 - weight
    keyword_part = 1.0 - missing

    compound = sentiment_compound(text)
    negativity = max(0.0, -compound)

    exclamations = text.count("!")
    keyword_words = {w for words in distinct for w in words.split()}
    shouted = _shouted_words(text, keyword_words | {"asap"})
    emphasis = (min(exclamations, EMPHASIS_CAP) / EMPHASIS_CAP + min(len(shouted), EMPHASIS_CAP) / EMPHASIS_CAP) / 2

    severity_part = SEVERITY_WEIGHT[severity]
    urgency = (
        WEIGHTS["keywords"] * keyword_part
        + WEIGHTS["negativity"] * negativity
        + WEIGHTS["emphasis"] * emphasis
        + WEIGHTS["severity"] * severity_part
    )

    reasons = [f"says “{words}”" for words in distinct]
    if compound <= -0.05:
        reasons.append(f"negative tone ({compound:+.2f})".replace("-", "−"))
    if exclamations:
        reasons.append(f"{exclamations} exclamation mark{'s' if exclamations != 1 else ''}")
    if shouted:
        reasons.append("capitals: " + ", ".join(dict.fromkeys(shouted)))
    if severity_part > 0:
        reasons.append(f"severity {severity}")
    return TextScore(
        urgency=round(min(1.0, urgency), 3),
        sentiment=round(compound, 3),
        keywords=tuple(distinct),
        reasons=tuple(reasons),
    )
