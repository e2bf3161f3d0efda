"""Production mode passes Django's deployment checks; the embedded default needs no services."""

import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    unset = {"DEBUG", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=120,
    )


def test_it_passes_check_deploy_in_production_mode():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="0", SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-1234567890",
        ALLOWED_HOSTS="crm.example.com", DATABASE_URL=os.environ["DATABASE_URL"],
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = run_manage("check", DEBUG="0", ALLOWED_HOSTS="crm.example.com", DATABASE_URL=os.environ["DATABASE_URL"])
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_runs_on_sqlite_with_eager_tasks_when_nothing_is_configured():
    result = run_manage(
        "shell", "-c",
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)",
        DEBUG="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["django.db.backends.sqlite3", "True"]


def test_the_embedded_default_checks_clean_and_keeps_in_process_task_lines_out_of_the_log(tmp_path):
    # SQLite can't do NULLS NOT DISTINCT: the warning is silenced there only (PostgreSQL has the constraints).
    result = run_manage(
        "shell", "-c",
        "import logging; from django.core.management import call_command; "
        "call_command('check', databases=['default'], fail_level='WARNING'); "
        "print(logging.getLogger('celery.app.trace').getEffectiveLevel())",
        DEBUG="1", SQLITE_PATH=str(tmp_path / "db.sqlite3"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(logging.WARNING)
