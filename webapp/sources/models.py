from django.conf import settings
from django.db import models


class Source(models.Model):
    """A place the user's writing is collected from (a profile, feed, publication or link)."""

    class Platform(models.TextChoices):
        LINKEDIN = "linkedin", "LinkedIn"
        MEDIUM = "medium", "Medium"
        SUBSTACK = "substack", "Substack"
        GITHUB = "github", "GitHub"
        WEB = "web", "Web page / paper"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sources")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    url = models.URLField(max_length=2000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "platform", "url"], name="source_unique_per_user")]
        ordering = ["platform", "url"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.url}"
