"""Who may export, what a download looks like (streamed, named, uncached, audited), bad filters, query counts."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from crm.exports.registry import EXPORTS

from .conftest import grow
from .helpers import as_dicts, body, csv_rows, download

pytestmark = pytest.mark.django_db
DATASETS = sorted(EXPORTS)
URLS = [reverse("export_list")] + [reverse("export_download", args=[d]) + f"?format={f}"
                                   for d in DATASETS for f in ("csv", "xlsx")]


class TestPermissions:
    @pytest.mark.parametrize("url", URLS)
    def test_anonymous_users_are_sent_to_log_in(self, client, url):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("url", URLS)
    @pytest.mark.parametrize("who", ["sam", "nobody"])
    def test_service_staff_and_users_without_a_role_get_403(self, client, request, book, url, who):
        client.force_login(request.getfixturevalue(who))
        response = client.get(url)
        assert response.status_code == 403
        assert b"Patricia" not in body(response) and b"41999" not in body(response)

    @pytest.mark.parametrize("url", URLS)
    @pytest.mark.parametrize("who", ["alice", "ada"])
    def test_account_managers_and_admins_may_export(self, client, request, book, url, who):
        client.force_login(request.getfixturevalue(who))
        assert client.get(url).status_code == 200

    def test_downloads_are_gets_only(self, client, alice):
        client.force_login(alice)
        assert client.post(reverse("export_download", args=["accounts"])).status_code == 405

    def test_an_unknown_dataset_is_404(self, client, alice):
        client.force_login(alice)
        assert client.get(reverse("export_download", args=["passwords"])).status_code == 404


class TestDownload:
    def test_csv_is_streamed_as_a_named_attachment_that_no_cache_keeps(self, client, alice, book):
        client.force_login(alice)
        response = download(client, "accounts", format="csv")
        assert response.streaming
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        today = timezone.localdate().isoformat()
        assert response["Content-Disposition"] == f'attachment; filename="tierwise-accounts-{today}.csv"'
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]

    def test_xlsx_is_a_named_spreadsheet_attachment(self, client, alice, book):
        client.force_login(alice)
        response = download(client, "segments", format="xlsx")
        assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        today = timezone.localdate().isoformat()
        assert response["Content-Disposition"] == f'attachment; filename="tierwise-segments-{today}.xlsx"'
        assert body(response)[:2] == b"PK"  # a zip
        assert "no-store" in response["Cache-Control"]

    def test_csv_is_the_default_format(self, client, alice, book):
        client.force_login(alice)
        assert download(client, "segments")["Content-Type"] == "text/csv; charset=utf-8"


class TestAudit:
    def test_every_export_is_logged_with_who_what_filters_and_rows(self, client, alice, book, caplog):
        client.force_login(alice)
        with caplog.at_level(logging.INFO, logger="tierwise.audit"):
            rows = csv_rows(client, "accounts", owner="me", industry="Retail", page="2")
        assert len(rows) == 2
        records = [r for r in caplog.records if r.name == "tierwise.audit"]
        assert len(records) == 1
        assert records[0].audit == {
            "event": "export", "user_id": alice.pk, "username": "alice", "dataset": "accounts", "format": "csv",
            "filters": {"owner": "me", "industry": "Retail", "sort": "-profit"}, "rows": 1, "complete": True,
        }
        message = records[0].getMessage()
        assert message.startswith('export user_id=') and 'username="alice"' in message and "rows=1" in message

    def test_an_xlsx_export_is_logged_too(self, client, ada, book, caplog):
        client.force_login(ada)
        with caplog.at_level(logging.INFO, logger="tierwise.audit"):
            response = download(client, "ledger", format="xlsx", program=str(book.program.pk), date_from="2025-01-01")
            body(response)
        (record,) = [r for r in caplog.records if r.name == "tierwise.audit"]
        assert record.audit["dataset"] == "ledger" and record.audit["format"] == "xlsx"
        assert record.audit["filters"] == {"program": book.program.pk, "date_from": "2025-01-01"}
        assert record.audit["rows"] == 4 and record.audit["complete"] is True

    def test_a_download_cut_off_is_logged_as_incomplete(self, client, alice, book, caplog):
        from django.core.signals import request_finished
        from django.db import close_old_connections

        client.force_login(alice)
        with caplog.at_level(logging.INFO, logger="tierwise.audit"):
            response = download(client, "accounts", format="csv")
            next(iter(response.streaming_content))  # the header only, then the client goes away
            request_finished.disconnect(close_old_connections)  # as the test client does: keep the test's connection
            try:
                response.close()  # what the WSGI server does when the client disconnects
            finally:
                request_finished.connect(close_old_connections)
        (record,) = [r for r in caplog.records if r.name == "tierwise.audit"]
        assert record.audit["complete"] is False

    def test_refused_and_invalid_exports_log_nothing(self, client, sam, alice, caplog):
        with caplog.at_level(logging.INFO, logger="tierwise.audit"):
            client.force_login(sam)
            download(client, "accounts")
            client.force_login(alice)
            download(client, "ledger", date_from="2025-02-01", date_to="2025-01-01")
        assert [r for r in caplog.records if r.name == "tierwise.audit"] == []


class TestBadFilters:
    @pytest.mark.parametrize(("dataset", "params", "field", "message"), [
        ("ledger", {"date_from": "2025-02-01", "date_to": "2025-01-01"}, "date_to", "“To” must be on or after"),
        ("ledger", {"date_from": "yesterday"}, "date_from", "Enter a valid date."),
        ("ledger", {"account": "999999"}, "account", "There is no account with ID 999999."),
        ("balances", {"program": "999999"}, "program", "Select a valid choice."),
        ("accounts", {"tier": "gold"}, "tier", "Select a valid choice."),
        ("accounts", {"format": "pdf"}, "format", "Select a valid choice."),
        ("opportunities", {"owner": "123456"}, "owner", "Choose “Everyone” or an account manager."),
        ("segments", {"dimension": "planet"}, "dimension", "Select a valid choice."),
    ])
    def test_it_shows_the_exports_page_with_the_error_beside_the_field(self, client, alice, book, dataset, params,
                                                                       field, message):
        client.force_login(alice)
        response = download(client, dataset, **params)
        assert response.status_code == 400
        assert not response.streaming
        html = response.content.decode()
        assert "Nothing was downloaded: correct the filters of <a href=\"#export-" + dataset in html
        form = response.context["cards"][list(EXPORTS).index(dataset)][1]
        assert any(message in error for error in form.errors[field])
        assert f'id="{dataset}-{field}' in html


class TestQueries:
    @pytest.mark.parametrize("dataset", DATASETS)
    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_a_download_costs_a_fixed_number_of_queries_whatever_the_rows(self, client, ada, book, dataset, fmt,
                                                                         django_assert_max_num_queries):
        grow(book, 30)  # ten times the book in every table: the query count must not move
        client.force_login(ada)
        with django_assert_max_num_queries(8):
            response = download(client, dataset, format=fmt)
            body(response)
        assert response.status_code == 200

    def test_the_exports_page_costs_a_fixed_number_of_queries(self, client, alice, book,
                                                             django_assert_max_num_queries):
        client.force_login(alice)
        with django_assert_max_num_queries(14):
            assert client.get(reverse("export_list")).status_code == 200


class TestExportsPage:
    def test_it_lists_each_export_with_its_filters_and_formats(self, client, alice, bob, book):
        client.force_login(alice)
        html = client.get(reverse("export_list")).content.decode()
        for key, export in EXPORTS.items():
            assert f'action="{reverse("export_download", args=[key])}"' in html
            assert escape(export.title) in html
        assert html.count('value="xlsx"') == len(EXPORTS)
        assert '<option value="Wholesale">Wholesale</option>' in html  # industries of the last recompute
        assert f'<option value="{bob.pk}">bob</option>' in html  # another manager's worklist
        assert '<option value="" selected>My accounts</option>' in html

    def test_it_is_linked_from_the_nav_for_financial_roles_only(self, client, alice, sam):
        client.force_login(alice)
        assert f'href="{reverse("export_list")}"' in client.get(reverse("home")).content.decode()
        client.force_login(sam)
        assert f'href="{reverse("export_list")}"' not in client.get(reverse("home")).content.decode()

    def test_its_forms_download_what_they_show(self, client, alice, book):
        client.force_login(alice)
        rows = as_dicts(csv_rows(client, "accounts", owner="all", industry="Wholesale", tier="", region="",
                                 segment="", status="", q="", sort="-profit"))
        assert [r["Name"] for r in rows] == ["Patricia Bulk Supplies"]


def export_links(html: str) -> dict[str, str]:
    """{"CSV": href, "Excel": href} of the first export links on a page."""
    import html as html_lib
    import re

    found = re.findall(r'<a href="([^"]*/data/exports/[^"]*)" download>(CSV|Excel)</a>', html)
    return {label: html_lib.unescape(href) for href, label in found[:2]}


def followed(client, href: str) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get(href)
    assert response.status_code == 200
    return as_dicts(list(csv.reader(io.StringIO(body(response).decode()[1:]))))


class TestListPageLinks:
    def test_the_account_list_links_its_filtered_rows(self, client, alice, book):
        client.force_login(alice)
        html = client.get(reverse("account_list"), {"industry": "Retail", "page": "1"}).content.decode()
        links = export_links(html)
        assert links["CSV"].startswith(reverse("export_download", args=["accounts"]) + "?")
        assert "page=" not in links["CSV"] and "owner=me" in links["CSV"] and "format=xlsx" in links["Excel"]
        assert [r["Name"] for r in followed(client, links["CSV"])] == ["Patrick Small Parts"]

    def test_the_worklist_links_the_worklist_it_shows(self, client, alice, bob, book):
        client.force_login(alice)
        html = client.get(reverse("opportunity_worklist"), {"owner": str(bob.pk)}).content.decode()
        assert [r["Account manager"] for r in followed(client, export_links(html)["CSV"])] == ["bob"]

    def test_the_segment_ranking_links_its_dimension(self, client, ada, book):
        client.force_login(ada)
        html = client.get(reverse("analytics_segments"), {"dimension": "cluster"}).content.decode()
        assert [r["Segment"] for r in followed(client, export_links(html)["CSV"])] == ["'=Bulk buyers"]

    def test_the_program_page_links_its_ledger(self, client, ada, book):
        client.force_login(ada)
        html = client.get(reverse("loyalty_program_detail", args=[book.program.pk])).content.decode()
        assert f"program={book.program.pk}" in export_links(html)["CSV"]
        assert "Export the points ledger" in html and "Export members’ balances" in html

    def test_the_account_loyalty_panel_links_only_for_financial_roles(self, client, alice, sam, book):
        url = reverse("account_loyalty", args=[book.patricia.pk])
        client.force_login(alice)
        assert f"account={book.patricia.pk}" in export_links(client.get(url).content.decode())["CSV"]
        client.force_login(sam)
        response = client.get(url)
        assert response.status_code == 200 and export_links(response.content.decode()) == {}
