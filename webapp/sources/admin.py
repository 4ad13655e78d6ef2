from django.contrib import admin

from webapp.sources.models import Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["url", "platform", "user", "is_active", "created_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["url", "user__email"]
