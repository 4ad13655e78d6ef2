"""Import uploads still waiting (e.g. the web process restarted before its background import ran)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from webapp.sources.models import Upload
from webapp.sources.services import upload_import


class Command(BaseCommand):
    help = "Import every pending export upload now (and, with --stale-minutes, restart imports that died)."

    def add_arguments(self, parser):
        parser.add_argument("--stale-minutes", type=int, default=0,
                            help="also redo uploads stuck in 'importing' for longer than this")

    def handle(self, *args, stale_minutes, **options):
        uploads = Upload.objects.filter(status=Upload.Status.PENDING)
        if stale_minutes:
            cutoff = timezone.now() - timedelta(minutes=stale_minutes)
            uploads = uploads | Upload.objects.filter(status=Upload.Status.IMPORTING, started_at__lt=cutoff)
        done = 0
        for upload in uploads.order_by("created_at"):
            upload = upload_import(upload)
            done += 1
            self.stdout.write(f"upload {upload.pk} ({upload.kind}, user {upload.user_id}): {upload.status}")
        self.stdout.write(f"{done} upload(s) imported")
