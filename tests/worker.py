"""A real Celery worker in a subprocess, pointed at the *test* database and the test Redis db.

Usage in a test module (or ``from tests.worker import celery_worker_process  # noqa: F401``)::

    from tests import worker

    celery_worker_process = worker.celery_worker_process

    pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

    def test_something(celery_worker_process):
        ...  # commit data, then
        celery_worker_process.wait_until(lambda: ..., message="what we waited for")

* ``celery_worker_process`` flushes the Redis test db, starts a worker and waits until it answers a ping.
* ``celery_worker_stopped`` flushes the Redis test db and yields the same kind of handle, not started
  (call ``.start()``), for tests that queue work first.
* ``broker`` flushes the Redis test db and yields a redis-py client, with no worker at all.

The worker must see committed data, so tests that use it need ``transactional_db``
(``pytest.mark.django_db(transaction=True)``); the fixtures request it. The worker runs with
``DB_POOL=0`` (a psycopg pool does not survive prefork's fork) and connects with the application name
:data:`WORKER_APPLICATION_NAME`, so its PostgreSQL sessions can be found (and terminated after a SIGKILL,
which leaves the server side of a connection around until PostgreSQL notices the dead client).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ("celery", "recompute")  # settings.CELERY_TASK_QUEUES: the default queue and per-account recomputes
WORKER_APPLICATION_NAME = "tierwise-test-worker"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


# --- Redis (broker and cache share the test db) -----------------------------------------------------------


def broker_url() -> str:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL or settings.REDIS_URL
    if not url.startswith("redis"):
        pytest.fail("the worker tests need REDIS_URL (a Redis broker); the README's test command sets it")
    return url


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(broker_url())


def flush_redis() -> None:
    """Empty the Redis test db: queued messages, unacked messages and coalescing keys alike."""
    with redis_client() as client:
        client.flushdb()


def _queue_keys(client: redis.Redis, queue: str | None) -> list[bytes]:
    # kombu keeps priority 0 in the list named after the queue, other priorities in "<queue>\x06\x16<n>".
    return [key for name in ((queue,) if queue else QUEUES)
            for key in (name.encode(), *client.scan_iter(match=f"{name}\x06\x16*"))]


def queue_length(queue: str | None = None) -> int:
    """Messages published to ``queue`` (every queue when None) and not yet delivered to a worker."""
    with redis_client() as client:
        return sum(client.llen(key) for key in _queue_keys(client, queue))


def queued_messages(queue: str | None = None) -> list[tuple[str, list]]:
    """``(task name, args)`` of every message waiting in ``queue`` (every queue when None), oldest first
    within a queue."""
    out = []
    with redis_client() as client:
        for key in _queue_keys(client, queue):
            for raw in reversed(client.lrange(key, 0, -1)):  # kombu LPUSHes and BRPOPs
                message = json.loads(raw)
                body = message["body"]
                if message.get("properties", {}).get("body_encoding") == "base64":
                    body = base64.b64decode(body)
                args, _kwargs, _embed = json.loads(body)
                out.append((message["headers"]["task"], args))
    return out


def unacked_count() -> int:
    """Messages a worker took but never acknowledged (kept by kombu until the visibility timeout)."""
    with redis_client() as client:
        return client.hlen("unacked")


# --- PostgreSQL ---------------------------------------------------------------------------------------------


def worker_database_url() -> str:
    """A DATABASE_URL for the test database this pytest session created (e.g. ``test_tierwise``)."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail("the worker tests need PostgreSQL (DATABASE_URL)")
    user = quote(s.get("USER") or "", safe="")
    password = quote(str(s.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(s['NAME'], safe='')}?application_name={WORKER_APPLICATION_NAME}"


def worker_backends() -> list[int]:
    """PIDs of PostgreSQL sessions the worker opened on the test database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [WORKER_APPLICATION_NAME],
        )
        return [pid for (pid,) in cursor.fetchall()]


def worker_backends_waiting_on_a_lock() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
            " AND wait_event_type = 'Lock'",
            [WORKER_APPLICATION_NAME],
        )
        return [pid for (pid,) in cursor.fetchall()]


def terminate_worker_backends(timeout: float = 10.0) -> None:
    """End the sessions of a dead worker (PostgreSQL would, once it noticed the client was gone)."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while pids := worker_backends():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
        if time.monotonic() > deadline:
            raise AssertionError(f"worker database sessions {pids} would not end")
        time.sleep(0.05)


# --- waiting --------------------------------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 20.0,
    *,
    message: str = "condition",
    interval: float = 0.1,
    on_timeout: Callable[[], str] | None = None,
) -> object:
    """Poll ``predicate`` (typically a DB query) until it returns something truthy; fail after ``timeout`` s.

    Every poll runs in autocommit, outside any transaction, so the test process never holds a snapshot or
    a lock the worker could wait on.
    """
    from django.db import connection

    if connection.in_atomic_block:
        raise RuntimeError("wait_until inside transaction.atomic(): the worker could not see your writes")
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}{detail}")
        time.sleep(interval)


