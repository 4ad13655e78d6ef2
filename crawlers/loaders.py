"""Item loaders: how raw field values (HTML bodies, feed dates, API strings) become item fields."""

from __future__ import annotations

from datetime import datetime

from itemloaders.processors import Identity, MapCompose, TakeFirst
from scrapy.loader import ItemLoader

from crawlers.items import DocumentItem
from twin.core.dates import parse_optional_moment
from twin.core.web.text import html_to_text


def collapse_whitespace(value: str) -> str | None:
    return " ".join(value.split()) or None


def to_datetime(value: str | datetime) -> datetime | None:
    return value if isinstance(value, datetime) else parse_optional_moment(value)


def merge_dicts(values: list[dict]) -> dict:
    merged: dict = {}
    for value in values:
        merged.update({key: item for key, item in value.items() if item not in (None, "", [], {})})
    return merged


class DocumentLoader(ItemLoader):
    """For documents whose content arrives as HTML (feeds, Substack posts, LinkedIn pages)."""

    default_item_class = DocumentItem
    default_output_processor = TakeFirst()

    title_in = MapCompose(collapse_whitespace)
    author_in = MapCompose(collapse_whitespace)
    source_url_in = MapCompose(str.strip)
    content_in = MapCompose(html_to_text)
    published_at_in = MapCompose(to_datetime)
    metadata_out = merge_dicts


class TextDocumentLoader(DocumentLoader):
    """For content that is already text (links read by ``twin.core.web.links``, repository files: whitespace kept)."""

    content_in = Identity()
