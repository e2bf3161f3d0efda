"""The engine's fast paths agree with its reference: the whole-book query, the one-account query and the pure
``costing`` reference give the same P&L for every account, and the cached configuration never goes stale."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import InteractionKind
from profitability import services
from profitability.models import AccountSnapshot, ClvSettings, CostRate, Tier
from profitability.services import rows as pnl_rows
from tests.factories import AccountFactory, InteractionFactory

from .conftest import NOW

D = Decimal
pytestmark = pytest.mark.django_db

PNL_FIELDS = [
    "history_version", "revenue", "returns", "cogs", "orders", "revenue_ttm", "returns_ttm", "cogs_ttm",
    "orders_ttm", "first_order_at", "last_order_at", "last_interaction_at", "order_revenue", "cost_to_serve",
    "cost_to_serve_ttm", "status", "relationship", "acquisition_channel_id", "acquired_on", "cac",
]
BASE = datetime(2024, 1, 1, tzinfo=UTC)

interaction = st.fixed_dictionaries({
    "kind": st.sampled_from(list(InteractionKind.values)),
    "channel": st.sampled_from(["phone", "email", "web", "edi"]),
    "day": st.integers(min_value=0, max_value=730),
    "amount": st.decimals(min_value=0, max_value=100000, places=2),
    "direct_cost": st.decimals(min_value=0, max_value=50000, places=2),
    "quantity": st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
})


def _rates() -> None:
    # an effective-dated change, a channel-specific rate beating the generic one, a per-unit rate
    CostRate.objects.create(activity="Support calls", kind="support_call", rate=D("18"),
                            effective_from=date(2024, 1, 1))
    CostRate.objects.create(activity="Support calls", kind="support_call", channel="phone", rate=D("30"),
                            effective_from=date(2024, 9, 1))
    CostRate.objects.create(activity="Order handling", kind="order", rate=D("25"), effective_from=date(2024, 1, 1))
    CostRate.objects.create(activity="Order handling", kind="order", rate=D("27.50"),
                            effective_from=date(2025, 3, 1))
    CostRate.objects.create(activity="Picking", kind="order", per_unit=True, rate=D("0.40"),
                            effective_from=date(2024, 3, 1))
    CostRate.objects.create(activity="Returns processing", kind="return", rate=D("35"),
                            effective_from=date(2024, 1, 1))


def _normalised(row: dict) -> dict:
    out = {field: row[field] for field in PNL_FIELDS}
    out["breakdown"] = row["breakdown"]
    out["breakdown_ttm"] = row["breakdown_ttm"]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(st.lists(interaction, max_size=12), min_size=1, max_size=4))
def test_the_book_query_equals_the_reference_for_every_account(db, histories):
    with transaction.atomic():
        _rates()
        for history in histories:
            account = AccountFactory()
            for spec in history:
                InteractionFactory(account=account, kind=spec["kind"], channel=spec["channel"],
                                   occurred_at=BASE + timedelta(days=spec["day"], hours=spec["day"] % 24),
                                   amount=spec["amount"], direct_cost=spec["direct_cost"], quantity=spec["quantity"])
        ctx = services.engine_context(now=NOW)
        book = {r["account_id"]: _normalised(r) for r in pnl_rows._fetch_pnl_rows_sql(ctx, None)}
        reference_rows = pnl_rows._fetch_pnl_rows_python(ctx, None)
        attributes = pnl_rows._account_attributes(None)
        reference = {r["account_id"]: _normalised({**r, **attributes[r["account_id"]]}) for r in reference_rows}
        assert book == reference
        one = {a: _normalised(pnl_rows._fetch_pnl_rows_sql(ctx, [a])[0]) for a in reference}
        assert one == reference
        transaction.set_rollback(True)


def test_a_book_recompute_writes_the_same_figures_as_one_account_recomputes(patricia, patrick):
    # a fixed retention: the measured one comes from the book summary this very recompute writes
    ClvSettings.objects.filter(pk=1).update(retention_override=D("0.8"))
    services.book_recompute(now=NOW)
    columns = [f for f in services.SNAPSHOT_FIELDS if f not in {"computed_at", "rank", "top_share_pct", "tier_id"}]
    from_book = {s["account_id"]: s for s in AccountSnapshot.objects.values("account_id", *columns)}
    AccountSnapshot.objects.update(computed_version=0)
    for account in (patricia, patrick):
        services.snapshot_recompute(account_id=account.pk, now=NOW)
    from_one = {s["account_id"]: s for s in AccountSnapshot.objects.values("account_id", *columns)}
    differing = {f for a in from_book for f in columns if from_one[a][f] != from_book[a][f]}
    assert differing == set(), [(f, from_one[a][f], from_book[a][f]) for a in from_book for f in differing]


def test_a_rerun_leaves_unchanged_snapshots_alone_and_rewrites_changed_ones(patricia, patrick):
    ClvSettings.objects.filter(pk=1).update(retention_override=D("0.8"))
    services.book_recompute(now=NOW)
    first = dict(AccountSnapshot.objects.values_list("account_id", "computed_at"))
    before = AccountSnapshot.objects.filter(account=patricia).values().get()
    InteractionFactory(account=patrick, kind="support_call", channel="phone",
                       occurred_at=datetime(2025, 12, 1, tzinfo=UTC))
    later = NOW + timedelta(hours=2)
    services.book_recompute(now=later)
    after = {s.account_id: s for s in AccountSnapshot.objects.all()}
    now_row = AccountSnapshot.objects.filter(account=patricia).values().get()
    assert {k: (v, now_row[k]) for k, v in before.items() if now_row[k] != v and k != "computed_at"} == {}
    assert after[patricia.pk].computed_at == first[patricia.pk]  # same figures, same day: not rewritten
    assert after[patrick.pk].computed_at == later
    assert after[patrick.pk].cost_breakdown["Support calls"]["count"] == 101


def _support_rate(config) -> Decimal | None:
    """The rate of the test's own support-call window (the migration's default rates start in 2000)."""
    rates = [w.rate for w in config.windows
             if w.activity == "Support calls" and w.channel == "phone" and w.valid_from == date(2024, 1, 1)]
    return rates[0] if rates else None


class TestConfigurationCache:
    def test_an_unchanged_configuration_is_loaded_once(self, db):
        first = services.engine_config()
        assert services.engine_config() is first

    @pytest.mark.parametrize("change", ["rate_update", "rate_delete", "tier_update", "settings_update", "raw_sql"])
    def test_any_change_reaches_the_next_recompute_whatever_path_wrote_it(self, db, change):
        rate = CostRate.objects.create(activity="Support calls", kind="support_call", rate=D("18"),
                                       effective_from=date(2024, 1, 1))
        before = services.engine_config()
        assert _support_rate(before) == D("18")
        if change == "rate_update":  # a queryset update sends no signal
            CostRate.objects.filter(pk=rate.pk).update(rate=D("19"))
            assert _support_rate(services.engine_config()) == D("19")
        elif change == "rate_delete":
            CostRate.objects.filter(pk=rate.pk).delete()
            assert _support_rate(services.engine_config()) is None
        elif change == "tier_update":
            Tier.objects.filter(position=1).update(name="Diamond")
            assert services.engine_config().tiers[0].name == "Diamond"
        elif change == "settings_update":
            ClvSettings.objects.filter(pk=1).update(discount_rate=D("0.2500"))
            assert services.engine_config().clv.discount_rate == 0.25
        else:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE profitability_clvsettings SET ranking_metric = 'net_profit'")
            assert services.engine_config().ranking_metric == "net_profit"
        assert services.engine_config() is not before

    def test_a_one_account_recompute_checks_the_cached_configuration_in_its_own_query(
        self, db, django_assert_num_queries
    ):
        account = AccountFactory()
        InteractionFactory.create_batch(2, account=account, kind="support_call", channel="phone")
        services.snapshot_recompute(account_id=account.pk, now=NOW)
        with django_assert_num_queries(2):  # the row read with the configuration's fingerprint, one UPDATE
            services.snapshot_recompute(account_id=account.pk, now=NOW)
        CostRate.objects.update(rate=D("21"))  # no signal; the next recompute must still see it
        services.snapshot_recompute(account_id=account.pk, now=NOW)
        breakdown = AccountSnapshot.objects.get(account=account).cost_breakdown
        assert breakdown and all(D(c["cost"]) == 21 * c["count"] for c in breakdown.values()), breakdown

    def test_a_rolled_back_change_is_not_kept(self, db):
        rate = CostRate.objects.create(activity="Support calls", kind="support_call", rate=D("18"),
                                       effective_from=date(2024, 1, 1))
        with transaction.atomic():
            CostRate.objects.filter(pk=rate.pk).update(rate=D("99"))
            assert _support_rate(services.engine_config()) == D("99")
            transaction.set_rollback(True)
        assert _support_rate(services.engine_config()) == D("18")


def test_the_book_query_settings_do_not_outlive_it(patricia):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('work_mem')")
        before = cursor.fetchone()
        pnl_rows._fetch_pnl_rows_sql(services.engine_context(now=NOW), None)
        cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('work_mem')")
        assert cursor.fetchone() == before


def test_breakdown_json_is_written_as_objects(patrick):
    services.book_recompute(now=NOW)
    snap = AccountSnapshot.objects.get(account=patrick)
    assert snap.cost_breakdown["Returns processing"] == {"count": 80, "cost": "2800.00"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT jsonb_typeof(cost_breakdown), jsonb_typeof(cost_breakdown_ttm) "
                       "FROM profitability_accountsnapshot WHERE account_id = %s", [patrick.pk])
        assert cursor.fetchone() == ("object", "object")
    assert json.dumps(snap.explanation)
