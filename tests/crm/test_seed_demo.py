"""``manage.py seed_demo`` builds a reproducible book with the shapes that matter, and ``crm.bulk`` loads it."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection
from django.db.models import Avg, Count, F, Max, Min, Q, Sum
from django.test import override_settings

from crm.bulk import copy_rows, foreign_keys_checked_at_end, indexes_built_at_end, reserve_ids
from crm.management.commands import seed_demo
from crm.management.commands.seed_demo import book_reset
from crm.models import (
    Account,
    AccountSourceId,
    Channel,
    Contact,
    Interaction,
    InteractionKind,
    Lead,
    MarketingSpend,
    Product,
    ServiceCase,
    Severity,
    SurveyResponse,
)
from crm.roles import Role

AS_OF = date(2026, 6, 30)
PATRICIA = "Patricia Bulk Supplies Ltd"
PATRICK = "Patrick Small Parts & Co"
# Cost-to-serve rates (€): order handling + shipping, return, support call, support e-mail, visit.
RATES = {"order": Decimal(25 + 12), "return": Decimal(35), "support_call": Decimal(18), "support_email": Decimal(8)}
RATES["visit"] = Decimal(250)


def seed(*extra: str, accounts: int = 120, seed: int = 7) -> str:
    out = StringIO()
    call_command("seed_demo", "--accounts", str(accounts), "--seed", str(seed), "--as-of", AS_OF.isoformat(), *extra,
                 stdout=out)  # fmt: skip
    return out.getvalue()


FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEMO_USERNAMES = ["admin", "manager", "manager2", "manager3", "manager4", "service"]


@pytest.fixture(autouse=True)
def _fast_hasher(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = FAST_HASHER


@pytest.fixture(scope="class")
def _committed_book(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """One book for a whole test class, committed so every test's transaction sees it; removed afterwards."""
    with django_db_blocker.unblock():
        # A fixture book has no listeners to tell, and the profitability engine and the campaigns part must
        # not run here: their rows would outlive book_reset (tests/campaigns/test_demo_seed.py covers them).
        with (override_settings(PASSWORD_HASHERS=FAST_HASHER), mock.patch.object(seed_demo, "history_changed"),
              mock.patch.object(seed_demo, "case_opened"), mock.patch.object(seed_demo, "seed_after_ranking")):
            seed()
        yield
        book_reset()
        get_user_model().objects.filter(username__in=DEMO_USERNAMES).delete()


@pytest.fixture
def book(_committed_book, db):  # type: ignore[no-untyped-def]
    """A small demo book: 120 accounts, seed 7, as of 2026-06-30. Changes made by a test are rolled back."""


def net_profit(account: Account) -> Decimal:
    """Revenue − returns − net COGS − Σ count × rate, with plain ORM aggregates."""
    totals = Interaction.objects.filter(account=account).aggregate(
        revenue=Sum("amount", filter=Q(kind="order"), default=0),
        refunds=Sum("amount", filter=Q(kind="return"), default=0),
        cogs=Sum("direct_cost", filter=Q(kind="order"), default=0),
        restocked=Sum("direct_cost", filter=Q(kind="return"), default=0),
        **{kind: Count("id", filter=Q(kind=kind)) for kind in RATES},
    )
    cost_to_serve = sum(totals[kind] * rate for kind, rate in RATES.items())
    return totals["revenue"] - totals["refunds"] - (totals["cogs"] - totals["restocked"]) - cost_to_serve


