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
    confirmed_own = models.BooleanField(  # db_default: rows written outside Django (tests, the pipeline) get it too
        default=False,
        db_default=False,
        help_text="the user confirmed that this publication holds only their own writing",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "platform", "url"], name="source_unique_per_user")]
        ordering = ["platform", "url"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.url}"


class Upload(models.Model):
    """A LinkedIn/Medium/Substack data export the user uploaded, and how its import went.

    The archive is kept under ``$TWIN_HOME/uploads/<user_id>/`` (outside the web root, never served)
    and imported by Airflow (the ``twin_import`` DAG, run ``upload-<id>``), which deletes it once
    imported; the outcome is read back from that run.
    """

    class Kind(models.TextChoices):
        LINKEDIN = "linkedin", "LinkedIn data export"
        MEDIUM = "medium", "Medium export"
        SUBSTACK = "substack", "Substack export"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for Airflow"
        QUEUED = "queued", "Queued"
        IMPORTING = "importing", "Importing"
        SUCCEEDED = "succeeded", "Imported"
        PARTIAL = "partial", "Imported with errors"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    original_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=1000, editable=False)
    size = models.PositiveBigIntegerField()
    publication_url = models.URLField(
        max_length=2000, blank=True, help_text="Substack only: your publication's address"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    crawl_run_id = models.UUIDField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    skipped = models.JSONField(default=dict, blank=True)
    notices = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    dag_run_id = models.CharField(max_length=250, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.PARTIAL, self.Status.FAILED)
