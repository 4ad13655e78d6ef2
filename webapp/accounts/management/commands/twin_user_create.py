"""Create a web app user. Called by ``twin user create``; the password comes through the
environment (``TWIN_NEW_USER_PASSWORD``) so it never shows up in a process list."""

import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from webapp.accounts.services import UserAlreadyExists, user_create


class Command(BaseCommand):
    help = "Create a user (email + password from TWIN_NEW_USER_PASSWORD) and print its id."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--admin", action="store_true", help="make the user staff and superuser")

    def handle(self, *args, email, admin, **options):
        password = os.environ.get("TWIN_NEW_USER_PASSWORD")
        if not password:
            raise CommandError("TWIN_NEW_USER_PASSWORD is not set")
        try:
            user = user_create(email=email, password=password, is_staff=admin)
        except UserAlreadyExists as exc:
            sys.stderr.write(f"{exc}\n")
            sys.exit(3)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(user.pk))
