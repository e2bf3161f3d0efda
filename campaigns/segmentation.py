"""Rule-based segment criteria: what an admin can filter the book on, checked, described and turned into a query.

Criteria are stored as JSON on :class:`campaigns.models.Segment`; :class:`Criteria` is their one typed
form. Every list criterion matches any of its values; every bound is inclusive; empty means "any".
Behaviour figures (return rate, support load, complaints, days since the last order) come from
:class:`campaigns.models.AccountFeatures`; spend and net profit from the account's snapshot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any

from django.db.models import Q

from .models import MAX_DAYS

LIST_FIELDS = ("industries", "regions", "employee_bands", "personas", "tier_ids", "statuses")
DECIMAL_FIELDS = ("spend_min", "spend_max", "net_profit_min", "net_profit_max")
FLOAT_FIELDS = ("return_rate_min", "return_rate_max")
DAY_FIELDS = ("ordered_within_days", "not_ordered_for_days")
INT_FIELDS = ("support_min", "support_max", "complaints_min", *DAY_FIELDS)


@dataclass(frozen=True)
class Criteria:
    industries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    employee_bands: tuple[str, ...] = ()
    personas: tuple[str, ...] = ()  # Account.segment (buyer persona)
    tier_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ("active",)
    spend_min: Decimal | None = None  # revenue, trailing 12 months
    spend_max: Decimal | None = None
    net_profit_min: Decimal | None = None  # net profit, trailing 12 months
    net_profit_max: Decimal | None = None
    return_rate_min: float | None = None  # 0–1
    return_rate_max: float | None = None
    support_min: int | None = None  # support calls + e-mails, trailing 12 months
    support_max: int | None = None
    complaints_min: int | None = None
    ordered_within_days: int | None = None
    not_ordered_for_days: int | None = None

    # --- JSON ---

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value == ():
                continue
            if isinstance(value, tuple | list):
                out[key] = list(value)
            elif isinstance(value, Decimal):
                out[key] = str(value)
            else:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Criteria:
        data = data or {}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data or data[f.name] in (None, ""):
                continue
            value = data[f.name]
            if f.name in LIST_FIELDS:
                kwargs[f.name] = tuple(int(v) for v in value) if f.name == "tier_ids" else tuple(str(v) for v in value)
            elif f.name in DECIMAL_FIELDS:
                kwargs[f.name] = Decimal(str(value))
            elif f.name in FLOAT_FIELDS:
                kwargs[f.name] = float(value)
            else:
                kwargs[f.name] = int(value)
        return cls(**kwargs)

    # --- checks ---

    def errors(self) -> list[tuple[str, str]]:
        """(field, message) for every inconsistent bound."""
        out = []
        for low, high, what in (("spend_min", "spend_max", "spend"), ("net_profit_min", "net_profit_max", "net profit"),
                                ("return_rate_min", "return_rate_max", "return rate"),
                                ("support_min", "support_max", "support load")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                out.append((high, f"The highest {what} must not be below the lowest."))
        for name in FLOAT_FIELDS:
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                out.append((name, "A return rate is between 0 and 100 %."))
        for name in (*INT_FIELDS, "spend_min", "spend_max"):
            value = getattr(self, name)
            if value is not None and value < 0:
                out.append((name, "Must not be negative."))
        for name in DAY_FIELDS:
            value = getattr(self, name)
            if value is not None and value > MAX_DAYS:
                out.append((name, f"At most {MAX_DAYS:,} days (100 years)."))
        if (self.ordered_within_days is not None and self.not_ordered_for_days is not None
                and self.not_ordered_for_days >= self.ordered_within_days):
            out.append(("not_ordered_for_days",
                        "No account can have ordered within fewer days than it has not ordered for."))
        return out

    # --- query ---

    def q(self, *, today: Any = None) -> Q:
        """The filter over ``crm.Account``. Day-based criteria need the current date passed as a ``date``."""
        from datetime import date, timedelta

        q = Q()
        pairs = (("industries", "industry"), ("regions", "region"), ("employee_bands", "employee_band"),
                 ("personas", "segment"), ("tier_ids", "snapshot__tier_id"), ("statuses", "status"))
        for attr, path in pairs:
            values = getattr(self, attr)
            if values:
                q &= Q(**{f"{path}__in": list(values)})
        bounds = (("spend_min", "snapshot__revenue_ttm__gte"), ("spend_max", "snapshot__revenue_ttm__lte"),
                  ("net_profit_min", "snapshot__net_profit_ttm__gte"),
                  ("net_profit_max", "snapshot__net_profit_ttm__lte"),
                  ("return_rate_min", "campaign_features__return_rate__gte"),
                  ("return_rate_max", "campaign_features__return_rate__lte"),
                  ("support_min", "campaign_features__support_contacts_ttm__gte"),
                  ("support_max", "campaign_features__support_contacts_ttm__lte"),
                  ("complaints_min", "campaign_features__complaints_ttm__gte"))
        for attr, lookup in bounds:
            value = getattr(self, attr)
            if value is not None:
                q &= Q(**{lookup: value})
        if self.ordered_within_days is not None or self.not_ordered_for_days is not None:
            if not isinstance(today, date):
                raise ValueError("day-based criteria need today's date")
            # Capped: segments saved before the bound (or edited as JSON in the admin) would overflow the date.
            if self.ordered_within_days is not None:
                days = min(self.ordered_within_days, MAX_DAYS)
                q &= Q(snapshot__last_order_at__date__gte=today - timedelta(days=days))
            if self.not_ordered_for_days is not None:
                days = min(self.not_ordered_for_days, MAX_DAYS)
                q &= Q(snapshot__last_order_at__date__lt=today - timedelta(days=days)) \
                    | Q(snapshot__last_order_at__isnull=True)
        return q

    # --- words ---

    def describe(self, *, tier_names: dict[int, str] | None = None, currency: str = "EUR",
                 band_labels: dict[str, str] | None = None) -> str:
        tier_names = tier_names or {}
        band_labels = band_labels or {}
        parts = []
        if self.statuses and tuple(self.statuses) != ("active",):
            parts.append("status " + " or ".join(self.statuses))
        if self.tier_ids:
            parts.append("tier " + " or ".join(tier_names.get(t, f"#{t}") for t in self.tier_ids))
        for attr, label in (("industries", "industry"), ("regions", "region"), ("personas", "persona")):
            if getattr(self, attr):
                parts.append(f"{label} " + " or ".join(getattr(self, attr)))
        if self.employee_bands:
            parts.append("size " + " or ".join(band_labels.get(b, b) for b in self.employee_bands) + " staff")
        for low, high, label, fmt in (
            ("spend_min", "spend_max", "revenue (12 months)", lambda v: f"{currency} {v:,.0f}"),
            ("net_profit_min", "net_profit_max", "net profit (12 months)", lambda v: f"{currency} {v:,.0f}"),
            ("return_rate_min", "return_rate_max", "return rate", lambda v: f"{v * 100:g} %"),
            ("support_min", "support_max", "support contacts (12 months)", lambda v: f"{v:,}"),
        ):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None:
                parts.append(f"{label} {fmt(a)}–{fmt(b)}")
            elif a is not None:
                parts.append(f"{label} at least {fmt(a)}")
            elif b is not None:
                parts.append(f"{label} at most {fmt(b)}")
        if self.complaints_min is not None:
            plural = "s" if self.complaints_min != 1 else ""
            parts.append(f"at least {self.complaints_min} complaint{plural} (12 months)")
        if self.ordered_within_days is not None:
            parts.append(f"ordered within {self.ordered_within_days} days")
        if self.not_ordered_for_days is not None:
            parts.append(f"no order for {self.not_ordered_for_days} days")
        scope = "Active accounts" if tuple(self.statuses) == ("active",) else "Accounts"
        return scope + (" with " + "; ".join(parts) if parts else "") + "."


EMPTY = Criteria()
