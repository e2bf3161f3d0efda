"""Scored leads, best expected value first, with the scoring model and its training history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from crm.models import Channel, Lead

from ...models_analytics import LeadScore, LeadScoringModel

LEAD_PAGE_SIZE = 50


@dataclass
class LeadsPage:
    model: LeadScoringModel | None
    page: Page
    open_leads: int
    stage: str
    channel_id: int | None
    channels: list[Channel]
    history: list[LeadScoringModel]


def _scores(stage: str, channel_id: int | None):  # type: ignore[no-untyped-def]
    scores = LeadScore.objects.select_related("lead", "lead__channel", "lead__owner").order_by(
        "-expected_value", "lead_id")
    if stage:
        scores = scores.filter(lead__stage=stage)
    if channel_id:
        scores = scores.filter(lead__channel_id=channel_id)
    return scores


def leads_page(*, stage: str = "", channel_id: int | None = None, page: int | str = 1) -> LeadsPage:
    model = LeadScoringModel.objects.order_by("-trained_at", "-pk").defer("params").first()
    paginator = Paginator(_scores(stage, channel_id), LEAD_PAGE_SIZE)
    return LeadsPage(
        model=model, page=paginator.get_page(page),
        open_leads=Lead.objects.filter(stage__in=[Lead.Stage.MQL, Lead.Stage.SQL]).count(),
        stage=stage, channel_id=channel_id, channels=list(Channel.objects.order_by("name")),
        history=list(LeadScoringModel.objects.order_by("-trained_at", "-pk").defer("params")[:10]),
    )


def leads_csv_rows(*, stage: str = "", channel_id: int | None = None) -> tuple[list[str], Iterator[list]]:
    header = ["lead_id", "company", "stage", "channel", "industry", "region", "employee_band", "p_win",
              "predicted_value", "expected_value", "reasons"]

    def rows() -> Iterator[list]:
        for s in _scores(stage, channel_id).iterator(chunk_size=2000):
            lead = s.lead
            reasons = "; ".join(f"{r['feature']} {r['value']}: {r['effect']}" for r in s.reasons)
            yield [lead.pk, lead.company_name, lead.get_stage_display(), lead.channel.name if lead.channel else "",
                   lead.industry, lead.region, lead.employee_band, round(s.p_win, 4), s.predicted_value,
                   s.expected_value, reasons]

    return header, rows()
