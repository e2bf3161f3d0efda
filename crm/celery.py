"""The Celery app. Configuration comes from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("tierwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _drop_broken_database_connections(**kwargs: object) -> None:
    """With ``CELERY_DB_REUSE_MAX`` a worker keeps its connection between tasks; one that failed (say, the
    database restarted) is closed here so the next task reconnects instead of failing on it too."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred and not conn.is_usable():
            conn.close()
