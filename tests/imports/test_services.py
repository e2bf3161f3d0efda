"""The import run on PostgreSQL, kind by kind: what is created, updated, left alone and rejected, and why."""

import csv
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm.imports.services import import_file
from crm.models import (
    Account,
    AccountSourceId,
    Channel,
    Contact,
    Interaction,
    MarketingSpend,
    SurveyResponse,
)
from crm.models_imports import ImportJob
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, ProductFactory

pytestmark = pytest.mark.django_db


def linked(external_id: str, source: str = "erp", **fields) -> Account:  # type: ignore[no-untyped-def]
    account = AccountFactory(**fields)
    AccountSourceId.objects.create(account=account, source_system=source, external_id=external_id)
    return account


def rejects_of(job: ImportJob) -> list[dict[str, str]]:
    with job.rejects_file.open("rb") as handle:
        text = handle.read().decode("utf-8-sig")
    lines = text.splitlines()
    return list(csv.DictReader(lines, delimiter=";" if lines[0].count(";") > lines[0].count(",") else ","))


def counts(job: ImportJob) -> tuple[int, int, int, int, int]:
    return job.rows_processed, job.rows_created, job.rows_updated, job.rows_unchanged, job.rows_rejected


ORDERS = [
    ["Order No", "Customer", "Type", "Date", "Net amount", "Qty", "SKU", "Comment"],
    ["SO-1", "C-1", "Order", "2025-03-01 10:00", "1.250,50", "10", "BOLT-1", "first"],
    ["SO-2", "C-1", "Return", "05.03.2025", "100,00", "2", "BOLT-1", ""],
    ["SO-3", "C-2", "Support ticket", "06.03.2025 09:30", "", "", "", "printer jam"],
]


