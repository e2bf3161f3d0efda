"""Each dataset's content as CSV and as XLSX, for a small known book, and each dataset's filters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from .conftest import COMPUTED
from .helpers import as_dicts, csv_rows, xlsx_rows, xlsx_sheet

D = Decimal
pytestmark = pytest.mark.django_db


class TestAccounts:
    def test_it_exports_every_account_with_its_figures_in_the_lists_order(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "accounts"))
        assert [r["Name"] for r in rows] == ["Patricia Bulk Supplies", "'=HYPERLINK(\"http://x\")",
                                             "Patrick Small Parts"]  # net profit TTM, highest first
        patricia, evil, patrick = rows
        assert patricia["Account ID"] == str(book.patricia.pk)
        assert patricia["Source IDs"] == "billing:C-7; erp:1001"
        assert patricia["Owner"] == "alice"
        assert (patricia["Status"], patricia["Industry"], patricia["Region"], patricia["Segment"]) == (
            "Active", "Wholesale", "EU", "Distributor")
        assert (patricia["Tier"], patricia["Rank"]) == (book.platinum.name, "1")
        assert (patricia["Revenue"], patricia["COGS"], patricia["Cost to serve"], patricia["Net profit"]) == (
            "120000.00", "70000.00", "8000.50", "41999.50")
        assert patricia["Net margin %"] == "35.00"
        assert (patricia["CAC"], patricia["CLV historical"], patricia["CLV formula"], patricia["CLV predictive"]) == (
            "1500.00", "41999.50", "95000.00", "101234.56")
        assert (patricia["CLV/CAC"], patricia["P(alive)"], patricia["CLV model"]) == ("67.49", "0.93", "bg_nbd+gg")
        assert patricia["Last interaction (UTC)"] == "2025-12-30 09:00:00"
        assert patricia["Computed at (UTC)"] == "2026-01-02 03:04:05"
        assert patricia["Figures as of"] == "2026-01-01"
        assert patricia["Figures up to date"] == "yes"
        # a loss-maker's figures stay plain negative numbers, never quoted text
        assert (patrick["Net profit"], patrick["CLV formula"], patrick["CLV/CAC"]) == ("-1500.25", "-3100.00",
                                                                                       "-1.55")
        assert patrick["CLV predictive"] == "" and patrick["First order (UTC)"] == ""
        # text that looks like a formula is quoted in every column
        assert (evil["Industry"], evil["Region"], evil["Segment"], evil["Owner"]) == (
            "'-Wholesale", "'@NA", "'+Shop", "bob")

    def test_it_says_when_the_figures_lag_behind_the_history(self, client, alice, book):
        type(book.patrick).objects.filter(pk=book.patrick.pk).update(history_version=5)
        client.force_login(alice)
        rows = {r["Name"]: r for r in as_dicts(csv_rows(client, "accounts"))}
        assert rows["Patrick Small Parts"]["Figures up to date"] == "no"
        assert rows["Patricia Bulk Supplies"]["Figures up to date"] == "yes"

    def test_its_xlsx_keeps_numbers_dates_and_money_typed(self, client, alice, book):
        client.force_login(alice)
        sheet = xlsx_sheet(client, "accounts")
        header = [c.value for c in sheet[1]]
        rows = [dict(zip(header, cells, strict=True)) for cells in sheet.iter_rows(min_row=2)]  # cells, not values
        patricia = rows[0]
        assert patricia["Name"].value == "Patricia Bulk Supplies"
        assert patricia["Account ID"].value == book.patricia.pk and patricia["Account ID"].data_type == "n"
        net = patricia["Net profit"]
        assert net.value == 41999.5 and net.data_type == "n" and net.number_format == "#,##0.00;[Red]-#,##0.00"
        assert rows[2]["Net profit"].value == -1500.25 and rows[2]["Net profit"].data_type == "n"
        computed = patricia["Computed at (UTC)"]
        assert computed.is_date and computed.value == COMPUTED.replace(tzinfo=None)
        assert patricia["Figures as of"].value == datetime(2026, 1, 1)
        assert rows[1]["Name"].value == "'=HYPERLINK(\"http://x\")" and rows[1]["Name"].data_type == "s"
        assert rows[2]["CLV predictive"].value is None
        assert header[0] == "Account ID" and sheet.freeze_panes == "A2"

    @pytest.mark.parametrize(("params", "expected"), [
        ({"owner": "me"}, ["Patricia Bulk Supplies", "Patrick Small Parts"]),
        ({"owner": "all"}, ["Patricia Bulk Supplies", "'=HYPERLINK(\"http://x\")", "Patrick Small Parts"]),
        ({"industry": "Retail"}, ["Patrick Small Parts"]),
        ({"region": "EU", "sort": "name"}, ["Patricia Bulk Supplies", "Patrick Small Parts"]),
        ({"segment": "Distributor"}, ["Patricia Bulk Supplies"]),
        ({"q": "patr", "sort": "-name"}, ["Patrick Small Parts", "Patricia Bulk Supplies"]),
        ({"below": "1"}, ["Patrick Small Parts"]),
        ({"status": "churned"}, []),
        ({"page": "7", "sort": "tier"}, ["Patricia Bulk Supplies", "'=HYPERLINK(\"http://x\")",
                                         "Patrick Small Parts"]),  # an export takes every page
    ])
    def test_its_filters_are_the_account_lists(self, client, alice, book, params, expected):
        client.force_login(alice)
        assert [r["Name"] for r in as_dicts(csv_rows(client, "accounts", **params))] == expected

    def test_it_filters_by_tier(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "accounts", tier=str(book.bronze.pk), sort="name"))
        assert [r["Name"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "Patrick Small Parts"]
        assert as_dicts(csv_rows(client, "accounts", tier="none")) == []


class TestSegments:
    def test_it_exports_every_dimension_with_clusters(self, client, ada, book):
        client.force_login(ada)
        rows = csv_rows(client, "segments")
        assert rows[0] == ["Dimension", "Segment", "Rank by net profit", "Accounts", "Revenue", "Gross margin",
                           "Cost to serve", "Net profit", "Net margin %", "Net profit per account",
                           "Computed at (UTC)"]
        assert rows[1:] == [
            ["Industry", "Wholesale", "1", "1", "1000.00", "500.00", "100.00", "41999.50", "12.50", "41999.50",
             "2026-01-02 03:04:05"],
            ["Industry", "Retail", "2", "1", "1000.00", "500.00", "100.00", "-1500.25", "12.50", "-1500.25",
             "2026-01-02 03:04:05"],
            ["Tier", book.platinum.name, "1", "1", "1000.00", "500.00", "100.00", "41999.50", "12.50", "41999.50",
             "2026-01-02 03:04:05"],
            ["Cluster", "'=Bulk buyers", "1", "1", "1000.00", "500.00", "100.00", "40499.25", "12.50",
             "40499.25", "2026-01-02 03:04:05"],
        ]

    def test_it_exports_one_dimension_as_xlsx(self, client, ada, book):
        client.force_login(ada)
        rows = xlsx_rows(client, "segments", dimension="industry")
        assert rows[1:] == [
            ["Industry", "Wholesale", 1, 1, 1000, 500, 100, 41999.5, 12.5, 41999.5, COMPUTED.replace(tzinfo=None)],
            ["Industry", "Retail", 2, 1, 1000, 500, 100, -1500.25, 12.5, -1500.25, COMPUTED.replace(tzinfo=None)],
        ]


class TestOpportunities:
    def test_an_account_managers_worklist_defaults_to_their_own_accounts(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "opportunities"))
        assert [(r["Account"], r["Product"], r["Status"]) for r in rows] == [
            ("Patricia Bulk Supplies", "Nuts", "Open")]  # Patrick's is dismissed, the third is Bob's
        row = rows[0]
        assert (row["Account manager"], row["Tier"], row["Product SKU"], row["Kind"], row["Probability"],
                row["Expected margin"], row["Reason"]) == (
            "alice", book.platinum.name, "N-1", "Often bought together", "0.4", "1200.00", "Bought with Bolts by 40 %")

    def test_admins_get_everyones_worklist_by_default(self, client, ada, book):
        client.force_login(ada)
        rows = as_dicts(csv_rows(client, "opportunities"))
        assert [(r["Account"], r["Expected margin"]) for r in rows] == [
            ("Patricia Bulk Supplies", "1200.00"), ("'=HYPERLINK(\"http://x\")", "300.00")]
        assert rows[1]["Reason"] == "'-upgrade within the family"
        assert rows[1]["Upgrade from"] == "Bolts" and rows[1]["Kind"] == "Upgrade within the family"

    @pytest.mark.parametrize(("params", "expected"), [
        ({"owner": "all"}, ["Nuts", "Washers"]),
        ({"owner": "all", "status": "all"}, ["Nuts", "Washers", "Washers"]),
        ({"status": "dismissed"}, ["Washers"]),
        ({"owner": "all", "source": "upgrade"}, ["Washers"]),
    ])
    def test_its_filters_are_the_worklists(self, client, alice, book, params, expected):
        client.force_login(alice)
        assert [r["Product"] for r in as_dicts(csv_rows(client, "opportunities", **params))] == expected

    def test_it_exports_another_managers_worklist(self, client, alice, bob, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "opportunities", owner=str(bob.pk)))
        assert [r["Account manager"] for r in rows] == ["bob"]

    def test_its_xlsx_has_numeric_margins(self, client, ada, book):
        client.force_login(ada)
        rows = as_dicts(xlsx_rows(client, "opportunities"))
        assert rows[0]["Expected margin"] == 1200 and rows[0]["Probability"] == 0.4
        assert rows[0]["Generated at (UTC)"] == COMPUTED.replace(tzinfo=None)


class TestLedger:
    def test_it_lists_every_movement_with_the_running_balance(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "ledger"))
        assert [(r["Account"], r["Kind"], r["Points"], r["Running balance"], r["Reason"], r["Reward"], r["By"])
                for r in rows] == [
            ("Patricia Bulk Supplies", "Earned", "500", "500", "Order of 5,000", "", ""),
            ("Patricia Bulk Supplies", "Redeemed", "-300", "200", "Redeemed 5 % off", "5 % off", "alice"),
            ("Patricia Bulk Supplies", "Adjusted", "-50", "150", "'=goodwill correction", "", "alice"),
            ("Patrick Small Parts", "Earned", "90", "90", "Order of 900", "", ""),
        ]
        assert rows[0]["Program"] == "Partners Club" and rows[0]["Occurred at (UTC)"] == "2025-03-01 10:00:00"

    def test_the_running_balance_counts_entries_before_the_chosen_dates(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "ledger", date_from="2025-05-01", date_to="2025-06-01",
                                 account=str(book.patricia.pk)))
        assert [(r["Kind"], r["Points"], r["Running balance"]) for r in rows] == [("Redeemed", "-300", "200")]

    @pytest.mark.parametrize(("params", "expected"), [
        ({"kind": "earn"}, [500, 90]),
        ({"date_to": "2025-03-01"}, [500]),
        ({"date_from": "2025-09-01"}, [-50]),
        ({"date_to": "9999-12-31"}, [500, -300, -50, 90]),  # the last day there is: no upper bound
    ])
    def test_its_filters(self, client, alice, book, params, expected):
        client.force_login(alice)
        assert [r["Points"] for r in as_dicts(xlsx_rows(client, "ledger", **params))] == expected

    def test_it_filters_by_program(self, client, alice, book):
        from campaigns.models import LoyaltyProgram

        other = LoyaltyProgram.objects.create(name="Other", starts_on=book.program.starts_on)
        client.force_login(alice)
        assert len(as_dicts(csv_rows(client, "ledger", program=str(book.program.pk)))) == 4
        assert as_dicts(csv_rows(client, "ledger", program=str(other.pk))) == []

    def test_its_xlsx_has_integer_points_and_real_dates(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(xlsx_rows(client, "ledger"))
        assert rows[1]["Points"] == -300 and rows[1]["Running balance"] == 200
        assert rows[1]["Occurred at (UTC)"] == datetime(2025, 6, 1, 10, 0)


class TestBalances:
    def test_it_sums_each_enrolment_and_values_the_liability(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "balances"))
        assert [(r["Account"], r["Enrolment"], r["Earned"], r["Redeemed"], r["Adjusted"], r["Balance"],
                 r["Point value"], r["Liability"]) for r in rows] == [
            ("Patricia Bulk Supplies", "Manual", "500", "-300", "-50", "150", "0.0100", "1.50"),
            ("Patrick Small Parts", "Automatic", "90", "0", "0", "90", "0.0100", "0.90"),
        ]
        assert rows[0]["Last movement (UTC)"] == "2025-09-01 10:00:00"

    def test_its_xlsx_liability_is_money(self, client, alice, book):
        client.force_login(alice)
        sheet = xlsx_sheet(client, "balances", account=str(book.patricia.pk))
        header = [c.value for c in sheet[1]]
        liability = sheet.cell(row=2, column=header.index("Liability") + 1)
        assert liability.value == 1.5 and liability.number_format == "#,##0.00;[Red]-#,##0.00"
        assert sheet.max_row == 2


class TestDatasetFunctions:
    def test_each_returns_headers_and_rows_that_line_up(self, book):
        from crm.exports import datasets
        from profitability.selectors.accounts import AccountFilters

        built = [
            datasets.accounts_dataset(filters=AccountFilters()),
            datasets.segments_dataset(),
            datasets.opportunities_dataset(owner_id=None, statuses=["open", "pursued", "won", "dismissed"]),
            datasets.ledger_dataset(filters=datasets.LedgerFilters()),
            datasets.balances_dataset(),
        ]
        for columns, rows in built:
            rows = list(rows)
            assert rows and all(len(row) == len(columns) for row in rows)
            assert len({c.label for c in columns}) == len(columns)  # no two columns share a header
