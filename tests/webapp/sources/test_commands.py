import pytest
from django.core.management import CommandError, call_command

from webapp.accounts.services import user_create
from webapp.sources.models import Source


@pytest.mark.django_db
def test_twin_source_add_validates_and_is_idempotent(capsys):
    user = user_create(email="elena@example.com", password="ship small sleep well")
    call_command("twin_source_add", "Elena@Example.com", "github", "https://github.com/elenavarga/runbook-lint")
    call_command("twin_source_add", "elena@example.com", "github", "@elenavarga")
    assert list(Source.objects.filter(user=user).values_list("platform", "url")) == [
        ("github", "https://github.com/elenavarga")
    ]
    assert "already there" in capsys.readouterr().out

    with pytest.raises(CommandError, match="no user"):
        call_command("twin_source_add", "nobody@example.com", "github", "@x")
    with pytest.raises(CommandError):
        call_command("twin_source_add", "elena@example.com", "web", "ftp://example.com/file")


@pytest.mark.django_db
def test_twin_up_pauses_the_demo_users_sources_and_the_demo_resumes_them(capsys):
    user = user_create(email="demo@example.com", password="ship small sleep well")
    call_command("twin_source_add", "demo@example.com", "medium", "@ada")
    call_command("twin_source_add", "demo@example.com", "github", "@ada")
    call_command("twin_sources_pause", "demo@example.com")
    assert "paused 2 source(s)" in capsys.readouterr().out
    assert not Source.objects.filter(user=user, is_active=True).exists()
    call_command("twin_source_add", "demo@example.com", "medium", "https://medium.com/@ada")
    assert "(active again)" in capsys.readouterr().out
    assert list(Source.objects.filter(user=user, is_active=True).values_list("platform", flat=True)) == ["medium"]
    call_command("twin_sources_pause", "nobody@example.com")
    assert "paused 0 source(s)" in capsys.readouterr().out
