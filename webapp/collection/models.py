from django.conf import settings
from django.db import models


class CollectionRequest(models.Model):
    """A "collect now" or "train my twin" request sent (or waiting to be sent) to Airflow."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (Airflow not reached yet)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Succeeded"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collection_requests")
    dag_id = models.CharField(max_length=64, default="twin_collect")
    dag_run_id = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.dag_id} for {self.user} ({self.status})"