def book_fingerprint() -> dict:
    per_kind = Interaction.objects.values("kind").annotate(n=Count("id"), amount=Sum("amount"), cost=Sum("direct_cost"))
    return {
        # In creation order; the ids themselves depend on the sequences, not on the seed.
        "names": list(Account.objects.order_by("id").values_list("name", "acquired_on", "status", "churned_on")),
        "interactions": sorted((r["kind"], r["n"], r["amount"], r["cost"]) for r in per_kind),
        "last": Interaction.objects.aggregate(Max("occurred_at"))["occurred_at__max"],
        "cases": list(ServiceCase.objects.order_by("external_id").values_list("external_id", "status", "opened_at")),
        "surveys": SurveyResponse.objects.aggregate(n=Count("id"), total=Sum("score")),
        "leads": list(Lead.objects.values_list("stage").annotate(Count("id"), Sum("expected_value")).order_by("stage")),
        "spend": MarketingSpend.objects.aggregate(n=Count("id"), total=Sum("amount")),
        "contacts": list(Contact.objects.order_by("id").values_list("name", "email")),
    }


# --- The book ----------------------------------------------------------------------------------------


class TestTheDemoBook:
    """A 120-account book (seed 7, as of 2026-06-30), shared by the class; each test's changes roll back."""

    def test_it_reproduces_the_same_book_for_the_same_seed_and_date(self, book):
        first = book_fingerprint()

        seed("--reset")

        assert book_fingerprint() == first
        assert Account.objects.count() == 120

    def test_it_builds_another_book_for_another_seed(self, book):
        first = book_fingerprint()

        seed("--reset", seed=8)

        assert book_fingerprint()["names"] != first["names"]

    def test_it_refuses_to_seed_over_a_book_without_reset(self, book):
        with pytest.raises(CommandError, match="--reset"):
            seed()
        assert Account.objects.count() == 120

    def test_it_skips_quietly_with_if_empty_when_a_book_exists(self, book):
        interactions = Interaction.objects.count()

        out = seed("--if-empty", accounts=500)

        assert "book already seeded, skipping" in out
        assert (Account.objects.count(), Interaction.objects.count()) == (120, interactions)

    def test_it_makes_patrick_a_loyal_loss_maker_and_patricia_profitable(self, book):
        patricia = Account.objects.get(name=PATRICIA)
        patrick = Account.objects.get(name=PATRICK)

        assert net_profit(patrick) < 0 < net_profit(patricia)
        assert net_profit(patricia) > net_profit(patrick)
        # Loyal: a customer for almost three years and still ordering.
        for account in (patricia, patrick):
            assert account.status == Account.Status.ACTIVE
            assert account.acquired_on <= AS_OF - timedelta(days=3 * 365 - 30)
        assert patrick.interactions.filter(kind="order", occurred_at__date__gte=AS_OF - timedelta(days=90)).count() >= 2

    def test_it_has_patrick_return_more_than_half_of_what_he_orders(self, book):
        totals = Account.objects.get(name=PATRICK).interactions.aggregate(
            ordered=Sum("amount", filter=Q(kind="order")), returned=Sum("amount", filter=Q(kind="return"))
        )

        assert totals["returned"] > totals["ordered"] / 2

    def test_it_has_patrick_order_tiny_lots_and_call_constantly_unlike_patricia(self, book):
        def habits(name: str) -> dict:
            return Account.objects.get(name=name).interactions.aggregate(
                orders=Count("id", filter=Q(kind="order")),
                average_order=Avg("amount", filter=Q(kind="order")),
                calls=Count("id", filter=Q(kind="support_call")),
            )

        patricia, patrick = habits(PATRICIA), habits(PATRICK)

        assert patricia["average_order"] > 20 * patrick["average_order"]
        assert patrick["orders"] > 2 * patricia["orders"]
        assert patrick["calls"] > patrick["orders"] / 2 > 10 > patricia["calls"]

    def test_it_puts_the_catnip_pair_in_todays_service_queue(self, book):
        queue = ServiceCase.objects.exclude(status=ServiceCase.Status.RESOLVED)

        assert set(queue.filter(opened_at__date__gte=AS_OF - timedelta(days=10)).values_list(
            "account__name", flat=True
        )) >= {PATRICIA, PATRICK}  # fmt: skip
        assert queue.values("account").distinct().count() < 20

    def test_it_gives_the_catnip_pair_and_a_spread_of_accounts_to_the_managers(self, book):
        owners = dict(Account.objects.filter(name__in=[PATRICIA, PATRICK]).values_list("name", "owner__username"))

        assert owners == {PATRICIA: "manager", PATRICK: "manager"}
        per_manager = dict(Account.objects.values_list("owner__username").annotate(Count("id")))
        assert set(per_manager) == {"manager", "manager2", "manager3", "manager4"}
        assert min(per_manager.values()) >= 10

    def test_it_records_every_kind_of_interaction(self, book):
        assert set(Interaction.objects.values_list("kind", flat=True).distinct()) == set(InteractionKind.values)
        assert not Interaction.objects.filter(occurred_at__date__gte=AS_OF).exists()
        assert Interaction.objects.aggregate(Min("occurred_at"))["occurred_at__min"].date() >= AS_OF - timedelta(
            days=3 * 365
        )

    def test_it_prices_orders_and_returns_from_the_catalogue(self, book):
        orders = Interaction.objects.filter(kind__in=["order", "return"])

        assert not orders.filter(Q(product=None) | Q(quantity=None) | Q(quantity=0)).exists()
        # Amount ≈ quantity × list price less at most 15 % volume and 14 % negotiated (34 % for key accounts).
        assert not orders.filter(amount__gt=F("quantity") * F("product__list_price") + Decimal("0.01")).exists()
        assert not orders.filter(amount__lt=F("quantity") * F("product__list_price") * Decimal("0.5")).exists()
        assert not orders.exclude(direct_cost=F("quantity") * F("product__unit_cost")).exists()
        families = Product.objects.values("family").annotate(n=Count("id"), top=Max("tier_in_family"))
        assert {f["family"]: (f["n"], f["top"]) for f in families} == {
            "Fasteners": (4, 4), "Adhesives": (3, 3), "Safety gear": (4, 4), "Tools": (4, 4), "Packaging": (3, 3),
        }  # fmt: skip

    def test_it_follows_orders_with_payments_mostly_on_time(self, book):
        payments = Interaction.objects.filter(kind="payment")

        assert not payments.filter(due_on=None).exists()
        late = payments.filter(occurred_at__date__gt=F("due_on")).count()
        assert 0 < late < payments.count() / 3

    def test_it_stops_churned_accounts_interactions_before_they_churn(self, book):
        churned = Account.objects.filter(status=Account.Status.CHURNED)

        assert churned.count() >= 10
        assert not churned.filter(churned_on=None).exists()
        assert not Account.objects.exclude(status=Account.Status.CHURNED).exclude(churned_on=None).exists()
        assert not Interaction.objects.filter(
            account__in=churned, occurred_at__date__gte=F("account__churned_on")
        ).exists()

    def test_it_renews_contractual_accounts_with_revenue(self, book):
        contracts = Account.objects.filter(relationship=Account.Relationship.CONTRACTUAL)
        renewals = Interaction.objects.filter(kind="renewal")

        assert contracts.count() >= 10
        assert set(renewals.values_list("account__relationship", flat=True).distinct()) == {"contractual"}
        assert (
            contracts.annotate(n=Count("interactions", filter=Q(interactions__kind="renewal")))
            .filter(n__gte=12)
            .exists()
        )
        assert not renewals.filter(amount__lte=0).exists()

    def test_it_has_prospects_without_acquisition(self, book):
        prospects = Account.objects.filter(status=Account.Status.PROSPECT)

        assert prospects.count() >= 3
        assert not prospects.exclude(acquired_on=None).exists()
        assert not Interaction.objects.filter(account__in=prospects, kind__in=["order", "payment", "renewal"]).exists()

    def test_it_opens_cases_of_every_severity_and_status_with_consistent_times(self, book):
        cases = ServiceCase.objects.all()

        assert set(cases.values_list("severity", flat=True).distinct()) == set(Severity.values)
        assert set(cases.values_list("status", flat=True).distinct()) == set(ServiceCase.Status.values)
        assert not cases.filter(status="open").exclude(first_response_at=None, resolved_at=None).exists()
        assert (
            not cases.filter(status__in=["in_progress", "waiting"])
            .filter(Q(first_response_at=None) | ~Q(resolved_at=None))
            .exists()
        )
        resolved = cases.filter(status="resolved")
        assert not resolved.filter(Q(first_response_at=None) | Q(resolved_at__lt=F("first_response_at"))).exists()
        # Each case is also a complaint interaction carrying the helpdesk id.
        complaints = Interaction.objects.filter(kind="complaint")
        assert complaints.count() == cases.count()
        assert set(complaints.values_list("source_system", "external_id")) == set(
            cases.values_list("source_system", "external_id")
        )

    def test_it_scores_every_case_text_so_urgency_varies_within_a_severity(self, book):
        cases = ServiceCase.objects.all()

        assert not cases.filter(Q(urgency=None) | Q(sentiment=None) | Q(urgency_reasons=None)).exists()
        spread = cases.values("severity").annotate(low=Min("urgency"), high=Max("urgency"))
        assert all(s["high"] - s["low"] > 0.15 for s in spread), list(spread)

    def test_it_collects_nps_answers_lower_from_owner_operators(self, book):
        scores = SurveyResponse.objects.all()

        assert scores.filter(score__gte=9).exists() and scores.filter(score__in=[7, 8]).exists()
        assert scores.filter(score__lte=6).exists()
        assert not scores.filter(Q(score__lt=0) | Q(score__gt=10)).exists()
        assert Interaction.objects.filter(kind="survey").count() == scores.count()
        by_segment = dict(scores.values_list("account__segment").annotate(Avg("score")))
        assert by_segment["Owner-operator"] < by_segment["Distributor"]

    def test_it_moves_leads_through_every_stage_with_consistent_dates(self, book):
        leads = Lead.objects.all()

        assert set(leads.values_list("stage", flat=True).distinct()) == set(Lead.Stage.values)
        assert not leads.filter(stage="sql", sql_at=None).exists()
        assert not leads.filter(stage__in=["won", "lost"], closed_at=None).exists()
        assert not leads.filter(stage__in=["mql", "sql"]).exclude(closed_at=None).exists()
        assert not leads.filter(
            Q(sql_at__lt=F("mql_at")) | Q(closed_at__lt=F("sql_at")) | Q(closed_at__lt=F("mql_at"))
        ).exists()
        won = leads.filter(stage="won")
        assert won.count() == Account.objects.exclude(acquired_on=None).count()
        assert not won.exclude(channel=F("account__acquisition_channel")).exists()
        assert not won.exclude(closed_at__date=F("account__acquired_on")).exists()
        assert not leads.exclude(stage="won").exclude(account=None).exists()
        assert not leads.exclude(stage="won").filter(company_name__in=Account.objects.values("name")).exists()

    def test_it_spends_on_every_channel_every_month_at_different_cac(self, book):
        months = 36  # July 2023 … June 2026
        spend = MarketingSpend.objects.values("channel__name").annotate(n=Count("id"), total=Sum("amount"))

        assert {s["channel__name"]: s["n"] for s in spend} == {
            name: months for name in ["Trade show", "Paid search", "Referral", "Partner", "Outbound", "Content/SEO"]
        }
        acquired = dict(
            Channel.objects.annotate(n=Count("accounts", filter=~Q(accounts__acquired_on=None))).values_list(
                "name", "n"
            )
        )
        cac = {s["channel__name"]: s["total"] / acquired[s["channel__name"]] for s in spend}
        assert cac["Referral"] < cac["Paid search"] < cac["Trade show"]

    def test_it_describes_accounts_fully(self, book):
        accounts = Account.objects.all()

        assert accounts.values("name").distinct().count() == 120
        assert accounts.values("web_domain").distinct().count() == 120
        assert accounts.values("industry").distinct().count() == 8
        assert accounts.values("region").distinct().count() >= 6
        assert accounts.values("segment").distinct().count() == 4
        for field in ("industry", "country", "region", "employee_band", "segment", "web_domain", "tax_id", "phone"):
            assert not accounts.filter(**{field: ""}).exists(), field
        assert not accounts.filter(Q(owner=None) | Q(acquisition_channel=None)).exists()
        contacts = dict(accounts.annotate(n=Count("contacts")).values_list("name", "n"))
        assert set(contacts.values()) == {1, 2, 3}
        assert AccountSourceId.objects.filter(source_system="erp").count() == 120
        assert not Contact.objects.exclude(email__endswith=".example").exists()

    def test_it_creates_demo_users_in_their_roles_with_the_known_password(self, book):
        expected = {
            "admin": Role.ADMIN, "manager": Role.ACCOUNT_MANAGER, "manager2": Role.ACCOUNT_MANAGER,
            "manager3": Role.ACCOUNT_MANAGER, "manager4": Role.ACCOUNT_MANAGER, "service": Role.SERVICE,
        }  # fmt: skip
        for username, role in expected.items():
            user = authenticate(username=username, password="tierwise-demo")
            assert user is not None, username
            assert list(user.groups.values_list("name", flat=True)) == [role.value]
            assert (user.is_staff, user.is_superuser) == ((True, True) if username == "admin" else (False, False))

    def test_it_resets_a_tampered_demo_user(self, book):
        manager = get_user_model().objects.get(username="manager")
        manager.set_password("something-else")
        manager.is_superuser = True
        manager.save()
        manager.groups.clear()

        seed("--reset")

        manager.refresh_from_db()
        assert manager.check_password("tierwise-demo") and not manager.is_superuser
        assert list(manager.groups.values_list("name", flat=True)) == [Role.ACCOUNT_MANAGER.value]


