from django.core.management.base import BaseCommand

from profitability.lead_scoring import NotEnoughData, lead_scoring_train
from profitability.services_analytics import analytics_refresh


class Command(BaseCommand):
    help = ("Refresh the analytics aggregates (monthly KPIs, funnel and channels, what-if bases, lead scores); "
            "--retrain also retrains the lead-scoring model first.")

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--retrain", action="store_true", help="Retrain the lead-scoring model first.")

    def handle(self, *args, retrain: bool = False, **options) -> None:  # type: ignore[no-untyped-def]
        if retrain:
            try:
                model = lead_scoring_train()
                value = model.metrics["value"]
                self.stdout.write(f"Lead scoring retrained: R² {value['r2']}, MAE {value['mae']} "
                                  f"(baseline {value['baseline_mae']}) on {model.holdout_size:,} held-out accounts")
            except NotEnoughData as exc:
                self.stdout.write(self.style.WARNING(f"Lead scoring not trained: {exc}"))
        result = analytics_refresh(progress=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(
            f"Analytics refreshed: {result.months} months of KPIs, {result.funnel_rows} funnel rows, "
            f"{result.segment_rows} segment rows, {result.leads_scored:,} leads scored "
            f"in {result.seconds['total']:.2f} s"))
