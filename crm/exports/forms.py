"""The filters of each export: the same query-string names as the list page the data comes from, so a list
page's "Export" link carries what the user is looking at. Bad values get a clear error naming the field."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.models import LedgerEntry, LoyaltyProgram, Opportunity
from crm.models import Account
from crm.roles import Role, has_role
from profitability.models import SegmentPnl, Tier
from profitability.selectors.accounts import DEFAULT_SORT, SORTS

FORMATS = [("csv", "CSV"), ("xlsx", "Excel (XLSX)")]
#: The worklist's status filter (same keys as the worklist page), plus "all".
OPPORTUNITY_STATUSES = {
    "working": ("Open and pursued", (Opportunity.Status.OPEN, Opportunity.Status.PURSUED)),
    "open": ("Open", (Opportunity.Status.OPEN,)),
    "pursued": ("Pursued", (Opportunity.Status.PURSUED,)),
    "won": ("Won", (Opportunity.Status.WON,)),
    "dismissed": ("Dismissed", (Opportunity.Status.DISMISSED,)),
    "all": ("Every status", tuple(Opportunity.Status.values)),
}


def _options(dimension: str, empty: str) -> forms.Select:
    """A picker of the values the last book recompute saw (the segment P&L, a few dozen rows)."""
    values = SegmentPnl.objects.filter(dimension=dimension).exclude(value="").order_by("value")
    return forms.Select(choices=[("", empty), *((v, v) for v in values.values_list("value", flat=True))])


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=FORMATS, required=False, initial="csv", widget=forms.RadioSelect,
                               label="Format")

    def __init__(self, *args: Any, user: Any, with_options: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        if with_options:
            self.add_options()

    def add_options(self) -> None:
        """Fill the pickers shown on the exports page (not needed to validate a download)."""

    def clean_format(self) -> str:
        return self.cleaned_data["format"] or "csv"

    def filters_for_audit(self) -> dict[str, Any]:
        """The filters in effect, as plain values (ids, ISO dates), for the audit log."""
        out = {}
        for name, value in self.cleaned_data.items():
            if name == "format" or value in (None, "", False):
                continue
            if hasattr(value, "pk"):
                value = value.pk
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            out[name] = value
        return out


class AccountsExportForm(ExportForm):
    owner = forms.ChoiceField(required=False, choices=[("all", "All accounts"), ("me", "My accounts")],
                              label="Accounts")
    q = forms.CharField(required=False, max_length=100, label="Name contains")
    tier = forms.ChoiceField(required=False, label="Tier")
    industry = forms.CharField(required=False, max_length=80, label="Industry")
    region = forms.CharField(required=False, max_length=80, label="Region")
    segment = forms.CharField(required=False, max_length=80, label="Segment")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Account.Status.choices],
                               label="Status")
    below = forms.BooleanField(required=False, label="Only CLV/CAC below 3")
    sort = forms.ChoiceField(required=False, label="Order", initial=DEFAULT_SORT,
                             choices=[(f"{sign}{key}", f"{label}, {'descending' if sign else 'ascending'}")
                                      for key, (label, *_rest) in SORTS.items() for sign in ("-", "")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tiers = [(str(pk), name) for pk, name in Tier.objects.order_by("position").values_list("pk", "name")]
        self.fields["tier"].choices = [("", "Any tier"), *tiers, ("none", "No tier")]

    def add_options(self) -> None:
        self.fields["industry"].widget = _options(SegmentPnl.Dimension.INDUSTRY, "Any industry")
        self.fields["region"].widget = _options(SegmentPnl.Dimension.REGION, "Any region")
        self.fields["segment"].widget = _options(SegmentPnl.Dimension.SEGMENT, "Any segment")

    def clean_owner(self) -> str:
        # Account managers read every account, so the export defaults to the whole book (unlike the list).
        return self.cleaned_data["owner"] or "all"

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_SORT


class SegmentsExportForm(ExportForm):
    dimension = forms.ChoiceField(required=False, choices=[("", "Every dimension"), *SegmentPnl.Dimension.choices],
                                  label="Segment by")
    sort = forms.ChoiceField(required=False, choices=[("profit", "Net profit"), ("margin", "Net margin")],
                             label="Rank by")


class OpportunitiesExportForm(ExportForm):
    owner = forms.CharField(required=False, max_length=12, label="Accounts of")
    status = forms.ChoiceField(required=False, label="Status",
                               choices=[(key, label) for key, (label, _statuses) in OPPORTUNITY_STATUSES.items()])
    source = forms.ChoiceField(required=False, choices=[("", "Every source"), *Opportunity.Source.choices],
                               label="Source")

    @property
    def manages_accounts(self) -> bool:
        return has_role(self.user, Role.ACCOUNT_MANAGER)

    def _managers(self):  # type: ignore[no-untyped-def]
        return get_user_model().objects.filter(groups__name=Role.ACCOUNT_MANAGER.value).order_by("username")

    def add_options(self) -> None:
        others = [(str(m.pk), m.get_full_name() or m.username) for m in self._managers() if m.pk != self.user.pk]
        mine = [("", "My accounts")] if self.manages_accounts else []
        self.fields["owner"].widget = forms.Select(choices=[*mine, ("all", "Everyone"), *others])

    def clean_owner(self) -> str:
        """"" (the default), "all", or the id of an account manager or the user (the worklist page's values)."""
        owner = self.cleaned_data["owner"]
        if owner in ("", "all") or owner == str(self.user.pk):
            return owner
        if not owner.isdigit() or not self._managers().filter(pk=int(owner)).exists():
            raise forms.ValidationError("Choose “Everyone” or an account manager.")
        return owner

    def owner_id(self) -> int | None:
        """The account manager whose worklist to export; None = everyone's. Account managers default to their
        own; admins (who own no accounts) to everyone's."""
        owner = self.cleaned_data.get("owner") or ""
        if owner == "all" or (not owner and not self.manages_accounts):
            return None
        return int(owner) if owner else self.user.pk

    def clean_status(self) -> str:
        return self.cleaned_data["status"] or "working"


class LedgerExportForm(ExportForm):
    program = forms.ModelChoiceField(queryset=LoyaltyProgram.objects.order_by("name"), required=False,
                                     empty_label="Every program", label="Program")
    account = forms.IntegerField(required=False, min_value=1, label="Account ID",
                                 help_text="Optional: one account's ledger.")
    kind = forms.ChoiceField(required=False, choices=[("", "Every kind"), *LedgerEntry.Kind.choices],
                             label="Entry kind")
    date_from = forms.DateField(required=False, label="From",
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(required=False, label="To (inclusive)",
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean_account(self) -> int | None:
        account = self.cleaned_data["account"]
        if account is not None and not Account.objects.filter(pk=account).exists():
            raise forms.ValidationError(f"There is no account with ID {account}.")
        return account

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "“To” must be on or after “From”.")
        return data

    def occurred_range(self) -> tuple[datetime | None, datetime | None]:
        """[from, to] as whole days in the display time zone: from midnight of ``date_from`` to before midnight
        after ``date_to``."""
        tz = timezone.get_current_timezone()
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        open_ended = end is None or end == date.max  # nothing comes after 31 Dec 9999
        return (datetime.combine(start, time.min, tzinfo=tz) if start else None,
                None if open_ended else datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))


class BalancesExportForm(ExportForm):
    program = forms.ModelChoiceField(queryset=LoyaltyProgram.objects.order_by("name"), required=False,
                                     empty_label="Every program", label="Program")
    account = forms.IntegerField(required=False, min_value=1, label="Account ID",
                                 help_text="Optional: one account's balances.")

    clean_account = LedgerExportForm.clean_account
