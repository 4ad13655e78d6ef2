from django.contrib import admin

from webapp.compose.models import Generation, Prompt


class GenerationInline(admin.StackedInline):
    model = Generation
    extra = 0
    fields = [
        "status",
        "post",
        "error",
        "edited_post",
        "rating",
        "sources",
        "links",
        "model",
        "quality",
        "timings",
        "created_at",
    ]
    readonly_fields = ["status", "post", "error", "sources", "links", "model", "quality", "timings", "created_at"]
    show_change_link = True


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["short_text", "user", "generation_count", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["text", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    inlines = [GenerationInline]

    @admin.display(description="prompt")
    def short_text(self, obj):
        return obj.text[:80]

    @admin.display(description="posts")
    def generation_count(self, obj):
        return obj.generations.count()


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["short_post", "user", "status", "rating", "edited", "adapter", "created_at"]
    list_filter = ["status", "rating", "created_at", ("edited_post", admin.EmptyFieldListFilter)]
    search_fields = ["post", "edited_post", "user__email", "prompt__text"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    raw_id_fields = ["prompt"]
    readonly_fields = ["created_at", "edited_at"]

    @admin.display(description="post")
    def short_post(self, obj):
        return obj.post[:80] if not obj.failed else f"(failed) {obj.error[:70]}"

    @admin.display(boolean=True)
    def edited(self, obj):
        return bool(obj.edited_post)

    @admin.display(description="adapter")
    def adapter(self, obj):
        return ((obj.model or {}).get("adapter") or "adapter") if obj.used_adapter else "base"
