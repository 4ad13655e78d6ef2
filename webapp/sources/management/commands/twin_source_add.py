"""Add a source for a user (used by `twin demo`); an existing identical source is left as it is."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from webapp.sources.models import Source
from webapp.sources.services import source_create, source_resume


class Command(BaseCommand):
    help = "Add a source (platform + URL) for the user with EMAIL, after the same validation as the web form."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("platform", choices=Source.Platform.values)
        parser.add_argument("url")
        parser.add_argument(
            "--own", action="store_true", help="a Substack/Medium publication that holds only this user's writing"
        )

    def handle(self, *args, email, platform, url, own, **options):
        user = get_user_model().objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"no user with email {email}")
        try:
            source = source_create(user=user, platform=platform, url=url, confirmed_own=own)
        except ValidationError as exc:
            if any(error.code == "unique" for errors in exc.error_dict.values() for error in errors):
                resumed = source_resume(user=user, platform=platform, url=url)
                self.stdout.write(f"already there: {url}" + (" (active again)" if resumed else ""))
                return
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"added source {source.pk}: {source.platform} {source.url}")
