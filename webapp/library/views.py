from django.core.paginator import Paginator
from django.shortcuts import render

from twin.core.vocabulary import document_id
from webapp.library import selectors
from webapp.sources.models import Source


def index(request):
    platform = request.GET.get("platform") or ""
    if platform not in Source.Platform.values:
        platform = ""
    query = (request.GET.get("q") or "").strip()[:500]
    hits, search_error = [], ""
    if query:
        try:
            hits = selectors.search(user=request.user, query=query)
        except selectors.SearchUnavailable as exc:
            search_error = str(exc)
    page = Paginator(selectors.document_list(user=request.user, platform=platform or None), 25).get_page(
        request.GET.get("page")
    )
    for doc in page.object_list:
        doc.doc_id = document_id(doc.user_id, doc.source_url)
    counts = selectors.platform_counts(user=request.user)
    context = {
        "counts": counts,
        "total": sum(row["documents"] for row in counts),
        "platform": platform,
        "platforms": Source.Platform.choices,
        "page": page,
        "query": query,
        "hits": hits,
        "search_error": search_error,
    }
    return render(request, "library/index.html", context)


def document(request, doc_id: str):
    view = selectors.document_get(user=request.user, doc_id=doc_id)
    return render(
        request, "library/document.html", {"doc": view.latest, "versions": view.versions, "doc_id": view.document_id}
    )
