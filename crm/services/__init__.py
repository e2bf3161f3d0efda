"""Writes to the CRM records, one module per concern. Keyword-only, atomic, side effects only on commit."""

from .history import account_history_touch

__all__ = ["account_history_touch"]
