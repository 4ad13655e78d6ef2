from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods, require_POST

from webapp.sources import selectors, services
from webapp.sources.forms import SourceForm, UploadForm


def _page(request, *, form=None, upload_form=None, status=200):
    context = {
        "sources": selectors.sources_with_last_run(user=request.user),
        "uploads": selectors.upload_list(user=request.user)[:20],
        "form": form or SourceForm(),
        "upload_form": upload_form or UploadForm(),
        "max_upload": settings.TWIN_IMPORT_MAX_BYTES,
    }
    return render(request, "sources/index.html", context, status=status)


@require_http_methods(["GET", "POST"])
def index(request):
    if request.method == "GET":
        return _page(request)
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            source = services.source_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added {source.get_platform_display()} source {source.url}.")
            return redirect("sources:index")
    return _page(request, form=form, status=400)


@require_http_methods(["GET", "POST"])
def edit(request, source_id: int):
    source = selectors.source_get(user=request.user, source_id=source_id)
    if request.method == "GET":
        form = SourceForm(
            initial={
                "platform": source.platform,
                "url": source.url,
                "is_active": source.is_active,
                "confirmed_own": source.confirmed_own,
            }
        )
        return render(request, "sources/edit.html", {"form": form, "source": source})
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            services.source_update(source=source, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved {source.url}.")
            return redirect("sources:index")
    return render(request, "sources/edit.html", {"form": form, "source": source}, status=400)


@require_POST
def delete(request, source_id: int):
    source = selectors.source_get(user=request.user, source_id=source_id)
    services.source_delete(source=source)
    messages.success(request, f"Removed {source.url}. Documents already collected stay in your library.")
    return redirect("sources:index")


@require_POST
def upload(request):
    form = UploadForm(request.POST, request.FILES)
    if getattr(request, "upload_too_large", False):
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", f"The file is over the {filesizeformat(settings.TWIN_IMPORT_MAX_BYTES)} limit.")
        return _page(request, upload_form=form, status=413)
    if form.is_valid():
        data = form.cleaned_data
        try:
            created = services.upload_create(
                user=request.user,
                kind=data["kind"],
                fileobj=data["file"],
                name=data["file"].name,
                size=data["file"].size,
                publication_url=data["publication_url"].strip(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Uploaded {created.original_name}; it is imported by Airflow (twin_import).")
            return redirect("sources:upload", upload_id=created.pk)
    return _page(request, upload_form=form, status=400)


def upload_detail(request, upload_id: int):
    upload = services.upload_refresh(selectors.upload_get(user=request.user, upload_id=upload_id))
    template = "sources/_upload_status.html" if request.GET.get("fragment") else "sources/upload.html"
    from twin.core.settings import get_settings

    return render(request, template, {"upload": upload, "retention_days": get_settings().upload_retention_days})


@require_POST
def upload_delete(request, upload_id: int):
    upload = selectors.upload_get(user=request.user, upload_id=upload_id)
    services.upload_delete(upload=upload)
    messages.success(request, f"Deleted the uploaded file {upload.original_name}.")
    return redirect("sources:index")
