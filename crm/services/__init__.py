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

from .interactions import (  # noqa: E402
    InteractionNotEditable,
    interaction_assert_editable,
    interaction_delete,
    interaction_log,
    interaction_update,
    survey_log,
)

__all__ += ["InteractionNotEditable", "interaction_assert_editable", "interaction_delete", "interaction_log",
            "interaction_update", "survey_log"]
__all__ += ["CaseActionRefused", "case_assign", "case_first_response", "case_open", "case_set_status", "cases_score"]

from .accounts import (  # noqa: E402
    account_create,
    account_update,
    contact_create,
    contact_delete,
    contact_update,
)

__all__ += ["account_create", "account_update", "contact_create", "contact_delete", "contact_update"]
