"""Writes go through the services the pages use, so their side effects hold: history bumps and recomputes,
survey interactions, case scoring and SLA, audited configuration, loyalty balances never below zero."""

from __future__ import annotations

from decimal import Decimal

from campaigns.models import LedgerEntry, LoyaltyProgram
from crm.models import Account, Interaction, ServiceCase
from profitability.models import Tier


def test_logging_an_interaction_bumps_the_history_and_defaults_the_cost_of_goods(book, api, alice):  # type: ignore[no-untyped-def]
    before = Account.objects.get(pk=book.own.account.pk).history_version

    response = api(alice).post("/api/v1/interactions/", {
        "account": book.own.account.pk, "kind": "order", "channel": "web", "occurred_at": "2025-05-01T10:00:00Z",
        "amount": "300.00", "product": book.product.pk, "quantity": 3, "due_on": "2025-05-31"})

    body = response.json()
    assert response.status_code == 201
    assert (body["amount"], body["direct_cost"], body["due_on"], body["logged_by"]) == (
        "300.00", "180.00", "2025-05-31", alice.pk)
    assert Account.objects.get(pk=book.own.account.pk).history_version == before + 1


def test_it_applies_the_pages_interaction_rules(book, api, alice):  # type: ignore[no-untyped-def]
    response = api(alice).post("/api/v1/interactions/", {
        "account": book.own.account.pk, "kind": "order", "occurred_at": "2025-05-01T10:00:00Z"})
    survey = api(alice).post("/api/v1/interactions/", {
        "account": book.own.account.pk, "kind": "survey", "occurred_at": "2025-05-01T10:00:00Z"})
    future = api(alice).post("/api/v1/interactions/", {
        "account": book.own.account.pk, "kind": "visit", "occurred_at": "2999-01-01T00:00:00Z"})

    assert response.status_code == 400
    assert response.json() == {"amount": ["Enter the amount of the order."],
                               "product": ["Choose the product of the order."],
                               "quantity": ["Enter the quantity of the order."]}
    assert "/api/v1/survey-answers/" in survey.json()["kind"][0]
    assert future.json() == {"occurred_at": ["The date and time can't be more than a day in the future."]}


def test_deleting_an_interaction_bumps_the_history(book, api, alice):  # type: ignore[no-untyped-def]
    before = Account.objects.get(pk=book.own.account.pk).history_version

    assert api(alice).delete(f"/api/v1/interactions/{book.own.interaction.pk}/").status_code == 204
    assert Account.objects.get(pk=book.own.account.pk).history_version == before + 1


def test_a_survey_answer_records_its_survey_interaction(book, api, alice):  # type: ignore[no-untyped-def]
    response = api(alice).post("/api/v1/survey-answers/", {
        "account": book.own.account.pk, "contact": book.own.contact.pk, "score": 3, "comment": "Slow delivery",
        "answered_at": "2025-05-02T08:00:00Z", "channel": "email"})

    body = response.json()
    interaction = Interaction.objects.get(pk=body["interaction"])
    assert response.status_code == 201
    assert (interaction.kind, interaction.channel, interaction.external_id) == ("survey", "email",
                                                                               body["external_id"])
    listed = api(alice).get("/api/v1/survey-answers/", {"account": book.own.account.pk}).json()["results"]
    assert {a["id"]: a["interaction"] for a in listed}[body["id"]] == interaction.pk


def test_opening_a_case_scores_it_and_logs_the_complaint(book, api, sam):  # type: ignore[no-untyped-def]
    response = api(sam).post("/api/v1/cases/", {
        "account": book.other.account.pk, "subject": "Production line down: outage since 6am", "severity": "critical"})

    body = response.json()
    assert response.status_code == 201
    assert body["urgency"] > 0.5 and body["status"] == "open"
    assert Interaction.objects.filter(kind="complaint", external_id=body["external_id"]).exists()


def test_the_opened_case_comes_back_with_its_sla_due_times(transactional_db, book, api, sam):  # type: ignore[no-untyped-def]
    """Committed as in production (no test transaction around it): the due times set from the account's tier
    right after the commit are in the answer, not only in a later read."""
    response = api(sam).post("/api/v1/cases/", {
        "account": book.other.account.pk, "subject": "Invoice question", "severity": "low"})

    body = response.json()
    stored = api(sam).get(f"/api/v1/cases/{body['id']}/").json()
    assert stored["resolution_due_at"] is not None
    assert (body["first_response_due_at"], body["resolution_due_at"]) == (
        stored["first_response_due_at"], stored["resolution_due_at"])


