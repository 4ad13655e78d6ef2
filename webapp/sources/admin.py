from django.contrib import admin, messages

from webapp.sources.models import Source, Upload
from webapp.sources.services import upload_send


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["url", "platform", "user", "is_active", "created_at", "updated_at"]
    list_filter = ["platform", "is_active", "created_at"]
    search_fields = ["url", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    date_hierarchy = "created_at"
    actions = ["pause", "resume"]

    @admin.action(description="Pause collection from the selected sources")
    def pause(self, request, queryset):
        queryset.update(is_active=False)

    @admin.action(description="Resume collection from the selected sources")
    def resume(self, request, queryset):
        queryset.update(is_active=True)


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["original_name", "kind", "user", "status", "size", "created_at", "finished_at"]
    list_filter = ["kind", "status", "created_at"]
    search_fields = ["original_name", "user__email", "error"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "stored_path",
        "size",
        "crawl_run_id",
        "dag_run_id",
        "attempts",
        "last_attempt_at",
        "counts",
        "errors",
        "skipped",
        "notices",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ]
    actions = ["import_again"]

    @admin.action(description="Send the selected uploads to Airflow again (those still waiting)")
    def import_again(self, request, queryset):
        waiting = [upload for upload in queryset if upload.status == Upload.Status.PENDING]
        for upload in waiting:
            upload_send(upload)
        messages.info(
            request,
            f"Sent {len(waiting)} waiting upload(s) to Airflow; an archive imported or failed "
            "before is re-run from the Airflow UI (twin_import), or uploaded again.",
        )
