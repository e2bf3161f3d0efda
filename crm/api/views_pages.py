"""The browser side of the API: the "API access" page (your token) and the interactive documentation."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

TEMPLATE = "crm/api/access.html"


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """GET: whether you have a token. POST ``action=create|rotate|revoke``: issue a new one or drop it.

    The key is shown once, in the answer to the POST that made it (never cached); afterwards only its last
    four characters, so a shoulder-surfed page does not hand the token out.
    """
    token = Token.objects.filter(user=request.user).first()
    new_key = None
    notice = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        with transaction.atomic():
            Token.objects.filter(user=request.user).delete()
            if action in ("create", "rotate"):
                token = Token.objects.create(user=request.user)
                new_key = token.key
                notice = "New token created: copy it now, it will not be shown again." + (
                    " The old one no longer works." if action == "rotate" else "")
            else:
                token = None
                notice = "Your token was revoked: integrations using it are locked out."
    response = render(request, TEMPLATE, {"token": token, "new_key": new_key, "notice": notice})
    add_never_cache_headers(response)
    return response
