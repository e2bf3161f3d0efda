"""Profitability engine: cost-to-serve, per-account P&L, CAC, CLV, rank and service tier."""
