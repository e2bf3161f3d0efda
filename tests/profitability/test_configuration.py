"""Configuration services: tier bands, cost rates and CLV settings — validated, audited, recomputed on commit —
and the previews that say what a change would do before it is saved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.db.models import Sum

from crm.models import Account
from crm.models import InteractionKind as K
from profitability import configuration, tasks
from profitability.configuration import (
    ClvSpec,
    ConfigurationError,
    CostRateSpec,
    SpecError,
    TierSpec,
    tier_specs_current,
)
from profitability.models import AccountSnapshot, ClvSettings, CostRate, Tier
from profitability.services import book_recompute
from tests.factories import AccountFactory, InteractionFactory

from .conftest import NOW

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Replaces the recompute task's ``delay``: records calls instead of publishing to the broker."""
    delay = mock.Mock(name="recompute_book.delay")
    monkeypatch.setattr(tasks.recompute_book, "delay", delay)
    return delay


def tier_rows() -> list[tuple]:
    return list(Tier.objects.order_by("position").values_list(
        "pk", "name", "position", "upper_pct", "first_response_hours", "resolution_hours", "queue_priority",
        "entitlements", "color"))


def history_count() -> int:
    return Tier.history.count() + CostRate.history.count() + ClvSettings.history.count()


def specs(**changes: dict) -> list[TierSpec]:
    """The current tiers as submitted specs, with ``Name={field: value}`` changes applied."""
    return [replace(s, **changes.get(s.name, {})) for s in tier_specs_current()]


def tier(name: str) -> Tier:
    return Tier.objects.get(name=name)


@pytest.fixture
def book():
    """20 active accounts whose TTM net profit falls from 20,000 to 1,000 in steps of 1,000, placed in the
    default bands (Platinum top 5 %, Gold to 20 %, Silver to 50 %, Bronze the rest): ranks 1 | 2–4 | 5–10 | 11–20.
    Lifetime net profit runs the other way round (1,000 … 20,000); predictive CLV is unknown."""
    tiers = {t.name: t for t in Tier.objects.all()}
    accounts = []
    for i in range(1, 21):
        account = AccountFactory(name=f"Rank {i:02d} GmbH")
        name = "Platinum" if i == 1 else "Gold" if i <= 4 else "Silver" if i <= 10 else "Bronze"
        AccountSnapshot.objects.create(
            account=account, computed_at=NOW, as_of=NOW.date(), net_profit_ttm=D(21000 - 1000 * i),
            net_profit=D(1000 * i), tier=tiers[name], rank=i,
        )
        accounts.append(account)
    return accounts


# --- saving tier bands ------------------------------------------------------------------------------------


