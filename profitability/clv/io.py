"""Read CLV input CSVs into NumPy arrays, with errors that name the line and column.

Two formats, both with a header row, comma-separated, extra columns ignored, blank lines skipped:

* summary: ``frequency,recency,T`` and optionally ``monetary_value`` (one row per customer; the BG/NBD
  definitions: repeat purchases, time of the last one since the first, age since the first, all in one time
  unit; mean value of the repeat purchases);
* survival: ``period,alive`` (one row per contract period 0, 1, 2, ...; how many of the cohort are still
  active after that many periods).

Line numbers in messages count the header as line 1, as a spreadsheet or text editor shows them.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Source = str | os.PathLike[str] | TextIO


@dataclass(frozen=True, slots=True)
class SummaryData:
    """Per-customer summary columns, in file order. ``monetary_value`` is None when the file has no such column."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray | None

    def __len__(self) -> int:
        return int(self.frequency.size)


@dataclass(frozen=True, slots=True)
class SurvivalData:
    """A cohort's survival curve: ``period`` = 0, 1, ..., k and ``alive`` = how many remain after each."""

    period: FloatArray
    alive: FloatArray


SUMMARY_COLUMNS = ("frequency", "recency", "T")
SURVIVAL_COLUMNS = ("period", "alive")


def _read_rows(
    source: Source, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> tuple[set[str], list[tuple[int, dict[str, str]]]]:
    """Check the header; return the wanted columns present and (line number, {column: text}) per data row."""
    if isinstance(source, str | os.PathLike):
        with open(source, newline="", encoding="utf-8-sig") as handle:
            return _read_rows(handle, required, optional)
    reader = csv.reader(source)
    header: list[str] | None = None
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [cell.strip().lstrip("\ufeff") for cell in row]
            break
    if header is None:
        raise ValueError(f"empty CSV: expected a header with columns {', '.join(required)}")
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise ValueError(f"line {reader.line_num}: duplicate column(s) {', '.join(duplicates)}")
    missing = [name for name in required if name not in header]
    if missing:
        raise ValueError(
            f"line {reader.line_num}: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"found {', '.join(repr(h) for h in header)}"
        )
    positions = {name: header.index(name) for name in (*required, *optional) if name in header}
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        short = [name for name, index in positions.items() if index >= len(row)]
        if short:
            raise ValueError(
                f"line {reader.line_num}, column '{short[0]}': missing value "
                f"(row has {len(row)} of {len(header)} fields)"
            )
        rows.append((reader.line_num, {name: row[index].strip() for name, index in positions.items()}))
    return set(positions), rows


def _number(text: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        shown = text if text else "(empty)"
        raise ValueError(f"line {line}, column '{column}': {shown!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"line {line}, column '{column}': {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"line {line}, column '{column}': {text} is negative")
    return value


def read_summary_csv(source: Source) -> SummaryData:
    """Read a ``frequency,recency,T[,monetary_value]`` CSV from a path or an open text stream.

    Checks per row: every value a finite number >= 0; frequency a whole number; recency <= T; recency 0 when
    frequency is 0; monetary_value > 0 when frequency >= 1 (Gamma-Gamma needs it). Raises ``ValueError``
    naming the line and column of the first bad value, or the missing column. Units pass through as written.
    """
    frequency: list[float] = []
    recency: list[float] = []
    age: list[float] = []
    monetary: list[float] = []
    columns, rows = _read_rows(source, SUMMARY_COLUMNS, ("monetary_value",))
    has_monetary = "monetary_value" in columns
    for line, cells in rows:
        x = _number(cells["frequency"], line, "frequency")
        if not x.is_integer():
            raise ValueError(
                f"line {line}, column 'frequency': {cells['frequency']} is not a whole number of purchases"
            )
        t_x = _number(cells["recency"], line, "recency")
        big_t = _number(cells["T"], line, "T")
        if t_x > big_t:
            raise ValueError(f"line {line}, column 'recency': recency {cells['recency']} exceeds T {cells['T']}")
        if x == 0 and t_x > 0:
            raise ValueError(f"line {line}, column 'recency': recency {cells['recency']} with frequency 0 (must be 0)")
        if has_monetary:
            value = _number(cells["monetary_value"], line, "monetary_value")
            if x >= 1 and value == 0:
                raise ValueError(
                    f"line {line}, column 'monetary_value': 0 with frequency {cells['frequency']} (must be > 0)"
                )
            monetary.append(value)
        frequency.append(x)
        recency.append(t_x)
        age.append(big_t)
    return SummaryData(
        frequency=np.asarray(frequency, dtype=float),
        recency=np.asarray(recency, dtype=float),
        T=np.asarray(age, dtype=float),
        monetary_value=np.asarray(monetary, dtype=float) if has_monetary else None,
    )


def read_survival_csv(source: Source) -> SurvivalData:
    """Read a ``period,alive`` CSV: periods 0, 1, 2, ... in order, alive counts (or shares) never increasing.

    ``alive`` at period 0 is the cohort size and must be > 0. Raises ``ValueError`` naming the line and
    column of the first bad value. Needs at least periods 0 and 1 to be fitted.
    """
    periods: list[float] = []
    alive: list[float] = []
    _, rows = _read_rows(source, SURVIVAL_COLUMNS)
    for line, cells in rows:
        period = _number(cells["period"], line, "period")
        expected = len(periods)
        if period != expected:
            raise ValueError(f"line {line}, column 'period': expected period {expected}, found {cells['period']}")
        count = _number(cells["alive"], line, "alive")
        if expected == 0 and count == 0:
            raise ValueError(f"line {line}, column 'alive': the cohort at period 0 must be > 0")
        if alive and count > alive[-1]:
            raise ValueError(
                f"line {line}, column 'alive': {cells['alive']} is more than the "
                f"{alive[-1]:g} alive at period {expected - 1}"
            )
        periods.append(period)
        alive.append(count)
    if len(periods) < 2:
        raise ValueError(f"survival curve needs periods 0 and 1 at least; found {len(periods)} row(s)")
    return SurvivalData(period=np.asarray(periods, dtype=float), alive=np.asarray(alive, dtype=float))


def read_summary_text(text: str) -> SummaryData:
    """``read_summary_csv`` on CSV content held in a string (e.g. an uploaded file already decoded)."""
    return read_summary_csv(io.StringIO(text))


def read_survival_text(text: str) -> SurvivalData:
    """``read_survival_csv`` on CSV content held in a string."""
    return read_survival_csv(io.StringIO(text))
