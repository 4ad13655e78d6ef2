from django.urls import reverse

from tests.webapp import dataplane_rows
from webapp.collection.models import CollectionRequest


def test_models_with_status_and_metrics(user_client, user, other_user, airflow_down):
    dataplane_rows.registry_model(
        user.pk, status="active", metrics={"tuned": {"perplexity": 12.345678, "style_score": 0.61}, "promoted": True}
    )
    dataplane_rows.registry_model(user.pk, status="failed", error="CUDA out of memory")
    dataplane_rows.registry_model(other_user.pk, status="ready", error="grace-only-error")
    page = user_client.get(reverse("twins:index")).content.decode()
    assert "tuned.perplexity" in page and "12.3457" in page and "CUDA out of memory" in page
    assert "grace-only-error" not in page
    assert "Train my twin" in page and "/dags/twin_finetune" in page and "Ray dashboard" in page


def test_train_with_airflow_down_is_pending_and_shown(user_client, user, airflow_down):
    response = user_client.post(reverse("twins:train"), follow=True)
    request = CollectionRequest.objects.get(user=user, dag_id="twin_finetune")
    assert request.status == "pending"
    page = response.content.decode()
    assert "training request is saved" in page and "Waiting for Airflow" in page
    assert "disabled" in page  # no second request while one is pending
    user_client.post(reverse("twins:train"))
    assert CollectionRequest.objects.filter(user=user, dag_id="twin_finetune").count() == 1


def test_empty_state(user_client, airflow_down):
    assert "No model yet" in user_client.get(reverse("twins:index")).content.decode()
