"""The app as deployed: gunicorn in production mode (DEBUG off, hashed static files from collectstatic's
manifest) on the test database. The other page tests run with DEBUG and plain static storage, where a
``{% static %}`` naming a file that is not collected still renders; in production it is a 500."""

from __future__ import annotations

import collections
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from profitability import services
from tests.factories import AccountFactory, InteractionFactory, ServiceCaseFactory
from tests.worker import worker_database_url

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-production-password-42"  # noqa: S105
MAX_PAGES = 120

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production_server(tmp_path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "DEBUG": "0", "SECRET_KEY": "production-smoke-test-" + "k" * 40, "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": worker_database_url(), "DB_POOL": "0", "STATIC_ROOT": str(tmp_path / "static"),
        # TLS is the proxy's job; over plain HTTP here
        "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
    }
    env.pop("STATIC_MANIFEST", None)
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
    assert collected.returncode == 0, collected.stderr
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "crm.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--no-control-socket"],  # its default socket is one fixed path per user
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 30 s"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def logged_in(base: str, username: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base}/login/")
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD})
    request = urllib.request.Request(f"{base}/login/", data=form.encode(), headers={"Referer": f"{base}/login/"})  # noqa: S310 (our own server)
    response = opener.open(request)
    assert urllib.parse.urlparse(response.url).path == "/", "the login did not go through"
    return opener


def crawl(opener: urllib.request.OpenerDirector, base: str, start: list[str]) -> tuple[dict[str, int | str], set[str]]:
    """Every page reachable from ``start`` (links and htmx GETs), one per URL pattern (the path with its ids
    blanked and the names of its query parameters); the status of each, or where it was sent instead when
    that is the login or password page, and the static files the pages link to."""
    status: dict[str, int | str] = {}
    statics: set[str] = set()
    patterns: set[str] = set()
    queue = collections.deque(start)
    while queue and len(status) < MAX_PAGES:
        path = queue.popleft()
        pattern = url_pattern(path)
        if path in status or "logout" in path or path.startswith("/admin/") or pattern in patterns:
            continue
        patterns.add(pattern)
        try:
            response = opener.open(base + path, timeout=30)
        except urllib.error.HTTPError as error:
            status[path] = error.code
            continue
        landed = urllib.parse.urlparse(response.url).path  # urllib follows redirects without saying so
        status[path] = f"sent to {landed}" if landed in ("/login/", "/confirm-password/") else response.status
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        body = response.read().decode()
        for link in re.findall(r'(?:href|src|hx-get)="(/[^"#]*)"', body):
            link = link.replace("&amp;", "&")
            (statics.add if link.startswith("/static/") else queue.append)(link)
    return status, statics


def url_pattern(path: str) -> str:
    parts = urllib.parse.urlsplit(path)
    names = sorted(urllib.parse.parse_qs(parts.query, keep_blank_values=True))
    return re.sub(r"\d+", "N", parts.path) + ("?" + "&".join(names) if names else "")


def test_the_production_stack_serves_every_page_and_hashed_static_file(production_server, settings, ada):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # what the server checks with
    ada.set_password(PASSWORD)
    ada.save()
    accounts = AccountFactory.create_batch(2)
    for account in accounts:
        InteractionFactory.create_batch(3, account=account)
    ServiceCaseFactory(account=accounts[0])
    services.book_recompute()  # snapshots, tiers and the book summary the pages read

    opener = logged_in(production_server, "ada")
    status, statics = crawl(opener, production_server, ["/", f"/service/accounts/{accounts[0].pk}/"])
    broken = {path: code for path, code in status.items() if code != 200}
    assert not broken, broken
    assert len(status) >= 40  # the crawl reached the whole app, not just the home page
    crawled = {url_pattern(path) for path in status}
    assert {"/accounts/", "/accounts/N/", "/service/queue/", "/service/accounts/N/",
            "/analytics/", "/settings/tiers/"} <= crawled, sorted(crawled)
    # the manifest's hashed names, each served
    hashed = re.compile(r"\.[0-9a-f]{12}\.(css|js|svg|png|ico|woff2?)$")
    assert statics and all(hashed.search(path) for path in statics), statics
    for path in statics:
        assert opener.open(production_server + path).status == 200

    home = opener.open(production_server + "/")
    assert home.headers["X-Frame-Options"] == "DENY"
    assert home.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in home.headers["Content-Security-Policy"]
