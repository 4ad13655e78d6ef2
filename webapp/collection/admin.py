from django.contrib import admin

from webapp.collection.models import CollectionRequest


@admin.register(CollectionRequest)
class CollectionRequestAdmin(admin.ModelAdmin):
    list_display = ["user", "dag_id", "status", "dag_run_id", "attempts", "created_at"]
    list_filter = ["dag_id", "status"]
    search_fields = ["user__email", "dag_run_id", "reason"]