# --- The command on an empty CRM, and crm.bulk ---------------------------------------------------------


def test_it_seeds_an_empty_crm_with_if_empty(db):
    seed("--if-empty", accounts=30)

    assert Account.objects.count() == 30


def test_it_rejects_a_bad_date_and_too_few_accounts(db):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("seed_demo", "--as-of", "30/06/2026", stdout=StringIO())
    with pytest.raises(CommandError, match="at least 2"):
        call_command("seed_demo", "--accounts", "1", stdout=StringIO())
    assert not Account.objects.exists()


def test_it_tells_listeners_once_after_commit_about_every_account_and_open_case(db, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(seed_demo, "history_changed") as history,
        mock.patch.object(seed_demo, "case_opened") as cases,
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            seed(accounts=40)
        history.send.assert_not_called()

        for callback in callbacks:
            callback()

    history.send.assert_called_once_with(
        sender=Account, account_ids=list(Account.objects.order_by("id").values_list("id", flat=True))
    )
    waiting = ServiceCase.objects.exclude(status="resolved").order_by("account_id").values_list("account_id", flat=True)
    cases.send.assert_called_once_with(sender=ServiceCase, account_ids=list(waiting.distinct()))
    assert set(Account.objects.values_list("history_version", flat=True)) == {1}


def test_it_writes_case_texts_from_calm_to_furious():
    scores = {(subject, body.split()[0]): score for _, subject, body, score in seed_demo.case_texts()}

    calm = scores[("Invoice address outdated", "Small")]
    furious = scores[("Production stop: missing parts", "PRODUCTION")]
    assert calm.urgency < 0.1 < 0.9 < furious.urgency
    assert calm.sentiment > -0.2 > -0.8 > furious.sentiment
    assert "3 exclamation marks" in furious.reasons and "severity critical" in furious.reasons


def _foreign_keys(table: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return set(cursor.fetchall())


def test_copy_rows_streams_lazily_and_fills_in_defaults(db):
    channel = Channel.objects.create(name="Trade show")
    account = Account.objects.create(name="Acme GmbH", acquisition_channel=channel)
    pulled = []

    def rows():  # type: ignore[no-untyped-def]
        for i in range(3):
            pulled.append(i)
            yield (account.pk, "inquiry", f"2025-03-0{i + 1}T10:00:00Z", f"ext-{i}")

    written = copy_rows(Interaction, ["account", "kind", "occurred_at", "external_id"], rows())

    assert (written, pulled) == (3, [0, 1, 2])
    stored = Interaction.objects.order_by("external_id")
    assert [(i.amount, i.channel, i.source_system, i.note, i.product_id) for i in stored] == [
        (Decimal("0.00"), "other", "tierwise", "", None)
    ] * 3
    assert stored[0].created_at is not None and stored[0].created_at == stored[0].updated_at
    # COPY bypassed the signals: the account's history was not touched (callers do that themselves).
    account.refresh_from_db()
    assert account.history_version == 0


def test_copy_rows_stores_json_fields_from_python_values(db):
    account = Account.objects.create(name="Acme GmbH")

    copy_rows(
        ServiceCase,
        ["account", "subject", "opened_at", "urgency_reasons", "external_id"],
        [
            (account.pk, "Late delivery", "2025-03-01T10:00:00Z", ["says “late”", 'a "quoted" \\ word'], "c-1"),
            (account.pk, "Portal login slow", "2025-03-02T10:00:00Z", None, "c-2"),
        ],
    )

    stored = dict(ServiceCase.objects.values_list("external_id", "urgency_reasons"))
    assert stored == {"c-1": ["says “late”", 'a "quoted" \\ word'], "c-2": None}


def test_copy_rows_refuses_rows_of_the_wrong_width(db):
    with pytest.raises(ValueError, match="2 values for 1 fields"):
        copy_rows(Channel, ["name"], [("Referral", "extra")])


def test_reserve_ids_hands_out_fresh_ascending_ids(db):
    ids = reserve_ids(Channel, 3)
    copy_rows(Channel, ["id", "name"], [(ids[0], "Partner")])

    assert ids == sorted(ids) and len(set(ids)) == 3
    assert Channel.objects.create(name="Outbound").pk > ids[-1]


def test_foreign_keys_checked_at_end_restores_them_and_rejects_bad_references(db):
    before = _foreign_keys("crm_interaction")
    assert len(before) == 3

    with pytest.raises(IntegrityError):
        with foreign_keys_checked_at_end(Interaction):
            assert _foreign_keys("crm_interaction") == set()
            copy_rows(Interaction, ["account_id", "kind", "occurred_at", "external_id"],
                      [(987_654, "visit", "2025-01-01T09:00:00Z", "orphan")])  # fmt: skip

    assert _foreign_keys("crm_interaction") == before
    assert not Interaction.objects.exists()


def _indexes(table: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return set(cursor.fetchall())


def test_indexes_built_at_end_restores_them_and_rejects_duplicates(db):
    account = Account.objects.create(name="Acme GmbH")
    before = _indexes("crm_interaction")
    assert len(before) == 6  # pkey, (account, occurred_at), (kind, occurred_at), product, logged_by, source id

    with indexes_built_at_end(Interaction):
        assert {name for name, _ in _indexes("crm_interaction")} == {"crm_interaction_pkey"}
        copy_rows(Interaction, ["account_id", "kind", "occurred_at", "external_id"],
                  [(account.pk, "visit", "2025-01-01T09:00:00Z", "v-1")])  # fmt: skip

    assert _indexes("crm_interaction") == before
    with pytest.raises(IntegrityError):
        with indexes_built_at_end(Interaction):
            copy_rows(Interaction, ["account_id", "kind", "occurred_at", "external_id"],
                      [(account.pk, "visit", "2025-01-02T09:00:00Z", "v-1")])  # fmt: skip
    assert _indexes("crm_interaction") == before
    assert Interaction.objects.count() == 1
