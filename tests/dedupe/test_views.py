"""The duplicates pages: who may see and do what, the side-by-side review, the two-step merge, the history."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.dedupe import scan
from crm.dedupe.services import account_merge
from crm.models import Account, AccountMerge, DuplicateCandidate, Interaction
from tests.factories import PASSWORD, InteractionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate(acme_pair):  # type: ignore[no-untyped-def]
    erp, sales = acme_pair
    for _ in range(3):
        InteractionFactory(account=erp)
    InteractionFactory(account=sales)
    scan.candidates_find()
    return DuplicateCandidate.objects.get()


@pytest.fixture
def merge(acme_pair, ada):  # type: ignore[no-untyped-def]
    erp, sales = acme_pair
    return account_merge(survivor_id=erp.pk, merged_id=sales.pk, user=ada)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


GET_PAGES = ["duplicate_list", "duplicate_review", "merge_history", "merge_detail", "account_merges"]
POSTS = ["duplicate_scan", "duplicate_merge", "duplicate_dismiss", "duplicate_reopen"]


def url_of(name: str, candidate: DuplicateCandidate, merge: AccountMerge | None = None) -> str:
    if name in ("duplicate_list", "merge_history", "duplicate_scan"):
        return reverse(name)
    if name == "merge_detail":
        return reverse(name, args=[merge.pk])
    if name == "account_merges":
        return reverse(name, args=[candidate.low_id])
    return reverse(name, args=[candidate.pk])


@pytest.mark.parametrize("who", [None, "nobody", "alice", "sam", "ada"])
@pytest.mark.parametrize("name", GET_PAGES)
def test_every_page_is_for_admins_only_except_the_account_panel(request, candidate, ada, name, who):
    other = Account.objects.create(name="Elsewhere Ltd")
    merge = AccountMerge.objects.create(survivor=other, merged_account_id=1, merged_name="Old", survivor_before={},
                                        merged_before={}, survivor_after={}, moved={}, merged_by=ada)
    user = request.getfixturevalue(who) if who else None
    response = client_for(user).get(url_of(name, candidate, merge))
    allowed = {"ada"} | ({"alice"} if name == "account_merges" else set())
    if who is None:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    elif who in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("who", [None, "nobody", "alice", "sam"])
@pytest.mark.parametrize("name", POSTS)
def test_every_action_is_refused_to_non_admins_and_changes_nothing(request, candidate, name, who):
    user = request.getfixturevalue(who) if who else None
    response = client_for(user).post(url_of(name, candidate), {"confirm": "1", "survivor": candidate.low_id})
    assert response.status_code == (302 if who is None else 403)
    candidate.refresh_from_db()
    assert candidate.status == "open"
    assert Account.objects.filter(pk__in=[candidate.low_id, candidate.high_id]).count() == 2


@pytest.mark.parametrize("name", [name for name in POSTS if name != "duplicate_merge"])
def test_actions_are_post_only(candidate, ada, name):
    assert client_for(ada).get(url_of(name, candidate)).status_code == 405


def test_getting_the_merge_url_goes_back_to_the_review_and_merges_nothing(candidate, ada):
    response = client_for(ada).get(url_of("duplicate_merge", candidate))
    assert response.status_code == 302 and response.url == reverse("duplicate_review", args=[candidate.pk])
    assert not AccountMerge.objects.exists()


def test_actions_need_the_csrf_token(candidate, ada):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    response = client.post(reverse("duplicate_merge", args=[candidate.pk]), {"confirm": "1"})
    assert response.status_code == 403
    assert Account.objects.filter(pk__in=[candidate.low_id, candidate.high_id]).count() == 2


def test_the_list_shows_open_pairs_by_score_with_reasons(candidate, ada, django_assert_max_num_queries):
    client = client_for(ada)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("duplicate_list"))
    html = response.content.decode()
    assert "ACME Industrial Supplies GmbH" in html and "Acme Industrial Supply" in html
    assert "same web domain acme-industrial.de" in html
    assert reverse("duplicate_review", args=[candidate.pk]) in html


def test_the_review_shows_both_records_side_by_side_with_the_busier_one_surviving(candidate, acme_pair, ada):
    erp, sales = acme_pair
    response = client_for(ada).get(reverse("duplicate_review", args=[candidate.pk]))
    data = response.context["data"]
    assert data.accounts == (erp, sales)  # 3 interactions against 1
    differing = {row.name: row.values for row in data.differing}
    assert differing["industry"] == ("Manufacturing", "Wholesale & retail")
    assert differing["tax_id"] == ("DE 811 569 869", "")
    assert differing["name"] == ("ACME Industrial Supplies GmbH", "Acme Industrial Supply")
    assert ("Interactions", 3, 1) in data.counts
    assert data.source_ids == (["erp: K-1001"], ["salesforce: 001A000001"])
    html = response.content.decode()
    assert html.count('class="differs"') == len(data.differing)
    assert f'name="pick_industry" value="{sales.pk}"' in html

    swapped = client_for(ada).get(reverse("duplicate_review", args=[candidate.pk]), {"survivor": sales.pk})
    assert swapped.context["data"].accounts == (sales, erp)


def test_merging_takes_a_confirmation_then_merges_with_the_picked_values(candidate, acme_pair, ada):
    erp, sales = acme_pair
    client = client_for(ada)
    url = reverse("duplicate_merge", args=[candidate.pk])
    choices = {"survivor": erp.pk, "pick_industry": sales.pk, "pick_name": erp.pk}

    confirm = client.post(url, choices)
    assert confirm.status_code == 200
    assert "Merge Acme Industrial Supply into ACME Industrial Supplies GmbH?" in confirm.content.decode()
    assert Account.objects.filter(pk=sales.pk).exists()  # nothing happened yet
    assert ("pick_industry", sales.pk) in confirm.context["hidden_picks"]

    done = client.post(url, {**choices, "confirm": "1"})

    assert done.status_code == 302 and done["Location"] == reverse("account_detail", args=[erp.pk])
    assert not Account.objects.filter(pk=sales.pk).exists()
    survivor = Account.objects.get(pk=erp.pk)
    assert (survivor.name, survivor.industry, survivor.tax_id) == (
        "ACME Industrial Supplies GmbH", "Wholesale & retail", "DE 811 569 869")
    assert Interaction.objects.filter(account=survivor).count() == 4
    candidate.refresh_from_db()
    assert candidate.status == "merged" and candidate.merge.merged_by == ada


def test_a_bad_pick_is_refused_with_the_field_named(candidate, ada):
    response = client_for(ada).post(reverse("duplicate_merge", args=[candidate.pk]),
                                    {"survivor": candidate.low_id, "pick_industry": 424242, "confirm": "1"})
    assert response.status_code == 422
    assert "Industry: pick the value of one of the two accounts." in response.content.decode()
    assert Account.objects.filter(pk__in=[candidate.low_id, candidate.high_id]).count() == 2


def test_not_a_duplicate_closes_the_pair_for_good(candidate, ada):
    response = client_for(ada).post(reverse("duplicate_dismiss", args=[candidate.pk]))
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.status == "dismissed" and candidate.reviewed_by == ada
    scan.candidates_find()
    assert DuplicateCandidate.objects.get().status == "dismissed"
    listed = client_for(ada).get(reverse("duplicate_list"), {"status": "dismissed"})
    assert list(listed.context["page"].object_list) == [candidate]


def test_the_merge_history_and_the_account_panel_show_who_merged_what(merge, alice, ada):
    history = client_for(ada).get(reverse("merge_history")).content.decode()
    assert "Acme Industrial Supply" in history and "ada" in history
    detail = client_for(ada).get(reverse("merge_detail", args=[merge.pk])).content.decode()
    assert "salesforce:001A000001" in detail
    panel = client_for(alice).get(reverse("account_merges", args=[merge.survivor_id])).content.decode()
    assert "Acme Industrial Supply" in panel and "merged in on" in panel


def test_scan_now_enqueues_a_scan_after_commit(ada, django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    monkeypatch.setattr("crm.dedupe.tasks.find_duplicates.delay", lambda **kw: calls.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(ada).post(reverse("duplicate_scan"))
    assert response.status_code == 302
    assert calls == [{"full": True}]




def test_a_merge_needs_a_recent_password_confirmation(candidate, ada, settings):
    import time

    from crm.reauth import REAUTH_AT_KEY

    settings.REAUTH_WINDOW = 600
    client = client_for(ada)
    session = client.session
    session[REAUTH_AT_KEY] = int(time.time()) - 601
    session.save()
    merge_url = reverse("duplicate_merge", args=[candidate.pk])
    # the final confirmation is a page rendered by a POST to the merge URL, so that is where the browser is
    response = client.post(merge_url, {"confirm": "1"}, HTTP_REFERER=f"http://testserver{merge_url}")
    assert response.status_code == 302 and response.url.startswith(reverse("reauth_confirm"))
    assert Account.objects.filter(pk__in=[candidate.low_id, candidate.high_id]).count() == 2
    assert not AccountMerge.objects.exists()

    confirmed = client.post(response.url, {"password": PASSWORD, "next": f"http://testserver{merge_url}"},
                            follow=True)
    assert confirmed.redirect_chain[-1][0] == reverse("duplicate_review", args=[candidate.pk])  # not a 405
    assert confirmed.status_code == 200
    assert "Nothing was saved: confirm your password, then submit again." in confirmed.content.decode()
