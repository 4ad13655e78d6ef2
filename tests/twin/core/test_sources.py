import pytest

from twin.core.sources import SourceRef, active_sources


@pytest.mark.django_db(transaction=True)
def test_active_sources_per_user_and_for_everyone(engine):
    from webapp.accounts.services import user_create
    from webapp.sources.models import Source

    ada = user_create(email="ada-sources@example.com", password="analytical engine 1843")
    bob = user_create(email="bob-sources@example.com", password="difference engine 1822")
    first = Source.objects.create(user=ada, platform="medium", url="https://medium.com/feed/@ada")
    Source.objects.create(user=ada, platform="github", url="https://github.com/ada", is_active=False)
    second = Source.objects.create(user=bob, platform="substack", url="https://bob.substack.com")

    with engine.connect() as conn:
        assert active_sources(conn, ada.pk) == [SourceRef(first.pk, ada.pk, "medium", "https://medium.com/feed/@ada")]
        everyone = active_sources(conn)
    assert [s.source_id for s in everyone if s.user_id in (ada.pk, bob.pk)] == [first.pk, second.pk]
