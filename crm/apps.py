from django.apps import AppConfig


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = "CRM records"

    def ready(self) -> None:
        from . import reauth, signals  # noqa: F401  (connect the history-version hooks and the re-auth clock)
