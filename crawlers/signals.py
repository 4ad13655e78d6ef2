"""Custom Scrapy signals: spiders report what they could not collect; the store pipeline records it.

``collection_error`` is sent with ``url`` and ``error``; ``item=True`` when one item is lost (counted
as failed), ``item=False`` for a problem with the source as a whole (feed unreachable, login wall).
"""

collection_error = object()
