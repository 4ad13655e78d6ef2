from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Prompt(models.Model):
    """What the user asked their twin to write about, with any new links."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField()
    links = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:80]


QUALITY_FAILED = "The twin could not write a post that passes the quality check"


class Generation(models.Model):
    """One attempt of the twin at a prompt: the post it wrote, with what it cited, the model that
    wrote it and how it was rated; or, when no draft passed serving's quality check, a failed
    attempt (``status = failed``, no post) with the reason."""

    WRITTEN, FAILED = "written", "failed"
    STATUSES = [(WRITTEN, "Written"), (FAILED, "Failed the quality check")]

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="generations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    post = models.TextField()
    edited_post = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    links = models.JSONField(default=list, blank=True)
    model = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    trace = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=WRITTEN)
    quality = models.JSONField(
        default=dict, blank=True, help_text="serving's quality check: passed, attempts, problems"
    )
    error = models.TextField(blank=True, help_text="why no post was written (status failed)")
    edited_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (poor) to 5 (great)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.post[:80] if not self.failed else f"(failed) {self.error[:70]}"

    @property
    def final_post(self) -> str:
        """The user's edit when there is one, else what the twin wrote."""
        return self.edited_post or self.post

    @property
    def failed(self) -> bool:
        return self.status == self.FAILED

    @property
    def quality_problems(self) -> list[str]:
        return [str(problem) for problem in (self.quality or {}).get("problems") or []]

    # the model that wrote it (serving's ``model``; older responses lack some fields)
    @property
    def used_adapter(self) -> bool:
        model = self.model or {}
        if "adapter_used" in model:
            return bool(model["adapter_used"])
        return bool(model.get("adapter")) and not model.get("fallback", False)

    @property
    def fallback_reason(self) -> str:
        """Why the user's adapter did not write it ("" when it did)."""
        if self.used_adapter:
            return ""
        return (self.model or {}).get("fallback_reason") or "no personal adapter yet"

    @property
    def is_test_model(self) -> bool:
        return bool((self.model or {}).get("test_model"))

    @property
    def model_notice(self) -> str:
        notice = (self.model or {}).get("notice")
        if notice:
            return str(notice)
        return "This is a random test model: the text is not meaningful." if self.is_test_model else ""

    # what it drew on: new links supplied with the prompt, and the user's own earlier writing
    @property
    def link_sources(self) -> list[dict]:
        return [source for source in self.sources or [] if source.get("origin") == "link"]

    @property
    def retrieval_sources(self) -> list[dict]:
        return [source for source in self.sources or [] if source.get("origin") != "link"]