class TestTiersSaveRejects:
    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            ({"Bronze": {"upper_pct": D("90")}},
             SpecError(3, "upper_pct", "The last tier must reach 100 % so every account has a tier.")),
            ({"Gold": {"upper_pct": D("5")}},
             SpecError(1, "upper_pct", "Must be above Platinum’s 5 % — bands are cumulative from the top of the "
                                       "ranking.")),
            ({"Silver": {"upper_pct": D("15")}},
             SpecError(2, "upper_pct", "Must be above Gold’s 20 % — bands are cumulative from the top of the "
                                       "ranking.")),
            ({"Gold": {"first_response_hours": None}},
             SpecError(1, "first_response_hours", "Every tier needs a first-response target of at least 1 hour.")),
            ({"Silver": {"resolution_hours": None}},
             SpecError(2, "resolution_hours", "Every tier needs a resolution target of at least 1 hour.")),
            ({"Silver": {"first_response_hours": 0}},
             SpecError(2, "first_response_hours", "Every tier needs a first-response target of at least 1 hour.")),
            ({"Gold": {"resolution_hours": 2}},
             SpecError(1, "resolution_hours", "Resolution cannot be due before the first response.")),
            ({"Gold": {"name": "platinum"}}, SpecError(1, "name", "Another tier is already called “platinum”.")),
            ({"Gold": {"position": 1}}, SpecError(1, "position", "Position 1 is taken by another tier.")),
            ({"Silver": {"color": "red"}}, SpecError(2, "color", "Use a colour like #5b6b8c.")),
            # far longer service levels would put SLA due times past year 9999 and break the service queue
            ({"Bronze": {"resolution_hours": 10_001}}, SpecError(3, "resolution_hours", "At most 10,000 hours.")),
            ({"Bronze": {"first_response_hours": 100_000_000, "resolution_hours": 100_000_000}},
             [SpecError(3, "first_response_hours", "At most 10,000 hours."),
              SpecError(3, "resolution_hours", "At most 10,000 hours.")]),
        ],
        ids=["last-not-100", "equal-to-above", "below-above", "no-first-response", "no-resolution",
             "zero-first-response", "resolution-before-response", "duplicate-name", "duplicate-position",
             "bad-colour", "resolution-too-long", "both-too-long"],
    )
    def test_it_rejects_invalid_bands_and_changes_nothing(self, ada, enqueued, django_capture_on_commit_callbacks,
                                                          changes, expected):
        before, audit = tier_rows(), history_count()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(ConfigurationError) as raised:
                configuration.tiers_save(tiers=specs(**changes), actor=ada)
        assert raised.value.errors == (expected if isinstance(expected, list) else [expected])
        assert tier_rows() == before
        assert history_count() == audit
        assert callbacks == []
        enqueued.assert_not_called()

    def test_it_rejects_removing_the_last_band_when_the_rest_stop_short_of_100(self, ada, enqueued):
        before = tier_rows()
        remaining = [s for s in tier_specs_current() if s.name != "Bronze"]
        with pytest.raises(ConfigurationError) as raised:
            configuration.tiers_save(tiers=remaining, remove=[tier("Bronze").pk], actor=ada)
        assert raised.value.errors == [
            SpecError(2, "upper_pct", "The last tier must reach 100 % so every account has a tier.")]
        assert tier_rows() == before
        enqueued.assert_not_called()

    def test_it_refuses_to_remove_a_tier_a_loyalty_reward_or_grant_still_uses(self, ada, enqueued):
        """Rewards and the upgrades granted protect their tier: the refusal names them and writes nothing."""
        from campaigns.models import LoyaltyProgram, Reward

        program = LoyaltyProgram.objects.create(name="Partners Club", status=LoyaltyProgram.Status.ACTIVE,
                                                starts_on=date(2024, 1, 1))
        Reward.objects.create(program=program, name="Platinum for 30 days", kind=Reward.Kind.TIER_UPGRADE,
                              point_cost=500, upgrade_tier=tier("Platinum"), upgrade_days=30)
        before, audit = tier_rows(), history_count()
        remaining = [s for s in tier_specs_current() if s.name != "Platinum"]
        with pytest.raises(ConfigurationError) as raised:
            configuration.tiers_save(tiers=remaining, remove=[tier("Platinum").pk], actor=ada)
        assert raised.value.errors == [SpecError(None, None, (
            "Platinum cannot be removed: it is still used by 1 reward (“Platinum for 30 days (500 points)”). "
            "Rename it or change its band instead, or move those records to another tier first."))]
        assert tier_rows() == before
        assert history_count() == audit
        enqueued.assert_not_called()

    def test_it_rejects_no_tiers_at_all(self, ada):
        with pytest.raises(ConfigurationError) as raised:
            configuration.tiers_save(tiers=[], remove=list(Tier.objects.values_list("pk", flat=True)), actor=ada)
        assert raised.value.errors[0].field is None
        assert Tier.objects.count() == 4

    def test_it_refuses_when_a_tier_is_neither_kept_nor_removed(self, ada):
        """Another admin added a tier after this form was loaded: it must not vanish silently."""
        before = tier_rows()
        submitted = [s for s in tier_specs_current() if s.name != "Silver"]
        submitted = [replace(s, upper_pct=D("50")) if s.name == "Gold" else s for s in submitted]
        with pytest.raises(ConfigurationError, match="changed by someone else"):
            configuration.tiers_save(tiers=submitted, actor=ada)
        assert tier_rows() == before


