"""Urgency and sentiment of case text: pure functions, no database."""

import sys

import pytest

from crm.text_scoring import (
    WEIGHTS,
    TextScore,
    find_keywords,
    score_case_text,
    sentiment_compound,
    urgency_label,
)

FURIOUS = "URGENT production line down, cannot ship!!"
POLITE = "Could you please tell us how to change our invoice address? Thanks"


def test_it_ranks_a_furious_outage_above_a_polite_question_of_the_same_severity():
    furious = score_case_text(subject=FURIOUS, body="", severity="medium")
    polite = score_case_text(subject="Invoice address", body=POLITE, severity="medium")

    assert furious.urgency > polite.urgency
    assert furious.label == "High"
    assert polite.label == "Low"
    assert furious.sentiment < 0 < polite.sentiment


def test_it_lists_the_words_and_signals_that_raised_the_urgency():
    score = score_case_text(subject=FURIOUS, body="", severity="medium")

    assert score.keywords == ("urgent", "line down", "cannot")
    assert score.reasons[:3] == ("says “urgent”", "says “line down”", "says “cannot”")
    assert "2 exclamation marks" in score.reasons
    assert "capitals: URGENT" in score.reasons
    assert "severity medium" in score.reasons
    assert any(reason.startswith("negative tone (−0.") for reason in score.reasons)


def test_a_polite_question_gives_no_reason_but_its_severity():
    score = score_case_text(subject="Invoice address", body=POLITE, severity="medium")

    assert score.keywords == ()
    assert score.reasons == ("severity medium",)


def test_the_urgency_is_the_documented_weighted_sum():
    # No keywords, no shouting, no exclamation marks, neutral text: only the severity counts.
    calm = score_case_text(subject="Invoice address", body="Send the invoice to our new address", severity="high")
    assert calm.keywords == ()
    assert calm.sentiment >= 0
    assert calm.urgency == pytest.approx(round(WEIGHTS["severity"] * 2 / 3, 3))

    # One full-weight keyword on a low case with positive text: the keyword weight only (plus tone if any).
    outage = score_case_text(subject="Outage", body="", severity="low")
    negativity = max(0.0, -outage.sentiment)
    assert outage.urgency == pytest.approx(WEIGHTS["keywords"] * 1.0 + WEIGHTS["negativity"] * negativity, abs=1e-3)


def test_severity_separates_otherwise_identical_cases():
    scores = [score_case_text(subject="Late delivery", body="", severity=s).urgency
              for s in ("low", "medium", "high", "critical")]
    assert scores == sorted(scores)
    assert len(set(scores)) == 4
    assert scores[3] - scores[0] == pytest.approx(WEIGHTS["severity"], abs=1e-3)


def test_a_negated_keyword_does_not_count():
    assert find_keywords("This is not urgent and there is no outage") == []
    assert [w for w, _ in find_keywords("Outage again, urgent")] == ["outage", "again", "urgent"]


def test_a_phrase_wins_over_the_word_inside_it_and_repeats_count_once():
    score = score_case_text(subject="Portal is down", body="the portal is down, down, down", severity="low")
    assert score.keywords == ("portal is down", "down")


def test_acronyms_are_not_shouting_but_urgency_words_in_capitals_are():
    acronym = score_case_text(subject="EDI feed for SKU list", body="", severity="low")
    assert not any(r.startswith("capitals") for r in acronym.reasons)
    shouted = score_case_text(subject="Need this ASAP", body="", severity="low")
    assert "capitals: ASAP" in shouted.reasons


def test_scores_stay_in_range_and_are_deterministic():
    text = "OUTAGE!!! URGENT!!! CANNOT WORK!!! LAWSUIT!!! CANCEL!!! " * 5
    first = score_case_text(subject=text, body=text, severity="critical")
    assert first == score_case_text(subject=text, body=text, severity="critical")
    assert 0 <= first.urgency <= 1
    assert -1 <= first.sentiment <= 1
    empty = score_case_text(subject="", body="", severity="low")
    assert empty == TextScore(urgency=0.0, sentiment=0.0, keywords=(), reasons=())


def test_it_rejects_an_unknown_severity():
    with pytest.raises(ValueError, match="unknown severity"):
        score_case_text(subject="x", body="", severity="apocalyptic")


def test_urgency_labels():
    assert [urgency_label(u) for u in (None, 0.0, 0.349, 0.35, 0.599, 0.6, 1.0)] == [
        "Not scored", "Low", "Low", "Medium", "Medium", "High", "High"]


def test_the_domain_corrections_make_urgent_words_negative():
    assert sentiment_compound("urgent") < 0
    assert sentiment_compound("") == 0.0


def test_it_is_pure_it_imports_no_django():
    import importlib

    import crm.text_scoring as module

    source = importlib.util.find_spec("crm.text_scoring").origin
    with open(source, encoding="utf-8") as handle:
        assert "django" not in handle.read().split('"""', 2)[2]  # below the docstring
    module.sentiment_compound("x")  # loads the analyzer (lazily, on first use)
    assert "vaderSentiment.vaderSentiment" in sys.modules  # the lexicon came from the installed package
