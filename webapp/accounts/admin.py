"""Users in the admin: Django's own UserAdmin, with the counts of what each user has."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class TwinUserAdmin(UserAdmin):
    list_display = ["email", "is_staff", "is_active", "source_count", "prompt_count", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_active", "date_joined"]
    search_fields = ["email", "username"]
    ordering = ["-date_joined"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_sources=Count("sources", distinct=True), _prompts=Count("prompts", distinct=True))
        )

    @admin.display(description="sources", ordering="_sources")
    def source_count(self, obj):
        return obj._sources

    @admin.display(description="prompts", ordering="_prompts")
    def prompt_count(self, obj):
        return obj._prompts
