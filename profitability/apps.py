from django.apps import AppConfig


class ProfitabilityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "profitability"
