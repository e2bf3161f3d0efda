"""Reads for the admin configuration pages: tiers with their accounts, cost rates by status, the CLV panel,
and the audit trail of every configuration change (django-simple-history, from the pages and the admin)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.fields import CharField, DecimalField
from django.utils.text import capfirst

from crm.models import MONEY, Account, InteractionChannel, InteractionKind
from crm.templatetags.tierwise import day, moment, money

from ..analytics import KPI_BY_KEY
from ..models import FITS_CONSIDERED, BookSummary, ClvModelFit, ClvSettings, CostRate, Tier
from ..models_analytics import KPI_CHOICES, KpiTarget

# --- tiers -------------------------------------------------------------------------------------------------


def saved_tiers() -> dict[int, tuple[str, int]]:
    """Per saved tier: its name and its active accounts today (from the stored snapshots)."""
    rows = Tier.objects.annotate(
        n=Count("snapshots", filter=Q(snapshots__account__status=Account.Status.ACTIVE))
    ).values_list("id", "name", "n")
    return {tier_id: (name, n) for tier_id, name, n in rows}


def recompute_pending() -> bool:
    """True when a configuration change is newer than the last full recompute of the book (so the figures
    and tiers on the pages do not reflect it yet). Two queries."""
    book = BookSummary.objects.order_by("-computed_at").values_list("computed_at", flat=True).first()
    parts = [model.history.order_by().values_list("history_date") for model, _ in ENGINE_SOURCES.values()]
    latest = parts[0].union(*parts[1:], all=True).order_by("-history_date").first()
    return latest is not None and (book is None or latest[0] > book)


# --- cost rates --------------------------------------------------------------------------------------------

KIND_LABELS = dict(InteractionKind.choices)
CHANNEL_LABELS = dict(InteractionChannel.choices)
KPI_LABELS = dict(KPI_CHOICES)


@dataclass(frozen=True)
class RateRow:
    rate: CostRate
    status: str  # "in effect", "scheduled" or "superseded"
    kind_label: str
    channel_label: str

    @property
    def deletable(self) -> bool:
        return self.status == "scheduled"


@dataclass(frozen=True)
class CurrentRate:
    activity: str
    kind_label: str
    channel_label: str
    in_effect: CostRate | None  # None: only scheduled so far
    next: CostRate | None  # the earliest scheduled change


@dataclass(frozen=True)
class CostRateOverview:
    today: date
    current: list[CurrentRate]
    rows: list[RateRow]  # every rate, grouped by activity, kind, channel; newest first in a group
    activities: list[str]


def cost_rate_overview(*, today: date) -> CostRateOverview:
    """Every effective-dated rate with its status on ``today``, and the rate in effect per activity, kind and
    channel (one query)."""
    groups: dict[tuple[str, str, str], list[CostRate]] = defaultdict(list)
    for rate in CostRate.objects.order_by("activity", "kind", "channel", "-effective_from"):
        groups[(rate.activity, rate.kind, rate.channel)].append(rate)
    rows, current = [], []
    for (activity, kind, channel), rates in groups.items():
        kind_label = KIND_LABELS.get(kind, kind)
        channel_label = CHANNEL_LABELS.get(channel, channel) if channel else "Every channel"
        in_effect = next((r for r in rates if r.effective_from <= today), None)
        scheduled = [r for r in rates if r.effective_from > today]
        upcoming = scheduled[-1] if scheduled else None  # newest first: the last is the earliest
        current.append(CurrentRate(activity, kind_label, channel_label, in_effect, upcoming))
        for r in rates:
            status = "scheduled" if r.effective_from > today else ("in effect" if r is in_effect else "superseded")
            rows.append(RateRow(r, status, kind_label, channel_label))
    return CostRateOverview(today, current, rows, sorted({a for a, _, _ in groups}))


# --- CLV ---------------------------------------------------------------------------------------------------

PARAM_SYMBOLS = {
    ClvModelFit.Model.BG_NBD: [("r", "r"), ("alpha", "α"), ("a", "a"), ("b", "b")],
    ClvModelFit.Model.GAMMA_GAMMA: [("p", "p"), ("q", "q"), ("gamma", "γ")],
    ClvModelFit.Model.SBG: [("alpha", "α"), ("beta", "β")],
}


@dataclass(frozen=True)
class FitView:
    model: str
    label: str
    fit: ClvModelFit | None
    params: list[tuple[str, str | None]] = field(default_factory=list)  # (symbol, value as shown)
    correlation: float | None = None  # Gamma-Gamma: spend–frequency correlation (should be near 0)
    newer_unusable: ClvModelFit | None = None  # a later fit without usable parameters (not in use)


@dataclass(frozen=True)
class ClvPanel:
    settings: ClvSettings
    measured_retention: float | None  # the book's annual retention from the latest full recompute
    book_computed_at: datetime | None
    book_metric: str | None
    fits: list[FitView]

    @property
    def measured_retention_pct(self) -> float | None:
        return None if self.measured_retention is None else self.measured_retention * 100


def _param(value: float | None) -> str | None:
    """Four decimals, or four significant digits for the huge or tiny values of a degenerate fit."""
    if value is None:
        return None
    value = float(value)
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.4f}"


def clv_panel() -> ClvPanel:
    settings = ClvSettings.current()
    book = (BookSummary.objects.order_by("-computed_at")
            .only("computed_at", "annual_retention", "ranking_metric").first())
    fits = []
    for model, label in ClvModelFit.Model.choices:
        # The fit predictions use (as ``services.latest_fits`` picks it), and a newer one they cannot use.
        recent = list(ClvModelFit.objects.filter(model=model).order_by("-fitted_at")[:FITS_CONSIDERED])
        fit = next((f for f in recent if ClvModelFit.params_usable(f.params or {})), None)
        newer = recent[0] if recent and recent[0] != fit else None
        params = [(symbol, _param((fit.params or {}).get(key))) for key, symbol in PARAM_SYMBOLS[model]] if fit else []
        correlation = (fit.diagnostics or {}).get("spend_frequency_correlation") if fit else None
        fits.append(FitView(model, label, fit, params, correlation, newer_unusable=newer))
    return ClvPanel(
        settings=settings,
        measured_retention=book.annual_retention if book else None,
        book_computed_at=book.computed_at if book else None,
        book_metric=book.ranking_metric if book else None,
        fits=fits,
    )


# --- the audit trail ---------------------------------------------------------------------------------------

# The engine's configuration: a change of these leaves the figures stale until the book is recomputed.
ENGINE_SOURCES: dict[str, tuple[type, str]] = {
    "tier": (Tier, "Tier"),
    "cost_rate": (CostRate, "Cost rate"),
    "clv_settings": (ClvSettings, "CLV settings"),
}
# The audit trail: the engine's configuration, KPI targets and what other apps register (loyalty programs,
# campaigns, segments), each model with a django-simple-history table.
HISTORY_SOURCES: dict[str, tuple[type, str]] = {**ENGINE_SOURCES, "kpi_target": (KpiTarget, "KPI target")}


def register_history_source(key: str, model: type, label: str) -> None:
    """Show ``model``'s history (it must have ``history = HistoricalRecords()``) on the audit trail page."""
    HISTORY_SOURCES[key] = (model, label)
