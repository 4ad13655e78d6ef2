"""What the spiders yield: one collected document, before validation, normalisation and storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twin.core.raw import DocumentRecord


@dataclass
class DocumentItem:
    platform: str | None = None
    kind: str | None = None
    source_url: str | None = None  # the canonical public URL, never the API endpoint it was fetched from
    title: str | None = None
    content: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    metadata: dict = field(default_factory=dict)
    content_hash: str | None = None  # set by ContentHashPipeline

    def to_record(self) -> DocumentRecord:
        metadata = {**self.metadata, "author": self.author} if self.author else dict(self.metadata)
        return DocumentRecord(
            platform=self.platform or "",
            kind=self.kind or "",
            source_url=self.source_url or "",
            content=self.content or "",
            title=self.title,
            published_at=self.published_at,
            metadata=metadata,
        )
