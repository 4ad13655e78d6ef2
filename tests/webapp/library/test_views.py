from datetime import UTC, datetime, timedelta, timezone

from django.urls import reverse

from tests.webapp import dataplane_rows
from twin.core.retrieval import SearchHit
from twin.core.vocabulary import document_id
from webapp.library import selectors

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _library(user_id: int) -> None:
    url = "https://medium.com/@ada/postgres-is-enough-1"
    dataplane_rows.document(
        user_id,
        url,
        title="Postgres is enough",
        content="First draft.",
        published_at=T0,
        fetched_at=T0 + timedelta(days=1),
    )
    dataplane_rows.document(
        user_id,
        url,
        title="Postgres is enough",
        content="Edited: Postgres is enough for RAG.",
        published_at=T0,
        fetched_at=T0 + timedelta(days=2),
    )
    dataplane_rows.document(
        user_id,
        "https://github.com/ada/engine/blob/main/README.md",
        platform="github",
        kind="repository_file",
        title="engine README",
        published_at=T0 - timedelta(days=30),
    )
    dataplane_rows.document(
        user_id,
        "https://arxiv.org/abs/1706.03762",
        platform="web",
        kind="paper",
        title="Attention is all you need",
        own=False,
    )


def test_counts_by_platform_and_latest_versions(user_client, user, other_user):
    _library(user.pk)
    dataplane_rows.document(other_user.pk, "https://medium.com/@grace/secret", title="Grace's secret")
    counts = {row["platform"]: row for row in selectors.platform_counts(user=user)}
    assert counts["medium"]["documents"] == 1 and counts["medium"]["versions"] == 2
    assert set(counts) == {"medium", "github", "web"}
    page = user_client.get(reverse("library:index")).content.decode()
    assert "Postgres is enough" in page and "engine README" in page and "reference" in page
    assert "Grace&#x27;s secret" not in page and "Grace's secret" not in page
    filtered = user_client.get(reverse("library:index"), {"platform": "github"}).content.decode()
    assert "engine README" in filtered and "Postgres is enough</a>" not in filtered


def test_document_view_shows_the_latest_version_and_history(user_client, user):
    _library(user.pk)
    doc_id = document_id(user.pk, "https://medium.com/@ada/postgres-is-enough-1")
    page = user_client.get(reverse("library:document", args=[doc_id])).content.decode()
    assert "Edited: Postgres is enough for RAG." in page and "First draft." not in page
    assert "Versions" in page


def test_another_users_document_is_404(user_client, other_user):
    dataplane_rows.document(other_user.pk, "https://medium.com/@grace/secret", title="Grace's secret")
    doc_id = document_id(other_user.pk, "https://medium.com/@grace/secret")
    assert user_client.get(reverse("library:document", args=[doc_id])).status_code == 404
    assert user_client.get(reverse("library:document", args=["0" * 32])).status_code == 404


def test_search_box_uses_twin_retrieval_for_this_user(user_client, user, monkeypatch):
    calls = []

    def fake_search(engine, user_id, query, *, k=5, **options):
        calls.append((user_id, query, k))
        return [
            SearchHit(
                "c1",
                "d" * 32,
                "We kept vectors next to the data.",
                "Postgres is enough",
                "https://x.example/p",
                "medium",
                "article",
                T0,
                0,
                0.0328,
                1,
                0.71,
                1,
                0.4,
            )
        ]

    monkeypatch.setattr("twin.core.retrieval.search_documents", fake_search)
    monkeypatch.setattr(selectors, "_search_index_exists", lambda: True)
    page = user_client.get(reverse("library:index"), {"q": "vectors in postgres"}).content.decode()
    assert calls == [(user.pk, "vectors in postgres", 10)]
    assert "We kept vectors next to the data." in page and reverse("library:document", args=["d" * 32]) in page


def test_search_before_anything_is_indexed_says_so(user_client, user, monkeypatch):
    monkeypatch.setattr(selectors, "_search_index_exists", lambda: False)
    page = user_client.get(reverse("library:index"), {"q": "anything"}).content.decode()
    assert "Nothing is indexed yet" in page
