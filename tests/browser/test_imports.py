"""An admin imports a customer file with a couple of bad rows — upload, map a column by hand, read the preview
with its errors, start, watch the progress reach done, read the rejects and download them — in a real
browser against a live server on PostgreSQL with a real Celery worker running the import."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from crm.models import AccountSourceId
from crm.models_imports import ImportJob, ImportMapping
from tests.imports.test_task import import_worker  # noqa: F401  (fixture: a worker sharing MEDIA_ROOT)

from .conftest import ARTIFACTS, log_in, save_readme_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Semicolons, decimal commas and day-first dates, as a German ERP exports them; "Nr" matches no field's
# name, so the admin maps it by hand.
CUSTOMERS = (
    "Nr;Company;Country;Industry;Customer since\n"
    "K-1001;Müller Maschinenbau GmbH;DE;Machinery;01.03.2021\n"
    "K-1002;Atelier Dupont SARL;FR;Textiles;15.06.2022\n"
    "K-1003;;NL;Food;02.01.2023\n"
    "K-1004;Nordlicht AS;NORWAY;Shipping;31.04.2023\n"
    "K-1005;Brouwerij Van Dijk;NL;Food;10.10.2023\n"
)


def test_an_admin_uploads_maps_previews_imports_and_downloads_the_rejects(page, ada, import_worker, tmp_path):  # noqa: F811
    upload = tmp_path / "erp-customers.csv"
    upload.write_text(CUSTOMERS, encoding="utf-8")

    log_in(page, "ada")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports")).to_be_visible()
    page.get_by_role("link", name="Import a file").click()

    page.get_by_label("Source system").fill("SAP ERP")
    page.get_by_label("What the file holds").select_option(label="Accounts")
    expect(page.locator('details[data-kind="accounts"]')).to_have_attribute("open", "")  # its fields, listed
    page.get_by_label(re.compile("^File")).set_input_files(str(upload))
    page.screenshot(path=str(ARTIFACTS / "import-upload.png"), full_page=True)
    page.get_by_role("button", name="Upload and map columns").click()

    # The mapping page: columns suggested from the headers, the format detected, "Nr" not recognised.
    expect(page.get_by_role("heading", name="Map the columns of erp-customers.csv")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Company")
    expect(page.get_by_label("Delimiter")).to_have_value(";")
    expect(page.get_by_label("Dates")).to_have_value("dmy")
    external_id = page.get_by_label("External id")
    expect(external_id).to_have_value("")
    expect(page.locator("[data-missing-required]")).to_contain_text("External id")

    # Mapping "Nr" re-renders the preview in place (htmx): 3 of 5 rows valid, each error next to its value.
    external_id.focus()
    external_id.select_option("Nr")
    summary = page.locator("#preview-summary")
    expect(summary).to_contain_text("3 of 5 rows valid")
    expect(page.locator("[data-missing-required]")).to_have_count(0)
    rows = page.locator("table.import-preview tbody tr")
    expect(rows).to_have_count(5)
    expect(page.locator('tr[data-line="4"] td.cell-error')).to_have_count(1)  # K-1003 has no name
    expect(page.locator('tr[data-line="5"] td.cell-error')).to_have_count(2)  # NORWAY, 31 April
    expect(page.locator('tr[data-line="2"]')).to_contain_text("Müller Maschinenbau GmbH")
    expect(page.get_by_label("External id")).to_be_focused()  # the swap keeps the keyboard where it was
    assert not ImportJob.objects.exclude(status=ImportJob.Status.UPLOADED).exists()  # nothing imported yet
    page.evaluate("window.scrollTo(0, 0)")
    save_readme_screenshot(page, "import-preview.png")

    # Start: the progress bar runs to done, the counts and the rejects appear, polling stops.
    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_role("heading", name="Import of erp-customers.csv")).to_be_visible()
    expect(page.get_by_text("Import of erp-customers.csv queued.")).to_be_visible()
    status = page.locator("#job-status")
    expect(status.locator(".progress-text")).to_have_attribute("data-status", "done", timeout=60_000)
    expect(status.locator('[data-count="processed"]')).to_have_text("5")
    expect(status.locator('[data-count="created"]')).to_have_text("3")
    expect(status.locator('[data-count="rejected"]')).to_have_text("2")
    expect(status.locator("progress")).to_have_attribute("value", re.compile(r"\d+"))
    expect(status).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(page.get_by_role("button", name="Cancel import")).to_have_count(0)
    rejects = page.locator("table.import-rejects-table tbody tr")
    expect(rejects).to_have_count(2)  # one row per rejected line, every failing column named
    expect(rejects.nth(0).locator("th, td")).to_have_text(["4", "Company", "required"])
    expect(rejects.nth(1).locator("th, td")).to_have_text([
        "5", "Country; Customer since", re.compile("NORWAY.*day 31 does not exist")])

    page.screenshot(path=str(ARTIFACTS / "import-done.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rejects CSV").click()
    download = download_info.value
    assert download.suggested_filename == "erp-customers-rejects.csv"
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: PTH123, SIM115
    lines = list(csv.reader(io.StringIO(text)))
    body = "\n".join(",".join(line) for line in lines[1:])
    assert "K-1003" in body and "K-1004" in body and "K-1001" not in body

    assert set(AccountSourceId.objects.filter(source_system="SAP ERP").values_list("external_id", flat=True)) == {
        "K-1001", "K-1002", "K-1005"}
    assert ImportMapping.objects.get(source_system="SAP ERP", kind="accounts").columns["external_id"] == "Nr"

    # The history lists the run with its counts.
    page.get_by_role("link", name="Imports").first.click()
    row = page.get_by_role("row", name=re.compile("erp-customers.csv"))
    expect(row).to_contain_text("SAP ERP")
    expect(row).to_contain_text("Done")
