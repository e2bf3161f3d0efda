"""Reading cells and files without a database: numbers, dates, encodings, delimiters, XLSX, mapping."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.imports import parsing
from crm.imports.copy_format import copy_text
from crm.imports.errors import ImportFileError
from crm.imports.mapping import suggest_columns
from crm.imports.reading import OVERFLOW, FileFormat, detect_format, estimate_rows, iter_records, record_of
from crm.imports.validation import ROW, RowValidator, check_columns


class TestNumbers:
    @pytest.mark.parametrize(("text", "separator", "expected"), [
        ("1234.5", ".", "1234.5"), ("1,234.50", ".", "1234.50"), ("1.234,50", ",", "1234.50"),
        ("12,5", ",", "12.5"), ("12.345", ",", "12345"), ("€ 1.000,00", ",", "1000.00"),
        ("1 234,5", ",", "1234.5"), ("1'234.5", ".", "1234.5"), ("USD 12.00", ".", "12.00"),
        ("12.00 EUR", ".", "12.00"), ("(5.00)", ".", "-5.00"), ("5.00-", ".", "-5.00"), ("-3", ".", "-3"),
    ])
    def test_it_reads_numbers_as_exports_write_them(self, text, separator, expected):
        assert parsing.parse_decimal(text, separator) == Decimal(expected)

    @pytest.mark.parametrize("text", ["abc", "-", "1.2.3", "12,34,5", "1e5", "--1", "NaN"])
    def test_it_refuses_what_is_not_a_number(self, text):
        with pytest.raises(ValueError, match="not a number"):
            parsing.parse_decimal(text, ".")

    def test_a_decimal_comma_under_a_dot_setting_says_so(self):
        with pytest.raises(ValueError, match="decimal separator is set to '.'"):
            parsing.parse_decimal("12,5", ".")

    def test_money_is_rounded_half_up_to_cents_and_never_negative(self):
        assert parsing.parse_money("2.345", ".") == Decimal("2.35")
        assert parsing.parse_money("0,005", ",") == Decimal("0.01")
        with pytest.raises(ValueError, match="must not be negative"):
            parsing.parse_money("-1", ".")
        with pytest.raises(ValueError, match="too large"):
            parsing.parse_money("1000000000000", ".")

    def test_whole_numbers(self):
        assert parsing.parse_int("3.0", ".") == 3
        assert parsing.parse_int("1,000", ".") == 1000
        with pytest.raises(ValueError, match="not a whole number"):
            parsing.parse_int("2.5", ".")


class TestDates:
    @pytest.mark.parametrize(("text", "order", "expected"), [
        ("2025-03-01", "dmy", date(2025, 3, 1)), ("2025/03/01", "mdy", date(2025, 3, 1)),
        ("01.03.2025", "mdy", date(2025, 3, 1)),  # dotted dates are day-first everywhere
        ("01/03/2025", "dmy", date(2025, 3, 1)), ("03/01/2025", "mdy", date(2025, 3, 1)),
        ("1.3.25", "dmy", date(2025, 3, 1)), ("20250301", "dmy", date(2025, 3, 1)),
        ("1 Mar 2025", "dmy", date(2025, 3, 1)), ("01-Mar-2025", "dmy", date(2025, 3, 1)),
        ("March 1, 2025", "dmy", date(2025, 3, 1)), ("1. März 2025", "dmy", date(2025, 3, 1)),
    ])
    def test_common_date_formats(self, text, order, expected):
        assert parsing.parse_date(text, order) == expected

    def test_impossible_dates_name_the_problem(self):
        with pytest.raises(ValueError, match="day 31 does not exist"):
            parsing.parse_date("31.04.2025")
        with pytest.raises(ValueError, match=r"month 13 does not exist \(dates are read as day/month/year\)"):
            parsing.parse_date("02/13/2025", "dmy")
        with pytest.raises(ValueError, match="not a date"):
            parsing.parse_date("soon")

    @pytest.mark.parametrize(("text", "expected"), [
        ("2025-03-01T10:00:00Z", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01 10:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("01.03.2025 10:30:15", datetime(2025, 3, 1, 10, 30, 15, tzinfo=UTC)),
        ("03/01/2025 2:30 PM", datetime(2025, 3, 1, 14, 30, tzinfo=UTC)),
        ("2025-03-01", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T10:00:00+02:00", datetime(2025, 3, 1, 8, tzinfo=UTC)),
    ])
    def test_datetimes(self, text, expected):
        assert parsing.parse_datetime(text, "mdy") == expected

    def test_a_datetime_without_zone_is_in_the_given_zone(self):
        berlin_winter = timezone(timedelta(hours=1))
        assert parsing.parse_datetime("01.03.2025 10:00", "dmy", berlin_winter) == datetime(2025, 3, 1, 9, tzinfo=UTC)

    @pytest.mark.parametrize("text", ["2025-03", "03/2025", "Mar 2025", "2025-03-17", "17.03.2025"])
    def test_months(self, text):
        assert parsing.parse_month(text) == date(2025, 3, 1)


class TestChoicesAndText:
    def test_choices_accept_values_labels_and_synonyms_case_insensitively(self):
        from crm.imports.fields import field_map

        kind = field_map("interactions")["kind"]
        table = parsing.choice_lookup(kind.choices, kind.synonyms)
        assert [parsing.parse_choice(t, table, kind.choices) for t in
                ("Support call", "SUPPORT_CALL", "support-email", "Ticket", "order", "Credit note")] == [
            "support_call", "support_call", "support_email", "support_email", "order", "return"]
        with pytest.raises(ValueError, match="unknown value 'teleport'"):
            parsing.parse_choice("teleport", table, kind.choices)

    def test_emails_and_countries(self):
        assert parsing.parse_email("Ann@Example.COM") == "Ann@example.com"
        assert parsing.parse_country(" de ") == "DE"
        for bad in ("ann@", "ann@example", "a b@example.com"):
            with pytest.raises(ValueError):
                parsing.parse_email(bad)
        # two letters are not enough: the code must be one ISO 3166-1 assigns
        with pytest.raises(ValueError, match=r"^'XX' is not an ISO 3166-1 two-letter country code"):
            parsing.parse_country("XX")
        with pytest.raises(ValueError, match=r"^'uk' is not an ISO 3166-1 code: use GB\.$"):
            parsing.parse_country("uk")


class TestFiles:
    ROWS = "id;account;amount;date\nA-1;C-1;1.234,50;31.01.2025\nA-2;C-2;€ 12,00;01.02.2025\n"

    def test_utf8_with_bom_semicolons_and_decimal_commas_are_detected(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_bytes(b"\xef\xbb\xbf" + self.ROWS.encode())
        fmt = detect_format(path, "x.csv")
        assert (fmt.encoding, fmt.delimiter, fmt.decimal_separator, fmt.date_order, fmt.headers) == (
            "utf-8-sig", ";", ",", "dmy", ["id", "account", "amount", "date"])
        assert list(iter_records(path, fmt)) == [
            (2, {"id": "A-1", "account": "C-1", "amount": "1.234,50", "date": "31.01.2025"}),
            (3, {"id": "A-2", "account": "C-2", "amount": "€ 12,00", "date": "01.02.2025"}),
        ]

    def test_latin1_is_detected(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_bytes("name,city\nMüller & Söhne,Köln\n".encode("latin-1"))
        fmt = detect_format(path, "x.csv")
        assert fmt.encoding == "cp1252"
        assert list(iter_records(path, fmt)) == [(2, {"name": "Müller & Söhne", "city": "Köln"})]

    @pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
    def test_delimiters(self, tmp_path, delimiter):
        path = tmp_path / "x.csv"
        path.write_text(f"a{delimiter}b{delimiter}c\n1{delimiter}2{delimiter}3\n4{delimiter}5{delimiter}6\n")
        fmt = detect_format(path, "x.csv")
        assert fmt.delimiter == delimiter
        assert [r for _, r in iter_records(path, fmt)][1] == {"a": "4", "b": "5", "c": "6"}

    def test_month_first_dates_are_detected_and_overrides_win(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("id,date,amount\n1,12/31/2024,1.50\n2,01/02/2025,2.00\n")
        assert detect_format(path, "x.csv").date_order == "mdy"
        chosen = detect_format(path, "x.csv", {"date_order": "dmy", "decimal_separator": ",", "delimiter": ""})
        assert (chosen.date_order, chosen.decimal_separator, chosen.delimiter) == ("dmy", ",", ",")

    def test_lines_count_like_a_spreadsheet_and_ragged_rows_are_flagged(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text('a,b\n1,"two\nlines"\n\n3\n4,5,6\n')
        fmt = detect_format(path, "x.csv")
        assert list(iter_records(path, fmt)) == [
            (2, {"a": "1", "b": "two\nlines"}), (4, {"a": "3", "b": ""}), (5, {"a": "4", "b": "5", OVERFLOW: "6"}),
        ]

    def test_headers_are_made_unique(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("Amount,amount,,x\n1,2,3,4\n")
        assert detect_format(path, "x.csv").headers == ["Amount", "amount (2)", "Column 3", "x"]

    def test_xlsx_cells_are_read_as_text_with_iso_dates(self, tmp_path):
        path = tmp_path / "x.xlsx"
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["id", "when", "amount", "qty"])
        sheet.append(["A-1", datetime(2025, 3, 1, 10, 30), 12.5, 3])
        sheet.append([None, None, None, None])
        sheet.append(["A-2", date(2025, 3, 2), 0.1, 4.0])
        book.save(path)
        fmt = detect_format(path, "x.xlsx")
        assert fmt.is_xlsx and fmt.headers == ["id", "when", "amount", "qty"]
        assert list(iter_records(path, fmt)) == [
            (2, {"id": "A-1", "when": "2025-03-01T10:30:00", "amount": "12.5", "qty": "3"}),
            (4, {"id": "A-2", "when": "2025-03-02", "amount": "0.1", "qty": "4"}),
        ]
        assert estimate_rows(path, fmt) == 3

    @pytest.mark.parametrize(("content", "name", "message"), [
        (b"%PDF-1.4 ...", "x.csv", "Not a CSV or XLSX file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "x.xls", "an old .xls workbook"),
        (b"just text", "x.xlsx", "not an Excel workbook"),
        (b"PK\x03\x04broken", "x.xlsx", "Not a CSV or XLSX file"),
        (b"", "x.csv", "The file is empty"),
    ])
    def test_unreadable_files_get_a_clear_message(self, tmp_path, content, name, message):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ImportFileError, match=message):
            detect_format(path, name)


class TestValidationAndMapping:
    def test_columns_are_suggested_from_headers_and_the_remembered_mapping_wins(self):
        headers = ["Order No", "Customer ID", "Type", "Order date", "Net amount", "Memo"]
        assert suggest_columns("interactions", headers) == {
            "external_id": "Order No", "account_external_id": "Customer ID", "kind": "Type",
            "occurred_at": "Order date", "amount": "Net amount", "note": "Memo"}
        remembered = {"note": "Type", "kind": "Memo", "gone": "Nope"}
        suggested = suggest_columns("interactions", headers, remembered)
        assert (suggested["note"], suggested["kind"]) == ("Type", "Memo")

    def test_a_mapping_must_fit_the_file(self):
        with pytest.raises(ImportFileError, match="The column 'Amount' mapped to amount is not in the file"):
            check_columns("interactions", {"external_id": "id", "amount": "Amount"}, ["id"])
        with pytest.raises(ImportFileError, match="Account external id, Kind, Date are not mapped"):
            check_columns("interactions", {"external_id": "id"}, ["id"])

    def test_every_failing_field_is_named(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("id,account,kind,date,amount\n,C-1,Teleport,31.02.2025,abc,extra\n")
        fmt = detect_format(path, "x.csv")
        validator = RowValidator("interactions", {"external_id": "id", "account_external_id": "account",
                                                  "kind": "kind", "occurred_at": "date", "amount": "amount"}, fmt)
        (_, record), = iter_records(path, fmt)
        values, errors = validator.validate(record)
        assert errors == {
            ROW: "the row has more cells than the header has columns (extra: extra)",
            "external_id": "required",
            "kind": "unknown value 'Teleport' (expected one of: Order, Return, Payment, Support call, Support "
                    "email, Visit / meeting, Promotion response, Inquiry, Social / marketing touch, Complaint, "
                    "Contract renewal)",
            "occurred_at": "not a valid date: '31.02.2025' — day 31 does not exist in that month",
            "amount": "not a number: 'abc'",
        }

    def test_undecodable_bytes_reject_the_row_naming_the_encoding(self, tmp_path):
        path = tmp_path / "x.csv"
        path.write_bytes(b"id,name\n1,Ann\n2,M\xfcller\n")
        fmt = detect_format(path, "x.csv", {"encoding": "utf-8"})
        validator = RowValidator("contacts", {"external_id": "id", "name": "name", "account_external_id": "id"},
                                 fmt)
        results = [validator.validate(r)[1] for _, r in iter_records(path, fmt)]
        assert results[0] == {}
        assert results[1] == {"name": "unreadable characters: the file is not valid utf-8 text — choose its "
                                      "encoding"}


# --- The batch validator gives what the row validator gives ---------------------------------------------

_CELLS = st.one_of(
    st.sampled_from([
        "", " ", "A-1", "A-1", " C-9 ", "order", "Return", "Support ticket", "teleport", "2025-03-01",
        "31.01.2025", "31.02.2025", "2025-03-01 10:00", "12,50", "1.234,50", "-5", "10", "007", "2.5", "x\x00y",
        "M\ufffdller", "€ 12", "churned", "active", "lost", "DE", "deu", "ann@example.com", "ann@", "x" * 101,
        "99999999999999999", "\x00csv error: bad", "1-49", "²",
    ]),
    st.text(max_size=8),
)


_GOOD = {  # per kind: the columns a..g and well-formed cells for each (so many rows take the fast path)
    "interactions": ({"external_id": "a", "account_external_id": "b", "kind": "c", "occurred_at": "d", "amount": "e",
                      "quantity": "f", "note": "g"},
                     [["A-1", "A-2", " A-3"], ["C-1"], ["order", "Return", "call"], ["2025-03-01", "31.01.2025 10:00"],
                      ["12,50", "3.00", ""], ["2", "", "007"], ["", "a note"]]),
    "accounts": ({"external_id": "a", "name": "b", "status": "c", "churned_on": "d", "country": "e",
                  "employee_band": "f", "web_domain": "g"},
                 [["A-1", "A-2"], ["Acme"], ["active", "", "churned", "lost"], ["", "2024-05-01"], ["de", ""],
                  ["1-49", ""], ["acme.example", ""]]),
    "contacts": ({"external_id": "a", "account_external_id": "b", "name": "c", "email": "d"},
                 [["P-1", "P-2"], ["C-1"], ["Ann"], ["ann@Example.com", ""], [""], [""], [""]]),
    "survey_answers": ({"external_id": "a", "account_external_id": "b", "score": "c", "answered_at": "d"},
                       [["S-1"], ["C-1"], ["0", "10", "7"], ["2025-03-01"], [""], [""], [""]]),
    "marketing_spend": ({"channel": "a", "month": "b", "amount": "c"},
                        [["Web", "Fairs"], ["2025-03", "03/2025"], ["100", "1.234,50"], [""], [""], [""], [""]]),
}


def _rows(kind: str) -> st.SearchStrategy[list[list[str]]]:
    good = _GOOD[kind][1]
    odd = st.sampled_from(["", " ", "x" * 101, "x\x00y", "M\ufffdller", "\x00csv error: bad", "abc", "-5",
                           "99999999999999999"])
    cell = [st.one_of(st.sampled_from(values), st.sampled_from(values), st.sampled_from(values), odd, _CELLS)
            for values in good]
    full = st.tuples(*cell).map(list)
    ragged = st.lists(_CELLS, max_size=9)
    return st.lists(st.one_of(full, full, full, ragged), max_size=15)


@pytest.mark.parametrize("kind", list(_GOOD))
@settings(max_examples=80, deadline=None)
@given(data=st.data(), xlsx=st.booleans(), decimal=st.sampled_from([".", ","]))
def test_validating_a_batch_column_by_column_equals_validating_each_row(kind, data, xlsx, decimal):
    rows = data.draw(_rows(kind))
    fmt = FileFormat(encoding="utf-8", delimiter=",", decimal_separator=decimal, date_order="dmy",
                     is_xlsx=xlsx, headers=["a", "b", "c", "d", "e", "f", "g"])
    validator = RowValidator(kind, _GOOD[kind][0], fmt)
    numbered = list(enumerate(rows, start=2))
    expected_valid, expected_rejected = [], []
    for line, cells in numbered:
        values, errors = validator.validate(record_of(fmt.headers, cells))
        (expected_rejected if errors else expected_valid).append((line, errors or values))
    assert validator.validate_rows(numbered) == (expected_valid, expected_rejected)


@pytest.mark.parametrize(("cells", "why"), [
    (["x" * 101, "C-1", "order", "2025-03-01"], "external_id"), (["A-1", "", "order", "2025-03-01"], "required"),
    (["A-1", "C\x00", "order", "2025-03-01"], "NUL"), (["A-1", "M\ufffd", "order", "2025-03-01"], "encoding"),
    (["\x00csv error: x"], "csv"), (["A-1", "C-1", "order", "2025-03-01", "", "", "", "surplus"], "overflow"),
    (["A-1", "C-1", "order", "2025-03-01", "-1"], "negative"), (["A-1", "C-1", "order", "2025-02-30"], "date"),
])
def test_the_batch_validator_sends_each_kind_of_problem_to_the_row_validator(cells, why):
    fmt = FileFormat(headers=["a", "b", "c", "d", "e", "f", "g"])
    validator = RowValidator("interactions", _GOOD["interactions"][0], fmt)
    good = ["A-0", "C-1", "order", "2025-03-01"]
    valid, rejected = validator.validate_rows([(2, good), (3, cells), (4, ["A-9", *good[1:]])])
    assert [line for line, _ in valid] == [2, 4]
    assert rejected == [(3, validator.validate(record_of(fmt.headers, cells))[1])] and rejected[0][1], why


def test_copy_text_escapes_text_and_renders_every_type():
    data = copy_text([2, 3], [
        ("text", ["a\tb\\c\nd\re", None]), ("text", ["plain", "also"]), ("numeric", [Decimal("1.50"), None]),
        ("bigint", [None, 7]), ("date", [date(2025, 3, 1), None]),
        ("timestamptz", [datetime(2025, 3, 1, 10, 30, tzinfo=UTC), None]),
    ])
    assert data == (b"2\ta\\tb\\\\c\\nd\\re\tplain\t1.50\t\\N\t2025-03-01\t2025-03-01T10:30:00+00:00\n"
                    b"3\t\\N\talso\t\\N\t7\t\\N\t\\N\n")
    assert copy_text([], [("text", [])]) == b""
