"""Read-only views of the data-plane tables the web app does not own (``managed = False``).

``raw.*`` and ``registry.*`` belong to ``twin`` (Alembic), ``marts.*`` to dbt. Django never creates,
alters or writes them; every read goes through a selector that filters by the owner's ``user_id``.
The marts tables exist only after the first ``dbt build`` (a collection run); selectors check.
"""

from django.db import models


class ReadOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is read-only for the web app")

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is read-only for the web app")


class CrawlRun(ReadOnlyModel):
    """One crawl (or export import) of one source: ``raw.crawl_runs``."""

    crawl_run_id = models.UUIDField(primary_key=True)
    user_id = models.BigIntegerField()
    source = models.TextField()
    platform = models.TextField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    status = models.TextField()
    documents_seen = models.IntegerField()
    documents_new = models.IntegerField()
    documents_changed = models.IntegerField()
    documents_unchanged = models.IntegerField()
    documents_failed = models.IntegerField()
    errors = models.JSONField(default=list)
    error = models.TextField(null=True)

    class Meta:
        managed = False
        db_table = '"raw"."crawl_runs"'
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.platform} {self.source} ({self.status})"


class RawDocument(ReadOnlyModel):
    """One collected version of a document: ``raw.documents`` (append-only)."""

    document_version_id = models.TextField(primary_key=True)
    user_id = models.BigIntegerField()
    platform = models.TextField()
    kind = models.TextField()
    source_url = models.TextField()
    title = models.TextField(null=True)
    content = models.TextField()
    published_at = models.DateTimeField(null=True)
    metadata = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    is_own_writing = models.BooleanField()
    crawl_run = models.ForeignKey(
        CrawlRun, on_delete=models.DO_NOTHING, db_column="crawl_run_id", related_name="documents", db_constraint=False
    )
    fetched_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = '"raw"."documents"'
        ordering = ["-fetched_at"]

    def __str__(self) -> str:
        return self.title or self.source_url


class MartDocument(ReadOnlyModel):
    """The latest clean version of a document (dbt's ``marts.documents``)."""

    document_id = models.TextField(primary_key=True)
    user_id = models.BigIntegerField()
    document_version_id = models.TextField()
    source_url = models.TextField()
    title = models.TextField(null=True)
    platform = models.TextField()
    kind = models.TextField()
    text = models.TextField()
    token_estimate = models.IntegerField(null=True)
    is_own_writing = models.BooleanField()
    published_at = models.DateTimeField(null=True)
    fetched_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = '"marts"."documents"'


class MartChunk(ReadOnlyModel):
    """A retrieval unit (dbt's ``marts.chunks``)."""

    chunk_id = models.TextField(primary_key=True)
    document_id = models.TextField()
    user_id = models.BigIntegerField()
    platform = models.TextField()
    kind = models.TextField()
    position = models.IntegerField()
    text = models.TextField()
    token_estimate = models.IntegerField()

    class Meta:
        managed = False
        db_table = '"marts"."chunks"'
        ordering = ["document_id", "position"]


class RegistryModel(ReadOnlyModel):
    """A fine-tuned adapter of one user: ``registry.models``."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        ACTIVE = "active", "Active"

    model_id = models.UUIDField(primary_key=True)
    user_id = models.BigIntegerField()
    base_model = models.TextField()
    adapter_uri = models.TextField(null=True)
    dataset_snapshot = models.TextField(null=True)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    status = models.TextField(choices=Status.choices)
    error = models.TextField(null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = '"registry"."models"'
        ordering = ["-created_at"]
        verbose_name = "registry model"

    def __str__(self) -> str:
        return f"{self.base_model} ({self.status})"
