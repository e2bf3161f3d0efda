"""Fit the statistical CLV models on the book (stored), or on a file (printed as JSON, nothing stored)."""

import json

from django.core.management.base import BaseCommand, CommandError

from profitability.clv import bgnbd, gamma_gamma, sbg
from profitability.clv.io import read_summary_csv, read_survival_csv


class Command(BaseCommand):
    help = (
        "Fit BG/NBD + Gamma-Gamma and shifted-beta-geometric models. Without options: on the book, stored for "
        "per-account predictions. With --summary-csv (frequency,recency,T[,monetary_value]) or --survival-csv "
        "(period,alive): on the file, printing parameters and log-likelihood as JSON."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--summary-csv", help="Per-customer summary for BG/NBD (and Gamma-Gamma).")
        parser.add_argument("--survival-csv", help="Cohort survival curve for the shifted-beta-geometric model.")
        parser.add_argument("--time-unit", default="weeks", help="Time unit of recency and T in --summary-csv.")

    def handle(self, *args, summary_csv=None, survival_csv=None, time_unit="weeks", **options):  # type: ignore[no-untyped-def]
        if not summary_csv and not survival_csv:
            from profitability.clv_book import clv_models_fit

            fits = clv_models_fit()
            out = {f.model: {"params": f.params, "log_likelihood": f.log_likelihood, "n": f.sample_size,
                             "time_unit": f.time_unit, "converged": f.converged, **f.diagnostics} for f in fits}
            self.stdout.write(json.dumps(out, indent=2))
            return
        out: dict = {}
        try:
            if summary_csv:
                data = read_summary_csv(summary_csv)
                out["bg_nbd"] = {**bgnbd.fit(data.frequency, data.recency, data.T).to_dict(), "time_unit": time_unit}
                if data.monetary_value is not None:
                    repeat = data.frequency > 0
                    out["gamma_gamma"] = {
                        **gamma_gamma.fit(data.frequency[repeat], data.monetary_value[repeat]).to_dict(),
                        "spend_frequency_correlation": gamma_gamma.spend_frequency_correlation(
                            data.frequency[repeat], data.monetary_value[repeat]),
                    }
            if survival_csv:
                data = read_survival_csv(survival_csv)
                out["sbg"] = sbg.fit(data.alive).to_dict()
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(out, indent=2))
