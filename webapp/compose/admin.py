from django.contrib import admin

from webapp.compose.models import Generation, Prompt


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["text", "user", "created_at"]
    search_fields = ["text", "user__email"]


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["post", "user", "rating", "created_at"]
    list_filter = ["rating"]
    search_fields = ["post", "edited_post", "user__email"]
