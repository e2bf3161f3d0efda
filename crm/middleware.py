"""Session idle timeout: a session unused for ``SESSION_IDLE_TIMEOUT`` seconds is logged out.

``SESSION_COOKIE_AGE`` bounds the absolute lifetime; this bounds idleness (OWASP ASVS 7.3).
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LAST_SEEN_KEY = "tierwise_last_seen"


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY, now)
            if now - last_seen > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
            elif now - last_seen > 60 or LAST_SEEN_KEY not in request.session:
                # Write at most once a minute so polling pages don't rewrite the session on every request.
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """A CSP without inline scripts: scripts only from our own static files (htmx is vendored).

    Inline ``style`` attributes stay allowed (tier colours); ``hx-on`` and inline handlers are not used.
    """

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.POLICY)
        return response