# --- the worker -------------------------------------------------------------------------------------------


class CeleryWorker:
    """One ``celery worker`` subprocess in its own session (process group), logging to ``log``."""

    def __init__(self, log: Path, *, concurrency: int = 1, extra_env: dict[str, str] | None = None) -> None:
        self.log = log
        self.concurrency = concurrency
        self.extra_env = dict(extra_env or {})
        self.nodename = f"tierwise-test-{uuid.uuid4().hex[:8]}@%h"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    # -- lifecycle --

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        url = broker_url()
        env.update({
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            "DATABASE_URL": worker_database_url(),
            "DB_POOL": "0",
            "REDIS_URL": url,
            "CELERY_BROKER_URL": url,
            "DEBUG": env.get("DEBUG") or "1",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        })
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "crm", "worker",
            "--pool", "prefork", "--concurrency", str(self.concurrency), "--loglevel", "INFO",
            "--without-heartbeat", "--without-mingle", "--without-gossip", "-Q", ",".join(QUEUES),
            "-n", self.nodename,
        ]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> CeleryWorker:
        """Start the worker and wait until it answers a ping (it is then consuming the queue)."""
        if self.alive:
            raise RuntimeError("the worker is already running")
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"\n===== worker start #{self.starts} =====\n")
        out = self.log.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603  (our own command line)
                self.command(), cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            out.close()  # the child has its own descriptor
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        from crm.celery import app

        hostname = self.nodename.replace("%h", _hostname())
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise AssertionError(f"the Celery worker exited with {self.process.returncode}{self.log_tail()}")
            try:
                if app.control.ping(destination=[hostname], timeout=0.5):
                    return
            except Exception:  # noqa: BLE001  (broker not ready yet: try again)
                time.sleep(0.2)
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the Celery worker was not ready after {timeout:.0f} s{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children), as a crash or OOM kill would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Warm shutdown (SIGTERM: finish the running task, hand back the rest); SIGKILL after ``timeout``."""
        if self.process is None:
            return
        if self.alive:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        self.kill()  # also reaps pool children left behind in the group

    def restart(self, timeout: float = START_TIMEOUT) -> CeleryWorker:
        if self.alive:
            self.stop()
        return self.start(timeout)

    # -- observing --

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return f"\n--- last {lines} lines of the worker log ({self.log}) ---\n{tail}"

    def succeeded(self, task: str) -> int:
        """How many runs of ``task`` the worker logged as succeeded (across restarts)."""
        return sum(1 for line in self.log_text().splitlines() if f"Task {task}[" in line and " succeeded in " in line)

    def wait_until(
        self, predicate: Callable[[], object], timeout: float = 20.0, *, message: str = "condition"
    ) -> object:
        """:func:`wait_until`, failing with the worker's state, the broker's queues and its log's tail."""

        def detail() -> str:
            if self.alive:
                state = "running"
            else:
                state = f"exited ({self.process.returncode})" if self.process else "never started"
            return f" (worker {state}, {queue_length()} queued, {unacked_count()} unacked){self.log_tail()}"

        return wait_until(predicate, timeout, message=message, on_timeout=detail)


def _hostname() -> str:
    import socket

    return socket.gethostname()


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def broker(transactional_db) -> Iterator[redis.Redis]:  # type: ignore[no-untyped-def]
    """The Redis test db, flushed before and after the test; no worker."""
    flush_redis()
    client = redis_client()
    try:
        yield client
    finally:
        client.close()
        flush_redis()


def _worker_fixture(tmp_path: Path, *, started: bool) -> Iterator[CeleryWorker]:
    flush_redis()
    worker = CeleryWorker(tmp_path / "celery-worker.log")
    try:
        if started:
            worker.start()
        yield worker
    finally:
        worker.kill()  # fast; whatever it held is flushed below
        terminate_worker_backends()  # nothing may block the flush of the test database
        flush_redis()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path) -> Iterator[CeleryWorker]:  # type: ignore[no-untyped-def]
    """A running Celery worker (prefork, one child) on the test database and a freshly flushed Redis db."""
    yield from _worker_fixture(tmp_path, started=True)


@pytest.fixture
def celery_worker_stopped(transactional_db, tmp_path) -> Iterator[CeleryWorker]:  # type: ignore[no-untyped-def]
    """Like ``celery_worker_process`` but not started yet: queue work first, then call ``.start()``."""
    yield from _worker_fixture(tmp_path, started=False)
