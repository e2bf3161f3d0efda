"""The demo book behind ``manage.py seed_demo`` (the command in crm/management/commands is a thin wrapper).

vocabulary (the constant tables) → sampling (seeded random helpers) → book, events, leads (NumPy columns, no
ORM) → rows (COPY formatting) → load (writes them, resets the book); users (the demo logins); campaigns
(segments, loyalty, an A/B campaign and opportunities on top of the CRM book).
"""
