"""Parts of ``manage.py seed_demo`` beyond the CRM book itself (the command lives in crm/management/commands)."""