ACTIONS = {"+": "Created", "~": "Changed", "-": "Deleted"}
HISTORY_PAGE_SIZE = 25


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str | None  # None: the object was created
    new: str | None  # None: the object was deleted


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str | None
    model_label: str
    object_label: str
    action: str
    changes: list[FieldChange]
    reason: str

    @property
    def what(self) -> str:
        """The model's label inside a sentence: "cost rate", but "KPI target" and "CLV settings" keep their
        acronym."""
        first = self.model_label.split(" ", 1)[0]
        return self.model_label if first.isupper() else self.model_label[:1].lower() + self.model_label[1:]


def _pct(value: Any, places: int = 2) -> str:
    if value is None:
        return ""
    number = Decimal(str(value)) * 100
    return f"{number.quantize(Decimal(1).scaleb(-places)).normalize():f} %"


def _plain_pct(value: Any) -> str:
    """A percentage kept as such (20.00 → "20 %")."""
    if value is None:
        return ""
    return f"{Decimal(str(value)).normalize():f} %"


def _kpi_value(value: Any, record: Any) -> str:
    """A KPI target or benchmark in the KPI's unit, as the KPI pages show it."""
    from .analytics.formatting import format_kpi

    kpi = KPI_BY_KEY.get(getattr(record, "kpi", None))
    return format_kpi(kpi.unit, value) if kpi else str(value)


# The tier names segment criteria are written with, loaded once per history page (see config_history).
_page_tier_names: ContextVar[dict[int, str] | None] = ContextVar("history_tier_names", default=None)


def _tier_names() -> dict[int, str]:
    names = _page_tier_names.get()
    if names is None:
        names = dict(Tier.objects.values_list("pk", "name"))
        _page_tier_names.set(names)
    return names


def _segment_criteria(value: Any, record: Any) -> str:
    """A rule segment's criteria in the words of the segment pages ("return rate at least 30 %")."""
    if not value:
        return "(none)"
    from campaigns.segmentation import Criteria  # campaigns registers its segments on this trail
    from campaigns.selectors import criteria_words

    try:
        return criteria_words(Criteria.from_json(value), _tier_names())
    except (TypeError, ValueError, ArithmeticError):  # criteria edited by hand into nonsense
        return json.dumps(value, ensure_ascii=False, sort_keys=True)


