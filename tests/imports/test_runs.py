"""The import run as a job: limits, cancelling, re-running, the engines' notification, preview, mapping,
the management command."""

import csv
from contextlib import contextmanager
from io import StringIO
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from crm.imports import services
from crm.imports.errors import ImportFileError, ImportLimitError
from crm.imports.services import (
    check_upload,
    import_file,
    import_job_run,
    import_preview,
    mapping_for,
    mapping_remember,
)
from crm.models import Account, AccountSourceId, Interaction
from crm.models_imports import ImportJob
from tests.connections import other_connection
from tests.factories import AccountFactory, ProductFactory

pytestmark = pytest.mark.django_db


def linked(external_id: str, source: str = "erp") -> Account:
    account = AccountFactory()
    AccountSourceId.objects.create(account=account, source_system=source, external_id=external_id)
    return account


def interactions(n: int, account: str = "C-1") -> list[list[str]]:
    return [["id", "account", "kind", "date", "amount"],
            *[[f"SO-{i}", account, "order", "2025-03-01", f"{i}.00"] for i in range(1, n + 1)]]


def queued_job(path, kind: str = "interactions", **fields) -> ImportJob:  # type: ignore[no-untyped-def]
    job = ImportJob(source_system="erp", kind=kind, original_name=path.name, size_bytes=path.stat().st_size,
                    columns={"external_id": "id", "account_external_id": "account", "kind": "kind",
                             "occurred_at": "date", "amount": "amount"},
                    status=ImportJob.Status.QUEUED, **fields)
    job.file.save(path.name, ContentFile(path.read_bytes()), save=False)
    job.save()
    return job


class TestLimits:
    def test_uploads_over_the_size_limit_or_of_another_type_are_refused_with_a_clear_message(self, settings):
        settings.TIERWISE_IMPORT_MAX_BYTES = 200 * 1024 * 1024
        with pytest.raises(ImportLimitError, match=r"^The file is 312 MB; the limit is 200 MB \(IMPORT_MAX_BYTES\)\.$"):
            check_upload(size_bytes=312 * 1024 * 1024, original_name="big.csv")
        with pytest.raises(ImportFileError, match="Not a CSV or XLSX file: 'notes.pdf'"):
            check_upload(size_bytes=10, original_name="notes.pdf")
        check_upload(size_bytes=10, original_name="fine.XLSX")

    def test_a_file_over_the_row_limit_fails_before_anything_is_written(self, settings, write_csv):
        settings.TIERWISE_IMPORT_MAX_ROWS = 3
        linked("C-1")
        job = import_file(path=write_csv(interactions(4)), original_name="o.csv", source_system="erp",
                          kind="interactions")
        assert job.status == ImportJob.Status.FAILED
        assert job.error == ("The file has more than 3 rows (4); the limit is 3 rows (IMPORT_MAX_ROWS). "
                             "Split it into smaller files.")
        assert Interaction.objects.count() == 0

    def test_line_breaks_inside_quotes_do_not_count_against_the_row_limit(self, settings, write_csv):
        settings.TIERWISE_IMPORT_MAX_ROWS = 2
        linked("C-1")
        rows = [["id", "account", "kind", "date", "note"], ["A", "C-1", "order", "2025-01-01", "a\nb\nc"],
                ["B", "C-1", "order", "2025-01-01", "x"]]
        job = import_file(path=write_csv(rows), original_name="o.csv", source_system="erp", kind="interactions")
        assert (job.status, job.rows_created) == (ImportJob.Status.DONE, 2)
        assert Interaction.objects.get(external_id="A").note == "a\nb\nc"


