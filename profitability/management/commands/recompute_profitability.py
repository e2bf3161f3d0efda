from django.core.management.base import BaseCommand

from profitability import services


class Command(BaseCommand):
    help = "Recompute profitability snapshots: the whole book set-based (default), or one account."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--account", type=int, help="Recompute only this account id.")

    def handle(self, *args, account: int | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        if account is not None:
            result = services.snapshot_recompute(account_id=account)
            self.stdout.write(f"Account {result.account_id}: version {result.version}, written={result.written}")
            return
        result = services.book_recompute(progress=self.stdout.write)
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.seconds.items())
        self.stdout.write(self.style.SUCCESS(
            f"{result.accounts:,} accounts recomputed, {result.tier_changes:,} tier changes ({timings})"
        ))
