"""Score service cases' text for urgency and sentiment (cases loaded in bulk arrive unscored)."""

from django.core.management.base import BaseCommand

from crm.services.cases import cases_score


class Command(BaseCommand):
    help = "Score the urgency and sentiment of unscored service cases (--all: rescore every case)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--all", action="store_true", help="Rescore every case, e.g. after a lexicon change.")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        scored = cases_score(only_unscored=not options["all"])
        self.stdout.write(f"Scored {scored:,} case{'s' if scored != 1 else ''}.")
