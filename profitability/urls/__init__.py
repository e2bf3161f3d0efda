"""Profitability pages, one URL module per area of work."""

from . import accounts, analytics, config, service

urlpatterns = [*accounts.urlpatterns, *service.urlpatterns, *config.urlpatterns, *analytics.urlpatterns]