class TestRuns:
    def test_it_reports_progress_batch_by_batch_and_notifies_the_engines_once(self, settings, write_csv,
                                                                              django_capture_on_commit_callbacks):
        settings.TIERWISE_IMPORT_BATCH_ROWS = 2
        acme, beta = linked("C-1"), linked("C-2")
        rows = interactions(5) + [["SO-9", "C-2", "order", "2025-03-01", "1"]]
        versions = dict(Account.objects.values_list("pk", "history_version"))
        progress: list[int] = []
        real_load = services._Run._load

        def spy(run, loader, batch):  # type: ignore[no-untyped-def]
            done = real_load(run, loader, batch)
            progress.append(ImportJob.objects.get(pk=run.job.pk).rows_processed)
            return done

        with (mock.patch.object(services._Run, "_load", spy),
              mock.patch("crm.signals.history_changed.send") as send,
              django_capture_on_commit_callbacks(execute=True)):
            job = import_file(path=write_csv(rows), original_name="o.csv", source_system="erp",
                              kind="interactions")
        assert progress == [2, 4, 6]
        assert (job.status, job.rows_total, job.rows_processed, job.rows_created) == ("done", 6, 6, 6)
        assert job.started_at <= job.finished_at
        send.assert_called_once_with(sender=Account, account_ids=sorted([acme.pk, beta.pk]))
        # Bumped with the first batch that changed it, and — changed again by later batches — once more at
        # the end (not once per batch); Beta only by the last batch.
        after = dict(Account.objects.values_list("pk", "history_version"))
        assert (after[acme.pk] - versions[acme.pk], after[beta.pk] - versions[beta.pk]) == (2, 1)

    def test_every_batch_commits_its_changes_with_a_bump_of_their_accounts(self, settings, write_csv):
        settings.TIERWISE_IMPORT_BATCH_ROWS = 2
        acme, beta = linked("C-1"), linked("C-2")
        rows = [*interactions(2), ["SO-9", "C-2", "order", "2025-03-01", "1"],
                ["SO-10", "C-1", "order", "2025-03-01", "1"]]
        seen: list[tuple[int, int, int]] = []
        real_load = services._Run._load

        def spy(run, loader, batch):  # type: ignore[no-untyped-def]
            done = real_load(run, loader, batch)  # committed (on PostgreSQL a batch is its own transaction)
            versions = dict(Account.objects.values_list("pk", "history_version"))
            seen.append((Interaction.objects.count(), versions[acme.pk], versions[beta.pk]))
            return done

        start = dict(Account.objects.values_list("pk", "history_version"))
        with mock.patch.object(services._Run, "_load", spy):
            import_file(path=write_csv(rows), original_name="o.csv", source_system="erp", kind="interactions")
        # each batch's rows arrive with a bump of every account they are the first change to in this run
        assert seen == [(2, start[acme.pk] + 1, start[beta.pk]), (4, start[acme.pk] + 1, start[beta.pk] + 1)]
        after = dict(Account.objects.values_list("pk", "history_version"))
        assert (after[acme.pk], after[beta.pk]) == (start[acme.pk] + 2, start[beta.pk] + 1)

    def test_a_run_redone_after_a_crash_bumps_every_account_its_rows_name(self, write_csv,
                                                                          django_capture_on_commit_callbacks):
        acme = linked("C-1")
        job = queued_job(write_csv(interactions(2)))
        import_job_run(job_id=job.pk)
        before = Account.objects.get(pk=acme.pk).history_version
        # The crashed run may have committed changes without the bump it owed at the end: redone, the rows
        # are all unchanged, yet their accounts are bumped and announced.
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
        with (mock.patch("crm.signals.history_changed.send") as send,
              django_capture_on_commit_callbacks(execute=True)):
            again = import_job_run(job_id=job.pk)
        assert (again.rows_created, again.rows_unchanged) == (0, 2)
        assert Account.objects.get(pk=acme.pk).history_version == before + 1
        send.assert_called_once_with(sender=Account, account_ids=[acme.pk])

    def test_an_unchanged_reimport_touches_no_account(self, write_csv, django_capture_on_commit_callbacks):
        linked("C-1")
        path = write_csv(interactions(2))
        import_file(path=path, original_name="o.csv", source_system="erp", kind="interactions")
        versions = list(Account.objects.values_list("history_version", flat=True))
        with (mock.patch("crm.signals.history_changed.send") as send,
              django_capture_on_commit_callbacks(execute=True)):
            import_file(path=path, original_name="o.csv", source_system="erp", kind="interactions")
        send.assert_not_called()
        assert list(Account.objects.values_list("history_version", flat=True)) == versions

    def test_cancelling_stops_between_batches_and_keeps_what_was_committed(self, settings, write_csv):
        settings.TIERWISE_IMPORT_BATCH_ROWS = 2
        linked("C-1")
        job = queued_job(write_csv(interactions(6)))
        real_load = services._Run._load

        def cancel_after_first(run, loader, batch):  # type: ignore[no-untyped-def]
            done = real_load(run, loader, batch)
            ImportJob.objects.filter(pk=run.job.pk).update(cancel_requested=True)  # the user clicks Cancel
            return done

        with mock.patch.object(services._Run, "_load", cancel_after_first):
            job = import_job_run(job_id=job.pk)
        assert (job.status, job.rows_processed, job.rows_created) == ("cancelled", 2, 2)
        assert sorted(Interaction.objects.values_list("external_id", flat=True)) == ["SO-1", "SO-2"]

    def test_a_job_cancelled_before_it_starts_writes_nothing(self, write_csv):
        linked("C-1")
        job = queued_job(write_csv(interactions(2)), cancel_requested=True)
        assert import_job_run(job_id=job.pk).status == ImportJob.Status.CANCELLED
        assert Interaction.objects.count() == 0

    def test_a_finished_job_is_not_run_again(self, write_csv):
        linked("C-1")
        job = queued_job(write_csv(interactions(2)))
        import_job_run(job_id=job.pk)
        Interaction.objects.all().delete()
        assert import_job_run(job_id=job.pk).status == ImportJob.Status.DONE
        assert Interaction.objects.count() == 0

    def test_a_job_left_running_by_a_crashed_worker_is_rerun_to_the_same_result(self, write_csv):
        linked("C-1")
        job = queued_job(write_csv(interactions(3)))
        import_job_run(job_id=job.pk)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)  # as if it died mid-way
        again = import_job_run(job_id=job.pk)
        assert (again.status, again.rows_created, again.rows_unchanged) == ("done", 0, 3)
        assert Interaction.objects.count() == 3

    def test_a_second_run_while_another_worker_holds_the_job_returns_at_once(self, write_csv):
        import psycopg
        from django.db import connection

        linked("C-1")
        job = queued_job(write_csv(interactions(2)))
        db = connection.settings_dict
        # the other worker: its own session, holding the job's advisory lock
        with psycopg.connect(dbname=db["NAME"], host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
                             password=db["PASSWORD"] or None, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [f"tierwise.import.{job.pk}"])
            with mock.patch("crm.imports.services._Run.execute") as execute:
                assert import_job_run(job_id=job.pk).status == ImportJob.Status.QUEUED
            execute.assert_not_called()

    def test_a_mapping_that_does_not_fit_fails_the_job_with_the_reason(self, write_csv):
        path = write_csv([["id", "account"], ["1", "C-1"]])
        job = queued_job(path)
        job = import_job_run(job_id=job.pk)
        assert job.status == ImportJob.Status.FAILED
        assert job.error.startswith("The column 'kind' mapped to kind is not in the file")

    def test_rows_the_database_refuses_are_isolated_and_rejected(self, write_csv):
        linked("C-1")
        job = queued_job(write_csv(interactions(4)))
        original_load = services.loader_for

        def refusing_loader(context):  # type: ignore[no-untyped-def]
            loader = original_load(context)
            inner = loader.load_prepared

            def load_prepared(prepared):  # type: ignore[no-untyped-def]
                from django.db import IntegrityError

                if any(line == 3 for line, _ in getattr(prepared, "rows", prepared)):
                    raise IntegrityError('new row violates check constraint "made_up"\nDETAIL: ...')
                return inner(prepared)

            loader.load_prepared = load_prepared
            return loader

        with mock.patch.object(services, "loader_for", refusing_loader):
            job = import_job_run(job_id=job.pk)
        assert (job.status, job.rows_created, job.rows_rejected) == ("done", 3, 1)
        with job.rejects_file.open("rb") as handle:
            (reject,) = list(csv.DictReader(StringIO(handle.read().decode("utf-8-sig"))))
        assert (reject["line"], reject["field"], reject["reason"]) == (
            "3", "(row)", 'the database refused the row: new row violates check constraint "made_up"')