def test_a_second_assignment_is_refused_with_409(book, api, sam, ada):  # type: ignore[no-untyped-def]
    path = f"/api/v1/cases/{book.own.case.pk}/assign/"

    assert api(sam).post(path).status_code == 200
    refused = api(ada).post(path)

    assert refused.status_code == 409
    assert refused.json() == {"detail": "sam has already taken this case."}
    assert ServiceCase.objects.get(pk=book.own.case.pk).assignee_id == sam.pk


def test_tier_changes_are_validated_as_on_the_tier_page_and_audited(book, api, ada):  # type: ignore[no-untyped-def]
    bad = api(ada).patch(f"/api/v1/tiers/{book.tier.pk}/", {"upper_pct": "1.00"})  # below Platinum's 5 %
    good = api(ada).patch(f"/api/v1/tiers/{book.tier.pk}/", {"upper_pct": "25.00"})

    assert bad.status_code == 400
    assert "upper_pct" in bad.json()
    assert good.status_code == 200 and good.json()["upper_pct"] == "25.00"
    latest = Tier.history.filter(id=book.tier.pk).latest("history_date")
    assert (latest.history_user_id, latest.upper_pct) == (ada.pk, Decimal("25.00"))


def test_removing_the_last_tier_is_refused(book, api, ada):  # type: ignore[no-untyped-def]
    bronze = Tier.objects.order_by("-position").first()

    response = api(ada).delete(f"/api/v1/tiers/{bronze.pk}/")

    assert response.status_code == 400
    assert "100 %" in str(response.json())
    assert Tier.objects.filter(pk=bronze.pk).exists()


def test_service_levels_are_capped_as_on_the_tier_page(book, api, ada):  # type: ignore[no-untyped-def]
    """A service level of years would put SLA due times past year 9999 and break the service queue."""
    response = api(ada).patch(f"/api/v1/tiers/{book.tier.pk}/", {"resolution_hours": 100_000_000})

    assert response.status_code == 400
    assert response.json() == {"resolution_hours": ["Ensure this value is less than or equal to 10000."]}
    assert Tier.objects.get(pk=book.tier.pk).resolution_hours < 10_000


def test_removing_a_tier_a_reward_upgrades_to_is_refused_naming_the_reward(book, api, ada):  # type: ignore[no-untyped-def]
    from campaigns.models import Reward

    program = LoyaltyProgram.objects.create(name="Partners Club", status=LoyaltyProgram.Status.ACTIVE,
                                            starts_on="2024-01-01")
    top = Tier.objects.order_by("position").first()
    Reward.objects.create(program=program, name="Top for 30 days", kind=Reward.Kind.TIER_UPGRADE,
                          point_cost=500, upgrade_tier=top, upgrade_days=30)

    response = api(ada).delete(f"/api/v1/tiers/{top.pk}/")

    assert response.status_code == 400
    assert "still used by 1 reward (“Top for 30 days (500 points)”)" in response.json()["non_field_errors"][0]
    assert Tier.objects.filter(pk=top.pk).exists()


def test_programs_are_written_through_the_program_form_and_audited(book, api, ada):  # type: ignore[no-untyped-def]
    created = api(ada).post("/api/v1/loyalty/programs/", {
        "name": "Gold club", "status": "draft", "starts_on": "2025-07-01", "eligible_tiers": [book.tier.pk],
        "rules": [{"trigger": "survey", "points": "50"}],
        "rewards": [{"name": "Upgrade", "kind": "tier_upgrade", "point_cost": 1000}]})
    fixed = api(ada).post("/api/v1/loyalty/programs/", {
        "name": "Gold club", "status": "draft", "starts_on": "2025-07-01", "ends_on": "2025-06-01",
        "rules": [{"trigger": "survey", "points": "50"}]})

    assert created.status_code == 400
    assert created.json() == {"rewards[0].upgrade_tier": ["Say which tier the upgrade gives."],
                              "rewards[0].upgrade_days": ["Say how many days the upgrade lasts."]}
    assert fixed.status_code == 400
    assert fixed.json() == {"ends_on": ["The program cannot end before it starts."]}
    ok = api(ada).post("/api/v1/loyalty/programs/", {
        "name": "Gold club", "status": "draft", "starts_on": "2025-07-01", "eligible_tiers": [book.tier.pk],
        "rules": [{"trigger": "survey", "points": "50"}],
        "rewards": [{"name": "Upgrade", "kind": "tier_upgrade", "point_cost": 1000, "upgrade_tier": book.tier.pk,
                     "upgrade_days": 30}]})
    body = ok.json()
    assert ok.status_code == 201
    assert (body["eligible_tiers"], [r["trigger"] for r in body["rules"]], body["rewards"][0]["upgrade_days"]) == (
        [book.tier.pk], ["survey"], 30)
    program = LoyaltyProgram.objects.get(pk=body["id"])
    assert program.history.latest().history_user_id == ada.pk

    renamed = api(ada).patch(f"/api/v1/loyalty/programs/{program.pk}/", {"description": "For our best"})
    assert renamed.status_code == 200
    assert [r["trigger"] for r in renamed.json()["rules"]] == ["survey"]  # rules left out of a PATCH stay


