from django.contrib import admin, messages

from webapp.sources.models import Source, Upload
from webapp.sources.services import upload_import_in_background


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
    readonly_fields = ["stored_path", "size", "crawl_run_id", "counts", "errors", "skipped", "notices", "error",
                       "created_at", "started_at", "finished_at"]
    actions = ["import_again"]

    @admin.action(description="Import the selected uploads again (in the background)")
    def import_again(self, request, queryset):
        for upload in queryset:
            upload.status = Upload.Status.PENDING
            upload.save(update_fields=["status"])
            upload_import_in_background(upload.pk)
        messages.info(request, f"Importing {queryset.count()} upload(s) again.")
