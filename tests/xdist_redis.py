"""Loaded with ``-p tests.xdist_redis`` (pyproject addopts): under pytest-xdist, each worker process gets a
Redis db of its own, as pytest-django gives it a database of its own. Runs at import, before Django reads
its settings: the broker, the result backend and the cache of one worker never see another's keys (the
real-Celery tests flush their db).

``REDIS_URL`` must end in a db number (the README's test command uses ``/15``); worker ``gwN`` gets the db
N + 1 below it (14, 13, ...), so the given db stays free for a run without xdist.
"""

import os
import re

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_url = os.environ.get("REDIS_URL", "")
if _worker.startswith("gw") and _url:
    _match = re.fullmatch(r"(.*/)(\d+)", _url)
    if _match is None:
        raise RuntimeError(f"REDIS_URL {_url!r} must end in a db number (e.g. /15) to run the suite in processes")
    _db = int(_match.group(2)) - 1 - int(_worker[2:])
    if _db < 0:
        raise RuntimeError(f"REDIS_URL {_url!r}: no Redis db left below it for xdist worker {_worker}")
    os.environ["REDIS_URL"] = f"{_match.group(1)}{_db}"
    os.environ.pop("CELERY_BROKER_URL", None)  # the broker follows REDIS_URL