def test_redemption_never_takes_a_balance_below_zero(book, api, alice):  # type: ignore[no-untyped-def]
    path = f"/api/v1/loyalty/enrolments/{book.own.enrolment.pk}/redeem/"

    answers = [api(alice).post(path, {"reward": book.reward.pk}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 409]
    assert answers[1].json()["balance"] == 100
    assert answers[2].json() == {"detail": "Not enough points: Free delivery costs 200 and the balance is 100."}
    assert LedgerEntry.objects.filter(enrolment=book.own.enrolment, kind="redeem").count() == 2


def test_a_deduction_below_zero_is_refused(book, api, ada):  # type: ignore[no-untyped-def]
    response = api(ada).post(f"/api/v1/loyalty/enrolments/{book.own.enrolment.pk}/adjust/",
                             {"points": -501, "reason": "Clawback"})

    assert response.status_code == 409
    assert response.json() == {"detail": "The balance is 500: deducting 501 would take it below zero."}


def test_opportunity_status_follows_the_pages_transitions(book, api, alice):  # type: ignore[no-untyped-def]
    path = f"/api/v1/opportunities/{book.own.opportunity.pk}/status/"

    pursued = api(alice).post(path, {"status": "pursued"})
    won = api(alice).post(path, {"status": "won"})
    reopened = api(alice).post(path, {"status": "open"})

    assert (pursued.json()["status"], won.json()["status"]) == ("pursued", "won")
    assert reopened.status_code == 409
    assert reopened.json() == {"detail": "A won opportunity cannot become open."}


def test_an_account_country_must_be_an_iso_code(book, api, alice):  # type: ignore[no-untyped-def]
    path = f"/api/v1/accounts/{book.own.account.pk}/"

    refused = api(alice).patch(path, {"country": "UK"})
    accepted = api(alice).patch(path, {"country": "gb"})

    assert refused.status_code == 400
    assert refused.json() == {"country": ["'UK' is not an ISO 3166-1 code: use GB."]}
    assert accepted.status_code == 200 and accepted.json()["country"] == "GB"


def test_a_churned_account_needs_its_churn_date(book, api, alice):  # type: ignore[no-untyped-def]
    response = api(alice).patch(f"/api/v1/accounts/{book.own.account.pk}/", {"status": "churned"})

    assert response.status_code == 400
    assert response.json() == {"churned_on": ["A churned account needs a churn date."]}


def test_an_account_manager_owns_the_account_they_create_and_cannot_give_it_away(book, api, alice, bob):  # type: ignore[no-untyped-def]
    created = api(alice).post("/api/v1/accounts/", {"name": "Neu Werkzeug GmbH"})
    themselves = api(alice).post("/api/v1/accounts/", {"name": "Zweite GmbH", "owner": alice.pk})
    someone_else = api(alice).post("/api/v1/accounts/", {"name": "Dritte GmbH", "owner": bob.pk})

    assert created.status_code == 201 and created.json()["owner"] == alice.pk
    # computed at once, as an account made on the pages
    assert Account.objects.get(pk=created.json()["id"]).history_version == 1
    assert themselves.status_code == 201 and themselves.json()["owner"] == alice.pk
    assert someone_else.status_code == 400
    assert someone_else.json() == {"owner": ["Only admins assign or reassign an account's manager."]}
    assert not Account.objects.filter(name="Dritte GmbH").exists()


def test_changing_what_the_figures_read_of_an_account_asks_for_a_recompute(book, api, alice):  # type: ignore[no-untyped-def]
    path = f"/api/v1/accounts/{book.own.account.pk}/"
    before = Account.objects.get(pk=book.own.account.pk).history_version

    api(alice).patch(path, {"phone": "+49 30 1234"})
    assert Account.objects.get(pk=book.own.account.pk).history_version == before  # not a figure: no recompute
    response = api(alice).patch(path, {"relationship": "contractual"})

    assert response.status_code == 200
    assert Account.objects.get(pk=book.own.account.pk).history_version == before + 1
