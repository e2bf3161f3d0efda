from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .selectors import book_summary


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "crm/home.html", {"summary": book_summary(user_id=request.user.pk)})


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process serves and the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else "Your role does not give access to this page."
    return render(request, "403.html", {"reason": reason}, status=403)