class TestInteractions:
    def test_it_creates_interactions_with_derived_cost_and_kinds(self, write_csv, alice):
        acme, beta = linked("C-1"), linked("C-2")
        ProductFactory(sku="BOLT-1", unit_cost=Decimal("6.00"))
        job = import_file(path=write_csv(ORDERS, delimiter=";"), original_name="orders.csv", source_system="erp",
                          kind="interactions", user=alice)
        assert job.status == ImportJob.Status.DONE, job.error
        assert counts(job) == (3, 3, 0, 0, 0)
        assert job.rows_total == 3
        order = Interaction.objects.get(source_system="erp", external_id="SO-1")
        assert (order.account, order.kind, order.amount, order.direct_cost, order.quantity, order.note) == (
            acme, "order", Decimal("1250.50"), Decimal("60.00"), 10, "first")
        assert order.occurred_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
        assert order.logged_by == alice
        ret = Interaction.objects.get(external_id="SO-2")
        assert (ret.kind, ret.amount, ret.direct_cost) == ("return", Decimal("100.00"), Decimal("12.00"))
        ticket = Interaction.objects.get(external_id="SO-3")
        assert (ticket.account, ticket.kind, ticket.amount, ticket.channel) == (beta, "support_email", 0, "other")

    def test_text_reaches_the_database_exactly_as_written(self, write_csv):
        """Rows travel as COPY text: tabs, line breaks, backslashes and what looks like COPY's NULL survive."""
        linked("C\\1")
        notes = ["tab\there", "two\nlines", "back\\slash", "\\N", "\\.", "crlf\r\nend", "Müller € ✓", "'quoted'"]
        rows = [["id", "account", "kind", "date", "note"],
                *[[f"N\t{i}", "C\\1", "visit", "2025-03-01", note] for i, note in enumerate(notes)]]
        job = import_file(path=write_csv(rows), original_name="n.csv", source_system="erp", kind="interactions")
        assert counts(job) == (8, 8, 0, 0, 0), job.error
        stored = dict(Interaction.objects.values_list("external_id", "note"))
        assert stored == {f"N\t{i}": note for i, note in enumerate(notes)}
        again = import_file(path=write_csv(rows), original_name="n.csv", source_system="erp", kind="interactions")
        assert counts(again) == (8, 0, 0, 8, 0)

    def test_it_reimports_the_same_file_without_duplicates_and_updates_changed_rows(self, write_csv):
        linked("C-1"), linked("C-2")
        ProductFactory(sku="BOLT-1")
        path = write_csv(ORDERS, delimiter=";")
        import_file(path=path, original_name="orders.csv", source_system="erp", kind="interactions")
        again = import_file(path=path, original_name="orders.csv", source_system="erp", kind="interactions")
        assert counts(again) == (3, 0, 0, 3, 0)
        assert Interaction.objects.count() == 3

        changed = [row[:] for row in ORDERS]
        changed[1][4] = "1.300,00"
        third = import_file(path=write_csv(changed, name="orders2.csv", delimiter=";"), original_name="o.csv",
                            source_system="erp", kind="interactions")
        assert counts(third) == (3, 0, 1, 2, 0)
        assert Interaction.objects.get(external_id="SO-1").amount == Decimal("1300.00")
        assert Interaction.objects.count() == 3

    def test_the_same_external_id_in_another_source_system_is_another_record(self, write_csv):
        linked("C-1", source="erp"), linked("C-1", source="shop")
        rows = [["id", "account", "kind", "date"], ["X-1", "C-1", "order", "2025-01-02"]]
        import_file(path=write_csv(rows), original_name="a.csv", source_system="erp", kind="interactions")
        import_file(path=write_csv(rows), original_name="a.csv", source_system="shop", kind="interactions")
        assert sorted(Interaction.objects.values_list("source_system", flat=True)) == ["erp", "shop"]

    def test_it_rejects_bad_rows_with_line_field_and_reason_and_loads_the_rest(self, write_csv):
        linked("C-1")
        rows = [
            ["id", "account", "kind", "date", "amount", "sku"],
            ["A", "C-1", "order", "2025-01-02", "10", ""],
            ["B", "C-404", "order", "2025-01-02", "10", ""],  # unknown account
            ["C", "C-1", "teleport", "2025-13-40", "-5", ""],  # three bad fields
            ["D", "C-1", "order", "2025-01-02", "10", "NOPE"],  # unknown product
            ["A", "C-1", "order", "2025-01-03", "11", ""],  # duplicate of line 2
            ["E", "C-1", "order", "2025-01-02", "=HYPERLINK(\"x\")", ""],  # formula: rejected and escaped
        ]
        job = import_file(path=write_csv(rows), original_name="in.csv", source_system="erp", kind="interactions")
        assert counts(job) == (6, 1, 0, 0, 5)
        assert list(Interaction.objects.values_list("external_id", "amount")) == [("A", Decimal("10.00"))]
        rejects = {r["line"]: r for r in rejects_of(job)}
        assert set(rejects) == {"3", "4", "5", "6", "7"}
        assert rejects["3"]["field"] == "account"
        assert rejects["3"]["reason"] == "no account with external id 'C-404' in source system 'erp'"
        assert rejects["4"]["field"] == "kind; date; amount"
        assert "kind: unknown value 'teleport'" in rejects["4"]["reason"]
        assert "date: not a valid date: '2025-13-40'" in rejects["4"]["reason"]
        assert "amount: must not be negative" in rejects["4"]["reason"]
        assert rejects["5"]["reason"] == "no product with SKU 'NOPE'"
        assert rejects["6"]["reason"] == "the same external id is already on line 2 of this file (the first one " \
                                         "is imported)"
        assert rejects["7"]["amount"] == "'=HYPERLINK(\"x\")"  # the original cell, escaped for spreadsheets
        assert rejects["3"]["account"] == "C-404"

    def test_an_interaction_that_moves_account_bumps_both_histories(self, write_csv):
        old, new = linked("C-1"), linked("C-2")
        InteractionFactory(account=old, source_system="erp", external_id="SO-9")
        before = {a.pk: a.history_version for a in Account.objects.all()}
        rows = [["id", "account", "kind", "date"], ["SO-9", "C-2", "order", "2025-03-01"]]
        job = import_file(path=write_csv(rows), original_name="a.csv", source_system="erp", kind="interactions")
        assert counts(job) == (1, 0, 1, 0, 0)
        after = {a.pk: a.history_version for a in Account.objects.all()}
        assert after[old.pk] == before[old.pk] + 1 and after[new.pk] == before[new.pk] + 1

    def test_unmapped_columns_keep_their_stored_value_on_update(self, write_csv):
        account = linked("C-1")
        InteractionFactory(account=account, source_system="erp", external_id="SO-1", note="keep me",
                           amount=Decimal("5.00"), kind="order")
        rows = [["id", "account", "kind", "date", "amount"], ["SO-1", "C-1", "order", "2025-03-01", "7"]]
        import_file(path=write_csv(rows), original_name="a.csv", source_system="erp", kind="interactions")
        stored = Interaction.objects.get(external_id="SO-1")
        assert (stored.amount, stored.note) == (Decimal("7.00"), "keep me")