class TestTiersSave:
    def test_it_writes_only_the_changed_tier_with_its_history_and_user(self, ada, enqueued,
                                                                       django_capture_on_commit_callbacks):
        platinum = tier("Platinum")
        with django_capture_on_commit_callbacks(execute=True):
            result = configuration.tiers_save(tiers=specs(Platinum={"upper_pct": D("10")}), actor=ada)
        assert (result.changed, result.created, result.removed) == (1, 0, 0)
        assert tier("Platinum").upper_pct == D("10.00")
        # the migration created the tiers without history: a baseline row keeps the old values, then the change
        assert list(platinum.history.order_by("history_date").values_list("history_type", "upper_pct",
                                                                          "history_user")) == [
            ("+", D("5.00"), None), ("~", D("10.00"), ada.pk)]
        record = platinum.history.latest()
        assert (record.history_type, record.history_user) == ("~", ada)
        changes = {(c.field, c.old, c.new) for c in record.diff_against(record.prev_record).changes}
        assert changes == {("upper_pct", D("5.00"), D("10.00"))}
        # unchanged tiers get no change rows (only their baseline record from the migration)
        assert Tier.history.exclude(id=platinum.pk).exclude(history_type="+").count() == 0
        enqueued.assert_called_once_with()

    def test_it_enqueues_the_recompute_only_when_the_transaction_commits(self, ada, enqueued,
                                                                        django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            configuration.tiers_save(tiers=specs(Gold={"upper_pct": D("25")}), actor=ada)
            enqueued.assert_not_called()  # not inside the transaction
        assert len(callbacks) == 1
        callbacks[0]()
        enqueued.assert_called_once_with()

    def test_a_rolled_back_save_enqueues_nothing_and_leaves_no_trace(self, ada, enqueued,
                                                                     django_capture_on_commit_callbacks):
        before, audit = tier_rows(), history_count()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                configuration.tiers_save(tiers=specs(Gold={"upper_pct": D("25")}), actor=ada)
                raise RuntimeError("the request failed after the save")
        assert callbacks == []
        enqueued.assert_not_called()
        assert (tier_rows(), history_count()) == (before, audit)

    def test_saving_unchanged_bands_writes_and_enqueues_nothing(self, ada, enqueued,
                                                               django_capture_on_commit_callbacks):
        audit = history_count()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            result = configuration.tiers_save(tiers=specs(), actor=ada)
        assert not result.anything
        assert (history_count(), callbacks) == (audit, [])
        enqueued.assert_not_called()

    def test_tiers_can_swap_names_and_positions_in_one_save(self, ada, enqueued):
        gold, silver = tier("Gold"), tier("Silver")
        changed = specs(Gold={"name": "Silver", "color": "#7d8590"}, Silver={"name": "Gold", "color": "#b8860b"})
        configuration.tiers_save(tiers=changed, actor=ada)
        gold.refresh_from_db()
        silver.refresh_from_db()
        assert (gold.name, gold.position, silver.name, silver.position) == ("Silver", 2, "Gold", 3)
        # the audit shows the real old and new names, never the temporary ones used to swap them
        record = gold.history.latest()
        assert {(c.field, c.old, c.new) for c in record.diff_against(record.prev_record).changes} == {
            ("name", "Gold", "Silver"), ("color", "#b8860b", "#7d8590")}

    def test_it_adds_and_removes_tiers(self, ada, enqueued, book):
        bronze = tier("Bronze")
        new = TierSpec(None, "Copper", 4, D("100"), 48, 120, 4, "Self-service portal\n\n  Email support  ", "#b87333")
        submitted = [*[replace(s, upper_pct=D("80")) if s.name == "Silver" else s
                       for s in tier_specs_current() if s.name != "Bronze"], new]
        result = configuration.tiers_save(tiers=submitted, remove=[bronze.pk], actor=ada)
        assert (result.changed, result.created, result.removed) == (1, 1, 1)
        assert list(Tier.objects.values_list("name", "upper_pct")) == [
            ("Platinum", D("5.00")), ("Gold", D("20.00")), ("Silver", D("80.00")), ("Copper", D("100.00"))]
        assert tier("Copper").entitlements == "Self-service portal\nEmail support"
        deleted = Tier.history.filter(id=bronze.pk).latest()
        assert (deleted.history_type, deleted.history_user) == ("-", ada)
        assert tier("Copper").history.get().history_user == ada
        # Bronze's ten accounts have no tier until the recompute ranks them again
        assert AccountSnapshot.objects.filter(tier__isnull=True).count() == 10


# --- the tier preview -------------------------------------------------------------------------------------


def outcome_table(preview) -> list[tuple]:
    return [(o.name, o.now, o.after) for o in preview.outcomes]


class TestTiersPreview:
    def test_moving_platinum_from_5_to_10_percent_moves_exactly_the_second_account(self, book):
        before = list(AccountSnapshot.objects.order_by("account_id").values_list("account_id", "tier_id"))
        preview = configuration.tiers_preview(tiers=specs(Platinum={"upper_pct": D("10")}), metric="net_profit_ttm")
        assert (preview.accounts, preview.unranked) == (20, 0)
        assert outcome_table(preview) == [("Platinum", 1, 2), ("Gold", 3, 2), ("Silver", 6, 6), ("Bronze", 10, 10)]
        assert [(o.name, o.floor) for o in preview.outcomes] == [
            ("Platinum", 19000.0), ("Gold", 17000.0), ("Silver", 11000.0), ("Bronze", 1000.0)]
        assert preview.movers_total == 1
        (mover,) = preview.movers
        assert (mover.account_id, mover.name, mover.rank, mover.metric, mover.top_share_pct) == (
            book[1].pk, "Rank 02 GmbH", 2, 19000.0, 5.0)
        assert (mover.from_name, mover.to_name, mover.up) == ("Gold", "Platinum", True)
        assert (preview.moving_up, preview.moving_down, preview.movers_more) == (1, 0, 0)
        # a preview writes nothing
        assert list(AccountSnapshot.objects.order_by("account_id").values_list("account_id", "tier_id")) == before

    def test_unchanged_bands_move_nobody(self, book):
        preview = configuration.tiers_preview(tiers=specs(), metric="net_profit_ttm")
        assert outcome_table(preview) == [("Platinum", 1, 1), ("Gold", 3, 3), ("Silver", 6, 6), ("Bronze", 10, 10)]
        assert (preview.movers_total, preview.movers) == (0, [])

    def test_removing_a_tier_moves_its_accounts_into_the_one_that_now_reaches_100(self, book):
        remaining = [replace(s, upper_pct=D("100")) if s.name == "Silver" else s
                     for s in tier_specs_current() if s.name != "Bronze"]
        preview = configuration.tiers_preview(tiers=remaining, remove=[tier("Bronze").pk], metric="net_profit_ttm")
        assert outcome_table(preview) == [("Platinum", 1, 1), ("Gold", 3, 3), ("Silver", 6, 16)]
        assert preview.removed == [("Bronze", 10)]
        assert preview.movers_total == 10
        assert [(m.rank, m.from_name, m.to_name) for m in preview.movers] == [
            (rank, "Bronze (removed)", "Silver") for rank in range(11, 21)]

    def test_a_new_metric_reranks_the_book(self, book):
        """Ranked by lifetime net profit the order reverses: every account changes tier, the bottom ten move up."""
        preview = configuration.tiers_preview(tiers=specs(), metric="net_profit", limit=3)
        assert outcome_table(preview) == [("Platinum", 1, 1), ("Gold", 3, 3), ("Silver", 6, 6), ("Bronze", 10, 10)]
        assert (preview.movers_total, preview.moving_up, preview.moving_down) == (20, 10, 10)
        assert [(m.name, m.rank, m.from_name, m.to_name) for m in preview.movers] == [
            ("Rank 20 GmbH", 1, "Bronze", "Platinum"), ("Rank 19 GmbH", 2, "Bronze", "Gold"),
            ("Rank 18 GmbH", 3, "Bronze", "Gold")]
        assert preview.movers_more == 17

    def test_predictive_clv_falls_back_to_ttm_net_profit_where_unknown(self, book):
        preview = configuration.tiers_preview(tiers=specs(), metric="clv_predictive")
        assert preview.movers_total == 0
        AccountSnapshot.objects.filter(account=book[-1]).update(clv_predictive=D("999999"))
        preview = configuration.tiers_preview(tiers=specs(), metric="clv_predictive")
        assert [(m.name, m.from_name, m.to_name) for m in preview.movers] == [
            ("Rank 20 GmbH", "Bronze", "Platinum"), ("Rank 01 GmbH", "Platinum", "Gold"),
            ("Rank 04 GmbH", "Gold", "Silver"), ("Rank 10 GmbH", "Silver", "Bronze")]

    def test_it_ranks_only_active_accounts_and_counts_those_without_figures(self, book):
        Account.objects.filter(pk=book[0].pk).update(status=Account.Status.CHURNED, churned_on=date(2025, 6, 1))
        AccountFactory(name="Brand new")
        preview = configuration.tiers_preview(tiers=specs(), metric="net_profit_ttm")
        assert (preview.accounts, preview.unranked) == (19, 1)

    def test_an_empty_book_previews_empty(self):
        preview = configuration.tiers_preview(tiers=specs(), metric="net_profit_ttm")
        assert (preview.accounts, preview.movers_total) == (0, 0)
        assert outcome_table(preview) == [("Platinum", 0, 0), ("Gold", 0, 0), ("Silver", 0, 0), ("Bronze", 0, 0)]

    def test_invalid_bands_are_not_previewed(self, book):
        with pytest.raises(ConfigurationError):
            configuration.tiers_preview(tiers=specs(Bronze={"upper_pct": D("99")}), metric="net_profit_ttm")

    def test_the_preview_takes_a_bounded_number_of_queries(self, book, django_assert_max_num_queries):
        with django_assert_max_num_queries(5):
            configuration.tiers_preview(tiers=specs(Platinum={"upper_pct": D("10")}), metric="net_profit_ttm")


# --- cost rates -------------------------------------------------------------------------------------------


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


@pytest.fixture
def calls():
    """Support calls around NOW (1 Jan 2026; the trailing 12 months start 1 Jan 2025): one before the window,
    three phone calls in June 2025, two phone calls in August and two emails in September."""
    account = AccountFactory()
    for day, channel in [("2024-06-15", "phone"), *[("2025-06-15", "phone")] * 3, *[("2025-08-01", "phone")] * 2,
                         *[("2025-09-01", "email")] * 2]:
        InteractionFactory(account=account, kind=K.SUPPORT_CALL, channel=channel, occurred_at=at(day),
                           amount=D(0), direct_cost=D(0))
    return account


def rate_spec(**overrides) -> CostRateSpec:
    base = {"activity": "Support calls", "kind": "support_call", "channel": "", "per_unit": False,
            "rate": D("21.00"), "effective_from": date(2026, 2, 1)}
    return CostRateSpec(**{**base, **overrides})


class TestCostRatePreview:
    def test_a_future_channel_rate_changes_a_year_by_count_times_rate_delta(self, calls):
        preview = configuration.cost_rate_preview(spec=rate_spec(channel="phone", rate=D("20")), now=NOW)
        assert [(c.channel, c.interactions, c.current.rate, c.delta) for c in preview.channels] == [
            ("phone", 5, D("18.00"), D("10.00"))]  # 5 phone calls × (20 − 18)
        assert preview.annual_delta == D("10.00")
        assert (preview.restated_interactions, preview.restated_delta) == (0, D("0"))

    def test_a_backdated_every_channel_rate_restates_the_interactions_since_its_date(self, calls):
        preview = configuration.cost_rate_preview(spec=rate_spec(effective_from=date(2025, 7, 1)), now=NOW)
        assert preview.interactions == 7  # every channel, trailing 12 months
        assert preview.annual_delta == D("21.00")  # 7 × (21 − 18)
        assert (preview.restated_interactions, preview.restated_delta) == (4, D("12.00"))  # Aug + Sep: 4 × 3

    @pytest.mark.django_db(transaction=True)  # two book recomputes: each commits its own work
    def test_the_restatement_is_what_the_recompute_then_changes(self, calls):
        book_recompute(now=NOW)
        before = AccountSnapshot.objects.aggregate(total=Sum("cost_to_serve_ttm"))["total"]
        spec = rate_spec(effective_from=date(2025, 7, 1))
        preview = configuration.cost_rate_preview(spec=spec, now=NOW)
        configuration.cost_rate_create(spec=spec, actor=None)
        book_recompute(now=NOW)
        after = AccountSnapshot.objects.aggregate(total=Sum("cost_to_serve_ttm"))["total"]
        assert after - before == preview.restated_delta == D("12.00")
        assert preview.book_cost_to_serve_ttm == before == D("126.00")  # 7 calls × 18

    def test_an_every_channel_rate_does_not_apply_where_a_channel_has_its_own(self, calls):
        CostRate.objects.create(activity="Support calls", kind="support_call", channel="phone", rate=D("25"),
                                effective_from=date(2000, 1, 1))
        preview = configuration.cost_rate_preview(spec=rate_spec(), now=NOW)
        assert "phone" not in [c.channel for c in preview.channels]
        assert [(c.channel, c.interactions, c.delta) for c in preview.channels if c.interactions] == [
            ("email", 2, D("6.00"))]
        assert preview.annual_delta == D("6.00")

    def test_a_new_per_unit_activity_costs_units_times_rate(self):
        account = AccountFactory()
        for quantity, day in [(10, "2025-03-01"), (20, "2025-11-01"), (None, "2025-12-01"), (50, "2024-12-01")]:
            InteractionFactory(account=account, kind=K.ORDER, channel="web", quantity=quantity, occurred_at=at(day))
        spec = CostRateSpec("Packaging", "order", "", True, D("0.50"), date(2025, 1, 1))
        preview = configuration.cost_rate_preview(spec=spec, now=NOW)
        (web,) = [c for c in preview.channels if c.interactions]
        assert (web.channel, web.interactions, web.units, web.current, web.delta) == ("web", 3, 30, None, D("15.00"))
        assert (preview.restated_interactions, preview.restated_delta) == (3, D("15.00"))

    def test_the_preview_is_one_aggregate_query_over_interactions(self, calls, django_assert_num_queries):
        with django_assert_num_queries(3):  # the activity's rates, the interaction aggregate, the book total
            configuration.cost_rate_preview(spec=rate_spec(effective_from=date(2025, 7, 1)), now=NOW)


class TestCostRateWrites:
    def test_a_new_rate_is_added_audited_and_recomputed_on_commit(self, ada, enqueued,
                                                                django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            rate = configuration.cost_rate_create(spec=rate_spec(activity="  Packaging "), actor=ada)
        assert (rate.activity, rate.rate, rate.effective_from) == ("Packaging", D("21.00"), date(2026, 2, 1))
        assert rate.history.get().history_user == ada
        enqueued.assert_called_once_with()

    def test_a_second_rate_on_the_same_day_is_rejected(self, ada, enqueued):
        count = CostRate.objects.count()
        with pytest.raises(ConfigurationError) as raised:
            configuration.cost_rate_create(spec=rate_spec(effective_from=date(2000, 1, 1)), actor=ada)
        assert [e.field for e in raised.value.errors] == ["effective_from"]
        assert CostRate.objects.count() == count
        enqueued.assert_not_called()

    @pytest.mark.parametrize("starts", [date(2025, 12, 31), date(2026, 1, 1)], ids=["past", "today"])
    def test_a_rate_in_effect_cannot_be_deleted(self, ada, enqueued, starts):
        rate = CostRate.objects.create(activity="Visits", kind="visit", rate=D("300"), effective_from=starts)
        with pytest.raises(ConfigurationError, match="Only rates that start in the future"):
            configuration.cost_rate_delete(rate_id=rate.pk, actor=ada, today=date(2026, 1, 1))
        assert CostRate.objects.filter(pk=rate.pk).exists()
        enqueued.assert_not_called()

    def test_a_scheduled_rate_can_be_deleted_and_the_deletion_is_audited(self, ada, enqueued,
                                                                        django_capture_on_commit_callbacks):
        rate = CostRate.objects.create(activity="Visits", kind="visit", rate=D("300"), effective_from=date(2026, 1, 2))
        with django_capture_on_commit_callbacks(execute=True):
            configuration.cost_rate_delete(rate_id=rate.pk, actor=ada, today=date(2026, 1, 1))
        assert not CostRate.objects.filter(pk=rate.pk).exists()
        record = CostRate.history.filter(id=rate.pk).latest()
        assert (record.history_type, record.history_user) == ("-", ada)
        enqueued.assert_called_once_with()


# --- CLV settings -----------------------------------------------------------------------------------------


class TestClvSettings:
    def test_saving_audits_the_change_and_recomputes_on_commit(self, ada, enqueued,
                                                             django_capture_on_commit_callbacks):
        spec = ClvSpec(D("0.0850"), 24, "net_profit", D("0.8000"))
        with django_capture_on_commit_callbacks(execute=True):
            assert configuration.clv_settings_save(spec=spec, actor=ada) is True
        settings = ClvSettings.current()
        assert (settings.discount_rate, settings.horizon_months, settings.ranking_metric,
                settings.retention_override) == (D("0.0850"), 24, "net_profit", D("0.8000"))
        record = settings.history.latest()
        assert record.history_user == ada
        assert {c.field for c in record.diff_against(record.prev_record).changes} == {
            "discount_rate", "horizon_months", "ranking_metric", "retention_override"}
        enqueued.assert_called_once_with()

    def test_saving_the_same_settings_writes_nothing(self, ada, enqueued, django_capture_on_commit_callbacks):
        current = ClvSettings.current()
        audit = current.history.count()
        spec = ClvSpec(current.discount_rate, current.horizon_months, current.ranking_metric, None)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert configuration.clv_settings_save(spec=spec, actor=ada) is False
        assert (current.history.count(), callbacks) == (audit, [])
        enqueued.assert_not_called()

    def test_out_of_range_settings_are_rejected_and_nothing_changes(self, ada, enqueued):
        with pytest.raises(ConfigurationError) as raised:
            configuration.clv_settings_save(spec=ClvSpec(D("0.1"), 500, "net_profit", None), actor=ada)
        assert [e.field for e in raised.value.errors] == ["horizon_months"]
        assert ClvSettings.current().horizon_months == 36
        enqueued.assert_not_called()

    def test_refit_enqueues_the_fit_then_the_recompute_on_commit(self, django_capture_on_commit_callbacks,
                                                                 monkeypatch):
        chain = mock.Mock(name="chain")
        monkeypatch.setattr("celery.chain", chain)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            configuration.clv_refit_request()
        chain.assert_not_called()
        callbacks[0]()
        (fit, recompute), _ = chain.call_args
        assert (fit.task, recompute.task) == ("profitability.tasks.fit_clv_models",
                                              "profitability.tasks.recompute_book")
        chain.return_value.delay.assert_called_once_with()


# --- at the scale of a real book ----------------------------------------------------------------------------


def test_the_preview_stays_fast_at_100000_accounts(django_assert_max_num_queries):
    """One query brings every active account's figure; ranking and comparing are vectorised."""
    import time

    from django.db import connection

    platinum, gold, silver, bronze = Tier.objects.order_by("position").values_list("pk", flat=True)
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH new AS (
                INSERT INTO crm_account (name, industry, country, region, employee_band, segment, status,
                                         relationship, web_domain, tax_id, phone, history_version, created_at,
                                         updated_at)
                SELECT 'Account ' || g, '', '', '', '', '', 'active', 'repeat', '', '', '', 0, now(), now()
                FROM generate_series(1, 100000) g
                RETURNING id
            ), ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS r FROM new)
            INSERT INTO profitability_accountsnapshot (
                account_id, computed_version, computed_at, as_of, revenue, returns, cogs, gross_margin,
                cost_to_serve, net_profit, orders, revenue_ttm, returns_ttm, cogs_ttm, gross_margin_ttm,
                cost_to_serve_ttm, net_profit_ttm, orders_ttm, cost_breakdown, cost_breakdown_ttm, clv_historical,
                clv_model, explanation, tier_id)
            SELECT id, 0, now(), current_date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100000 - r, 0, '{}', '{}', 0, '',
                   '[]', CASE WHEN r <= 5000 THEN %s WHEN r <= 20000 THEN %s WHEN r <= 50000 THEN %s ELSE %s END
            FROM ranked
        """, [platinum, gold, silver, bronze])
        cursor.execute("ANALYZE profitability_accountsnapshot")
        cursor.execute("ANALYZE crm_account")
    started = time.perf_counter()
    with django_assert_max_num_queries(5):
        preview = configuration.tiers_preview(tiers=specs(Platinum={"upper_pct": D("10")}), metric="net_profit_ttm")
    seconds = time.perf_counter() - started
    assert outcome_table(preview) == [("Platinum", 5000, 10000), ("Gold", 15000, 10000), ("Silver", 30000, 30000),
                                      ("Bronze", 50000, 50000)]
    assert (preview.movers_total, len(preview.movers), preview.movers_more) == (5000, 50, 4950)
    assert [m.rank for m in preview.movers[:3]] == [5001, 5002, 5003]
    assert seconds < 3.0, f"the preview took {seconds:.2f} s at 100,000 accounts"
