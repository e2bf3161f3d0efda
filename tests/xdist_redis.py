"""Loaded with ``-p tests.xdist_redis`` (pyproject addopts): under pytest-xdist, each worker process gets a
Redis db of its own, as pytest-django gives it a database of its own. Runs at import, before Django reads
its settings: the broker, the result backend and the cache of one worker never see another's keys (the
real-Celery tests flush their db).

``REDIS_URL`` must end in a db number (the README's test command sets ``/15``); worker ``gwN`` uses that
db minus N + 1 ... counted down, so the main db stays free for a run without xdist.
"""

import os
import re

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_url = os.environ.get("REDIS_URL", "")
if _worker.startswith("gw") and (_match := re.fullmatch(r"(.*/)(\d+)", _url)):
    _db = int(_match.group(2)) - 1 - int(_worker[2:])
    if _db < 0:
        raise RuntimeError(f"REDIS_URL {_url}: no Redis db left for xdist worker {_worker}")
    os.environ["REDIS_URL"] = f"{_match.group(1)}{_db}"
    os.environ.pop("CELERY_BROKER_URL", None)
