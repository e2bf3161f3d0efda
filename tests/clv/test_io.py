"""CSV readers: the CDNOW fixture, and messages that name the line and column of bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from profitability.clv.io import read_summary_csv, read_summary_text, read_survival_csv, read_survival_text

DATA = Path(__file__).parent / "data"


def test_it_reads_the_cdnow_summary_from_a_path() -> None:
    summary = read_summary_csv(DATA / "cdnow_summary.csv")

    assert len(summary) == 2357
    assert summary.monetary_value is not None
    assert summary.frequency.sum() == 2457  # repeat transactions in the 39-week calibration period
    assert (summary.frequency[:3].tolist(), summary.recency[0], summary.T[0], summary.monetary_value[0]) == (
        [2, 1, 0],
        30.43,
        38.86,
        22.35,
    )
    assert int((summary.frequency > 0).sum()) == 946


def test_it_reads_a_text_stream_and_a_string_path_alike() -> None:
    from_path = read_summary_csv(str(DATA / "cdnow_summary.csv"))
    with open(DATA / "cdnow_summary.csv", newline="") as handle:
        from_stream = read_summary_csv(handle)
    np.testing.assert_array_equal(from_path.recency, from_stream.recency)


def test_monetary_value_is_optional_and_extra_columns_are_ignored() -> None:
    summary = read_summary_text("customer,frequency,recency,T,region\nacme,2,10.5,20,north\nbolt,0,0,20,south\n")
    assert summary.monetary_value is None
    assert summary.frequency.tolist() == [2.0, 0.0]
    assert summary.recency.tolist() == [10.5, 0.0]


def test_a_header_alone_is_an_empty_book_and_keeps_its_columns() -> None:
    summary = read_summary_text("frequency,recency,T,monetary_value\n")
    assert len(summary) == 0
    assert summary.monetary_value is not None and summary.monetary_value.size == 0


def test_blank_lines_and_a_byte_order_mark_are_tolerated() -> None:
    summary = read_summary_text("\ufefffrequency, recency ,T\n\n1,2,3\n\n0,0,4\n")
    assert summary.T.tolist() == [3.0, 4.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frequency,T\n1,2\n", "line 1: missing column(s) 'recency'; found 'frequency', 'T'"),
        ("", "empty CSV"),
        ("frequency,recency,T,T\n1,1,1,1\n", "line 1: duplicate column(s) T"),
        ("frequency,recency,T\n1,2,3\n2,abc,3\n", "line 3, column 'recency': 'abc' is not a number"),
        ("frequency,recency,T\n1,2,\n", "line 2, column 'T': '(empty)' is not a number"),
        ("frequency,recency,T\n1,2,3\n\n1,2,nan\n", "line 4, column 'T': 'nan' is not a finite number"),
        ("frequency,recency,T\n-1,0,3\n", "line 2, column 'frequency': -1 is negative"),
        ("frequency,recency,T\n1.5,1,3\n", "line 2, column 'frequency': 1.5 is not a whole number"),
        ("frequency,recency,T\n2,4,3.5\n", "line 2, column 'recency': recency 4 exceeds T 3.5"),
        ("frequency,recency,T\n0,1,3\n", "line 2, column 'recency': recency 1 with frequency 0"),
        ("frequency,recency,T\n1,1\n", "line 2, column 'T': missing value"),
        ("frequency,recency,T,monetary_value\n1,1,3,-5\n", "line 2, column 'monetary_value': -5 is negative"),
        ("frequency,recency,T,monetary_value\n2,1,3,0\n", "line 2, column 'monetary_value': 0 with frequency 2"),
    ],
)
def test_bad_summaries_are_refused_with_the_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        read_summary_csv(io.StringIO(text))
    assert message in str(error.value)


def test_a_customer_without_repeat_purchases_may_have_zero_spend() -> None:
    summary = read_summary_text("frequency,recency,T,monetary_value\n0,0,3,0\n")
    assert summary.monetary_value is not None and summary.monetary_value.tolist() == [0.0]


def test_it_reads_a_survival_curve(tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("period,alive\n0,1000\n1,631\n2,468\n3,382\n", encoding="utf-8")

    curve = read_survival_csv(path)

    assert curve.period.tolist() == [0, 1, 2, 3]
    assert curve.alive.tolist() == [1000, 631, 468, 382]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("period,count\n0,10\n", "line 1: missing column(s) 'alive'"),
        ("period,alive\n0,1000\n2,600\n", "line 3, column 'period': expected period 1, found 2"),
        ("period,alive\n1,1000\n2,600\n", "line 2, column 'period': expected period 0, found 1"),
        ("period,alive\n0,1000\n1,600\n2,700\n", "line 4, column 'alive': 700 is more than the 600 alive at period 1"),
        ("period,alive\n0,0\n1,0\n", "line 2, column 'alive': the cohort at period 0 must be > 0"),
        ("period,alive\n0,100\n1,x\n", "line 3, column 'alive': 'x' is not a number"),
        ("period,alive\n0,100\n1,-1\n", "line 3, column 'alive': -1 is negative"),
        ("period,alive\n0,100\n", "needs periods 0 and 1 at least; found 1 row(s)"),
    ],
)
def test_bad_survival_curves_are_refused_with_the_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        read_survival_text(text)
    assert message in str(error.value)