class TestPreviewAndMapping:
    def test_preview_validates_the_first_rows_like_the_run_including_lookups(self, write_csv):
        linked("C-1")
        ProductFactory(sku="BOLT-1")
        path = write_csv([
            ["id", "account", "kind", "date", "amount", "sku"],
            ["A", "C-1", "Support call", "01.03.2025", "1.234,5", "BOLT-1"],
            ["B", "C-404", "order", "2025-03-01", "x", "NOPE"],
            ["A", "C-1", "order", "2025-03-01", "1", ""],
        ], delimiter=";")
        columns = {"external_id": "id", "account_external_id": "account", "kind": "kind", "occurred_at": "date",
                   "amount": "amount", "product_sku": "sku"}
        preview = import_preview(path=path, original_name="o.csv", kind="interactions", source_system="erp",
                                 columns=columns, options={}, limit=20)
        assert (preview.format.delimiter, preview.format.decimal_separator) == (";", ",")
        first, second, third = preview.rows
        assert (first.line, first.errors) == (2, {})
        assert first.values == {"external_id": "A", "account_external_id": "C-1", "kind": "support_call",
                                "occurred_at": "2025-03-01 00:00:00+00:00", "amount": "1234.50",
                                "product_sku": "BOLT-1"}
        assert second.errors == {"amount": "not a number: 'x'"}  # lookups only for rows that pass validation
        assert second.values["amount"] == "x"
        assert third.errors == {"external_id": "the same key is already on line 2 of this file"}
        assert Interaction.objects.count() == 0

        preview = import_preview(path=path, original_name="o.csv", kind="interactions", source_system="erp",
                                 columns={**columns, "amount": ""}, options={}, limit=2)
        assert preview.rows[1].errors == {
            "account_external_id": "no account with external id 'C-404' in source system 'erp'",
            "product_sku": "no product with SKU 'NOPE'"}

    def test_the_mapping_is_remembered_per_source_and_kind_with_its_history(self, ada):
        assert mapping_for("erp", "interactions") is None
        mapping_remember(source_system="erp", kind="interactions", columns={"external_id": "Beleg", "note": ""},
                         options={"delimiter": ";", "bogus": "x"}, user=ada)
        mapping = mapping_remember(source_system="erp", kind="interactions", columns={"external_id": "Nr"},
                                   options={"delimiter": ","}, user=ada)
        stored = mapping_for("erp", "interactions")
        assert (stored.pk, stored.columns, stored.options, stored.updated_by) == (
            mapping.pk, {"external_id": "Nr"}, {"delimiter": ","}, ada)
        assert [h.columns for h in stored.history.order_by("history_date")] == [
            {"external_id": "Beleg"}, {"external_id": "Nr"}]
        assert stored.history.first().history_user == ada
        assert mapping_for("erp", "accounts") is None

    def test_import_file_uses_the_remembered_mapping(self, write_csv):
        linked("C-1")
        mapping_remember(source_system="erp", kind="interactions",
                         columns={"external_id": "Nr", "account_external_id": "Wer", "kind": "Was",
                                  "occurred_at": "Wann"}, options={}, user=None)
        path = write_csv([["Nr", "Wer", "Was", "Wann"], ["1", "C-1", "visit", "2025-01-01"]])
        job = import_file(path=path, original_name="x.csv", source_system="erp", kind="interactions")
        assert (job.status, job.rows_created) == ("done", 1)
        assert job.columns == {"external_id": "Nr", "account_external_id": "Wer", "kind": "Was",
                               "occurred_at": "Wann"}


