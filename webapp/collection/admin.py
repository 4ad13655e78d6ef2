from django.contrib import admin, messages

from webapp.collection.models import CollectionRequest
from webapp.collection.services import request_send


@admin.register(CollectionRequest)
class CollectionRequestAdmin(admin.ModelAdmin):
    list_display = ["user", "dag_id", "status", "dag_run_id", "attempts", "created_at", "updated_at"]
    list_filter = ["dag_id", "status", "created_at"]
    search_fields = ["user__email", "dag_run_id", "reason"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]
    actions = ["send_now"]

    @admin.action(description="Send the selected pending requests to Airflow now")
    def send_now(self, request, queryset):
        sent = [request_send(item) for item in queryset.filter(status=CollectionRequest.Status.PENDING)]
        still = sum(1 for item in sent if item.status == CollectionRequest.Status.PENDING)
        messages.info(request, f"Tried {len(sent)} pending request(s); {still} still pending.")
