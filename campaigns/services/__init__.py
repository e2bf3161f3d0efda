"""Writes of the campaigns app, one module per concern. Keyword-only, atomic, side effects only on commit."""
