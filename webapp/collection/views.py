from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.collection import selectors, services
from webapp.collection.models import CollectionRequest
from webapp.sources.selectors import sources_with_last_run


def _status_context(request_obj: CollectionRequest | None) -> dict:
    if request_obj is None:
        return {"req": None}
    progress = services.request_refresh(request_obj)
    return {
        "req": request_obj,
        "active": request_obj.status in services.ACTIVE,
        "progress": progress,
        "crawl_runs": list(selectors.crawl_runs_for_request(request_obj)),
    }


def index(request):
    latest = selectors.request_latest(user=request.user)
    return _render_page(request, latest)


def detail(request, request_id: int):
    request_obj = selectors.request_get(user=request.user, request_id=request_id, dag_id="twin_collect")
    return _render_page(request, request_obj)


def _render_page(request, request_obj):
    context = _status_context(request_obj)
    context.update(
        history=selectors.request_list(user=request.user)[:10],
        sources=sources_with_last_run(user=request.user),
    )
    return render(request, "collection/index.html", context)


def status(request, request_id: int):
    """The live part of the page (polled by twin.js while the run is active)."""
    request_obj = selectors.request_get(user=request.user, request_id=request_id)
    return render(request, "collection/_status.html", _status_context(request_obj))


@require_POST
def collect_now(request):
    if not request.user.sources.filter(is_active=True).exists():
        messages.error(request, "Add at least one active source before collecting.")
        return redirect("sources:index")
    try:
        created = services.request_create(user=request.user, dag_id="twin_collect")
    except services.AlreadyActive as exc:
        messages.info(request, "A collection is already under way; here is its progress.")
        return redirect("collection:detail", request_id=exc.request.pk)
    if created.status == CollectionRequest.Status.PENDING:
        messages.warning(
            request,
            "Airflow is not reachable right now. Your request is saved and will be sent automatically when it is back.",
        )
    elif created.status == CollectionRequest.Status.FAILED:
        messages.error(request, created.reason)
    else:
        messages.success(request, "Collection started.")
    return redirect("collection:detail", request_id=created.pk)
