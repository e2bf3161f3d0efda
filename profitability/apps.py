from django.apps import AppConfig


class ProfitabilityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "profitability"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (recompute on interaction changes)
