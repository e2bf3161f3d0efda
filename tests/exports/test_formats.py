"""Formula-injection escaping and the two writers, without a database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from crm.exports.cells import safe_cell
from crm.exports.formats import DATE, DATETIME, INT, MONEY, PCT, Column, csv_chunks, xlsx_write

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")


class TestSafeCell:
    @pytest.mark.parametrize("text", ["=1+1", "+49 30 1234", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd", "\n=cmd",
                                      "\0=cmd", '=HYPERLINK("http://evil","x")'])
    def test_it_quotes_text_a_spreadsheet_would_run(self, text):
        assert safe_cell(text) == "'" + text

    @pytest.mark.parametrize("text", ["Patricia Bulk Supplies", "Smith & Sons - EU", "a=b", "", "'quoted", "1+1"])
    def test_it_leaves_other_text_alone(self, text):
        assert safe_cell(text) == text

    @pytest.mark.parametrize("number", [-5, D("-1234.50"), -0.25, 0, D("0.00")])
    def test_it_leaves_numbers_alone_even_negative_ones(self, number):
        assert safe_cell(number) is number

    def test_it_leaves_none_and_dates_alone(self):
        assert safe_cell(None) is None
        assert safe_cell(date(2026, 1, 1)) == date(2026, 1, 1)


COLUMNS = [Column("Name"), Column("Rank", INT), Column("Net profit", MONEY), Column("Margin %", PCT),
           Column("Last order", DATETIME), Column("As of", DATE)]
ROWS = [
    ("=cmd|' /C calc'!A0", 1, D("-1234.50"), D("-12.25"), datetime(2025, 6, 30, 22, 30, tzinfo=UTC), date(2026, 1, 1)),
    ("Plain GmbH", None, D("0.00"), None, None, None),
    ("-minus\x01ctrl", 3, D("99.99"), D("7.00"), datetime(2025, 1, 1, 12, 0, tzinfo=UTC), date(2025, 12, 31)),
]


class TestCsv:
    def text(self, tz=UTC) -> str:  # type: ignore[no-untyped-def]
        return b"".join(csv_chunks(COLUMNS, iter(ROWS), tz=tz)).decode("utf-8")

    def test_it_starts_with_a_byte_order_mark_and_names_the_time_zone(self):
        data = self.text()
        assert data.startswith("\ufeffName,Rank,Net profit,Margin %,Last order (UTC),As of\r\n")

    def test_it_escapes_text_and_keeps_numbers_and_dates_plain(self):
        rows = list(csv.reader(io.StringIO(self.text().lstrip("\ufeff"))))
        assert rows[1:] == [
            ["'=cmd|' /C calc'!A0", "1", "-1234.50", "-12.25", "2025-06-30 22:30:00", "2026-01-01"],
            ["Plain GmbH", "", "0.00", "", "", ""],
            ["'-minus\x01ctrl", "3", "99.99", "7.00", "2025-01-01 12:00:00", "2025-12-31"],
        ]

    def test_it_writes_times_in_the_given_zone(self):
        rows = list(csv.reader(io.StringIO(self.text(BERLIN).lstrip("\ufeff"))))
        assert rows[0][4] == "Last order (Europe/Berlin)"
        assert rows[1][4] == "2025-07-01 00:30:00"

    def test_it_streams_in_chunks_without_reading_everything_first(self):
        consumed = []

        def rows():  # type: ignore[no-untyped-def]
            for i in range(1200):
                consumed.append(i)
                yield (f"n{i}", i, D(i), None, None, None)

        chunks = csv_chunks(COLUMNS, rows(), tz=UTC)
        next(chunks)  # the header
        first = next(chunks)
        assert len(consumed) == 500  # one chunk read, not the whole iterator
        assert first.count(b"\r\n") == 500
        assert len(list(chunks)) == 2  # 500 + 200 more


class TestXlsx:
    def book(self, tz=UTC):  # type: ignore[no-untyped-def]
        target = io.BytesIO()
        count = xlsx_write(COLUMNS, iter(ROWS), target=target, tz=tz, title="Accounts and their profitability")
        assert count == 3
        target.seek(0)
        return openpyxl.load_workbook(target)

    def test_it_writes_a_bold_frozen_filterable_header(self):
        sheet = self.book().active
        assert sheet.title == "Accounts and their profitabilit"  # Excel's 31-character limit
        assert [c.value for c in sheet[1]] == ["Name", "Rank", "Net profit", "Margin %", "Last order (UTC)", "As of"]
        assert all(c.font.b for c in sheet[1])
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == "A1:F4"

    def test_it_keeps_numbers_numeric_and_money_formatted(self):
        sheet = self.book().active
        profit = sheet["C2"]
        assert profit.data_type == "n" and profit.value == -1234.5
        assert profit.number_format == "#,##0.00;[Red]-#,##0.00"
        assert sheet["D2"].value == -12.25 and sheet["D2"].data_type == "n"
        assert sheet["B2"].value == 1 and sheet["B2"].data_type == "n" and sheet["B2"].number_format == "General"
        assert sheet["C3"].value == 0 and sheet["C3"].data_type == "n"

    def test_it_escapes_formulas_and_drops_characters_xml_cannot_hold(self):
        sheet = self.book().active
        assert sheet["A2"].value == "'=cmd|' /C calc'!A0" and sheet["A2"].data_type == "s"
        assert sheet["A4"].value == "'-minusctrl"

    def test_it_writes_dates_and_times_as_dates(self):
        sheet = self.book(BERLIN).active
        assert sheet["E2"].value == datetime(2025, 7, 1, 0, 30) and sheet["E2"].is_date
        assert sheet["E2"].number_format == "yyyy-mm-dd h:mm:ss"
        assert sheet["E1"].value == "Last order (Europe/Berlin)"
        assert sheet["F2"].value == datetime(2026, 1, 1) and sheet["F2"].is_date
        assert sheet["F2"].number_format == "yyyy-mm-dd"

    def test_it_leaves_missing_values_empty(self):
        sheet = self.book().active
        assert [c.value for c in sheet[3]] == ["Plain GmbH", None, 0, None, None, None]
