"""URLs of the CRM record actions (logging interactions, complaints, surveys; working cases)."""

from . import urls_accounts, urls_cases

urlpatterns = [*urls_accounts.urlpatterns, *urls_cases.urlpatterns]