class TestAccounts:
    ROWS = [
        ["Kunden-Nr", "Firma", "Land", "Branche", "Status", "Churn date", "Owner", "Acquisition channel",
         "Kunde seit"],
        ["K1", "Acme GmbH", "de", "Manufacturing", "Active", "", "alice", "Trade show", "15.01.2024"],
        ["K2", "Beta SA", "FR", "Retail", "churned", "01.02.2025", "", "paid search", ""],
        ["K3", "Gamma", "FRA", "", "", "", "", "", ""],
        ["K4", "Delta", "DE", "", "Churned", "", "", "", ""],
        ["K5", "Eps", "DE", "", "", "", "nobody-here", "", ""],
    ]

    def test_it_creates_accounts_with_source_ids_channels_and_owners(self, write_csv, alice):
        Channel.objects.create(name="Paid search")
        job = import_file(path=write_csv(self.ROWS), original_name="k.csv", source_system="erp", kind="accounts")
        assert counts(job) == (5, 2, 0, 0, 3)
        acme = AccountSourceId.objects.get(source_system="erp", external_id="K1").account
        assert (acme.name, acme.country, acme.owner, acme.acquisition_channel.name, acme.acquired_on,
                acme.status) == ("Acme GmbH", "DE", alice, "Trade show", date(2024, 1, 15), "active")
        beta = AccountSourceId.objects.get(external_id="K2").account
        assert (beta.status, beta.churned_on, beta.acquisition_channel.name) == ("churned", date(2025, 2, 1),
                                                                                 "Paid search")
        assert Channel.objects.filter(name__iexact="paid search").count() == 1
        rejects = {r["line"]: r for r in rejects_of(job)}
        assert rejects["4"]["reason"] == "'FRA' is not an ISO 3166-1 two-letter country code (e.g. DE, FR, GB, US)."
        assert (rejects["5"]["field"], rejects["5"]["reason"]) == ("Churn date", "a churned account needs a churn date")
        assert rejects["6"]["reason"] == "no Tierwise user with the user name or e-mail 'nobody-here'"

    def test_it_updates_only_changed_accounts_and_mapped_fields(self, write_csv, alice):
        import_file(path=write_csv(self.ROWS[:3]), original_name="k.csv", source_system="erp", kind="accounts")
        acme = AccountSourceId.objects.get(external_id="K1").account
        Account.objects.filter(pk=acme.pk).update(segment="Key account")  # set in Tierwise, not in the file
        rows = [["Kunden-Nr", "Firma", "Land"], ["K1", "Acme AG", "DE"], ["K2", "Beta SA", "FR"]]
        job = import_file(path=write_csv(rows, name="k2.csv"), original_name="k.csv", source_system="erp",
                          kind="accounts")
        assert counts(job) == (2, 0, 1, 1, 0)
        acme.refresh_from_db()
        assert (acme.name, acme.segment, acme.owner) == ("Acme AG", "Key account", alice)
        assert Account.objects.count() == 2


