"""Shared data for the CLV math tests. No database, no Django settings: everything here is plain NumPy.

``data/cdnow_summary.csv`` is the CDNOW 1/10 sample (2,357 customers who made their first purchase in the
first quarter of 1997, 39-week calibration period, time in weeks) as summarised in the ``lifetimes`` package
0.11.3: ``lifetimes/datasets/cdnow_customers_summary_with_transactions.csv`` (columns ID, x, t_x, T, zbar,
the same as ``lifetimes.datasets.load_cdnow_summary_data_with_monetary_value()``), with the header renamed to
``customer_id,frequency,recency,T,monetary_value``. Its frequency/recency/T columns equal
``cdnow_customers_summary.csv`` row for row. Original data: Fader & Hardie, brucehardie.com.

``lifetimes`` itself is a test-only dependency, used as the reference implementation. It needs no shim with
the versions pinned for these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profitability.clv.bgnbd import fit as bgnbd_fit
from profitability.clv.gamma_gamma import fit as gamma_gamma_fit
from profitability.clv.io import SummaryData, read_summary_csv
from profitability.clv.predict import FitResult

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow() -> SummaryData:
    return read_summary_csv(DATA / "cdnow_summary.csv")


@pytest.fixture(scope="session")
def cdnow_bgnbd(cdnow: SummaryData) -> FitResult:
    return bgnbd_fit(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="session")
def cdnow_gamma_gamma(cdnow: SummaryData) -> FitResult:
    assert cdnow.monetary_value is not None
    return gamma_gamma_fit(cdnow.frequency, cdnow.monetary_value)
