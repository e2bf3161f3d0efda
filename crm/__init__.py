"""Tierwise project package: settings, URLs, the Celery app, and the CRM records."""

from .celery import app as celery_app

__all__ = ("celery_app",)