class TestCommand:
    def test_import_data_loads_a_file_and_prints_the_counts(self, write_csv):
        linked("C-1")
        path = write_csv(interactions(2) + [["SO-3", "C-9", "order", "2025-03-01", "1"]])
        out = StringIO()
        call_command("import_data", "erp", "interactions", str(path), stdout=out)
        assert "Done: 3 rows — 2 created, 0 updated, 0 unchanged, 1 rejected." in out.getvalue()
        assert "Rejected rows with their line, field and reason: " in out.getvalue()
        call_command("import_data", "erp", "interactions", str(path), stdout=out)
        assert "Done: 3 rows — 0 created, 0 updated, 2 unchanged, 1 rejected." in out.getvalue()
        with pytest.raises(CommandError, match="1 rows were rejected"):
            call_command("import_data", "erp", "interactions", str(path), "--fail-on-rejects", stdout=out)

    def test_import_data_takes_explicit_columns_and_fails_loudly(self, write_csv):
        linked("C-1")
        path = write_csv([["A", "B", "C", "D"], ["X1", "C-1", "order", "01/02/2025"]])
        call_command("import_data", "erp", "interactions", str(path), "--map", "external_id=A",
                     "--map", "account_external_id=B", "--map", "kind=C", "--map", "occurred_at=D",
                     "--date-order", "mdy", stdout=StringIO())
        assert Interaction.objects.get(external_id="X1").occurred_at.date().isoformat() == "2025-01-02"
        with pytest.raises(CommandError, match="The column 'Nope' mapped to kind is not in the file"):
            call_command("import_data", "erp", "interactions", str(path), "--map", "external_id=A",
                         "--map", "account_external_id=B", "--map", "kind=Nope", "--map", "occurred_at=D",
                         stdout=StringIO())
        with pytest.raises(CommandError, match="No such file|No such file or directory"):
            call_command("import_data", "erp", "interactions", "/nonexistent.csv", stdout=StringIO())


