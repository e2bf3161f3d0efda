"""The importer fed malformed files (hypothesis): nothing escapes, and every row is accounted for.

Random bytes, ragged rows, stray and unbalanced quotes, NUL bytes, broken encodings and wrong types. For
each file: the run ends done or failed with a message (never an exception); when it ran, every data row is
either imported or rejected with a line and a reason, and created + updated + unchanged + rejected equals
the rows processed. The example count is modest: it runs on every push.
"""

import csv
import uuid
from io import StringIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.imports.reading import count_rows, detect_format
from crm.imports.services import import_file
from crm.models import AccountSourceId, Interaction
from crm.models_imports import ImportJob
from tests.factories import AccountFactory, ProductFactory

HEADER = ["id", "account", "kind", "date", "amount", "qty", "sku", "note"]
COLUMNS = {"external_id": "id", "account_external_id": "account", "kind": "kind", "occurred_at": "date",
           "amount": "amount", "quantity": "qty", "product_sku": "sku", "note": "note"}
CELLS = st.one_of(
    st.sampled_from([
        "C-1", "C-2", "C-404", "order", "Return", "Support call", "ticket", "teleport", "2025-03-01",
        "01.03.2025", "31.02.2025", "2025-03-01 10:00", "12,50", "1.234,50", "-5", "1e9", "10", "2.5", "",
        " ", "BOLT-1", "NOPE", "=1+1", "@SUM(A1)", '"', '""', 'a"b', "a\nb", "\r", "x\x00y", "€", "Müller",
        "99999999999999999", "A-1", "A-2", "A-1",
    ]),
    st.text(max_size=12),
)
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=10), min_size=0, max_size=12)


def render(rows: list[list[str]], delimiter: str, quoting: bool) -> str:
    """Rows as CSV text: properly quoted, or joined raw (so stray quotes and delimiters break the structure)."""
    if quoting:
        out = StringIO()
        csv.writer(out, delimiter=delimiter).writerows(rows)
        return out.getvalue()
    return "".join(delimiter.join(row) + "\n" for row in rows)


@pytest.fixture
def source(db) -> str:  # type: ignore[no-untyped-def]
    ProductFactory(sku="BOLT-1")
    return "fuzz"


def fresh_source() -> str:
    """A source system of its own per example (examples share the test's database transaction)."""
    name = f"fuzz-{uuid.uuid4().hex[:10]}"
    for ref in ("C-1", "C-2"):
        AccountSourceId.objects.create(account=AccountFactory(), source_system=name, external_id=ref)
    return name


def check_run(job: ImportJob, path, source_system: str) -> None:  # type: ignore[no-untyped-def]
    assert job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED)
    if job.status == ImportJob.Status.FAILED:
        assert job.error  # a message for the user, not a traceback
        assert Interaction.objects.filter(source_system=source_system).count() == 0
        return
    fmt = detect_format(path, "fuzz.csv", job.options)
    assert job.rows_processed == count_rows(path, fmt) == job.rows_total
    assert job.rows_created + job.rows_updated + job.rows_unchanged + job.rows_rejected == job.rows_processed
    assert Interaction.objects.filter(source_system=source_system).count() == job.rows_created
    assert job.rows_updated == job.rows_unchanged == 0  # a fresh source: nothing to update
    rejects = []
    if job.rejects_file:
        with job.rejects_file.open("rb") as handle:
            text = handle.read().decode("utf-8-sig")
        delimiter = job.options.get("delimiter", ",")
        rejects = list(csv.reader(StringIO(text, newline=""), delimiter=delimiter))[1:]
    assert len(rejects) == job.rows_rejected
    assert len({row[-3] for row in rejects}) == len(rejects)  # one line each
    assert all(row[-3].isdigit() and row[-2] and row[-1] for row in rejects)  # line, field, reason


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, delimiter=st.sampled_from([",", ";", "\t", "|"]), quoting=st.booleans(),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]), header_ok=st.booleans())
def test_malformed_csv_files_never_crash_and_every_row_is_accounted_for(
    tmp_path, source, rows, delimiter, quoting, encoding, header_ok
):
    source_system = fresh_source()
    header = HEADER if header_ok else HEADER[:3]
    text = render([header, *rows], delimiter, quoting)
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    job = import_file(path=path, original_name="fuzz.csv", source_system=source_system, kind="interactions",
                      columns=COLUMNS, options={"delimiter": delimiter})
    check_run(job, path, source_system)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400), prefix=st.sampled_from([b"", b"id,account,kind,date\n", b"PK\x03\x04"]))
def test_random_bytes_never_crash(tmp_path, source, content, prefix):
    source_system = fresh_source()
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(prefix + content)
    try:
        job = import_file(path=path, original_name="fuzz.csv", source_system=source_system,
                          kind="interactions", columns=COLUMNS)
    except Exception as error:  # only the clear, user-facing refusals may escape import_file
        from crm.imports.errors import ImportFileError, ImportLimitError

        assert isinstance(error, ImportFileError | ImportLimitError), repr(error)
        return
    check_run(job, path, source_system)
