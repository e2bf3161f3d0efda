"""Writes to the CRM records, one module per concern. Keyword-only, atomic, side effects only on commit."""

from .cases import (
    CaseActionRefused,
    case_assign,
    case_first_response,
    case_open,
    case_set_status,
    cases_score,
)
from .history import account_history_touch

__all__ = ["account_history_touch"]

from .interactions import interaction_log, survey_log  # noqa: E402

__all__ += ["interaction_log", "survey_log"]
__all__ += ["CaseActionRefused", "case_assign", "case_first_response", "case_open", "case_set_status", "cases_score"]
