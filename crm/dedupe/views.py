"""Pages of the duplicates area (admins): candidates, side-by-side review, merge, merge history.

Merging takes two POSTs: the review form posts the reviewer's choices, which come back as a confirmation
page saying exactly what will move; only its "Merge" button (``confirm=1``) merges. Works without
JavaScript; no state changes over GET.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..models import Account, AccountMerge, DuplicateCandidate
from ..reauth import reauth_required
from ..roles import Role, role_required
from . import selectors, services

UNPROCESSABLE = 422


def _account_url(pk: int) -> str | None:
    try:
        return reverse("account_detail", args=[pk])
    except NoReverseMatch:
        return None


def _tabs() -> list[tuple[str, str, int]]:
    counts = selectors.status_counts()
    return [(value, label, counts[value]) for value, label in DuplicateCandidate.Status.choices]


@role_required(Role.ADMIN)
@require_GET
def duplicate_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", DuplicateCandidate.Status.OPEN)
    if status not in DuplicateCandidate.Status.values:
        status = DuplicateCandidate.Status.OPEN
    return render(request, "crm/dedupe/list.html", {
        "page": selectors.candidate_page(status=status, page=request.GET.get("page")),
        "status": status,
        "tabs": _tabs(),
    })


@role_required(Role.ADMIN)
@require_POST
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    services.scan_request(full=True)
    messages.info(request, "Scan queued: new candidates appear here when it finishes (a minute or two for a large "
                           "book). Reload the page to see them.")
    return redirect("duplicate_list")


def _review(request: HttpRequest, pk: int, survivor_id: int | None) -> selectors.ReviewData:
    try:
        return selectors.candidate_review(candidate_id=pk, survivor_id=survivor_id)
    except DuplicateCandidate.DoesNotExist:
        raise Http404("No such candidate pair.") from None
    except Account.DoesNotExist:
        raise Http404("One of the two accounts no longer exists (merged or deleted).") from None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@role_required(Role.ADMIN)
@require_GET
def duplicate_review(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = get_object_or_404(DuplicateCandidate.objects.select_related("merge"), pk=pk)
    if candidate.status == DuplicateCandidate.Status.MERGED and candidate.merge_id:
        return redirect("merge_detail", candidate.merge_id)
    data = _review(request, pk, _int(request.GET.get("survivor")))
    return render(request, "crm/dedupe/review.html", {"data": data})


def _choices(request: HttpRequest, data: selectors.ReviewData) -> tuple[dict[str, str], list[str]]:
    """The reviewer's per-field picks as survivor/merged choices, and any field error in words."""
    survivor, merged = data.accounts
    choices, errors = {}, []
    for row in data.differing:
        picked = _int(request.POST.get(f"pick_{row.name}"))
        if picked is None:
            continue
        if picked not in (survivor.pk, merged.pk):
            errors.append(f"{row.label}: pick the value of one of the two accounts.")
            continue
        choices[row.name] = services.SURVIVOR if picked == survivor.pk else services.MERGED
    return choices, errors


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@reauth_required
def duplicate_merge(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "GET":
        # Back from the password confirmation (the confirm step is a page rendered by a POST to this URL):
        # nothing was merged, so the review starts again.
        return redirect("duplicate_review", pk)
    survivor_id = _int(request.POST.get("survivor"))
    data = _review(request, pk, survivor_id)
    candidate = data.candidate
    if candidate.status != DuplicateCandidate.Status.OPEN:
        messages.error(request, f"This pair was already reviewed ({candidate.get_status_display().lower()}).")
        return redirect("duplicate_list")
    survivor, merged = data.accounts
    if survivor_id is not None and survivor_id != survivor.pk:
        return render(request, "crm/dedupe/review.html", {
            "data": data, "errors": ["Choose which of the two accounts survives."],
        }, status=UNPROCESSABLE)
    choices, errors = _choices(request, data)
    if errors:
        return render(request, "crm/dedupe/review.html", {"data": data,
                                                          "errors": errors}, status=UNPROCESSABLE)
    if request.POST.get("confirm") != "1":
        kept = [(row, row.values[1 if choices.get(row.name) == services.MERGED
                                 or (row.name not in choices and row.pick == 1) else 0]) for row in data.differing]
        return render(request, "crm/dedupe/confirm.html", {
            "data": data, "kept": kept,
            "hidden_picks": [(f"pick_{name}", survivor.pk if choice == services.SURVIVOR else merged.pk)
                             for name, choice in choices.items()],
        })
    # Fields the reviewer did not pick keep the default shown on the page (survivor's, or the other's if blank).
    for row in data.differing:
        choices.setdefault(row.name, services.MERGED if row.pick == 1 else services.SURVIVOR)
    try:
        merge = services.account_merge(survivor_id=survivor.pk, merged_id=merged.pk, field_choices=choices,
                                       user=request.user, candidate=candidate)
    except services.MergeError as error:
        messages.error(request, f"Not merged: {error}")
        return redirect("duplicate_list")
    moved = merge.moved.get("interactions", 0)
    messages.success(request, f"Merged {merge.merged_name} into {survivor.name}: {moved} interaction"
                              f"{'s' if moved != 1 else ''} and everything else moved. The figures are being "
                              f"recomputed.")
    return redirect(_account_url(survivor.pk) or reverse("merge_detail", args=[merge.pk]))


@role_required(Role.ADMIN)
@require_POST
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(DuplicateCandidate, pk=pk)
    try:
        candidate = services.candidate_dismiss(candidate_id=pk, user=request.user)
    except services.MergeError as error:
        messages.error(request, str(error))
        return redirect("duplicate_list")
    messages.success(request, f"Marked not a duplicate: {candidate.low_name} / {candidate.high_name}. "
                              "This pair will not be proposed again.")
    return redirect("duplicate_list")


@role_required(Role.ADMIN)
@require_POST
def duplicate_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(DuplicateCandidate, pk=pk)
    try:
        services.candidate_reopen(candidate_id=pk, user=request.user)
    except services.MergeError as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('duplicate_list')}?status=dismissed")
    return redirect("duplicate_review", pk)


@role_required(Role.ADMIN)
@require_GET
def merge_history(request: HttpRequest) -> HttpResponse:
    page = selectors.merge_page(page=request.GET.get("page"))
    rows = [(merge, selectors.moved_rows(merge)) for merge in page.object_list]
    return render(request, "crm/dedupe/merge_history.html", {"page": page, "rows": rows, "tabs": _tabs()})


@role_required(Role.ADMIN)
@require_GET
def merge_detail(request: HttpRequest, pk: int) -> HttpResponse:
    merge = get_object_or_404(AccountMerge.objects.select_related("survivor", "merged_by"), pk=pk)
    records = selectors.merge_records_shown(merge)
    rows = [(selectors.FIELD_LABELS[name], *(record.get(name) for record in records))
            for name in services.MERGE_FIELDS]
    return render(request, "crm/dedupe/merge_detail.html", {
        "merge": merge, "rows": rows, "moved": selectors.moved_rows(merge),
        "source_ids": [record.get("source_ids", []) for record in records],
    })


@role_required(Role.ACCOUNT_MANAGER, Role.ADMIN)
@require_GET
def account_merges(request: HttpRequest, pk: int) -> HttpResponse:
    """The account page's panel: which records were merged into this account, when and by whom."""
    account = get_object_or_404(Account, pk=pk)
    merges = selectors.account_merges(account_id=pk)
    return render(request, "crm/dedupe/account_panel.html", {
        "account": account, "merges": [(m, selectors.moved_rows(m)[:3]) for m in merges],
    })
