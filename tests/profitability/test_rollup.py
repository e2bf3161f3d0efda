"""Monthly sums of heavy accounts (``profitability.rollup``): kept exact by the triggers whoever writes, read
by the one-account query with the months a boundary cuts taken from the interactions, and safe against a
write racing the enrolment."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.dedupe.services import account_merge
from crm.imports.services import import_file
from crm.models import Account, AccountSourceId, Interaction, InteractionKind
from profitability import services
from profitability.models import CostRate, InteractionMonth, RolledUpAccount
from profitability.rollup import account_roll_up, split_months
from profitability.services import account as account_recompute
from profitability.services import rows as pnl_rows
from tests.connections import other_connection
from tests.factories import AccountFactory, InteractionFactory

from .test_engine_paths import BASE, _normalised, _rates

D = Decimal
pytestmark = pytest.mark.django_db

SUMS = """
SELECT account_id, kind, channel, date_trunc('month', occurred_at, 'UTC'), count(*), sum(amount), sum(direct_cost),
    coalesce(sum(quantity), 0)
FROM crm_interaction WHERE account_id = ANY(%s) GROUP BY 1, 2, 3, 4
"""


def sums_from_interactions(*account_ids: int) -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(SUMS, [list(account_ids)])
        return set(cursor.fetchall())


def kept_sums(*account_ids: int) -> set[tuple]:
    return set(InteractionMonth.objects.filter(account_id__in=account_ids).values_list(
        "account_id", "kind", "channel", "month", "n", "amount", "direct_cost", "units"))


def test_split_months_are_the_months_a_boundary_falls_inside():
    boundaries = [datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC),
                  datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2025, 3, 20, tzinfo=UTC)]
    assert split_months(boundaries) == [datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)]


interaction = st.fixed_dictionaries({
    "kind": st.sampled_from(list(InteractionKind.values)),
    "channel": st.sampled_from(["phone", "web"]),
    "day": st.integers(min_value=0, max_value=730),
    "amount": st.decimals(min_value=0, max_value=100000, places=2),
    "direct_cost": st.decimals(min_value=0, max_value=50000, places=2),
    "quantity": st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
})
# What happens to an interaction after the account is rolled up, and through which path.
edit = st.sampled_from(["keep", "save", "queryset_update", "raw_update", "move", "delete", "raw_delete"])


def _create(account: Account, spec: dict) -> Interaction:
    return InteractionFactory(account=account, kind=spec["kind"], channel=spec["channel"],
                              occurred_at=BASE + timedelta(days=spec["day"], hours=spec["day"] % 24),
                              amount=spec["amount"], direct_cost=spec["direct_cost"], quantity=spec["quantity"])


def _apply(edit_name: str, row: Interaction, other: Account) -> None:
    later = row.occurred_at + timedelta(days=40)
    if edit_name == "save":
        row.amount, row.kind, row.occurred_at = row.amount + 1, "support_call", later
        row.save()
    elif edit_name == "queryset_update":
        Interaction.objects.filter(pk=row.pk).update(direct_cost=row.direct_cost + D("0.5"), channel="edi")
    elif edit_name == "move":
        Interaction.objects.filter(pk=row.pk).update(account=other)
    elif edit_name == "delete":
        row.delete()
    elif edit_name in ("raw_update", "raw_delete"):
        with connection.cursor() as cursor:
            if edit_name == "raw_update":
                cursor.execute("UPDATE crm_interaction SET quantity = 7, occurred_at = %s WHERE id = %s",
                               [later, row.pk])
            else:
                cursor.execute("DELETE FROM crm_interaction WHERE id = %s", [row.pk])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.lists(interaction, max_size=8), after=st.lists(interaction, max_size=8),
    edits=st.lists(edit, max_size=16), other_rolled_up=st.booleans(),
)
def test_the_sums_stay_exact_and_the_one_account_figures_equal_the_reference(
    db, before, after, edits, other_rolled_up
):
    with transaction.atomic():
        _rates()
        # mid-month: a rate and the start of the trailing year cut months in two
        CostRate.objects.create(activity="Visits", kind="visit", rate=D("80"), effective_from=date(2024, 6, 17))
        heavy, other = AccountFactory(), AccountFactory()
        rows = [_create(heavy, spec) for spec in before]
        assert account_roll_up(account_id=heavy.pk)
        if other_rolled_up:
            account_roll_up(account_id=other.pk)
        rows += [_create(heavy, spec) for spec in after]
        for edit_name, row in zip(edits, rows, strict=False):
            _apply(edit_name, row, other)

        rolled_up = [heavy.pk, other.pk] if other_rolled_up else [heavy.pk]
        assert kept_sums(*rolled_up) == sums_from_interactions(*rolled_up)
        for now in (datetime(2026, 1, 1, tzinfo=UTC), datetime(2025, 8, 20, 15, tzinfo=UTC)):
            ctx = services.engine_context(now=now)
            reference = {r["account_id"]: r for r in pnl_rows._fetch_pnl_rows_python(ctx, [heavy.pk, other.pk])}
            attributes = pnl_rows._account_attributes([heavy.pk, other.pk])
            for account_id, row in reference.items():
                (one,) = pnl_rows._fetch_pnl_rows_sql(ctx, [account_id])
                assert one["rolled_up"] is (account_id in rolled_up)
                assert _normalised(one) == _normalised({**row, **attributes[account_id]})
        transaction.set_rollback(True)


def test_a_recompute_rolls_up_an_account_that_reached_the_threshold(monkeypatch):
    monkeypatch.setattr(account_recompute, "ROLLUP_MIN_INTERACTIONS", 3)  # the global snapshot_recompute reads
    heavy, light = AccountFactory(), AccountFactory()
    InteractionFactory.create_batch(3, account=heavy)
    InteractionFactory.create_batch(2, account=light)
    for account in (heavy, light):
        services.snapshot_recompute(account_id=account.pk)
    assert set(RolledUpAccount.objects.values_list("account_id", flat=True)) == {heavy.pk}
    assert kept_sums(heavy.pk) == sums_from_interactions(heavy.pk) != set()
    assert account_roll_up(account_id=heavy.pk) is False  # once only
    before = heavy.snapshot.revenue, heavy.snapshot.cogs
    InteractionFactory(account=heavy, amount=D("50.00"), direct_cost=D("20.00"))
    services.snapshot_recompute(account_id=heavy.pk)
    heavy.snapshot.refresh_from_db()
    assert (heavy.snapshot.revenue, heavy.snapshot.cogs) == (before[0] + D("50.00"), before[1] + D("20.00"))


def test_an_import_keeps_the_sums_though_it_skips_the_foreign_key_triggers(tmp_path, settings):
    settings.TIERWISE_IMPORT_PIPELINE = False  # one connection: the test's data is not committed
    # The test database's role may set session_replication_role: new rows go in with triggers off, but
    # these are ENABLE ALWAYS.
    account = AccountFactory()
    AccountSourceId.objects.create(account=account, source_system="erp", external_id="C-1")
    InteractionFactory(account=account)
    account_roll_up(account_id=account.pk)
    header = ["id", "account", "kind", "date", "amount"]
    rows = [[f"SO-{i}", "C-1", "order", f"2025-0{1 + i % 3}-1{i % 10}", f"{i}.50"] for i in range(40)]
    columns = {"external_id": "id", "account_external_id": "account", "kind": "kind", "occurred_at": "date",
               "amount": "amount"}
    path = tmp_path / "o.csv"
    for _ in range(2):
        path.write_text("\n".join(",".join(row) for row in [header, *rows]))
        job = import_file(path=path, original_name="o.csv", source_system="erp", kind="interactions", columns=columns)
        assert (job.status, job.error, job.rows_rejected) == ("done", "", 0)
        rows[0][4] = "999.00"  # the re-import updates one row
    assert Interaction.objects.filter(account=account).count() == 41
    assert kept_sums(account.pk) == sums_from_interactions(account.pk)


def test_a_merge_moves_the_sums_and_deleting_an_account_leaves_none(django_user_model):
    survivor, merged = AccountFactory(), AccountFactory()
    InteractionFactory.create_batch(2, account=survivor)
    InteractionFactory.create_batch(3, account=merged, kind="return", occurred_at=datetime(2025, 5, 2, tzinfo=UTC))
    for account in (survivor, merged):
        account_roll_up(account_id=account.pk)
    account_merge(survivor_id=survivor.pk, merged_id=merged.pk, user=django_user_model.objects.create_user("ada"))
    assert kept_sums(survivor.pk) == sums_from_interactions(survivor.pk)
    assert {n for *_, n, _, _, _ in kept_sums(survivor.pk)} == {2, 3}
    assert not RolledUpAccount.objects.filter(account_id=merged.pk).exists()
    Account.objects.get(pk=survivor.pk).delete()
    assert not InteractionMonth.objects.exists() and not RolledUpAccount.objects.exists()


@pytest.mark.django_db(transaction=True)
class TestAWriteRacingTheEnrolment:
    """The write is in the sums exactly once, whichever of the two takes the account first."""

    INSERT = ("INSERT INTO crm_interaction (account_id, kind, channel, occurred_at, amount, direct_cost, note, "
              "source_system, external_id, created_at, updated_at) "
              "VALUES (%s, 'order', 'web', '2025-04-02', 70, 30, '', 'other', %s, now(), now())")

    def test_an_enrolment_waits_for_a_write_in_flight_and_counts_it(self):
        account = AccountFactory()
        InteractionFactory(account=account)
        with other_connection() as other:
            other.execute("BEGIN")
            other.execute(self.INSERT, [account.pk, "in-flight"])
            enrolling = threading.Thread(target=self._roll_up, args=(account.pk,))
            enrolling.start()
            enrolling.join(0.5)
            assert enrolling.is_alive()  # waiting for the writer's key-share lock on the account
            other.execute("COMMIT")
            enrolling.join(10)
        assert not enrolling.is_alive()
        assert kept_sums(account.pk) == sums_from_interactions(account.pk)
        assert sum(n for *_, n, _, _, _ in kept_sums(account.pk)) == 2

    def test_a_write_waits_for_an_enrolment_in_flight_and_adds_itself(self):
        account = AccountFactory()
        InteractionFactory(account=account)
        writer_done = threading.Event()
        with other_connection() as other, transaction.atomic():
            account_roll_up(account_id=account.pk)  # not committed yet: the account stays locked

            def write() -> None:
                other.execute(self.INSERT, [account.pk, "racing"])
                writer_done.set()

            writing = threading.Thread(target=write)
            writing.start()
            assert not writer_done.wait(0.5)  # its trigger waits for the enrolment's lock
        writing.join(10)
        assert writer_done.is_set()
        assert kept_sums(account.pk) == sums_from_interactions(account.pk)
        assert sum(n for *_, n, _, _, _ in kept_sums(account.pk)) == 2

    @staticmethod
    def _roll_up(account_id: int) -> None:
        try:
            account_roll_up(account_id=account_id)
        finally:
            connection.close()  # this thread's own connection
