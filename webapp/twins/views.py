from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.collection import selectors as collection_selectors
from webapp.collection import services as collection_services
from webapp.collection.models import CollectionRequest
from webapp.twins import selectors


def index(request):
    models = list(selectors.model_list(user=request.user))
    for model in models:
        model.metric_rows = selectors.flat_metrics(model.metrics)
    latest = collection_selectors.request_latest(user=request.user, dag_id="twin_finetune")
    if latest is not None:
        collection_services.request_refresh(latest, with_tasks=False)
    return render(
        request,
        "twins/index.html",
        {
            "models": models,
            "active": next((m for m in models if m.status == "active"), None),
            "training_request": latest,
            "training_active": latest is not None and latest.status in collection_services.ACTIVE,
            "requests": collection_selectors.request_list(user=request.user, dag_id="twin_finetune")[:10],
        },
    )


@require_POST
def train(request):
    try:
        created = collection_services.request_create(user=request.user, dag_id="twin_finetune")
    except collection_services.AlreadyActive:
        messages.info(request, "Your twin is already training.")
        return redirect("twins:index")
    if created.status == CollectionRequest.Status.PENDING:
        messages.warning(
            request,
            "Airflow is not reachable right now. Your training request is saved and will be "
            "sent automatically when it is back.",
        )
    elif created.status == CollectionRequest.Status.FAILED:
        messages.error(request, created.reason)
    else:
        messages.success(request, "Training started. It runs on Ray; follow it in the Ray dashboard.")
    return redirect("twins:index")
