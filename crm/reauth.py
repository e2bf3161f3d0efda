"""Re-authentication before sensitive changes (OWASP ASVS 7.5.1): "confirm your password" for admins.

A login, or confirming the password on :func:`reauth_confirm`, opens a window (``REAUTH_WINDOW`` seconds,
15 minutes by default) during which configuration changes and merges go through. Outside it, the page
asks for the password first and then returns where the admin was. A stolen idle session cannot reconfigure
tiers or merge accounts without the password.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

REAUTH_AT_KEY = "tierwise_reauth_at"


def reauth_window() -> int:
    return int(getattr(settings, "REAUTH_WINDOW", 15 * 60))


@receiver(user_logged_in)
def _login_counts_as_reauth(sender, request, user, **kwargs) -> None:  # type: ignore[no-untyped-def]
    if request is not None and hasattr(request, "session"):
        request.session[REAUTH_AT_KEY] = int(time.time())


def recently_authenticated(request: HttpRequest) -> bool:
    confirmed_at = request.session.get(REAUTH_AT_KEY)
    return confirmed_at is not None and time.time() - confirmed_at <= reauth_window()


def _confirm_url(next_url: str) -> str:
    return f"{reverse('reauth_confirm')}?{urlencode({'next': next_url})}"


def reauth_required(view: Callable) -> Callable:
    """View decorator (put it under the role check): the password must have been confirmed recently.

    GET shows the confirmation first, so the window is open before any form is filled in; a POST that
    arrives after the window closed is not applied: the admin confirms and submits again (htmx requests are
    sent to the confirmation page with ``HX-Redirect``).
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):  # type: ignore[no-untyped-def]
        if recently_authenticated(request):
            return view(request, *args, **kwargs)
        back = request.get_full_path() if request.method == "GET" else request.headers.get("HX-Current-URL") or (
            request.META.get("HTTP_REFERER") or request.get_full_path()
        )
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("home")
        target = _confirm_url(back)
        if request.method != "GET":
            messages.warning(request, "Nothing was saved: confirm your password, then submit again.")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)

    wrapped.requires_reauth = True  # type: ignore[attr-defined]
    return wrapped


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(label="Your password", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password", "autofocus": True}))


@login_required
@require_http_methods(["GET", "POST"])
def reauth_confirm(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("home")
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Through authenticate() so django-axes counts failures here too (locks the username after the limit).
        user = authenticate(request, username=request.user.get_username(), password=form.cleaned_data["password"])
        if user is not None and user.pk == request.user.pk:
            request.session[REAUTH_AT_KEY] = int(time.time())
            return redirect(next_url)
        form.add_error("password", "That is not your password.")
    minutes = reauth_window() // 60
    return render(request, "registration/reauth.html", {"form": form, "next": next_url, "minutes": minutes})
