"""Pause every source of a user (used by `twin up` for the demo user, whose sources only `twin demo`'s
sample site serves)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from webapp.sources.services import sources_pause


class Command(BaseCommand):
    help = "Mark every source of the user with EMAIL inactive (collection skips them); no such user: nothing to do."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        user = get_user_model().objects.filter(email=email.strip().lower()).first()
        paused = sources_pause(user=user) if user else 0
        self.stdout.write(f"paused {paused} source(s)")
