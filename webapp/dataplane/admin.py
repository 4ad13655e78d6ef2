"""Read-only admin pages for the data-plane tables (``raw`` and ``registry``; ``marts`` only exist
after dbt has run, so they are not listed here)."""

from django.contrib import admin

from webapp.dataplane.models import CrawlRun, RawDocument, RegistryModel


class ReadOnlyAdmin(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CrawlRun)
class CrawlRunAdmin(ReadOnlyAdmin):
    list_display = [
        "source",
        "platform",
        "user_id",
        "status",
        "documents_new",
        "documents_changed",
        "documents_failed",
        "started_at",
        "finished_at",
    ]
    list_filter = ["platform", "status", "started_at"]
    search_fields = ["source", "error", "=user_id"]
    date_hierarchy = "started_at"


@admin.register(RawDocument)
class RawDocumentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "platform", "kind", "user_id", "is_own_writing", "published_at", "fetched_at"]
    list_filter = ["platform", "kind", "is_own_writing", "fetched_at"]
    search_fields = ["title", "source_url", "=user_id"]
    exclude = ["crawl_run"]
    readonly_fields = ["crawl_run_id"]

    @admin.display(description="crawl run")
    def crawl_run_id(self, obj):
        return obj.crawl_run_id


@admin.register(RegistryModel)
class RegistryModelAdmin(ReadOnlyAdmin):
    list_display = ["model_id", "user_id", "base_model", "status", "created_at", "updated_at"]
    list_filter = ["status", "base_model"]
    search_fields = ["=user_id", "base_model", "adapter_uri"]