@contextmanager
def another_writer_after_resolve(*statements: tuple[str, list]):  # type: ignore[no-untyped-def]
    """Right after the interaction loader first resolves a batch, another connection runs ``statements``
    ((sql, params) pairs): a concurrent writer. Yields a list that holds True once they ran."""
    from crm.imports.loading_pg import InteractionLoader

    real_resolve = InteractionLoader._resolve
    ran: list[bool] = []

    def resolve_then_write(loader, cursor):  # type: ignore[no-untyped-def]
        real_resolve(loader, cursor)
        if not ran:
            ran.append(True)
            with other_connection() as other:
                for sql, params in statements:
                    other.execute(sql, params)

    with mock.patch.object(InteractionLoader, "_resolve", resolve_then_write):
        yield ran


@pytest.mark.django_db(transaction=True)
def test_a_row_another_writer_stores_meanwhile_is_updated_not_refused(write_csv, settings):
    """New rows go in with a plain INSERT; one that another writer stored after the batch was resolved makes
    it fail on the unique key, and the batch loaded again in halves updates that row instead."""
    settings.TIERWISE_IMPORT_PIPELINE = True  # committed data: the writer thread's own connection sees it
    account = linked("C-1")
    stored_meanwhile = (
        "INSERT INTO crm_interaction (account_id, kind, channel, occurred_at, amount, direct_cost, note,"
        " source_system, external_id, created_at, updated_at) VALUES"
        " (%s, 'visit', 'other', now(), 0, 0, 'by the API', 'erp', 'SO-2', now(), now())", [account.pk])
    with another_writer_after_resolve(stored_meanwhile) as raced:
        job = import_file(path=write_csv(interactions(4)), original_name="o.csv", source_system="erp",
                          kind="interactions")
    assert raced
    assert (job.status, job.rows_created, job.rows_updated, job.rows_rejected) == ("done", 3, 1, 0)
    so2 = Interaction.objects.get(source_system="erp", external_id="SO-2")
    assert (so2.kind, so2.amount) == ("order", 2)


def orders_with_product(n: int) -> list[list[str]]:
    return [["id", "account", "kind", "date", "amount", "sku", "quantity"],
            *[[f"SO-{i}", "C-1", "order", "2025-03-01", "10.00", "BOLT-1", "2"] for i in range(1, n + 1)]]


PRODUCT_COLUMNS = {"external_id": "id", "account_external_id": "account", "kind": "kind", "occurred_at": "date",
                   "amount": "amount", "product_sku": "sku", "quantity": "quantity"}


