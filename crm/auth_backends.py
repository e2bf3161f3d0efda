"""Login lockout that also tolerates authentication outside a request."""

from axes.backends import AxesStandaloneBackend


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, skipped when there is no request (shell, scripts, test clients).

    Every login over HTTP passes the request, so brute force through the web is still counted and locked;
    only in-process callers, which already have the database, get past it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
