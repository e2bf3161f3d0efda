"""KPI targets: who changed what and when, and the current cards the targets apply to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ... import analytics as math
from ...models_analytics import KpiMonth, KpiTarget
from .kpis import KpiCard, kpi_cards, targets_by_kpi


@dataclass(frozen=True)
class TargetChange:
    when: datetime
    who: str
    kpi: str
    changes: list[tuple[str, str, str]]  # (field, before, after)


TARGET_FIELDS = [("target", "Target"), ("benchmark", "Benchmark"), ("benchmark_source", "Benchmark source"),
                 ("tolerance_pct", "Amber tolerance %"), ("shown", "On the dashboard")]


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def target_history(limit: int = 50) -> list[TargetChange]:
    """The latest changes to KPI targets: who, when, and each field before → after."""
    history = KpiTarget.history.model
    records = list(history.objects.select_related("history_user").order_by("-history_date", "-history_id")[:limit])
    previous_of: dict[int, Any] = {}
    if records:
        before: dict[str, Any] = {}
        for record in history.objects.filter(kpi__in={r.kpi for r in records}).order_by(
            "kpi", "history_date", "history_id"
        ):
            previous_of[record.history_id] = before.get(record.kpi)
            before[record.kpi] = record
    labels = math.KPI_BY_KEY
    out = []
    for record in records:
        previous = previous_of.get(record.history_id)
        changes = []
        for name, label in TARGET_FIELDS:
            new = getattr(record, name)
            old = getattr(previous, name) if previous is not None else None
            if record.history_type == "-" or previous is None or old != new:
                changes.append((label, _show(old) if previous is not None else "—", _show(new)))
        user = record.history_user
        out.append(TargetChange(
            when=record.history_date, who=(user.get_full_name() or user.username) if user else "system",
            kpi=labels[record.kpi].label if record.kpi in labels else record.kpi, changes=changes,
        ))
    return out


def targets_overview() -> list[KpiCard]:
    rows = list(KpiMonth.objects.order_by("-month")[:2])[::-1]
    return kpi_cards(rows, targets_by_kpi())