Formatter = Callable[[Any, Any], str]  # (value, historical record) → text

# How a field's historical value reads where its type alone does not say (by model label, then field): the
# words, units and percentages of the pages that edit them. Choices, dates, money, yes/no need no entry.
VALUE_FORMATS: dict[str, dict[str, Formatter]] = {
    "profitability.costrate": {
        "channel": lambda v, r: CHANNEL_LABELS.get(v, v) if v else "Every channel",
        "per_unit": lambda v, r: "per unit" if v else "per interaction",
    },
    "profitability.tier": {
        "upper_pct": lambda v, r: _plain_pct(v),
        "first_response_hours": lambda v, r: f"{v} h",
        "resolution_hours": lambda v, r: f"{v} h",
        "entitlements": lambda v, r: "; ".join(
            line.strip() for line in str(v).splitlines() if line.strip()) or "(none)",
    },
    "profitability.clvsettings": {
        "discount_rate": lambda v, r: _pct(v),
        "retention_override": lambda v, r: "measured from the book" if v is None else _pct(v),
        "horizon_months": lambda v, r: f"{v} months",
    },
    "profitability.kpitarget": {
        "target": lambda v, r: "none" if v is None else _kpi_value(v, r),
        "benchmark": lambda v, r: "none" if v is None else _kpi_value(v, r),
        "tolerance_pct": lambda v, r: _plain_pct(v),
    },
    "campaigns.segment": {"criteria": _segment_criteria},
    "campaigns.campaign": {"pilot_pct": lambda v, r: _plain_pct(v)},
    "campaigns.campaignvariant": {"discount_pct": lambda v, r: _plain_pct(v)},
    "campaigns.reward": {"discount_pct": lambda v, r: _plain_pct(v)},
}

# A field's label is its verbose name; where the settings pages call it otherwise, the override (by model
# label, then field: "kind" is an interaction kind on a cost rate, a reward's kind on a reward).
FIELD_LABELS: dict[str, dict[str, str]] = {
    "profitability.tier": {"upper_pct": "Reaches down to", "first_response_hours": "First response",
                           "resolution_hours": "Resolution", "color": "Colour"},
    "profitability.costrate": {"kind": "Interaction kind", "per_unit": "Charged"},
    "profitability.clvsettings": {"horizon_months": "Horizon"},
    "profitability.kpitarget": {"kpi": "KPI", "tolerance_pct": "Tolerance"},
    "campaigns.loyaltyprogram": {"min_clv": "Minimum CLV"},
    "campaigns.campaign": {"pilot_pct": "First stage", "response_window_days": "Response window (days)"},
    "campaigns.campaignvariant": {"discount_pct": "Discount"},
    "campaigns.reward": {"discount_pct": "Discount"},
}


def _is_money(field: Any) -> bool:
    return (isinstance(field, DecimalField) and field.max_digits == MONEY["max_digits"]
            and field.decimal_places == MONEY["decimal_places"])


def _show(field: Any, value: Any, record: Any = None) -> str:
    """A historical value as people read it: the pages' words for it, choices' labels, money with the
    currency, dates and moments as the pages write them."""
    special = VALUE_FORMATS.get(field.model._meta.label_lower, {}).get(field.name)
    if special is not None:
        return special(value, record)
    if value is None or value == "":
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return moment(value)
    if isinstance(value, date):
        return day(value)
    if _is_money(field):
        return money(value, 2)
    if isinstance(value, dict | list):  # JSON fields
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "(none)"
    return str(value)


def _show_m2m(field: Any, rows: list[dict]) -> str:
    """A many-to-many field's value in a history diff (rows of the through table) as the related names."""
    related = field.related_model
    ids = [row.get(related._meta.model_name) for row in rows]
    names = related.objects.in_bulk([i for i in ids if i is not None])
    return ", ".join(sorted(str(names.get(i, f"#{i}")) for i in ids)) or "(none)"


def _label(field: Any) -> str:
    return (FIELD_LABELS.get(field.model._meta.label_lower, {}).get(field.name)
            or capfirst(str(field.verbose_name)))


def _fields(model: type) -> list[tuple[str, str]]:
    recorded = {f.name for f in model.history.model._meta.fields}  # a model may leave fields out of its history
    return [(f.name, _label(f)) for f in model._meta.concrete_fields if f.name != "id" and f.name in recorded]


