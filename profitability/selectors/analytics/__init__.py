"""Reads for the analytics pages. Everything comes from precomputed rows (``KpiMonth``, ``FunnelStat``,
``SegmentYear``, ``LeadScore``, and the engine's ``BookSummary``, ``SegmentPnl`` and ``AccountSnapshot``), a
few queries per page whatever the size of the book. The one exception is the what-if of a single account,
which reads that account's last year of interactions (an index range scan) to price it with ``costing``.

Each page selector returns a dataclass with the figures, the SVG charts (``charts``), and rows for the
tables and CSV downloads built from the same numbers.
"""

from .channels import (
    SHIFT_CHOICES,
    channels_csv_rows,
    channels_page,
    funnel_csv_rows,
    funnel_page,
    period_options,
    reallocation_csv_rows,
)
from .formatting import csv_cell, csv_lines
from .kpis import DEFAULT_TARGETS, VERDICTS, kpi_check, kpi_check_csv_rows, kpi_csv_rows, kpi_dashboard
from .leads import leads_csv_rows, leads_page
from .refresh import refresh_info
from .segments import SEGMENT_SORTS, SEGMENT_TABS, segments_csv_rows, segments_page
from .targets import target_history, targets_overview
from .whale import loss_makers_csv_rows, whale_csv_rows, whale_page
from .what_if import account_matches, account_what_if, segment_choices, segment_what_if

__all__ = [
    "DEFAULT_TARGETS", "SEGMENT_SORTS", "SEGMENT_TABS", "SHIFT_CHOICES", "VERDICTS", "account_matches",
    "account_what_if", "channels_csv_rows", "channels_page", "csv_cell", "csv_lines", "funnel_csv_rows", "funnel_page",
    "kpi_check", "kpi_check_csv_rows", "kpi_csv_rows", "kpi_dashboard", "leads_csv_rows", "leads_page",
    "loss_makers_csv_rows", "period_options", "reallocation_csv_rows", "refresh_info", "segment_choices",
    "segment_what_if", "segments_csv_rows", "segments_page", "target_history", "targets_overview", "whale_csv_rows",
    "whale_page",
]
