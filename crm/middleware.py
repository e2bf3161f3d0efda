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
