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


class Generation(models.Model):
    """One post the twin wrote for a prompt, with what it cited and how it was rated."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="generations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    post = models.TextField()
    edited_post = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    links = models.JSONField(default=list, blank=True)
    model = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    trace = models.JSONField(default=dict, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1 (poor) to 5 (great)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.post[:80]

    @property
    def final_post(self) -> str:
        """The user's edit when there is one, else what the twin wrote."""
        return self.edited_post or self.post
