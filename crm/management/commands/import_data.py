"""``manage.py import_data SOURCE KIND FILE``: import a CSV or XLSX file synchronously, for scheduled loads.

The source system's remembered mapping (set up once on the import page) is used; columns it doesn't cover
are suggested from the headers. ``--map field=Header`` sets columns explicitly. Exits non-zero when the
import fails (bad file, limit exceeded); rejected rows don't fail it unless ``--fail-on-rejects``.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.imports.errors import ImportFileError, ImportLimitError
from crm.imports.fields import FIELDS
from crm.imports.services import import_file
from crm.models_imports import ImportJob


class Command(BaseCommand):
    help = "Import a CSV or XLSX file of accounts, contacts, interactions, survey answers or marketing spend."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="Source system name, e.g. erp, helpdesk, marketing.")
        parser.add_argument("kind", choices=list(FIELDS), help="What the file holds.")
        parser.add_argument("file", help="Path of the .csv / .xlsx file.")
        parser.add_argument("--map", action="append", default=[], metavar="FIELD=HEADER",
                            help="Map a Tierwise field to a column header (repeatable); replaces the remembered "
                                 "mapping and the suggestions.")
        parser.add_argument("--encoding", help="utf-8, utf-8-sig, cp1252, latin-1 ... (default: detected).")
        parser.add_argument("--delimiter", help="Column delimiter: , ; | or tab (default: detected).")
        parser.add_argument("--decimal-separator", choices=[".", ","], help="Default: detected.")
        parser.add_argument("--date-order", choices=["dmy", "mdy", "ymd"], help="How 01/02/2025 reads.")
        parser.add_argument("--sheet", help="XLSX: the worksheet to read (default: the first).")
        parser.add_argument("--user", help="User name recorded as the importer (and logger of interactions).")
        parser.add_argument("--fail-on-rejects", action="store_true", help="Exit non-zero if any row is rejected.")

    def handle(self, *args: Any, **options: Any) -> None:
        columns: dict[str, str] = {}
        for item in options["map"]:
            name, sep, header = item.partition("=")
            if not sep or not name.strip() or not header.strip():
                raise CommandError(f"--map takes FIELD=HEADER, got '{item}'.")
            columns[name.strip()] = header.strip()
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user '{options['user']}'.")
        parse = {"encoding": options["encoding"], "delimiter": options["delimiter"],
                 "decimal_separator": options["decimal_separator"], "date_order": options["date_order"],
                 "sheet": options["sheet"]}
        try:
            job = import_file(path=options["file"], original_name="", source_system=options["source"],
                              kind=options["kind"], columns=columns or None, options=parse, user=user)
        except (ImportFileError, ImportLimitError, OSError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{job.get_status_display()}: {job.rows_processed:,} rows — {job.rows_created:,} created, "
            f"{job.rows_updated:,} updated, {job.rows_unchanged:,} unchanged, {job.rows_rejected:,} rejected."
        )
        self.stdout.write(f"Columns: {', '.join(f'{k}={v}' for k, v in job.columns.items())}")
        if job.rejects_file:
            self.stdout.write(f"Rejected rows with their line, field and reason: {job.rejects_file.path}")
        if job.status != ImportJob.Status.DONE:
            raise CommandError(job.error or f"The import ended {job.status}.")
        if options["fail_on_rejects"] and job.rows_rejected:
            raise CommandError(f"{job.rows_rejected:,} rows were rejected.")
