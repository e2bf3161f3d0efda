"""The exports page and the downloads. Financial data: account managers and admins only (service staff
never receive margins, costs or CLV). Downloads are GETs: they change nothing, and the audit log records them.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from crm.roles import Role, role_required

from .forms import ExportForm
from .registry import EXPORTS
from .responses import export_response

TEMPLATE = "crm/exports/list.html"


def _form(key: str, request: HttpRequest, data=None) -> ExportForm:  # type: ignore[no-untyped-def]
    return EXPORTS[key].form_class(data, user=request.user, with_options=True, auto_id=f"{key}-%s")


def _page(request: HttpRequest, *, bound: ExportForm | None = None, bound_key: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    cards = [(export, bound if key == bound_key and bound is not None else _form(key, request))
             for key, export in EXPORTS.items()]
    return render(request, TEMPLATE, {"cards": cards, "invalid": bound_key,
                                      "time_zone": timezone.get_current_timezone_name()}, status=status)


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def export_download(request: HttpRequest, dataset: str) -> HttpResponse:
    """``?format=csv|xlsx`` plus the dataset's filters. Invalid filters: the exports page with the errors."""
    export = EXPORTS.get(dataset)
    if export is None:
        raise Http404(f"There is no export called “{dataset}”.")
    form = export.form_class(request.GET, user=request.user, auto_id=f"{dataset}-%s")
    if not form.is_valid():
        form.add_options()
        return _page(request, bound=form, bound_key=dataset, status=400)
    return export_response(export=export, form=form)
