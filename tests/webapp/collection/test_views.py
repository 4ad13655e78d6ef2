from django.urls import reverse

from tests.webapp import dataplane_rows
from webapp.collection.models import CollectionRequest
from webapp.collection.services import request_create
from webapp.sources.services import source_create


def test_collect_now_needs_a_source(user_client, user, airflow_down):
    response = user_client.post(reverse("collection:now"))
    assert response.status_code == 302 and response.url == reverse("sources:index")
    assert not CollectionRequest.objects.filter(user=user).exists()


def test_collect_now_with_airflow_down_saves_a_pending_request(user_client, user, airflow_down):
    source = source_create(user=user, platform="medium", url="@ada")
    response = user_client.post(reverse("collection:now"), follow=True)
    request = CollectionRequest.objects.get(user=user)
    assert request.status == "pending" and request.dag_id == "twin_collect"
    page = response.content.decode()
    assert "Airflow is not reachable right now" in page and "Waiting for Airflow" in page
    assert 'data-active="1"' in page  # the page keeps polling (and retrying)
    assert source.url in page

    attempts = request.attempts
    status = user_client.get(reverse("collection:status", args=[request.pk]))
    assert status.status_code == 200 and 'id="collect-status"' in status.content.decode()
    request.refresh_from_db()
    assert request.attempts == attempts + 1  # retried when polled (TWIN_COLLECT_RETRY_AFTER_S is 0 here)

    again = user_client.post(reverse("collection:now"))
    assert again.url == reverse("collection:detail", args=[request.pk])
    assert CollectionRequest.objects.filter(user=user).count() == 1


def test_per_source_results_and_errors_are_shown(user_client, user, airflow_down):
    source_create(user=user, platform="medium", url="@ada")
    request = request_create(user=user)
    dataplane_rows.crawl_run(user.pk, "https://medium.com/@ada", "medium", new=4, changed=1)
    dataplane_rows.crawl_run(
        user.pk,
        "https://github.com/ada",
        "github",
        status="failed",
        errors=[{"url": None, "error": "GitHub user not found (HTTP 404)"}],
    )
    page = user_client.get(reverse("collection:detail", args=[request.pk])).content.decode()
    assert "https://medium.com/@ada" in page and "GitHub user not found (HTTP 404)" in page
    assert '<td class="num">4</td>' in page


def test_another_users_request_is_404(user_client, other_user, airflow_down):
    source_create(user=other_user, platform="medium", url="@grace")
    theirs = request_create(user=other_user)
    assert user_client.get(reverse("collection:detail", args=[theirs.pk])).status_code == 404
    assert user_client.get(reverse("collection:status", args=[theirs.pk])).status_code == 404