class TestContactsSurveysSpend:
    def test_contacts_are_upserted_on_their_accounts(self, write_csv):
        acme = linked("C-1")
        rows = [["id", "account", "name", "email", "title"],
                ["P1", "C-1", "Ann Example", "Ann@Example.COM", "Buyer"],
                ["P2", "C-1", "Bob", "not-an-email", ""]]
        job = import_file(path=write_csv(rows), original_name="c.csv", source_system="erp", kind="contacts")
        assert counts(job) == (2, 1, 0, 0, 1)
        ann = Contact.objects.get(source_system="erp", external_id="P1")
        assert (ann.account, ann.email, ann.role) == (acme, "Ann@example.com", "Buyer")
        assert rejects_of(job)[0]["reason"] == "not an e-mail address: 'not-an-email'"

    def test_survey_answers_create_the_response_and_its_survey_interaction(self, write_csv):
        acme = linked("C-1")
        ContactFactory(account=acme, name="Ann", source_system="erp", external_id="P1")
        ContactFactory(name="Stranger", source_system="erp", external_id="P9")
        rows = [["id", "account", "nps", "date", "comment", "contact id"],
                ["R1", "C-1", "9", "2025-03-01", "Great service", "P1"],
                ["R2", "C-1", "11", "2025-03-01", "", ""],
                ["R3", "C-1", "7", "2025-03-01", "", "P9"]]
        job = import_file(path=write_csv(rows), original_name="s.csv", source_system="erp", kind="survey_answers")
        assert counts(job) == (3, 1, 0, 0, 2)
        answer = SurveyResponse.objects.get(source_system="erp", external_id="R1")
        assert (answer.account, answer.score, answer.comment, answer.contact.name) == (acme, 9, "Great service",
                                                                                       "Ann")
        touch = Interaction.objects.get(source_system="erp", external_id="R1")
        assert (touch.kind, touch.note, touch.account) == ("survey", "NPS 9/10 — Great service (Ann)", acme)
        reasons = {r["line"]: r["reason"] for r in rejects_of(job)}
        assert reasons == {"3": "must be at most 10 (got 11)", "4": "the contact 'P9' belongs to another account"}

        again = import_file(path=write_csv(rows), original_name="s.csv", source_system="erp", kind="survey_answers")
        assert counts(again) == (3, 0, 0, 1, 2)
        rows[1][2] = "10"
        third = import_file(path=write_csv(rows), original_name="s.csv", source_system="erp", kind="survey_answers")
        assert counts(third) == (3, 0, 1, 0, 2)
        assert Interaction.objects.get(external_id="R1").note == "NPS 10/10 — Great service (Ann)"

    def test_marketing_spend_is_keyed_by_channel_and_month(self, write_csv):
        Channel.objects.create(name="Trade show")
        rows = [["Channel", "Month", "Spend"],
                ["trade show", "2025-03", "€ 12.000,00"],
                ["Webinars", "04/2025", "500"],
                ["Trade Show", "2025-03-15", "1"]]  # same channel and month as line 2
        job = import_file(path=write_csv(rows, delimiter=";"), original_name="m.csv", source_system="finance",
                          kind="marketing_spend", options={"decimal_separator": ","})
        assert counts(job) == (3, 2, 0, 0, 1)
        spend = {(s.channel.name, s.period): s.amount for s in MarketingSpend.objects.select_related("channel")}
        assert spend == {("Trade show", date(2025, 3, 1)): Decimal("12000.00"),
                         ("Webinars", date(2025, 4, 1)): Decimal("500.00")}
        assert rejects_of(job)[0]["field"] == "Month"