def _user_label(user: Any) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def config_history(*, source: str | None = None, page: int | str = 1) -> Page:
    """The audit trail of configuration changes, newest first, one page (entries in ``page.object_list``).

    One query counts, one pages through the union of the history tables, and per model on the page one
    query loads the records with each record's predecessor id and one loads the predecessors — whatever
    the page size.
    """
    sources = {source: HISTORY_SOURCES[source]} if source in HISTORY_SOURCES else HISTORY_SOURCES
    parts = [
        model.history.annotate(source=Value(key, output_field=CharField())).values("history_id", "history_date",
                                                                                     "source").order_by()
        for key, (model, _) in sources.items()
    ]
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    paginator = Paginator(union.order_by("-history_date", "-history_id"), HISTORY_PAGE_SIZE)
    result = paginator.get_page(page)
    keys = [(row["source"], row["history_id"]) for row in result.object_list]

    loaded: dict[tuple[str, int], HistoryEntry] = {}
    token = _page_tier_names.set(None)  # fresh names for this page, loaded at most once
    try:
        _load_entries(sources, keys, loaded)
    finally:
        _page_tier_names.reset(token)
    result.object_list = [loaded[k] for k in keys if k in loaded]
    return result


def _load_entries(sources: dict, keys: list[tuple[str, int]], loaded: dict[tuple[str, int], HistoryEntry]) -> None:
    for key, (model, label) in sources.items():
        ids = [history_id for src, history_id in keys if src == key]
        if not ids:
            continue
        history = model.history.model
        earlier = history.objects.filter(id=OuterRef("id")).filter(
            Q(history_date__lt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
        ).order_by("-history_date", "-history_id").values("history_id")[:1]
        records = list(
            history.objects.filter(history_id__in=ids).select_related("history_user")
            .annotate(previous_id=Subquery(earlier))
        )
        previous = history.objects.in_bulk([r.previous_id for r in records if r.previous_id])
        fields = _fields(model)
        for record in records:
            loaded[(key, record.history_id)] = _entry(record, previous.get(record.previous_id), label, fields)


def _show_fk(field: Any, pk: Any) -> str:
    """A foreign key's value by name; the record it pointed to may be gone since (history keeps the id only)."""
    if pk is None:
        return ""
    found = field.related_model._default_manager.filter(pk=pk).first()
    return str(found) if found is not None else f"#{pk} (deleted)"


def _value(record: Any, meta: Any, name: str) -> str:
    field = meta.get_field(name)
    if field.many_to_one:
        return _show_fk(field, getattr(record, field.attname))
    return _show(field, getattr(record, name), record)


def _field_change(meta: Any, change: Any, labels: dict[str, str], record: Any, previous: Any) -> FieldChange:
    field = meta.get_field(change.field)
    if field.many_to_many:
        return FieldChange(_label(field), _show_m2m(field, change.old), _show_m2m(field, change.new))
    if field.many_to_one:
        return FieldChange(labels.get(change.field, _label(field)), _show_fk(field, change.old),
                           _show_fk(field, change.new))
    return FieldChange(labels.get(change.field, _label(field)), _show(field, change.old, previous),
                       _show(field, change.new, record))


def _cost_rate_title(record: Any) -> str:
    channel = CHANNEL_LABELS.get(record.channel, record.channel) if record.channel else "every channel"
    return (f"{record.activity} ({KIND_LABELS.get(record.kind, record.kind)}, {channel.lower()}) "
            f"from {day(record.effective_from)}")


# What names a record on the trail where its ``__str__`` is not meant for people (it may hold raw codes,
# ISO dates or "None"), by model label.
TITLES: dict[str, Callable[[Any], str]] = {
    "profitability.kpitarget": lambda record: KPI_LABELS.get(record.kpi, record.kpi),
    "profitability.costrate": _cost_rate_title,
}


def _object_label(record: Any) -> str:
    title = TITLES.get(record.instance_type._meta.label_lower)
    try:
        return title(record) if title is not None else str(record.instance)
    except ObjectDoesNotExist:  # its __str__ names a related record deleted since
        return f"#{record.id}"


def _entry(record: Any, previous: Any, model_label: str, fields: list[tuple[str, str]]) -> HistoryEntry:
    labels = dict(fields)
    meta = record.instance_type._meta
    if record.history_type == "+" or previous is None:
        changes = [FieldChange(label, None, _value(record, meta, name)) for name, label in fields]
    elif record.history_type == "-":
        changes = [FieldChange(label, _value(record, meta, name), None) for name, label in fields]
    else:
        delta = record.diff_against(previous, excluded_fields=["id"])
        order = [name for name, _ in fields]
        changes = [_field_change(meta, c, labels, record, previous)
                   for c in sorted(delta.changes, key=lambda c: order.index(c.field) if c.field in order else 99)]
    return HistoryEntry(
        when=record.history_date,
        who=_user_label(record.history_user),
        model_label=model_label,
        object_label=_object_label(record),
        action=ACTIONS.get(record.history_type, record.history_type),
        changes=changes,
        reason=record.history_change_reason or "",
    )