@pytest.mark.django_db(transaction=True)
class TestForeignKeyChecksOncePerBatch:
    """New interactions skip PostgreSQL's per-row foreign-key triggers; the batch locks what they name."""

    @pytest.fixture(autouse=True)
    def _pipelined(self, settings):  # type: ignore[no-untyped-def]
        settings.TIERWISE_IMPORT_PIPELINE = True  # committed data: the writer thread's connection sees it

    def test_the_accounts_products_and_user_a_batch_names_cannot_be_deleted_until_it_commits(self, write_csv):
        import psycopg
        from django.contrib.auth import get_user_model

        from crm.imports.loading_pg import InteractionLoader

        account = linked("C-1")
        product = ProductFactory(sku="BOLT-1")
        user = get_user_model().objects.create_user("importer")
        real_lock = InteractionLoader._lock_references
        refused: list[str] = []

        def lock_then_try_to_delete(loader, cursor):  # type: ignore[no-untyped-def]
            skip = real_lock(loader, cursor)
            with other_connection() as other:
                other.execute("DELETE FROM crm_accountsourceid WHERE account_id = %s", [account.pk])
                other.execute("SET lock_timeout = '300ms'")
                for table, pk in (("crm_account", account.pk), ("crm_product", product.pk), ("auth_user", user.pk)):
                    try:
                        other.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608
                    except psycopg.errors.LockNotAvailable:
                        refused.append(table)
            return skip

        with mock.patch.object(InteractionLoader, "_lock_references", lock_then_try_to_delete):
            job = import_file(path=write_csv(orders_with_product(3)), original_name="o.csv", source_system="erp",
                              kind="interactions", columns=PRODUCT_COLUMNS, user=user)
        assert refused == ["crm_account", "crm_product", "auth_user"]
        assert (job.status, job.rows_created, job.rows_rejected) == ("done", 3, 0)
        assert set(Interaction.objects.values_list("account_id", "product_id", "logged_by_id")) == {
            (account.pk, product.pk, user.pk)}

    def test_a_product_deleted_while_the_batch_loads_rejects_its_rows_and_leaves_no_orphans(self, write_csv):
        linked("C-1")
        ProductFactory(sku="BOLT-1")
        rows = orders_with_product(2) + [["SO-3", "C-1", "visit", "2025-03-01", "", "", ""]]
        with another_writer_after_resolve(("DELETE FROM crm_product WHERE sku = 'BOLT-1'", [])) as deleted:
            job = import_file(path=write_csv(rows), original_name="o.csv", source_system="erp",
                              kind="interactions", columns=PRODUCT_COLUMNS)
        assert deleted
        assert (job.status, job.rows_created, job.rows_rejected) == ("done", 1, 2)
        assert list(Interaction.objects.values_list("external_id", "product_id")) == [("SO-3", None)]

    def test_the_importing_user_deleted_meanwhile_leaves_the_checks_to_postgresql(self, write_csv):
        from django.contrib.auth import get_user_model

        linked("C-1")
        user = get_user_model().objects.create_user("importer")
        # as Django deletes a user: the job's SET_NULL first
        with another_writer_after_resolve(
            ("UPDATE crm_importjob SET created_by_id = NULL WHERE created_by_id = %s", [user.pk]),
            ("DELETE FROM auth_user WHERE id = %s", [user.pk]),
        ) as deleted:
            job = import_file(path=write_csv(interactions(3)), original_name="o.csv", source_system="erp",
                              kind="interactions", user=user)
        assert deleted
        assert job.status == "failed"
        assert "logged_by_id" in job.error
        assert not Interaction.objects.exists()

    @pytest.fixture
    def refusing_trigger(self):  # type: ignore[no-untyped-def]
        """A row trigger on crm_interaction that refuses every insert (as a check violation)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("""
                CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'a row trigger fired' USING ERRCODE = 'check_violation'; END $$;
                CREATE TRIGGER test_refuse_insert AFTER INSERT ON crm_interaction
                    FOR EACH ROW EXECUTE FUNCTION test_refuse_insert();""")
        yield
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_insert ON crm_interaction; DROP FUNCTION test_refuse_insert();")

    def test_new_rows_skip_the_triggers_and_the_statements_after_them_do_not(self, write_csv, refusing_trigger):
        from django.db import connection

        from crm.imports.loading_pg import InteractionLoader

        linked("C-1")
        real_bump = InteractionLoader._bump
        roles: list[str] = []

        def record_role_then_bump(loader, cursor, touched, result):  # type: ignore[no-untyped-def]
            cursor.execute("SHOW session_replication_role")
            roles.append(cursor.fetchone()[0])
            real_bump(loader, cursor, touched, result)

        with mock.patch.object(InteractionLoader, "_bump", record_role_then_bump):
            job = import_file(path=write_csv(interactions(3)), original_name="o.csv", source_system="erp",
                              kind="interactions")
        assert (job.status, job.rows_created) == ("done", 3)  # the refusing trigger did not fire
        assert roles == ["origin"]  # the upsert of stored rows and the history bump ran with the triggers
        with connection.cursor() as cursor:
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"

    def test_without_the_privilege_to_skip_triggers_every_row_goes_through_them(self, write_csv, refusing_trigger):
        from crm.imports import loading_pg

        linked("C-1")
        with (mock.patch.object(loading_pg, "_may_skip_triggers", return_value=False),
              mock.patch.object(loading_pg.InteractionLoader, "_lock_references") as lock):
            job = import_file(path=write_csv(interactions(2)), original_name="o.csv", source_system="erp",
                              kind="interactions")
        lock.assert_not_called()
        assert (job.status, job.rows_created, job.rows_rejected) == ("done", 0, 2)
        assert not Interaction.objects.exists()

    def test_the_privilege_probe_sees_a_superuser(self):
        from crm.imports.loading_pg import _may_skip_triggers

        assert _may_skip_triggers() is True  # the tests connect as PostgreSQL's superuser
