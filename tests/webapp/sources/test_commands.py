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
        ("github", "https://github.com/elenavarga")]
    assert "already there" in capsys.readouterr().out

    with pytest.raises(CommandError, match="no user"):
        call_command("twin_source_add", "nobody@example.com", "github", "@x")
    with pytest.raises(CommandError):
        call_command("twin_source_add", "elena@example.com", "web", "ftp://example.com/file")
